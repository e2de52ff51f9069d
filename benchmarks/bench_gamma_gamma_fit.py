"""Benchmark: Gamma-Gamma fit, and discounted CLV scoring with BG/NBD + Gamma-Gamma.

Jobs, each timed for clvmodels and lifetimes 0.11.3 in the same run (best of several repeats):

* ``gg_fit``: ``GammaGamma().fit`` against ``lifetimes.GammaGammaFitter().fit`` on the
  946 CDNOW repeat buyers and on simulated repeat customers (frequencies from BG/NBD at
  the CDNOW estimates, mean spends from Gamma-Gamma at p=6.25, q=3.74, gamma=15.44).
  Agreement: largest relative difference of the three estimates.
* ``clv``: 52-week CLV at a 10% annual rate, monthly steps (4.345 weeks, lifetimes'
  definition for ``freq="W"``), BG/NBD at the published CDNOW estimates and Gamma-Gamma at
  the published estimates; customers arrive over 12 weeks and are summarised at day
  granularity (recency and T in whole days expressed in weeks, as ``rfm_summary`` gives).
  Ours: ``customer_lifetime_value(BGNBD.from_params(...), GammaGamma.from_params(...), ...)``;
  peer: ``GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12, freq="W")`` with the
  equivalent monthly rate. Agreement: largest relative difference per customer.

    python benchmarks/bench_gamma_gamma_fit.py            # full sizes, writes results JSON
    python benchmarks/bench_gamma_gamma_fit.py --quick    # small sizes for CI, writes nothing
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from _common import Timer, machine, peak_rss_mb, write_results

from clvmodels.data.simulate import simulate_bgnbd_summary, simulate_gamma_gamma_spend
from clvmodels.models.clv import customer_lifetime_value
from clvmodels.models.gamma_gamma import GammaGamma

BGNBD_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_CDNOW = {"p": 6.25, "q": 3.74, "gamma": 15.44}
PEER = "lifetimes 0.11.3"
WEEKS_PER_MONTH = 4.345  # lifetimes' monthly step on a weekly clock
ANNUAL_RATE = 0.10


def cdnow_repeat():
    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    s = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end="1997-09-30",
                    observation_end="1998-06-30", time_unit="W")
    return s[s["frequency"] > 0][["frequency", "monetary_value"]]


def simulated_summary(n_customers, seed=0):
    """BG/NBD customers first buying over 84 days, observed to day 273, at day granularity."""
    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, n_customers)
    T = (273 - first_day) / 7.0
    s = simulate_bgnbd_summary(n_customers, T=T, random_state=rng, **BGNBD_CDNOW)
    s["recency"] = np.minimum(np.round(s["recency"].to_numpy() * 7.0) / 7.0, s["T"].to_numpy())
    spend = simulate_gamma_gamma_spend(s["frequency"].to_numpy(), random_state=rng, **GG_CDNOW)
    s["monetary_value"] = spend
    return s


def simulated_repeat(n_repeat, seed=0):
    """``n_repeat`` customers with at least one repeat purchase (about 40% of BG/NBD draws)."""
    s = simulated_summary(int(n_repeat / 0.35) + 1000, seed=seed)
    s = s[s["frequency"] > 0].iloc[:n_repeat]
    return s[["frequency", "monetary_value"]]


# ---------------------------------------------------------------------------
def fit_ours(data):
    return GammaGamma().fit(data)


def fit_peer(data):
    import lifetimes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.GammaGammaFitter().fit(data["frequency"], data["monetary_value"])


def bench_fit(label, data, repeats, run_peer):
    t_ours = Timer.best(lambda: fit_ours(data), repeats)
    ours = fit_ours(data)
    row = {"job": f"gg_fit {label}", "size": len(data), "ours_s": t_ours, "peer": PEER}
    if run_peer:
        t_peer = Timer.best(lambda: fit_peer(data), max(1, repeats - 1))
        theirs = fit_peer(data).params_[["p", "q", "v"]].to_numpy()
        rel = float(np.max(np.abs(ours.params_.to_numpy() / theirs - 1)))
        row.update(peer_s=t_peer, ratio=t_peer / t_ours, agree=f"params max rel diff {rel:.1e}")
    else:
        row.update(peer_s=None, ratio=None, agree="peer not run")
    row["params"] = {k: round(float(v), 6) for k, v in ours.params_.items()}
    row["peak_mb"] = peak_rss_mb()
    return row


# ---------------------------------------------------------------------------
def clv_ours(summary, purchase_model, spend_model):
    weekly = (1 + ANNUAL_RATE) ** (1 / 52.1775) - 1  # 365.25 / 7 weeks a year
    return customer_lifetime_value(purchase_model, spend_model, summary,
                                   horizon=12 * WEEKS_PER_MONTH, discount_rate=weekly,
                                   periods_per_step=WEEKS_PER_MONTH)


def clv_peer(summary):
    import lifetimes

    bgf = lifetimes.BetaGeoFitter()
    bgf.params_ = pd.Series(BGNBD_CDNOW)
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
    ggf = lifetimes.GammaGammaFitter()
    ggf.params_ = pd.Series({"p": GG_CDNOW["p"], "q": GG_CDNOW["q"], "v": GG_CDNOW["gamma"]})
    weekly = (1 + ANNUAL_RATE) ** (1 / 52.1775) - 1
    monthly = (1 + weekly) ** WEEKS_PER_MONTH - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ggf.customer_lifetime_value(
            bgf, summary["frequency"], summary["recency"], summary["T"],
            summary["monetary_value"], time=12, discount_rate=monthly, freq="W")


def bench_clv(n_customers, repeats, run_peer):
    from clvmodels.models.bgnbd import BGNBD

    summary = simulated_summary(n_customers, seed=1)
    purchases = BGNBD.from_params(time_unit="W", **BGNBD_CDNOW)
    spend = GammaGamma.from_params(**GG_CDNOW)
    t_ours = Timer.best(lambda: clv_ours(summary, purchases, spend), repeats)
    ours = clv_ours(summary, purchases, spend).to_numpy()
    row = {"job": "clv 12 monthly steps", "size": n_customers, "ours_s": t_ours, "peer": PEER}
    if run_peer:
        t_peer = Timer.best(lambda: clv_peer(summary), 1)
        theirs = clv_peer(summary).to_numpy(dtype=float)
        rel = float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)))
        row.update(peer_s=t_peer, ratio=t_peer / t_ours, agree=f"clv max rel diff {rel:.1e}")
    else:
        row.update(peer_s=None, ratio=None, agree="peer not run")
    row["peak_mb"] = peak_rss_mb()
    return row


def _print(row):
    peer = "-" if row["peer_s"] is None else f"{row['peer_s']:8.3f}"
    ratio = "-" if row["ratio"] is None else f"{row['ratio']:6.1f}x"
    print(f"{row['job']:<24} {row['size']:>12,}  ours {row['ours_s']:8.3f} s  peer {peer} s  "
          f"ratio {ratio}  {row['agree']}  peak {row['peak_mb']:.0f} MB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fit-sizes", type=float, nargs="*", default=None)
    ap.add_argument("--clv-sizes", type=float, nargs="*", default=None)
    ap.add_argument("--peer-max-fit", type=float, default=1_000_000)
    ap.add_argument("--peer-max-clv", type=float, default=10_000_000)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    fit_sizes = args.fit_sizes or ([10_000] if args.quick else [100_000, 1_000_000])
    clv_sizes = args.clv_sizes or ([20_000] if args.quick else [1_000_000, 10_000_000])

    rows = [bench_fit("CDNOW", cdnow_repeat(), repeats, True)]
    _print(rows[-1])
    for size in fit_sizes:
        rows.append(bench_fit("simulated", simulated_repeat(int(size)), repeats,
                              size <= args.peer_max_fit))
        _print(rows[-1])
    for size in clv_sizes:
        rows.append(bench_clv(int(size), repeats, size <= args.peer_max_clv))
        _print(rows[-1])
    if not (args.quick or args.no_write):
        print("wrote", write_results("bench_gamma_gamma_fit", rows))
    print(machine())


if __name__ == "__main__":
    main()
