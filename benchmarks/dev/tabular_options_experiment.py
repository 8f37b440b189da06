"""Development experiment: does any existing option make the default beat
KMeans on small tabular sets?

Fits ``DeepEntropyClustering`` with the defaults but one option (neighbour
pairing with 0, 5 or 20 neighbours instead of 10, one hidden layer of 64
units, ``weight_decay=1e-2``, virtual adversarial training) on iris, wine and
breast_cancer (standardised features, 5 seeds, one CPU thread) and records
the Hungarian accuracy. KMeans (``n_init=10``) gets 0.832, 0.966 and 0.907
(benchmark page).

Writes ``benchmarks/results/dev_tabular_options.json``.

Usage: ``python benchmarks/dev/tabular_options_experiment.py``
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tabular_training_length_experiment import fit_variants  # noqa: E402

VARIANTS = {
    "default": {},
    "n_neighbors=0": {"n_neighbors": 0},
    "n_neighbors=5": {"n_neighbors": 5},
    "n_neighbors=20": {"n_neighbors": 20},
    "hidden_layer_sizes=(64,)": {"hidden_layer_sizes": (64,)},
    "weight_decay=1e-2": {"weight_decay": 1e-2},
    "adversarial_weight=1": {"adversarial_weight": 1.0},
}

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    fit_variants(VARIANTS, "dev_tabular_options.json")
