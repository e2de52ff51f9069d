"""Every worked example of the source articles (issue 5), with the articles' errata.

The expected values are the articles' printed figures, or the arithmetic
written out by hand in the test (never an output of clvmodels).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clvmodels.errors import InvalidParameterError, StatisticalWarning
from clvmodels.formulas import (
    annualized_arpu,
    average_gross_margin,
    average_lifetime,
    average_order_value,
    average_revenue_per_user,
    average_transactions_per_month,
    break_even_retention_uplift,
    churn_rate,
    clv_to_cac_ratio,
    compare_to_benchmarks,
    convert_retention_rate,
    gross_margin,
    gross_margin_per_customer,
    historical_clv,
    loyalty_program_clv,
    max_acquisition_cost,
    net_clv,
    payback_period,
    predictive_clv,
    retained_margin_schedule,
    retention_benchmarks,
    retention_rate,
    retention_what_if,
    retention_what_if_table,
    reward_rate,
    scpt_ltv,
    traditional_clv,
)

# ---------------------------------------------------------------------------
# Historical CLV: 20 customers, $1,240 in 3 months


def test_historical_arpu_example():
    assert average_revenue_per_user(1240, 20) == pytest.approx(62.0)
    assert annualized_arpu(1240, 20, 3) == pytest.approx(62.0 * 4)
    assert historical_clv(1240, 20, 3) == pytest.approx(248.0)


def test_historical_clv_lifetime_years_and_monthly_period():
    assert historical_clv(1240, 20, 3, lifetime_years=2) == pytest.approx(496.0)
    # one month of revenue scales by 12
    assert historical_clv(100, 10, 1) == pytest.approx(120.0)


# ---------------------------------------------------------------------------
# Predictive CLV: T x AOV x AGM x ALT


def test_predictive_inputs_example():
    assert average_transactions_per_month(120, 6) == pytest.approx(20.0)
    assert average_order_value(12_000, 20) == pytest.approx(600.0)
    gm = gross_margin(12_000, 8_000)
    assert gm == pytest.approx(4_000 / 12_000)
    assert round(gm, 2) == 0.33  # printed "33%"
    # six monthly margins summing to 1.64 (the article gives only the sum)
    monthly = [0.30, 0.25, 0.28, 0.26, 0.27, 0.28]
    assert sum(monthly) == pytest.approx(1.64)
    agm = average_gross_margin(monthly)
    assert agm == pytest.approx(1.64 / 6)
    assert round(agm, 2) == 0.27  # printed "27%"
    churn = churn_rate(customers_start=200, customers_end=150)
    assert churn == pytest.approx(0.25)
    assert average_lifetime(churn) == pytest.approx(4.0)


def test_predictive_clv_example_and_erratum():
    base = predictive_clv(20, 600, 0.27, 4)
    assert base == pytest.approx(20 * 600 * 0.27 * 4)
    assert base == pytest.approx(12_960.0)
    per_customer = predictive_clv(20, 600, 0.27, 4, customers=150)
    assert per_customer == pytest.approx(86.40)
    # Erratum: the article multiplied by 27 (percent) and printed 1,296,000 / 8,640.
    printed_base, printed_per_customer = 1_296_000, 8_640
    assert printed_base == pytest.approx(base * 100)
    assert printed_per_customer == pytest.approx(per_customer * 100)
    # The package refuses the slip instead of reproducing it.
    with pytest.raises(InvalidParameterError, match="0.27 for 27%"):
        predictive_clv(20, 600, 27, 4)


def test_predictive_clv_with_unrounded_agm():
    # AGM = 1.64 / 6 = 0.27333...: 20 x 600 x 0.27333 x 4 = 13,120; / 150 = 87.47
    assert predictive_clv(20, 600, 1.64 / 6, 4) == pytest.approx(13_120.0)
    assert predictive_clv(20, 600, 1.64 / 6, 4, customers=150) == pytest.approx(13_120 / 150)


# ---------------------------------------------------------------------------
# Traditional CLV: GML x R / (1 + D - R)


def test_traditional_clv_example_rounded_and_exact():
    gml = gross_margin_per_customer(0.27, 900)
    assert gml == pytest.approx(243.0)
    r_exact = retention_rate(customers_end=250, new_customers=50, customers_start=220)
    assert r_exact == pytest.approx(200 / 220)
    assert round(r_exact, 3) == 0.909
    # the article rounds R to 0.9: 243 x 0.9 / 0.2 = 1,093.50
    assert traditional_clv(gml, 0.9, 0.10) == pytest.approx(243 * 0.9 / 0.2)
    assert traditional_clv(gml, 0.9, 0.10) == pytest.approx(1_093.50)
    # with the exact R = 200 / 220: 1,157.14
    exact = traditional_clv(gml, r_exact, 0.10)
    assert exact == pytest.approx(243 * (200 / 220) / (1.1 - 200 / 220))
    assert round(exact, 2) == 1_157.14


def test_traditional_clv_warns_when_series_diverges():
    with pytest.warns(StatisticalWarning, match="does not converge"):
        assert traditional_clv(100, 1.0, 0.0) == math.inf
    with pytest.warns(StatisticalWarning):
        assert traditional_clv(100, 0.97, -0.05) == math.inf
    # a finite horizon converges whatever R and D: 3 periods of margin 100, R = 1, D = 0
    assert traditional_clv(100, 1.0, 0.0, periods=3) == pytest.approx(300.0)


def test_traditional_clv_rejects_retention_outside_unit_interval():
    with pytest.raises(InvalidParameterError, match="retention_rate=1.2"):
        traditional_clv(243, 1.2, 0.1)
    with pytest.raises(InvalidParameterError, match="pass 0.9 for 90%"):
        traditional_clv(243, 90, 0.1)
    with pytest.raises(InvalidParameterError, match="retention_rate=-0.1"):
        traditional_clv(243, -0.1, 0.1)


def test_traditional_finite_horizon_by_hand():
    # 243 x sum_{t=1}^{3} (0.9 / 1.1)^t
    q = 0.9 / 1.1
    assert traditional_clv(243, 0.9, 0.1, periods=3) == pytest.approx(243 * (q + q**2 + q**3))
    sched = retained_margin_schedule(243, 0.9, 0.1, 3)
    np.testing.assert_allclose(sched, [243 * q, 243 * q**2, 243 * q**3])


# ---------------------------------------------------------------------------
# Customer retention rate


def test_crr_example_and_inverted_fraction_erratum():
    # start with 20, gain 5 in the first quarter, lose 1: E = 24
    crr = retention_rate(customers_end=24, new_customers=5, customers_start=20)
    assert crr == pytest.approx((24 - 5) / 20)
    assert crr * 100 == pytest.approx(95.0)
    # Erratum: the inverted fraction 100 x 20 / (24 - 5) would be 105%, impossible.
    inverted = 100 * 20 / (24 - 5)
    assert inverted == pytest.approx(105.26, abs=0.01)
    assert crr * 100 != pytest.approx(inverted)
    assert churn_rate(customers_start=20, customers_end=24, new_customers=5) == pytest.approx(0.05)
    assert average_lifetime(0.05) == pytest.approx(20.0)


def test_industry_benchmarks_as_published():
    table = retention_benchmarks()["retention_rate"]
    published = {
        "retail": 0.63, "banks": 0.75, "telecom": 0.78, "IT": 0.81, "insurance": 0.83,
        "professional services": 0.84, "media": 0.84,
    }
    assert table.to_dict() == pytest.approx(published)
    cmp = compare_to_benchmarks(0.80)
    assert cmp.loc["retail", "difference"] == pytest.approx(0.80 - 0.63)
    assert cmp.loc["media", "difference"] == pytest.approx(0.80 - 0.84)


def test_convert_retention_rate():
    assert convert_retention_rate(0.9, 1, 12) == pytest.approx(0.9**12)
    assert convert_retention_rate(0.9**12, 12, 1) == pytest.approx(0.9)
    assert convert_retention_rate(0.0, 1, 12) == 0.0


# ---------------------------------------------------------------------------
# S x C x P x T


def test_scpt_ltv_product_and_percent_refusal():
    assert scpt_ltv(50, 2, 0.2, 18) == pytest.approx(50 * 2 * 0.2 * 18)
    with pytest.raises(InvalidParameterError, match=r"fraction \(0.2 for 20%\).*0.2"):
        scpt_ltv(50, 2, 20, 18)
    with pytest.raises(InvalidParameterError, match="profitability=1.5"):
        scpt_ltv(50, 2, 1.5, 18)
    assert scpt_ltv(50, 2, 1.0, 18) == pytest.approx(1800.0)


# ---------------------------------------------------------------------------
# Retention what-if: R = 0.90, D = 0.10, +5 points -> 4.5 to 6.33 (+40.7%)


def test_retention_what_if_example():
    w = retention_what_if(0.90, 0.10, 0.05)
    assert w["clv_before"] == pytest.approx(0.90 / 0.20)
    assert w["clv_before"] == pytest.approx(4.5)
    assert w["clv_after"] == pytest.approx(0.95 / 0.15)
    assert round(w["clv_after"], 2) == 6.33
    assert w["relative_change"] == pytest.approx((0.95 / 0.15) / 4.5 - 1)
    assert round(100 * w["relative_change"], 1) == 40.7


def test_retention_what_if_relative_uplift_and_margin():
    w = retention_what_if(0.90, 0.10, 0.05, uplift_kind="relative", gross_margin_per_customer=243)
    r1 = 0.90 * 1.05
    assert w["retention_rate_after"] == pytest.approx(r1)
    assert w["clv_after"] == pytest.approx(243 * r1 / (1.1 - r1))


def test_retention_what_if_table_matches_closed_form():
    rs, ds = [0.5, 0.7, 0.9], [0.0, 0.05, 0.1]
    t = retention_what_if_table(rs, ds, 0.05, wide=True)
    for r in rs:
        for d in ds:
            expected = ((r + 0.05) / (1 + d - r - 0.05)) / (r / (1 + d - r)) - 1
            assert t.loc[r, d] == pytest.approx(expected)


def test_retention_what_if_table_leaves_out_rates_that_would_exceed_one():
    with pytest.warns(StatisticalWarning, match=r"\[0.98\]"):
        t = retention_what_if_table([0.6, 0.98], [0.1], 0.05)
    assert t["retention_rate"].tolist() == [0.6]


def test_retention_what_if_with_a_model_clv_function():
    # any CLV function of (R, D): here the finite-horizon sum written out
    def clv(r, d):
        return sum((r / (1 + d)) ** t for t in range(1, 13))

    w = retention_what_if(0.8, 0.01, 0.05, clv=clv)
    assert w["clv_before"] == pytest.approx(clv(0.8, 0.01))
    assert w["clv_after"] == pytest.approx(clv(0.85, 0.01))


# ---------------------------------------------------------------------------
# Loyalty program economics


def test_reward_rate_examples():
    # 1 point per $1, 250 points = $5 card: 2%
    assert reward_rate(5, 250, 1) == pytest.approx(0.02)
    # 1 stamp per 100 spent, gift at 50 stamps: gift value / 5,000
    assert reward_rate(150, 50, spend_per_point=100) == pytest.approx(150 / 5_000)
    # breakage: only 60% of points redeemed
    assert reward_rate(5, 250, redemption_rate=0.6) == pytest.approx(0.012)


def test_break_even_uplift_makes_clvs_equal():
    g, r, d, rho = 0.3, 0.6, 0.01, 0.02
    u = break_even_retention_uplift(g, r, d, rho)
    # by hand: (g - rho) (r + u) / (1 + d - r - u) = g r / (1 + d - r)
    lhs = (g - rho) * (r + u) / (1 + d - r - u)
    rhs = g * r / (1 + d - r)
    assert lhs == pytest.approx(rhs)
    out = loyalty_program_clv(g, 1.0, r, d, rho, retention_uplift=u)
    assert out["change"] == pytest.approx(0.0, abs=1e-12)


def test_break_even_uplift_finite_horizon_and_impossible_cases():
    g, r, d, rho = 0.3, 0.6, 0.01, 0.02
    u = break_even_retention_uplift(g, r, d, rho, periods=12)
    q0, q1 = r / (1 + d), (r + u) / (1 + d)
    with_ = (g - rho) * sum(q1**t for t in range(1, 13))
    without = g * sum(q0**t for t in range(1, 13))
    assert with_ == pytest.approx(without)
    with pytest.warns(StatisticalWarning, match="no retention uplift"):
        assert break_even_retention_uplift(0.3, 0.6, 0.01, 0.3) == math.inf
    with pytest.warns(StatisticalWarning, match="retention rate of"):
        assert break_even_retention_uplift(0.3, 0.98, 0.01, 0.25) == math.inf


def test_loyalty_spend_uplift_can_pay_without_retention_gain():
    # +10% spend against a 2% reward on a 30% margin: 0.28 x 1.1 = 0.308 > 0.3
    u = break_even_retention_uplift(0.3, 0.6, 0.01, 0.02, spend_uplift=0.1)
    assert u < 0


# ---------------------------------------------------------------------------
# Net CLV, CLV:CAC, max CAC, payback


def test_net_clv_and_ratios():
    assert net_clv(1157.14, acquisition_cost=300, service_cost=120, logistics_cost=80) == (
        pytest.approx(1157.14 - 500))
    assert clv_to_cac_ratio(900, 300) == pytest.approx(3.0)
    assert max_acquisition_cost(900, 3) == pytest.approx(300.0)
    assert max_acquisition_cost(900, 1) == pytest.approx(900.0)


def test_payback_period():
    assert payback_period(300, 50) == pytest.approx(6.0)
    # with monthly retention 0.95: smallest n with 50 sum_{t<=n} 0.95^t >= 300, interpolated
    n = payback_period(300, 50, retention_rate=0.95)
    assert 50 * 0.95 * (1 - 0.95**n) / 0.05 == pytest.approx(300)
    cum = np.cumsum(50 * 0.95 ** np.arange(1, 20))
    assert int(np.argmax(cum >= 300)) + 1 == math.ceil(n)
    assert payback_period(0, 50) == 0.0
    with pytest.warns(StatisticalWarning, match="no payback"):
        assert payback_period(2000, 50, retention_rate=0.95) == math.inf
