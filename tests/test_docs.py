"""The documentation names every extra the package declares."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml")


def _extras():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return sorted(tomllib.load(f)["project"]["optional-dependencies"])


@pytest.mark.parametrize("page, mark", [("README.md", "`{}`"),
                                        ("docs/install.rst", "``{}``")])
def test_install_docs_list_every_extra(page, mark):
    text = (ROOT / page).read_text()
    missing = [name for name in _extras() if mark.format(name) not in text]
    assert not missing, f"{page} does not name the extras {missing}"
