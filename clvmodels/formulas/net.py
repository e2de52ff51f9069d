r"""Net CLV, CLV:CAC ratio, maximum affordable acquisition cost and payback period.

CLV as the formulas give it is a gross margin. What a customer is worth to the
business is what is left after the costs of winning and serving them::

    net CLV            = CLV - CAC - service and support costs - logistics - other costs
    CLV:CAC            = CLV / CAC           (a common rule of thumb asks for 3 or more)
    max affordable CAC = CLV / target ratio  (the CAC at which CLV:CAC equals the target)
    payback period     = months until the expected margin repays the CAC

All costs are per customer and over the same lifetime as the CLV. A cost that
recurs every period (support, say) is better subtracted from the margin per
period before computing the CLV, so that it is retained and discounted like
the margin; the totals here are for costs already summed over the lifetime.
"""

from __future__ import annotations

import math
import warnings

from clvmodels.errors import StatisticalWarning
from clvmodels.formulas import _checks

__all__ = ["net_clv", "clv_to_cac_ratio", "max_acquisition_cost", "payback_period"]


def net_clv(
    clv: float, *, acquisition_cost: float = 0.0, service_cost: float = 0.0,
    logistics_cost: float = 0.0, other_costs: float = 0.0,
) -> float:
    r"""CLV net of the costs of winning and serving the customer.

    .. math:: \mathrm{CLV}_{net} = \mathrm{CLV} - \mathrm{CAC} - C_{service}
              - C_{logistics} - C_{other}

    Parameters
    ----------
    clv : float
        Gross CLV (margin) of a customer.
    acquisition_cost : float, default 0
        CAC: marketing and sales spent to win one customer, >= 0.
    service_cost : float, default 0
        Support and service costs over the lifetime, >= 0.
    logistics_cost : float, default 0
        Delivery and returns over the lifetime, >= 0.
    other_costs : float, default 0
        Anything else attributable to the customer, >= 0.

    Returns
    -------
    float
        May be negative: the customer costs more than they bring.

    Examples
    --------
    >>> round(net_clv(1157.14, acquisition_cost=300, service_cost=120, logistics_cost=80), 2)
    657.14
    """
    value = _checks.number("clv", clv, "the gross CLV of a customer")
    costs = [
        _checks.non_negative("acquisition_cost", acquisition_cost, "CAC per customer"),
        _checks.non_negative("service_cost", service_cost, "service costs per customer"),
        _checks.non_negative("logistics_cost", logistics_cost, "logistics costs per customer"),
        _checks.non_negative("other_costs", other_costs, "other costs per customer"),
    ]
    return value - math.fsum(costs)


def clv_to_cac_ratio(clv: float, acquisition_cost: float) -> float:
    """CLV:CAC, the value of a customer per unit spent to win them.

    Parameters
    ----------
    clv : float
        Gross CLV of a customer (before the acquisition cost), >= 0.
    acquisition_cost : float
        CAC, > 0.

    Returns
    -------
    float

    Notes
    -----
    A ratio of 3 or more is a common target; below 1 the business loses money
    on each customer it wins.

    Examples
    --------
    >>> clv_to_cac_ratio(900, 300)
    3.0
    """
    value = _checks.non_negative("clv", clv, "the gross CLV of a customer")
    cac = _checks.positive(
        "acquisition_cost", acquisition_cost, "the ratio divides CLV by the acquisition cost"
    )
    return value / cac


def max_acquisition_cost(clv: float, target_ratio: float = 3.0) -> float:
    """Highest acquisition cost that keeps CLV:CAC at the target: ``CLV / target``.

    Parameters
    ----------
    clv : float
        Gross CLV of a customer, >= 0.
    target_ratio : float, default 3
        The CLV:CAC ratio the business wants, > 0 (1 = break even).

    Returns
    -------
    float

    Examples
    --------
    >>> round(max_acquisition_cost(1157.14, target_ratio=3), 2)
    385.71
    """
    value = _checks.non_negative("clv", clv, "the gross CLV of a customer")
    target = _checks.positive("target_ratio", target_ratio, "the CLV:CAC ratio wanted, e.g. 3")
    return value / target


def payback_period(
    acquisition_cost: float, margin_per_month: float, *, retention_rate: float = 1.0,
    discount_rate: float = 0.0,
) -> float:
    r"""Months until a customer's expected margin repays their acquisition cost.

    Without churn or discounting it is :math:`\mathrm{CAC} / m`. With a monthly
    retention :math:`R` and discount rate :math:`D`, the expected discounted
    margin after :math:`n` months is :math:`m\,q\,(1 - q^n) / (1 - q)` with
    :math:`q = R / (1 + D)`, and the payback period solves it equal to CAC:

    .. math:: n = \frac{\ln\!\left(1 - \mathrm{CAC}\,(1 - q) / (m q)\right)}{\ln q}

    Parameters
    ----------
    acquisition_cost : float
        CAC, >= 0.
    margin_per_month : float
        Gross margin a retained customer brings per month, >= 0.
    retention_rate : float, default 1
        Monthly retention, in [0, 1].
    discount_rate : float, default 0
        Monthly discount rate, > -1.

    Returns
    -------
    float
        In months (fractional; take ``math.ceil`` for whole months). ``inf``
        when the margin never repays the CAC.

    Warns
    -----
    StatisticalWarning
        When the result is ``inf``: the whole expected lifetime margin is less
        than the CAC.

    Examples
    --------
    >>> payback_period(300, 50)
    6.0
    >>> round(payback_period(300, 50, retention_rate=0.95), 2)
    7.4
    """
    cac = _checks.non_negative("acquisition_cost", acquisition_cost, "CAC per customer")
    m = _checks.non_negative("margin_per_month", margin_per_month, "margin per customer-month")
    r = _checks.fraction("retention_rate", retention_rate, "monthly retention, 0.95 for 95%")
    d = _checks.rate_above_minus_one("discount_rate", discount_rate)
    if cac == 0:
        return 0.0
    q = r / (1.0 + d)
    one_minus_q = (1.0 + d - r) / (1.0 + d)  # accurate when q is close to 1
    if m == 0 or q == 0:
        total = 0.0
    elif one_minus_q <= 0:
        total = math.inf
    else:
        total = m * q / one_minus_q
    if total <= cac:
        warnings.warn(
            f"the expected lifetime margin ({total:.6g}) never exceeds the acquisition cost "
            f"({cac:g}): no payback. Raise the margin or retention, or lower the CAC.",
            StatisticalWarning,
            stacklevel=2,
        )
        return math.inf
    if one_minus_q == 0:
        return cac / m
    log_q = math.log(r) - math.log1p(d)
    # m q (1 - q^n) / (1 - q) = CAC  <=>  q^n = 1 - CAC (1 - q) / (m q)
    x = -cac * one_minus_q / (m * q)
    return math.log1p(x) / log_q
