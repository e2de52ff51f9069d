r"""Predictive CLV of a customer base: T x AOV x AGM x ALT.

The formula multiplies four averages measured on the customer base::

    T   = transactions / months                  average transactions per month
    AOV = revenue / orders                       average order value
    GM  = (revenue - cost of sales) / revenue    gross margin of a period
    AGM = mean of the monthly gross margins      average gross margin
    churn = (customers at start - customers at end) / customers at start
    ALT = 1 / churn                              average lifetime, in months
    CLV (customer base) = T x AOV x AGM x ALT
    CLV per customer    = CLV (customer base) / customers

Source example: 120 transactions in 6 months (T = 20), revenue 12,000 over 20
orders (AOV = 600), cost of sales 8,000 (GM = 33.3%, printed 33%), monthly
gross margins summing to 1.64 over 6 months (AGM = 27.3%, printed 27%), 200
customers at the start and 150 at the end (churn = 25%, ALT = 4 months)::

    CLV = 20 x 600 x 0.27 x 4 = 12,960        per customer 12,960 / 150 = 86.40

Erratum. The article prints 1,296,000 and 8,640: it multiplied by 27 (the
margin in percent) instead of 0.27. With the unrounded AGM = 1.64 / 6 the
figures are 13,120 and 87.47.

T x AOV is the base's revenue per month, AGM turns it into gross margin and
ALT = 1 / churn = sum over k >= 0 of (1 - churn)^k counts the months, each
weighted by the share of the base still there: the formula is the undiscounted
gross margin of the current base if its monthly activity decays geometrically.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from clvmodels.errors import InvalidParameterError
from clvmodels.formulas import _checks

__all__ = [
    "average_transactions_per_month",
    "average_order_value",
    "gross_margin",
    "average_gross_margin",
    "predictive_clv",
]


def average_transactions_per_month(transactions: float, months: float) -> float:
    """Average number of transactions per month (the formula's T).

    Parameters
    ----------
    transactions : float
        Transactions of the whole base over the period, >= 0.
    months : float
        Length of the period in months, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> average_transactions_per_month(120, 6)
    20.0
    """
    n = _checks.count("transactions", transactions, "transactions over the period")
    m = _checks.positive("months", months, "the length of the period in months")
    return n / m


def average_order_value(revenue: float, orders: float) -> float:
    """Average order value (AOV): revenue divided by the number of orders.

    Parameters
    ----------
    revenue : float
        Revenue of the orders, >= 0.
    orders : float
        Number of orders, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> average_order_value(12_000, 20)
    600.0
    """
    revenue = _checks.non_negative("revenue", revenue, "revenue of the orders")
    orders = _checks.positive("orders", orders, "AOV divides the revenue by the number of orders")
    return revenue / orders


def gross_margin(revenue: float, cost_of_sales: float) -> float:
    """Gross margin of a period as a fraction of revenue: ``(revenue - cost) / revenue``.

    Parameters
    ----------
    revenue : float
        Revenue, > 0.
    cost_of_sales : float
        Cost of the goods sold, 0 <= cost <= revenue.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    InvalidParameterError
        If the cost exceeds the revenue (a negative margin, outside the
        formulas' domain) or is negative.

    Examples
    --------
    >>> round(gross_margin(12_000, 8_000), 4)
    0.3333
    """
    revenue = _checks.positive("revenue", revenue, "the margin is a share of revenue")
    cost = _checks.non_negative("cost_of_sales", cost_of_sales, "cost of the goods sold")
    if cost > revenue:
        raise InvalidParameterError(
            f"cost_of_sales={cost_of_sales!r} exceeds revenue={revenue!r}: the gross margin "
            "would be negative, outside the [0, 1] range the CLV formulas assume; check "
            "that both cover the same sales and the same period."
        )
    return (revenue - cost) / revenue


def average_gross_margin(monthly_gross_margins: Iterable[float]) -> float:
    """Average gross margin (AGM): the plain mean of the monthly gross margins.

    Parameters
    ----------
    monthly_gross_margins : sequence of float
        One gross margin per month, each a fraction in [0, 1].

    Returns
    -------
    float

    Notes
    -----
    This is the article's unweighted mean: a month of low sales weighs as much
    as a month of high sales. The revenue-weighted mean is the period's
    :func:`gross_margin`.

    Examples
    --------
    Six monthly margins summing to 1.64, as in the source (the split is illustrative):

    >>> round(average_gross_margin([0.30, 0.25, 0.28, 0.26, 0.27, 0.28]), 4)
    0.2733
    """
    values = list(monthly_gross_margins) if not isinstance(monthly_gross_margins, str) else None
    if not values:
        raise InvalidParameterError(
            "monthly_gross_margins is empty (or not a sequence of numbers); pass one "
            "gross margin per month, as fractions."
        )
    checked = [
        _checks.fraction(f"monthly_gross_margins[{i}]", v, "a monthly gross margin")
        for i, v in enumerate(values)
    ]
    return float(np.mean(checked))


def predictive_clv(
    transactions_per_month: float,
    average_order_value: float,
    average_gross_margin: float,
    average_lifetime_months: float,
    *,
    customers: float | None = None,
) -> float:
    r"""Predictive CLV: T x AOV x AGM x ALT, for the base or per customer.

    .. math:: \mathrm{CLV} = T \cdot \mathrm{AOV} \cdot \mathrm{AGM} \cdot \mathrm{ALT}
              \quad\left(/\ \text{customers}\right)

    Parameters
    ----------
    transactions_per_month : float
        T, average transactions per month of the whole base, >= 0.
    average_order_value : float
        AOV, >= 0.
    average_gross_margin : float
        AGM as a fraction in [0, 1] (0.27, not 27).
    average_lifetime_months : float
        ALT = 1 / monthly churn, in months, > 0.
    customers : float, optional
        When given (> 0), the base's CLV is divided by it to give the CLV per
        customer; the article divides by the customers at the end of the period.

    Returns
    -------
    float

    Notes
    -----
    Erratum: the source prints 1,296,000 for the base and 8,640 per customer,
    having multiplied by 27 instead of 0.27; the right figures are 12,960 and
    86.40. The package refuses a margin above 1 so the slip cannot recur.

    Examples
    --------
    >>> predictive_clv(20, 600, 0.27, 4)
    12960.0
    >>> round(predictive_clv(20, 600, 0.27, 4, customers=150), 2)
    86.4
    """
    t = _checks.count("transactions_per_month", transactions_per_month, "T, transactions per month")
    aov = _checks.non_negative("average_order_value", average_order_value, "AOV")
    agm = _checks.fraction(
        "average_gross_margin", average_gross_margin, "AGM, 0.27 for a 27% margin"
    )
    alt = _checks.positive(
        "average_lifetime_months", average_lifetime_months, "ALT = 1 / monthly churn, in months"
    )
    clv = t * aov * agm * alt
    if customers is not None:
        clv /= _checks.positive(
            "customers", customers, "the CLV per customer divides the base's CLV by it"
        )
    return clv
