"""Historical CLV: average revenue per user (ARPU) over a period, scaled to a year.

The simplest practitioners' CLV looks backwards. Over a period of
``period_months`` months, ``customers`` customers brought ``revenue``::

    ARPU(period)        = revenue / customers
    ARPU(12 months)     = ARPU(period) * 12 / period_months
    historical CLV      = ARPU(12 months)           (times lifetime_years, default 1)

Pass gross profit instead of revenue to get a profit-based historical CLV.

Source example: 20 customers brought $1,240 in 3 months, so ARPU(3 months) = 62,
ARPU(12 months) = 62 x 4 = 248 = historical CLV.
"""

from __future__ import annotations

from clvmodels.formulas import _checks

__all__ = ["average_revenue_per_user", "annualized_arpu", "historical_clv"]


def average_revenue_per_user(revenue: float, customers: float) -> float:
    """Average revenue per user (ARPU) over the period the revenue covers.

    .. math:: \\mathrm{ARPU} = \\frac{\\text{revenue}}{\\text{customers}}

    Parameters
    ----------
    revenue : float
        Revenue (or gross profit) brought by the customers in the period, >= 0.
    customers : float
        Number of customers who brought it, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> average_revenue_per_user(1240, 20)
    62.0
    """
    revenue = _checks.non_negative("revenue", revenue, "the revenue of the period")
    customers = _checks.positive(
        "customers", customers,
        "ARPU divides the revenue by the number of customers who brought it",
    )
    return revenue / customers


def annualized_arpu(revenue: float, customers: float, period_months: float) -> float:
    """ARPU scaled to twelve months: ``revenue / customers * 12 / period_months``.

    Parameters
    ----------
    revenue : float
        Revenue (or gross profit) of the period, >= 0.
    customers : float
        Number of customers who brought it, > 0.
    period_months : float
        Length of the period in months, > 0 (3 for a quarter).

    Returns
    -------
    float

    Examples
    --------
    >>> annualized_arpu(1240, 20, 3)
    248.0
    """
    arpu = average_revenue_per_user(revenue, customers)
    period_months = _checks.positive(
        "period_months", period_months, "the length in months of the period the revenue covers"
    )
    return arpu * 12.0 / period_months


def historical_clv(
    revenue: float, customers: float, period_months: float, *, lifetime_years: float = 1.0
) -> float:
    """Historical CLV: the annual average revenue per customer.

    .. math:: \\mathrm{CLV}_{hist} = \\frac{\\text{revenue}}{\\text{customers}}
              \\cdot \\frac{12}{\\text{period\\_months}} \\cdot \\text{lifetime\\_years}

    The articles define historical CLV as one year of ARPU (``lifetime_years=1``);
    pass an expected lifetime in years to extend it. The formula assumes the
    past period is representative and that every customer stays the whole
    lifetime: it ignores churn, discounting and the spread between customers.

    Parameters
    ----------
    revenue : float
        Revenue (or gross profit, for a profit-based CLV) of the period, >= 0.
    customers : float
        Number of customers who brought it, > 0.
    period_months : float
        Length of the period in months, > 0.
    lifetime_years : float, default 1
        Number of years of ARPU to count, > 0.

    Returns
    -------
    float

    Examples
    --------
    The articles' example: 20 customers brought $1,240 in 3 months.

    >>> historical_clv(1240, 20, 3)
    248.0
    """
    lifetime_years = _checks.positive(
        "lifetime_years", lifetime_years, "the number of years of ARPU counted"
    )
    return annualized_arpu(revenue, customers, period_months) * lifetime_years
