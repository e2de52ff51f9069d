"""Benchmark: fitting the Gamma-Gompertz/NBD model on up to 1M simulated customers.

No Python peer exists (the model is in R's CLVTools only), so the rows give absolute times
on this machine. Data: customers drawn from the Gamma-Gompertz/NBD process (r=1, alpha=6,
b=0.08, s=1.5, beta=4; weeks), first buying in one of 52 weekly cohorts of a one-year
calibration period (T = 1..52 weeks), summarised at day granularity (recency in whole
days, as ``rfm_summary`` gives). The fit compresses the customers to their distinct
``(frequency, recency, T)`` rows (the ``unique_rows`` column), so its cost grows with
those, not with the customers.

* ours: ``GammaGompertzNBD().fit(summary)`` with default settings (3 start values), best
  of ``--repeats``; and one log-likelihood + gradient evaluation on the compressed rows
  (best of 3), the unit a fit repeats a few hundred times.

Agreement: the largest |estimate - truth| / standard error over the five parameters.

    python benchmarks/bench_ggomnbd_fit.py            # 100k and 1M customers, writes JSON
    python benchmarks/bench_ggomnbd_fit.py --sizes 20000 --eval-sizes 1000000
    python benchmarks/bench_ggomnbd_fit.py --quick    # small size for CI, writes nothing
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import Timer, machine, peak_rss_mb, write_results

from clvmodels.data._simulate_ggom import simulate_ggomnbd_summary
from clvmodels.models.ggomnbd import GammaGompertzNBD

TRUE = {"r": 1.0, "alpha": 6.0, "b": 0.08, "s": 1.5, "beta": 4.0}


def simulated(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    first_day = 7 * rng.integers(0, 52, n)  # 52 weekly cohorts
    T = (364 - first_day) / 7.0
    summary = simulate_ggomnbd_summary(n, T=T, random_state=rng, **TRUE)
    summary["recency"] = np.floor(summary["recency"] * 7.0) / 7.0  # whole days
    return summary


def bench(n: int, repeats: int) -> dict:
    summary = simulated(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ours = Timer.best(lambda: GammaGompertzNBD().fit(summary), repeats)
        model = GammaGompertzNBD().fit(summary)
    table = model.summary()
    z = np.abs((table["estimate"] - np.array(list(TRUE.values()))) / table["std_error"])
    return {"job": "ggomnbd_fit simulated", "size": n, "ours_s": t_ours, "peer": None,
            "peer_s": None, "ratio": None, "peak_mb": peak_rss_mb(),
            "unique_rows": model.fit_info_["n_unique_rows"],
            "ours_ll": model.log_likelihood_, "converged": bool(model.converged_),
            "agree": f"no peer; max |estimate - truth| / SE = {float(z.max()):.2f}"}


def bench_evaluation(n: int, repeats: int) -> dict:
    """One log-likelihood + gradient evaluation on the compressed rows (the fit's unit)."""
    from clvmodels.models import ggomnbd
    from clvmodels.models._fit import compress

    summary = simulated(n)
    packed = compress([summary[c].to_numpy(float) for c in ("frequency", "recency", "T")])
    theta = np.array(list(TRUE.values()))
    seconds = Timer.best(lambda: ggomnbd._loglik_and_gradient(theta, *packed.columns,
                                                             packed.weights), repeats)
    return {"job": "ggomnbd loglik+gradient, one evaluation", "size": n, "ours_s": seconds,
            "peer": None, "peer_s": None, "ratio": None, "peak_mb": peak_rss_mb(),
            "unique_rows": int(packed.weights.size), "agree": "no peer"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small size, no results file")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="comma-separated numbers of customers (ignored with --quick)")
    parser.add_argument("--eval-sizes", default="1000000",
                        help="sizes at which one likelihood evaluation is timed")
    args = parser.parse_args(argv)
    sizes = [5_000] if args.quick else [int(v) for v in args.sizes.split(",")]

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; "
          f"python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
          f"pandas {info['pandas']}; load {info['load_average']}")
    eval_sizes = [5_000] if args.quick else [int(v) for v in args.eval_sizes.split(",") if v]
    rows = [bench_evaluation(n, 3) for n in eval_sizes] + [bench(n, args.repeats) for n in sizes]
    print(f"{'job':<42} {'size':>9} {'unique':>7} {'ours s':>8} {'peak MB':>8}  agreement")
    for r in rows:
        print(f"{r['job']:<42} {r['size']:>9} {r['unique_rows']:>7} {r['ours_s']:>8.2f} "
              f"{r['peak_mb']:>8.0f}  {r['agree']}")
    if not args.quick:
        print(f"wrote {write_results('bench_ggomnbd_fit', rows)}")


if __name__ == "__main__":
    main()
