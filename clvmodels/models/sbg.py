"""The shifted-beta-geometric (sBG) model of contract renewals.

Model (Fader & Hardie 2007, "How to project customer retention", Journal of
Interactive Marketing 21(1), 76-90): a subscriber decides at the end of every
period whether to renew; while a customer, they churn at the end of each
period with probability ``theta`` (so their lifetime ``T``, the number of
periods they pay for, is geometric on 1, 2, ...), and across customers
``theta ~ Beta(alpha, beta)``. Integrating ``theta`` out gives

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, ``t = 1, 2, ...`` (eq. 2),
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)`` (eq. 3),
* ``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)`` (eq. 4),
  the retention rate, which *increases* with ``t`` although no customer's
  churn probability changes: the customers who churn easily leave first.

Data are a cohort's survivor counts ``n_0, n_1, ..., n_k`` (customers active
at the start of each period, ``n_0`` the cohort size, as in the paper's
Table 1), or one lifetime per customer, possibly right-censored. With
``n_{t-1} - n_t`` customers lost in period ``t`` and ``n_k`` still active,
the log-likelihood is (eq. 5)::

    LL(alpha, beta) = sum_{t=1}^{k} (n_{t-1} - n_t) log P(T = t) + n_k log S(k).

Both forms reduce to rows ``(period, churned)`` with customer counts as
weights: ``churned = 1`` contributes ``log P(T = period)``, ``churned = 0``
(still active after ``period`` periods) contributes ``log S(period)``.

Valuation (Fader & Hardie 2010, "Customer-base valuation in a contractual
setting: the perils of ignoring heterogeneity", Marketing Science 29(1),
85-93): with a per-period discount rate ``d`` and payments at the start of
each period,

* ``DEL(d) = sum_{t>=0} S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d))``
  (eq. 6), the discounted expected lifetime of a new customer;
* ``DERL(d | n - 1 renewals) = sum_{t>=n} S(t) / S(n - 1) / (1 + d)^(t - n)
  = (beta + n - 1) / (alpha + beta + n - 1) 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))``
  (eq. 7), the discounted expected residual lifetime of a customer who has
  renewed ``n - 1`` times, evaluated just before the ``n``-th renewal.

``scipy.special.hyp2f1`` is unreliable for these arguments (it returns inf,
NaN or wrong signs when ``1 / (1 + d)`` is near 1 and ``alpha + beta + n``
is large); :func:`hyp2f1_unit` evaluates ``2F1(1, b; b + g; 1 / (1 + d))`` from
its positive series and a bounded tail expansion instead (to about 1e-15).

The maths are pure functions over arrays; :class:`ShiftedBetaGeometric` is
the thin estimator around them. Params arrays are ``(alpha, beta)`` in that
order (or a mapping with those keys).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy.special import digamma

from clvmodels.errors import (
    InvalidCustomerDataError,
    InvalidParameterError,
    InvalidSummaryError,
    StatisticalWarning,
)
from clvmodels.models._base import BaseModel, check_is_fitted
from clvmodels.models._params import unpack_params
from clvmodels.models._special import log_beta

__all__ = [
    "PARAM_NAMES",
    "ShiftedBetaGeometric",
    "counts_to_lifetimes",
    "log_likelihood",
    "log_likelihood_rows",
    "gradient",
    "probability_churn",
    "survival",
    "retention_rate",
    "expected_lifetime",
    "discounted_expected_lifetime",
    "discounted_expected_residual_lifetime",
    "expected_survivors",
    "hyp2f1_unit",
]

#: Names of the parameters, in the order used by every params array.
PARAM_NAMES = ("alpha", "beta")


# ---------------------------------------------------------------------------
# argument helpers
# ---------------------------------------------------------------------------
def _unpack(params) -> tuple[float, float]:
    return unpack_params(params, PARAM_NAMES, "sBG")


def _periods(t, name: str = "t", minimum: int = 0) -> np.ndarray:
    """Whole numbers ``>= minimum`` as a float array (periods are counted, not measured)."""
    arr = np.asarray(t, dtype=float)
    bad = ~np.isfinite(arr) | (arr < minimum) | (arr != np.round(arr))
    if np.any(bad):
        first = arr.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]
        raise InvalidParameterError(
            f"{name} must hold whole numbers >= {minimum} (periods are counted); got {first!r}."
        )
    return arr


def _discount(discount_rate) -> np.ndarray:
    d = np.asarray(discount_rate, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise InvalidParameterError(
            f"discount_rate must be finite and >= 0 (per period, e.g. 0.1 for 10%), "
            f"got {discount_rate!r}."
        )
    return d


# ---------------------------------------------------------------------------
# data: survivor counts -> (period, churned, customers) rows
# ---------------------------------------------------------------------------
def counts_to_lifetimes(counts) -> pd.DataFrame:
    """Turn a cohort's survivor counts into (period, churned) rows with customer counts.

    Parameters
    ----------
    counts : array_like of int
        Customers active at the start of periods 0, 1, ..., k (``counts[0]``
        is the cohort size); must be whole numbers and never increase.

    Returns
    -------
    DataFrame
        Columns ``period``, ``churned`` (1 = lost in that period, 0 = still
        active after it) and ``customers``: one row per period ``t = 1..k``
        with the ``counts[t-1] - counts[t]`` customers lost in it, and a last
        row ``(k, 0, counts[k])`` for the survivors.

    Raises
    ------
    InvalidSummaryError
        Naming the position and values of the first problem.

    Examples
    --------
    >>> counts_to_lifetimes([1000, 631, 468])
       period  churned  customers
    0       1        1        369
    1       2        1        163
    2       2        0        468
    """
    n = _check_counts(counts)
    k = n.shape[0] - 1
    periods = np.r_[np.arange(1, k + 1), k]
    churned = np.r_[np.ones(k, dtype=np.int64), 0]
    customers = np.r_[n[:-1] - n[1:], n[-1]]
    return pd.DataFrame(
        {"period": periods.astype(np.int64), "churned": churned, "customers": customers}
    )


def _check_counts(counts) -> np.ndarray:
    if isinstance(counts, pd.DataFrame):
        if counts.shape[1] != 1:
            raise InvalidSummaryError(
                f"counts must be one cohort's survivor counts (a list, array or Series); got a "
                f"DataFrame with columns {list(counts.columns)}. Fit each cohort separately, "
                "e.g. fit(df['regular'])."
            )
        counts = counts.iloc[:, 0]
    try:
        arr = np.asarray(counts, dtype=float)
    except (TypeError, ValueError):
        raise InvalidSummaryError(
            f"counts must be numbers (customers active at the start of each period), got "
            f"{counts!r}."
        ) from None
    if arr.ndim != 1:
        raise InvalidSummaryError(
            f"counts must be one-dimensional (one cohort), got shape {arr.shape}; fit each "
            "cohort separately."
        )
    if arr.shape[0] < 2:
        raise InvalidSummaryError(
            f"counts needs the cohort size and at least one later count (got {arr.shape[0]} "
            "value(s)); nothing can be estimated from a cohort size alone."
        )
    problems = []
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr)))
    if bad.size:
        problems.append(
            f"{bad.size} count(s) are not whole numbers >= 0 (first at position {bad[0]}: "
            f"{arr[bad[0]]!r})"
        )
    elif arr[0] <= 0:
        problems.append(f"the cohort size counts[0] must be > 0, got {arr[0]!r}")
    else:
        up = np.flatnonzero(np.diff(arr) > 0)
        if up.size:
            i = up[0]
            problems.append(
                f"counts must never increase (a cohort only loses customers), but counts[{i}] = "
                f"{arr[i]:g} < counts[{i + 1}] = {arr[i + 1]:g} ({up.size} increase(s) in all); "
                "pass the number of customers of ONE cohort still active at the start of each "
                "period, not new customers"
            )
    if problems:
        raise InvalidCustomerDataError("Invalid survivor counts: " + "; ".join(problems) + ".")
    return arr.astype(np.int64)


# ---------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------
def _log_terms(alpha, beta, period, churned):
    """``log P(T = t)`` where churned, ``log S(t)`` elsewhere (both via accurate log-betas)."""
    t = period
    log_b = log_beta(alpha, beta)
    return np.where(
        churned > 0,
        log_beta(alpha + 1.0, beta + np.maximum(t, 1.0) - 1.0) - log_b,
        log_beta(alpha, beta + t) - log_b,
    )


def log_likelihood_rows(params, period, churned) -> np.ndarray:
    """Log-likelihood of each (period, churned) row under the sBG model.

    Fader & Hardie (2007), eqs. 2-3::

        churned = 1:  log P(T = t) = log B(alpha + 1, beta + t - 1) - log B(alpha, beta)
        churned = 0:  log S(t)     = log B(alpha, beta + t) - log B(alpha, beta)

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    period : array_like of int
        The period ``t`` in which the customer churned (``>= 1``), or the
        number of periods after which they were still active (``>= 0``).
    churned : array_like of {0, 1}
        1 if the churn was observed, 0 if the lifetime is right-censored.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(log_likelihood_rows((0.704, 1.182), [1, 7], [1, 0]), 6)
    array([-0.985435, -1.43108 ])
    """
    alpha, beta = _unpack(params)
    t, c = _rows(period, churned)
    return _log_terms(alpha, beta, t, c)


def _rows(period, churned):
    t = _periods(period, "period")
    c = np.asarray(churned, dtype=float)
    t, c = np.broadcast_arrays(t, c)
    if np.any((c != 0) & (c != 1)):
        raise InvalidCustomerDataError("churned must hold 0 (still active) or 1 (churned).")
    if np.any((c == 1) & (t < 1)):
        raise InvalidCustomerDataError("a churned customer's period must be >= 1.")
    return t, c


def log_likelihood(params, period, churned, weights=None) -> float:
    """Total (weighted) sBG log-likelihood, Fader & Hardie (2007), eq. 5.

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    period, churned : array_like
        As in :func:`log_likelihood_rows`.
    weights : array_like, optional
        Number of customers each row stands for (default 1).

    Returns
    -------
    float

    Examples
    --------
    Years 0-7 of the "regular" cohort of the paper, at its estimates:

    >>> rows = counts_to_lifetimes([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> round(log_likelihood((0.704, 1.182), rows["period"], rows["churned"], rows["customers"]), 1)
    -1680.3
    """
    rows = log_likelihood_rows(params, period, churned)
    if weights is None:
        return float(np.sum(rows))
    return float(np.sum(np.broadcast_to(np.asarray(weights, dtype=float), rows.shape) * rows))


def _loglik_and_gradient(params, period, churned, weights):
    """Weighted log-likelihood and gradient (no argument checks; used by fit).

    With ``D(u, k) = psi(u + k) - psi(u)``::

        churned:  d/dalpha = 1 / alpha - D(alpha + beta, t)
                  d/dbeta  = D(beta, t - 1) - D(alpha + beta, t)
        active:   d/dalpha = -D(alpha + beta, t)
                  d/dbeta  = D(beta, t) - D(alpha + beta, t)
    """
    alpha, beta = (float(v) for v in params)
    t, c = period, churned
    rows = _log_terms(alpha, beta, t, c)
    psi_ab = digamma(alpha + beta)
    psi_b = digamma(beta)
    d_ab = digamma(alpha + beta + t) - psi_ab
    churn = c > 0
    d_alpha = np.where(churn, 1.0 / alpha, 0.0) - d_ab
    d_beta = np.where(churn, digamma(beta + np.maximum(t - 1.0, 0.0)), digamma(beta + t)) - psi_b
    d_beta = d_beta - d_ab
    grad = np.array([weights @ d_alpha, weights @ d_beta])
    return float(weights @ rows), grad


def gradient(params, period, churned, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` with respect to ``(alpha, beta)``.

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    period, churned, weights : array_like

    Returns
    -------
    ndarray of shape (2,)

    Notes
    -----
    Formulas in :func:`_loglik_and_gradient` (``psi`` is the digamma function).

    Examples
    --------
    >>> rows = counts_to_lifetimes([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> g = gradient((0.704, 1.182), rows["period"], rows["churned"], rows["customers"])
    >>> bool(np.all(np.abs(g) < 1.0))  # close to the maximum
    True
    """
    params = _unpack(params)
    t, c = _rows(period, churned)
    t, c = t.reshape(-1), c.reshape(-1)
    w = np.ones_like(t) if weights is None else np.broadcast_to(
        np.asarray(weights, dtype=float), t.shape
    )
    return _loglik_and_gradient(params, t, c, w)[1]


# ---------------------------------------------------------------------------
# lifetime distribution
# ---------------------------------------------------------------------------
def probability_churn(params, t) -> np.ndarray:
    """``P(T = t)``: probability that a new customer churns in period ``t`` (eq. 2).

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    t : int or array_like of int (>= 1)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(probability_churn((0.704, 1.182), [1, 2, 3]), 4)
    array([0.3733, 0.1529, 0.0858])
    """
    alpha, beta = _unpack(params)
    t = _periods(t, minimum=1)
    return np.exp(log_beta(alpha + 1.0, beta + t - 1.0) - log_beta(alpha, beta))


def survival(params, t) -> np.ndarray:
    """``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)`` (eq. 3).

    The share of a cohort still active at the start of period ``t`` (after
    ``t`` renewal decisions); ``S(0) = 1``.

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    t : int or array_like of int (>= 0)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(survival((0.704, 1.182), [0, 1, 7]), 4)
    array([1.    , 0.6267, 0.2391])
    """
    alpha, beta = _unpack(params)
    t = _periods(t)
    return np.exp(log_beta(alpha, beta + t) - log_beta(alpha, beta))


def retention_rate(params, t) -> np.ndarray:
    """``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)`` (eq. 4).

    The share of the customers active at the start of period ``t - 1`` who
    are still active at the start of period ``t``. It rises toward 1 with
    ``t``: a cohort's survivors are increasingly the loyal ones.

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    t : int or array_like of int (>= 1)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(retention_rate((0.704, 1.182), [1, 2, 12]), 4)
    array([0.6267, 0.7561, 0.9454])
    """
    alpha, beta = _unpack(params)
    t = _periods(t, minimum=1)
    return (beta + t - 1.0) / (alpha + beta + t - 1.0)


def expected_lifetime(params, horizon=None) -> np.ndarray:
    """Expected number of periods a new customer pays for, ``E[T]`` or ``E[min(T, horizon)]``.

    ``E[T] = sum_{t>=0} S(t) = E[1 / theta] = (alpha + beta - 1) / (alpha - 1)``
    when ``alpha > 1``. When ``alpha <= 1`` the beta density puts so much
    weight near ``theta = 0`` (customers who almost never leave) that
    ``E[T]`` is **infinite**: ``S(t)`` decays like ``t^-alpha``. The function
    then returns ``inf`` and warns; pass ``horizon`` for the expected number
    of periods within a finite horizon, ``sum_{t=0}^{horizon-1} S(t)``
    (always finite), or use :func:`discounted_expected_lifetime`.

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    horizon : int or array_like of int, optional
        Number of periods to count (``>= 0``).

    Returns
    -------
    ndarray

    Warns
    -----
    StatisticalWarning
        When ``horizon`` is None and ``alpha <= 1`` (infinite mean).

    Examples
    --------
    >>> float(expected_lifetime((2.5, 3.0)))
    3.0
    >>> np.round(expected_lifetime((0.704, 1.182), horizon=[1, 5]), 4)
    array([1.    , 2.8207])
    """
    alpha, beta = _unpack(params)
    if horizon is None:
        if alpha <= 1.0:
            warnings.warn(
                f"The expected lifetime is infinite for alpha <= 1 (alpha = {alpha:.4g}): the "
                "survivor curve S(t) decays like t^-alpha, too slowly for its sum to converge. "
                "Use expected_lifetime(params, horizon=H) for a finite horizon or "
                "discounted_expected_lifetime(params, discount_rate).",
                StatisticalWarning,
                stacklevel=2,
            )
            return np.asarray(np.inf)
        return np.asarray((alpha + beta - 1.0) / (alpha - 1.0))
    h = _periods(horizon, "horizon")
    flat = h.reshape(-1)
    out = np.empty(flat.shape)
    top = int(flat.max()) if flat.size else 0
    # cumulative sums of S(0..top-1); S(t) > 0 and decreasing, so no cancellation
    s = np.exp(log_beta(alpha, beta + np.arange(top, dtype=float)) - log_beta(alpha, beta))
    cum = np.r_[0.0, np.cumsum(s)]
    out[:] = cum[flat.astype(np.int64)]
    return out.reshape(h.shape)


def expected_survivors(params, cohort_size, t) -> np.ndarray:
    """Projected number of a cohort's customers active at the start of period ``t``.

    ``cohort_size * S(t)``: the paper's projection of a cohort's survivor
    curve beyond the fitted years (Fader & Hardie 2007, Figure 3).

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    cohort_size : float
        Customers acquired (the count at period 0).
    t : int or array_like of int (>= 0)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(expected_survivors((0.704, 1.182), 1000, [8, 12]), 1)
    array([220.1, 170.1])
    """
    size = float(cohort_size)
    if not (np.isfinite(size) and size >= 0):
        raise InvalidParameterError(f"cohort_size must be finite and >= 0, got {cohort_size!r}.")
    return size * survival(params, t)


# ---------------------------------------------------------------------------
# 2F1(1, b; b + g; 1 / (1 + d))
# ---------------------------------------------------------------------------
_CHUNK = 8192
_TINY = 1e-17


def _hyp2f1_unit_scalar(b: float, g: float, d: float) -> float:
    """``2F1(1, b; b + g; z)``, ``z = 1 / (1 + d)``, for ``b > 0``, ``g > 0``, ``d > 0``.

    The series ``sum_k u_k`` with ``u_k = (b)_k / (b + g)_k z^k`` has positive
    terms whose ratios ``z (b + k) / (b + g + k)`` stay below ``z``, so after
    ``K`` terms the tail is at most ``u_K / (1 - z)``. The terms are summed
    (in chunks, logs accumulated with ``math.fsum``) until that bound is below
    ``1e-17`` of the sum, or until ``B = b + K`` satisfies ``B d >= 40 + 4 g``;
    the tail is then ``u_K F(B)`` with ``F(B) = 2F1(1, B; B + g; z)``. Writing
    ``F(B) = E[1 / (1 - z s)]`` with ``s ~ Beta(B, g)`` (Euler's integral) and
    expanding ``1 / (1 - z s) = (1 + d) / d * 1 / (1 + (1 - s) / d)`` in powers
    of ``(1 - s) / d``, whose moments are ``(g)_j / (B + g)_j``, gives the
    alternating series ``F(B) = (1 + d) / d sum_j (-1)^j (g)_j / ((B + g)_j d^j)``;
    its truncation error is below the first omitted term (the remainder of
    ``1 / (1 + y)`` after ``J`` terms is at most ``y^J``), and with ``B d >= 40
    + 4 g`` the terms fall below ``1e-17`` within a few dozen.
    """
    log_z = -math.log1p(d)
    z = math.exp(log_z)
    target = 40.0 + 4.0 * g
    n_direct = max(0, math.ceil(target / d - b))
    total = 0.0
    step_sums: list[float] = []
    log_u = 0.0
    k = 0
    while k < n_direct:
        m = min(_CHUNK, n_direct - k)
        j = np.arange(k, k + m, dtype=float)
        steps = log_z + np.log1p(-g / (b + g + j))
        logs = log_u + np.concatenate(([0.0], np.cumsum(steps[:-1])))
        total += float(np.sum(np.exp(logs)))
        step_sums.append(float(np.sum(steps)))
        log_u = math.fsum(step_sums)
        k += m
        if math.exp(log_u) <= _TINY * total * (1.0 - z):
            return total
    big_b = b + n_direct
    term = 1.0
    acc = 1.0
    j = 0
    while True:
        ratio = (g + j) / ((big_b + g + j) * d)
        term *= -ratio
        acc += term
        j += 1
        if abs(term) <= _TINY * abs(acc):
            break
        if ratio >= 1.0 or j > 10_000:  # pragma: no cover - excluded by the choice of big_b
            raise ArithmeticError(
                f"2F1(1, {b}; {b + g}; 1/(1+{d})): tail expansion did not converge."
            )
    return total + math.exp(log_u) * (1.0 + d) / d * acc


def hyp2f1_unit(b, g, discount_rate) -> np.ndarray:
    """Gauss's ``2F1(1, b; b + g; 1 / (1 + d))`` for ``b > 0``, ``g > 0``, ``d >= 0``.

    The hypergeometric function behind the discounted lifetimes of the sBG
    (``DEL``, ``DERL``) and BG/BB (``DERT``) models:
    ``sum_{k>=0} (b)_k / (b + g)_k (1 + d)^-k``. Evaluated on the unique
    argument triples by :func:`_hyp2f1_unit_scalar` (positive series plus a
    bounded tail; about 1e-15 relative against mpmath, for ``b`` up to 1e7,
    ``g`` from 0.01 to 300 and ``d`` from 1e-4 to 1e3). The cost grows like
    ``1 / d`` for ``d`` below about ``40 / b`` (a few ms at ``d = 1e-4``).

    At ``d = 0`` the series sums to ``(b + g - 1) / (g - 1)`` when ``g > 1``
    (Gauss's theorem) and diverges (``inf``) when ``g <= 1``.

    Parameters
    ----------
    b, g : array_like (> 0)
    discount_rate : array_like (>= 0)
        Broadcast together.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(np.round(hyp2f1_unit(1.182, 0.704, 0.1), 6))  # DEL of the regular cohort
    3.695147
    """
    b = np.asarray(b, dtype=float)
    g = np.asarray(g, dtype=float)
    d = _discount(discount_rate)
    b, g, d = np.broadcast_arrays(b, g, d)
    if not (np.all(np.isfinite(b)) and np.all(b > 0) and np.all(np.isfinite(g)) and np.all(g > 0)):
        raise InvalidParameterError("hyp2f1_unit needs finite b > 0 and g > 0.")
    flat = np.stack([b.reshape(-1), g.reshape(-1), d.reshape(-1)], axis=1)
    unique, inverse = np.unique(flat, axis=0, return_inverse=True)
    values = np.empty(unique.shape[0])
    for i, (bi, gi, di) in enumerate(unique):
        if di == 0.0:
            values[i] = (bi + gi - 1.0) / (gi - 1.0) if gi > 1.0 else np.inf
        else:
            values[i] = _hyp2f1_unit_scalar(float(bi), float(gi), float(di))
    return values[inverse.reshape(-1)].reshape(b.shape)


def discounted_expected_lifetime(params, discount_rate) -> np.ndarray:
    """``DEL(d) = sum_{t>=0} S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d))``.

    The discounted expected number of payments of a newly acquired customer
    (the first, undiscounted, included); Fader & Hardie (2010), eq. 6.
    Multiplied by the per-period margin it is the expected CLV at acquisition.
    At ``d = 0`` it is :func:`expected_lifetime` (infinite when ``alpha <= 1``).

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    discount_rate : float or array_like (>= 0)
        Per-period discount rate ``d``.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(np.round(discounted_expected_lifetime((0.704, 1.182), 0.1), 4))
    3.6951
    """
    alpha, beta = _unpack(params)
    return hyp2f1_unit(beta, alpha, discount_rate)


def discounted_expected_residual_lifetime(params, discount_rate, n_renewals=0) -> np.ndarray:
    """``DERL``: discounted expected future payments of a customer with ``n_renewals`` renewals.

    Fader & Hardie (2010), eq. 7, with ``n - 1 = n_renewals``: for a customer
    who has renewed ``n - 1`` times (so has paid ``n`` times, at the starts of
    periods ``0, ..., n - 1``), evaluated just before the ``n``-th renewal
    decision::

        DERL = sum_{t>=n} S(t) / S(n - 1) / (1 + d)^(t - n)
             = (beta + n - 1) / (alpha + beta + n - 1)
               * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))

    The next payment (if they renew) is undiscounted. It grows with
    ``n_renewals``: the longer a customer has stayed, the more loyal they are
    likely to be. ``DERL(d, 0) = (1 + d) (DEL(d) - 1)`` (DEL discounts the
    payment at period 1, DERL does not).

    Parameters
    ----------
    params : sequence (alpha, beta) or mapping
    discount_rate : float or array_like (>= 0)
    n_renewals : int or array_like of int (>= 0)
        Broadcast with ``discount_rate``.

    Returns
    -------
    ndarray
        Infinite at ``d = 0`` when ``alpha <= 1``.

    Examples
    --------
    >>> np.round(discounted_expected_residual_lifetime((0.704, 1.182), 0.1, [0, 4]), 4)
    array([2.9647, 5.8944])
    """
    alpha, beta = _unpack(params)
    k = _periods(n_renewals, "n_renewals")
    d = _discount(discount_rate)
    k, d = np.broadcast_arrays(k, d)
    lead = (beta + k) / (alpha + beta + k)
    return lead * hyp2f1_unit(beta + k + 1.0, alpha, d)


# ---------------------------------------------------------------------------
# estimator
# ---------------------------------------------------------------------------
class ShiftedBetaGeometric(BaseModel):
    """Shifted-beta-geometric model of contract renewals (Fader & Hardie 2007).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the log-parameters (see :class:`~clvmodels.models._base.BaseModel`).
    n_starts : int, default 3
        Start values tried; the best optimum is kept.

    Attributes
    ----------
    params_ : Series
        ``alpha``, ``beta``: the churn probability ``theta ~ Beta(alpha, beta)``.
    log_likelihood_, n_customers_, converged_, covariance_, fit_info_, time_unit_
        See :class:`~clvmodels.models._base.BaseModel`. ``n_customers_`` is
        the cohort size (or the number of lifetimes).

    Notes
    -----
    The data are a survival curve, not a per-customer RFM summary: fit with
    survivor counts (:meth:`fit`) or with per-customer lifetimes
    (:meth:`fit_lifetimes`). Internally both become rows ``(period,
    churned)`` weighted by customer counts.

    Examples
    --------
    >>> from clvmodels.datasets import load_sbg_retention
    >>> data = load_sbg_retention()
    >>> model = ShiftedBetaGeometric().fit(data["regular"][:8])      # years 0-7
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 1)
    ([0.704, 1.182], -1680.3)
    >>> model.expected_survivors(1000, [8, 12]).round(1)
    array([220.1, 170. ])
    """

    _param_names = PARAM_NAMES
    _data_columns = ("period", "churned")
    _integer_columns = ("period", "churned")

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)

    def _start_values(self, period, churned, weights):
        w = np.ones_like(period) if weights is None else weights
        # first-period churn share ~ alpha / (alpha + beta) as a moment start
        total = float(np.sum(w))
        first = float(np.sum(w[(churned > 0) & (period == 1)])) / max(total, 1e-12)
        first = min(max(first, 0.02), 0.98)
        return [
            np.array([1.0, (1.0 - first) / first]),
            np.array([0.5, 0.5 * (1.0 - first) / first]),
            np.array([3.0, 3.0 * (1.0 - first) / first]),
        ]

    def _check_data(self, data, index):
        problems = []
        c = data.get("churned")
        t = data.get("period")
        if c is not None:
            bad = np.flatnonzero(np.isfinite(c) & (c != 0) & (c != 1))
            if bad.size:
                problems.append(
                    f"column 'churned' must be 0 (still active) or 1 (churned) but is not in "
                    f"{bad.size} rows (first: row {index[bad[0]]!r}, value {c[bad[0]]:g})."
                )
        if c is not None and t is not None:
            bad = np.flatnonzero((c == 1) & (t < 1))
            if bad.size:
                problems.append(
                    f"a churned customer must have period >= 1 (the period in which they left); "
                    f"{bad.size} rows have period 0 (first: row {index[bad[0]]!r})."
                )
        return problems

    def fit(self, counts, *, time_unit: str | None = None) -> ShiftedBetaGeometric:
        """Estimate ``alpha`` and ``beta`` from a cohort's survivor counts (eq. 5).

        Parameters
        ----------
        counts : array_like or Series of int
            Customers active at the start of periods 0, 1, ..., k; the first
            is the cohort size. They must never increase.
        time_unit : str, optional
            Length of a period ("M", "Y", ...), recorded in ``time_unit_``
            (default: ``counts.attrs["time_unit"]`` when present).

        Returns
        -------
        self
        """
        rows = counts_to_lifetimes(counts)
        unit = time_unit or getattr(counts, "attrs", {}).get("time_unit")
        return self._fit_rows(rows["period"], rows["churned"], rows["customers"], unit)

    def fit_lifetimes(
        self, durations, observed=None, *, weights=None, time_unit: str | None = None
    ) -> ShiftedBetaGeometric:
        """Estimate from per-customer lifetimes, with right censoring.

        Parameters
        ----------
        durations : array_like of int
            For a customer who churned, the period in which they left (``>= 1``:
            they paid ``durations`` times); for one still active, the number
            of periods they have been observed (``>= 0``).
        observed : array_like of bool, optional
            True where the churn was observed, False where the customer is still
            active (censored). Default: all observed.
        weights : array_like, optional
            Number of customers each row stands for (default 1).
        time_unit : str, optional
            Length of a period, recorded in ``time_unit_``.

        Returns
        -------
        self

        Examples
        --------
        >>> from clvmodels.data._simulate_family import simulate_sbg_lifetimes
        >>> lives = simulate_sbg_lifetimes(5000, alpha=0.7, beta=1.2, n_periods=8, random_state=0)
        >>> m = ShiftedBetaGeometric().fit_lifetimes(lives["period"], lives["churned"])
        >>> m.params_.round(1).tolist()
        [0.7, 1.2]
        """
        t = np.asarray(durations, dtype=float).reshape(-1)
        if observed is None:
            c = np.ones_like(t)
        else:
            obs = np.asarray(observed)
            if obs.dtype == bool:
                c = obs.astype(float).reshape(-1)
            else:
                c = np.asarray(obs, dtype=float).reshape(-1)
            if c.shape != t.shape:
                raise InvalidSummaryError(
                    f"observed has {c.size} values but durations has {t.size}; give one "
                    "flag per customer."
                )
        return self._fit_rows(t, c, weights, time_unit)

    def _fit_rows(self, period, churned, weights, time_unit):
        super().fit(None, weights=weights, period=period, churned=churned)
        self.time_unit_ = None if time_unit is None else str(time_unit)
        return self

    # ------------------------------------------------------------ predictions
    def probability_churn(self, t) -> np.ndarray:
        """``P(T = t)`` for a new customer; see :func:`probability_churn`."""
        check_is_fitted(self, "probability_churn")
        return probability_churn(self._params_array(), t)

    def survival(self, t) -> np.ndarray:
        """``S(t)``, the share of a cohort active at the start of period ``t``.

        See :func:`survival`.
        """
        check_is_fitted(self, "survival")
        return survival(self._params_array(), t)

    def retention_rate(self, t) -> np.ndarray:
        """Retention rate ``r(t) = (beta + t - 1) / (alpha + beta + t - 1)``.

        See :func:`retention_rate`.
        """
        check_is_fitted(self, "retention_rate")
        return retention_rate(self._params_array(), t)

    def expected_lifetime(self, horizon=None) -> np.ndarray:
        """``E[T]`` (infinite when ``alpha <= 1``) or ``E[min(T, horizon)]``.

        See :func:`expected_lifetime`.
        """
        check_is_fitted(self, "expected_lifetime")
        return expected_lifetime(self._params_array(), horizon)

    def expected_survivors(self, cohort_size, t) -> np.ndarray:
        """Projected survivors ``cohort_size * S(t)``; see :func:`expected_survivors`."""
        check_is_fitted(self, "expected_survivors")
        return expected_survivors(self._params_array(), cohort_size, t)

    def discounted_expected_lifetime(self, discount_rate) -> np.ndarray:
        """``DEL(d)``, Fader & Hardie (2010) eq. 6; see :func:`discounted_expected_lifetime`."""
        check_is_fitted(self, "discounted_expected_lifetime")
        return discounted_expected_lifetime(self._params_array(), discount_rate)

    def discounted_expected_residual_lifetime(self, discount_rate, n_renewals=0) -> np.ndarray:
        """``DERL(d | n_renewals)``, Fader & Hardie (2010) eq. 7.

        See :func:`discounted_expected_residual_lifetime`.
        """
        check_is_fitted(self, "discounted_expected_residual_lifetime")
        return discounted_expected_residual_lifetime(
            self._params_array(), discount_rate, n_renewals
        )
