"""Benchmark: transaction log -> calibration/holdout summary.

clvmodels.rfm_summary against lifetimes.utils.calibration_and_holdout_data on the
same simulated logs (BG/NBD + Gamma-Gamma draws at the CDNOW estimates, customers
arriving over 12 weeks, 78 weeks of observation), best of several repeats.

    python benchmarks/bench_summary.py            # 1M and 10M transactions
    python benchmarks/bench_summary.py --quick    # 100k, for CI (writes nothing)

lifetimes' summary counts repeat *periods* at its `freq`; with freq="D" both
tools use days as the granularity, and the outputs are compared customer by
customer (frequency, recency, T, monetary value and holdout counts).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import Timer, machine, peak_rss_mb, write_results

import clvmodels
from clvmodels.data.simulate import simulate_transactions

CAL, OBS = "1997-09-30", "1998-06-30"


def make_log(n_rows, seed=0):
    # about 2.76 rows per customer at the CDNOW parameters
    n_customers = max(1000, int(n_rows / 2.76))
    log = simulate_transactions(n_customers, observation_days=546, random_state=seed)
    return log


def ours(log):
    return clvmodels.rfm_summary(log, amount="amount", calibration_end=CAL,
                                 observation_end=OBS, time_unit="D")


def peer(log):
    from lifetimes.utils import calibration_and_holdout_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calibration_and_holdout_data(
            log, "customer_id", "date", calibration_period_end=CAL,
            observation_period_end=OBS, freq="D", monetary_value_col="amount")


def agree(a, b):
    b = b.loc[a.index]
    checks = [
        np.array_equal(a["frequency"].to_numpy(), b["frequency_cal"].to_numpy()),
        np.allclose(a["recency"], b["recency_cal"]),
        np.allclose(a["T"], b["T_cal"]),
        np.allclose(a["monetary_value"], b["monetary_value_cal"], rtol=1e-9),
        np.array_equal(a["frequency_holdout"].to_numpy(), b["frequency_holdout"].to_numpy()),
    ]
    return "all columns equal" if all(checks) else f"MISMATCH {checks}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--sizes", type=float, nargs="*", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-max", type=float, default=10_000_000,
                    help="largest size at which the peer is run")
    args = ap.parse_args()
    sizes = args.sizes or ([100_000] if args.quick else [1_000_000, 10_000_000])
    repeats = 1 if args.quick else args.repeats
    rows = []
    for size in sizes:
        log = make_log(int(size))
        n = len(log)
        t_ours = Timer.best(lambda log=log: ours(log), repeats)
        a = ours(log)
        row = {"job": "rfm_summary", "size": n, "ours_s": t_ours, "peer": "lifetimes 0.11.3"}
        if size <= args.peer_max:
            t_peer = Timer.best(lambda log=log: peer(log), 1)
            row.update(peer_s=t_peer, ratio=t_peer / t_ours, agree=agree(a, peer(log)))
        else:
            row.update(peer_s=None, ratio=None, agree="peer not run")
        row["peak_mb"] = peak_rss_mb()
        rows.append(row)
        print(f"{n:>12,} rows  ours {t_ours:7.2f} s  peer "
              f"{row['peer_s'] if row['peer_s'] is None else round(row['peer_s'], 2)} s  "
              f"ratio {row['ratio'] and round(row['ratio'], 1)}  {row['agree']}", flush=True)
    if not (args.quick or args.no_write):
        write_results("bench_summary", rows)
    print(machine())


if __name__ == "__main__":
    main()
