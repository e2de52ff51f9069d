"""Proper scores and calibration of predicted count distributions, and tracking error over time.

A purchase model predicts more than a number per customer: the distribution of the
customer's holdout count, ``P(X = n | history)`` (its conditional PMF). This module
scores those distributions and checks their calibration:

``count_pmf_matrix``
    The matrix ``P[i, n] = P(X_i = n)`` for ``n = 0 .. max_count`` from any model with
    a conditional PMF; the last column's tail is reported so nothing is lost silently.
``ranked_probability_score``
    ``RPS_i = sum_{n >= 0} (F_i(n) - 1{y_i <= n})^2`` (Epstein 1969; for counts
    Czado, Gneiting & Held 2009), a proper score: lower is better; it rewards a
    distribution close to the outcome in the count's order, unlike the log score,
    which only looks at the probability of the outcome itself.
``pit_histogram``
    The non-randomised probability integral transform for counts (Czado, Gneiting &
    Held 2009, eq. 2): the mean over customers of ``F_i(u | y_i)``, uniform when the
    predicted distributions are calibrated; returned as the bin masses of a
    histogram (each ``1 / bins`` when calibrated).
``calibration_table``
    Predicted (sum of the PMFs) against actual number of customers with 0, 1, ...,
    ``max_count`` or more holdout purchases.
``predictive_intervals``, ``interval_coverage``
    Per-customer equal-tailed intervals of the holdout count from its PMF (they
    include the customer's own purchase noise, unlike the parameter-uncertainty
    intervals of :mod:`clvmodels.models.uncertainty`) and their coverage.
``tracking_error``
    Per-period (e.g. weekly) errors of the total: incremental and cumulative.

Examples
--------
>>> import numpy as np
>>> pmf = np.array([[0.5, 0.5], [1.0, 0.0]])
>>> ranked_probability_score(pmf, [1, 0]).tolist()
[0.25, 0.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError, StatisticalWarning

__all__ = [
    "calibration_table",
    "count_pmf_matrix",
    "distribution_scores",
    "method_count_pmf",
    "interval_coverage",
    "pit_histogram",
    "predictive_intervals",
    "ranked_probability_score",
    "tracking_error",
]


def _pmf_and_counts(pmf, counts) -> tuple[np.ndarray, np.ndarray]:
    P = np.asarray(pmf, dtype=float)
    if P.ndim != 2 or P.shape[1] < 1:
        raise InvalidParameterError(
            f"pmf must be a (customers, counts) matrix of probabilities, got shape {P.shape}."
        )
    y = np.asarray(counts, dtype=float).reshape(-1)
    if y.size != P.shape[0]:
        raise InvalidParameterError(
            f"counts has {y.size} values but pmf has {P.shape[0]} rows: one count per customer."
        )
    if not np.all(np.isfinite(P)) or np.any(P < -1e-12) or np.any(P.sum(axis=1) > 1 + 1e-8):
        raise InvalidParameterError(
            "pmf must hold probabilities (finite, >= 0, each row summing to at most 1)."
        )
    bad = ~np.isfinite(y) | (y < 0) | (y != np.round(y))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            f"counts must be whole numbers >= 0; position {first} holds {y[first]!r}."
        )
    return np.clip(P, 0.0, 1.0), y.astype(np.int64)


def method_count_pmf(method, summary: pd.DataFrame, horizon: float,
                     max_count: int | None = None, *, tail_tolerance: float = 1e-6
                     ) -> pd.DataFrame | None:
    """The count PMF matrix of a comparison method, or None when it predicts no distribution.

    Uses the method protocol's optional hook ``log_likelihood_holdout(summary, horizon,
    counts)`` (see :func:`clvmodels.evaluation.metrics.holdout_log_likelihood`); the
    matrix is as :func:`count_pmf_matrix` returns.
    """
    hook = getattr(method, "log_likelihood_holdout", None)
    if not callable(hook):
        return None

    class _Adapter:
        def conditional_log_probability_of_purchases(self, rows, counts, t):
            return hook(rows, float(np.asarray(t).reshape(-1)[0]), counts)

    return count_pmf_matrix(_Adapter(), summary, horizon, max_count,
                            tail_tolerance=tail_tolerance)


def distribution_scores(result, *, level: float = 0.9, bins: int = 10,
                        max_count: int = 7) -> dict:
    """Proper scores and calibration of every method of a comparison that predicts a count PMF.

    On the main split of a :class:`~clvmodels.ComparisonResult`: for each fitted method
    with a count distribution, the per-customer ranked probability score and log score
    of the holdout transaction count, the coverage of its ``level`` predictive
    intervals (the customer's own purchase noise included), the PIT histogram and the
    calibration table (0 .. ``max_count`` or more purchases).

    Returns
    -------
    dict
        ``"table"``: DataFrame indexed by method with ``mean_rps``, ``mean_log_score``,
        ``interval_coverage`` and ``pit_max_deviation`` (the largest absolute difference
        of a bin's mass from 1/bins);
        ``"per_customer"``: ``{method: {"rps": ..., "log_score": ...}}`` (arrays in the
        summary's order); ``"pit"`` and ``"calibration"``: ``{method: DataFrame}``.
    """
    from clvmodels.evaluation.base import calibration_only

    summary = calibration_only(result.summary)
    counts = result.summary["frequency_holdout"].to_numpy(dtype=float)
    horizon = float(result.settings["horizon"])
    rows, per_customer, pits, tables = {}, {}, {}, {}
    for name, method in result.methods.items():
        P = method_count_pmf(method, summary, horizon)
        if P is None:
            continue
        matrix = P.to_numpy()
        rps = ranked_probability_score(matrix, counts)
        log_score = np.asarray(method.log_likelihood_holdout(summary, horizon, counts),
                               dtype=float)
        pit = pit_histogram(matrix, counts, bins=bins)
        intervals = predictive_intervals(matrix, level)
        per_customer[name] = {"rps": rps, "log_score": log_score}
        pits[name] = pit
        tables[name] = calibration_table(matrix, counts, max_count)
        rows[name] = {
            "mean_rps": float(rps.mean()),
            "mean_log_score": float(log_score.mean()),
            "interval_coverage": interval_coverage(intervals, counts),
            "pit_max_deviation": float(np.max(np.abs(pit["mass"] - 1.0 / bins))),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return {"table": table, "per_customer": per_customer, "pit": pits, "calibration": tables,
            "level": level}


def count_pmf_matrix(model, summary: pd.DataFrame, t, max_count: int | None = None,
                     *, tail_tolerance: float = 1e-6) -> pd.DataFrame:
    """``P(X_i = n)`` of each customer's purchases in the next ``t``, ``n`` from 0 to ``max_count``.

    Parameters
    ----------
    model : fitted purchase model with ``conditional_log_probability_of_purchases``
    summary : DataFrame
        The customers' calibration summaries.
    t : float or array_like
        Length of the holdout window (one value or one per customer).
    max_count : int, optional
        The largest count in the matrix. By default the smallest for which every
        customer's tail ``P(X > max_count)`` is below ``tail_tolerance`` (at most 1000).
    tail_tolerance : float
        Warn (:class:`~clvmodels.errors.StatisticalWarning`) when a customer's tail
        beyond ``max_count`` exceeds it: the scores then leave that mass out.

    Returns
    -------
    DataFrame
        Indexed like the summary, one column per count ``0 .. max_count``; ``attrs["tail"]``
        holds each customer's left-out probability ``P(X > max_count)``.
    """
    import warnings

    if not hasattr(model, "conditional_log_probability_of_purchases"):
        raise InvalidParameterError(
            f"{type(model).__name__} predicts no count distribution (it has no "
            "conditional_log_probability_of_purchases)."
        )
    n = len(summary)
    t = np.broadcast_to(np.asarray(t, dtype=float), (n,))

    def block(counts: np.ndarray) -> np.ndarray:
        rows = summary.iloc[np.repeat(np.arange(n), counts.size)]
        logp = model.conditional_log_probability_of_purchases(
            rows, np.tile(counts, n), np.repeat(t, counts.size))
        return np.exp(np.asarray(logp, dtype=float)).reshape(n, counts.size)

    if max_count is None:
        K = 16
        P = block(np.arange(K + 1))
        while K < 1000 and np.max(1.0 - P.sum(axis=1)) > tail_tolerance:
            more = block(np.arange(K + 1, 2 * K + 2))
            P = np.concatenate([P, more], axis=1)
            K = 2 * K + 1
    else:
        if isinstance(max_count, bool) or int(max_count) != max_count or max_count < 0:
            raise InvalidParameterError(
                f"max_count must be a whole number >= 0, got {max_count!r}.")
        K = int(max_count)
        P = block(np.arange(K + 1))
    tail = np.clip(1.0 - P.sum(axis=1), 0.0, 1.0)
    if np.max(tail) > tail_tolerance:
        worst = int(np.argmax(tail))
        warnings.warn(
            f"count_pmf_matrix: {int((tail > tail_tolerance).sum())} customer(s) keep more than "
            f"{tail_tolerance:g} of their probability beyond {K} purchases (largest "
            f"{tail[worst]:.3g}, customer {summary.index[worst]!r}); scores leave it out. Pass a "
            "larger max_count.", StatisticalWarning, stacklevel=2)
    out = pd.DataFrame(P, index=summary.index, columns=pd.RangeIndex(K + 1, name="count"))
    out.attrs["tail"] = tail
    return out


def ranked_probability_score(pmf, counts) -> np.ndarray:
    """Ranked probability score of each customer's predicted count distribution.

    ``RPS_i = sum_{n=0}^{K} (F_i(n) - 1{y_i <= n})^2`` with ``F_i`` the predicted CDF
    and ``K`` the last column of ``pmf``; counts above ``K`` add ``(F_i(n) - 0)^2`` for
    every ``n`` from ``K`` up to ``y_i - 1`` with ``F_i(n) = F_i(K)``. The terms beyond
    ``max(K, y_i)`` are ``(1 - F_i(n))^2``, at most the squared tail: they are dropped,
    so give a ``pmf`` whose tail is negligible (:func:`count_pmf_matrix` does).

    Parameters
    ----------
    pmf : array_like of shape (n_customers, K + 1)
    counts : array_like of int, shape (n_customers,)

    Returns
    -------
    ndarray of shape (n_customers,)

    Examples
    --------
    >>> ranked_probability_score([[0.2, 0.5, 0.3]], [1]).round(4).tolist()
    [0.13]
    """
    P, y = _pmf_and_counts(pmf, counts)
    F = np.cumsum(P, axis=1)
    K = P.shape[1] - 1
    step = (np.arange(K + 1)[None, :] >= y[:, None]).astype(float)
    rps = np.sum((F - step) ** 2, axis=1)
    above = y > K
    if above.any():  # n = K+1 .. y-1: F stays at F(K), the indicator is 0
        rps[above] += (y[above] - K - 1) * F[above, K] ** 2
    return rps


def pit_histogram(pmf, counts, bins: int = 10) -> pd.DataFrame:
    """Non-randomised PIT histogram for counts (Czado, Gneiting & Held 2009).

    For customer ``i`` with outcome ``y`` and predicted CDF ``F``, ``F_i(u | y) = 0``
    for ``u <= F(y - 1)``, ``(u - F(y - 1)) / (F(y) - F(y - 1))`` between, and 1 for
    ``u >= F(y)``; the mean over customers, ``Fbar(u)``, is the CDF of the PIT and is
    ``u`` when the forecasts are calibrated. The histogram's masses are the increments
    of ``Fbar`` over ``bins`` equal bins of [0, 1].

    Returns
    -------
    DataFrame
        One row per bin: ``lower``, ``upper``, ``mass`` (1/bins when calibrated).

    Examples
    --------
    >>> pit_histogram([[0.5, 0.5], [0.5, 0.5]], [0, 1], bins=2)["mass"].tolist()
    [0.5, 0.5]
    """
    P, y = _pmf_and_counts(pmf, counts)
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise InvalidParameterError(f"bins must be a positive whole number, got {bins!r}.")
    F = np.cumsum(P, axis=1)
    K = P.shape[1] - 1
    yc = np.minimum(y, K)
    upper = F[np.arange(y.size), yc]
    lower = np.where(yc > 0, F[np.arange(y.size), np.maximum(yc - 1, 0)], 0.0)
    upper = np.where(y > K, 1.0, upper)  # an outcome beyond the matrix sits in the tail
    lower = np.where(y > K, F[:, K], lower)
    u = np.linspace(0.0, 1.0, int(bins) + 1)
    width = np.maximum(upper - lower, 1e-300)
    cdf = np.clip((u[None, :] - lower[:, None]) / width[:, None], 0.0, 1.0)
    cdf[:, -1] = 1.0
    fbar = cdf.mean(axis=0)
    return pd.DataFrame({"lower": u[:-1], "upper": u[1:], "mass": np.diff(fbar)})


def calibration_table(pmf, counts, max_count: int = 7) -> pd.DataFrame:
    """Predicted and actual number of customers with 0, 1, ... and ``max_count`` or more purchases.

    The predicted number with ``n`` purchases is the sum over customers of ``P_i(n)``
    (the last row, ``max_count`` or more, adds the tails); the actual number counts the
    outcomes.

    Examples
    --------
    >>> calibration_table([[0.5, 0.5], [0.25, 0.75]], [0, 1], max_count=1)
      count  predicted  actual
    0     0       0.75       1
    1    1+       1.25       1
    """
    P, y = _pmf_and_counts(pmf, counts)
    if isinstance(max_count, bool) or int(max_count) != max_count or max_count < 0:
        raise InvalidParameterError(f"max_count must be a whole number >= 0, got {max_count!r}.")
    m = int(max_count)
    width = P.shape[1]
    predicted = np.zeros(m + 1)
    take = min(m, width)
    predicted[:take] = P[:, :take].sum(axis=0)
    predicted[m] = P.shape[0] - predicted[:m].sum()  # the rest: m or more (tails included)
    actual = np.bincount(np.minimum(y, m), minlength=m + 1)
    labels = [str(k) for k in range(m)] + [f"{m}+"]
    return pd.DataFrame({"count": labels, "predicted": predicted, "actual": actual})


def predictive_intervals(pmf, level: float = 0.9) -> pd.DataFrame:
    """Equal-tailed predictive intervals of each customer's count from its PMF.

    ``lower`` is the smallest ``n`` with ``F(n) >= (1 - level) / 2`` and ``upper`` the
    smallest ``n`` with ``F(n) >= (1 + level) / 2`` (so each tail outside holds at most
    ``(1 - level) / 2``); ``upper`` is ``K + 1`` when the matrix's columns do not reach
    that far (the interval is then open above).
    """
    P = np.asarray(pmf, dtype=float)
    if not (0 < level < 1):
        raise InvalidParameterError(f"level must be in (0, 1), got {level!r}.")
    F = np.cumsum(P, axis=1)
    lo, hi = (1 - level) / 2, (1 + level) / 2
    tol = 1e-12
    lower = np.argmax(F >= lo - tol, axis=1)
    reached = F[:, -1] >= hi - tol
    upper = np.where(reached, np.argmax(F >= hi - tol, axis=1), P.shape[1])
    return pd.DataFrame({"lower": lower, "upper": upper})


def interval_coverage(intervals: pd.DataFrame, counts) -> float:
    """Share of customers whose count lies in their interval ``[lower, upper]``."""
    y = np.asarray(counts, dtype=float).reshape(-1)
    if y.size != len(intervals):
        raise InvalidParameterError(
            f"counts has {y.size} values for {len(intervals)} intervals: one per customer."
        )
    inside = (y >= intervals["lower"].to_numpy()) & (y <= intervals["upper"].to_numpy())
    return float(inside.mean())


def tracking_error(predicted, actual) -> pd.DataFrame:
    """Per-period tracking of the total: incremental and cumulative errors.

    Parameters
    ----------
    predicted, actual : array_like or Series of shape (n_periods,)
        Total transactions (or revenue) of the customer base in each holdout period.

    Returns
    -------
    DataFrame
        One row per period: ``predicted``, ``actual``, ``error`` (predicted - actual),
        ``cumulative_predicted``, ``cumulative_actual``, ``cumulative_error``,
        ``cumulative_error_pct`` (100 x cumulative error / cumulative actual; NaN where
        the cumulative actual is 0). ``attrs`` holds the summaries: ``mae`` and ``rmse``
        of the incremental errors, ``mape`` (%, periods with actual > 0) and
        ``final_cumulative_error_pct``.

    Examples
    --------
    >>> table = tracking_error([10, 12], [8, 14])
    >>> table["cumulative_error"].tolist(), table.attrs["mae"]
    ([2.0, 0.0], 2.0)
    """
    index = predicted.index if isinstance(predicted, pd.Series) else None
    p = np.asarray(predicted, dtype=float).reshape(-1)
    a = np.asarray(actual, dtype=float).reshape(-1)
    if p.size != a.size or p.size == 0:
        raise InvalidParameterError(
            f"predicted ({p.size}) and actual ({a.size}) need one total per period, same length."
        )
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(a))):
        raise InvalidParameterError("predicted and actual totals must be finite.")
    err = p - a
    cp, ca = np.cumsum(p), np.cumsum(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        cum_pct = np.where(ca > 0, 100.0 * (cp - ca) / ca, np.nan)
        ape = np.abs(err[a > 0]) / a[a > 0]
    table = pd.DataFrame({
        "predicted": p, "actual": a, "error": err,
        "cumulative_predicted": cp, "cumulative_actual": ca,
        "cumulative_error": cp - ca, "cumulative_error_pct": cum_pct,
    }, index=index)
    table.attrs = {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err ** 2))),
        "mape": float(100.0 * ape.mean()) if ape.size else float("nan"),
        "final_cumulative_error_pct": float(cum_pct[-1]),
    }
    return table
