"""Benchmark: the full comparison (every registered method, 5 backtest cutoffs).

A simulated log (BG/NBD + Gamma-Gamma at the CDNOW estimates, customers arriving
over 12 weeks, 78 weeks observed) of about 1M transactions; calibration ends at
week 39, the holdout is 39 weeks, and 5 rolling-origin cutoffs 14 days apart.
No peer offers such a harness, so only absolute times and peak memory are
reported (the per-method fit/predict times of the main split are printed too).

    python benchmarks/bench_compare.py            # ~1M transactions
    python benchmarks/bench_compare.py --quick    # ~30k transactions, for CI (writes nothing)
"""

from __future__ import annotations

import argparse
import time
import warnings

from _common import machine, peak_rss_mb, write_results

import clvmodels
from clvmodels.data.simulate import simulate_transactions


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small log, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--rows", type=float, default=1_000_000)
    ap.add_argument("--n-splits", type=int, default=5)
    args = ap.parse_args()
    rows = 30_000 if args.quick else int(args.rows)
    log = simulate_transactions(int(rows / 2.76), random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = clvmodels.compare(log, calibration_end="1997-09-30", observation_end="1998-06-30",
                                n_splits=args.n_splits, step_days=14, time_unit="W")
    elapsed = time.perf_counter() - t0
    n_methods = len(res.settings["methods"])
    print(f"{len(log):,} transactions, {res.settings['n_customers']:,} customers, "
          f"{n_methods} methods x {len(res.settings['cutoffs'])} cutoffs: {elapsed:.1f} s, "
          f"peak {peak_rss_mb():.0f} MB, failures: {len(res.failures)}")
    print(res.timings.sort_values("fit_s", ascending=False).round(3).to_string())
    row = {"job": f"compare {n_methods} methods x {len(res.settings['cutoffs'])} cutoffs",
           "size": len(log), "ours_s": elapsed, "peer": None, "peer_s": None, "ratio": None,
           "peak_mb": peak_rss_mb(),
           "agree": f"{len(res.failures)} failures; no peer has a comparison harness"}
    if not (args.quick or args.no_write):
        write_results("bench_compare", [row])
    print(machine())


if __name__ == "__main__":
    main()
