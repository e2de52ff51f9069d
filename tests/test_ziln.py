"""The zero-inflated lognormal baseline: its two parts checked by hand, and its registration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.evaluation import available_methods
from clvmodels.evaluation.base import calibration_only
from clvmodels.evaluation.ziln import ZeroInflatedLognormal


@pytest.fixture(scope="module")
def cdnow():
    log = clvmodels.datasets.load_cdnow_transactions()
    cal = log[log["date"] <= "1997-09-30"]
    summary = calibration_only(clvmodels.rfm_summary(cal, amount="amount",
                                                     calibration_end="1997-09-30"))
    return cal, summary


def test_trees_that_cannot_split_give_the_hand_computed_base_rates(cdnow):
    """With leaves of at least 10^6 customers every tree is one leaf: the prediction is
    P(buy) x exp(mean log revenue + var / 2) of the training window, the same for all."""
    cal, summary = cdnow
    method = ZeroInflatedLognormal(min_samples_leaf=1_000_000, max_iter=5).fit(summary, cal)
    _, y = method.training_data(13.0)
    buyer = (y["revenue"] > 0) & (y["transactions"] > 0)
    log_rev = np.log(y.loc[buyer, "revenue"])
    # a one-leaf squared-error booster predicts the mean; its residual variance is var(ddof=1)
    expected_revenue = buyer.mean() * np.exp(log_rev.mean() + log_rev.var(ddof=1) / 2)
    expected_transactions = buyer.mean() * y.loc[buyer, "transactions"].mean()
    scale = 13.0 / method.training_window(13.0)
    pred = method.predict(summary, horizon=13.0)
    np.testing.assert_allclose(pred["revenue"], scale * expected_revenue, rtol=1e-6)
    np.testing.assert_allclose(pred["transactions"], scale * expected_transactions, rtol=1e-6)


def test_ziln_ranks_customers_and_is_registered(cdnow):
    cal, summary = cdnow
    pred = ZeroInflatedLognormal(random_state=0).fit(summary, cal).predict(summary, horizon=39)
    assert pred.index.equals(summary.index)
    assert np.all(np.isfinite(pred.to_numpy())) and (pred.to_numpy() >= 0).all()
    # repeat buyers with high spend are predicted to spend more than one-time buyers
    repeat = summary["frequency"] > 2
    assert pred.loc[repeat, "revenue"].mean() > 2 * pred.loc[~repeat, "revenue"].mean()
    assert "ziln" in available_methods()


def test_negative_revenue_is_refused_with_a_reason(cdnow):
    cal, summary = cdnow
    bad = cal.copy()
    late = bad.index[bad["date"] > "1997-08-01"][:3]
    bad.loc[late, "amount"] = -50.0
    method = ZeroInflatedLognormal().fit(summary, bad)
    with pytest.raises(ValueError, match="negative revenue"):
        method.predict(summary, horizon=13.0)


def test_the_log_revenue_model_is_the_lognormal_mean(cdnow):
    cal, summary = cdnow
    method = ZeroInflatedLognormal(random_state=0).fit(summary, cal)
    method.predict(summary, horizon=13.0)
    _, revenue_hurdle, _ = method.models_[13.0]
    X = np.zeros((3, 8))
    mu = revenue_hurdle.regressor.predict(X)
    p = revenue_hurdle.probability(X)
    assert revenue_hurdle.sigma2 > 0
    np.testing.assert_allclose(revenue_hurdle.predict(X),
                               p * np.exp(mu + revenue_hurdle.sigma2 / 2), rtol=1e-12)
    assert isinstance(pd.Series(p), pd.Series) and np.all((p > 0) & (p < 1))
