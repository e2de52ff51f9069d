"""Benchmark: fitting BG/BB, shifted-beta-geometric and MBG/NBD, against lifetimes in the same run.

Jobs (best of several repeats for ours; peers timed in the same process):

* ``bgbb_fit donations``: ``BGBB().fit`` on the 22-row weighted donations table of Fader,
  Hardie & Shang (2010) vs ``lifetimes.BetaGeoBetaBinomFitter().fit(..., weights=...)``.
* ``bgbb_fit simulated``: one row per customer drawn from BG/BB at the published estimates
  with 6 opportunities (like the donations). Ours compresses the rows itself; the peer is
  timed twice: on the raw rows (what its API takes per customer) and on the same rows
  compressed beforehand with counts as weights (the fair, best case for the peer).
* ``sbg_fit``: ``ShiftedBetaGeometric().fit`` on the "regular" cohort (years 0-7) of Fader &
  Hardie (2007). lifetimes has no sBG model; the reference is the textbook approach
  (scipy Nelder-Mead on the closed-form likelihood, no gradient), labelled as such.
* ``mbgnbd_fit CDNOW``: the 2,357-customer CDNOW calibration summary vs
  ``lifetimes.ModifiedBetaGeoFitter().fit``.
* ``mbgnbd_fit simulated``: customers drawn from MBG/NBD at the CDNOW estimates, first buying
  over 12 weeks and summarised at day granularity (recency and T in whole days, as
  ``rfm_summary`` gives), vs the peer on the raw rows.

Agreement: the largest relative difference between our estimates and the peer's.

    python benchmarks/bench_family_fit.py            # full sizes, writes results JSON
    python benchmarks/bench_family_fit.py --quick    # small sizes for CI, writes nothing
"""

from __future__ import annotations

import argparse
import contextlib
import io
import warnings

import numpy as np
from _common import Timer, machine, peak_rss_mb, write_results
from scipy import optimize

from clvmodels.data._simulate_family import simulate_bgbb_summary, simulate_mbgnbd_summary
from clvmodels.datasets import load_donations, load_sbg_retention
from clvmodels.models import sbg
from clvmodels.models.bgbb import BGBB
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.sbg import ShiftedBetaGeometric

PEER = "lifetimes 0.11.3"
BGBB_PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
MBG_CDNOW = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}  # our CDNOW estimates


@contextlib.contextmanager
def _quiet():
    """lifetimes prints and warns on some fits; keep the table readable."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _rel(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(ours / theirs - 1)))


def _row(job, size, t_ours, peer, t_peer, agree):
    return {"job": job, "size": size, "ours_s": t_ours, "peer": peer, "peer_s": t_peer,
            "ratio": None if t_peer is None else t_peer / t_ours, "agree": agree,
            "peak_mb": peak_rss_mb()}


# ---------------------------------------------------------------------------
def bgbb_peer(frame, weights=None):
    import lifetimes

    with _quiet():
        return lifetimes.BetaGeoBetaBinomFitter().fit(
            frame["frequency"], frame["recency"], frame["n_periods"], weights=weights)


def bench_bgbb_donations(repeats):
    data = load_donations()
    t_ours = Timer.best(lambda: BGBB().fit(data), repeats)
    ours = BGBB().fit(data)
    t_peer = Timer.best(lambda: bgbb_peer(data, data["weights"]), repeats)
    theirs = bgbb_peer(data, data["weights"]).params_.to_numpy()
    return _row("bgbb_fit donations", int(data["weights"].sum()), t_ours, PEER, t_peer,
                f"params max rel diff {_rel(ours.params_, theirs):.1e}")


def bench_bgbb_simulated(n, repeats, run_peer):
    data = simulate_bgbb_summary(n, n_periods=6, random_state=0, **BGBB_PUBLISHED)
    t_ours = Timer.best(lambda: BGBB().fit(data), repeats)
    ours = BGBB().fit(data)
    rows = []
    if run_peer:
        t_peer = Timer.best(lambda: bgbb_peer(data), 1)
        theirs = bgbb_peer(data).params_.to_numpy()
        rows.append(_row("bgbb_fit simulated", n, t_ours, PEER + " (raw rows)", t_peer,
                         f"params max rel diff {_rel(ours.params_, theirs):.1e}"))
    table = data.value_counts().rename("weights").reset_index()
    t_peer = Timer.best(lambda: bgbb_peer(table, table["weights"]), repeats)
    theirs = bgbb_peer(table, table["weights"]).params_.to_numpy()
    rows.append(_row("bgbb_fit simulated", n, t_ours, PEER + " (pre-compressed rows)", t_peer,
                     f"params max rel diff {_rel(ours.params_, theirs):.1e}"))
    return rows


# ---------------------------------------------------------------------------
def sbg_textbook(counts):
    rows = sbg.counts_to_lifetimes(counts)
    t, c, w = (rows[k].to_numpy(dtype=float) for k in ("period", "churned", "customers"))

    def nll(x):
        return -sbg.log_likelihood(np.exp(x), t, c, w)

    res = optimize.minimize(nll, np.zeros(2), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 5000})
    return np.exp(res.x)


def bench_sbg(repeats):
    counts = load_sbg_retention()["regular"].to_numpy()[:8]
    t_ours = Timer.best(lambda: ShiftedBetaGeometric().fit(counts), repeats)
    ours = ShiftedBetaGeometric().fit(counts)
    t_ref = Timer.best(lambda: sbg_textbook(counts), repeats)
    ref = sbg_textbook(counts)
    return _row("sbg_fit regular cohort", int(counts[0]), t_ours,
                "scipy Nelder-Mead, no gradient (lifetimes has no sBG)", t_ref,
                f"params max rel diff {_rel(ours.params_, ref):.1e}")


# ---------------------------------------------------------------------------
def mbg_peer(frame):
    import lifetimes

    with _quiet():
        return lifetimes.ModifiedBetaGeoFitter().fit(
            frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame["T"].to_numpy())


def cdnow_summary():
    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    return rfm_summary(load_cdnow_transactions(), calibration_end="1997-09-30",
                       observation_end="1998-06-30", time_unit="W")[["frequency", "recency", "T"]]


def simulated_mbg(n, seed=0):
    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, n)
    T = (273 - first_day) / 7.0
    s = simulate_mbgnbd_summary(n, T=T, random_state=rng, **MBG_CDNOW)
    s["recency"] = np.minimum(np.round(s["recency"].to_numpy() * 7.0) / 7.0, s["T"].to_numpy())
    return s


def bench_mbg(label, data, repeats, run_peer):
    t_ours = Timer.best(lambda: MBGNBD().fit(data), repeats)
    ours = MBGNBD().fit(data)
    if not run_peer:
        return _row(f"mbgnbd_fit {label}", len(data), t_ours, PEER, None, "peer not run")
    t_peer = Timer.best(lambda: mbg_peer(data), 1 if len(data) > 10_000 else repeats)
    theirs = mbg_peer(data).params_.to_numpy()
    return _row(f"mbgnbd_fit {label}", len(data), t_ours, PEER, t_peer,
                f"params max rel diff {_rel(ours.params_, theirs):.1e}")


# ---------------------------------------------------------------------------
def _print(row):
    peer = "-" if row["peer_s"] is None else f"{row['peer_s']:8.3f}"
    ratio = "-" if row["ratio"] is None else f"{row['ratio']:7.1f}x"
    print(f"{row['job']:<24} {row['size']:>10,}  ours {row['ours_s']:8.3f} s  "
          f"peer {peer} s  ratio {ratio}  [{row['peer']}]  {row['agree']}  "
          f"peak {row['peak_mb']:.0f} MB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=float, nargs="*", default=None,
                    help="simulated customers for BG/BB and MBG/NBD (default 1e6)")
    ap.add_argument("--peer-max", type=float, default=1_000_000,
                    help="largest simulated size on which the peer runs on raw rows")
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    sizes = [int(s) for s in (args.sizes or ([20_000] if args.quick else [1_000_000]))]

    print("ratio = peer time / our time (above 1: we are faster)", flush=True)
    rows = [bench_bgbb_donations(repeats)]
    _print(rows[-1])
    for n in sizes:
        for row in bench_bgbb_simulated(n, repeats, n <= args.peer_max):
            rows.append(row)
            _print(row)
    rows.append(bench_sbg(repeats))
    _print(rows[-1])
    rows.append(bench_mbg("CDNOW", cdnow_summary(), repeats, True))
    _print(rows[-1])
    for n in sizes:
        rows.append(bench_mbg("simulated", simulated_mbg(n), repeats, n <= args.peer_max))
        _print(rows[-1])
    if not (args.quick or args.no_write):
        print("wrote", write_results("bench_family_fit", rows))
    print(machine())


if __name__ == "__main__":
    main()
