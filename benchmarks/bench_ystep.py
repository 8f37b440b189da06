"""Time the y-step solvers: EM against projected gradient descent (PGD).

Usage::

    python benchmarks/bench_ystep.py [--device cuda] [--quick]

For each problem size (N, K) and fairness weight λ the collision y-problem

    F(Y) = mean_i -ln(σ_iᵀ y_i) + λ KL(u ‖ ȳ)

is built from seeded random logits ``z = 3 · randn(N, K)`` (σ = softmax(z);
the scale 3 gives peaked but uncertain predictions, see the reported mean
maximum probability). A reference optimum F* comes from a long EM run whose
Frank-Wolfe gap certifies it (``ref_gap_bound`` bounds (F - F*) / F of the
reference itself). Each solver is run once with a callback recording F after
every iteration, which gives the first iteration reaching each relative gap
``(F - F*) / F* <= ε``; that many iterations are then timed without any
callback or stopping test (median of several repeats, ``tol=0``). This is the
"oracle" time to reach the gap, the same rule for both methods. EM is also
timed with its own stopping rule (``tol=ε``, the certified Frank-Wolfe gap),
which is what a user gets, and plain EM (no over-relaxation) is shown for
reference.

Everything runs in float64 (1e-6 relative gaps are below float32 resolution
of F), single-threaded on CPU by default (``--threads``) so that timings on a
shared machine stay comparable. Results go to
``benchmarks/results/ystep_<device>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from skdeepcluster import pseudo_labels as pl

GAPS = (1e-2, 1e-4, 1e-6)
SIZES = ((256, 10), (1024, 20), (1024, 100), (4096, 100))
LAMBDAS = (0.5, 2.0)
LOGIT_SCALE = 3.0
TARGETS = {20: 5.0, 100: 10.0}  # K -> required EM speedup at a gap of 1e-4


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _problem(n, k, seed, device):
    gen = torch.Generator().manual_seed(seed)
    logits = LOGIT_SCALE * torch.randn(n, k, generator=gen, dtype=torch.float64)
    return torch.softmax(logits, dim=1).to(device)


def _uniform(probs):
    k = probs.shape[1]
    return torch.full((k,), 1.0 / k, dtype=probs.dtype, device=probs.device)


def _run(method, probs, lam, max_iter, callback=None):
    """One solver run from the uniform start, ``tol=0``."""
    u = _uniform(probs)
    y0 = None  # the uniform start (EM takes its first step in closed form)
    with torch.no_grad():
        if method == "em":
            return pl._em(probs, y0, "collision", lam, u, max_iter, 0.0,
                          callback=callback)[0]
        if method == "em_plain":
            return pl._em(probs, y0, "collision", lam, u, max_iter, 0.0,
                          accelerate=False, callback=callback)[0]
        return pl._pgd(probs, y0, "collision", lam, u, max_iter, 0.0,
                       callback=callback)[0]


def _trajectory(method, probs, lam, max_iter, f_star, time_budget):
    """First iteration count reaching each gap (None if not within budget)."""
    first = dict.fromkeys(GAPS)
    start = time.perf_counter()

    class Done(Exception):
        pass

    def callback(it, y):
        value = float(pl.pseudo_label_objective(y, probs, "collision", lam))
        gap = (value - f_star) / f_star
        for eps in GAPS:
            if first[eps] is None and gap <= eps:
                first[eps] = it + 1
        if first[GAPS[-1]] is not None or time.perf_counter() - start > time_budget:
            raise Done

    try:
        _run(method, probs, lam, max_iter, callback)
    except Done:
        pass
    return first


def _time_jobs(jobs, device, repeats, single_run_limit=5.0):
    """Median wall time of each job; repeats are interleaved across jobs so
    that load from other processes hits all of them alike. A job whose run
    takes over ``single_run_limit`` seconds is not repeated."""
    times = {name: [] for name in jobs}
    outputs = {}
    for _ in range(repeats):
        for name, fn in jobs.items():
            if times[name] and times[name][-1] > single_run_limit:
                continue
            _sync(device)
            start = time.perf_counter()
            outputs[name] = fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {
        name: (statistics.median(t), min(t), len(t)) for name, t in times.items()
    }, outputs


def _bench_problem(n, k, lam, seed, device, repeats, max_iter, budget):
    probs = _problem(n, k, seed, device)
    ref, ref_iter = pl.solve_pseudo_labels(
        probs, fairness_weight=lam, tol=1e-11, max_iter=20 * max_iter
    )
    f_star = float(pl.pseudo_label_objective(ref, probs, "collision", lam))
    u = _uniform(probs)
    tiny = torch.finfo(probs.dtype).tiny
    grad = pl._scaled_gradient(ref, probs, "collision", lam, lam * u, tiny)
    ref_gap = float(pl._frank_wolfe_gap(ref, grad)) / f_star
    row = {
        "N": n, "K": k, "lambda": lam, "F_star": f_star,
        "ref_iters": ref_iter, "ref_gap_bound": ref_gap,
        "mean_max_prob": float(probs.max(dim=1).values.mean()),
        "methods": {},
    }
    methods = ("em", "pgd", "em_plain")
    first = {m: _trajectory(m, probs, lam, max_iter, f_star, budget)
             for m in methods}
    for m in methods + ("em_certified",):
        row["methods"][m] = {}
    for eps in GAPS:
        key = f"{eps:.0e}"
        jobs = {}
        for m in methods:
            if first[m][eps] is not None:
                jobs[m] = (lambda m=m, i=first[m][eps]: _run(m, probs, lam, i))
        jobs["em_certified"] = lambda eps=eps: pl.solve_pseudo_labels(
            probs, fairness_weight=lam, tol=eps, max_iter=20 * max_iter
        )
        timed, outputs = _time_jobs(jobs, device, repeats)
        for m in methods:
            if m in timed:
                median, best, runs = timed[m]
                row["methods"][m][key] = {"iters": first[m][eps], "time_s": median,
                                          "min_time_s": best, "runs": runs}
            else:
                row["methods"][m][key] = {"iters": None, "time_s": None}
        median, best, runs = timed["em_certified"]
        y, iters = outputs["em_certified"]
        value = float(pl.pseudo_label_objective(y, probs, "collision", lam))
        row["methods"]["em_certified"][key] = {
            "iters": iters, "time_s": median, "min_time_s": best, "runs": runs,
            "achieved_gap": (value - f_star) / f_star,
        }
    row["speedup_em_over_pgd"] = {}
    for eps in GAPS:
        key = f"{eps:.0e}"
        em_t = row["methods"]["em"][key]["time_s"]
        pgd_t = row["methods"]["pgd"][key]["time_s"]
        row["speedup_em_over_pgd"][key] = (
            pgd_t / em_t if em_t and pgd_t else None
        )
    return row


def _fmt_time(t):
    if t is None:
        return "not reached"
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def _fmt_iters(i):
    return "–" if i is None else str(i)


def _markdown(meta, rows):
    lines = [
        f"# y-step solvers: EM vs projected gradient ({meta['device']})",
        "",
        f"Generated by `python benchmarks/bench_ystep.py{meta['argv']}` on "
        f"{meta['date']} (torch {meta['torch']}, {meta['dtype']}, "
        f"{meta['threads']} thread(s), {meta['platform']}; load average "
        f"{meta['load_average_1min_at_end']} on {meta['cpu_count']} cores at "
        "the end: on a shared machine, small-problem timings vary between "
        "runs).",
        "",
        "Collision y-problem `F(Y) = mean_i -ln(σ_iᵀy_i) + λ KL(u‖ȳ)`, σ = "
        f"softmax({LOGIT_SCALE:g}·randn(N, K)), uniform u, uniform start. "
        "`gap` is `(F - F*) / F*`. *Oracle* times run each solver for the "
        "first iteration count that reaches the gap (found in a separate run), "
        "with no stopping test; median of "
        f"{meta['repeats']} repeats, interleaved across solvers (1 when a run "
        "takes over 5 s; the JSON also has the minimum). "
        "*EM (tol)* is `solve_pseudo_labels(tol=gap)` with its certified "
        "Frank-Wolfe stopping rule; *plain EM* has no over-relaxation. "
        "Speed-up = PGD oracle time / EM oracle time. A trajectory stops after "
        f"{meta['max_iter']} iterations or {meta['budget']:g} s: "
        "'not reached' means not within that budget.",
        "",
        "| N | K | λ | gap | EM iters | EM time | PGD iters | PGD time "
        "| speed-up | EM (tol) iters | EM (tol) time | plain EM iters "
        "| plain EM time |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for eps in GAPS:
            key = f"{eps:.0e}"
            m = row["methods"]
            sp = row["speedup_em_over_pgd"][key]
            lines.append(
                f"| {row['N']} | {row['K']} | {row['lambda']:g} | {key} "
                f"| {_fmt_iters(m['em'][key]['iters'])} "
                f"| {_fmt_time(m['em'][key]['time_s'])} "
                f"| {_fmt_iters(m['pgd'][key]['iters'])} "
                f"| {_fmt_time(m['pgd'][key]['time_s'])} "
                f"| {'–' if sp is None else f'{sp:.1f}x'} "
                f"| {m['em_certified'][key]['iters']} "
                f"| {_fmt_time(m['em_certified'][key]['time_s'])} "
                f"| {_fmt_iters(m['em_plain'][key]['iters'])} "
                f"| {_fmt_time(m['em_plain'][key]['time_s'])} |"
            )
    lines += ["", "## Targets at a gap of 1e-4", ""]
    for row in rows:
        target = TARGETS.get(row["K"])
        if target is None:
            continue
        sp = row["speedup_em_over_pgd"]["1e-04"]
        verdict = (
            "not measurable" if sp is None
            else ("met" if sp >= target else "**missed**")
        )
        shown = "–" if sp is None else f"{sp:.1f}x"
        lines.append(
            f"- N={row['N']}, K={row['K']}, λ={row['lambda']:g}: EM {shown} "
            f"faster than PGD (target ≥ {target:g}x): {verdict}"
        )
    lines += ["", "## EM at a gap of 1e-6", ""]
    for row in rows:
        sp = row["speedup_em_over_pgd"]["1e-06"]
        em = row["methods"]["em"]["1e-06"]
        pgd = row["methods"]["pgd"]["1e-06"]
        lines.append(
            f"- N={row['N']}, K={row['K']}, λ={row['lambda']:g}: EM "
            f"{_fmt_iters(em['iters'])} iterations / {_fmt_time(em['time_s'])}, "
            f"PGD {_fmt_iters(pgd['iters'])} / {_fmt_time(pgd['time_s'])}"
            + ("" if sp is None else f" ({sp:.1f}x)")
        )
    lines += [
        "",
        "Reference optima: EM with `tol=1e-11`; the largest certified relative "
        "gap of a reference is "
        f"{max(r['ref_gap_bound'] for r in rows):.1e}. Mean max probability of "
        "σ per problem: "
        + ", ".join(
            f"{r['N']}x{r['K']}: {r['mean_max_prob']:.2f}"
            for r in rows if r["lambda"] == LAMBDAS[0]
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats and a shorter per-trajectory budget")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1)")
    parser.add_argument("--max-iter", type=int, default=3000)
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per solver trajectory (default 30, quick 15)")
    parser.add_argument("--sizes", default=None,
                        help="e.g. '256x10,1024x20' (default: all four)")
    parser.add_argument("--out-dir", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 7)
    budget = args.budget or (15.0 if args.quick else 30.0)
    sizes = SIZES
    if args.sizes:
        sizes = tuple(tuple(int(v) for v in s.split("x"))
                      for s in args.sizes.split(","))
    rows = []
    for seed, (n, k) in enumerate(sizes):
        for lam in LAMBDAS:
            start = time.perf_counter()
            row = _bench_problem(n, k, lam, seed, device, repeats,
                                 args.max_iter, budget)
            rows.append(row)
            sp = row["speedup_em_over_pgd"]
            print(f"N={n} K={k} λ={lam:g}: speed-up "
                  + ", ".join(f"{e}: {'–' if v is None else f'{v:.1f}x'}"
                              for e, v in sp.items())
                  + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    name = "cuda" if device.type == "cuda" else device.type
    meta = {
        "device": name if device.type != "cuda"
        else f"cuda ({torch.cuda.get_device_name(device)})",
        "torch": torch.__version__, "dtype": "float64",
        "threads": args.threads if device.type == "cpu" else "n/a",
        "platform": platform.machine(), "repeats": repeats,
        "max_iter": args.max_iter, "budget": budget,
        "argv": (f" --device {args.device}" if device.type != "cpu" else "")
        + (" --quick" if args.quick else "")
        + (f" --repeats {args.repeats}" if args.repeats else ""),
        "date": time.strftime("%Y-%m-%d"), "logit_scale": LOGIT_SCALE,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "gaps": list(GAPS), "targets_at_1e-4": {str(k): v for k, v in TARGETS.items()},
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"ystep_{name}.json").write_text(
        json.dumps({"meta": meta, "results": rows}, indent=2, allow_nan=False,
                   default=lambda v: None if v is None or math.isnan(v) else v)
        + "\n"
    )
    (out / f"ystep_{name}.md").write_text(_markdown(meta, rows))
    print(f"wrote {out / f'ystep_{name}.md'}")


if __name__ == "__main__":
    main()
