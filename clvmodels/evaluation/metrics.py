"""Holdout metrics: how close, how well ranked, how well calibrated.

Every function takes the **actual** holdout values and a method's
**predicted** values for the same customers: arrays of equal length, or
pandas Series (aligned by customer id; both must hold the same customers).
Inputs must be finite; the actual values of the ranking metrics must be >= 0.

Accuracy (per customer; scikit-learn's implementations)
    ``mae`` mean absolute error, ``rmse`` root mean squared error,
    ``bias`` = mean(predicted - actual) (> 0: over-prediction).
Aggregate
    ``total_error_pct`` = 100 (sum predicted - sum actual) / sum actual:
    the error of the forecast total, what a finance team plans with.
Ranking (who are the best customers?)
    ``spearman``: Spearman rank correlation (:func:`scipy.stats.spearmanr`,
    tied values get their average rank). **Convention:** when the
    predictions or the actual values are all equal, no ranking exists and
    the correlation is defined as 0 (scipy would return NaN).
    ``top10_capture``, ``top20_capture``: share of the total actual value
    made by the ``ceil(share * n)`` customers the method ranks highest.
    ``gini``: normalised Gini of the ranking, from the gains curve.
    **Ties** in the predictions are not broken by an arbitrary order (which
    would reward a lucky sort of the input): tied customers share the slots
    pro rata, i.e. a tied group contributes its mean actual value per slot.
    This equals the expectation over all orders of the tied customers, is
    deterministic, and gives a constant prediction (the :class:`Zero`
    baseline) the scores of a random ranking: capture ``k / n``, Gini 0.
Calibration by groups
    :func:`conditional_expectations`: the Fader-Hardie-Lee (2005, figure 4)
    table of mean actual vs mean predicted holdout transactions by
    calibration frequency 0, 1, ..., 7+.
Probabilistic fit
    :func:`holdout_log_likelihood`: sum over customers of
    ``log P(X = actual count | calibration data)`` when the method provides
    the optional hook ``log_likelihood_holdout(summary, horizon, counts)``.

:func:`score_predictions` computes them all for one method.

Examples
--------
>>> from clvmodels.evaluation.metrics import score_predictions
>>> import pandas as pd
>>> actual = pd.DataFrame({"transactions": [0, 1, 3], "revenue": [0.0, 10.0, 60.0]})
>>> predicted = pd.DataFrame({"transactions": [0.5, 1.0, 2.0], "revenue": [5.0, 10.0, 40.0]})
>>> s = score_predictions(predicted, actual)
>>> float(s["transactions_mae"]), float(s["transactions_bias"]), float(s["revenue_total_error_pct"])
(0.5, -0.16666666666666666, -21.428571428571427)
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from clvmodels.errors import CLVError, InvalidParameterError, StatisticalWarning

__all__ = [
    "METRICS",
    "TARGETS",
    "mae",
    "rmse",
    "bias",
    "total_error_pct",
    "spearman",
    "gains_curve",
    "top_share_capture",
    "gini",
    "conditional_expectations",
    "holdout_actuals",
    "holdout_log_likelihood",
    "score_predictions",
    "metric_direction",
]

#: The predicted quantities, columns of a ``predict`` result.
TARGETS = ("transactions", "revenue")

#: metric suffix -> (description, which way is better: "lower", "higher" or "zero" = closer to 0).
_METRIC_KINDS = {
    "mae": ("mean absolute error per customer", "lower"),
    "rmse": ("root mean squared error per customer", "lower"),
    "bias": ("mean of predicted - actual per customer", "zero"),
    "total_error_pct": ("error of the predicted total, % of the actual total", "zero"),
    "spearman": ("Spearman rank correlation of predicted and actual", "higher"),
    "top10_capture": ("share of actual value made by the top 10% predicted customers", "higher"),
    "top20_capture": ("share of actual value made by the top 20% predicted customers", "higher"),
    "gini": ("normalised Gini of the ranking (1 = perfect, 0 = random)", "higher"),
}

#: metric name -> {"description", "better"} for every metric :func:`score_predictions` returns.
METRICS = {
    f"{target}_{suffix}": {"description": f"{target}: {desc}", "better": better}
    for target in TARGETS
    for suffix, (desc, better) in _METRIC_KINDS.items()
}
METRICS["holdout_log_likelihood"] = {
    "description": "sum over customers of log P(holdout count | calibration data)",
    "better": "higher",
}


def metric_direction(name: str) -> str:
    """``"lower"``, ``"higher"`` or ``"zero"`` (closer to 0 is better) for a metric name."""
    if name in METRICS:
        return METRICS[name]["better"]
    for suffix, (_, better) in _METRIC_KINDS.items():
        if name.endswith(suffix):
            return better
    if name.endswith("_capture"):
        return "higher"
    raise InvalidParameterError(f"unknown metric {name!r}; known: {sorted(METRICS)}.")


def _aligned(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    """Actual and predicted as float arrays in the same customer order."""
    if isinstance(actual, pd.Series) and isinstance(predicted, pd.Series):
        if not actual.index.equals(predicted.index):
            if not (actual.index.is_unique and predicted.index.is_unique):
                raise InvalidParameterError(
                    "actual and predicted are Series with different, non-unique indexes: "
                    "cannot align them by customer."
                )
            if len(actual) != len(predicted) or len(actual.index.difference(predicted.index)):
                lost = actual.index.difference(predicted.index)[:5].tolist()
                extra = predicted.index.difference(actual.index)[:5].tolist()
                raise InvalidParameterError(
                    f"actual ({len(actual)} customers) and predicted ({len(predicted)}) must "
                    f"cover the same customers (every method is scored on the same ones): "
                    f"missing from predicted e.g. {lost}, not in actual e.g. {extra}."
                )
            predicted = predicted.reindex(actual.index)
    a = np.asarray(actual, dtype=float).reshape(-1)
    p = np.asarray(predicted, dtype=float).reshape(-1)
    if a.shape != p.shape:
        raise InvalidParameterError(
            f"actual has {a.size} values and predicted {p.size}: they must be aligned by customer."
        )
    if a.size == 0:
        raise InvalidParameterError("no customers to score (empty actual and predicted).")
    for name, v in (("actual", a), ("predicted", p)):
        bad = ~np.isfinite(v)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InvalidParameterError(
                f"{name} holds {int(bad.sum())} non-finite value(s) (first at position {first}: "
                f"{v[first]!r}); metrics need finite numbers."
            )
    return a, p


def mae(actual, predicted) -> float:
    """Mean absolute error per customer, ``mean(|predicted - actual|)`` (scikit-learn)."""
    a, p = _aligned(actual, predicted)
    return float(mean_absolute_error(a, p))


def rmse(actual, predicted) -> float:
    """Root mean squared error per customer, ``sqrt(mean((predicted - actual)**2))``.

    Computed by scikit-learn's ``root_mean_squared_error``.
    """
    a, p = _aligned(actual, predicted)
    return float(root_mean_squared_error(a, p))


def bias(actual, predicted) -> float:
    """Mean error per customer, ``mean(predicted - actual)``; > 0 means over-prediction."""
    a, p = _aligned(actual, predicted)
    return float(np.mean(p - a))


def total_error_pct(actual, predicted) -> float:
    """Error of the predicted total in % of the actual total: ``100 (sum p - sum a) / sum a``.

    When the actual total is 0 the percentage is undefined: 0.0 if the
    predicted total is 0 too, otherwise NaN with a
    :class:`~clvmodels.errors.StatisticalWarning`.
    """
    a, p = _aligned(actual, predicted)
    sa, sp = float(a.sum()), float(p.sum())
    if sa == 0:
        if sp == 0:
            return 0.0
        warnings.warn(
            f"total_error_pct: the actual total is 0 (predicted total {sp:g}), so the "
            "percentage error is undefined; returning NaN.",
            StatisticalWarning,
            stacklevel=2,
        )
        return math.nan
    return 100.0 * (sp - sa) / sa


def spearman(actual, predicted) -> float:
    """Spearman rank correlation of predicted and actual (ties get average ranks).

    Convention: 0.0 when either side is constant (or there is a single
    customer), where the correlation is undefined and scipy returns NaN. A
    method that predicts the same value for everybody ranks nobody.
    """
    a, p = _aligned(actual, predicted)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(p) == 0:
        return 0.0
    return float(stats.spearmanr(a, p).statistic)


def _check_ranking_actual(a: np.ndarray, what: str) -> float:
    if np.any(a < 0):
        raise InvalidParameterError(
            f"{what}: actual values must be >= 0 (shares of a total); found "
            f"{int((a < 0).sum())} negative value(s), e.g. {float(a[a < 0][0])!r}."
        )
    return float(a.sum())


def _gains_points(a: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative customer counts and actual sums at the ends of the tied groups.

    Customers are ordered by decreasing prediction; within a group of tied
    predictions the expected cumulative sum is linear, so linear
    interpolation between these points is exact for the tie convention.
    """
    order = np.argsort(-p, kind="stable")
    ps, as_ = p[order], a[order]
    ends = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True]) + 1
    counts = np.r_[0, ends].astype(float)
    sums = np.r_[0.0, np.cumsum(as_)[ends - 1]]
    return counts, sums


def gains_curve(actual, predicted) -> pd.DataFrame:
    """The cumulative gains (Lorenz) curve of a ranking.

    Customers sorted by decreasing prediction; ``share_of_customers`` is the
    fraction of customers taken, ``share_of_actual`` the fraction of the
    actual total they make. One point per group of tied predictions (the
    curve is linear in between), starting at (0, 0) and ending at (1, 1).

    Examples
    --------
    >>> gains_curve([0, 1, 3], [0.1, 0.5, 0.2])
       share_of_customers  share_of_actual
    0            0.000000             0.00
    1            0.333333             0.25
    2            0.666667             1.00
    3            1.000000             1.00
    """
    a, p = _aligned(actual, predicted)
    total = _check_ranking_actual(a, "gains_curve")
    counts, sums = _gains_points(a, p)
    share = sums / total if total > 0 else counts / counts[-1]
    return pd.DataFrame({"share_of_customers": counts / a.size, "share_of_actual": share})


def _n_top(share: float, n: int) -> int:
    if not (0 < share <= 1):
        raise InvalidParameterError(f"share must be in (0, 1], got {share!r}.")
    return max(1, math.ceil(share * n - 1e-9))


def top_share_capture(actual, predicted, share: float = 0.1) -> float:
    """Share of the actual total made by the ``ceil(share * n)`` customers ranked highest.

    Ties at the boundary share the remaining slots pro rata (see the module
    docstring). A perfect ranking captures the most any ``k`` customers make;
    a random one ``k / n`` on average. Returns NaN with a
    :class:`~clvmodels.errors.StatisticalWarning` when the actual total is 0.
    """
    a, p = _aligned(actual, predicted)
    total = _check_ranking_actual(a, "top_share_capture")
    k = _n_top(share, a.size)
    if total == 0:
        warnings.warn("top_share_capture: the actual total is 0; capture is undefined (NaN).",
                      StatisticalWarning, stacklevel=2)
        return math.nan
    counts, sums = _gains_points(a, p)
    return float(np.interp(k, counts, sums) / total)


def gini(actual, predicted) -> float:
    """Normalised Gini coefficient of the ranking, from the gains curve.

    ``G(ranking) = 2 * (area under the gains curve) - 1`` (trapezoids between
    the points of :func:`gains_curve`, exact under the tie convention), and
    the normalised Gini is ``G(predicted ranking) / G(ranking by the actual
    values)``: 1 for a perfect ranking, 0 for a random one (or a constant
    prediction), negative when the ranking is reversed. Returns NaN with a
    :class:`~clvmodels.errors.StatisticalWarning` when all actual values
    are equal (no ranking can do better than random).
    """
    a, p = _aligned(actual, predicted)
    total = _check_ranking_actual(a, "gini")

    def g(score):
        counts, sums = _gains_points(a, score)
        x, y = counts / a.size, sums / total
        return 2.0 * float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0)) - 1.0

    best = g(a) if total > 0 else 0.0
    if total == 0 or best <= 1e-12:
        warnings.warn("gini: all actual values are equal, so the Gini of a ranking is undefined "
                      "(NaN).", StatisticalWarning, stacklevel=2)
        return math.nan
    return g(p) / best


def conditional_expectations(frequency, actual, predicted, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual vs mean predicted holdout transactions by calibration frequency.

    The Fader, Hardie & Lee (2005, "Counting your customers" the easy way,
    figure 4) check of a model's conditional predictions: customers are
    grouped by their calibration repeat-purchase count ``0, 1, ...,
    max_frequency - 1`` and ``max_frequency+`` (all higher counts pooled),
    and each group's mean holdout transactions is compared with the mean
    prediction.

    Parameters
    ----------
    frequency : array-like of int
        Calibration repeat transactions per customer (the summary's ``frequency``).
    actual, predicted : array-like
        Holdout transactions per customer, aligned with ``frequency``.
    max_frequency : int, default 7
        The last group pools frequencies >= ``max_frequency``.

    Returns
    -------
    DataFrame
        Indexed by the group label (``"0"``, ..., ``"6"``, ``"7+"``; index
        name ``frequency``), columns ``n_customers``, ``actual`` and
        ``predicted`` (group means). Empty groups are left out.

    Examples
    --------
    >>> conditional_expectations([0, 0, 1, 5, 9], [0, 1, 1, 2, 6], [0.2, 0.2, 1.0, 3.0, 5.0],
    ...                          max_frequency=2)  # doctest: +NORMALIZE_WHITESPACE
               n_customers  actual  predicted
    frequency
    0                    2     0.5        0.2
    1                    1     1.0        1.0
    2+                   2     4.0        4.0
    """
    if isinstance(frequency, pd.Series) and isinstance(actual, pd.Series):
        if not frequency.index.equals(actual.index):
            frequency = frequency.reindex(actual.index)
    f = np.asarray(frequency, dtype=float).reshape(-1)
    a, p = _aligned(actual, predicted)
    if f.shape != a.shape:
        raise InvalidParameterError(
            f"frequency has {f.size} values for {a.size} customers; align it with actual."
        )
    if not np.all(np.isfinite(f)) or np.any(f < 0) or np.any(f != np.round(f)):
        raise InvalidParameterError("frequency must hold whole numbers >= 0 (repeat transactions).")
    if int(max_frequency) != max_frequency or max_frequency < 1:
        raise InvalidParameterError(
            f"max_frequency must be an integer >= 1, got {max_frequency!r}."
        )
    m = int(max_frequency)
    group = np.minimum(f.astype(np.int64), m)
    n = np.bincount(group, minlength=m + 1)
    sa = np.bincount(group, weights=a, minlength=m + 1)
    sp = np.bincount(group, weights=p, minlength=m + 1)
    keep = n > 0
    labels = [str(i) for i in range(m)] + [f"{m}+"]
    out = pd.DataFrame(
        {"n_customers": n[keep].astype(np.int64), "actual": sa[keep] / n[keep],
         "predicted": sp[keep] / n[keep]},
        index=pd.Index(np.array(labels, dtype=object)[keep], name="frequency"),
    )
    return out


def holdout_actuals(summary: pd.DataFrame) -> pd.DataFrame:
    """Actual holdout ``transactions`` and ``revenue`` per customer, from the holdout columns.

    ``transactions = frequency_holdout`` and ``revenue = frequency_holdout *
    monetary_value_holdout`` (the holdout total: ``monetary_value_holdout``
    is the mean per transaction day). Without ``monetary_value_holdout`` only
    ``transactions`` is returned.
    """
    if "frequency_holdout" not in summary.columns:
        raise InvalidParameterError(
            "the summary has no holdout columns; build it with "
            "clvmodels.rfm_summary(..., observation_end=...)."
        )
    out = pd.DataFrame({"transactions": summary["frequency_holdout"].astype(float)},
                       index=summary.index)
    if "monetary_value_holdout" in summary.columns:
        out["revenue"] = out["transactions"] * summary["monetary_value_holdout"].astype(float)
    return out


def holdout_log_likelihood(method, summary: pd.DataFrame, horizon: float, counts) -> float | None:
    """Total log-likelihood of the holdout counts under a probabilistic method, or None.

    Calls the optional hook ``method.log_likelihood_holdout(summary, horizon,
    counts)`` (per-customer ``log P(X(horizon) = counts[i] | calibration
    data)``), or failing that ``method.probability_of_holdout_counts(summary,
    horizon, counts)`` (the probabilities themselves, logged here), and
    returns the sum over customers. Returns None when the method has neither
    (deterministic formulas and baselines). A NaN from the method raises; a
    probability of 0 (``-inf``) is returned with a
    :class:`~clvmodels.errors.StatisticalWarning`.
    """
    hook = getattr(method, "log_likelihood_holdout", None)
    if not callable(hook):
        prob = getattr(method, "probability_of_holdout_counts", None)
        if not callable(prob):
            return None

        def hook(summary, horizon, counts):
            p = np.asarray(prob(summary, horizon, counts), dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(p)

    c = np.asarray(counts, dtype=float).reshape(-1)
    if c.size != len(summary) or np.any(c < 0) or np.any(c != np.round(c)):
        raise InvalidParameterError(
            f"counts must be {len(summary)} whole numbers >= 0, one per customer of the summary."
        )
    if isinstance(counts, pd.Series) and not counts.index.equals(summary.index):
        c = counts.reindex(summary.index).to_numpy(dtype=float)
    ll = np.asarray(hook(summary, horizon, c), dtype=float).reshape(-1)
    name = getattr(method, "name", type(method).__name__)
    if ll.size != c.size:
        raise CLVError(
            f"method {name!r}: log_likelihood_holdout returned {ll.size} values for "
            f"{c.size} customers."
        )
    n_nan, n_pos = int(np.isnan(ll).sum()), int(np.sum(ll > 1e-9))
    if n_nan or n_pos:
        raise CLVError(
            f"method {name!r}: log_likelihood_holdout returned {n_nan} NaN and {n_pos} positive "
            "log-probabilities; a log-probability is finite and <= 0 (or -inf)."
        )
    total = float(ll.sum())
    if not np.isfinite(total):
        warnings.warn(
            f"method {name!r} gives probability 0 to the holdout counts of "
            f"{int(np.isinf(ll).sum())} customer(s); the holdout log-likelihood is -inf.",
            StatisticalWarning,
            stacklevel=2,
        )
    return total


def score_predictions(predictions: pd.DataFrame, actual: pd.DataFrame, *,
                      log_likelihood: float | None = None,
                      shares=(0.1, 0.2)) -> pd.Series:
    """Every metric for one method, on the same customers.

    Parameters
    ----------
    predictions : DataFrame
        A method's ``predict`` result: columns ``transactions`` and ``revenue``.
    actual : DataFrame
        Actual holdout values with the same columns (see :func:`holdout_actuals`),
        for the same customers (aligned by index). A target missing from
        either frame is skipped.
    log_likelihood : float, optional
        The method's holdout log-likelihood (:func:`holdout_log_likelihood`),
        reported as ``holdout_log_likelihood`` when given.
    shares : sequence of float, default (0.1, 0.2)
        Top shares for the capture metrics (``top10_capture``, ``top20_capture``).

    Returns
    -------
    Series
        Indexed by metric name, ``{target}_{metric}`` for target in
        ``transactions``, ``revenue`` and metric in ``mae``, ``rmse``,
        ``bias``, ``total_error_pct``, ``spearman``, ``top10_capture``,
        ``top20_capture``, ``gini``; see :data:`METRICS` for which direction
        is better.
    """
    values = {}
    targets = [t for t in TARGETS if t in predictions.columns and t in actual.columns]
    if not targets:
        raise InvalidParameterError(
            f"predictions (columns {list(predictions.columns)}) and actual (columns "
            f"{list(actual.columns)}) share none of the targets {list(TARGETS)}."
        )
    for t in targets:
        a, p = actual[t], predictions[t]
        a_arr, p_arr = _aligned(a, p)
        values[f"{t}_mae"] = mae(a_arr, p_arr)
        values[f"{t}_rmse"] = rmse(a_arr, p_arr)
        values[f"{t}_bias"] = bias(a_arr, p_arr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            values[f"{t}_total_error_pct"] = total_error_pct(a_arr, p_arr)
            values[f"{t}_spearman"] = spearman(a_arr, p_arr)
            for s in shares:
                values[f"{t}_top{round(100 * s):d}_capture"] = top_share_capture(a_arr, p_arr, s)
            values[f"{t}_gini"] = gini(a_arr, p_arr)
    undefined = [k for k, v in values.items() if isinstance(v, float) and math.isnan(v)]
    if undefined:
        warnings.warn(
            f"score_predictions: {undefined} are undefined on these actual values (all equal or "
            "summing to 0) and are NaN.",
            StatisticalWarning,
            stacklevel=2,
        )
    if log_likelihood is not None:
        values["holdout_log_likelihood"] = float(log_likelihood)
    return pd.Series(values, name="value", dtype=float)
