"""Regularity of the gaps between purchases: Wheat & Morrison, per-customer ML, ``litt``.

Models with Erlang-k or gamma gaps (BG/CNBD-k, MBG/CNBD-k, Pareto/GGG) pay off when the
gaps between a customer's purchases are more regular than exponential. This module gives
the quick checks of BTYDplus's ``estimateRegularity`` and the event-log statistic the
(M)BG/CNBD-k likelihood uses:

* :func:`estimate_regularity` with ``method="wheat"`` (Wheat & Morrison 1990, "Estimating
  purchase regularity with two interpurchase times", Journal of Marketing Research 27(1),
  87-93): if a customer's gaps are ``Gamma(k, lambda)`` (any ``lambda``), the ratio of her
  last two gaps ``M = G_1 / (G_1 + G_2)`` is ``Beta(k, k)``, whose variance is ``1 / (4 (2k
  + 1))``; so ``k = (1 - 4 Var(M)) / (8 Var(M))`` across customers with at least two gaps.
  ``k`` near 1 supports exponential gaps; clearly above 1 means regularity.
* ``method="mle"``: the maximum-likelihood gamma shape of each customer with at least
  ``min_gaps`` (10) gaps, by solving ``log k - psi(k) = log(mean) - mean(log)``, and the
  median across them.
* :func:`log_intertransaction_times`: each customer's sum of log gaps in the calibration
  period (BTYDplus's ``litt``), the column :class:`~clvmodels.models.bgcnbd.BGCNBD` reads
  to profile ``k`` with the event-log likelihood.
* :func:`plot_regularity`: the diagnostic plot (actual distribution of ``M`` against the
  ``Beta(1, 1)`` of exponential gaps and the ``Beta(2, 2)`` of Erlang-2 gaps); it takes
  ``ax=`` and returns the Axes. (It lives here, not in :mod:`clvmodels.plotting`, whose
  owner may move it there.)

Purchases on the same day count once (as in :func:`clvmodels.rfm_summary` and BTYDplus's
``elog2cbs``), so every gap is positive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import digamma

from clvmodels.errors import InvalidParameterError, InvalidSummaryError

__all__ = [
    "estimate_regularity",
    "log_intertransaction_times",
    "plot_regularity",
    "regularity_by_customer",
    "wheat_morrison_ratios",
]

_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}


def _purchase_days(transactions, customer_id, date, calibration_end=None) -> pd.DataFrame:
    if not isinstance(transactions, pd.DataFrame):
        raise InvalidSummaryError(
            f"transactions must be a DataFrame with columns {customer_id!r} and {date!r}; got "
            f"{type(transactions).__name__}.")
    missing = [c for c in (customer_id, date) if c not in transactions]
    if missing:
        raise InvalidSummaryError(
            f"transactions has no column {missing[0]!r} (columns: {list(transactions.columns)});"
            " pass customer_id= and date= to name them.")
    days = pd.to_datetime(transactions[date], errors="coerce")
    if days.isna().any():
        row = int(np.flatnonzero(days.isna().to_numpy())[0])
        raise InvalidSummaryError(
            f"column {date!r} has a value that is not a date at row {row}: "
            f"{transactions[date].iloc[row]!r}; fix or drop it.")
    frame = pd.DataFrame({"customer": transactions[customer_id].to_numpy(),
                          "day": days.dt.normalize().to_numpy()})
    if calibration_end is not None:
        frame = frame[frame["day"] <= pd.Timestamp(calibration_end)]
    return frame.drop_duplicates().sort_values(["customer", "day"], kind="stable")


def _gaps(frame: pd.DataFrame, time_unit: str) -> pd.DataFrame:
    if time_unit not in _UNIT_DAYS:
        raise InvalidParameterError(f"time_unit must be one of {sorted(_UNIT_DAYS)}, got "
                                    f"{time_unit!r}.")
    same = frame["customer"].to_numpy()[1:] == frame["customer"].to_numpy()[:-1]
    delta = np.diff(frame["day"].to_numpy()).astype("timedelta64[s]").astype(float)
    delta = delta / (86400.0 * _UNIT_DAYS[time_unit])
    return pd.DataFrame({"customer": frame["customer"].to_numpy()[1:][same],
                         "gap": delta[same]})


def log_intertransaction_times(transactions, customer_id="customer_id", date="date", *,
                               calibration_end=None, time_unit="W") -> pd.Series:
    """Each customer's sum of the logarithms of the gaps between purchase days (``litt``).

    BTYDplus's ``elog2cbs`` column ``litt``: the statistic of the event-log likelihood of the
    (M)BG/CNBD-k (``(k - 1) litt - x log((k - 1)!)``). 0 for a customer without repeat
    purchases.

    Parameters
    ----------
    transactions : DataFrame
    customer_id, date : str
    calibration_end : date-like, optional
        Only purchases up to this day (inclusive) count.
    time_unit : {"D", "W", "M", "Y"}, default "W"
        Unit of the gaps (as the summary's).

    Returns
    -------
    Series
        Indexed by customer id (sorted), named ``litt``.

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                     "date": ["2020-01-01", "2020-01-08", "2020-01-22", "2020-01-01"]})
    >>> log_intertransaction_times(log).round(6).tolist()
    [0.693147, 0.0]
    """
    frame = _purchase_days(transactions, customer_id, date, calibration_end)
    gaps = _gaps(frame, time_unit)
    customers = pd.Index(np.unique(frame["customer"].to_numpy()), name=customer_id)
    out = np.log(gaps["gap"]).groupby(gaps["customer"].to_numpy()).sum()
    return out.reindex(customers, fill_value=0.0).rename("litt")


def wheat_morrison_ratios(transactions, customer_id="customer_id", date="date", *,
                          min_gaps: int = 2) -> pd.Series:
    """``M = G_1 / (G_1 + G_2)`` from each customer's last two gaps (Wheat & Morrison 1990).

    Customers with fewer than ``min_gaps`` (at least 2) gaps are left out. ``G_1`` is the
    second-to-last gap and ``G_2`` the last; ``M`` is symmetric in distribution, so the
    order does not change the estimate.
    """
    if min_gaps < 2:
        raise InvalidParameterError(f"min_gaps must be >= 2 for Wheat & Morrison, got {min_gaps}.")
    gaps = _gaps(_purchase_days(transactions, customer_id, date), "D")
    counts = gaps.groupby("customer")["gap"].transform("size")
    gaps = gaps[counts.to_numpy() >= min_gaps]
    last_two = gaps.groupby("customer")["gap"].apply(lambda g: g.to_numpy()[-2:])
    ratios = last_two.map(lambda g: g[0] / (g[0] + g[1]))
    ratios.index.name = customer_id
    return ratios.astype(float).rename("M")


def _gamma_shape(gaps: np.ndarray) -> float:
    """Maximum-likelihood gamma shape: the root of ``log k - psi(k) = log(mean) - mean(log)``."""
    target = np.log(np.mean(gaps)) - np.mean(np.log(gaps))
    if not target > 1e-12:
        return np.inf  # all gaps equal: perfectly regular
    f = lambda k: np.log(k) - digamma(k) - target  # noqa: E731 (decreasing in k)
    lo, hi = 1e-8, 1.0
    while f(hi) > 0:
        hi *= 2.0
    return float(brentq(f, lo, hi, xtol=1e-14, rtol=1e-14))


def regularity_by_customer(transactions, customer_id="customer_id", date="date", *,
                           min_gaps: int = 10) -> pd.Series:
    """The maximum-likelihood gamma shape of each customer with at least ``min_gaps`` gaps."""
    gaps = _gaps(_purchase_days(transactions, customer_id, date), "D")
    counts = gaps.groupby("customer")["gap"].transform("size")
    gaps = gaps[counts.to_numpy() >= min_gaps]
    shapes = gaps.groupby("customer")["gap"].apply(lambda g: _gamma_shape(g.to_numpy()))
    shapes.index.name = customer_id
    return shapes.astype(float).rename("k")


def estimate_regularity(transactions, customer_id="customer_id", date="date", *,
                        method: str = "wheat", min_gaps: int | None = None) -> float:
    """Degree of regularity ``k`` of the gaps between purchases (BTYDplus ``estimateRegularity``).

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction (same-day purchases count once).
    customer_id, date : str
        Column names.
    method : {"wheat", "mle"}, default "wheat"
        ``"wheat"``: Wheat & Morrison (1990), ``k = (1 - 4 Var(M)) / (8 Var(M))`` over the
        customers with at least ``min_gaps`` (default 2) gaps (sample variance). ``"mle"``:
        the median of the per-customer maximum-likelihood gamma shapes over customers with
        at least ``min_gaps`` (default 10) gaps.
    min_gaps : int, optional

    Returns
    -------
    float
        About 1 for exponential gaps; larger for regular buyers (2 for Erlang-2).

    Raises
    ------
    InvalidSummaryError
        When no customer has enough gaps.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> times = np.cumsum(rng.gamma(3.0, 5.0, size=(400, 6)), axis=1).round()
    >>> log = pd.DataFrame({"customer_id": np.repeat(np.arange(400), 6),
    ...                     "date": pd.Timestamp("2020-01-01")
    ...                     + pd.to_timedelta(times.ravel(), unit="D")})
    >>> 2.3 < estimate_regularity(log) < 3.7
    True
    """
    if method == "wheat":
        ratios = wheat_morrison_ratios(transactions, customer_id, date,
                                       min_gaps=2 if min_gaps is None else min_gaps)
        if ratios.size < 2:
            raise InvalidSummaryError(
                "estimate_regularity(method='wheat') needs customers with at least two gaps "
                f"between purchases; {ratios.size} found.")
        var = float(np.var(ratios.to_numpy(), ddof=1))
        return (1.0 - 4.0 * var) / (8.0 * var)
    if method == "mle":
        shapes = regularity_by_customer(transactions, customer_id, date,
                                        min_gaps=10 if min_gaps is None else min_gaps)
        if shapes.empty:
            raise InvalidSummaryError(
                "estimate_regularity(method='mle') found no customer with at least "
                f"{10 if min_gaps is None else min_gaps} gaps; lower min_gaps or use 'wheat'.")
        return float(np.median(shapes.to_numpy()))
    raise InvalidParameterError(f"method must be 'wheat' or 'mle', got {method!r}.")


def plot_regularity(transactions, customer_id="customer_id", date="date", *, method="wheat",
                    min_gaps=None, ax=None, title=None):
    """Diagnostic plot of :func:`estimate_regularity`; returns the Axes.

    ``method="wheat"``: the density of ``M`` (histogram) against ``Beta(1, 1)``
    (exponential gaps) and ``Beta(2, 2)`` (Erlang-2); ``method="mle"``: the per-customer
    gamma shapes (histogram on a log axis) with their median.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    k = estimate_regularity(transactions, customer_id, date, method=method, min_gaps=min_gaps)
    if method == "wheat":
        ratios = wheat_morrison_ratios(transactions, customer_id, date,
                                       min_gaps=2 if min_gaps is None else min_gaps)
        ax.hist(ratios, bins=20, range=(0, 1), density=True, color="0.8", label="actual M")
        grid = np.linspace(0, 1, 201)
        ax.plot(grid, np.ones_like(grid), color="C0", label="exponential (k = 1)")
        ax.plot(grid, 6 * grid * (1 - grid), color="C1", label="Erlang-2 (k = 2)")
        ax.set_xlabel("M = G1 / (G1 + G2)")
        ax.set_ylabel("density")
    else:
        shapes = regularity_by_customer(transactions, customer_id, date,
                                        min_gaps=10 if min_gaps is None else min_gaps)
        finite = shapes[np.isfinite(shapes)]
        ax.hist(np.log10(finite), bins=30, color="0.8", label="customers")
        ax.axvline(np.log10(k), color="C1", label=f"median k = {k:.2f}")
        ax.set_xlabel("log10 of the gamma shape k")
        ax.set_ylabel("customers")
    ax.set_title(title if title is not None else f"Regularity: k = {k:.2f} ({method})")
    ax.legend(frameon=False)
    return ax
