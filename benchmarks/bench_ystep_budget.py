"""The budgeted y-step, measured for quality on the CPU.

With ``SelfLabeling.ystep_sync_free = True`` each mini-batch's EM runs a
budget of iterations set once per epoch instead of asking the device whether
its stopping rule holds (each question waits for it). This script fits the
development suite's cheap sets both ways on the CPU, where the only
difference is that y-step (the batches, draws and networks are the same),
and writes the accuracies
to ``benchmarks/results/ystep_budget.{json,md}``. Fit times are those of the
CPU, where the budget buys nothing: they are recorded, not compared.
The default set list and 2 seeds take about an hour on 2 CPU cores.

python benchmarks/bench_ystep_budget.py              # the cheap sets, 2 seeds
python benchmarks/bench_ystep_budget.py --datasets digits,iris --seeds 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from _tables import RESULTS, commit, markdown_table
from run_suite import CHEAP, ROOT, load

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_report
from skdeepcluster.objectives import SelfLabeling


class BudgetedYStep(SelfLabeling):
    """The objective with the budgeted y-step."""

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
    table = markdown_table(["data", "stopping rule tested",
                            "budget", "budget - tested"], rows)
    command = " ".join(["python benchmarks/bench_ystep_budget.py", *sys.argv[1:]])
    (RESULTS / "ystep_budget.md").write_text(
        "# The y-step in a budget (`ystep_sync_free=True`) against the "
        "tested stopping rule (the default)\n\n"
        f"`{command}`, on the CPU, defaults, "
        f"seeds 0-{args.seeds - 1}; mean Hungarian accuracy; {meta}.\n\n"
        + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
