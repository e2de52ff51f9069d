"""The command line writes the same summary as the Python API, in CSV and Parquet."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import clvmodels
from clvmodels.datasets import load_cdnow_transactions


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    log = load_cdnow_transactions()
    log.rename(columns={"customer_id": "cust", "date": "day", "amount": "value"}).to_csv(
        path, index=False)
    return path


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_summarize_matches_python(tmp_path, cdnow_csv, ext):
    out = tmp_path / f"summary.{ext}"
    res = run_cli("summarize", str(cdnow_csv), "--customer-id", "cust", "--date", "day",
                  "--amount", "value", "--calibration-end", "1997-09-30",
                  "--observation-end", "1998-06-30", "--time-unit", "W", "--out", str(out))
    assert res.returncode == 0, res.stderr
    got = pd.read_csv(out) if ext == "csv" else pd.read_parquet(out).reset_index()
    expected = clvmodels.rfm_summary(load_cdnow_transactions(), amount="amount",
                                     calibration_end="1997-09-30",
                                     observation_end="1998-06-30")
    got["cust"] = got["cust"].astype(np.int64)
    got = got.set_index("cust").sort_index()
    assert len(got) == 2357
    for col in expected.columns:
        np.testing.assert_allclose(got[col].to_numpy(), expected[col].to_numpy(), rtol=1e-12)
    if ext == "parquet":
        meta = json.loads(pq.read_schema(out).metadata[b"clvmodels"])
        assert meta["time_unit"] == "W"
        assert meta["calibration_end"].startswith("1997-09-30")


def test_version_and_help():
    res = run_cli("--version")
    assert res.returncode == 0 and clvmodels.__version__ in res.stdout
    res = run_cli("--help")
    assert res.returncode == 0 and "summarize" in res.stdout
    res = run_cli()
    assert res.returncode == 2


def test_console_script_installed():
    res = subprocess.run(["clvmodels", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and clvmodels.__version__ in res.stdout


def test_demo_prints_cdnow_figures():
    res = run_cli("demo")
    assert res.returncode == 0, res.stderr
    assert "2357" in res.stdout and "2457" in res.stdout and "1882" in res.stdout


def test_compare_writes_leaderboard_and_predictions(tmp_path, cdnow_csv):
    out, preds = tmp_path / "lb.csv", tmp_path / "preds.parquet"
    res = run_cli("compare", str(cdnow_csv), "--customer-id", "cust", "--date", "day",
                  "--amount", "value", "--calibration-end", "1997-09-30",
                  "--observation-end", "1998-06-30", "--methods", "bgnbd,zero,own_rate",
                  "--out", str(out), "--predictions", str(preds))
    assert res.returncode == 0, res.stderr
    lb = pd.read_csv(out)
    assert set(lb["method"]) == {"bgnbd", "zero", "own_rate"}
    zero_mae = lb.query("method == 'zero' and metric == 'transactions_mae'")["value"].item()
    assert zero_mae == pytest.approx(1882 / 2357)
    p = pd.read_parquet(preds)
    assert len(p) == 3 * 2357 and p.groupby("method")["actual_transactions"].sum().eq(1882).all()
    # the printed leaderboard shows display names; the --out file keeps the names
    assert "BG/NBD + Gamma-Gamma" in res.stdout and "revenue_mae" in res.stdout


def test_compare_user_errors_exit_2(tmp_path, cdnow_csv):
    base = ["compare", str(cdnow_csv), "--customer-id", "cust", "--date", "day",
            "--amount", "value"]
    res = run_cli(*base, "--out", str(tmp_path / "lb.csv"))
    assert res.returncode == 2 and "--calibration-end" in res.stderr
    res = run_cli(*base, "--calibration-end", "1997-09-30", "--observation-end", "1998-06-30",
                  "--methods", "nope", "--out", str(tmp_path / "lb.csv"))
    assert res.returncode == 2 and "unknown method" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "lb.csv").exists()
    res = run_cli("compare", str(cdnow_csv), "--list-methods")
    assert res.returncode == 0 and "bgnbd" in res.stdout.split()


def test_demo_prints_leaderboard():
    res = run_cli("demo")
    assert res.returncode == 0, res.stderr
    assert "BG/NBD" in res.stdout and "gradient_boosting" in res.stdout
    assert "Pareto/NBD" in res.stdout and "historical_arpu" in res.stdout
    rows = res.stdout.split("Holdout of", 1)[1].splitlines()
    for shown in ("BG/NBD + Gamma-Gamma", "Pareto/NBD + Gamma-Gamma", "MBG/NBD + Gamma-Gamma"):
        assert sum(r.startswith(shown + " ") for r in rows) == 1, shown
    assert not [r for r in rows if r.split(" ", 1)[0] in ("bgnbd", "paretonbd", "mbgnbd")]


@pytest.mark.slow
def test_report_command(tmp_path, cdnow_csv):
    out = tmp_path / "report.html"
    res = run_cli("report", str(cdnow_csv), "--customer-id", "cust", "--date", "day",
                  "--amount", "value", "--calibration-end", "1997-09-30",
                  "--observation-end", "1998-06-30", "--methods", "bgnbd,zero,own_rate",
                  "--n-splits", "2", "--out", str(out))
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert "Model estimates and convergence" in html and "2,357" in html and "bgnbd" in html
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # not the temp file's private mode
    res = run_cli("report", str(cdnow_csv), "--amount", "value", "--out", str(out) + ".x")
    assert res.returncode == 2 and "Traceback" not in res.stderr
