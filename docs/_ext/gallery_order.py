"""Order of the examples in the gallery: a reading order, then by file name."""

from pathlib import Path

ORDER = [
    "plot_quickstart.py",
    "plot_toy_comparison.py",
    "plot_training_curves.py",
    "plot_grid_search.py",
    "plot_soft_label_losses.py",
    "plot_soft_label_classifier.py",
    "plot_em_vs_pgd.py",
    "plot_margin.py",
]


class ExampleOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self):
        return f"{type(self).__name__}()"
