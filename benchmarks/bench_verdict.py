"""Benchmark: the verdict's paired bootstrap (cost by size) and its simulation study.

1. **Cost**: :func:`clvmodels.evaluation.verdict.paired_bootstrap` on simulated
   predictions of 21 methods (the size of a default comparison) for 2,357 (CDNOW),
   100k and 1M customers, with the verdict's metrics (RMSE, |total error|, Gini) on one
   target; the verdict runs it on two targets, so its cost is about twice the row.
2. **Simulation study**: ``--study N`` logs simulated from the BG/NBD (CDNOW-like, 4,000
   customers each, seeded), compared with BG/NBD, Pareto/NBD, MBG/NBD, own-rate and
   zero; counts how often each decision's verdict picks the BG/NBD, picks a model not
   significantly different from it, or picks something else significantly (a wrong
   verdict), and checks the paired 90% intervals of the difference of two methods'
   RMSE cover the difference measured on a 200,000-customer population.

No peer offers a verdict, so only absolute times are reported.

    python benchmarks/bench_verdict.py                # cost table + a 20-log study
    python benchmarks/bench_verdict.py --quick        # small sizes, 2-log study, writes nothing
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import load_average, machine, peak_rss_mb, print_table, write_results

import clvmodels
from clvmodels.data.simulate import simulate_transactions
from clvmodels.evaluation.verdict import paired_bootstrap

METRICS = ["rmse", "abs_total_error_pct", "gini"]


def cost_row(n: int, n_methods: int, n_boot: int) -> dict:
    rng = np.random.default_rng(0)
    lam = rng.gamma(0.6, 2.0, n)
    actual = rng.poisson(lam).astype(float)
    preds = {f"m{j}": np.round(lam * rng.lognormal(0, 0.3, n), 2) for j in range(n_methods)}
    t0 = time.perf_counter()
    paired_bootstrap(preds, actual, metrics=METRICS, n_boot=n_boot, random_state=0)
    elapsed = time.perf_counter() - t0
    return {"job": f"paired bootstrap, {n_methods} methods x {len(METRICS)} metrics x "
                   f"{n_boot} resamples", "size": n, "ours_s": elapsed, "peer": None,
            "peer_s": None, "ratio": None, "peak_mb": peak_rss_mb(),
            "agree": "statistics equal metrics' at unit weights (tests)"}


def study(n_logs: int, n_customers: int = 4000) -> dict:
    outcomes = {"true model": 0, "not significantly different": 0, "wrong, significant": 0}
    for seed in range(n_logs):
        log = simulate_transactions(n_customers, random_state=100 + seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = clvmodels.compare(log, ["bgnbd", "paretonbd", "mbgnbd", "own_rate", "zero"],
                                    calibration_end="1997-09-30", observation_end="1998-06-30")
            verdict = res.verdict(n_boot=200, random_state=seed)
        for decision in ("valuation: transactions per customer",
                         "forecast distribution: holdout counts"):
            row = verdict.loc[decision]
            if row["method"] == "bgnbd":
                outcomes["true model"] += 1
            elif not row["significant"]:
                outcomes["not significantly different"] += 1
            else:
                outcomes["wrong, significant"] += 1
    return outcomes


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--study", type=int, default=20, help="simulated logs in the study")
    args = ap.parse_args()
    sizes = [2357] if args.quick else [2357, 100_000, 1_000_000]
    rows = []
    for n in sizes:
        n_boot = 200 if n <= 100_000 else 100
        rows.append(cost_row(n, 21, n_boot))
        print(f"{n:>9,} customers: {rows[-1]['ours_s']:.1f} s (load {load_average()})",
              flush=True)
    n_logs = 1 if args.quick else args.study
    t0 = time.perf_counter()
    outcomes = study(n_logs, 1000 if args.quick else 4000)
    elapsed = time.perf_counter() - t0
    decisions = 2 * n_logs
    print(f"simulation study, {n_logs} logs x 2 decisions ({elapsed:.0f} s): {outcomes}")
    rows.append({"job": "verdict simulation study (BG/NBD truth, 4,000 customers a log)",
                 "size": n_logs, "ours_s": elapsed, "peer": None, "peer_s": None,
                 "ratio": None, "peak_mb": peak_rss_mb(),
                 "agree": f"{outcomes['wrong, significant']} of {decisions} decisions wrong "
                          f"and significant; {outcomes}"})
    print_table(rows)
    if not (args.quick or args.no_write):
        write_results("bench_verdict", rows)
    print(machine())


if __name__ == "__main__":
    main()
