"""Benchmark: the Spark engine in local mode on a 10M-transaction log, against the pandas path.

The Spark job (``clvmodels.spark``, ``local[2]``: the machine's 2 cores) runs in a child
process: read the Parquet log, summarise (validation pass, one shuffle by customer,
cached summary), aggregate the unique rows in the cluster and fit BG/NBD and Gamma-Gamma
on the driver, score every customer with ``mapInPandas`` (12-month CLV at 1% a month,
expected purchases, P(alive), expected spend) and write the scores as Parquet. The job
time runs from the read to the written scores; the session's start-up is reported apart.

The pandas path (``rfm_summary`` + ``BGNBD().fit`` + ``GammaGamma(drop_invalid=True).fit``
+ the computation of ``clvmodels score``) runs on the same file in another child of the
same run. Agreement: every summary column (exactly equal; monetary columns to 1e-12
relative), the fitted parameters (1e-8 relative) and every customer's four scores (1e-10
relative) are compared.

The log is the batch benchmark's (``bench_batch._make_log``: ``simulate_transactions(N /
2.76, random_state=0)``, BG/NBD + Gamma-Gamma at the CDNOW estimates, 18 months).

Driver memory
-------------
Peak memory is reported for the driver's Python process (``ru_maxrss``: it holds the
unique rows and runs the fits) and for the driver JVM (``VmHWM``: in local mode the JVM is
also the executor, so its peak includes the cached summary and the shuffles). The unique
rows are what a bigger cluster would still bring to the driver, and their number is
bounded by the calibration window, not by the customer count: with ``D`` days from the
first transaction to ``calibration_end``, ``T`` takes at most ``D + 1`` values, recency
``r`` days at most ``T + 1`` and frequency at most ``r`` (one repeat purchase per day), so
at most ``N(D) = (D + 1) + D (D + 1) (D + 2) / 6`` distinct ``(frequency, recency, T)``
rows whatever the time unit: 8.2 million for one year, 65 million for two. At 32 bytes a
row (three float64 columns and an int64 count) one year of daily histories is at most
260 MB on the driver, for a thousand customers or a billion; the fit's working copies
are a few times that. The Gamma-Gamma rows ``(frequency, monetary_value)`` are bounded
by the number of repeat customers instead (mean values are continuous); the script
prints both counts.

    python benchmarks/bench_spark.py                  # ~10M transactions
    python benchmarks/bench_spark.py --quick          # CI: ~50k transactions, writes nothing
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, print_table, write_results
from bench_batch import ROWS_PER_CUSTOMER, WEEKS_PER_MONTH, run_child, weekly_rate

SCORES = ["expected_purchases", "probability_alive", "expected_spend", "clv"]
HORIZON = 12 * WEEKS_PER_MONTH


def _settings() -> dict:
    return {"horizon": HORIZON, "discount_rate": weekly_rate(),
            "periods_per_step": WEEKS_PER_MONTH}


def _quiet_warnings():
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated")


# --------------------------------------------------------------------------- child jobs
def _spark_job(log_path: str, out_dir: str, partitions: int) -> None:
    import resource
    import warnings

    _quiet_warnings()
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("clvmodels-bench")
        .config("spark.driver.memory", "3g")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", os.path.join(out_dir, "spark-local"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    from clvmodels import spark as clvspark

    times = {"session_start": time.perf_counter() - t0}
    t_job = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = clvspark.read_transactions(spark, log_path,
                                         columns=["customer_id", "date", "amount"])
        summary = clvspark.rfm_summary(log, amount="amount", time_unit="W")
        times["read_summarize"] = time.perf_counter() - t_job
        t1 = time.perf_counter()
        bundle = clvspark.fit(summary)
        times["aggregate_fit"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        scores = clvspark.score(summary, bundle, **_settings())
        scores.write.mode("overwrite").parquet(os.path.join(out_dir, "spark_scores"))
        times["score_write"] = time.perf_counter() - t1
    times["job"] = time.perf_counter() - t_job
    python_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    jvm_peak = _jvm_peak_mb(spark)
    # outside the timed job: the summary itself, for the column-by-column check
    summary.write.mode("overwrite").parquet(os.path.join(out_dir, "spark_summary"))
    attrs = clvspark.summary_attrs(summary)
    n_purchase_rows = bundle.purchase_model.fit_info_["n_unique_rows"]
    n_spend_rows = bundle.spend_model.fit_info_["n_unique_rows"]
    window = (attrs["calibration_end"] - attrs["first_transaction"]).days
    bundle.save(os.path.join(out_dir, "spark_model.json"))
    spark.stop()
    print(json.dumps({
        "times": times, "python_peak_mb": python_peak, "jvm_peak_mb": jvm_peak,
        "n_customers": attrs["n_customers"], "n_rows": attrs["n_rows"],
        "purchase_unique_rows": n_purchase_rows, "spend_unique_rows": n_spend_rows,
        "window_days": window, "bound": clvspark.unique_row_bound(window),
        "warnings": sorted({str(w.message)[:120] for w in caught}),
    }))


def _jvm_peak_mb(spark) -> float | None:
    """Peak resident memory (VmHWM) of the driver JVM, from /proc (Linux)."""
    try:
        pid = spark.sparkContext._gateway.proc.pid
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (AttributeError, OSError, ValueError):
        return None
    return None


def _pandas_job(log_path: str, out_dir: str) -> None:
    import warnings

    import pandas as pd

    from clvmodels.data.summary import rfm_summary
    from clvmodels.models.bgnbd import BGNBD
    from clvmodels.models.clv import customer_lifetime_value
    from clvmodels.models.gamma_gamma import GammaGamma

    warnings.simplefilter("ignore")
    times = {}
    t0 = time.perf_counter()
    summary = rfm_summary(log_path, amount="amount", time_unit="W")
    times["read_summarize"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    purchase = BGNBD().fit(summary)
    spend = GammaGamma(drop_invalid=True).fit(summary)
    times["fit"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    parts = customer_lifetime_value(purchase, spend, summary, components=True, **_settings())
    scores = pd.DataFrame({
        "expected_purchases": parts["expected_purchases"].to_numpy(),
        "probability_alive": purchase.probability_alive(summary).to_numpy(dtype=float),
        "expected_spend": parts["expected_spend"].to_numpy(),
        "clv": parts["clv"].to_numpy(),
    }, index=summary.index)
    scores.to_parquet(os.path.join(out_dir, "pandas_scores.parquet"))
    times["score_write"] = time.perf_counter() - t1
    times["job"] = time.perf_counter() - t0
    summary.attrs = {}  # Timestamps in attrs are not JSON: the columns are what is compared
    summary.to_parquet(os.path.join(out_dir, "pandas_summary.parquet"))
    params = {**purchase.params_.to_dict(), **spend.params_.to_dict()}
    print(json.dumps({"times": times, "params": {k: float(v) for k, v in params.items()}}))


# --------------------------------------------------------------------------- comparison
def compare(out_dir: Path, pandas_info: dict) -> dict:
    import numpy as np
    import pandas as pd

    model = json.loads((out_dir / "spark_model.json").read_text())
    ours = {**model["purchase_model"]["params"], **model["spend_model"]["params"]}
    params_rel = max(abs(ours[k] - v) / abs(v) for k, v in pandas_info["params"].items())

    a = pd.read_parquet(out_dir / "spark_summary").set_index("customer_id").sort_index()
    b = pd.read_parquet(out_dir / "pandas_summary.parquet").sort_index()
    same_customers = bool(np.array_equal(a.index.to_numpy(), b.index.to_numpy()))
    exact = ["frequency", "recency", "T"]
    summary_exact = same_customers and all(np.array_equal(a[c].to_numpy(), b[c].to_numpy())
                                           for c in exact)
    money_rel = float(np.max(np.abs(a["monetary_value"] - b["monetary_value"])
                             / np.maximum(np.abs(b["monetary_value"]), 1e-300)))

    s = pd.read_parquet(out_dir / "spark_scores").set_index("customer_id").sort_index()
    p = pd.read_parquet(out_dir / "pandas_scores.parquet").sort_index()
    same_scored = bool(np.array_equal(s.index.to_numpy(), p.index.to_numpy()))
    score_rel = {c: float(np.max(np.abs(s[c].to_numpy() - p[c].to_numpy())
                                 / np.maximum(np.abs(p[c].to_numpy()), 1e-300)))
                 for c in SCORES} if same_scored else {}
    ok = (summary_exact and money_rel <= 1e-12 and params_rel <= 1e-8 and same_scored
          and max(score_rel.values()) <= 1e-10)
    worst = max(score_rel, key=score_rel.get) if score_rel else None
    text = (f"summary: {len(a):,} customers, frequency/recency/T "
            f"{'equal' if summary_exact else 'DIFFER'}, monetary_value max rel "
            f"{money_rel:.1e}; params max rel {params_rel:.1e} (<= 1e-8); scores of "
            f"{len(s):,} customers max rel "
            f"{'-' if worst is None else f'{score_rel[worst]:.1e} ({worst})'} (<= 1e-10)")
    return {"ok": ok, "text": text, "params_rel": params_rel, "score_rel": score_rel,
            "monetary_rel": money_rel, "summary_exact": summary_exact}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~50k transactions, write nothing")
    ap.add_argument("--no-write", action="store_true", help="do not write results JSON")
    ap.add_argument("--transactions", type=float, default=None,
                    help="size of the simulated log (default 10M; 50k with --quick)")
    ap.add_argument("--partitions", type=int, default=None,
                    help="spark.sql.shuffle.partitions (default 16; 2 with --quick)")
    ap.add_argument("--_spark-job", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_pandas-job", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._spark_job:
        return _spark_job(args._spark_job[0], args._spark_job[1], int(args._spark_job[2]))
    if args._pandas_job:
        return _pandas_job(*args._pandas_job)

    size = args.transactions or (50_000 if args.quick else 10_000_000)
    partitions = args.partitions or (2 if args.quick else 16)
    n_customers = max(1000, int(size / ROWS_PER_CUSTOMER))
    me = [sys.executable, os.path.abspath(__file__)]
    batch = [sys.executable, str(Path(__file__).resolve().parent / "bench_batch.py")]
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench_spark_") as tmp:
        d = Path(tmp)
        log = d / "log.parquet"
        made = run_child(batch + ["--_make-log", str(log), str(n_customers)])
        if made["rc"] != 0:
            sys.exit(f"simulating the log failed:\n{made['stderr']}")
        info = json.loads(made["stdout"].strip().splitlines()[-1])
        n_rows = info["rows"]
        print(f"log: {n_rows:,} transactions of {info['customers']:,} customers "
              f"({log.stat().st_size / 2**20:.0f} MB Parquet)", flush=True)

        sp = run_child(me + ["--_spark-job", str(log), str(d), str(partitions)])
        if sp["rc"] != 0:
            sys.exit(f"the Spark job failed:\n{sp['stderr'][-4000:]}")
        spark_info = json.loads(sp["stdout"].strip().splitlines()[-1])
        t = spark_info["times"]
        print(f"spark local[2]: session {t['session_start']:.1f} s; job {t['job']:.1f} s "
              f"(read+summarize {t['read_summarize']:.1f}, aggregate+fit "
              f"{t['aggregate_fit']:.1f}, score+write {t['score_write']:.1f}); driver peak: "
              f"Python {spark_info['python_peak_mb']:.0f} MB, JVM "
              f"{spark_info['jvm_peak_mb'] or float('nan'):.0f} MB", flush=True)
        print(f"unique rows on the driver: BG/NBD {spark_info['purchase_unique_rows']:,} "
              f"(bound N({spark_info['window_days']}) = {spark_info['bound']:,}), "
              f"Gamma-Gamma {spark_info['spend_unique_rows']:,}", flush=True)

        pd_run = run_child(me + ["--_pandas-job", str(log), str(d)])
        if pd_run["rc"] != 0:
            sys.exit(f"the pandas job failed:\n{pd_run['stderr'][-4000:]}")
        pandas_info = json.loads(pd_run["stdout"].strip().splitlines()[-1])
        pt = pandas_info["times"]
        print(f"pandas: job {pt['job']:.1f} s (summarize {pt['read_summarize']:.1f}, fit "
              f"{pt['fit']:.1f}, score+write {pt['score_write']:.1f}), process "
              f"{pd_run['wall_s']:.1f} s, peak {pd_run['peak_mb']:.0f} MB", flush=True)
        agreement = compare(d, pandas_info)

    load_after = load_average()
    peer = "pandas path (clvmodels, one process)"
    peak = spark_info["python_peak_mb"]
    rows = [
        {"job": "spark local[2]: read Parquet + summarize (validated, cached)", "size": n_rows,
         "ours_s": t["read_summarize"], "peer": peer, "peer_s": pt["read_summarize"]},
        {"job": "spark: aggregate unique rows + fit BG/NBD, Gamma-Gamma on the driver",
         "size": n_rows, "ours_s": t["aggregate_fit"], "peer": peer, "peer_s": pt["fit"],
         "purchase_unique_rows": spark_info["purchase_unique_rows"],
         "spend_unique_rows": spark_info["spend_unique_rows"],
         "unique_row_bound": spark_info["bound"], "window_days": spark_info["window_days"]},
        {"job": "spark: score (mapInPandas) + write Parquet", "size": n_rows,
         "ours_s": t["score_write"], "peer": peer, "peer_s": pt["score_write"]},
        {"job": "spark job end to end (session start-up excluded)", "size": n_rows,
         "ours_s": t["job"], "peak_mb": peak, "peer": peer, "peer_s": pt["job"],
         "agree": agreement["text"], "equal": agreement["ok"],
         "session_start_s": t["session_start"], "driver_python_peak_mb": peak,
         "driver_jvm_peak_mb": spark_info["jvm_peak_mb"], "peer_peak_mb": pd_run["peak_mb"],
         "n_customers": spark_info["n_customers"], "shuffle_partitions": partitions,
         "load_average_before": load_before, "load_average_after": load_after},
    ]
    for row in rows:
        row["ratio"] = row["peer_s"] / row["ours_s"] if row.get("peer_s") else None
    print()
    print_table(rows, columns=("job", "size", "ours_s", "peer_s", "ratio"))
    print(f"\nagreement: {agreement['text']}")
    print(f"load average before/after: {load_before} / {load_after} (shared machine)")
    if not agreement["ok"]:
        sys.exit("the Spark results are not equal to the pandas path's (see above)")
    if not (args.quick or args.no_write):
        print(f"wrote {write_results('bench_spark', rows)}")
    print(machine())


if __name__ == "__main__":
    main()
