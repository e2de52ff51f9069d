"""The comparison harness on CDNOW and on tiny hand-checked logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.errors import CLVError, InvalidParameterError, InvalidSummaryError
from clvmodels.evaluation import Method, ModelMethod, prediction_frame

CAL, OBS = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def log():
    return clvmodels.datasets.load_cdnow_transactions()


@pytest.fixture(scope="module")
def result(log):
    return clvmodels.compare(log, ["bgnbd", "own_rate", "zero", "population_rate"],
                             calibration_end=CAL, observation_end=OBS, time_unit="W")


def test_same_customers_and_actuals(result):
    p = result.predictions
    assert set(p["method"]) == {"bgnbd", "own_rate", "zero", "population_rate"}
    for _, g in p.groupby("method"):
        assert len(g) == 2357
        assert g["actual_transactions"].sum() == 1882
    assert result.settings["horizon"] == pytest.approx(39.0)


def test_zero_and_own_rate_by_hand(log, result):
    s = clvmodels.rfm_summary(log, amount="amount", calibration_end=CAL, observation_end=OBS)
    actual = s["frequency_holdout"].to_numpy(dtype=float)
    t = result.table()
    assert t.loc["zero", "transactions_mae"] == pytest.approx(actual.mean())
    assert t.loc["zero", "transactions_total_error_pct"] == pytest.approx(-100.0)
    own = result.predictions.query("method == 'own_rate'")
    by_hand = s["frequency"].to_numpy() / s["T"].to_numpy() * 39.0
    np.testing.assert_allclose(own["transactions"].to_numpy(), by_hand, rtol=1e-12)
    assert t.loc["own_rate", "transactions_mae"] == pytest.approx(
        np.abs(by_hand - actual).mean())


def test_bgnbd_conditional_expectations_match_lifetimes(result):
    lifetimes = pytest.importorskip("lifetimes")
    ce = result.conditional_expectations("bgnbd")
    model = result.methods["bgnbd"].purchase_model_
    s = result.summary
    bgf = lifetimes.BetaGeoFitter()
    bgf.params_ = pd.Series(model.params_.to_dict())
    peer = bgf.conditional_expected_number_of_purchases_up_to_time(
        39.0, s["frequency"], s["recency"], s["T"])
    group = np.minimum(s["frequency"].to_numpy(), 7)
    peer_means = pd.Series(np.asarray(peer)).groupby(group).mean().to_numpy()
    np.testing.assert_allclose(ce["predicted"].to_numpy(), peer_means, rtol=1e-6)
    actual_means = pd.Series(s["frequency_holdout"].to_numpy()).groupby(group).mean()
    np.testing.assert_allclose(ce["actual"].to_numpy(), actual_means.to_numpy())
    assert list(ce.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]


def test_ranking_orders_by_metric(result):
    r = result.ranking("transactions_mae")
    assert list(r["value"]) == sorted(r["value"])
    r = result.ranking("transactions_total_error_pct")
    assert list(np.abs(r["value"])) == sorted(np.abs(r["value"]))
    with pytest.raises(InvalidParameterError, match="unknown metric"):
        result.ranking("accuracy")


class Spy(Method):
    """Records what the harness shows a method."""

    name = "spy"
    needs_transactions = True
    seen: list = []

    def fit(self, summary, transactions=None):
        Spy.seen.append((list(summary.columns), transactions["date"].max(),
                         summary.attrs.get("calibration_end")))
        return self

    def predict(self, summary, horizon):
        Spy.seen.append((list(summary.columns), None, horizon))
        return prediction_frame(summary, 0.0, 0.0)


def test_methods_never_see_the_holdout(log):
    Spy.seen.clear()
    clvmodels.compare(log, [Spy()], calibration_end=CAL, observation_end=OBS, n_splits=3)
    assert len(Spy.seen) == 6
    for columns, _last, _ in Spy.seen:
        assert not any("holdout" in c for c in columns)
    fits = Spy.seen[0::2]
    for _, last_date, cutoff in fits:
        assert last_date <= cutoff


def test_method_given_holdout_data_fails_loudly(log):
    s = clvmodels.rfm_summary(log, amount="amount", calibration_end=CAL, observation_end=OBS)
    with pytest.raises(InvalidSummaryError, match="holdout"):
        ModelMethod("bgnbd").fit(s)
    with pytest.raises(InvalidSummaryError, match="holdout"):
        clvmodels.evaluation.get_method("own_rate").fit(s)


def test_backtest_spread_and_split_actuals(log):
    res = clvmodels.compare(log, ["own_rate", "zero"], calibration_end=CAL,
                            observation_end=OBS, n_splits=3, step_days=14)
    cutoffs = sorted(res.backtest["cutoff"].unique())
    assert [str(c.date()) for c in cutoffs] == ["1997-09-02", "1997-09-16", "1997-09-30"]
    lb = res.leaderboard.set_index(["method", "metric"])
    assert (lb["n_cutoffs"] == 3).all()
    # the zero method's MAE at the first cutoff is the mean holdout count: by hand
    c0 = cutoffs[0]
    end = c0 + pd.Timedelta(days=273)
    days = log.drop_duplicates(["customer_id", "date"])
    first = days.groupby("customer_id")["date"].min()
    custs = first[first <= c0].index
    hold = days[(days["date"] > c0) & (days["date"] <= end) & days["customer_id"].isin(custs)]
    by_hand = len(hold) / len(custs)
    got = res.backtest.query("cutoff == @c0 and method == 'zero' and "
                             "metric == 'transactions_mae'")["value"].item()
    assert got == pytest.approx(by_hand)
    spread = res.backtest.query("method == 'zero' and metric == 'transactions_mae'")["value"]
    assert lb.loc[("zero", "transactions_mae"), "value_std"] == pytest.approx(spread.std())


class Broken(Method):
    name = "broken"

    def fit(self, summary, transactions=None):
        raise CLVError("this method cannot fit")

    def predict(self, summary, horizon):  # pragma: no cover
        raise AssertionError


def test_failing_method_is_reported_not_hidden(log):
    with pytest.warns(RuntimeWarning, match="broken"):
        res = clvmodels.compare(log, ["zero", Broken()], calibration_end=CAL,
                                observation_end=OBS)
    assert "broken" not in set(res.leaderboard["method"])
    assert any("cannot fit" in m for m in res.failures.values())
    with pytest.raises(CLVError, match="cannot fit"):
        clvmodels.compare(log, [Broken()], calibration_end=CAL, observation_end=OBS,
                          errors="raise")


def test_bad_arguments(log):
    with pytest.raises(InvalidParameterError, match="after calibration_end"):
        clvmodels.compare(log, ["zero"], calibration_end=OBS, observation_end=CAL)
    with pytest.raises(InvalidParameterError, match="ends after observation_end"):
        clvmodels.compare(log, ["zero"], calibration_end=CAL, observation_end=OBS,
                          cutoffs=["1997-12-01"])
    with pytest.raises(InvalidParameterError, match="unknown method"):
        clvmodels.compare(log, ["nope"], calibration_end=CAL, observation_end=OBS)
    with pytest.raises(InvalidParameterError, match="unique"):
        clvmodels.compare(log, ["zero", "zero"], calibration_end=CAL, observation_end=OBS)


def test_deterministic(log):
    a = clvmodels.compare(log, ["bgnbd", "own_rate"], calibration_end=CAL, observation_end=OBS)
    b = clvmodels.compare(log, ["bgnbd", "own_rate"], calibration_end=CAL, observation_end=OBS)
    pd.testing.assert_frame_equal(a.leaderboard, b.leaderboard)


def test_holdout_log_likelihood_for_probabilistic_methods(log):
    from clvmodels.models.bgnbd import log_conditional_pmf as log_conditional_pmf_bgnbd

    res = clvmodels.compare(log, ["bgnbd", "paretonbd", "zero"], calibration_end=CAL,
                            observation_end=OBS)
    t = res.table()
    assert np.isnan(t.loc["zero", "holdout_log_likelihood"])
    assert np.isfinite(t.loc[["bgnbd", "paretonbd"], "holdout_log_likelihood"]).all()
    s = res.summary
    params = res.methods["bgnbd"].purchase_model_.params_.to_numpy()
    direct = log_conditional_pmf_bgnbd(params, s["frequency_holdout"].to_numpy(),
                                       s["frequency"].to_numpy(), s["recency"].to_numpy(),
                                       s["T"].to_numpy(), 39.0).sum()
    assert t.loc["bgnbd", "holdout_log_likelihood"] == pytest.approx(direct, rel=1e-12)
    # history helps: better than scoring every customer with the new-customer PMF
    model = res.methods["bgnbd"].purchase_model_
    counts = s["frequency_holdout"].to_numpy()
    new = np.log(model.probability_of_purchases(counts, 39.0)).sum()
    assert t.loc["bgnbd", "holdout_log_likelihood"] > new
