"""Benchmark: fitting the Pareto/NBD model, against lifetimes' ParetoNBDFitter in the same run.

Data: customers drawn from the Pareto/NBD process near the CDNOW estimates (r=0.553,
alpha=10.578, s=0.606, beta=11.669; weeks), first buying in one of 52 weekly cohorts of a
one-year calibration period (T = 1..52 weeks) and summarised at day granularity (recency
in whole days, as ``rfm_summary`` gives), at 10k, 30k and 100k customers.

* ours: ``ParetoNBD().fit(summary)`` with default settings (3 start values), best of
  ``--repeats``.
* peer: ``lifetimes.ParetoNBDFitter().fit(frequency, recency, T)`` with its defaults
  (Nelder-Mead), once, in a child process with a time limit (``--timeout``). By default only
  at 10k customers; ``--peer-sizes 10000,30000,100000`` for more.

Agreement: the log-likelihood of each fit evaluated by the same (our) function, so the
difference says which optimiser found the higher maximum, and the largest relative
difference between the two sets of estimates.

    python benchmarks/bench_paretonbd_fit.py            # full sizes, writes results JSON
    python benchmarks/bench_paretonbd_fit.py --quick    # small sizes for CI, writes nothing
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import warnings

import numpy as np
from _common import Timer, machine, peak_rss_mb, write_results

from clvmodels.data._simulate_paretonbd import simulate_paretonbd_summary
from clvmodels.models import paretonbd as pnbd
from clvmodels.models.paretonbd import ParetoNBD

PEER = "lifetimes 0.11.3 ParetoNBDFitter"
CDNOW = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def simulated(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    first_day = 7 * rng.integers(0, 52, n)  # 52 weekly cohorts
    T = (364 - first_day) / 7.0
    summary = simulate_paretonbd_summary(n, T=T, random_state=rng, **CDNOW)
    summary["recency"] = np.floor(summary["recency"] * 7.0) / 7.0  # whole days
    return summary


def _peer_child(frequency, recency, T, queue):
    import lifetimes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fitter = lifetimes.ParetoNBDFitter().fit(frequency, recency, T)
        seconds = time.perf_counter() - t0
        queue.put((seconds, fitter.params_[["r", "alpha", "s", "beta"]].to_numpy()))


def run_peer(summary, timeout: float):
    """(seconds, params) of the lifetimes fit, or (None, reason) on timeout / failure."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    args = tuple(summary[c].to_numpy() for c in ("frequency", "recency", "T")) + (queue,)
    proc = ctx.Process(target=_peer_child, args=args)
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None, f"timed out after {timeout:.0f} s"
    if queue.empty():
        return None, f"failed (exit code {proc.exitcode})"
    return queue.get()


def bench(n: int, repeats: int, with_peer: bool, timeout: float) -> dict:
    summary = simulated(n)
    data = tuple(summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    t_ours = Timer.best(lambda: ParetoNBD().fit(summary), repeats)
    ours = ParetoNBD().fit(summary)
    peak = peak_rss_mb()
    row = {"job": "paretonbd_fit simulated", "size": n, "ours_s": t_ours, "peer": None,
           "peer_s": None, "ratio": None, "peak_mb": peak,
           "unique_rows": ours.fit_info_["n_unique_rows"], "ours_ll": ours.log_likelihood_,
           "agree": "peer not run (use --peer-sizes)"}
    if with_peer:
        t_peer, theirs = run_peer(summary, timeout)
        row["peer"] = PEER
        if t_peer is None:
            row["agree"] = f"peer {theirs}"
        else:
            ll_peer = pnbd.log_likelihood(theirs, *data)
            rel = float(np.max(np.abs(ours.params_.to_numpy() / theirs - 1)))
            row.update(peer_s=t_peer, ratio=t_peer / t_ours, peer_ll=ll_peer,
                       agree=f"LL ours - peer = {ours.log_likelihood_ - ll_peer:+.2e} "
                             f"(same LL function); params max rel diff {rel:.1e}")
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no results file")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-sizes", default="10000",
                        help="comma-separated sizes at which to run lifetimes too ('' for none)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds allowed to each lifetimes fit")
    args = parser.parse_args(argv)
    sizes = [2_000, 5_000] if args.quick else [10_000, 30_000, 100_000]
    peer_sizes = {2_000} if args.quick else {int(s) for s in args.peer_sizes.split(",") if s}
    repeats = 1 if args.quick else args.repeats

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; "
          f"python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
          f"pandas {info['pandas']}")
    rows = [bench(n, repeats, n in peer_sizes, args.timeout) for n in sizes]
    print(f"{'size':>8} {'unique':>7} {'ours s':>8} {'peer s':>8} {'ratio':>7}  agreement")
    for r in rows:
        peer_s = "-" if r["peer_s"] is None else f"{r['peer_s']:.2f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        print(f"{r['size']:>8} {r['unique_rows']:>7} {r['ours_s']:>8.3f} {peer_s:>8} {ratio:>7}  "
              f"{r['agree']}")
    if not args.quick:
        print(f"wrote {write_results('bench_paretonbd_fit', rows)}")


if __name__ == "__main__":
    main()
