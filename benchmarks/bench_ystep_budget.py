"""The y-step of a GPU fit, measured for quality on the CPU.

On a GPU each mini-batch's collision EM runs a budget of iterations set once
per epoch instead of testing its stopping rule, which waits for the device
(``SelfLabeling.ystep_sync_free``). This script fits the development suite's
cheap sets both ways on the CPU, where the only difference is that y-step
(the batches, draws and networks are the same), and writes the accuracies
to ``benchmarks/results/ystep_budget.{json,md}``. Fit times are those of the
CPU, where the budget buys nothing: they are recorded, not compared.

python benchmarks/bench_ystep_budget.py              # the cheap sets, 2 seeds
python benchmarks/bench_ystep_budget.py --datasets digits,iris --seeds 1
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _tables import RESULTS, commit, markdown_table
from run_suite import CHEAP, ROOT, load

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_report
from skdeepcluster.objectives import SelfLabeling


class BudgetedYStep(SelfLabeling):
    """The objective as it trains on a GPU."""

    ystep_sync_free = True


class BudgetedClustering(DeepEntropyClustering):
    objective_class = BudgetedYStep


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(CHEAP))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--data-home", default=str(ROOT.parent / "shared" / "datasets"))
    args = p.parse_args()
    records = []
    for name in args.datasets.split(","):
        X, y, _ = load(name, args.data_home)
        k = len(np.unique(y))
        for seed in range(args.seeds):
            for ystep, cls in (("tested", DeepEntropyClustering),
                               ("budget", BudgetedClustering)):
                start = time.perf_counter()
                labels = cls(k, random_state=seed, device="cpu").fit_predict(X)
                records.append({"dataset": name, "seed": seed, "ystep": ystep,
                                **clustering_report(y, labels),
                                "fit_seconds": time.perf_counter() - start})
                print(json.dumps(records[-1]), flush=True)
    meta = {"commit": commit(), "seeds": args.seeds}
    (RESULTS / "ystep_budget.json").write_text(
        json.dumps({"meta": meta, "records": records}, indent=1) + "\n")
    rows, gaps = [], []
    for name in dict.fromkeys(r["dataset"] for r in records):
        acc = {s: np.mean([r["accuracy"] for r in records
                           if r["dataset"] == name and r["ystep"] == s])
               for s in ("tested", "budget")}
        gaps.append(acc["budget"] - acc["tested"])
        rows.append([name, f"{acc['tested']:.3f}", f"{acc['budget']:.3f}",
                     f"{gaps[-1]:+.3f}"])
    rows.append(["mean", "", "", f"{np.mean(gaps):+.3f}"])
    table = markdown_table(["data", "stopping rule tested (CPU)",
                            "budget (GPU)", "budget - tested"], rows)
    (RESULTS / "ystep_budget.md").write_text(
        "# The y-step in a budget (a GPU fit's) against the tested stopping "
        "rule (a CPU fit's)\n\n"
        f"`python benchmarks/bench_ystep_budget.py`, on the CPU, defaults, "
        f"seeds 0-{args.seeds - 1}; mean Hungarian accuracy; {meta}.\n\n"
        + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
