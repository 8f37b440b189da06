"""Sphinx configuration of the skdeepcluster documentation.

Build with ``make docs`` (``sphinx -W --keep-going -b html docs docs/_build/html``):
warnings are errors. The gallery runs every ``examples/plot_*.py`` on the CPU.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
# the checkout's package, also when it is not installed
sys.path.insert(0, str(HERE.parent))
# examples run on the CPU with one thread per process: fast to start, and
# polite on shared machines; an explicit setting wins
os.environ.setdefault("OMP_NUM_THREADS", "1")

import skdeepcluster  # noqa: E402

project = "skdeepcluster"
author = "The skdeepcluster developers"
copyright = "The skdeepcluster developers"
release = skdeepcluster.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "optional_include",
    "command_help",
]

# Pages are reStructuredText, plus the Markdown theory page; the other
# Markdown files in docs/ are fragments pulled into pages by
# ``optional-include``, not pages.
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "benchmarks.md", "classification_results.md",
                    "suite.md", "_ext", "_templates"]
templates_path = ["_templates"]
root_doc = "index"
default_role = "literal"

# -- API reference ------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc writes the types from the docstrings
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Gallery --------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skdeepcluster",),
    "reference_url": {"skdeepcluster": None},
    "download_all_examples": False,
    "min_reported_time": 5,
}

# -- Markdown fragments ---------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- HTML -------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skdeepcluster {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"install": [], "changelog": [], "benchmarks": []}
html_static_path = []
html_show_sourcelink = False
