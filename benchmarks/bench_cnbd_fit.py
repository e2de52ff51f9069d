"""Benchmark: fitting NBD, BG/CNBD-k and MBG/CNBD-k on simulated customers and on groceryElog.

There is no Python peer (no other Python package has these models) and BTYDplus publishes
no timings for ``nbd.EstimateParameters`` or ``(m)bgcnbd.EstimateParameters``, so the rows
give absolute times on this machine (best of several repeats) and, for simulated data, how
the estimates agree with the truth (largest |estimate - truth| / standard error).

Jobs:

* ``nbd_fit simulated``: NBD customers at ``r = 0.5, alpha = 5``;
* ``bgcnbd_fit k=2`` and ``mbgcnbd_fit k=2``: (M)BG/CNBD-2 customers at ``k = 2, r = 0.8,
  alpha = 2, a = 0.8, b = 2.5``, ``k`` fixed;
* ``bgcnbd_fit k=None`` and ``mbgcnbd_fit k=None``: the same data, ``k`` profiled (``k = 1,
  2, ...`` until the likelihood falls twice, from the summary likelihood: no ``litt``);
* ``* groceryElog``: the 1,525 customers of BTYDplus's groceryElog (calibration to
  2006-12-31, weeks, with ``litt``), ``k`` profiled, when ``../shared/data`` is there.

Simulated customers first buy over 52 weekly cohorts and are summarised at day granularity
(recency in whole days between the first and last purchase day, as ``rfm_summary`` gives,
the first purchase at a uniform time of its day so that the rounding is unbiased), so the
fit works on the unique ``(x, t_x, T)`` rows.

    python benchmarks/bench_cnbd_fit.py            # 1M customers, writes results JSON
    python benchmarks/bench_cnbd_fit.py --quick    # 20,000 customers, writes nothing
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import Timer, machine, peak_rss_mb, write_results

from clvmodels.data import rfm_summary
from clvmodels.data._simulate_cnbd import simulate_cnbd_summary, simulate_nbd_summary
from clvmodels.models.bgcnbd import BGCNBD
from clvmodels.models.mbgcnbd import MBGCNBD
from clvmodels.models.nbd import NBD
from clvmodels.models.regularity import log_intertransaction_times

PEER = "none (no Python peer; BTYDplus publishes no fit timings)"
NBD_TRUE = {"r": 0.5, "alpha": 5.0}
CNBD_TRUE = {"k": 2, "r": 0.8, "alpha": 2.0, "a": 0.8, "b": 2.5}
_ROOT = Path(__file__).resolve().parents[1]


def _daily(frame, seed=0):
    """Day granularity without bias: each customer's first purchase falls at a uniform time
    of its day, and recency counts whole days between the first and the last purchase day
    (``E[floor(u + y)] = y``); T is in whole weeks already."""
    frame = frame[["frequency", "recency", "T"]].copy()
    phase = np.random.default_rng(seed).random(len(frame))
    days = np.floor(phase + frame["recency"].to_numpy() * 7)
    # a repeat purchase on the day of the first is merged with it in a real log (rfm_summary);
    # the few simulated ones are put on the next day instead
    days[(frame["frequency"].to_numpy() > 0) & (days == 0)] = 1.0
    frame["recency"] = np.minimum(days / 7, frame["T"].to_numpy())
    return frame


def _cohorts(n, seed):
    return np.random.default_rng(seed).integers(1, 53, n).astype(float)


def _agreement(model, truth):
    table = model.summary()
    est = table["estimate"]
    free = table["std_error"].notna()
    z = ((est - pd.Series(truth, dtype=float)) / table["std_error"])[free]
    text = f"max |z| vs truth {float(z.abs().max()):.2f}"
    if "k" in truth:
        text += f", k = {int(est['k'])} (truth {truth['k']})"
    return text


def _row(job, size, seconds, agree, unique=None):
    return {"job": job, "size": int(size), "ours_s": round(seconds, 4), "peer": PEER,
            "peer_s": None, "ratio": None, "peak_mb": round(peak_rss_mb(), 1),
            "agree": agree if unique is None else f"{agree}; {unique:,} unique rows"}


def _print(row):
    print(f"{row['job']:<28} {row['size']:>10,}  ours {row['ours_s']:9.3f} s  {row['agree']}  "
          f"peak {row['peak_mb']:.0f} MB", flush=True)


def bench_simulated(n, repeats):
    rows = []
    nbd_data = _daily(simulate_nbd_summary(n, **NBD_TRUE, T=_cohorts(n, 1), random_state=1))
    t = Timer.best(lambda: NBD().fit(nbd_data), repeats)
    model = NBD().fit(nbd_data)
    rows.append(_row("nbd_fit simulated", n, t, _agreement(model, NBD_TRUE),
                     model.fit_info_["n_unique_rows"]))
    _print(rows[-1])
    for cls, label, zero in ((BGCNBD, "bgcnbd", False), (MBGCNBD, "mbgcnbd", True)):
        data = _daily(simulate_cnbd_summary(n, **CNBD_TRUE, T=_cohorts(n, 2),
                                            dropout_at_zero=zero, random_state=2))
        for k in (2, None):
            t = Timer.best(lambda cls=cls, k=k, data=data: cls(k=k).fit(data), repeats)
            model = cls(k=k).fit(data)
            rows.append(_row(f"{label}_fit k={k}", n, t, _agreement(model, CNBD_TRUE),
                             model.fit_info_["n_unique_rows"]))
            _print(rows[-1])
    return rows


def bench_grocery(repeats):
    path = next((p / "shared" / "data" / "grocery_elog.csv" for p in (_ROOT.parent,
                 _ROOT.parents[1]) if (p / "shared" / "data" / "grocery_elog.csv").exists()),
                None)
    if path is None:
        return []
    elog = pd.read_csv(path)
    s = rfm_summary(elog, customer_id="cust", date="date", calibration_end="2006-12-31",
                    observation_end="2007-12-30")
    s["litt"] = log_intertransaction_times(elog, "cust", "date", calibration_end="2006-12-31")
    rows = []
    for cls, label in ((NBD, "nbd"), (BGCNBD, "bgcnbd"), (MBGCNBD, "mbgcnbd")):
        t = Timer.best(lambda cls=cls: cls().fit(s), repeats)
        model = cls().fit(s)
        k = f", k = {int(model.params_['k'])}" if "k" in model.params_ else ""
        rows.append(_row(f"{label}_fit groceryElog", len(s), t,
                         f"LL {model.log_likelihood_:.2f}{k}"))
        _print(rows[-1])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=float, default=1_000_000)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    n = 20_000 if args.quick else int(args.size)
    rows = bench_grocery(repeats) + bench_simulated(n, repeats)
    if not (args.quick or args.no_write):
        print("wrote", write_results("bench_cnbd_fit", rows))
    print(machine())


if __name__ == "__main__":
    main()
