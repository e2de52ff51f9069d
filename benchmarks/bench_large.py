"""Benchmark: the batch job on one machine at 100M transactions (run by hand).

The same two commands as ``bench_batch.py``, on a log ten times larger::

    clvmodels fit LOG.parquet --amount amount --model bgnbd --spend-model gamma-gamma \\
        --out model.json --summary-out summary.parquet
    clvmodels score summary.parquet --model model.json --horizon 52.14 \\
        --periods-per-step 4.345 --discount-rate <1%/month per week> --out scores.parquet

The log is simulated chunk by chunk (``simulate_transactions`` at the CDNOW estimates,
2M customers per chunk, seeds spawned from one ``SeedSequence(0)``, customer ids offset so
they never repeat) and written as one Parquet file, row group by row group, so that making
it never holds more than a chunk in memory. Each command runs in a child process; its wall
time and its own peak resident memory (``os.wait4``) are reported. There is no peer run
at this size (lifetimes takes about two minutes at 10M transactions; ``bench_batch.py``
measures the ratio there).

    python benchmarks/bench_large.py                       # 100M transactions (by hand)
    python benchmarks/bench_large.py --transactions 2e7    # any other size
    python benchmarks/bench_large.py --quick               # CI: 200k, writes nothing

``--keep DIR`` keeps the log in DIR and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _common import load_average, machine, print_table, write_results
from bench_batch import ROWS_PER_CUSTOMER, WEEKS_PER_MONTH, run_child, weekly_rate

CHUNK_CUSTOMERS = 2_000_000


def _make_log(path: str, n_customers: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clvmodels.data.simulate import simulate_transactions

    n_chunks = max(1, -(-n_customers // CHUNK_CUSTOMERS))
    seeds = np.random.SeedSequence(0).spawn(n_chunks)
    rows, writer, done = 0, None, 0
    tmp = path + ".partial"
    try:
        for k, seed in enumerate(seeds):
            n = min(CHUNK_CUSTOMERS, n_customers - done)
            log = simulate_transactions(n, random_state=np.random.default_rng(seed))
            log["customer_id"] += done  # ids 1..n in every chunk: offset them
            done += n
            table = pa.Table.from_pandas(log, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=1 << 20)
            rows += len(log)
            print(f"chunk {k + 1}/{n_chunks}: {rows:,} rows", file=sys.stderr, flush=True)
        writer.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(json.dumps({"rows": rows, "customers": done}))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200k transactions, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--transactions", type=float, default=None,
                    help="size of the simulated log (default 100M; 200k with --quick)")
    ap.add_argument("--keep", default=None, help="directory for the log, reused if present")
    ap.add_argument("--_make-log", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._make_log:
        return _make_log(args._make_log[0], int(args._make_log[1]))

    size = args.transactions or (200_000 if args.quick else 100_000_000)
    n_customers = max(1000, int(size / ROWS_PER_CUSTOMER))
    me = [sys.executable, os.path.abspath(__file__)]
    cli = [sys.executable, "-m", "clvmodels.cli"]
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench_large_") as tmp:
        d = Path(tmp)
        log_dir = Path(args.keep) if args.keep else d
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"log_{n_customers}.parquet"
        if not log.exists():
            made = run_child(me + ["--_make-log", str(log), str(n_customers)])
            if made["rc"] != 0:
                sys.exit(f"simulating the log failed:\n{made['stderr']}")
            print(f"simulated in {made['wall_s']:.0f} s (peak {made['peak_mb']:.0f} MB)",
                  flush=True)
        import pyarrow.parquet as pq

        n_rows = pq.read_metadata(log).num_rows
        print(f"log: {n_rows:,} transactions of {n_customers:,} customers "
              f"({log.stat().st_size / 2**20:.0f} MB Parquet)", flush=True)

        fit = run_child(cli + ["fit", str(log), "--amount", "amount", "--model", "bgnbd",
                               "--spend-model", "gamma-gamma", "--out", str(d / "model.json"),
                               "--summary-out", str(d / "summary.parquet"), "--quiet"])
        if fit["rc"] != 0:
            sys.exit(f"clvmodels fit failed:\n{fit['stderr']}")
        print(f"fit: {fit['wall_s']:.1f} s, peak {fit['peak_mb']:.0f} MB", flush=True)
        score = run_child(cli + ["score", str(d / "summary.parquet"), "--model",
                                 str(d / "model.json"),
                                 "--horizon", str(12 * WEEKS_PER_MONTH),
                                 "--periods-per-step", str(WEEKS_PER_MONTH),
                                 "--discount-rate", repr(weekly_rate()),
                                 "--out", str(d / "scores.parquet"), "--quiet"])
        if score["rc"] != 0:
            sys.exit(f"clvmodels score failed:\n{score['stderr']}")
        print(f"score: {score['wall_s']:.1f} s, peak {score['peak_mb']:.0f} MB", flush=True)
        model = json.loads((d / "model.json").read_text())
        n_scored = pq.read_metadata(d / "scores.parquet").num_rows

    params = {**model["purchase_model"]["params"], **model["spend_model"]["params"]}
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426,
             "p": 6.25, "q": 3.74, "gamma": 15.44}
    worst = max(abs(params[k] / v - 1) for k, v in truth.items())
    agree = (f"{n_scored:,} customers scored; fitted parameters within {worst:.1%} of the "
             "simulation's true values")
    rows = [
        {"job": "fit: summarize + BG/NBD + Gamma-Gamma (CLI)", "size": n_rows,
         "ours_s": fit["wall_s"], "peak_mb": fit["peak_mb"], "peer": None, "peer_s": None,
         "agree": agree},
        {"job": "score: summary -> purchases, P(alive), spend, CLV (CLI)", "size": n_rows,
         "ours_s": score["wall_s"], "peak_mb": score["peak_mb"], "peer": None, "peer_s": None,
         "agree": agree},
        {"job": "end-to-end batch job", "size": n_rows,
         "ours_s": fit["wall_s"] + score["wall_s"],
         "peak_mb": max(fit["peak_mb"], score["peak_mb"]), "peer": None, "peer_s": None,
         "agree": agree, "params": params, "n_customers": n_customers,
         "load_average_before": load_before, "load_average_after": load_average()},
    ]
    print()
    print_table(rows, columns=("job", "size", "ours_s", "peak_mb"))
    print(f"\n{agree}")
    if not (args.quick or args.no_write):
        print(f"wrote {write_results('bench_large', rows)}")
    print(machine())


if __name__ == "__main__":
    main()
