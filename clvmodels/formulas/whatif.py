r"""Retention what-if: how much CLV moves when retention rises.

The articles repeat that "a 5% increase in retention raises profit by 25% to
95%" (after Reichheld & Sasser 1990, "Zero defections", Harvard Business
Review). The figure depends entirely on the retention and discount rates a
business starts from. This module computes it instead of quoting it: the
change in CLV when the retention rate rises by some points (or by some
percent), alone or as a table over a grid of retention and discount rates.

With the traditional formula (:func:`clvmodels.formulas.traditional.traditional_clv`),
CLV per unit of margin is :math:`R / (1 + D - R)`. Example: R = 0.90, D = 0.10,
+5 points: 0.90 / 0.20 = 4.5 becomes 0.95 / 0.15 = 6.33, a 40.7% rise. The same
+5 points from R = 0.60 gives only +20.4%; from R = 0.95 with D = 0.05 (to R =
1.0) the CLV would become infinite.

Any other CLV function of (retention rate, discount rate) can be plugged in
through ``clv=``, for instance one built on a fitted model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError, StatisticalWarning
from clvmodels.formulas import _checks
from clvmodels.formulas.traditional import traditional_clv

__all__ = ["raised_retention_rate", "retention_what_if", "retention_what_if_table"]

_KINDS = ("points", "relative")


def raised_retention_rate(
    retention_rate: float, uplift: float, uplift_kind: str = "points"
) -> float:
    """The retention rate after an uplift.

    Parameters
    ----------
    retention_rate : float
        Retention per period before, in [0, 1].
    uplift : float
        Size of the rise as a fraction: 0.05 is five points with
        ``uplift_kind="points"`` (0.90 -> 0.95) and five percent with
        ``"relative"`` (0.90 -> 0.945). May be negative (a fall).
    uplift_kind : {"points", "relative"}

    Returns
    -------
    float

    Raises
    ------
    InvalidParameterError
        If the raised rate leaves [0, 1].

    Examples
    --------
    >>> round(raised_retention_rate(0.9, 0.05), 10)
    0.95
    >>> round(raised_retention_rate(0.9, 0.05, "relative"), 10)
    0.945
    """
    r = _checks.fraction("retention_rate", retention_rate, "0.9 for 90%")
    u = _checks.number("uplift", uplift, "0.05 for five points or five percent")
    if uplift_kind not in _KINDS:
        raise InvalidParameterError(
            f"uplift_kind={uplift_kind!r} is not one of {_KINDS}: 'points' adds the "
            "uplift to the rate, 'relative' multiplies the rate by (1 + uplift)."
        )
    new = r + u if uplift_kind == "points" else r * (1.0 + u)
    if not -1e-12 <= new <= 1.0 + 1e-12:
        raise InvalidParameterError(
            f"retention_rate={r:g} raised by {u:g} ({uplift_kind}) gives {new:g}, "
            "outside [0, 1]; a retention rate cannot exceed 100%. Use a smaller uplift."
        )
    return min(max(new, 0.0), 1.0)


def _default_clv(
    gross_margin_per_customer: float, periods: float | None
) -> Callable[[float, float], float]:
    def clv(retention_rate: float, discount_rate: float) -> float:
        return traditional_clv(
            gross_margin_per_customer, retention_rate, discount_rate, periods=periods
        )

    return clv


def retention_what_if(
    retention_rate: float,
    discount_rate: float,
    uplift: float = 0.05,
    *,
    uplift_kind: str = "points",
    gross_margin_per_customer: float = 1.0,
    periods: float | None = None,
    clv: Callable[[float, float], float] | None = None,
) -> pd.Series:
    r"""Change in CLV when the retention rate rises by ``uplift``.

    .. math::
        \Delta = \frac{\mathrm{CLV}(R') - \mathrm{CLV}(R)}{\mathrm{CLV}(R)},
        \qquad \mathrm{CLV}(R) = \frac{m R}{1 + D - R}

    Parameters
    ----------
    retention_rate : float
        R per period, in [0, 1].
    discount_rate : float
        D per period, > -1.
    uplift : float, default 0.05
        The rise: five points (0.90 -> 0.95) with ``uplift_kind="points"``,
        five percent (0.90 -> 0.945) with ``"relative"``.
    uplift_kind : {"points", "relative"}
    gross_margin_per_customer : float, default 1
        m, the margin per period (1 gives CLV per unit of margin).
    periods : float, optional
        Finite horizon of the traditional formula (default infinite).
    clv : callable, optional
        ``clv(retention_rate, discount_rate) -> float`` replacing the
        traditional formula (then ``gross_margin_per_customer`` and
        ``periods`` are not used). Any model of CLV as a function of a
        retention rate fits here.

    Returns
    -------
    Series
        ``retention_rate``, ``retention_rate_after``, ``discount_rate``,
        ``clv_before``, ``clv_after``, ``change`` (after - before) and
        ``relative_change`` ((after - before) / before; ``inf`` when the CLV
        before is 0 and after is positive).

    Warns
    -----
    StatisticalWarning
        From the traditional formula when the raised rate reaches 1 + D
        (infinite CLV).

    Examples
    --------
    >>> w = retention_what_if(0.90, 0.10, 0.05)
    >>> [round(float(w[k]), 4) for k in ("clv_before", "clv_after", "relative_change")]
    [4.5, 6.3333, 0.4074]
    """
    r = _checks.fraction("retention_rate", retention_rate, "0.9 for 90%")
    d = _checks.rate_above_minus_one("discount_rate", discount_rate)
    r_after = raised_retention_rate(r, uplift, uplift_kind)
    if clv is None:
        m = _checks.non_negative("gross_margin_per_customer", gross_margin_per_customer)
        clv = _default_clv(m, periods)
    elif not callable(clv):
        raise InvalidParameterError(
            f"clv={clv!r} is not callable; pass a function clv(retention_rate, "
            "discount_rate) -> float, or leave it out for the traditional formula."
        )
    before = float(clv(r, d))
    after = float(clv(r_after, d))
    for label, v in (("before", before), ("after", after)):
        if math.isnan(v):
            raise InvalidParameterError(
                f"the clv function returned NaN {label} the uplift (retention "
                f"{r if label == 'before' else r_after:g}, discount {d:g}); it must return "
                "a number."
            )
    change = after - before
    if before != 0 and math.isfinite(before):
        relative = change / abs(before)
    elif math.isinf(before):
        relative = 0.0 if after == before else -math.inf
    else:
        relative = 0.0 if change == 0 else math.copysign(math.inf, change)
    return pd.Series(
        {
            "retention_rate": r,
            "retention_rate_after": r_after,
            "discount_rate": d,
            "clv_before": before,
            "clv_after": after,
            "change": change,
            "relative_change": relative,
        },
        name="retention_what_if",
    )


def retention_what_if_table(
    retention_rates: Iterable[float],
    discount_rates: Iterable[float],
    uplift: float = 0.05,
    *,
    uplift_kind: str = "points",
    gross_margin_per_customer: float = 1.0,
    periods: float | None = None,
    clv: Callable[[float, float], float] | None = None,
    wide: bool = False,
) -> pd.DataFrame:
    """The retention what-if over a grid of retention and discount rates.

    Parameters
    ----------
    retention_rates, discount_rates : sequences of float
        The grid (every combination is computed).
    uplift, uplift_kind, gross_margin_per_customer, periods, clv
        As in :func:`retention_what_if`.
    wide : bool, default False
        False: one row per (retention, discount) pair with every column of
        :func:`retention_what_if`. True: the ``relative_change`` only, as a
        table with retention rates as rows and discount rates as columns.

    Returns
    -------
    DataFrame

    Warns
    -----
    StatisticalWarning
        Listing the retention rates left out because the uplift would take
        them above 1.

    Examples
    --------
    >>> t = retention_what_if_table([0.6, 0.9], [0.05, 0.10], wide=True)
    >>> t.round(3)
    discount_rate    0.05   0.10
    retention_rate
    0.6             0.219  0.204
    0.9             0.583  0.407
    """
    rs = np.asarray(list(retention_rates), dtype=float)
    ds = np.asarray(list(discount_rates), dtype=float)
    if rs.size == 0 or ds.size == 0:
        raise InvalidParameterError(
            "retention_rates and discount_rates must each hold at least one rate."
        )
    rows = []
    skipped = []
    for r in rs:
        try:
            raised_retention_rate(float(r), uplift, uplift_kind)
        except InvalidParameterError:
            if 0.0 <= r <= 1.0:
                skipped.append(float(r))
                continue
            raise
        for d in ds:
            rows.append(retention_what_if(
                float(r), float(d), uplift, uplift_kind=uplift_kind,
                gross_margin_per_customer=gross_margin_per_customer, periods=periods, clv=clv,
            ))
    if skipped:
        warnings.warn(
            f"retention rate(s) {skipped} left out: raised by {uplift:g} ({uplift_kind}) "
            "they would exceed 1.",
            StatisticalWarning,
            stacklevel=2,
        )
    if not rows:
        raise InvalidParameterError(
            f"every retention rate would exceed 1 after the uplift of {uplift:g}; "
            "use lower rates or a smaller uplift."
        )
    long = pd.DataFrame(rows).reset_index(drop=True)
    if not wide:
        return long
    return long.pivot(index="retention_rate", columns="discount_rate", values="relative_change")
