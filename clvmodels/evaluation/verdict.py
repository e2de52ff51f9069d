"""The statistics of the verdict: paired bootstrap over customers, DM tests across cutoffs.

"Which method predicts my customers best?" is answered per decision, with the
uncertainty a validator needs:

:func:`paired_bootstrap`
    Resamples the *customers* (the same resamples for every method, so differences
    between methods are paired) and recomputes each metric on each resample: every
    metric gets a percentile interval, and every method its difference from the best
    method with an interval and the share of resamples in which it is better. The
    metrics are computed from resample counts (a customer drawn twice weighs 2), in
    O(customers) per resample and method, ranking metrics included: the order of the
    customers by prediction is sorted once, ties share their slots pro rata exactly as
    in :mod:`clvmodels.evaluation.metrics`, and at unit weights every statistic equals
    its :mod:`~clvmodels.evaluation.metrics` counterpart.
:func:`diebold_mariano`
    Diebold & Mariano's (1995) test of equal expected loss of two methods over
    backtest cutoffs, with Harvey, Leybourne & Newbold's (1997) small-sample
    correction and a Student t reference (a handful of cutoffs is the usual case).
:func:`rank_first_share`
    How often each method ranks first across cutoffs.
:func:`decide`
    One row per decision: the recommended method, the runner-up, the margin with its
    interval, and whether the margin is significant ("no clear winner" otherwise).

The metrics known to the bootstrap (:data:`BOOTSTRAP_METRICS`): ``rmse``, ``mae``,
``bias``, ``total_error_pct``, ``abs_total_error_pct``, ``spearman``, ``gini``,
``top10_capture``, ``top20_capture``, ``mean_log_score``, ``mean_rps``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError

__all__ = [
    "BOOTSTRAP_METRICS",
    "DECISIONS",
    "comparison_verdict",
    "decide",
    "diebold_mariano",
    "paired_bootstrap",
    "rank_first_share",
]

#: metric -> (direction, needs) ; direction "lower" or "higher" is better;
#: needs: "point" (predictions and actuals) or the name of a per-customer score column.
BOOTSTRAP_METRICS: dict[str, tuple[str, str]] = {
    "rmse": ("lower", "point"),
    "mae": ("lower", "point"),
    "bias": ("zero", "point"),
    "total_error_pct": ("zero", "point"),
    "abs_total_error_pct": ("lower", "point"),
    "spearman": ("higher", "point"),
    "gini": ("higher", "point"),
    "top10_capture": ("higher", "point"),
    "top20_capture": ("higher", "point"),
    "mean_log_score": ("higher", "log_score"),
    "mean_rps": ("lower", "rps"),
}

# resamples evaluated at once (each a float64 row of n customers)
_CHUNK_CELLS = 4_000_000


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidParameterError(f"{name} must be a whole number >= {minimum}, got {value!r}.")
    return int(value)


class _Ranking:
    """A method's ranking of the customers, sorted once: tied groups in decreasing order."""

    def __init__(self, score: np.ndarray):
        order = np.argsort(-score, kind="stable")
        sorted_score = score[order]
        starts = np.r_[True, sorted_score[1:] != sorted_score[:-1]]
        group_sorted = np.cumsum(starts) - 1
        self.group = np.empty(score.size, dtype=np.int64)
        self.group[order] = group_sorted
        self.n_groups = int(group_sorted[-1]) + 1 if score.size else 0

    def sums(self, W: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        """Per resample and tied group: the sum of weights (or of weight x value)."""
        B = W.shape[0]
        offsets = (np.arange(B)[:, None] * self.n_groups + self.group[None, :]).ravel()
        weights = W.ravel() if values is None else (W * values[None, :]).ravel()
        return np.bincount(offsets, weights=weights, minlength=B * self.n_groups).reshape(
            B, self.n_groups)


def _curve(W, a, ranking: _Ranking):
    """Cumulative weights and weighted actuals at the ends of the tied groups, from 0."""
    cw = np.cumsum(ranking.sums(W, None), axis=1)
    ca = np.cumsum(ranking.sums(W, a), axis=1)
    zeros = np.zeros((W.shape[0], 1))
    return np.hstack([zeros, cw]), np.hstack([zeros, ca])


def _capture(W, a, ranking, share):
    cw, ca = _curve(W, a, ranking)
    N = cw[:, -1]
    total = ca[:, -1]
    k = np.maximum(1.0, np.ceil(share * N - 1e-9))
    out = np.empty(W.shape[0])
    for b in range(W.shape[0]):  # one interpolation per resample (G points each)
        out[b] = np.interp(k[b], cw[b], ca[b])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, out / total, np.nan)


def _gini_raw(W, a, ranking):
    cw, ca = _curve(W, a, ranking)
    x = cw / cw[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = ca / ca[:, -1:]
    area = np.sum((x[:, 1:] - x[:, :-1]) * (y[:, 1:] + y[:, :-1]) / 2.0, axis=1)
    return 2.0 * area - 1.0


def _weighted_ranks(W, ranking_ascending: _Ranking):
    """Average ranks (1-based) of each customer within each resample, ties averaged."""
    g = ranking_ascending
    wsum = g.sums(W, None)  # (B, G) in decreasing order of the score
    # ranks ascending: groups with smaller scores come first, i.e. reverse the group order
    below = np.cumsum(wsum[:, ::-1], axis=1)[:, ::-1] - wsum  # weight strictly below each group
    rank_group = below + (wsum + 1.0) / 2.0
    return rank_group[:, g.group]


def _weighted_pearson(W, u, v):
    N = W.sum(axis=1, keepdims=True)
    mu = (W * u).sum(axis=1, keepdims=True) / N
    mv = (W * v).sum(axis=1, keepdims=True) / N
    du, dv = u - mu, v - mv
    cov = (W * du * dv).sum(axis=1)
    var_u = (W * du * du).sum(axis=1)
    var_v = (W * dv * dv).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / np.sqrt(var_u * var_v)
    return np.where((var_u > 0) & (var_v > 0), r, 0.0)  # constant side: 0 (metrics' convention)


class _Method:
    def __init__(self, predicted, actual, scores):
        self.p = predicted
        self.scores = scores
        self.rank = _Ranking(predicted)
        self._a = actual


def _metric_values(name: str, W: np.ndarray, a: np.ndarray, m: _Method, shared: dict
                   ) -> np.ndarray:
    """One metric of one method on each resample (rows of ``W``).

    ``shared`` caches what all methods of a chunk of resamples share: ``"actual_ranking"``
    (the customers sorted by their actual value, once per call), and per chunk the
    normalising Gini of the actual ranking and the actual values' resample ranks.
    """
    N = W.sum(axis=1)
    if name == "rmse":
        return np.sqrt((W * (m.p - a) ** 2).sum(axis=1) / N)
    if name == "mae":
        return (W * np.abs(m.p - a)).sum(axis=1) / N
    if name == "bias":
        return (W * (m.p - a)).sum(axis=1) / N
    if name in ("total_error_pct", "abs_total_error_pct"):
        sa, sp = W @ a, W @ m.p
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(sa > 0, 100.0 * (sp - sa) / sa, np.nan)
        return np.abs(pct) if name == "abs_total_error_pct" else pct
    if name == "gini":
        if "best_gini" not in shared:
            shared["best_gini"] = _gini_raw(W, a, shared["actual_ranking"])
        with np.errstate(divide="ignore", invalid="ignore"):
            return _gini_raw(W, a, m.rank) / shared["best_gini"]
    if name in ("top10_capture", "top20_capture"):
        return _capture(W, a, m.rank, 0.1 if name == "top10_capture" else 0.2)
    if name == "spearman":
        if "actual_ranks" not in shared:
            shared["actual_ranks"] = _weighted_ranks(W, shared["actual_ranking"])
        return _weighted_pearson(W, shared["actual_ranks"], _weighted_ranks(W, m.rank))
    column = BOOTSTRAP_METRICS[name][1]
    values = m.scores.get(column) if m.scores else None
    if values is None:
        return np.full(W.shape[0], np.nan)
    return (W @ values) / N


def _better(direction: str, values: np.ndarray) -> np.ndarray:
    """Values turned into 'lower is better' losses."""
    if direction == "lower":
        return values
    if direction == "higher":
        return -values
    return np.abs(values)


def paired_bootstrap(predictions, actual, *, metrics=("rmse", "abs_total_error_pct", "gini"),
                     scores: dict | None = None, n_boot: int = 200, level: float = 0.9,
                     random_state=None, progress: bool = False) -> pd.DataFrame:
    """Bootstrap over customers, paired across methods: intervals and differences from the best.

    Parameters
    ----------
    predictions : DataFrame or dict of str -> array_like
        One column per method: its prediction for each customer (same order as
        ``actual``).
    actual : array_like or Series
        The holdout values (>= 0 for the ranking metrics).
    metrics : sequence of str
        Names from :data:`BOOTSTRAP_METRICS`.
    scores : dict, optional
        ``{method: {"log_score": per-customer log P(y), "rps": per-customer RPS}}`` for
        the metrics computed from per-customer scores (``mean_log_score``,
        ``mean_rps``); methods without them get NaN there.
    n_boot : int, default 200
        Resamples (the same for every method).
    level : float, default 0.9
        Level of the percentile intervals.
    random_state : None, int or numpy Generator
    progress : bool
        A progress bar over the resamples.

    Returns
    -------
    DataFrame
        One row per (metric, method): ``estimate`` (on the full data), ``ci_lower``,
        ``ci_upper``; ``best`` (the metric's best method by the estimate), ``difference``
        (this method minus the best, in the metric's units; 0 for the best),
        ``difference_lower``/``difference_upper`` (its paired interval) and
        ``share_better`` (share of resamples in which this method beats the best).
        ``attrs`` holds ``n_boot``, ``level`` and the number of customers.
    """
    if isinstance(predictions, pd.DataFrame):
        names = [str(c) for c in predictions.columns]
        columns = [predictions[c].to_numpy(dtype=float) for c in predictions.columns]
    else:
        names = [str(k) for k in predictions]
        columns = [np.asarray(v, dtype=float).reshape(-1) for v in predictions.values()]
    a = np.asarray(actual, dtype=float).reshape(-1)
    n = a.size
    if n == 0 or not names:
        raise InvalidParameterError("paired_bootstrap needs at least one method and one customer.")
    for name, col in zip(names, columns, strict=True):
        if col.shape != a.shape or not np.all(np.isfinite(col)):
            raise InvalidParameterError(
                f"the predictions of {name!r} must be {n} finite values, one per customer."
            )
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InvalidParameterError("actual must hold finite values >= 0.")
    unknown = [m for m in metrics if m not in BOOTSTRAP_METRICS]
    if unknown:
        raise InvalidParameterError(
            f"unknown metric(s) {unknown}; the bootstrap knows {sorted(BOOTSTRAP_METRICS)}."
        )
    n_boot = _check_count(n_boot, "n_boot", 2)
    if not (0 < level < 1):
        raise InvalidParameterError(f"level must be in (0, 1), got {level!r}.")
    rng = check_random_state(random_state)
    scores = scores or {}
    methods = []
    for name, col in zip(names, columns, strict=True):
        s = scores.get(name, {})
        methods.append(_Method(col, a, {k: np.asarray(v, dtype=float).reshape(-1)
                                        for k, v in s.items()}))
    actual_ranking = _Ranking(a)

    def evaluate(W):
        shared = {"actual_ranking": actual_ranking}  # per chunk of resamples
        return {mt: np.stack([_metric_values(mt, W, a, m, shared) for m in methods], axis=1)
                for mt in metrics}

    full = evaluate(np.ones((1, n)))
    per = max(1, _CHUNK_CELLS // max(n, 1))
    chunks = range(0, n_boot, per)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="paired bootstrap", total=math.ceil(n_boot / per))
    boot = {mt: np.empty((n_boot, len(methods))) for mt in metrics}
    for start in chunks:
        B = min(per, n_boot - start)
        idx = rng.integers(0, n, size=(B, n))
        idx += np.arange(B)[:, None] * n
        W = np.bincount(idx.ravel(), minlength=B * n).reshape(B, n).astype(float)
        for mt, values in evaluate(W).items():
            boot[mt][start:start + B] = values
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    rows = []
    for mt in metrics:
        direction = BOOTSTRAP_METRICS[mt][0]
        estimate = full[mt][0]
        loss = _better(direction, estimate)
        finite = np.isfinite(loss)
        best = int(np.nanargmin(np.where(finite, loss, np.nan))) if finite.any() else 0
        values = boot[mt]
        for j, name in enumerate(names):
            col = values[:, j]
            diff = col - values[:, best]
            ok = np.isfinite(diff)
            better = _better(direction, col) < _better(direction, values[:, best])
            rows.append({
                "metric": mt, "method": name, "estimate": float(estimate[j]),
                "ci_lower": float(np.nanpercentile(col, lo_q)) if np.isfinite(col).any()
                else np.nan,
                "ci_upper": float(np.nanpercentile(col, hi_q)) if np.isfinite(col).any()
                else np.nan,
                "best": names[best],
                "difference": float(estimate[j] - estimate[best]),
                "difference_lower": float(np.percentile(diff[ok], lo_q)) if ok.any() else np.nan,
                "difference_upper": float(np.percentile(diff[ok], hi_q)) if ok.any() else np.nan,
                "share_better": float(better[ok].mean()) if ok.any() else np.nan,
            })
    out = pd.DataFrame(rows)
    out.attrs = {"n_boot": n_boot, "level": level, "n_customers": n}
    return out


def diebold_mariano(loss_a, loss_b, *, horizon: int = 1) -> pd.Series:
    """Test of equal expected loss of two methods over backtest cutoffs (DM 1995, HLN 1997).

    With ``d_t = loss_a[t] - loss_b[t]`` over ``T`` cutoffs, ``DM = dbar / sqrt(V / T)``
    where ``V`` is the long-run variance of ``d`` (autocovariances up to lag
    ``horizon - 1``); Harvey, Leybourne & Newbold's correction multiplies it by
    ``sqrt((T + 1 - 2h + h(h - 1) / T) / T)`` and compares it with Student's t on ``T - 1``
    degrees of freedom.

    Returns
    -------
    Series
        ``mean_difference`` (a minus b; < 0: a has the lower loss), ``statistic``,
        ``p_value`` (two-sided), ``n_cutoffs``. With fewer than 2 cutoffs, or
        identical losses, the statistic is NaN and the p-value 1.

    Examples
    --------
    >>> r = diebold_mariano([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    >>> round(float(r["statistic"]), 4), round(float(r["p_value"]), 4)
    (-1.7321, 0.2254)
    """
    from scipy.stats import t as student_t

    a = np.asarray(loss_a, dtype=float).reshape(-1)
    b = np.asarray(loss_b, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise InvalidParameterError("loss_a and loss_b need one loss per cutoff, same length.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InvalidParameterError("the losses must be finite.")
    h = _check_count(horizon, "horizon", 1)
    d = a - b
    T = d.size
    out = {"mean_difference": float(d.mean()) if T else np.nan, "statistic": np.nan,
           "p_value": 1.0, "n_cutoffs": T}
    if T < 2:
        return pd.Series(out)
    dc = d - d.mean()
    V = float(dc @ dc) / T
    for lag in range(1, min(h, T)):
        V += 2.0 * float(dc[lag:] @ dc[:-lag]) / T
    if V <= 0:
        return pd.Series(out)
    dm = d.mean() / math.sqrt(V / T)
    dm *= math.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T)
    out["statistic"] = float(dm)
    out["p_value"] = float(2.0 * student_t.sf(abs(dm), T - 1))
    return pd.Series(out)


def rank_first_share(per_cutoff: pd.DataFrame, direction: str) -> pd.Series:
    """Share of cutoffs in which each method ranks first on a metric.

    Parameters
    ----------
    per_cutoff : DataFrame
        Index: cutoff; columns: methods; values: the metric.
    direction : {"lower", "higher", "zero"}
        Which values are better. Ties for first share the win equally.
    """
    if direction not in ("lower", "higher", "zero"):
        raise InvalidParameterError(f"direction must be 'lower', 'higher' or 'zero', got "
                                    f"{direction!r}.")
    loss = _better(direction, per_cutoff.to_numpy(dtype=float))
    wins = np.zeros(loss.shape[1])
    for row in loss:
        if np.isfinite(row).any():
            first = np.flatnonzero(row == np.nanmin(row))
            wins[first] += 1.0 / first.size
    return pd.Series(wins / max(len(per_cutoff), 1), index=per_cutoff.columns,
                     name="share_ranked_first")


def decide(bootstrap: pd.DataFrame, decisions: dict[str, str]) -> pd.DataFrame:
    """The verdict: per decision, the recommended method, the runner-up and the margin.

    Parameters
    ----------
    bootstrap : DataFrame
        The output of :func:`paired_bootstrap`.
    decisions : dict of str -> str
        Decision name -> the metric it is judged by (one of the bootstrap's metrics).

    Returns
    -------
    DataFrame
        Index: decision. Columns: ``metric``, ``method`` (the best by the estimate),
        ``runner_up``, ``margin`` (how much worse the runner-up is, >= 0 in the
        metric's "worse" direction), ``ci_lower``/``ci_upper`` (the paired bootstrap
        interval of the margin), ``significant`` (the interval excludes 0),
        ``share_better`` (resamples in which the runner-up beats the best) and
        ``conclusion`` ("<method>" or "no clear winner: <method> or <runner-up>").
    """
    rows = {}
    for decision, metric in decisions.items():
        part = bootstrap[bootstrap["metric"] == metric]
        if part.empty:
            raise InvalidParameterError(
                f"decision {decision!r} is judged by {metric!r}, which the bootstrap did not "
                f"compute (it has {sorted(bootstrap['metric'].unique())})."
            )
        direction = BOOTSTRAP_METRICS[metric][0]
        if direction not in ("lower", "higher"):
            raise InvalidParameterError(
                f"decision {decision!r}: {metric!r} is best at zero, not at an end; judge it by "
                f"its absolute value (e.g. abs_total_error_pct instead of total_error_pct)."
            )
        best_name = part["best"].iloc[0]
        others = part[part["method"] != best_name].copy()
        if others.empty:
            rows[decision] = {"metric": metric, "method": best_name, "runner_up": None,
                              "margin": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
                              "significant": False, "share_better": np.nan,
                              "conclusion": best_name}
            continue
        others["loss"] = _better(direction, others["estimate"].to_numpy())
        runner = others.sort_values("loss", kind="stable").iloc[0]
        # the margin in the 'worse' direction: how much the runner-up loses to the best
        sign = 1.0 if direction == "lower" else -1.0
        margin = sign * runner["difference"]
        lo, hi = sorted((sign * runner["difference_lower"], sign * runner["difference_upper"]))
        significant = bool(np.isfinite(lo) and lo > 0)
        conclusion = (best_name if significant
                      else f"no clear winner: {best_name} or {runner['method']}")
        rows[decision] = {"metric": metric, "method": best_name, "runner_up": runner["method"],
                          "margin": float(margin), "ci_lower": float(lo), "ci_upper": float(hi),
                          "significant": significant,
                          "share_better": float(runner["share_better"]),
                          "conclusion": conclusion}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "decision"
    return out


#: The decisions people make with CLV, each judged by one (target, metric): budgeting by
#: the error of the total, targeting by the Gini of the ranking, valuation by the RMSE per
#: customer, and the predicted distribution of each customer's count (for the methods
#: that give one) by the ranked probability score. Valuation is not judged by the MAE: on
#: zero-inflated holdouts (most customers buy nothing) the MAE is minimised by the
#: median, 0, so it ranks "predict zero" near the top; the squared error is minimised by
#: the mean, the quantity a valuation needs (and is a proper score for it).
DECISIONS: dict[str, tuple[str, str]] = {
    "budgeting: total revenue": ("revenue", "abs_total_error_pct"),
    "budgeting: total transactions": ("transactions", "abs_total_error_pct"),
    "targeting: who spends most": ("revenue", "gini"),
    "valuation: revenue per customer": ("revenue", "rmse"),
    "valuation: transactions per customer": ("transactions", "rmse"),
    "forecast distribution: holdout counts": ("transactions", "mean_rps"),
}

# bootstrap metric -> the backtest metric (per cutoff) that measures the same thing
_BACKTEST_NAME = {"abs_total_error_pct": "total_error_pct", "gini": "gini", "rmse": "rmse",
                  "mean_log_score": "holdout_log_likelihood"}


def comparison_verdict(result, *, decisions: dict | None = None, n_boot: int = 200,
                       level: float = 0.9, random_state=0, progress: bool = False
                       ) -> pd.DataFrame:
    """The verdict of a :func:`~clvmodels.compare` run: one row per decision.

    The paired bootstrap (:func:`paired_bootstrap`, the same resamples for every method
    and every target) runs on the main split's per-customer predictions; with several
    backtest cutoffs the verdict also reports how often the recommended method ranked
    first across cutoffs and a Diebold-Mariano test of it against the runner-up on the
    per-cutoff losses.

    Parameters
    ----------
    result : ComparisonResult
    decisions : dict, optional
        ``{decision: (target, metric)}``; default :data:`DECISIONS`.
    n_boot, level, random_state, progress
        As in :func:`paired_bootstrap`.

    Returns
    -------
    DataFrame
        Index ``decision``; columns ``target``, ``metric``, ``method``, ``runner_up``,
        ``margin``, ``ci_lower``, ``ci_upper``, ``significant``, ``share_better``,
        ``conclusion``, and with backtesting ``rank_first_share`` and ``dm_p_value`` (NaN
        for the distribution decision: the backtest keeps no per-cutoff RPS). The
        distribution decision is left out when no method predicts a count distribution.
        ``attrs["bootstrap"]`` holds the full bootstrap tables by target.
    """
    default = decisions is None
    decisions = dict(DECISIONS) if default else decisions
    preds = result.predictions
    if preds.empty:
        raise InvalidParameterError("the comparison has no predictions (every method failed).")
    by_target: dict[str, list[str]] = {}
    for decision, (target, metric) in decisions.items():
        if target not in ("transactions", "revenue"):
            raise InvalidParameterError(
                f"decision {decision!r}: target must be 'transactions' or 'revenue', got "
                f"{target!r}."
            )
        by_target.setdefault(target, [])
        if metric not in by_target[target]:
            by_target[target].append(metric)
    per_customer = {}
    if any(m in ("mean_rps", "mean_log_score") for ms in by_target.values() for m in ms):
        from clvmodels.evaluation.scores import distribution_scores

        # per-customer scores of the methods with a count distribution, in the order of
        # result.summary; the bootstrap below pivots on customer ids in that same order
        dist = distribution_scores(result)
        order = pd.Index(result.summary.index)
        per_customer = {name: {k: pd.Series(v, index=order) for k, v in d.items()}
                        for name, d in dist["per_customer"].items()}
        if default and not per_customer:  # no method predicts a distribution: no such decision
            decisions = {d: tm for d, tm in decisions.items()
                         if tm[1] not in ("mean_rps", "mean_log_score")}
            by_target = {}
            for t, m in decisions.values():
                by_target.setdefault(t, [])
                if m not in by_target[t]:
                    by_target[t].append(m)
    tables, parts = {}, []
    for target, metric_list in by_target.items():
        wide = preds.pivot(index="customer_id", columns="method", values=target)
        wide = wide.dropna(axis=1)  # a method that failed has no predictions
        actual = preds.drop_duplicates("customer_id").set_index("customer_id")[
            f"actual_{target}"].reindex(wide.index)
        scores = {name: {k: v.reindex(wide.index).to_numpy() for k, v in d.items()}
                  for name, d in per_customer.items() if name in wide.columns}
        table = paired_bootstrap(wide, actual, metrics=metric_list, scores=scores,
                                 n_boot=n_boot, level=level, random_state=random_state,
                                 progress=progress)
        tables[target] = table
        chosen = {d: m for d, (t, m) in decisions.items() if t == target}
        part = decide(table, chosen)
        part.insert(0, "target", target)
        parts.append(part)
    out = pd.concat(parts).loc[list(decisions)]
    out["metric"] = [f"{t}_{m}" for t, m in zip(out["target"], out["metric"], strict=True)]
    backtest = getattr(result, "backtest", None)
    cutoffs = backtest["cutoff"].nunique() if backtest is not None and len(backtest) else 0
    if cutoffs > 1:
        first, dm = [], []
        for decision, (target, metric) in decisions.items():
            name = _BACKTEST_NAME.get(metric, metric)
            name = name if name == "holdout_log_likelihood" else f"{target}_{name}"
            per = backtest[backtest["metric"] == name].pivot(index="cutoff", columns="method",
                                                             values="value")
            if metric == "abs_total_error_pct":
                per = per.abs()
            direction = BOOTSTRAP_METRICS[metric][0]
            row = out.loc[decision]
            share = rank_first_share(per, direction) if not per.empty else pd.Series(dtype=float)
            first.append(float(share.get(row["method"], np.nan)))
            if row["runner_up"] in per and row["method"] in per:
                sign = 1.0 if direction == "lower" else -1.0
                test = diebold_mariano(sign * per[row["method"]].to_numpy(),
                                       sign * per[row["runner_up"]].to_numpy())
                dm.append(float(test["p_value"]))
            else:
                dm.append(np.nan)
        out["rank_first_share"] = first
        out["dm_p_value"] = dm
    out.attrs = {"bootstrap": tables, "n_boot": n_boot, "level": level}
    return out
