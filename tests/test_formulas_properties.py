"""Property tests of the calculators: ranges, monotonicity, closed forms against explicit sums."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clvmodels.formulas import (
    abc_classes,
    average_lifetime,
    break_even_retention_uplift,
    churn_rate,
    historical_clv,
    loyalty_program_clv,
    payback_period,
    predictive_clv,
    quantile_scores,
    retention_rate,
    retention_what_if,
    scpt_ltv,
    traditional_clv,
)

counts = st.integers(min_value=0, max_value=10**7)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)
money = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@st.composite
def period_counts(draw):
    """(customers_end, new_customers, customers_start) of a consistent period."""
    start = draw(st.integers(min_value=1, max_value=10**7))
    kept = draw(st.integers(min_value=0, max_value=start))
    new = draw(counts)
    return kept + new, new, start


@given(period_counts())
def test_retention_and_churn_are_fractions_that_add_to_one(c):
    end, new, start = c
    r = retention_rate(end, new, start)
    ch = churn_rate(start, end, new)
    assert 0.0 <= r <= 1.0
    assert 0.0 <= ch <= 1.0
    assert r + ch == pytest.approx(1.0)
    assert r == pytest.approx((end - new) / start)


@given(st.floats(min_value=1e-6, max_value=1.0))
def test_lifetime_is_at_least_one_period_and_decreasing(churn):
    life = average_lifetime(churn)
    assert life >= 1.0
    assert life * churn == pytest.approx(1.0)
    if churn < 0.5:
        assert average_lifetime(churn * 2) < life


@given(money, positive, positive, st.floats(min_value=1.0, max_value=2.0))
def test_historical_clv_monotone_in_revenue(revenue, customers, months, factor):
    assert historical_clv(revenue * factor, customers, months) >= historical_clv(
        revenue, customers, months)


@given(money, money, fractions, fractions, positive, positive)
def test_predictive_and_scpt_monotone_in_margin_and_lifetime(t, aov, m1, m2, l1, l2):
    lo_m, hi_m = sorted((m1, m2))
    lo_l, hi_l = sorted((l1, l2))
    assert predictive_clv(t, aov, lo_m, lo_l) <= predictive_clv(t, aov, hi_m, lo_l)
    assert predictive_clv(t, aov, lo_m, lo_l) <= predictive_clv(t, aov, lo_m, hi_l)
    assert scpt_ltv(aov, t, lo_m, lo_l) <= scpt_ltv(aov, t, hi_m, lo_l)
    assert scpt_ltv(aov, t, lo_m, lo_l) <= scpt_ltv(aov, t, lo_m, hi_l)


@given(money, money, fractions, fractions, st.floats(min_value=0.001, max_value=0.9))
def test_traditional_clv_monotone_in_margin_and_retention(m1, m2, r1, r2, d):
    lo_m, hi_m = sorted((m1, m2))
    lo_r, hi_r = sorted((r1, r2))
    assert traditional_clv(lo_m, lo_r, d) <= traditional_clv(hi_m, lo_r, d) * (1 + 1e-12)
    assert traditional_clv(lo_m, lo_r, d) <= traditional_clv(lo_m, hi_r, d) * (1 + 1e-12)


@given(money, fractions, st.floats(min_value=0.001, max_value=0.9),
       st.floats(min_value=0.5, max_value=40.0))
def test_traditional_clv_monotone_in_horizon(m, r, d, n):
    assert traditional_clv(m, r, d, periods=n) <= traditional_clv(m, r, d, periods=n + 1) + 1e-9
    assert traditional_clv(m, r, d, periods=n) <= traditional_clv(m, r, d) * (1 + 1e-12) + 1e-12


@settings(max_examples=60)
@given(st.floats(min_value=0.0, max_value=1e4), st.floats(min_value=0.0, max_value=0.95),
       st.floats(min_value=0.01, max_value=0.5))
def test_traditional_closed_form_equals_explicit_discounted_sum(m, r, d):
    # Explicit sum over a long horizon: survival R^t and discount (1 + D)^-t built up
    # period by period, no geometric-series formula.
    total, alive, discount = 0.0, 1.0, 1.0
    for _ in range(3000):
        alive *= r
        discount /= 1.0 + d
        total += m * alive * discount
    assert traditional_clv(m, r, d) == pytest.approx(total, rel=1e-9, abs=1e-9)


def test_traditional_clv_against_simulated_customers():
    # Brute force: draw each customer's lifetime (periods retained) and add the discounted
    # margins they bring; the mean converges to the closed form.
    rng = np.random.default_rng(20240505)
    m, r, d = 243.0, 200 / 220, 0.10
    retained = rng.geometric(1.0 - r, size=400_000) - 1  # P(retained >= t) = r^t
    v = 1.0 / (1.0 + d)
    table = np.concatenate([[0.0], np.cumsum(m * v ** np.arange(1, retained.max() + 1))])
    values = table[retained]
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - traditional_clv(m, r, d)) < 4 * se


@given(st.floats(min_value=0.0, max_value=0.9), st.floats(min_value=0.001, max_value=0.5),
       st.floats(min_value=0.001, max_value=0.09))
def test_retention_uplift_raises_clv(r, d, u):
    w = retention_what_if(r, d, u)
    assert w["clv_after"] >= w["clv_before"]
    assert w["relative_change"] >= 0


@given(st.floats(min_value=0.05, max_value=1.0), st.floats(min_value=0.0, max_value=0.95),
       st.floats(min_value=0.001, max_value=0.2), st.floats(min_value=0.0, max_value=0.04))
def test_break_even_uplift_equalises_clv(g, r, d, rho):
    assume(rho < g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = break_even_retention_uplift(g, r, d, rho)
    if math.isinf(u):
        return
    out = loyalty_program_clv(g, 100.0, r, d, rho, retention_uplift=u)
    assert out["clv_with"] == pytest.approx(out["clv_without"], rel=1e-7, abs=1e-9)


@given(st.floats(min_value=0.0, max_value=1e4), st.floats(min_value=1.0, max_value=1e3),
       st.floats(min_value=0.5, max_value=1.0), st.floats(min_value=0.0, max_value=0.05))
def test_payback_repays_exactly_the_cac(cac, m, r, d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = payback_period(cac, m, retention_rate=r, discount_rate=d)
    q = r / (1 + d)
    one_minus_q = (1 + d - r) / (1 + d)  # exact even when q is within 1e-14 of 1
    if math.isinf(n):
        assert m * q <= cac * one_minus_q * (1 + 1e-9)
        return
    if one_minus_q == 0:
        repaid = m * n
    else:
        log_q = math.log(r) - math.log1p(d)
        repaid = m * q * -math.expm1(n * log_q) / one_minus_q
    assert repaid == pytest.approx(cac, rel=1e-6, abs=1e-7)


@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=200),
       st.integers(min_value=2, max_value=10))
def test_quantile_scores_are_monotone_ties_equal_and_in_range(values, bins):
    v = np.array(values, dtype=float)
    s = quantile_scores(v, bins)
    assert s.min() >= 1 and s.max() <= bins
    assert s[v == v.min()].max() == 1
    order = np.argsort(v, kind="stable")
    assert (np.diff(s[order]) >= 0).all()
    for value in np.unique(v):
        assert len(set(s[v == value])) == 1
    # reversed direction mirrors
    r = quantile_scores(v, bins, higher_is_better=False)
    assert r[v == v.max()].max() == 1


@given(st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=1, max_size=100))
def test_abc_classes_follow_revenue_and_cover_the_threshold(values):
    rev = pd.Series(values)
    assume(rev.sum() > 0)
    t = abc_classes(rev)
    rank = {"A": 0, "B": 1, "C": 2}
    cls = t["abc"].map(rank)
    # a customer with more revenue is never in a lower class
    for i in range(len(rev)):
        assert (cls[rev > rev.iloc[i]] <= cls.iloc[i]).all()
    # class A holds at least 80% of revenue
    assert t.loc[t["abc"] == "A", "revenue"].sum() >= 0.8 * rev.sum() * (1 - 1e-12)
