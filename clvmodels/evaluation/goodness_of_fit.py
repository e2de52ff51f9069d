"""Goodness-of-fit tests of a model's expected counts against observed counts.

:func:`pooled_chi_square` is the test the validation report applies to the
calibration frequency histogram (Fader, Hardie & Lee 2005, figure 2): the
customers with 0, 1, 2, ... repeat transactions against the number each
model expects, adjacent cells pooled so that each expects enough customers
for the chi-square approximation.
"""

from __future__ import annotations

import numpy as np

from clvmodels.errors import InvalidParameterError

__all__ = ["pooled_chi_square"]


def pooled_chi_square(actual, expected, n_params: int, min_expected: float = 5.0) -> dict:
    """Pearson chi-square of observed vs expected counts, adjacent cells pooled.

    Cells are taken in order and merged with their right neighbours until the
    pooled expected count reaches ``min_expected``; a remainder below it is
    merged into the last pooled cell. The statistic
    :math:`\\sum (O - E)^2 / E` has ``k - 1 - n_params`` degrees of freedom
    (``k`` pooled cells, parameters estimated from the same data); the
    p-value is :func:`scipy.stats.chi2.sf`. With no degree of freedom left
    the test is not computed (``statistic`` and ``p_value`` are NaN).

    Parameters
    ----------
    actual, expected : array-like of float
        Observed and expected counts per cell, in the cells' order (e.g.
        customers with 0, 1, ..., 7+ repeat transactions), of equal length.
    n_params : int
        Number of model parameters estimated from the same data.
    min_expected : float, default 5
        Smallest expected count of a pooled cell.

    Returns
    -------
    dict
        ``groups`` (list of lists of input positions), ``actual``,
        ``expected`` (pooled arrays), ``statistic``, ``df``, ``p_value``.

    Raises
    ------
    InvalidParameterError
        When ``actual`` and ``expected`` differ in length or are not finite.

    Examples
    --------
    >>> from clvmodels.evaluation import pooled_chi_square
    >>> res = pooled_chi_square([50, 30, 20], [45.0, 35.0, 20.0], n_params=0)
    >>> res["df"], round(res["statistic"], 4), round(res["p_value"], 4)
    (2, 1.2698, 0.53)
    >>> pooled_chi_square([10, 3, 2, 1], [9.0, 4.0, 3.0, 1.0], n_params=1)["groups"]
    [[0], [1, 2, 3]]
    """
    from scipy import stats

    o = np.asarray(actual, dtype=float).reshape(-1)
    e = np.asarray(expected, dtype=float).reshape(-1)
    if o.shape != e.shape:
        raise InvalidParameterError(
            f"pooled_chi_square: actual has {o.size} cells and expected {e.size}; give one "
            "observed and one expected count per cell."
        )
    if not (np.isfinite(o).all() and np.isfinite(e).all()):
        raise InvalidParameterError(
            "pooled_chi_square: the observed and expected counts must be finite."
        )
    groups, cur, acc = [], [], 0.0
    for i, v in enumerate(e):
        cur.append(i)
        acc += v
        if acc >= min_expected:
            groups.append(cur)
            cur, acc = [], 0.0
    if cur:
        if groups:
            groups[-1].extend(cur)
        else:
            groups.append(cur)
    po = np.array([o[g].sum() for g in groups])
    pe = np.array([e[g].sum() for g in groups])
    df = len(groups) - 1 - int(n_params)
    if df >= 1 and np.all(pe > 0):
        stat = float(np.sum((po - pe) ** 2 / pe))
        p = float(stats.chi2.sf(stat, df))
    else:
        stat, p = float("nan"), float("nan")
    return {"groups": groups, "actual": po, "expected": pe, "statistic": stat, "df": df,
            "p_value": p}
