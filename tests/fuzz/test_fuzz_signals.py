"""Interrupted runs: SIGTERM or SIGINT at spread-out moments of a real ``fit`` that writes a
model, a summary and scores. Whatever the moment, the three outputs are the old three or
a new, consistent three (the scores are the model's scores of the summary), and no
temporary file is left (SIGKILL aside, which no program can handle)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from _corpus import OUTCOMES, snapshot, temporaries

from clvmodels.bundle import load_bundle, score_frame
from clvmodels.datasets import load_cdnow_transactions

OLD = {"model.json": b"old model\n", "summary.parquet": b"old summary\n",
       "scores.csv": b"old scores\n"}


@pytest.fixture(scope="module")
def log_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("signals") / "log.csv"
    load_cdnow_transactions().to_csv(path, index=False)
    return path.read_bytes()


@pytest.mark.parametrize("delay, signum", [
    (0.2, signal.SIGTERM), (1.5, signal.SIGINT), (3.0, signal.SIGTERM),
    (4.5, signal.SIGTERM), (6.0, signal.SIGINT), (9.0, signal.SIGTERM),
])
def test_a_signal_at_any_moment_leaves_old_or_new_set(tmp_path, log_bytes, delay, signum):
    d = tmp_path
    (d / "log.csv").write_bytes(log_bytes)
    for name, content in OLD.items():
        (d / name).write_bytes(content)
    before = snapshot(d)
    proc = subprocess.Popen(
        [sys.executable, "-m", "clvmodels.cli", "fit", "log.csv", "--amount", "amount",
         "--calibration-end", "1997-09-30", "--out", "model.json", "--summary-out",
         "summary.parquet", "--scores-out", "scores.csv", "--quiet"],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    code = proc.returncode
    after = snapshot(d)
    assert temporaries(d) == [], temporaries(d)
    assert after["log.csv"] == before["log.csv"]
    assert "Traceback" not in err, err
    outputs = {n: after[n] for n in OLD}
    if outputs == OLD:
        assert code in (130, 143, -signum), (code, err)
        outcome = "interrupted: the old three outputs intact"
    else:
        # finished, or the signal came after the commit (while exiting: killed by it)
        assert code in (0, 130, 143, -signum), (code, err)
        assert all(after[n] != OLD[n] for n in OLD), "a mixed set of old and new outputs"
        bundle = load_bundle(d / "model.json")
        summary = pd.read_parquet(d / "summary.parquet")
        summary.attrs = {"time_unit": bundle.time_unit}
        expected = score_frame(bundle.purchase_model, bundle.spend_model, summary,
                               horizon=52.0)
        got = pd.read_csv(d / "scores.csv", index_col=0)
        pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                      expected.reset_index(drop=True), rtol=1e-12)
        outcome = "finished: a new consistent set of three outputs"
    OUTCOMES[f"signals x fit: {outcome}"] += 1
