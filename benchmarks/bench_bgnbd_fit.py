"""Benchmark: fitting and scoring BG/NBD, against lifetimes' BetaGeoFitter in the same run.

Data: the CDNOW calibration summary (2,357 customers), and customers drawn from the BG/NBD
process near CDNOW's estimates (r=0.243, alpha=4.414, a=0.793, b=2.426; weeks), first
buying in one of 52 weekly cohorts of a one-year calibration period (T = 1..52 weeks) and
summarised at day granularity (recency in whole days, as ``rfm_summary`` gives), at 100k,
1M and 10M customers.

* fit, ours: ``BGNBD().fit(summary)`` with default settings (3 start values, analytic
  gradient, Hessian standard errors, input validation), best of ``--repeats``.
* fit, peer: ``lifetimes.BetaGeoFitter().fit(frequency, recency, T)`` with its defaults,
  once, up to 1M customers (it is slow); at 1M also on rows pre-compressed by us and
  passed with ``weights=`` (lifetimes' own way of being fast).
* score: ``expected_purchases(summary, t=39)`` plus ``probability_alive(summary)``
  (validation included) on 10M customers; the peer's
  ``conditional_expected_number_of_purchases_up_to_time`` plus
  ``conditional_probability_alive`` on 1M.

Agreement: both fits' parameters evaluated by the same (our) log-likelihood: the relative
difference must be below 1e-6 ("LL 1e-6 rel"), and the largest relative difference of the
estimates is reported; scores agree when their largest relative difference is below 1e-6.

    python benchmarks/bench_bgnbd_fit.py            # full sizes, writes results JSON
    python benchmarks/bench_bgnbd_fit.py --quick    # small sizes for CI, writes nothing
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import Timer, load_average, machine, peak_rss_mb, print_table, write_results

import clvmodels
from clvmodels.data.simulate import simulate_bgnbd_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.models import bgnbd
from clvmodels.models._fit import compress
from clvmodels.models.bgnbd import BGNBD

PEER = "lifetimes 0.11.3 BetaGeoFitter"
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
COLUMNS = ("frequency", "recency", "T")


def simulated(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    first_day = 7 * rng.integers(0, 52, n)  # 52 weekly cohorts
    T = (364 - first_day) / 7.0
    summary = simulate_bgnbd_summary(n, T=T, random_state=rng, **CDNOW)
    summary["recency"] = np.floor(summary["recency"] * 7.0) / 7.0  # whole days
    return summary


def cdnow():
    return clvmodels.rfm_summary(
        load_cdnow_transactions(),
        amount="amount",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        time_unit="W",
    )


def peer_fit(summary, weights=None):
    import lifetimes

    data = [summary[c].to_numpy() for c in COLUMNS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fitter = lifetimes.BetaGeoFitter().fit(*data, weights=weights)
        seconds = time.perf_counter() - t0
    return seconds, fitter.params_[list(CDNOW)].to_numpy()


def agreement(summary, ours, theirs, weights=None):
    data = [summary[c].to_numpy() for c in COLUMNS]
    ll_ours = bgnbd.log_likelihood(ours, *data, weights=weights)
    ll_theirs = bgnbd.log_likelihood(theirs, *data, weights=weights)
    rel = abs(ll_ours - ll_theirs) / abs(ll_theirs)
    params_rel = float(np.max(np.abs(ours - theirs) / theirs))
    verdict = "LL 1e-6 rel" if rel < 1e-6 else f"LL differs {rel:.1e} rel"
    better = "ours" if ll_ours >= ll_theirs else "peer"
    return (
        f"{verdict} (dLL {ll_ours - ll_theirs:+.2e}, higher: {better}; params {params_rel:.0e} rel)"
    )


def bench_fit(name, summary, repeats, with_peer, rows):
    model = BGNBD().fit(summary)
    t_ours = Timer.best(lambda: BGNBD().fit(summary), repeats)
    ours = model.params_.to_numpy()
    row = {
        "job": "fit",
        "size": name,
        "ours_s": round(t_ours, 4),
        "peer": None,
        "peer_s": None,
        "ratio": None,
        "peak_mb": round(peak_rss_mb()),
        "agree": f"converged={model.converged_}, {model.fit_info_['n_unique_rows']:,} unique rows",
        "load": load_average(),
    }
    if with_peer:
        seconds, theirs = peer_fit(summary)
        row.update(
            peer=PEER,
            peer_s=round(seconds, 3),
            ratio=round(seconds / t_ours, 1),
            agree=agreement(summary, ours, theirs),
        )
    rows.append(row)
    return model


def bench_peer_compressed(name, summary, t_ours, ours, rows):
    packed = compress([summary[c].to_numpy() for c in COLUMNS])
    frame = summary.iloc[:0].copy()
    for c, values in zip(COLUMNS, packed.columns, strict=True):
        frame[c] = values
    seconds, theirs = peer_fit(frame, weights=packed.weights)
    rows.append(
        {
            "job": "fit (peer on unique rows, weights=)",
            "size": name,
            "ours_s": t_ours,
            "peer": PEER + " with weights",
            "peer_s": round(seconds, 3),
            "ratio": round(seconds / t_ours, 1),
            "peak_mb": round(peak_rss_mb()),
            "agree": agreement(frame, ours, theirs, weights=packed.weights),
            "load": load_average(),
        }
    )


def bench_score(name, summary, model, repeats, with_peer, rows):
    def ours():
        return (
            model.expected_purchases(summary, t=39.0).to_numpy(),
            model.probability_alive(summary).to_numpy(),
        )

    t_ours = Timer.best(ours, repeats)
    row = {
        "job": "score (E[purchases 39w] + P(alive))",
        "size": name,
        "ours_s": round(t_ours, 3),
        "peer": None,
        "peer_s": None,
        "ratio": None,
        "peak_mb": round(peak_rss_mb()),
        "agree": None,
        "load": load_average(),
    }
    if with_peer:
        import lifetimes

        peer = lifetimes.BetaGeoFitter()
        peer.params_ = model.params_.copy()
        data = [summary[c].to_numpy() for c in COLUMNS]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = peer.conditional_expected_number_of_purchases_up_to_time(39.0, *data)
            pa = peer.conditional_probability_alive(*data)
        seconds = time.perf_counter() - t0
        mine = ours()
        rel = max(
            float(np.max(np.abs(mine[0] - e) / np.abs(e))),
            float(np.max(np.abs(mine[1] - pa) / np.abs(pa))),
        )
        row.update(
            peer=PEER,
            peer_s=round(seconds, 3),
            ratio=round(seconds / t_ours, 1),
            agree=("scores 1e-6 rel" if rel < 1e-6 else "scores differ") + f" (max {rel:.0e})",
        )
    rows.append(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    if args.quick:
        fit_sizes, peer_max, score_sizes, compressed_at = (
            [10_000, 100_000],
            100_000,
            [100_000],
            None,
        )
    else:
        fit_sizes = [100_000, 1_000_000, 10_000_000]
        peer_max, score_sizes, compressed_at = 1_000_000, [1_000_000, 10_000_000], 1_000_000

    rows: list[dict] = []
    bench_fit("CDNOW 2,357", cdnow(), args.repeats, True, rows)
    models = {}
    for n in fit_sizes:
        summary = simulated(n)
        repeats = args.repeats if n <= 1_000_000 else max(1, args.repeats - 1)
        models[n] = bench_fit(f"{n:,}", summary, repeats, n <= peer_max, rows)
        if n == compressed_at:
            bench_peer_compressed(
                f"{n:,}", summary, rows[-1]["ours_s"], models[n].params_.to_numpy(), rows
            )
        if n in score_sizes:
            bench_score(f"{n:,}", summary, models[n], args.repeats, n <= peer_max, rows)
        del summary

    print(f"BG/NBD fit and scoring, ours vs {PEER}; machine: {machine()}")
    print_table(rows)
    if not args.quick:  # --quick only checks that the script still works
        print(f"wrote {write_results('bench_bgnbd_fit', rows)}")


if __name__ == "__main__":
    main()
