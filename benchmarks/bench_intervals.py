"""Benchmark: parameter-uncertainty intervals on 1M customers with 1,000 draws (target < 20 s).

Data: a transaction log simulated from BG/NBD + Gamma-Gamma at the CDNOW estimates
(``simulate_transactions(1_000_000, random_state=0)``: ~2.8M transactions, first
purchases spread over 12 weeks, 78 weeks observed, event times in whole days),
summarised by ``rfm_summary(time_unit="W")``: recency and T take day-grid values in
weeks, as a real daily log gives. The number of distinct (frequency, recency, T) rows,
which is what the intervals are evaluated on, is reported.

Jobs (ours only: lifetimes has no prediction intervals, and pymc-marketing, the other
peer, is used only if installed; its posterior-predictive sampling is a different
computation and is not run here):

* ``expected_purchases(summary, t=39, interval=0.9, n_draws=1000)`` for BG/NBD (the
  target), MBG/NBD and Pareto/NBD; ``probability_alive(interval=0.9)`` for BG/NBD;
* ``GammaGamma.expected_spend(interval=0.9)`` (distinct (frequency, mean value) rows);
* ``customer_lifetime_value(..., horizon=52, monthly steps, interval=0.9)`` (BG/NBD +
  Gamma-Gamma, independent draws) with ``--clv``;
* ``forecast_customer_base`` of the 1M customers, 13 weekly periods, 100 simulations
  (parameter and process uncertainty), with ``--forecast``.

Wall time includes compressing to unique rows, drawing, evaluating, and the
percentiles (best of ``--repeats``); the fit is not included. How it is fast: the
BG/NBD alive-customer expectation, whose exact quadrature costs ~40 us per value, is
evaluated per draw on the distinct (x, T) only, by the hypergeometric closed form
(``scipy.special.hyp2f1``) with a cancellation-free series and the quadrature as
fall-backs, spot-checked against the quadrature; P(alive) gathers per-draw logarithms of
the distinct T and recency; percentiles by ``np.partition`` on rows x draws chunks
(bounded memory), two threads. ``agree`` reports, for the BG/NBD row, the largest
relative difference between the fast alive-customer expectation and the quadrature
over all distinct (x, T) of the data at 50 draws, and that the estimate column equals
the plain prediction exactly.

    python benchmarks/bench_intervals.py                # 1M customers, writes results JSON
    python benchmarks/bench_intervals.py --quick        # 20k customers, 100 draws, writes nothing
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import Timer, load_average, peak_rss_mb, print_table, write_results

import clvmodels
from clvmodels.data.simulate import simulate_transactions
from clvmodels.models import bgnbd
from clvmodels.models import uncertainty as unc
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.clv import customer_lifetime_value
from clvmodels.models.forecast import forecast_customer_base
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.paretonbd import ParetoNBD


def build_summary(n_customers: int):
    log = simulate_transactions(n_customers, random_state=0)
    summary = clvmodels.rfm_summary(log, amount="amount", time_unit="W")
    return summary, len(log)


def fast_path_accuracy(model, summary) -> float:
    """Largest relative difference, fast alive-customer expectation vs quadrature."""
    xt = summary[["frequency", "T"]].drop_duplicates()
    x = xt["frequency"].to_numpy(dtype=float)[:, None]
    T = xt["T"].to_numpy(dtype=float)[:, None]
    draws = unc.draw_parameters(model, 50, random_state=1)
    r, alpha, a, b = (draws[:, j][None, :] for j in range(4))
    args = np.broadcast_arrays(x + r, T + alpha, a, x + b, 39.0)
    fast = bgnbd.alive_purchases_fast(*args)
    exact = bgnbd.alive_purchases(*args)
    return float(np.max(np.abs(fast - exact) / exact))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20k customers, 100 draws, no results")
    ap.add_argument("--customers", type=int, default=None)
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--clv", action="store_true", help="also time the CLV interval")
    ap.add_argument("--forecast", action="store_true", help="also time the forecast")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    n = args.customers or (20_000 if args.quick else 1_000_000)
    n_draws = args.draws or (100 if args.quick else 1000)
    repeats = 1 if args.quick else args.repeats
    warnings.simplefilter("ignore")

    load_before = load_average()
    t0 = time.perf_counter()
    summary, n_rows = build_summary(n)
    unique = len(summary[["frequency", "recency", "T"]].drop_duplicates())
    unique_xt = len(summary[["frequency", "T"]].drop_duplicates())
    unique_spend = len(summary.loc[summary["frequency"] > 0, ["frequency", "monetary_value"]]
                       .drop_duplicates()) + 1
    print(f"{n:,} customers, {n_rows:,} transactions, {unique:,} distinct (x, t_x, T) rows, "
          f"{unique_xt:,} distinct (x, T), {unique_spend:,} distinct (x, mean value); built in "
          f"{time.perf_counter() - t0:.1f} s; {unc.N_THREADS} thread(s)", flush=True)
    models = {"BG/NBD": BGNBD().fit(summary), "MBG/NBD": MBGNBD().fit(summary),
              "Pareto/NBD": ParetoNBD().fit(summary)}
    spend = GammaGamma().fit(summary[summary["frequency"] > 0])
    rows = []

    def job(name, fn, agree, size=n):
        result = {}

        def run():
            result["out"] = fn()

        seconds = Timer.best(run, repeats)
        row = {"job": name, "size": size, "ours_s": round(seconds, 3), "peer": None,
               "peer_s": None, "ratio": None, "peak_mb": round(peak_rss_mb(), 1),
               "agree": agree(result["out"]) if callable(agree) else agree,
               "unique_rows": int(result["out"].attrs.get("n_unique_rows", 0)) or None,
               "n_draws": n_draws}
        rows.append(row)
        print(f"  {name}: {seconds:.2f} s  ({row['agree']})", flush=True)
        return result["out"]

    bg = models["BG/NBD"]
    plain = bg.expected_purchases(summary, t=39)
    accuracy = fast_path_accuracy(bg, summary)

    def same_estimate(out, reference=plain):
        exact = bool(np.array_equal(out.iloc[:, 0].to_numpy(), reference.to_numpy()))
        return f"estimate == plain: {exact}"

    job(f"BG/NBD expected_purchases interval ({n_draws} draws)",
        lambda: bg.expected_purchases(summary, t=39, interval=0.9, n_draws=n_draws,
                                      random_state=0),
        lambda out: f"{same_estimate(out)}; fast alive-customer expectation vs quadrature "
                    f"max rel diff {accuracy:.1e} ({unique_xt:,} (x, T) x 50 draws)")
    alive = bg.probability_alive(summary)
    job(f"BG/NBD probability_alive interval ({n_draws} draws)",
        lambda: bg.probability_alive(summary, interval=0.9, n_draws=n_draws, random_state=0),
        lambda out: same_estimate(out, alive))
    for name in ("MBG/NBD", "Pareto/NBD"):
        m = models[name]
        ref = m.expected_purchases(summary, t=39)
        job(f"{name} expected_purchases interval ({n_draws} draws)",
            lambda m=m: m.expected_purchases(summary, t=39, interval=0.9, n_draws=n_draws,
                                             random_state=0),
            lambda out, ref=ref: same_estimate(out, ref))
    ref = spend.expected_spend(summary)
    job(f"Gamma-Gamma expected_spend interval ({n_draws} draws)",
        lambda: spend.expected_spend(summary, interval=0.9, n_draws=n_draws, random_state=0),
        lambda out: same_estimate(out, ref))
    if args.clv:
        kwargs = {"horizon": 52.0, "discount_rate": 0.0023, "periods_per_step": 4.345}
        ref = customer_lifetime_value(bg, spend, summary, **kwargs)
        job(f"CLV interval, 12 monthly steps ({n_draws} draws each model)",
            lambda: customer_lifetime_value(bg, spend, summary, **kwargs, interval=0.9,
                                            n_draws=n_draws, random_state=0),
            lambda out: f"clv == plain: {bool(np.array_equal(out['clv'], ref))}")
    if args.forecast:
        job("forecast_customer_base, 13 weekly periods, 100 simulations",
            lambda: forecast_customer_base(bg, summary, horizon=13, period=1, n_sims=100,
                                           random_state=0),
            "mean vs closed form: see tests/test_forecast.py")

    print()
    print_table(rows, ("job", "size", "unique_rows", "ours_s", "peak_mb", "agree"))
    if not (args.quick or args.no_write):
        for row in rows:
            row["load_before"] = load_before
        path = write_results("bench_intervals", rows)
        print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main()
