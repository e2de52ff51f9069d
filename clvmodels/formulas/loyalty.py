r"""Loyalty-program economics: reward rate, its effect on CLV, break-even retention uplift.

A loyalty program gives back a share of every purchase, the **reward rate**::

    reward rate = value of the reward x redemption rate / (points for the reward x spend per point)

The articles' examples: 1 point per $1 spent with 250 points = a $5 card gives
5 / (250 x 1) = 2%; 1 stamp per 100 spent with a gift at 50 stamps gives
gift value / 5,000 (a gift that costs the shop 150 is a 3% reward rate).

The reward lowers the margin of every purchase from ``g`` to ``g - reward
rate``; the program pays off only if it keeps customers longer (or makes them
spend more). With the traditional formula (margin ``m`` per period,
retention ``R``, discount ``D``)::

    CLV without the program = g x revenue x R / (1 + D - R)
    CLV with the program    = (g - rho) x revenue x (1 + s) x R' / (1 + D - R'),  R' = R + uplift

The **break-even retention uplift** is the uplift that makes the two equal.
With an infinite horizon and no fixed program cost it has a closed form: with
``K = CLV without / margin with``, ``R' = K (1 + D) / (1 + K)``.

Rewards are counted as a cost when earned (all points redeemed unless
``redemption_rate`` says otherwise), not when redeemed.
"""

from __future__ import annotations

import math
import warnings

import pandas as pd
from scipy.optimize import brentq

from clvmodels.errors import InvalidParameterError, StatisticalWarning
from clvmodels.formulas import _checks
from clvmodels.formulas.traditional import _discounted_sum

__all__ = ["reward_rate", "loyalty_program_clv", "break_even_retention_uplift"]


def reward_rate(
    reward_value: float, points_per_reward: float, spend_per_point: float = 1.0, *,
    redemption_rate: float = 1.0,
) -> float:
    r"""Reward rate of a points (or stamps) program, as a fraction of spend.

    .. math:: \rho = \frac{\text{reward value} \times \text{redemption rate}}
                          {\text{points per reward} \times \text{spend per point}}

    Parameters
    ----------
    reward_value : float
        What one reward costs the business (a $5 card: 5), >= 0.
    points_per_reward : float
        Points (stamps) needed for one reward, > 0.
    spend_per_point : float, default 1
        Money spent to earn one point, > 0 (1 stamp per 100 spent: 100).
    redemption_rate : float, default 1
        Share of the points that are ever redeemed, in [0, 1] (unredeemed
        points, "breakage", cost nothing).

    Returns
    -------
    float

    Examples
    --------
    One point per $1, 250 points for a $5 card:

    >>> reward_rate(5, 250)
    0.02

    One stamp per 100 spent, a gift that costs 150 at 50 stamps:

    >>> reward_rate(150, 50, spend_per_point=100)
    0.03
    """
    value = _checks.non_negative("reward_value", reward_value, "the cost of one reward")
    points = _checks.positive("points_per_reward", points_per_reward, "points for one reward")
    spend = _checks.positive("spend_per_point", spend_per_point, "money spent per point")
    redeemed = _checks.fraction("redemption_rate", redemption_rate, "share of points redeemed")
    return value * redeemed / (points * spend)


def _margin_with(
    gross_margin: float, rho: float, revenue: float, spend_uplift: float, fixed_cost: float
) -> float:
    return (gross_margin - rho) * revenue * (1.0 + spend_uplift) - fixed_cost


def _common(
    gross_margin: float, retention_rate: float, discount_rate: float, reward_rate_: float,
    revenue_per_period: float, spend_uplift: float, cost_per_customer_per_period: float,
    periods: float | None,
) -> tuple[float, float, float, float, float, float, float, float | None]:
    g = _checks.fraction("gross_margin", gross_margin, "0.3 for a 30% margin")
    r = _checks.fraction("retention_rate", retention_rate, "R per period, 0.6 for 60%")
    d = _checks.rate_above_minus_one("discount_rate", discount_rate)
    rho = _checks.fraction("reward_rate", reward_rate_, "0.02 for a 2% reward rate")
    rev = _checks.non_negative(
        "revenue_per_period", revenue_per_period, "average revenue per customer and period"
    )
    s = _checks.number("spend_uplift", spend_uplift, "relative rise in spend, 0.1 for +10%")
    if s <= -1:
        raise InvalidParameterError(
            f"spend_uplift={spend_uplift!r} must be greater than -1 (a relative change)."
        )
    c = _checks.non_negative(
        "cost_per_customer_per_period", cost_per_customer_per_period,
        "running cost of the program per customer and period",
    )
    if periods is not None:
        periods = _checks.positive("periods", periods, "the horizon in periods")
    elif r >= 1.0 + d:
        raise InvalidParameterError(
            f"retention_rate={r:g} >= 1 + discount_rate={1 + d:g}: CLV without the program "
            "is already infinite; use a positive discount rate or a finite horizon (periods=)."
        )
    return g, r, d, rho, rev, s, c, periods


def loyalty_program_clv(
    gross_margin: float,
    revenue_per_period: float,
    retention_rate: float,
    discount_rate: float,
    reward_rate: float,
    *,
    retention_uplift: float = 0.0,
    spend_uplift: float = 0.0,
    cost_per_customer_per_period: float = 0.0,
    periods: float | None = None,
) -> pd.Series:
    r"""CLV with and without a loyalty program (traditional formula).

    .. math::
        \mathrm{CLV}_0 = g\,v\,\frac{R}{1 + D - R}, \qquad
        \mathrm{CLV}_1 = \big((g - \rho)\,v\,(1 + s) - c\big)\,\frac{R'}{1 + D - R'}

    with margin rate :math:`g`, revenue per period :math:`v`, reward rate
    :math:`\rho`, spend uplift :math:`s`, program cost per customer and
    period :math:`c`, and :math:`R' = R + \text{retention uplift}`.

    Parameters
    ----------
    gross_margin : float
        Gross margin rate before rewards, in [0, 1].
    revenue_per_period : float
        Average revenue per customer and period, >= 0.
    retention_rate : float
        R per period without the program, in [0, 1].
    discount_rate : float
        D per period, > -1.
    reward_rate : float
        rho, see :func:`reward_rate`, in [0, 1].
    retention_uplift : float, default 0
        Points of retention the program adds (R' = R + uplift <= 1).
    spend_uplift : float, default 0
        Relative rise in spend per retained customer (0.1 for +10%).
    cost_per_customer_per_period : float, default 0
        Running cost of the program per retained customer and period.
    periods : float, optional
        Finite horizon (default infinite).

    Returns
    -------
    Series
        ``margin_without``, ``margin_with`` (per period), ``clv_without``,
        ``clv_with``, ``change`` and ``relative_change``.

    Examples
    --------
    30% margin, 100 a month, 60% monthly retention, 1% monthly discount, 2%
    reward rate and +5 points of retention:

    >>> out = loyalty_program_clv(0.3, 100, 0.6, 0.01, 0.02, retention_uplift=0.05)
    >>> round(float(out["clv_without"]), 2), round(float(out["clv_with"]), 2)
    (43.9, 50.56)
    """
    g, r, d, rho, rev, s, c, periods = _common(
        gross_margin, retention_rate, discount_rate, reward_rate, revenue_per_period,
        spend_uplift, cost_per_customer_per_period, periods,
    )
    u = _checks.number("retention_uplift", retention_uplift, "points of retention added")
    r1 = r + u
    if not 0.0 <= r1 <= 1.0:
        raise InvalidParameterError(
            f"retention_rate + retention_uplift = {r1:g} is outside [0, 1]; a retention "
            "rate cannot exceed 100%."
        )
    if periods is None and r1 >= 1.0 + d:
        raise InvalidParameterError(
            f"retention with the program {r1:g} >= 1 + discount_rate={1 + d:g}: its CLV "
            "would be infinite; use a positive discount rate or a finite horizon (periods=)."
        )
    m0 = g * rev
    m1 = _margin_with(g, rho, rev, s, c)
    clv0 = m0 * _discounted_sum(r / (1.0 + d), periods)
    clv1 = m1 * _discounted_sum(r1 / (1.0 + d), periods)
    change = clv1 - clv0
    rel = change / clv0 if clv0 != 0 else (0.0 if change == 0 else math.copysign(math.inf, change))
    return pd.Series({
        "margin_without": m0, "margin_with": m1, "clv_without": clv0, "clv_with": clv1,
        "change": change, "relative_change": rel,
    }, name="loyalty_program_clv")


def break_even_retention_uplift(
    gross_margin: float,
    retention_rate: float,
    discount_rate: float,
    reward_rate: float,
    *,
    revenue_per_period: float = 1.0,
    spend_uplift: float = 0.0,
    cost_per_customer_per_period: float = 0.0,
    periods: float | None = None,
) -> float:
    r"""Retention uplift (in points) at which a loyalty program pays for its rewards.

    Solves :math:`\mathrm{CLV}_1(R + u) = \mathrm{CLV}_0(R)` for :math:`u`
    (see :func:`loyalty_program_clv`). With an infinite horizon, writing
    :math:`K = \mathrm{CLV}_0 / m_1` (:math:`m_1` the margin per period with
    the program),

    .. math:: R' = \frac{K (1 + D)}{1 + K}, \qquad u = R' - R.

    With a finite horizon the equation is solved numerically (Brent).

    Parameters
    ----------
    gross_margin, retention_rate, discount_rate, reward_rate
        As in :func:`loyalty_program_clv`.
    revenue_per_period : float, default 1
        Only matters with a fixed ``cost_per_customer_per_period``.
    spend_uplift, cost_per_customer_per_period, periods
        As in :func:`loyalty_program_clv`.

    Returns
    -------
    float
        The uplift in retention points (0.05 = five points). 0 or negative
        when the program pays off without any retention gain (a spend uplift
        can do that); ``inf`` when no uplift can make it pay.

    Warns
    -----
    StatisticalWarning
        When the answer is ``inf``: the rewards eat the whole margin, or break
        even would need a retention rate above 100%.

    Examples
    --------
    30% margin, 60% retention, 1% discount per period, 2% reward rate:

    >>> round(break_even_retention_uplift(0.3, 0.6, 0.01, 0.02), 4)
    0.0167

    A 2% reward costs 1/15 of a 30% margin, and 1.7 points of retention buy it back.
    """
    g, r, d, rho, rev, s, c, periods = _common(
        gross_margin, retention_rate, discount_rate, reward_rate, revenue_per_period,
        spend_uplift, cost_per_customer_per_period, periods,
    )
    m0 = g * rev
    m1 = _margin_with(g, rho, rev, s, c)
    clv0 = m0 * _discounted_sum(r / (1.0 + d), periods)
    if m1 <= 0:
        if clv0 == 0 and m1 == 0:
            return 0.0
        warnings.warn(
            f"the program leaves a margin of {m1:g} per period (rewards of {rho:g} against a "
            f"gross margin of {g:g}): no retention uplift can make it pay.",
            StatisticalWarning,
            stacklevel=2,
        )
        return math.inf
    if periods is None:
        k = clv0 / m1
        r1 = k * (1.0 + d) / (1.0 + k)
    else:
        def gap(x: float) -> float:
            return m1 * _discounted_sum(x / (1.0 + d), periods) - clv0

        if gap(0.0) >= 0:
            r1 = 0.0
        elif gap(1.0) < 0:
            r1 = math.inf
        else:
            r1 = brentq(gap, 0.0, 1.0, xtol=1e-14, rtol=1e-14)
    if r1 > 1.0:
        warnings.warn(
            f"break even would need a retention rate of {r1:.4g} > 1 (from {r:g}): no "
            "retention uplift can pay for this program.",
            StatisticalWarning,
            stacklevel=2,
        )
        return math.inf
    return r1 - r
