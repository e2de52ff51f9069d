r"""Traditional CLV with retention and discount: GML x R / (1 + D - R).

A customer brings a gross margin ``GML`` per period while retained. Each period
they stay with probability ``R`` (retention rate) and money is discounted at
rate ``D`` per period. The expected discounted margin, counted from the end of
the first period, is a geometric series::

    CLV = sum_{t >= 1} GML * R^t / (1 + D)^t = GML * R / (1 + D - R)

which converges only when ``R < 1 + D``. The inputs::

    GML = gross margin x average total revenue per customer (per period)
    R   = (CE - CN) / CB     (customers at the end, new customers, customers at
                              the beginning of the period; see
                              :func:`clvmodels.formulas.retention.retention_rate`)

Source example: gross margin 27% of an average revenue per customer of 900
(GML = 243); CE = 250, CN = 50, CB = 220 so R = 200 / 220 = 0.909, which the
article rounds to 0.9; D = 10%::

    CLV = 243 x 0.9 / (1 + 0.1 - 0.9) = 1,093.50       (article, R rounded to 0.9)
    CLV = 243 x 0.9091 / (1.1 - 0.9091) = 1,157.14     (exact R = 200 / 220)

Rounding R from 0.909 to 0.9 moves the CLV by 5.5%: the closed form is very
sensitive to R near 1 + D, so keep R unrounded.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from clvmodels.errors import InvalidParameterError, StatisticalWarning
from clvmodels.formulas import _checks

__all__ = [
    "gross_margin_per_customer",
    "traditional_clv",
    "retained_margin_schedule",
]


def gross_margin_per_customer(gross_margin: float, average_revenue_per_customer: float) -> float:
    """Gross margin per customer and period (GML): margin rate times revenue per customer.

    Parameters
    ----------
    gross_margin : float
        Gross margin as a fraction of revenue, in [0, 1].
    average_revenue_per_customer : float
        Average total revenue per customer over one period, >= 0.

    Returns
    -------
    float

    Examples
    --------
    >>> round(gross_margin_per_customer(0.27, 900), 10)
    243.0
    """
    g = _checks.fraction("gross_margin", gross_margin, "0.27 for a 27% margin")
    rev = _checks.non_negative(
        "average_revenue_per_customer", average_revenue_per_customer,
        "revenue per customer and period",
    )
    return g * rev


def _discounted_sum(q: float, periods: float | None) -> float:
    """sum_{t=1}^{n} q^t (n = infinity when periods is None), for q >= 0."""
    if q == 0.0:
        return 0.0
    if periods is None:
        return q / (1.0 - q)
    if abs(1.0 - q) < 1e-12:
        return float(periods)
    # q (1 - q^n) / (1 - q), with expm1 for accuracy when q^n is close to 1.
    return q * -math.expm1(periods * math.log(q)) / (1.0 - q)


def traditional_clv(
    gross_margin_per_customer: float, retention_rate: float, discount_rate: float, *,
    periods: float | None = None,
) -> float:
    r"""Traditional CLV: expected discounted gross margin of a retained customer.

    .. math::
        \mathrm{CLV} = \sum_{t=1}^{\infty} \frac{m\,R^t}{(1+D)^t}
                     = \frac{m\,R}{1 + D - R}

    with :math:`m` the gross margin per customer and period (GML), :math:`R`
    the retention rate and :math:`D` the discount rate per period. With
    ``periods = n`` the sum stops at :math:`t = n`:
    :math:`m\,q\,(1 - q^n) / (1 - q)` with :math:`q = R / (1 + D)`.

    Parameters
    ----------
    gross_margin_per_customer : float
        GML, the margin a retained customer brings per period, >= 0.
    retention_rate : float
        R per period, in [0, 1].
    discount_rate : float
        D per period, as a fraction (0.1 for 10%), > -1.
    periods : float, optional
        Horizon in periods (> 0; a non-integer value interpolates the
        geometric sum). Default: infinite horizon, the closed form above.

    Returns
    -------
    float
        ``inf`` (with a warning) when the infinite series diverges.

    Warns
    -----
    StatisticalWarning
        When ``R >= 1 + D`` with an infinite horizon: the series does not
        converge (CLV is infinite); the closed form would give a negative or
        undefined value, which is not returned.

    Notes
    -----
    The first margin is counted at the end of the first period, after one
    retention and one discount (Gupta & Lehmann 2003, "Customers as assets",
    J. Interactive Marketing 17(1)). The variant that also counts a margin at
    time 0 is :math:`m (1 + D) / (1 + D - R)` = this value + m.

    Erratum: the source rounds R = 200 / 220 = 0.909 to 0.9 and reports
    1,093.50; with the exact R the CLV is 1,157.14.

    Examples
    --------
    >>> round(traditional_clv(243, 0.9, 0.10), 2)
    1093.5
    >>> round(traditional_clv(243, 200 / 220, 0.10), 2)
    1157.14
    >>> round(traditional_clv(243, 0.9, 0.10, periods=12), 2)
    995.1
    """
    m = _checks.non_negative(
        "gross_margin_per_customer", gross_margin_per_customer,
        "GML, gross margin x average revenue per customer and period",
    )
    r = _checks.fraction("retention_rate", retention_rate, "R per period, 0.9 for 90%")
    d = _checks.rate_above_minus_one("discount_rate", discount_rate)
    if periods is not None:
        periods = _checks.positive("periods", periods, "the horizon in periods")
    elif r >= 1.0 + d:
        warnings.warn(
            f"retention_rate={r:g} >= 1 + discount_rate={1 + d:g}: the geometric series "
            "of discounted retained margins does not converge, so CLV is infinite. Use a "
            "positive discount rate, a retention rate below 1, or a finite horizon "
            "(periods=).",
            StatisticalWarning,
            stacklevel=2,
        )
        return math.inf
    return m * _discounted_sum(r / (1.0 + d), periods)


def retained_margin_schedule(
    gross_margin_per_customer: float, retention_rate: float, discount_rate: float, periods: float
) -> np.ndarray:
    r"""The terms of the traditional CLV, period by period.

    Term :math:`t` (:math:`t = 1, \dots, n`) is :math:`m R^t / (1 + D)^t`: the
    margin of period :math:`t`, weighted by the probability that the customer
    is still there, discounted to today. Their sum is
    ``traditional_clv(..., periods=n)``.

    Parameters
    ----------
    gross_margin_per_customer, retention_rate, discount_rate
        As in :func:`traditional_clv`.
    periods : int
        Number of periods, >= 1.

    Returns
    -------
    ndarray of float, length ``periods``

    Examples
    --------
    >>> retained_margin_schedule(100, 0.5, 0.0, 3).tolist()
    [50.0, 25.0, 12.5]
    """
    m = _checks.non_negative("gross_margin_per_customer", gross_margin_per_customer)
    r = _checks.fraction("retention_rate", retention_rate, "R per period")
    d = _checks.rate_above_minus_one("discount_rate", discount_rate)
    n = _checks.positive("periods", periods, "the number of periods")
    if not float(n).is_integer():
        raise InvalidParameterError(
            f"periods={periods!r} must be a whole number of periods for a schedule."
        )
    t = np.arange(1, int(n) + 1, dtype=float)
    return m * np.power(r / (1.0 + d), t)
