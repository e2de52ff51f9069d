"""Every calculator refuses bad input with an error naming the argument, the value and the fix."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clvmodels.errors import CLVError, InvalidParameterError, InvalidTransactionsError
from clvmodels.formulas import (
    abc_classes,
    average_gross_margin,
    average_lifetime,
    average_order_value,
    average_revenue_per_user,
    break_even_retention_uplift,
    churn_rate,
    clv_to_cac_ratio,
    cohort_clv,
    cohort_table,
    convert_retention_rate,
    formula_inputs,
    gross_margin,
    gross_margin_per_customer,
    historical_clv,
    ladder_funnel,
    loyalty_ladder,
    loyalty_program_clv,
    max_acquisition_cost,
    monthly_inputs,
    net_clv,
    payback_period,
    predictive_clv,
    quantile_scores,
    raised_retention_rate,
    retention_rate,
    retention_what_if,
    reward_rate,
    rfm_scores,
    scpt_ltv,
    traditional_clv,
)

BAD_CALLS = [
    # (call, fragments the message must contain)
    (lambda: historical_clv(1240, 0, 3), ["customers=0", "greater than 0"]),
    (lambda: historical_clv(1240, -20, 3), ["customers=-20"]),
    (lambda: historical_clv(-1, 20, 3), ["revenue=-1", "negative"]),
    (lambda: historical_clv(1240, 20, 0), ["period_months=0"]),
    (lambda: historical_clv(1240, 20, 3, lifetime_years=0), ["lifetime_years=0"]),
    (lambda: average_revenue_per_user(float("nan"), 20), ["revenue=nan", "not finite"]),
    (lambda: average_revenue_per_user(math.inf, 20), ["revenue=inf"]),
    (lambda: average_revenue_per_user("1240", 20), ["revenue='1240'", "not a number"]),
    (lambda: average_revenue_per_user(True, 20), ["revenue=True", "not a number"]),
    (lambda: average_revenue_per_user(None, 20), ["revenue=None"]),
    (lambda: average_order_value(12_000, 0), ["orders=0"]),
    (lambda: gross_margin(12_000, 13_000), ["cost_of_sales=13000", "exceeds revenue"]),
    (lambda: gross_margin(0, 0), ["revenue=0"]),
    (lambda: average_gross_margin([]), ["monthly_gross_margins is empty"]),
    (lambda: average_gross_margin([0.3, 27]), ["monthly_gross_margins[1]=27", "0.27 for 27%"]),
    (lambda: predictive_clv(-20, 600, 0.27, 4), ["transactions_per_month=-20", "negative"]),
    (lambda: predictive_clv(20, 600, 1.2, 4), ["average_gross_margin=1.2", "[0, 1]"]),
    (lambda: predictive_clv(20, 600, -0.1, 4), ["average_gross_margin=-0.1"]),
    (lambda: predictive_clv(20, 600, 0.27, 0), ["average_lifetime_months=0"]),
    (lambda: predictive_clv(20, 600, 0.27, 4, customers=0), ["customers=0"]),
    (lambda: gross_margin_per_customer(27, 900), ["gross_margin=27", "0.27 for 27%"]),
    (lambda: traditional_clv(-243, 0.9, 0.1), ["gross_margin_per_customer=-243"]),
    (lambda: traditional_clv(243, 0.9, -1.0), ["discount_rate=-1.0", "greater than -1"]),
    (lambda: traditional_clv(243, 0.9, 10), ["discount_rate=10", "0.1 for 10%"]),
    (lambda: traditional_clv(243, 0.9, 0.1, periods=0), ["periods=0"]),
    (lambda: retention_rate(24, 5, 0), ["customers_start=0"]),
    (lambda: retention_rate(-24, 5, 20), ["customers_end=-24", "negative"]),
    (lambda: retention_rate(24, -5, 20), ["new_customers=-5"]),
    (lambda: retention_rate(4, 5, 20), ["new_customers=5", "more than customers_end=4"]),
    (lambda: retention_rate(30, 5, 20), ["more than customers_start=20", "pass them by name"]),
    (lambda: churn_rate(150, 200), ["more than customers_start=150"]),
    (lambda: average_lifetime(0), ["churn_rate=0", "infinite"]),
    (lambda: average_lifetime(25), ["churn_rate=25", "0.25 for 25%"]),
    (lambda: convert_retention_rate(0.9, 0, 12), ["from_months=0"]),
    (lambda: scpt_ltv(50, 2, 27, 18), ["profitability=27", "not a percentage", "0.27"]),
    (lambda: scpt_ltv(50, 2, -0.1, 18), ["profitability=-0.1"]),
    (lambda: scpt_ltv(-50, 2, 0.2, 18), ["average_check=-50"]),
    (lambda: scpt_ltv(50, 2, 0.2, 0), ["lifetime_months=0"]),
    (lambda: raised_retention_rate(0.97, 0.05), ["gives 1.02", "cannot exceed 100%"]),
    (lambda: raised_retention_rate(0.9, 0.05, "percent"), ["uplift_kind='percent'"]),
    (lambda: retention_what_if(0.9, 0.1, clv=3), ["clv=3 is not callable"]),
    (lambda: reward_rate(5, 0), ["points_per_reward=0"]),
    (lambda: reward_rate(5, 250, redemption_rate=1.5), ["redemption_rate=1.5"]),
    (lambda: loyalty_program_clv(0.3, 100, 0.6, 0.01, 0.02, retention_uplift=0.5),
     ["retention_uplift = 1.1", "outside [0, 1]"]),
    (lambda: loyalty_program_clv(0.3, 100, 0.6, 0.01, 2), ["reward_rate=2", "0.02 for a 2%"]),
    (lambda: break_even_retention_uplift(0.3, 0.6, 0.01, 0.02, spend_uplift=-1),
     ["spend_uplift=-1"]),
    (lambda: break_even_retention_uplift(0.3, 1.0, 0.0, 0.02), ["already infinite"]),
    (lambda: net_clv(1000, acquisition_cost=-5), ["acquisition_cost=-5"]),
    (lambda: clv_to_cac_ratio(900, 0), ["acquisition_cost=0", "divides"]),
    (lambda: max_acquisition_cost(900, 0), ["target_ratio=0"]),
    (lambda: payback_period(300, -50), ["margin_per_month=-50"]),
    (lambda: quantile_scores([1, 2], bins=1), ["bins=1"]),
    (lambda: quantile_scores([1, float("nan")]), ["finite"]),
    (lambda: abc_classes(pd.Series([1.0, -1.0])), ["finite and >= 0"]),
    (lambda: abc_classes(pd.Series([0.0, 0.0])), ["sums to 0"]),
    (lambda: abc_classes(pd.Series([1.0]), thresholds=(0.95, 0.8)), ["lower < upper"]),
    (lambda: ladder_funnel(pd.DataFrame({"x": [1]})), ["'stage' column"]),
]


@pytest.mark.parametrize("call, fragments", BAD_CALLS, ids=range(len(BAD_CALLS)))
def test_bad_arguments_are_refused_with_a_helpful_message(call, fragments):
    with pytest.raises(InvalidParameterError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert isinstance(info.value, (CLVError, ValueError))


@pytest.fixture
def small_log():
    return pd.DataFrame({
        "customer_id": [1, 1, 2, 3],
        "date": pd.to_datetime(["2024-01-03", "2024-02-05", "2024-01-20", "2024-03-01"]),
        "amount": [10.0, 20.0, 30.0, 40.0],
        "cost": [6.0, 12.0, 20.0, 25.0],
    })


def test_log_functions_report_bad_logs(small_log):
    bad = small_log.copy()
    bad.loc[1, "amount"] = -3.0
    with pytest.raises(InvalidTransactionsError, match="'amount'.*negative"):
        monthly_inputs(bad)
    with pytest.raises(InvalidTransactionsError, match=r"column\(s\) \['spend'\] not found"):
        cohort_table(small_log, amount="spend")
    bad_cost = small_log.copy()
    bad_cost.loc[0, "cost"] = float("nan")
    with pytest.raises(InvalidTransactionsError, match="'cost'"):
        formula_inputs(bad_cost, cost="cost")
    with pytest.raises(InvalidParameterError, match="either a cost-of-sales column or a margin"):
        formula_inputs(small_log, cost="cost", margin_rate=0.3)
    with pytest.raises(InvalidParameterError, match="margin_rate=30"):
        formula_inputs(small_log, margin_rate=30)
    with pytest.raises(InvalidParameterError, match="active_window=0"):
        monthly_inputs(small_log, active_window=0)
    with pytest.raises(InvalidTransactionsError, match="order column 'order'"):
        monthly_inputs(small_log, order_id="order")


def test_log_functions_parameter_errors(small_log):
    with pytest.raises(InvalidParameterError, match="value='profit'"):
        cohort_table(small_log, value="profit")
    with pytest.raises(InvalidParameterError, match="cannot be cumulated"):
        cohort_table(small_log, value="active", cumulative=True)
    with pytest.raises(InvalidParameterError, match="needs a cost-of-sales column"):
        cohort_table(small_log, value="gross_margin")
    with pytest.raises(InvalidParameterError, match="months=4 is longer than the log"):
        cohort_clv(small_log, months=4, observation_end="2024-03-31")
    with pytest.raises(InvalidParameterError, match="without share_of_wallet"):
        loyalty_ladder(small_log, referrals=pd.Series({1: 2}))
    with pytest.raises(InvalidParameterError, match="share_of_wallet must be a fraction"):
        loyalty_ladder(small_log, share_of_wallet=pd.Series({1: 1.5, 2: 0.5, 3: 0.2}))
    with pytest.raises(InvalidParameterError, match="min_active_months=0"):
        loyalty_ladder(small_log, min_active_months=0)
    with pytest.raises(InvalidParameterError, match="monetary='median'"):
        rfm_scores(small_log, monetary="median")


def test_formula_inputs_needs_a_complete_month(small_log):
    with pytest.raises(InvalidTransactionsError, match="no complete calendar month"):
        formula_inputs(small_log.iloc[:1])
    fi = formula_inputs(small_log, observation_start="2024-01-01", observation_end="2024-03-31")
    with pytest.raises(InvalidParameterError, match="pass cost= or margin_rate="):
        fi.predictive_clv()
