"""The Spark engine on a real standalone cluster (one master, two workers on 127.0.0.1,
started and stopped here), and what happens when a worker is lost.

Truth: the pandas path (``rfm_summary`` and ``bundle.score_frame`` on the same log with the
same bundle), which ``test_spark.py`` and the rest of the suite check against published
numbers. A worker is killed (with its executor: SIGKILL to its process group) while the
scoring job runs; Spark re-runs the lost tasks on the other worker and the scores must
equal the pandas path's (1e-12 relative: the same pure functions on the same rows; the
customers are grouped into other pandas calls than in one process, which changes nothing
but the order of a few float sums). A job whose tasks fail leaves no part file.

Loopback only, bounded in time: every wait has a deadline, and the cluster's processes are
killed by their own process groups at the end whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyspark
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import clvmodels
from clvmodels import spark as clvspark
from clvmodels.bundle import score_frame
from clvmodels.data.summary import rfm_summary
from clvmodels.datasets import load_cdnow_transactions

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

SCORES = ["expected_purchases", "probability_alive", "expected_spend", "clv"]
SETTINGS = {"horizon": 52.0, "discount_rate": 0.0023, "periods_per_step": 1.0}
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Spark master exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.5)
    raise TimeoutError(f"the Spark master did not listen on {port} in time")


class Cluster:
    """A standalone cluster of our own processes (each in its own process group)."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.port = _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.spark_class = str(Path(pyspark.__file__).parent / "bin" / "spark-class")
        repo = str(Path(clvmodels.__file__).resolve().parents[1])
        self.env = {
            **os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_MASTER_HOST": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]),
            "SPARK_LOCAL_DIRS": str(directory / "local"), "SPARK_LOG_DIR": str(directory),
            "SPARK_HOME": str(Path(pyspark.__file__).parent),
        }
        self.master = None
        self.workers: list[subprocess.Popen] = []
        self.logs: list = []

    def _start(self, name, *args):
        log = open(self.dir / f"{name}.log", "wb")
        self.logs.append(log)
        return subprocess.Popen([self.spark_class, *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start(self):
        self.master = self._start("master", "org.apache.spark.deploy.master.Master",
                                  "--host", "127.0.0.1", "--port", str(self.port),
                                  "--webui-port", str(_free_port()))
        _wait_for_port(self.port, self.master, time.monotonic() + STARTUP_SECONDS)
        for i in range(2):
            work = self.dir / f"work{i}"
            work.mkdir()
            self.workers.append(self._start(
                f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()),
                "--work-dir", str(work), self.url))
        return self

    def kill_worker(self, i: int) -> None:
        """SIGKILL a worker and the executor it launched (same process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(timeout=30)

    def stop(self):
        for proc in [*self.workers, self.master]:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.master]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
        for log in self.logs:
            log.close()


def _executors(session) -> int:
    status = session.sparkContext._jsc.sc().getExecutorMemoryStatus()
    return int(status.size()) - 1  # the driver is listed too


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    d = tmp_path_factory.mktemp("spark_cluster")
    c = Cluster(d).start()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = None
    try:
        session = (
            SparkSession.builder.master(c.url).appName("clvmodels-cluster-test")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.executor.memory", "700m").config("spark.driver.memory", "1g")
            .config("spark.cores.max", "2").config("spark.executor.cores", "1")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.task.maxFailures", "3")
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.executorEnv.PYTHONPATH", c.env["PYTHONPATH"])
            .config("spark.local.dir", str(d / "local"))
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        deadline = time.monotonic() + STARTUP_SECONDS
        while _executors(session) < 2:
            if time.monotonic() > deadline:
                logs = "\n".join((d / f).read_text(errors="replace")[-2000:]
                                 for f in ("master.log", "worker0.log", "worker1.log"))
                raise TimeoutError(f"two executors did not register in time:\n{logs}")
            time.sleep(0.5)
        yield c, session
    finally:
        if session is not None:
            session.stop()
        c.stop()


@pytest.fixture(scope="module")
def replicated_log():
    """CDNOW copied 10 times under new ids: 23,570 customers, enough for eight tasks."""
    base = load_cdnow_transactions()
    parts = []
    for k in range(10):
        part = base.copy()
        part["customer_id"] = f"r{k:02d}_" + part["customer_id"].astype(str)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _pandas_truth(log, bundle):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                              time_unit="W")
    return score_frame(bundle.purchase_model, bundle.spend_model, summary, **SETTINGS)


def test_cluster_scores_survive_a_lost_worker(cluster, replicated_log):
    c, session = cluster
    assert _executors(session) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdf = clvspark.rfm_summary(session.createDataFrame(replicated_log), amount="amount",
                                   calibration_end="1997-09-30", time_unit="W")
        bundle = clvspark.fit(sdf)
    want = _pandas_truth(replicated_log, bundle)

    scored = clvspark.score(sdf, bundle, **SETTINGS)
    result, failure = {}, {}

    def run():
        try:
            result["frame"] = scored.toArrow().to_pandas()
        except Exception as exc:  # reported below
            failure["error"] = exc

    job = threading.Thread(target=run, daemon=True)
    job.start()
    tracker = session.sparkContext.statusTracker()
    deadline = time.monotonic() + 300
    running = False
    while time.monotonic() < deadline and job.is_alive():
        stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
        if any(s is not None and s.numActiveTasks > 0 and s.numTasks >= 8 for s in stages):
            running = True
            break
        time.sleep(0.05)
    assert running, "the scoring stage never ran tasks (or finished before the kill)"
    c.kill_worker(0)
    job.join(timeout=600)
    assert not job.is_alive(), "the job did not finish after the worker was lost"
    assert not failure, failure
    assert _executors(session) == 1  # the lost executor is gone; the other did the rest

    got = result["frame"].set_index("customer_id").sort_index()
    want = want.sort_index()
    assert len(got) == len(want) == 23_570
    assert np.array_equal(got.index.to_numpy(), want.index.to_numpy())
    for column in SCORES:
        np.testing.assert_allclose(got[column].to_numpy(), want[column].to_numpy(),
                                   rtol=1e-12, atol=0, err_msg=column)


def test_a_failed_cluster_job_leaves_no_partial_output(cluster, replicated_log, tmp_path):
    """Tasks that raise (a corrupted summary row, found only on the executors) fail the job
    after Spark's retries; the output directory holds no part file."""
    c, session = cluster
    assert _executors(session) >= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdf = clvspark.rfm_summary(session.createDataFrame(replicated_log.head(10_000)),
                                   amount="amount", calibration_end="1997-09-30",
                                   time_unit="W")
        bundle = clvspark.fit(sdf)
    broken = sdf.withColumn(
        "frequency", F.when(F.col("customer_id").endswith("_1000"), F.lit(-1))
        .otherwise(F.col("frequency")))
    out = tmp_path / "scores.parquet"
    with pytest.raises(Exception, match="frequency"):
        clvspark.score(broken, bundle, **SETTINGS).write.parquet(str(out))
    parts = [p.name for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert not [p for p in parts if p.startswith("part-")], parts
    assert "_SUCCESS" not in parts
