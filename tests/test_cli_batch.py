"""The batch job from the shell: ``clvmodels fit`` and ``clvmodels score``.

Truth: Fader, Hardie & Lee (2005)'s BG/NBD estimates on CDNOW (r = 0.243, alpha = 4.414,
a = 0.793, b = 2.426) and Fader & Hardie (2013)'s Gamma-Gamma estimates (p = 6.25,
q = 3.74, gamma = 15.44), and the Python API (the models' predictions and
``customer_lifetime_value``) evaluated at the parameters the file holds. User errors
must exit 2 with one clear message, no traceback and no output file.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import clvmodels
from clvmodels.data.summary import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.clv import customer_lifetime_value
from clvmodels.models.gamma_gamma import GammaGamma

CAL = "1997-09-30"
OUTPUTS = ["expected_purchases", "probability_alive", "expected_spend", "clv"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "clvmodels.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def assert_user_error(res, *needles, out=None):
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("clvmodels: error:"), res.stderr
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(f".{out.name}.*")), "temporary file left behind"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("batch")


@pytest.fixture(scope="module")
def cdnow_csv(workdir):
    path = workdir / "cdnow.csv"
    load_cdnow_transactions().rename(columns={"customer_id": "cust", "amount": "value"}).to_csv(
        path, index=False)
    return path


@pytest.fixture(scope="module")
def model_file(workdir, cdnow_csv):
    out = workdir / "model.json"
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--calibration-end", CAL, "--time-unit", "W", "--model", "bgnbd",
                  "--spend-model", "gamma-gamma", "--out", out)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def model_dict(model_file):
    return json.loads(model_file.read_text())


pytestmark = pytest.mark.filterwarnings(
    "ignore:.*transaction day.*after calibration_end:clvmodels.errors.ExcludedCustomersWarning")


@pytest.fixture(scope="module")
def api_scores(model_dict):
    """The Python API at the file's parameters, on the Python API's own summary."""
    summary = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end=CAL,
                          time_unit="W")
    bg = BGNBD.from_params(**model_dict["purchase_model"]["params"], time_unit="W")
    gg = GammaGamma.from_params(**model_dict["spend_model"]["params"])
    return pd.DataFrame({
        "expected_purchases": bg.expected_purchases(summary, t=52.0),
        "probability_alive": bg.probability_alive(summary),
        "expected_spend": gg.expected_spend(summary),
        "clv": customer_lifetime_value(bg, gg, summary, horizon=52, discount_rate=0.01),
    })


def read_scores(path, id_col="cust"):
    if path.suffix == ".csv":
        got = pd.read_csv(path, dtype={id_col: str}).set_index(id_col)
    else:
        got = pd.read_parquet(path)
    got.index = got.index.astype(np.int64)
    return got.sort_index()


def test_fit_reproduces_published_cdnow_estimates(model_dict):
    bg = model_dict["purchase_model"]
    assert model_dict["format"] == "clvmodels-bundle" and model_dict["format_version"] == 1
    assert bg["model_type"] == "BGNBD"
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL 2005, table 1
    assert {k: round(v, 3) for k, v in bg["params"].items()} == published
    assert bg["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    gg = model_dict["spend_model"]
    assert gg["model_type"] == "GammaGamma" and gg["n_customers"] == 946
    assert {k: round(v, 2) for k, v in gg["params"].items()} == {
        "p": 6.25, "q": 3.74, "gamma": 15.44}  # Fader & Hardie (2013)
    assert model_dict["time_unit"] == "W" == bg["time_unit"]
    assert model_dict["calibration_end"] == CAL
    assert model_dict["first_transaction"] == "1997-01-01"
    assert model_dict["data"]["customer_id"] == "cust" and model_dict["data"]["n_customers"] == 2357


def test_fit_file_matches_python_fit(model_dict):
    summary = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end=CAL)
    bg = BGNBD().fit(summary)
    for k, v in bg.params_.items():
        assert model_dict["purchase_model"]["params"][k] == pytest.approx(v, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_score_log_equals_python_api(workdir, cdnow_csv, model_file, api_scores, ext):
    out = workdir / f"scores_log.{ext}"
    res = run_cli("score", cdnow_csv, "--model", model_file, "--horizon", 52,
                  "--discount-rate", 0.01, "--as-of", CAL, "--out", out)
    assert res.returncode == 0, res.stderr
    got = read_scores(out)
    assert list(got.columns) == OUTPUTS and len(got) == 2357
    expected = api_scores.sort_index()
    np.testing.assert_array_equal(got.index, expected.index)
    for col in OUTPUTS:
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-10, atol=0, err_msg=col)
    if ext == "parquet":
        meta = json.loads(pq.read_schema(out).metadata[b"clvmodels"])
        assert meta["clvmodels_version"] == clvmodels.__version__
        assert meta["model_format_version"] == 1
        assert meta["model_package_version"] == clvmodels.__version__
        assert meta["time_unit"] == "W" and meta["as_of"].startswith(CAL)
        assert meta["horizon"] == 52 and meta["discount_rate"] == 0.01


@pytest.mark.slow
def test_score_summary_file_equals_log_scoring(workdir, cdnow_csv, model_file, api_scores):
    summary = workdir / "summary.parquet"
    res = run_cli("summarize", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--calibration-end", CAL, "--out", summary, "--quiet")
    assert res.returncode == 0, res.stderr
    out = workdir / "scores_summary.parquet"
    res = run_cli("score", summary, "--model", model_file, "--horizon", 52,
                  "--discount-rate", 0.01, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # --quiet; and no progress bar when stderr is not a terminal
    got = read_scores(out)
    for col in OUTPUTS:
        np.testing.assert_allclose(got[col], api_scores.sort_index()[col], rtol=1e-10, atol=0)
    assert json.loads(pq.read_schema(out).metadata[b"clvmodels"])["input"] == "summary"


@pytest.mark.slow
def test_fit_summary_out_then_score_summary(workdir, cdnow_csv, model_dict, api_scores):
    """The one-read batch job: fit writes the summary beside the model; scoring it gives
    the Python API's scores, and the summary equals rfm_summary's."""
    model, summary = workdir / "model_pair.json", workdir / "cal_summary.parquet"
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--calibration-end", CAL, "--out", model, "--summary-out", summary, "--quiet")
    assert res.returncode == 0, res.stderr
    assert json.loads(model.read_text())["purchase_model"]["params"] == (
        model_dict["purchase_model"]["params"])
    expected = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end=CAL)
    written = pd.read_parquet(summary)
    written.index = written.index.astype(np.int64)  # the CSV's ids are read as text
    pd.testing.assert_frame_equal(written.sort_index(), expected, check_names=False)
    out = workdir / "scores_pair.parquet"
    res = run_cli("score", summary, "--model", model, "--horizon", 52,
                  "--discount-rate", 0.01, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    got = read_scores(out)
    for col in OUTPUTS:
        np.testing.assert_allclose(got[col], api_scores.sort_index()[col], rtol=1e-10, atol=0)
    meta = json.loads(pq.read_schema(out).metadata[b"clvmodels"])
    assert meta["input"] == "summary" and meta["as_of"].startswith(CAL)


@pytest.mark.slow
def test_fit_scores_out_is_the_whole_job_in_one_run(workdir, cdnow_csv, api_scores):
    """fit --scores-out scores the calibration summary with the models it just fitted:
    the same numbers as the Python API at the file's parameters."""
    model, scores = workdir / "model_one_run.json", workdir / "scores_one_run.parquet"
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--calibration-end", CAL, "--out", model, "--scores-out", scores,
                  "--horizon", 52, "--discount-rate", 0.01, "--quiet")
    assert res.returncode == 0, res.stderr
    got = read_scores(scores)
    assert list(got.columns) == OUTPUTS and len(got) == 2357
    for col in OUTPUTS:
        np.testing.assert_allclose(got[col], api_scores.sort_index()[col], rtol=1e-10, atol=0)
    meta = json.loads(pq.read_schema(scores).metadata[b"clvmodels"])
    assert meta["model_file"] == str(model) and meta["as_of"].startswith(CAL)
    assert meta["horizon"] == 52 and meta["discount_rate"] == 0.01


def test_fit_scores_out_user_errors_leave_nothing(workdir, cdnow_csv):
    model, scores = workdir / "one_run_err.json", workdir / "one_run_err.parquet"
    for extra, needle in ((["--horizon", "-1"], "horizon"),
                          (["--discount-rate", "-0.1"], "discount-rate"),
                          (["--scores-out", workdir / "no_such_dir" / "s.parquet"],
                           "does not exist"),
                          (["--summary-out", scores], "different files")):
        res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                      "--out", model, "--scores-out", scores, *extra)
        assert_user_error(res, needle, out=model)
        assert not scores.exists()


def test_fit_summary_out_user_errors_leave_nothing(workdir, cdnow_csv):
    model = workdir / "pair_err.json"
    bad = workdir / "no_such_dir" / "summary.parquet"
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--out", model, "--summary-out", bad)
    assert_user_error(res, "does not exist", out=model)
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--out", model, "--summary-out", workdir / "summary.txt")
    assert_user_error(res, ".csv or .parquet", out=model)
    # a failure after the summary is written (no repeat customer for Gamma-Gamma is not
    # one; an unknown spend column is caught before): a missing column fails first, and
    # neither file appears
    summary = workdir / "pair_err_summary.parquet"
    res = run_cli("fit", cdnow_csv, "--customer-id", "nope", "--amount", "value",
                  "--out", model, "--summary-out", summary)
    assert_user_error(res, "nope", out=model)
    assert not summary.exists()


@pytest.mark.slow
def test_score_margin_and_no_spend_model(workdir, cdnow_csv, api_scores):
    model = workdir / "bgnbd_only.json"
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--calibration-end", CAL,
                  "--spend-model", "none", "--out", model, "--quiet")
    assert res.returncode == 0, res.stderr
    assert json.loads(model.read_text())["spend_model"] is None
    out = workdir / "purchases.csv"
    res = run_cli("score", cdnow_csv, "--model", model, "--as-of", CAL, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    got = read_scores(out)
    assert list(got.columns) == ["expected_purchases", "probability_alive"]
    np.testing.assert_allclose(got["expected_purchases"],
                               api_scores.sort_index()["expected_purchases"], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name, cls", [("paretonbd", "ParetoNBD"), ("mbgnbd", "MBGNBD")])
def test_other_purchase_models(workdir, cdnow_csv, name, cls):
    model = workdir / f"{name}.json"
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--calibration-end", CAL, "--model", name, "--out", model, "--quiet")
    assert res.returncode == 0, res.stderr
    d = json.loads(model.read_text())
    assert d["purchase_model"]["model_type"] == cls
    if name == "paretonbd":  # FHL (2005) / Fader & Hardie's note: 0.553, 10.578, 0.606, 11.669
        assert {k: round(v, 2) for k, v in d["purchase_model"]["params"].items()} == {
            "r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    out = workdir / f"{name}_scores.parquet"
    res = run_cli("score", cdnow_csv, "--model", model, "--as-of", CAL, "--horizon", 39,
                  "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    got = read_scores(out)
    summary = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end=CAL)
    model = getattr(clvmodels.models, cls).from_params(**d["purchase_model"]["params"],
                                                       time_unit="W")
    gg = GammaGamma.from_params(**d["spend_model"]["params"])
    expected = pd.DataFrame({
        "expected_purchases": model.expected_purchases(summary, t=39.0),
        "probability_alive": model.probability_alive(summary),
        "expected_spend": gg.expected_spend(summary),
        "clv": customer_lifetime_value(model, gg, summary, horizon=39, discount_rate=0.0),
    }).sort_index()
    for col in OUTPUTS:
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-10, atol=0, err_msg=col)


# ------------------------------------------------------------------ user errors
def tamper(model_dict, workdir, name, edit):
    d = json.loads(json.dumps(model_dict))
    edit(d)
    path = workdir / name
    path.write_text(json.dumps(d))
    return path


@pytest.mark.slow
def test_bad_model_files_exit_2(workdir, cdnow_csv, model_dict):
    out = workdir / "bad.parquet"
    not_json = workdir / "not_json.json"
    not_json.write_text("r = 0.243\n")
    cases = [
        (not_json, ["not valid JSON"]),
        (tamper(model_dict, workdir, "v99.json", lambda d: d.update(format_version=99)),
         ["format_version 99", "upgrade clvmodels"]),
        (tamper(model_dict, workdir, "neg.json",
                lambda d: d["purchase_model"]["params"].update(r=-0.5)),
         ["purchase_model", "parameter r must be a finite positive number", "-0.5"]),
        (tamper(model_dict, workdir, "neg_spend.json",
                lambda d: d["spend_model"]["params"].update(q=-3.0)),
         ["spend_model", "parameter q"]),
        (tamper(model_dict, workdir, "other.json", lambda d: d.update(format="something")),
         ["'clvmodels fit'"]),
        (workdir / "missing.json", ["cannot read model file"]),
    ]
    for path, needles in cases:
        res = run_cli("score", cdnow_csv, "--model", path, "--out", out)
        assert_user_error(res, str(path.name), *needles, out=out)


@pytest.mark.slow
def test_unit_mismatch_exit_2(workdir, cdnow_csv, model_file):
    out = workdir / "mismatch.parquet"
    daily = workdir / "summary_days.parquet"
    res = run_cli("summarize", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--calibration-end", CAL, "--time-unit", "D", "--out", daily, "--quiet")
    assert res.returncode == 0, res.stderr
    res = run_cli("score", daily, "--model", model_file, "--out", out)
    assert_user_error(res, "time units disagree", "'W'", "'D'", out=out)
    # a CSV summary carries no unit: the flag is checked instead
    daily_csv = workdir / "summary_days.csv"
    pd.read_parquet(daily).to_csv(daily_csv)
    res = run_cli("score", daily_csv, "--model", model_file, "--time-unit", "D", "--out", out)
    assert_user_error(res, "time units disagree", "--time-unit", out=out)
    res = run_cli("score", cdnow_csv, "--model", model_file, "--time-unit", "D", "--out", out)
    assert_user_error(res, "--time-unit D", "'W'", out=out)


@pytest.mark.slow
def test_missing_columns_exit_2(workdir, cdnow_csv, model_file):
    out = workdir / "missing_cols.csv"
    summary = rfm_summary(load_cdnow_transactions(), amount="amount", calibration_end=CAL)
    no_money = workdir / "no_money.csv"
    summary.drop(columns="monetary_value").to_csv(no_money)
    res = run_cli("score", no_money, "--model", model_file, "--time-unit", "W", "--out", out)
    assert_user_error(res, "monetary_value", out=out)
    res = run_cli("score", cdnow_csv, "--model", model_file, "--date", "when", "--out", out)
    assert_user_error(res, "when", out=out)
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--out", workdir / "m.json")
    assert_user_error(res, "--amount", out=workdir / "m.json")


@pytest.mark.slow
def test_unwritable_output_exit_2(workdir, cdnow_csv, model_file):
    nowhere = workdir / "no_such_dir" / "scores.parquet"
    res = run_cli("score", cdnow_csv, "--model", model_file, "--out", nowhere)
    assert_user_error(res, "does not exist")
    assert not nowhere.parent.exists()
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--amount", "value",
                  "--out", workdir / "no_such_dir" / "model.json")
    assert_user_error(res, "does not exist")
    res = run_cli("score", cdnow_csv, "--model", model_file, "--out", workdir)  # a directory
    assert_user_error(res, "name it .csv or .parquet")
    res = run_cli("fit", cdnow_csv, "--customer-id", "cust", "--out", workdir / "model.txt")
    assert_user_error(res, ".json")


def test_help_documents_exit_codes():
    for cmd in (["--help"], ["fit", "--help"], ["score", "--help"]):
        res = run_cli(*cmd)
        assert res.returncode == 0
        assert "0 ok, 2 user error" in " ".join(res.stdout.split()) and "1 internal" in res.stdout
