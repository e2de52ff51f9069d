"""Regression tests of issue 21's argument, numeric and one-customer examples.

Truth: mpmath's explicit sums for BG/BB (Fader, Hardie & Shang 2010, eq. 13 with the
likelihood's sum written out), Gamma-Gamma's eq. (5) by hand, the exact (step by step)
CLV route for the factorised one, and exit codes/messages for refused arguments.
"""

from __future__ import annotations

import json
import time
import warnings

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from clvmodels.cli import main
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import InvalidParameterError, ModelFileError, StatisticalWarning
from clvmodels.models import BGBB, BGNBD, GammaGamma
from clvmodels.models.clv import MAX_STEPS, customer_lifetime_value, step_times


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    d = tmp_path_factory.mktemp("fitted")
    log = d / "log.csv"
    load_cdnow_transactions().head(2000).to_csv(log, index=False)
    model, summary = d / "m.json", d / "s.parquet"
    assert main(["fit", str(log), "--amount", "amount", "--out", str(model),
                 "--summary-out", str(summary), "--quiet"]) == 0
    return d, log, model, summary


@pytest.mark.parametrize("flags, needle", [
    (["--horizon", "1e12"], "10,000"),
    (["--periods-per-step", "1e-9"], "10,000"),
    (["--horizon", "3e6"], "--periods-per-step"),
    (["--horizon", "nan"], "--horizon"),
    (["--horizon", "inf"], "--horizon"),
    (["--horizon", "-1"], "--horizon"),
    (["--periods-per-step", "0"], "--periods-per-step"),
    (["--discount-rate", "5"], "0.05 for 5%"),
    (["--discount-rate", "-0.1"], "--discount-rate"),
    (["--discount-rate", "nan"], "--discount-rate"),
    (["--margin", "1e308"], "fraction of revenue"),
    (["--margin", "-1"], "--margin"),
])
def test_scoring_arguments_are_refused_fast(fitted, capsys, flags, needle):
    d, _, model, summary = fitted
    out = d / "scores.csv"
    start = time.perf_counter()
    code, err = cli(capsys, "score", summary, "--model", model, *flags, "--out", out)
    assert code == 2 and needle in err, err
    assert err.count("clvmodels: error:") == 1
    assert time.perf_counter() - start < 30  # refused before any work (was minutes / OOM)
    assert not out.exists()


def test_the_step_limit_is_the_documented_one():
    assert len(step_times(MAX_STEPS)) == MAX_STEPS
    assert len(step_times(52 * 100, periods_per_step=0.52)) == MAX_STEPS
    with pytest.raises(InvalidParameterError, match="periods_per_step >= 1.0001"):
        step_times(MAX_STEPS + 1)


def test_step_days_zero_is_refused_without_output(fitted, capsys):
    d, log, _, _ = fitted
    out = d / "board.csv"
    code, err = cli(capsys, "compare", log, "--amount", "amount", "--calibration-end",
                    "1997-09-30", "--observation-end", "1998-06-30", "--n-splits", "2",
                    "--step-days", "0", "--out", out)
    assert code == 2 and "--step-days" in err and not out.exists()
    import clvmodels

    with pytest.raises(InvalidParameterError, match="step_days"):
        clvmodels.compare(load_cdnow_transactions(), ["own_rate"], amount="amount",
                          calibration_end="1997-09-30", observation_end="1998-06-30",
                          n_splits=2, step_days=0)


def test_a_customer_with_no_expected_purchases_does_not_break_the_others():
    """Many purchases long ago: E[X] underflows to 0 for the representative of its (x, T)
    group; the factorised route then computes that group exactly (it used to write into a
    read-only array). Truth: the step-by-step route."""
    model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W")
    spend = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    summary = pd.DataFrame({"frequency": [200, 200, 1, 3], "recency": [1.0, 1.5, 5.0, 20.0],
                            "T": [300.0, 300.0, 30.0, 30.0],
                            "monetary_value": [10.0, 10.0, 5.0, 30.0]})
    summary.attrs["time_unit"] = "W"
    auto = customer_lifetime_value(model, spend, summary, horizon=20, discount_rate=0.01)
    exact = customer_lifetime_value(model, spend, summary, horizon=20, discount_rate=0.01,
                                    method="exact")
    np.testing.assert_allclose(auto, exact, rtol=1e-12)
    assert auto.iloc[0] == 0.0 and auto.iloc[2] > 0


def test_free_repeat_purchases_are_scored_not_refused(tmp_path, capsys):
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    summary = pd.DataFrame({"frequency": [2, 3], "monetary_value": [0.0, 30.0]},
                           index=pd.Index(["free", "paying"], name="customer_id"))
    with pytest.warns(StatisticalWarning, match="all cost 0"):
        got = gg.expected_spend(summary)
    p, q, gamma = 6.25, 3.74, 15.44
    assert got["free"] == pytest.approx(p * gamma / (p * 2 + q - 1), rel=1e-14)
    assert got["paying"] == pytest.approx(p * (gamma + 3 * 30.0) / (p * 3 + q - 1), rel=1e-14)

    # the batch job: one customer's repeat purchases all free, everyone else scored
    log = load_cdnow_transactions().head(2000)
    free = pd.DataFrame({"customer_id": 99999, "date": pd.to_datetime(
        ["1997-01-02", "1997-02-02", "1997-03-02"]), "quantity": 1, "amount": 0.0})
    path = tmp_path / "log.csv"
    pd.concat([log, free]).to_csv(path, index=False)
    model, scores = tmp_path / "m.json", tmp_path / "scores.csv"
    code, err = cli(capsys, "fit", path, "--amount", "amount", "--out", model, "--quiet")
    assert code == 0, err
    code, err = cli(capsys, "score", path, "--model", model, "--out", scores)
    assert code == 0, err
    table = pd.read_csv(scores, index_col=0)
    assert len(table) == log["customer_id"].nunique() + 1
    assert np.isfinite(table.to_numpy()).all() and table.loc[99999, "expected_spend"] > 0


def test_compare_keeps_bgnbd_with_a_free_customer():
    import clvmodels

    log = load_cdnow_transactions().head(3000)
    free = pd.DataFrame({"customer_id": 99999, "date": pd.to_datetime(
        ["1997-01-02", "1997-02-02", "1997-03-02"]), "quantity": 1, "amount": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = clvmodels.compare(pd.concat([log, free]), ["bgnbd"], amount="amount",
                                calibration_end="1997-09-30", observation_end="1998-06-30")
    assert not res.failures and "bgnbd" in res.table().index


def _bgbb_expected_mpmath(alpha, beta, gamma, delta, x, tx, n, t):
    mp.mp.dps = 60
    B = mp.beta
    like = B(alpha + x, beta + n - x) / B(alpha, beta) * B(gamma, delta + n) / B(gamma, delta)
    for i in range(n - tx):
        like += (B(alpha + x, beta + tx - x + i) / B(alpha, beta)
                 * B(gamma + 1, delta + tx + i) / B(gamma, delta))
    alive = mp.fsum(B(gamma, delta + k) / B(gamma, delta) for k in range(n + 1, n + t + 1))
    return float(B(alpha + x + 1, beta + n - x) / B(alpha, beta) * alive / like)


@pytest.mark.parametrize("gamma", [1e5, 3e3, 0.657])
@pytest.mark.parametrize("n", [100, 150, 400])
def test_bgbb_expected_purchases_finite_for_large_gamma(gamma, n):
    params = dict(alpha=1.204, beta=0.750, gamma=gamma, delta=2.783)
    model = BGBB.from_params(**params)
    data = pd.DataFrame({"frequency": [n, n // 2], "recency": [n, n - 3],
                         "n_periods": [n, n]})
    got = model.expected_purchases(data, 10).to_numpy()
    assert np.all(np.isfinite(got))
    truth = [_bgbb_expected_mpmath(*params.values(), int(x), int(tx), n, 10)
             for x, tx in zip(data["frequency"], data["recency"], strict=True)]
    np.testing.assert_allclose(got, truth, rtol=1e-9)


@pytest.mark.parametrize("history", [(5, 10, 12), (7, 9, 12), (3, 5, 6)])
def test_bgbb_fit_on_one_customer_says_so(history):
    x, tx, n = history
    data = pd.DataFrame({"frequency": [x], "recency": [tx], "n_periods": [n]})
    with pytest.warns(StatisticalWarning, match="not identified"):
        BGBB().fit(data)


def test_bundles_the_score_command_cannot_use_are_refused(fitted, capsys):
    d, log, model, _ = fitted
    bundle = json.loads(model.read_text())
    bgbb = BGBB.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    bgbb_bundle = dict(bundle, purchase_model=bgbb.to_dict())
    bgbb_bundle["purchase_model"]["time_unit"] = bundle["time_unit"]
    no_spend_key = {k: v for k, v in bundle.items() if k != "spend_model"}
    out = d / "scores.csv"
    for name, content, needle in [("bgbb.json", bgbb_bundle, "BGBB"),
                                  ("nospend.json", no_spend_key, "spend_model is missing")]:
        path = d / name
        path.write_text(json.dumps(content))
        from clvmodels.bundle import load_bundle

        with pytest.raises(ModelFileError, match=needle):
            load_bundle(path)
        code, err = cli(capsys, "score", log, "--model", path, "--out", out)
        assert code == 2 and needle in err and not out.exists()


def test_a_bundle_without_spend_model_says_what_is_missing(fitted, capsys):
    d, log, _, _ = fitted
    model, out = d / "purchase_only.json", d / "p.csv"
    assert cli(capsys, "fit", log, "--spend-model", "none", "--out", model, "--quiet")[0] == 0
    code, err = cli(capsys, "score", log, "--model", model, "--out", out)
    assert code == 0 and "no spend model" in err
    assert list(pd.read_csv(out, index_col=0).columns) == ["expected_purchases",
                                                           "probability_alive"]
