r"""Customer segmentation: the loyalty ladder, ABC-XYZ analysis and RFM scores.

The articles name these segmentations without thresholds. The defaults below
are **our conventions**, documented with their reasons; every threshold is a
parameter.

Loyalty ladder
    From a transaction log: *buyer* (one purchase day), *customer* (repeat
    purchase), *regular customer* (buys systematically: at least
    ``min_active_months`` distinct calendar months with a purchase, default 3,
    **and** a coefficient of variation of the days between purchases at most
    ``max_interpurchase_cv``, default 1.0, the value of purely random Poisson
    buying: below it, purchases are more regular than chance). The last rungs
    need data a transaction log lacks: *adherent* (buys only from you: share of
    wallet at least ``adherent_min_share_of_wallet``, default 0.9) and *brand
    advocate* (an adherent who recommends you: at least ``advocate_min_referrals``
    referrals, default 1). They are computed only when ``share_of_wallet`` /
    ``referrals`` are supplied. :func:`ladder_funnel` turns the ladder into a
    funnel with the conversion rate between rungs.

ABC-XYZ
    ABC by each customer's share of revenue: customers are ranked by revenue
    and a customer is A while the customers ranked above hold less than 80% of
    revenue, B below 95%, C beyond (``abc_thresholds=(0.8, 0.95)``): A is the
    smallest group of top customers that brings at least 80%. XYZ by the
    regularity of spend: the coefficient of variation (population standard
    deviation / mean) of the customer's revenue per calendar month (or quarter,
    or year), over the months from their first purchase to the end of
    observation (months without purchases count as 0); X up to 10%, Y up to 25%, Z above
    (``xyz_thresholds=(0.10, 0.25)``, the usual inventory conventions). A
    customer observed for fewer than ``min_periods`` months (default 2), or
    without any spend, has no CV and is classed Z (not enough history to call
    them regular).

RFM
    Recency (days from the last purchase to the end of observation; more
    recent scores higher), frequency (purchase days) and monetary value (mean
    spend per purchase day, or total) each scored 1-5 by quantile:
    ``score = 1 + floor(5 x share of customers with a strictly worse value)``,
    so equal values always get equal scores, the worst value always scores 1,
    and distinct values fall in equal quintiles. Segments by the R and F
    scores, the widely used 10-segment grid (:data:`RFM_SEGMENTS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvmodels._typing import DateLike
from clvmodels.errors import InvalidParameterError, InvalidTransactionsError
from clvmodels.formulas import _checks, _log

__all__ = [
    "LADDER_STAGES",
    "loyalty_ladder",
    "ladder_funnel",
    "abc_classes",
    "xyz_classes",
    "abc_xyz_analysis",
    "abc_xyz_matrix",
    "quantile_scores",
    "RFM_SEGMENTS",
    "rfm_segment",
    "rfm_scores",
]

#: The rungs of the loyalty ladder, lowest first.
LADDER_STAGES = ("buyer", "customer", "regular", "adherent", "advocate")


# ---------------------------------------------------------------------------
# Loyalty ladder


def _customer_attribute(
    values: str | pd.Series | None, name: str, transactions: pd.DataFrame, customer_id: str,
    date: str, customers: pd.Index,
) -> pd.Series | None:
    """A per-customer attribute given as a column name of the log or a Series by customer."""
    if values is None:
        return None
    if isinstance(values, str):
        if values not in transactions.columns:
            raise InvalidTransactionsError(
                f"{name}={values!r}: no such column in the transactions (they have "
                f"{list(transactions.columns)})."
            )
        frame = transactions[[customer_id, date, values]].dropna(subset=[values])
        frame = frame.sort_values(date, kind="stable")
        series = frame.groupby(customer_id)[values].last()
    elif isinstance(values, pd.Series):
        if not values.index.is_unique:
            raise InvalidParameterError(
                f"{name} has duplicate customer ids in its index; give one value per customer."
            )
        series = values
    else:
        raise InvalidParameterError(
            f"{name} must be a column name of the transactions or a Series indexed by "
            f"customer id, not {type(values).__name__}."
        )
    series = pd.to_numeric(series, errors="coerce").reindex(customers)
    return series


def loyalty_ladder(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    *,
    min_active_months: int = 3,
    max_interpurchase_cv: float = 1.0,
    share_of_wallet: str | pd.Series | None = None,
    referrals: str | pd.Series | None = None,
    adherent_min_share_of_wallet: float = 0.9,
    advocate_min_referrals: float = 1,
    observation_end: DateLike | None = None,
) -> pd.DataFrame:
    """Place each customer on the loyalty ladder.

    Parameters
    ----------
    transactions : DataFrame
        The log, one row per purchase.
    customer_id, date : str
        Column names.
    min_active_months : int, default 3
        Distinct calendar months with a purchase a regular customer needs.
    max_interpurchase_cv : float, default 1.0
        Highest coefficient of variation (population standard deviation /
        mean) of the days between consecutive purchase days for a regular
        customer. 1 is what random (Poisson) buying gives.
    share_of_wallet : str or Series, optional
        Share of the customer's category spending that goes to you, in [0, 1]
        (survey or panel data): a column of the log (the customer's latest
        value is used) or a Series indexed by customer id. Enables the
        *adherent* rung.
    referrals : str or Series, optional
        Number of customers each customer referred, >= 0. Enables the
        *advocate* rung (with ``share_of_wallet``).
    adherent_min_share_of_wallet : float, default 0.9
        Share of wallet from which a regular customer counts as buying only from you.
    advocate_min_referrals : float, default 1
        Referrals from which an adherent counts as an advocate.
    observation_end : date-like, optional
        As-of date; later purchases are left out.

    Returns
    -------
    DataFrame
        Indexed by customer: ``purchases`` (purchase days), ``active_months``,
        ``interpurchase_cv`` (NaN with fewer than two gaps between purchases),
        [``share_of_wallet``], [``referrals``] and ``stage`` (ordered
        categorical of :data:`LADDER_STAGES`). ``attrs["stages"]``: the rungs
        the data can measure.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 2, 3, 3, 3],
    ...     "date": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-03-01",
    ...                             "2024-01-10", "2024-02-10", "2024-03-12"])})
    >>> loyalty_ladder(log)["stage"].tolist()
    ['buyer', 'customer', 'regular']
    """
    if (
        isinstance(min_active_months, bool)
        or not isinstance(min_active_months, (int, np.integer))
        or min_active_months < 1
    ):
        raise InvalidParameterError(
            f"min_active_months={min_active_months!r} must be a whole number of months >= 1."
        )
    max_cv = _checks.non_negative("max_interpurchase_cv", max_interpurchase_cv,
                                  "1 is the CV of random (Poisson) buying")
    min_share = _checks.fraction("adherent_min_share_of_wallet", adherent_min_share_of_wallet)
    min_ref = _checks.non_negative("advocate_min_referrals", advocate_min_referrals)
    if referrals is not None and share_of_wallet is None:
        raise InvalidParameterError(
            "referrals were given without share_of_wallet: a brand advocate is an adherent "
            "(buys only from you) who recommends you, so the advocate rung needs both."
        )
    cd = _log.customer_days(transactions, customer_id, date, None, observation_end=observation_end)
    f = cd.frame
    codes = f["code"].to_numpy()
    days = f["day"].to_numpy()
    n = len(cd.customers)
    purchases = np.bincount(codes, minlength=n)
    month_codes, _ = _log.unique_pairs(codes, f["month"].to_numpy())
    active_months = np.bincount(month_codes, minlength=n)
    same = np.r_[False, codes[1:] == codes[:-1]]
    gaps = np.diff(days, prepend=days[0]).astype(float)[same]
    gap_codes = codes[same]
    cnt = np.bincount(gap_codes, minlength=n)
    s1 = np.bincount(gap_codes, weights=gaps, minlength=n)
    s2 = np.bincount(gap_codes, weights=gaps ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / cnt
        var = np.maximum(s2 / cnt - mean ** 2, 0.0)
        cv = np.where(cnt >= 2, np.sqrt(var) / mean, np.nan)
    out = pd.DataFrame(
        {"purchases": purchases, "active_months": active_months, "interpurchase_cv": cv},
        index=cd.customers,
    )
    level = np.where(purchases >= 2, 1, 0)
    regular = (level == 1) & (active_months >= min_active_months) & (cnt >= 2) & (cv <= max_cv)
    level = np.where(regular, 2, level)
    stages = list(LADDER_STAGES[:3])
    sow = _customer_attribute(share_of_wallet, "share_of_wallet", transactions, customer_id,
                              date, cd.customers)
    if sow is not None:
        bad = sow.dropna()
        bad = bad[(bad < 0) | (bad > 1)]
        if len(bad):
            raise InvalidParameterError(
                f"share_of_wallet must be a fraction in [0, 1]; {len(bad)} customer(s) have "
                f"other values, e.g. customer {bad.index[0]!r}: {bad.iloc[0]!r}."
            )
        out["share_of_wallet"] = sow.to_numpy()
        adherent = (level == 2) & (sow.to_numpy() >= min_share)
        level = np.where(adherent, 3, level)
        stages.append("adherent")
    ref = _customer_attribute(referrals, "referrals", transactions, customer_id, date,
                              cd.customers)
    if ref is not None:
        bad = ref.dropna()
        bad = bad[bad < 0]
        if len(bad):
            raise InvalidParameterError(
                f"referrals must be >= 0; customer {bad.index[0]!r} has {bad.iloc[0]!r}."
            )
        out["referrals"] = ref.to_numpy()
        advocate = (level == 3) & (ref.to_numpy() >= min_ref)
        level = np.where(advocate, 4, level)
        stages.append("advocate")
    out["stage"] = pd.Categorical.from_codes(
        level, categories=list(LADDER_STAGES), ordered=True
    )
    out.attrs = {
        "stages": stages,
        "min_active_months": int(min_active_months),
        "max_interpurchase_cv": max_cv,
        "adherent_min_share_of_wallet": min_share if sow is not None else None,
        "advocate_min_referrals": min_ref if ref is not None else None,
    }
    return out


def ladder_funnel(ladder: pd.DataFrame) -> pd.DataFrame:
    """The loyalty ladder as a funnel, with the conversion between rungs.

    Parameters
    ----------
    ladder : DataFrame
        The output of :func:`loyalty_ladder` (a ``stage`` column, and
        ``attrs["stages"]``; otherwise every stage present is used).

    Returns
    -------
    DataFrame
        Indexed by ``stage`` (lowest first): ``customers`` (reached this rung
        or a higher one), ``at_stage`` (highest rung is this one),
        ``share_of_all`` and ``conversion`` (customers / customers of the
        rung below; 1 for the first rung).

    Examples
    --------
    >>> import pandas as pd
    >>> lad = pd.DataFrame({"stage": pd.Categorical(
    ...     ["buyer", "buyer", "customer", "regular"], categories=LADDER_STAGES, ordered=True)})
    >>> ladder_funnel(lad)["customers"].tolist()
    [4, 2, 1]
    """
    if "stage" not in ladder.columns:
        raise InvalidParameterError(
            "ladder needs a 'stage' column; build it with loyalty_ladder()."
        )
    stage = pd.Categorical(ladder["stage"], categories=list(LADDER_STAGES), ordered=True)
    if pd.isna(stage).any():
        raise InvalidParameterError(
            f"ladder['stage'] holds values other than {list(LADDER_STAGES)}."
        )
    stages = list(ladder.attrs.get("stages") or [
        s for s in LADDER_STAGES if (stage.codes >= LADDER_STAGES.index(s)).any()
    ] or [LADDER_STAGES[0]])
    codes = stage.codes
    reached = np.array([(codes >= LADDER_STAGES.index(s)).sum() for s in stages])
    at = np.array([(codes == LADDER_STAGES.index(s)).sum() for s in stages])
    total = len(codes)
    with np.errstate(invalid="ignore", divide="ignore"):
        conversion = np.r_[1.0, reached[1:] / reached[:-1]] if total else np.full(len(stages),
                                                                                  np.nan)
        share = reached / total if total else np.full(len(stages), np.nan)
    out = pd.DataFrame(
        {"customers": reached, "at_stage": at, "share_of_all": share, "conversion": conversion},
        index=pd.Index(stages, name="stage"),
    )
    return out


# ---------------------------------------------------------------------------
# ABC-XYZ


def _two_thresholds(
    name: str, thresholds: Sequence[float], upper: float | None = None,
) -> tuple[float, float]:
    try:
        lo, hi = (float(t) for t in thresholds)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{name}={thresholds!r} must be two numbers (lower, upper)."
        ) from exc
    ok = 0 < lo < hi and (upper is None or hi <= upper)
    if not ok:
        bound = f" <= {upper:g}" if upper is not None else ""
        raise InvalidParameterError(
            f"{name}={thresholds!r} must satisfy 0 < lower < upper{bound}."
        )
    return lo, hi


def abc_classes(revenue: pd.Series, thresholds: Sequence[float] = (0.8, 0.95)) -> pd.DataFrame:
    """ABC classes from each customer's revenue.

    Customers are ranked by revenue (highest first, ties by index order). A
    customer is A while the share of revenue of the customers ranked above
    them is below ``thresholds[0]``, B while it is below ``thresholds[1]``,
    and C after: A is the smallest group of top customers holding at least
    80% of revenue (with the default thresholds).

    Parameters
    ----------
    revenue : Series
        Revenue per customer, >= 0, not all zero.
    thresholds : (float, float), default (0.8, 0.95)
        Cumulative revenue shares closing A and B.

    Returns
    -------
    DataFrame
        Same index as ``revenue``: ``revenue``, ``revenue_share``,
        ``cumulative_share`` (share of the customer and all ranked above) and
        ``abc``.

    Examples
    --------
    >>> import pandas as pd
    >>> abc_classes(pd.Series([70.0, 20.0, 6.0, 4.0], index=list("abcd")))["abc"].tolist()
    ['A', 'A', 'B', 'C']
    """
    lo, hi = _two_thresholds("thresholds", thresholds, upper=1.0)
    rev = pd.to_numeric(pd.Series(revenue), errors="coerce").astype(float)
    if rev.isna().any() or not np.isfinite(rev.to_numpy()).all() or (rev < 0).any():
        raise InvalidParameterError(
            "revenue must be finite and >= 0 for every customer."
        )
    total = rev.sum()
    if total <= 0:
        raise InvalidParameterError(
            "revenue sums to 0: there is nothing to split into ABC classes."
        )
    order = np.argsort(-rev.to_numpy(), kind="stable")
    sorted_share = rev.to_numpy()[order] / total
    cum = np.cumsum(sorted_share)
    before = cum - sorted_share
    cls = np.where(before < lo, "A", np.where(before < hi, "B", "C"))
    out = pd.DataFrame(index=rev.index)
    out["revenue"] = rev
    out["revenue_share"] = rev / total
    cum_full = np.empty(len(rev))
    cum_full[order] = cum
    cls_full = np.empty(len(rev), dtype=object)
    cls_full[order] = cls
    out["cumulative_share"] = cum_full
    out["abc"] = cls_full
    return out


def xyz_classes(cv: pd.Series, thresholds: Sequence[float] = (0.10, 0.25)) -> pd.Series:
    """XYZ classes from a coefficient of variation: X <= 10% < Y <= 25% < Z; NaN is Z.

    Examples
    --------
    >>> import pandas as pd
    >>> xyz_classes(pd.Series([0.05, 0.1, 0.2, 0.9, float("nan")])).tolist()
    ['X', 'X', 'Y', 'Z', 'Z']
    """
    lo, hi = _two_thresholds("thresholds", thresholds)
    v = pd.Series(cv, dtype=float)
    cls = np.where(v <= lo, "X", np.where(v <= hi, "Y", "Z"))
    return pd.Series(cls, index=v.index, name="xyz")


def abc_xyz_analysis(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    *,
    abc_thresholds: Sequence[float] = (0.8, 0.95),
    xyz_thresholds: Sequence[float] = (0.10, 0.25),
    period: str = "M",
    min_periods: int = 2,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> pd.DataFrame:
    """ABC-XYZ class of every customer of a log.

    Parameters
    ----------
    transactions : DataFrame
    customer_id, date, amount : str
    abc_thresholds : (float, float), default (0.8, 0.95)
        See :func:`abc_classes`.
    xyz_thresholds : (float, float), default (0.10, 0.25)
        See :func:`xyz_classes`.
    period : {"M", "Q", "Y"}, default "M"
        Calendar period over which spend is totalled for the CV: month,
        quarter or year. Longer periods suit customers who buy rarely.
    min_periods : int, default 2
        Periods of history needed for a CV (fewer: no CV, class Z).
    observation_end : date-like, optional
        As-of date (default: the last date of the log). The periods run from
        each customer's first purchase period to this date's period.
    refunds : {"error", "net"}

    Returns
    -------
    DataFrame
        Indexed by customer: the columns of :func:`abc_classes`, ``periods``
        (periods observed), ``mean_period_revenue``, ``cv``, ``xyz`` and
        ``abc_xyz`` (e.g. ``"AX"``).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> t = abc_xyz_analysis(load_cdnow_transactions())
    >>> t["abc"].value_counts().sort_index().tolist()
    [777, 801, 779]
    """
    if isinstance(min_periods, bool) or not isinstance(min_periods, (int, np.integer)) or (
            min_periods < 2):
        raise InvalidParameterError(
            f"min_periods={min_periods!r} must be a whole number >= 2 (a CV needs at least "
            "two months)."
        )
    months_per_period = {"M": 1, "Q": 3, "Y": 12}.get(period)
    if months_per_period is None:
        raise InvalidParameterError(f"period={period!r} is not one of ('M', 'Q', 'Y').")
    cd = _log.customer_days(transactions, customer_id, date, amount,
                            observation_end=observation_end, refunds=refunds)
    f = cd.frame
    n = len(cd.customers)
    codes = f["code"].to_numpy()
    amt = f["amount"].to_numpy()
    revenue = np.bincount(codes, weights=amt, minlength=n)
    out = abc_classes(pd.Series(revenue, index=cd.customers), abc_thresholds)
    # month numbers count from 1970-01, the start of a quarter and of a year
    pnum = f["month"].to_numpy() // months_per_period
    last_period = int(_log.month_number(cd.observation_end)) // months_per_period
    first_period = pd.Series(pnum).groupby(codes).min().reindex(range(n)).to_numpy()
    periods = last_period - first_period + 1
    # revenue per customer-period, then moments over all periods including zeros
    cm = pd.Series(amt).groupby([codes, pnum]).sum()
    cm.index.names = ["code", "period"]
    c_codes = cm.index.get_level_values("code").to_numpy()
    vals = cm.to_numpy()
    s1 = np.bincount(c_codes, weights=vals, minlength=n)
    s2 = np.bincount(c_codes, weights=vals ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / periods
        var = np.maximum(s2 / periods - mean ** 2, 0.0)
        cv = np.where((periods >= min_periods) & (mean > 0), np.sqrt(var) / mean, np.nan)
    out["periods"] = periods.astype(np.int64)
    out["mean_period_revenue"] = mean
    out["cv"] = cv
    out["xyz"] = xyz_classes(pd.Series(cv, index=cd.customers), xyz_thresholds)
    out["abc_xyz"] = out["abc"] + out["xyz"]
    out.attrs = {
        "abc_thresholds": tuple(float(t) for t in abc_thresholds),
        "xyz_thresholds": tuple(float(t) for t in xyz_thresholds),
        "period": period,
        "min_periods": int(min_periods),
        "observation_end": pd.Timestamp(np.datetime64(cd.observation_end, "D")),
    }
    return out


def abc_xyz_matrix(analysis: pd.DataFrame, value: str = "customers") -> pd.DataFrame:
    """The 3 x 3 ABC-XYZ matrix of customer counts or revenue.

    Parameters
    ----------
    analysis : DataFrame
        Output of :func:`abc_xyz_analysis` (columns ``abc``, ``xyz``, ``revenue``).
    value : {"customers", "revenue", "revenue_share"}

    Returns
    -------
    DataFrame
        Rows A, B, C; columns X, Y, Z; every cell present (0 when empty).
    """
    for col in ("abc", "xyz", "revenue"):
        if col not in analysis.columns:
            raise InvalidParameterError(
                f"analysis has no {col!r} column; build it with abc_xyz_analysis()."
            )
    if value == "customers":
        m = pd.crosstab(analysis["abc"], analysis["xyz"])
    elif value in ("revenue", "revenue_share"):
        m = analysis.pivot_table(index="abc", columns="xyz", values="revenue", aggfunc="sum")
        if value == "revenue_share":
            m = m / analysis["revenue"].sum()
    else:
        raise InvalidParameterError(
            f"value={value!r} is not one of ('customers', 'revenue', 'revenue_share')."
        )
    m = m.reindex(index=list("ABC"), columns=list("XYZ")).fillna(0)
    if value == "customers":
        m = m.astype(np.int64)
    m.index.name, m.columns.name = "abc", "xyz"
    return m


# ---------------------------------------------------------------------------
# RFM


def quantile_scores(values: ArrayLike, bins: int = 5, higher_is_better: bool = True) -> np.ndarray:
    r"""Quantile scores 1..bins with ties kept together.

    .. math:: \text{score}_i = 1 + \left\lfloor \text{bins} \cdot
              \frac{\#\{j : v_j \text{ worse than } v_i\}}{n} \right\rfloor

    Parameters
    ----------
    values : array-like of float
    bins : int, default 5
    higher_is_better : bool, default True
        False for recency measured as time since the last purchase.

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> quantile_scores([1, 1, 1, 2, 5], bins=5).tolist()
    [1, 1, 1, 4, 5]
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise InvalidParameterError(f"bins={bins!r} must be a whole number >= 2.")
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).all():
        raise InvalidParameterError("values to score must all be finite numbers.")
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    key = v if higher_is_better else -v
    worse = np.searchsorted(np.sort(key), key, side="left")
    return (1 + np.floor(bins * worse / v.size)).astype(np.int64)


#: The RFM segment grid by (R score, F score) on 1-5 scores, as
#: (segment, R scores, F scores). The grid covers all 25 cells.
RFM_SEGMENTS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("champions", (5,), (4, 5)),
    ("loyal customers", (3, 4), (4, 5)),
    ("potential loyalists", (4, 5), (2, 3)),
    ("new customers", (5,), (1,)),
    ("promising", (4,), (1,)),
    ("need attention", (3,), (3,)),
    ("about to sleep", (3,), (1, 2)),
    ("at risk", (1, 2), (3, 4)),
    ("can't lose them", (1, 2), (5,)),
    ("hibernating", (1, 2), (1, 2)),
)


def rfm_segment(
    r_score: ArrayLike, f_score: ArrayLike,
    segments: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]] = RFM_SEGMENTS,
) -> np.ndarray:
    """Named segment of each (R, F) score pair.

    Parameters
    ----------
    r_score, f_score : array-like of int in 1..5
    segments : sequence of (name, R scores, F scores), default :data:`RFM_SEGMENTS`
        The first matching rule wins; a pair matching no rule is "other".

    Returns
    -------
    ndarray of str

    Examples
    --------
    >>> rfm_segment([5, 1, 3], [5, 1, 3]).tolist()
    ['champions', 'hibernating', 'need attention']
    """
    r = np.asarray(r_score)
    f = np.asarray(f_score)
    out = np.full(r.shape, "other", dtype=object)
    done = np.zeros(r.shape, dtype=bool)
    for name, rs, fs in segments:
        hit = ~done & np.isin(r, rs) & np.isin(f, fs)
        out[hit] = name
        done |= hit
    return out


def rfm_scores(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    *,
    bins: int = 5,
    monetary: str = "mean",
    segments: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]] = RFM_SEGMENTS,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> pd.DataFrame:
    """RFM values, quantile scores and named segments of every customer of a log.

    Parameters
    ----------
    transactions : DataFrame
    customer_id, date, amount : str
    bins : int, default 5
        Number of score levels.
    monetary : {"mean", "total"}
        Mean spend per purchase day (default) or total spend.
    segments : default :data:`RFM_SEGMENTS`
        Rules for :func:`rfm_segment` (meant for 5 levels).
    observation_end : date-like, optional
        As-of date for recency (default: the last date of the log).
    refunds : {"error", "net"}

    Returns
    -------
    DataFrame
        Indexed by customer: ``recency_days``, ``frequency`` (purchase days),
        ``monetary``, ``r_score``, ``f_score``, ``m_score``, ``rfm_score``
        (e.g. ``"545"``), ``rfm_total`` (sum of the scores) and ``segment``.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> r = rfm_scores(load_cdnow_transactions())
    >>> r["segment"].value_counts().index[0]
    'hibernating'
    """
    if monetary not in ("mean", "total"):
        raise InvalidParameterError(f"monetary={monetary!r} is not one of ('mean', 'total').")
    cd = _log.customer_days(transactions, customer_id, date, amount,
                            observation_end=observation_end, refunds=refunds)
    f = cd.frame
    n = len(cd.customers)
    codes = f["code"].to_numpy()
    last_day = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_day, codes, f["day"].to_numpy())
    frequency = np.bincount(codes, minlength=n)
    total = np.bincount(codes, weights=f["amount"].to_numpy(), minlength=n)
    money = total / frequency if monetary == "mean" else total
    recency = (cd.observation_end - last_day).astype(np.int64)
    out = pd.DataFrame(
        {"recency_days": recency, "frequency": frequency.astype(np.int64), "monetary": money},
        index=cd.customers,
    )
    out["r_score"] = quantile_scores(recency, bins, higher_is_better=False)
    out["f_score"] = quantile_scores(frequency, bins)
    out["m_score"] = quantile_scores(money, bins)
    out["rfm_score"] = (out["r_score"].astype(str) + out["f_score"].astype(str)
                        + out["m_score"].astype(str))
    out["rfm_total"] = out["r_score"] + out["f_score"] + out["m_score"]
    out["segment"] = rfm_segment(out["r_score"].to_numpy(), out["f_score"].to_numpy(), segments)
    out.attrs = {
        "bins": int(bins),
        "monetary": monetary,
        "observation_end": pd.Timestamp(np.datetime64(cd.observation_end, "D")),
    }
    return out
