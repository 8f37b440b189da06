"""``optional-include``: include a file when it exists, else show a fallback.

Pages such as the changelog and the benchmark results pull in files that other
parts of the project write (``../CHANGES.md``, ``benchmarks.md``). While such a
file is missing, the directive renders its own content (reStructuredText,
titles allowed) instead of failing the build::

    .. optional-include:: benchmarks.md
       :parser: myst_parser.sphinx_

       Benchmarks
       ==========

       Not written yet.

It takes the options of Sphinx's ``include`` directive. The file is recorded
as a dependency, so a rebuild notices when it appears or changes.
"""

from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.directives.other import Include
from sphinx.util.nodes import nested_parse_with_titles


class OptionalInclude(Include):
    has_content = True

    def run(self):
        _, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(path)
        if Path(path).is_file():
            return super().run()
        container = nodes.Element()
        nested_parse_with_titles(self.state, StringList(self.content), container)
        return container.children


def setup(app):
    app.add_directive("optional-include", OptionalInclude)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
