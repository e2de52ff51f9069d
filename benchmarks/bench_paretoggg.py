"""Benchmark: Pareto/GGG by MCMC on BTYDplus's groceryElog, beside BTYDplus's published run.

No Python peer exists. The reference is BTYDplus's "HowTo" vignette (section "Pareto/GGG"):
``pggg.mcmc.DrawParameters(cbs)`` with its defaults (2 chains of 500 burn-in + 2,500
sweeps, every 50th kept) "~2mins on 2015 MacBook Pro", median population estimates
``t=1.671, gamma=0.368, r=0.942, alpha=5.150, s=0.435, beta=4.610``, the mean over
customers of the individual posterior medians ``k=3.889, lambda=0.159, mu=0.064,
tau=69.440, z=0.314``, holdout (52 weeks of 2007) MAE 1.389548 (Pareto/NBD 1.513515), and
the first six customers' conditional expectations (0.08, 0.96, 15.45, 0.11, 2.21, 4.57) and
P(alive) (0.10, 0.97, 0.87, 0.10, 0.93, 0.98).

Ours: ``ParetoGGG(n_chains=2, n_draws=..., n_burnin=..., random_state=1).fit(summary)``,
timed once, wall clock and CPU time of the process (the machine is shared: the CPU time
is the figure to compare; an MCMC run is long, its time per sweep is the unit), then the
holdout simulation and P(alive). Also the time per sweep on simulated customers at larger
sizes (the sweep is vectorised across customers, so it grows linearly).

    python benchmarks/bench_paretoggg.py                # grocery, 2 x (500 + 1000), JSON
    python benchmarks/bench_paretoggg.py --quick        # small run for CI, writes nothing
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine, peak_rss_mb, print_table, write_results

from clvmodels.models.paretoggg import ParetoGGG, pggg_summary, simulate_paretoggg

BTYDPLUS = {"t": 1.671, "gamma": 0.368, "r": 0.942, "alpha": 5.150, "s": 0.435, "beta": 4.610}
BTYDPLUS_LATENT = {"k": 3.889, "lambda": 0.159, "mu": 0.064, "tau": 69.440, "z": 0.314}
BTYDPLUS_MAE = 1.389548
BTYDPLUS_HEAD = {"x_star": [0.08, 0.96, 15.45, 0.11, 2.21, 4.57],
                 "palive": [0.10, 0.97, 0.87, 0.10, 0.93, 0.98]}
_ROOT = Path(__file__).resolve().parents[1]
GROCERY = next((p for p in (_ROOT.parent / "shared" / "data" / "grocery_elog.csv",
                            _ROOT.parent.parent / "shared" / "data" / "grocery_elog.csv")
                if p.exists()), None)


def grocery_summary() -> pd.DataFrame:
    log = pd.read_csv(GROCERY)
    return pggg_summary(log, customer_id="cust", date="date", calibration_end="2006-12-31",
                        observation_end="2007-12-30", time_unit="W")


def run_grocery(n_draws: int, n_burnin: int, thin: int) -> tuple[dict, ParetoGGG]:
    summary = grocery_summary()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0, c0 = time.perf_counter(), time.process_time()
        model = ParetoGGG(n_chains=2, n_draws=n_draws, n_burnin=n_burnin, thin=thin,
                          random_state=1).fit(summary)
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    x_star = model.expected_purchases(summary, t=52.0)
    palive = model.probability_alive(summary)
    predict_s = time.perf_counter() - t0
    table = model.summary()
    T = summary["T"].to_numpy()
    latent = {name: float(np.mean(np.median(model.latent_[name], axis=0)))
              for name in ("k", "lambda", "mu", "tau")}
    latent["z"] = float(np.mean(np.median(model.latent_["tau"] > T[None, :], axis=0)))
    mae = float(np.mean(np.abs(summary["frequency_holdout"] - x_star)))
    sweeps = 2 * (n_burnin + n_draws * thin)
    row = {
        "job": f"Pareto/GGG MCMC, 2 chains x ({n_burnin} + {n_draws * thin}) sweeps",
        "size": f"groceryElog, {len(summary)} customers",
        "ours_s": round(fit_s, 2),
        "ours_cpu_s": round(fit_cpu, 2),
        "ours_ms_per_sweep": round(1e3 * fit_s / sweeps, 1),
        "ours_cpu_ms_per_sweep": round(1e3 * fit_cpu / sweeps, 1),
        "predict_s": round(predict_s, 2),
        "peer": "BTYDplus pggg.mcmc.DrawParameters, 2 x (500 + 2500) sweeps, 2015 MacBook Pro",
        "peer_s": 120.0,
        "peer_ms_per_sweep": round(1e3 * 120.0 / 6000, 1),
        "ratio": None,
        "peak_mb": round(peak_rss_mb(), 0),
        "estimates": {p: {"ours_median": round(float(table.loc[p, "median"]), 3),
                          "ours_q5": round(float(table.loc[p, "q5"]), 3),
                          "ours_q95": round(float(table.loc[p, "q95"]), 3),
                          "btydplus_median": BTYDPLUS[p],
                          "r_hat": round(float(table.loc[p, "r_hat"]), 3),
                          "ess_bulk": round(float(table.loc[p, "ess_bulk"]), 0)}
                      for p in BTYDPLUS},
        "latent_mean_of_medians": {p: {"ours": round(latent[p], 3),
                                       "btydplus": BTYDPLUS_LATENT[p]} for p in latent},
        "holdout": {"actual_total": float(summary["frequency_holdout"].sum()),
                    "predicted_total": round(float(x_star.sum()), 1),
                    "mae": round(mae, 4), "btydplus_mae": BTYDPLUS_MAE},
        "first_six": {"x_star": [round(float(v), 2) for v in x_star.iloc[:6]],
                      "btydplus_x_star": BTYDPLUS_HEAD["x_star"],
                      "palive": [round(float(v), 2) for v in palive.iloc[:6]],
                      "btydplus_palive": BTYDPLUS_HEAD["palive"]},
        "warnings": [str(w.message) for w in caught],
    }
    row["agree"] = (
        "posterior medians vs BTYDplus's: largest difference "
        + f"{max(abs(row['estimates'][p]['ours_median'] / BTYDPLUS[p] - 1) for p in BTYDPLUS):.1%}"
        + f"; MAE {mae:.3f} vs {BTYDPLUS_MAE:.3f}")
    return row, model


def sweep_time(n: int, sweeps: int = 20) -> dict:
    T = np.random.default_rng(0).uniform(10.0, 52.0, n)
    data = simulate_paretoggg(n, t=1.7, gamma=0.37, r=0.94, alpha=5.15, s=0.44, beta=4.6,
                              T=T, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        ParetoGGG(n_chains=1, n_draws=sweeps // 2, n_burnin=sweeps // 2, random_state=0).fit(data)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"job": f"Pareto/GGG, {sweeps} sweeps (1 chain)", "size": f"{n:,} simulated",
            "ours_s": round(secs, 2), "ours_cpu_s": round(cpu, 2),
            "ours_ms_per_sweep": round(1e3 * secs / sweeps, 1),
            "ours_cpu_ms_per_sweep": round(1e3 * cpu / sweeps, 1),
            "peer": None, "peer_s": None, "ratio": None, "peak_mb": round(peak_rss_mb(), 0),
            "agree": "timing only"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; writes nothing")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--burnin", type=int, default=500)
    parser.add_argument("--thin", type=int, default=1)
    args = parser.parse_args()
    print("machine:", machine())
    rows = []
    if args.quick:
        rows.append(sweep_time(300, sweeps=10))
        print_table(rows, ("job", "size", "ours_s", "ours_cpu_s", "ours_cpu_ms_per_sweep"))
        return
    if GROCERY is not None:
        row, _ = run_grocery(args.draws, args.burnin, args.thin)
        rows.append(row)
        for key in ("estimates", "latent_mean_of_medians", "holdout", "first_six", "warnings"):
            print(key, row[key])
    rows.append(sweep_time(10_000, sweeps=20))
    rows.append(sweep_time(100_000, sweeps=8))
    print_table(rows, ("job", "size", "ours_s", "ours_cpu_s", "ours_cpu_ms_per_sweep", "peer_s",
                       "agree"))
    print("written", write_results("bench_paretoggg", rows))


if __name__ == "__main__":
    main()
