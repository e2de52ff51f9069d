r"""Lifetime value as S x C x P x T.

The article's formula multiplies four averages of one customer::

    LTV = S x C x P x T

    S  average check (average order value)
    C  average number of purchases per month
    P  profitability: the share of the check that is profit
    T  average customer lifetime, in months

The article gives no worked example and does not say whether P is a percentage
or a fraction. Here P is a **fraction** in [0, 1]; a value above 1 is refused
with a message that says so (27 is almost certainly 27%, i.e. 0.27: the same
slip made the predictive-CLV article print 1,296,000 instead of 12,960).

It is the per-customer twin of the predictive formula
(:func:`clvmodels.formulas.predictive.predictive_clv`): S x C is a customer's
revenue per month, P turns it into profit, T counts the months.
"""

from __future__ import annotations

from clvmodels.errors import InvalidParameterError
from clvmodels.formulas import _checks

__all__ = ["scpt_ltv"]


def scpt_ltv(
    average_check: float, purchases_per_month: float, profitability: float,
    lifetime_months: float,
) -> float:
    r"""LTV = S x C x P x T.

    .. math:: \mathrm{LTV} = S \cdot C \cdot P \cdot T

    Parameters
    ----------
    average_check : float
        S, the average value of a purchase, >= 0.
    purchases_per_month : float
        C, the average number of purchases per customer per month, >= 0.
    profitability : float
        P, profit as a share of the check: a fraction in [0, 1] (0.2 for 20%).
    lifetime_months : float
        T, the average customer lifetime in months, > 0 (for instance
        ``1 / monthly churn``, see
        :func:`clvmodels.formulas.retention.average_lifetime`).

    Returns
    -------
    float

    Raises
    ------
    InvalidParameterError
        For a negative input, a zero lifetime, or P outside [0, 1] (the
        message says that P is a fraction, not a percentage).

    Examples
    --------
    A check of 50, 2 purchases a month, 20% profitability, 18 months:

    >>> scpt_ltv(50, 2, 0.2, 18)
    360.0
    """
    s = _checks.non_negative("average_check", average_check, "S, the average purchase value")
    c = _checks.count(
        "purchases_per_month", purchases_per_month, "C, purchases per customer per month"
    )
    p = _checks.number("profitability", profitability, "P, a fraction in [0, 1]")
    if not 0.0 <= p <= 1.0:
        hint = f" Did you mean {p / 100:g} ({p:g}%)?" if 1.0 < p <= 100.0 else ""
        raise InvalidParameterError(
            f"profitability={profitability!r} is outside [0, 1]: P is the share of the "
            "check that is profit, given as a fraction (0.2 for 20%), not a percentage."
            + hint
        )
    t = _checks.positive("lifetime_months", lifetime_months, "T, the average lifetime in months")
    return s * c * p * t
