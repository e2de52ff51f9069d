"""Benchmark: the weekly batch job end to end, from a Parquet transaction log to scores.

Ours is the command line, run in child processes exactly as a scheduler would. The job
(summarise in weeks up to the last date, fit BG/NBD and Gamma-Gamma, write the model, and
score expected purchases, P(alive), expected spend and 12-month CLV at 1% a month) is timed
two ways on the same log:

one run (the headline figure; one process reads the log once, as lifetimes' job does)::

    clvmodels fit LOG.parquet --amount amount --model bgnbd --spend-model gamma-gamma \\
        --out model.json --scores-out scores.parquet --horizon 52.14 \\
        --periods-per-step 4.345 --discount-rate <1%/month per week>

two runs (fit now, score later from the summary the fit wrote)::

    clvmodels fit LOG.parquet ... --out model.json --summary-out summary.parquet
    clvmodels score summary.parquet --model model.json --horizon 52.14 ... --out scores.parquet

``--rescore-log`` also times ``clvmodels score LOG.parquet`` (which summarises the log
again) as an extra row.

The peer, lifetimes 0.11.3, does the same job in a child process of the same run:
``summary_data_from_transaction_data(freq="D", freq_multiplier=7)`` (day granularity,
times in weeks, as ours), ``BetaGeoFitter``, ``GammaGammaFitter`` on the repeat customers,
``conditional_expected_number_of_purchases_up_to_time``, ``conditional_probability_alive``
and ``GammaGammaFitter.customer_lifetime_value(time=12, discount_rate=0.01, freq="W")``;
it is killed after ``--peer-timeout`` seconds and reported as not finished.

Wall times include process start, imports and reading the Parquet file. Peak memory is
each child's own maximum resident set (``os.wait4``); the parent never loads the log, so
it does not inflate the children's figures. The log is simulated once
(``simulate_transactions(n_customers = N / 2.76, random_state=0)``, BG/NBD + Gamma-Gamma
at the CDNOW estimates) into a temporary Parquet file, in a child process too.

    python benchmarks/bench_batch.py                  # ~10M transactions
    python benchmarks/bench_batch.py --quick --no-write   # CI: ~50k transactions
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, print_table, write_results

PEER = "lifetimes 0.11.3"
WEEKS_PER_MONTH = 4.345  # lifetimes' monthly step on a weekly clock
MONTHLY_RATE = 0.01
ROWS_PER_CUSTOMER = 2.76  # simulate_transactions at the CDNOW parameters


def weekly_rate() -> float:
    return (1.0 + MONTHLY_RATE) ** (1.0 / WEEKS_PER_MONTH) - 1.0


# --------------------------------------------------------------------------- child jobs
def _make_log(path: str, n_customers: int) -> None:
    from clvmodels.data.simulate import simulate_transactions

    log = simulate_transactions(n_customers, random_state=0)
    log.to_parquet(path, index=False)
    print(json.dumps({"rows": len(log), "customers": int(log["customer_id"].nunique())}))


def _peer_job(log_path: str, out_dir: str) -> None:
    import warnings

    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    warnings.simplefilter("ignore")
    times = {}
    t0 = time.perf_counter()
    log = pd.read_parquet(log_path)
    end = log["date"].max()
    s = summary_data_from_transaction_data(
        log, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=end, freq="D", freq_multiplier=7)
    del log
    times["summary"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    bgf = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    times["fit_bgnbd"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    ggf = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    times["fit_gg"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    horizon = 12 * WEEKS_PER_MONTH
    out = pd.DataFrame({
        "expected_purchases": bgf.conditional_expected_number_of_purchases_up_to_time(
            horizon, s["frequency"], s["recency"], s["T"]),
        "probability_alive": bgf.conditional_probability_alive(
            s["frequency"], s["recency"], s["T"]),
        "expected_spend": ggf.conditional_expected_average_profit(
            s["frequency"], s["monetary_value"]),
        "clv": ggf.customer_lifetime_value(
            bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"], time=12,
            discount_rate=MONTHLY_RATE, freq="W"),
    }, index=s.index)
    times["score"] = time.perf_counter() - t1
    times["total_in_process"] = time.perf_counter() - t0
    out.index.name = "customer_id"
    out.astype(float).to_parquet(os.path.join(out_dir, "peer_scores.parquet"))
    params = {**{k: float(v) for k, v in bgf.params_.items()},
              **{{"v": "gamma"}.get(k, k): float(v) for k, v in ggf.params_.items()}}
    print(json.dumps({"times": times, "params": params, "n_customers": int(len(s))}))


# --------------------------------------------------------------------------- parent
def run_child(cmd: list[str], timeout: float | None = None) -> dict:
    """Run ``cmd``; wall time, the child's own peak RSS, stdout, return code or timeout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = None if timeout is None else t0 + timeout
    # drain the pipes in threads so a chatty child never blocks
    import threading

    chunks = {"out": [], "err": []}
    readers = [threading.Thread(target=lambda f=f, k=k: chunks[k].append(f.read()), daemon=True)
               for f, k in ((proc.stdout, "out"), (proc.stderr, "err"))]
    for t in readers:
        t.start()
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            proc.kill()  # the child this function started, by its pid
            pid, status, usage = os.wait4(proc.pid, 0)
            timed_out = True
            break
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join(5)
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024.0, "rc": proc.returncode,
            "timed_out": timed_out, "stdout": "".join(chunks["out"]),
            "stderr": "".join(chunks["err"])}


def compare_outputs(ours_dir: Path, peer_info: dict) -> str:
    import numpy as np
    import pandas as pd

    model = json.loads((ours_dir / "model.json").read_text())
    ours_params = {**model["purchase_model"]["params"], **model["spend_model"]["params"]}
    rel = max(abs(ours_params[k] - v) / abs(v) for k, v in peer_info["params"].items())
    a = pd.read_parquet(ours_dir / "scores.parquet")
    b = pd.read_parquet(ours_dir / "peer_scores.parquet")
    a.index = a.index.astype(np.int64)
    b = b.reindex(a.index)
    diffs = {c: float(np.max(np.abs(a[c] - b[c]) / np.maximum(np.abs(b[c]), 1e-12)))
             for c in a.columns}
    worst = max(diffs, key=diffs.get)
    return (f"params max rel diff {rel:.1e}; scores of {len(a):,} customers max rel diff "
            f"{diffs[worst]:.1e} ({worst})")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~50k transactions, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--transactions", type=float, default=None,
                    help="size of the simulated log (default 10M; 50k with --quick)")
    ap.add_argument("--peer-timeout", type=float, default=1500.0,
                    help="seconds after which lifetimes is stopped (default 1500)")
    ap.add_argument("--no-peer", action="store_true", help="run ours only")
    ap.add_argument("--rescore-log", action="store_true",
                    help="also time 'clvmodels score LOG' (summarising the log again)")
    ap.add_argument("--_make-log", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_peer-job", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._make_log:
        return _make_log(args._make_log[0], int(args._make_log[1]))
    if args._peer_job:
        return _peer_job(*args._peer_job)

    size = args.transactions or (50_000 if args.quick else 10_000_000)
    n_customers = max(1000, int(size / ROWS_PER_CUSTOMER))
    me = [sys.executable, os.path.abspath(__file__)]
    cli = [sys.executable, "-m", "clvmodels.cli"]
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        d = Path(tmp)
        log = d / "log.parquet"
        made = run_child(me + ["--_make-log", str(log), str(n_customers)])
        if made["rc"] != 0:
            sys.exit(f"simulating the log failed:\n{made['stderr']}")
        info = json.loads(made["stdout"].strip().splitlines()[-1])
        n_rows = info["rows"]
        print(f"log: {n_rows:,} transactions of {info['customers']:,} customers "
              f"({log.stat().st_size / 2**20:.0f} MB Parquet, simulated in "
              f"{made['wall_s']:.1f} s)", flush=True)

        scoring = ["--horizon", str(12 * WEEKS_PER_MONTH),
                   "--periods-per-step", str(WEEKS_PER_MONTH),
                   "--discount-rate", repr(weekly_rate())]
        one = run_child(cli + ["fit", str(log), "--amount", "amount", "--model", "bgnbd",
                               "--spend-model", "gamma-gamma", "--out", str(d / "model.json"),
                               "--scores-out", str(d / "scores.parquet"), *scoring, "--quiet"])
        if one["rc"] != 0:
            sys.exit(f"clvmodels fit --scores-out failed:\n{one['stderr']}")
        print(f"ours, one run: {one['wall_s']:.1f} s ({one['peak_mb']:.0f} MB)", flush=True)
        fit = run_child(cli + ["fit", str(log), "--amount", "amount", "--model", "bgnbd",
                               "--spend-model", "gamma-gamma", "--out", str(d / "model2.json"),
                               "--summary-out", str(d / "summary.parquet"), "--quiet"])
        if fit["rc"] != 0:
            sys.exit(f"clvmodels fit failed:\n{fit['stderr']}")
        score_args = ["--model", str(d / "model2.json"),
                      "--horizon", str(12 * WEEKS_PER_MONTH),
                      "--periods-per-step", str(WEEKS_PER_MONTH),
                      "--discount-rate", repr(weekly_rate()), "--quiet"]
        score = run_child(cli + ["score", str(d / "summary.parquet"), *score_args,
                                 "--out", str(d / "scores2.parquet")])
        if score["rc"] != 0:
            sys.exit(f"clvmodels score failed:\n{score['stderr']}")
        rescore = None
        if args.rescore_log:
            rescore = run_child(cli + ["score", str(log), *score_args,
                                       "--out", str(d / "scores_from_log.parquet")])
            if rescore["rc"] != 0:
                sys.exit(f"clvmodels score LOG failed:\n{rescore['stderr']}")
        ours_s, ours_mb = one["wall_s"], one["peak_mb"]
        two_s = fit["wall_s"] + score["wall_s"]
        print(f"ours, two runs: fit {fit['wall_s']:.1f} s ({fit['peak_mb']:.0f} MB), score "
              f"{score['wall_s']:.1f} s ({score['peak_mb']:.0f} MB)", flush=True)

        peer, peer_info, agree = None, None, "peer not run"
        if not args.no_peer:
            peer = run_child(me + ["--_peer-job", str(log), str(d)], timeout=args.peer_timeout)
            if peer["timed_out"]:
                agree = f"peer did not finish within {args.peer_timeout:.0f} s"
            elif peer["rc"] != 0:
                agree = f"peer failed: {peer['stderr'].strip().splitlines()[-1:]}"
            else:
                peer_info = json.loads(peer["stdout"].strip().splitlines()[-1])
                agree = compare_outputs(d, peer_info)
            print(f"peer: {peer['wall_s']:.1f} s ({peer['peak_mb']:.0f} MB) "
                  f"{'' if peer_info is None else peer_info['times']}", flush=True)

    load_after = load_average()
    finished = peer is not None and peer_info is not None
    peer_s = peer["wall_s"] if finished else None
    ratio = peer_s / ours_s if finished else None
    if peer is not None and peer["timed_out"]:
        ratio_note = f"> {peer['wall_s'] / ours_s:.1f} (peer stopped at the timeout)"
    else:
        ratio_note = None
    rows = [
        {"job": "fit: summarize + BG/NBD + Gamma-Gamma + write summary (CLI)", "size": n_rows,
         "ours_s": fit["wall_s"], "peak_mb": fit["peak_mb"], "peer": PEER,
         "peer_s": None if not finished else (peer_info["times"]["summary"]
                                              + peer_info["times"]["fit_bgnbd"]
                                              + peer_info["times"]["fit_gg"]),
         "agree": "peer_s: lifetimes' in-process stage times (no start-up, no file read)"},
        {"job": "score: read summary + purchases, P(alive), spend, CLV (CLI)", "size": n_rows,
         "ours_s": score["wall_s"], "peak_mb": score["peak_mb"], "peer": PEER,
         "peer_s": None if not finished else peer_info["times"]["score"],
         "agree": "peer_s: lifetimes' in-process scoring time (summary already in memory)"},
        {"job": "two runs: fit --summary-out, then score the summary", "size": n_rows,
         "ours_s": two_s, "peak_mb": max(fit["peak_mb"], score["peak_mb"]), "peer": PEER,
         "peer_s": peer_s, "ratio": None if not finished else peer_s / two_s,
         "agree": "the same job as the row below, split over two processes"},
        {"job": "end-to-end batch job (one run: fit --scores-out)", "size": n_rows,
         "ours_s": ours_s, "peak_mb": ours_mb,
         "peer": PEER, "peer_s": peer_s, "ratio": ratio, "agree": agree,
         "peer_peak_mb": None if peer is None else peer["peak_mb"],
         "peer_timed_out": None if peer is None else peer["timed_out"],
         "ratio_note": ratio_note, "n_customers": info["customers"],
         "load_average_before": load_before, "load_average_after": load_after},
    ]
    if rescore is not None:
        rows.append({"job": "score LOG: summarize again + score (CLI)", "size": n_rows,
                     "ours_s": rescore["wall_s"], "peak_mb": rescore["peak_mb"],
                     "peer": PEER, "peer_s": None, "agree": "not part of the job's total"})
    for row in rows[:2]:
        if row["peer_s"]:
            row["ratio"] = row["peer_s"] / row["ours_s"]
    print()
    print_table(rows, columns=("job", "size", "ours_s", "peak_mb", "peer_s", "ratio"))
    print(f"\nagreement: {agree}")
    if ratio_note:
        print(f"ratio: {ratio_note}")
    print(f"targets: whole job {ours_s:.1f} s (< 60 s), peak {ours_mb:.0f} MB (< 4096 MB), "
          f"ratio {'-' if ratio is None else f'{ratio:.1f}'} (>= 10)")
    print(f"load average before/after: {load_before} / {load_after} (shared machine: other "
          "processes make timings noisy)")
    if not (args.quick or args.no_write):
        print(f"wrote {write_results('bench_batch', rows)}")
    print(machine())


if __name__ == "__main__":
    main()
