"""The BG/BB model of discrete-time repeat transactions (Fader, Hardie & Shang 2010).

Model ("Customer-base analysis in a discrete-time noncontractual setting",
Marketing Science 29(6), 1086-1108): after a first transaction, a customer
has ``n`` discrete transaction opportunities (years of a charity's appeals,
sessions of an event, ...). While alive, they transact at each opportunity
with probability ``p``; at the start of each opportunity an alive customer
becomes inactive for good with probability ``theta``. Across customers
``p ~ Beta(alpha, beta)`` and ``theta ~ Beta(gamma, delta)``, independently.
The customer is alive at opportunity ``t`` with probability
``E[(1 - theta)^t] = B(gamma, delta + t) / B(gamma, delta)``.

A customer's data are ``x`` (``frequency``, the number of opportunities
with a repeat transaction), ``t_x`` (``recency``, the opportunity of the last
one, 0 when ``x = 0``) and ``n`` (``n_periods``). Their likelihood is::

    L(alpha, beta, gamma, delta | x, t_x, n)
        = B(alpha + x, beta + n - x) / B(alpha, beta) * B(gamma, delta + n) / B(gamma, delta)
          + sum_{i=0}^{n - t_x - 1} B(alpha + x, beta + t_x - x + i) / B(alpha, beta)
                                     * B(gamma + 1, delta + t_x + i) / B(gamma, delta)

(alive through ``n``, or dropped out at opportunity ``t_x + i + 1``). It is
evaluated in log space, the terms combined by a log-sum-exp, every term
depending only on ``(x, t_x + i)`` so each distinct pair is computed once.

Predictions: :func:`probability_alive`, :func:`expected_purchases`
(eq. 13), :func:`expected_purchases_new_customer`,
:func:`probability_of_purchases` (eq. 7) and
:func:`discounted_expected_residual_transactions` (DERT, eq. 14).
Equation numbers are those of the paper.

The maths are pure functions over arrays; :class:`BGBB` is the thin
estimator. Params arrays are ``(alpha, beta, gamma, delta)`` in that order
(or a mapping with those keys).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, expm1, gammaln, polygamma

from clvmodels.errors import InvalidCustomerDataError, InvalidParameterError
from clvmodels.models._base import BaseModel, check_is_fitted
from clvmodels.models._params import unpack_params
from clvmodels.models._special import log_beta, log_gamma_ratio
from clvmodels.models.sbg import hyp2f1_unit

__all__ = [
    "PARAM_NAMES",
    "BGBB",
    "log_likelihood",
    "log_likelihood_rows",
    "gradient",
    "probability_alive",
    "expected_purchases",
    "expected_purchases_new_customer",
    "probability_of_purchases",
    "discounted_expected_residual_transactions",
    "expected_alive_periods",
]

#: Names of the parameters, in the order used by every params array.
PARAM_NAMES = ("alpha", "beta", "gamma", "delta")


# ---------------------------------------------------------------------------
# argument helpers
# ---------------------------------------------------------------------------
def _unpack(params) -> tuple[float, float, float, float]:
    return unpack_params(params, PARAM_NAMES, "BG/BB")


def _whole(values, name: str, minimum: int = 0) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    bad = ~np.isfinite(arr) | (arr < minimum) | (arr != np.round(arr))
    if np.any(bad):
        first = arr.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]
        raise InvalidCustomerDataError(
            f"{name} must hold whole numbers >= {minimum} (opportunities are counted); "
            f"got {first!r}."
        )
    return arr


def _data(frequency, recency, n_periods):
    x = _whole(frequency, "frequency")
    tx = _whole(recency, "recency")
    n = _whole(n_periods, "n_periods")
    x, tx, n = np.broadcast_arrays(x, tx, n)
    if np.any(x > tx) or np.any(tx > n) or np.any((x == 0) & (tx > 0)):
        raise InvalidCustomerDataError(
            "BG/BB data need frequency <= recency <= n_periods, and recency 0 when frequency "
            "is 0 (recency is the opportunity of the last repeat transaction)."
        )
    return x, tx, n


# ---------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------
def _prepare(x, tx, n):
    """Index the terms of the finite sum once per data set (reused at every evaluation).

    Row ``k`` has ``n_k - t_x,k`` dropout terms, one per opportunity ``j = t_x + i`` at
    which the customer could have been last alive; a term depends on ``(x, j)``
    only, so the distinct pairs are computed once and gathered.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    tx = np.asarray(tx, dtype=float).reshape(-1)
    n = np.asarray(n, dtype=float).reshape(-1)
    lengths = (n - tx).astype(np.int64)
    offsets = np.cumsum(lengths) - lengths
    row_of_cell = np.repeat(np.arange(x.shape[0]), lengths)
    i = np.arange(row_of_cell.shape[0]) - np.repeat(offsets, lengths)
    j = tx[row_of_cell] + i
    xc = x[row_of_cell]
    width = float(max(1.0, np.max(n) + 1.0)) if n.size else 1.0
    pair_key = xc * width + j
    unique_keys, cell_pair = np.unique(pair_key, return_inverse=True)
    pair_x = np.floor(unique_keys / width)
    pair_j = unique_keys - pair_x * width
    has = lengths > 0
    return (x, tx, n, row_of_cell, cell_pair.reshape(-1), pair_x, pair_j, has, offsets[has],
            lengths[has])


def _row_terms(params, prepared):
    """Log of the "alive at n" term, log of each dropout term (per pair), row log-likelihoods."""
    alpha, beta, gamma, delta = params
    x, tx, n, row_of_cell, cell_pair, pair_x, pair_j, has, starts, lengths = prepared
    lb_ab = log_beta(alpha, beta)
    lb_gd = log_beta(gamma, delta)
    log_a = log_beta(alpha + x, beta + n - x) + log_beta(gamma, delta + n) - lb_ab - lb_gd
    pair_log = (
        log_beta(alpha + pair_x, beta + pair_j - pair_x)
        + log_beta(gamma + 1.0, delta + pair_j)
        - lb_ab
        - lb_gd
    )
    rows = log_a.copy()
    if starts.size:
        cell_log = pair_log[cell_pair]
        top = np.maximum.reduceat(cell_log, starts)
        sums = np.add.reduceat(np.exp(cell_log - np.repeat(top, lengths)), starts)
        rows[has] = np.logaddexp(log_a[has], top + np.log(sums))
    return log_a, pair_log, rows


def log_likelihood_rows(params, frequency, recency, n_periods) -> np.ndarray:
    """Log-likelihood of each customer's ``(x, t_x, n)`` under BG/BB.

    Fader, Hardie & Shang (2010)::

        L = B(alpha + x, beta + n - x) / B(alpha, beta) * B(gamma, delta + n) / B(gamma, delta)
            + sum_{i=0}^{n - t_x - 1} B(alpha + x, beta + t_x - x + i) / B(alpha, beta)
                                      * B(gamma + 1, delta + t_x + i) / B(gamma, delta)

    in log space (accurate log-beta functions, log-sum-exp of the terms).

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    frequency, recency, n_periods : array_like of int
        ``x``, ``t_x`` and ``n`` (broadcast together).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(log_likelihood_rows((1.204, 0.750, 0.657, 2.783), [0, 3], [0, 5], [6, 6]), 4)
    array([-1.1673, -5.6159])
    """
    p = _unpack(params)
    x, tx, n = _data(frequency, recency, n_periods)
    shape = x.shape
    return _row_terms(p, _prepare(x, tx, n))[2].reshape(shape)


def log_likelihood(params, frequency, recency, n_periods, weights=None) -> float:
    """Total (weighted) BG/BB log-likelihood, the sum of :func:`log_likelihood_rows`.

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    frequency, recency, n_periods : array_like of int
    weights : array_like, optional
        Number of customers each row stands for (default 1).

    Returns
    -------
    float

    Examples
    --------
    The donations data at the published estimates:

    >>> from clvmodels.datasets import load_donations
    >>> d = load_donations()
    >>> ll = log_likelihood((1.204, 0.750, 0.657, 2.783), d["frequency"], d["recency"],
    ...                     d["n_periods"], d["weights"])
    >>> round(ll, 1)
    -33225.6
    """
    rows = log_likelihood_rows(params, frequency, recency, n_periods)
    if weights is None:
        return float(np.sum(rows))
    return float(np.sum(np.broadcast_to(np.asarray(weights, dtype=float), rows.shape) * rows))


def _loglik_and_gradient(params, x, tx, n, row_of_cell, cell_pair, pair_x, pair_j, has, starts,
                         lengths, weights):
    """Weighted log-likelihood and gradient over prepared data (used by fit).

    Every term of ``L`` is a product of two beta-function ratios, so its log
    derivative is a sum of digamma differences (``psi``). For the "alive"
    term ``A``::

        d/dalpha = psi(alpha + x) - psi(alpha + beta + n) + psi(alpha + beta) - psi(alpha)
        d/dbeta  = psi(beta + n - x) - psi(alpha + beta + n) + psi(alpha + beta) - psi(beta)
        d/dgamma = psi(gamma + delta) - psi(gamma + delta + n)
        d/ddelta = psi(delta + n) - psi(gamma + delta + n) + psi(gamma + delta) - psi(delta)

    and for the dropout term at ``j = t_x + i``::

        d/dalpha = psi(alpha + x) - psi(alpha + beta + j) + psi(alpha + beta) - psi(alpha)
        d/dbeta  = psi(beta + j - x) - psi(alpha + beta + j) + psi(alpha + beta) - psi(beta)
        d/dgamma = 1 / gamma + psi(gamma + delta) - psi(gamma + delta + 1 + j)
        d/ddelta = psi(delta + j) - psi(gamma + delta + 1 + j) + psi(gamma + delta) - psi(delta)

    The row gradient is the average of the term gradients weighted by each
    term's share of ``L``.
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    prepared = (x, tx, n, row_of_cell, cell_pair, pair_x, pair_j, has, starts, lengths)
    log_a, pair_log, rows = _row_terms((alpha, beta, gamma, delta), prepared)
    psi_ab, psi_a, psi_b = digamma(alpha + beta), digamma(alpha), digamma(beta)
    psi_gd, psi_d = digamma(gamma + delta), digamma(delta)
    share_a = np.exp(log_a - rows)
    wa = weights * share_a
    d_alpha_a = digamma(alpha + x) - digamma(alpha + beta + n) + psi_ab - psi_a
    d_beta_a = digamma(beta + n - x) - digamma(alpha + beta + n) + psi_ab - psi_b
    d_gamma_a = psi_gd - digamma(gamma + delta + n)
    d_delta_a = digamma(delta + n) - digamma(gamma + delta + n) + psi_gd - psi_d
    grad = np.array([wa @ d_alpha_a, wa @ d_beta_a, wa @ d_gamma_a, wa @ d_delta_a])
    if starts.size:
        cell_share = np.exp(pair_log[cell_pair] - rows[row_of_cell]) * weights[row_of_cell]
        pair_weight = np.bincount(cell_pair, weights=cell_share, minlength=pair_x.shape[0])
        psi_abj = digamma(alpha + beta + pair_j)
        psi_gdj = digamma(gamma + delta + 1.0 + pair_j)
        d_alpha_p = digamma(alpha + pair_x) - psi_abj + psi_ab - psi_a
        d_beta_p = digamma(beta + pair_j - pair_x) - psi_abj + psi_ab - psi_b
        d_gamma_p = 1.0 / gamma + psi_gd - psi_gdj
        d_delta_p = digamma(delta + pair_j) - psi_gdj + psi_gd - psi_d
        grad += np.array([pair_weight @ d_alpha_p, pair_weight @ d_beta_p,
                          pair_weight @ d_gamma_p, pair_weight @ d_delta_p])
    return float(weights @ rows), grad


def gradient(params, frequency, recency, n_periods, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` w.r.t. ``(alpha, beta, gamma, delta)``.

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    frequency, recency, n_periods : array_like of int
    weights : array_like, optional

    Returns
    -------
    ndarray of shape (4,)

    Notes
    -----
    Formulas in :func:`_loglik_and_gradient`.

    Examples
    --------
    >>> from clvmodels.datasets import load_donations
    >>> d = load_donations()
    >>> g = gradient((1.204, 0.750, 0.657, 2.783), d["frequency"], d["recency"],
    ...              d["n_periods"], d["weights"])
    >>> bool(np.all(np.abs(g) < 20))  # near the maximum (the estimates are rounded)
    True
    """
    p = _unpack(params)
    x, tx, n = _data(frequency, recency, n_periods)
    x, tx, n = x.reshape(-1), tx.reshape(-1), n.reshape(-1)
    w = np.ones_like(x) if weights is None else np.broadcast_to(
        np.asarray(weights, dtype=float), x.shape
    ).astype(float)
    return _loglik_and_gradient(p, *_prepare(x, tx, n), w)[1]


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
_NEAR_ONE = 0.05  # |gamma - 1| below which the removable singularity is expanded
_TAYLOR_TERMS = 14  # 0.05^14 / 14 < 1e-19


def expected_alive_periods(gamma, delta, start, length) -> np.ndarray:
    """``sum_{t=start+1}^{start+length} B(gamma, delta + t) / B(gamma, delta)``.

    The expected number of opportunities ``start + 1, ..., start + length`` at
    which a customer (alive at ``start`` or not: the weights are the
    unconditional ``E[(1 - theta)^t]``) is alive. Closed form (the paper's
    E[X(n)] and eq. 13)::

        delta / (gamma - 1) * [R(start) - R(start + length)],
        R(m) = Gamma(gamma + delta) Gamma(1 + delta + m)
               / (Gamma(gamma + delta + m) Gamma(1 + delta))

    evaluated as ``delta R(start) (-expm1(D)) / (gamma - 1)`` with ``D = log
    R(start + length) - log R(start)``. At ``gamma = 1`` the bracket and
    ``gamma - 1`` vanish together; ``D / (gamma - 1)`` is computed directly,
    without that 0/0 and without cancellation (see
    :func:`_shift_difference_over_eps`).
    Both branches agree with mpmath's explicit sums to about 1e-13 relative.

    Parameters
    ----------
    gamma, delta : float (> 0)
    start, length : array_like of int (>= 0)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(np.round(expected_alive_periods(0.657, 2.783, 0, 1), 6))  # delta / (gamma + delta)
    0.809012
    """
    log_r_start, factor, length = _alive_periods_parts(gamma, delta, start, length)
    return np.where(length == 0, 0.0, np.exp(log_r_start) * factor)


def _alive_periods_parts(gamma, delta, start, length):
    """``(log R(start), delta (-expm1(D)) / (gamma - 1), length)``: their ``exp(.) *`` product
    is :func:`expected_alive_periods`; callers multiplying it by a large factor add the logs
    first (``R(start)`` underflows for large ``gamma`` and ``start``)."""
    start = _whole(start, "start")
    length = _whole(length, "length")
    start, length = np.broadcast_arrays(start, length)
    eps = gamma - 1.0
    # log R(start) = [lnG(1+d+start) - lnG(1+d)] - [lnG(gamma+d+start) - lnG(gamma+d)], d = delta
    log_r_start = eps * _shift_difference_over_eps(1.0 + delta, start, eps)
    # R(start + length) / R(start) = exp(D), D as in _shift_difference_over_eps at a = 1+delta+start
    d_over_eps = _shift_difference_over_eps(1.0 + delta + start, length, eps)
    d = eps * d_over_eps
    with np.errstate(invalid="ignore", divide="ignore"):
        expm1_over = np.where(d == 0.0, 1.0, expm1(d) / np.where(d == 0.0, 1.0, d))
    ratio = -d_over_eps * expm1_over  # -expm1(D) / eps
    return log_r_start, delta * ratio, length


_SHORT = 256  # sums of at most this many log1p terms are done term by term


def _shift_difference_over_eps(a, length, eps):
    """``D / eps`` with ``D = [lnG(a + L) - lnG(a)] - [lnG(a + eps + L) - lnG(a + eps)]``.

    For whole ``L``, ``D = -sum_{k<L} log1p(eps / (a + k))`` exactly, so
    ``D / eps = -sum_k [log1p(y_k) / y_k] / (a + k)`` with ``y_k = eps / (a +
    k)``: positive terms, no cancellation, defined at ``eps = 0``. It is used
    for ``L <= 256``. For longer sums: when ``|eps| >= 0.05`` the log-gamma
    ratio form ``lgr(a, eps) - lgr(a + L, eps)`` (``lgr`` =
    :func:`~clvmodels.models.bgnbd.log_gamma_ratio`, terms of size ``|eps|
    log a``); otherwise the Taylor series ``sum_k eps^(k-1) / k!
    (psi^(k-1)(a) - psi^(k-1)(a + L))`` (14 terms).
    """
    a, length = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(length, dtype=float))
    out = np.zeros(a.shape)
    short = length <= _SHORT
    if np.any(short):
        aa, ll = a[short], length[short]
        k = np.arange(int(ll.max()) if ll.size else 0, dtype=float)
        denom = aa[:, None] + k[None, :]
        y = eps / denom
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(np.abs(y) < 1e-8, 1.0 - 0.5 * y, np.log1p(y) / np.where(y == 0, 1, y))
        terms = np.where(k[None, :] < ll[:, None], factor / denom, 0.0)
        out[short] = -terms.sum(axis=1)
    long = ~short
    if np.any(long):
        aa, ll = a[long], length[long]
        if abs(eps) >= _NEAR_ONE:
            out[long] = (log_gamma_ratio(aa, eps) - log_gamma_ratio(aa + ll, eps)) / eps
        else:
            total = np.zeros(aa.shape)
            factorial = 1.0
            for k in range(1, _TAYLOR_TERMS + 1):
                factorial *= k
                diff = polygamma(k - 1, aa) - polygamma(k - 1, aa + ll)
                total = total + eps ** (k - 1) / factorial * diff
            out[long] = total
    return out


def probability_alive(params, frequency, recency, n_periods, t=1) -> np.ndarray:
    """Probability that a customer with history ``(x, t_x, n)`` is alive at opportunity ``n + t``.

    Fader, Hardie & Shang (2010) (``t = 1``, alive at the next opportunity) and
    its extension to ``t >= 0``::

        P(alive at n + t | x, t_x, n)
            = B(alpha + x, beta + n - x) / B(alpha, beta)
              * B(gamma, delta + n + t) / B(gamma, delta) / L(alpha, beta, gamma, delta | x, t_x, n)

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    frequency, recency, n_periods : array_like of int
    t : int or array_like of int, default 1
        Opportunities ahead (0 gives ``P(alive at n)``).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> params = (1.204, 0.750, 0.657, 2.783)
    >>> np.round(probability_alive(params, [0, 6, 3], [0, 6, 3], [6, 6, 6]), 4)
    array([0.108 , 0.9304, 0.095 ])
    """
    alpha, beta, gamma, delta = p = _unpack(params)
    x, tx, n = _data(frequency, recency, n_periods)
    t = _whole(t, "t")
    x, tx, n, t = np.broadcast_arrays(x, tx, n, t)
    shape = x.shape
    x, tx, n, t = (v.reshape(-1) for v in (x, tx, n, t))
    rows = _row_terms(p, _prepare(x, tx, n))[2]
    log_p = (
        log_beta(alpha + x, beta + n - x) - log_beta(alpha, beta)
        + log_beta(gamma, delta + n + t) - log_beta(gamma, delta) - rows
    )
    return np.exp(np.minimum(log_p, 0.0)).reshape(shape)


def expected_purchases(params, frequency, recency, n_periods, t) -> np.ndarray:
    """Expected transactions at opportunities ``n + 1, ..., n + t`` given history ``(x, t_x, n)``.

    Fader, Hardie & Shang (2010), eq. 13::

        E[X(n, n + t) | x, t_x, n]
            = 1 / L * B(alpha + x + 1, beta + n - x) / B(alpha, beta)
              * delta / (gamma - 1) * Gamma(gamma + delta) / Gamma(1 + delta)
              * [Gamma(1 + delta + n) / Gamma(gamma + delta + n)
                 - Gamma(1 + delta + n + t) / Gamma(gamma + delta + n + t)]

    i.e. ``B(alpha + x + 1, beta + n - x) / B(alpha, beta) / L`` times
    :func:`expected_alive_periods` ``(gamma, delta, n, t)``, which handles
    ``gamma = 1`` (where this form is 0/0) and large arguments stably.

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    frequency, recency, n_periods : array_like of int
    t : int or array_like of int
        Number of future opportunities (broadcast with the histories).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> params = (1.204, 0.750, 0.657, 2.783)
    >>> np.round(expected_purchases(params, [0, 6, 3], [0, 6, 3], [6, 6, 6], 5), 4)
    array([0.0728, 3.7521, 0.2235])
    """
    alpha, beta, gamma, delta = p = _unpack(params)
    x, tx, n = _data(frequency, recency, n_periods)
    t = _whole(t, "t")
    x, tx, n, t = np.broadcast_arrays(x, tx, n, t)
    shape = x.shape
    x, tx, n, t = (v.reshape(-1) for v in (x, tx, n, t))
    rows = _row_terms(p, _prepare(x, tx, n))[2]
    log_lead = log_beta(alpha + x + 1.0, beta + n - x) - log_beta(alpha, beta) - rows
    # in log space: for large gamma and n, exp(log_lead) overflows where R(n) underflows
    log_r_start, factor, length = _alive_periods_parts(gamma, delta, n, t)
    out = np.where(length == 0, 0.0, np.exp(log_lead + log_r_start) * factor)
    return out.reshape(shape)


def expected_purchases_new_customer(params, t) -> np.ndarray:
    """Expected transactions in the first ``t`` opportunities after a first transaction.

    Fader, Hardie & Shang (2010)::

        E[X(t)] = alpha / (alpha + beta) * delta / (gamma - 1)
                  * [1 - Gamma(gamma + delta) Gamma(1 + delta + t)
                         / (Gamma(gamma + delta + t) Gamma(1 + delta))]

    evaluated as ``alpha / (alpha + beta)`` times :func:`expected_alive_periods`
    ``(gamma, delta, 0, t)`` (stable at ``gamma = 1``).

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    t : int or array_like of int (>= 0)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(expected_purchases_new_customer((1.20, 0.75, 0.66, 2.78), [1, 10]), 4)
    array([0.4973, 3.165 ])
    """
    alpha, beta, gamma, delta = _unpack(params)
    t = _whole(t, "t")
    return alpha / (alpha + beta) * expected_alive_periods(gamma, delta, 0, t)


def probability_of_purchases(params, n, t) -> np.ndarray:
    """``P(X(t) = n)``: probability of ``n`` transactions in the first ``t`` opportunities.

    Fader, Hardie & Shang (2010), eq. 7 (their ``x`` is our ``n``, their ``n``
    our ``t``)::

        P(X(t) = n) = C(t, n) B(alpha + n, beta + t - n) / B(alpha, beta)
                              * B(gamma, delta + t) / B(gamma, delta)
                      + sum_{i=n}^{t-1} C(i, n) B(alpha + n, beta + i - n) / B(alpha, beta)
                                        * B(gamma + 1, delta + i) / B(gamma, delta)

    (alive throughout; or last alive at opportunity ``i``), combined in log
    space. Zero when ``n > t``; sums to 1 over ``n = 0..t``.

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    n : int or array_like of int (>= 0)
        Number of transactions.
    t : int or array_like of int (>= 0)
        Number of opportunities (broadcast with ``n``).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> pr = probability_of_purchases((1.204, 0.750, 0.657, 2.783), np.arange(7), 6)
    >>> np.round(pr[:3], 4), float(np.round(pr.sum(), 12))
    (array([0.3112, 0.1701, 0.1215]), 1.0)
    """
    alpha, beta, gamma, delta = _unpack(params)
    n = _whole(n, "n")
    t = _whole(t, "t")
    n, t = np.broadcast_arrays(n, t)
    shape = n.shape
    flat = np.stack([n.reshape(-1), t.reshape(-1)], axis=1)
    pairs, inverse = np.unique(flat, axis=0, return_inverse=True)
    lb_ab = log_beta(alpha, beta)
    lb_gd = log_beta(gamma, delta)
    values = np.zeros(pairs.shape[0])
    for k, (nk, tk) in enumerate(pairs):
        if nk > tk:
            continue
        first = (
            _log_choose(tk, nk) + log_beta(alpha + nk, beta + tk - nk) - lb_ab
            + log_beta(gamma, delta + tk) - lb_gd
        )
        i = np.arange(nk, tk)
        terms = (
            _log_choose(i, nk) + log_beta(alpha + nk, beta + i - nk) - lb_ab
            + log_beta(gamma + 1.0, delta + i) - lb_gd
        )
        logs = np.r_[first, terms]
        top = np.max(logs)
        values[k] = np.exp(top) * np.sum(np.exp(logs - top))
    return values[inverse.reshape(-1)].reshape(shape)


def _log_choose(n, k):
    n = np.asarray(n, dtype=float)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def discounted_expected_residual_transactions(
    params, frequency, recency, n_periods, discount_rate
) -> np.ndarray:
    """DERT: present value of a customer's future transactions (one per opportunity at most).

    Fader, Hardie & Shang (2010), eq. 14, with per-opportunity discount rate ``d``::

        DERT(d | x, t_x, n)
            = sum_{t>n} P(transaction at t | x, t_x, n) / (1 + d)^(t - n)
            = B(alpha + x + 1, beta + n - x) / B(alpha, beta)
              * B(gamma, delta + n + 1) / (B(gamma, delta) (1 + d))
              * 2F1(1, delta + n + 1; gamma + delta + n + 1; 1 / (1 + d)) / L

    The 2F1 is evaluated by :func:`clvmodels.models.sbg.hyp2f1_unit` (the
    same function as the sBG's DERL: the BG/BB dropout process is an sBG),
    once per distinct ``(n, d)``. At ``d = 0`` it is the expected number of
    all future transactions, infinite when ``gamma <= 1``.

    Parameters
    ----------
    params : sequence (alpha, beta, gamma, delta) or mapping
    frequency, recency, n_periods : array_like of int
    discount_rate : float or array_like (>= 0)
        Per-opportunity discount rate (0.1 for 10% per year with annual
        opportunities), broadcast with the histories.

    Returns
    -------
    ndarray
        Discounted expected transactions; multiply by the value of a
        transaction for a residual CLV.

    Examples
    --------
    >>> np.round(discounted_expected_residual_transactions(
    ...     (1.204, 0.750, 0.657, 2.783), [0, 6, 3], [0, 6, 3], [6, 6, 6], 0.1), 4)
    array([0.1146, 5.9087, 0.352 ])
    """
    alpha, beta, gamma, delta = p = _unpack(params)
    x, tx, n = _data(frequency, recency, n_periods)
    d = np.asarray(discount_rate, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise InvalidParameterError(
            f"discount_rate must be finite and >= 0 (per opportunity), got {discount_rate!r}."
        )
    x, tx, n, d = np.broadcast_arrays(x, tx, n, d)
    shape = x.shape
    x, tx, n, d = (v.reshape(-1) for v in (x, tx, n, d))
    rows = _row_terms(p, _prepare(x, tx, n))[2]
    log_lead = (
        log_beta(alpha + x + 1.0, beta + n - x) - log_beta(alpha, beta)
        + log_beta(gamma, delta + n + 1.0) - log_beta(gamma, delta) - rows - np.log1p(d)
    )
    hyp = hyp2f1_unit(delta + n + 1.0, np.full(n.shape, gamma), d)
    return (np.exp(log_lead) * hyp).reshape(shape)


# ---------------------------------------------------------------------------
# estimator
# ---------------------------------------------------------------------------
class BGBB(BaseModel):
    """BG/BB model of discrete-time repeat transactions (Fader, Hardie & Shang 2010).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the log-parameters (see :class:`~clvmodels.models._base.BaseModel`).
    n_starts : int, default 3
        Start values tried; the best optimum is kept.

    Attributes
    ----------
    params_ : Series
        ``alpha``, ``beta`` (transaction probability ``p ~ Beta(alpha, beta)``),
        ``gamma``, ``delta`` (dropout probability ``theta ~ Beta(gamma, delta)``).
    log_likelihood_, n_customers_, converged_, covariance_, fit_info_, time_unit_
        See :class:`~clvmodels.models._base.BaseModel`.

    Notes
    -----
    The data are ``frequency`` (opportunities with a repeat transaction),
    ``recency`` (the last such opportunity, 0 if none) and ``n_periods``
    (opportunities after the first transaction), e.g. from
    :func:`clvmodels.data.discrete.discrete_summary`. A ``weights`` column
    (customers per row, as in a recency/frequency table) is used
    automatically by :meth:`fit`.

    Examples
    --------
    >>> from clvmodels.datasets import load_donations
    >>> model = BGBB().fit(load_donations())
    >>> model.params_.round(3).tolist(), round(model.log_likelihood_, 1)
    ([1.204, 0.75, 0.657, 2.783], -33225.6)
    """

    _param_names = PARAM_NAMES
    _data_columns = ("frequency", "recency", "n_periods")
    _integer_columns = ("frequency", "recency", "n_periods")
    _bounded_by = {"recency": "n_periods"}
    _zero_implies_zero = {"frequency": "recency"}

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)
    _prepare_data = staticmethod(_prepare)

    def _start_values(self, frequency, recency, n_periods, weights):
        return [
            np.array([1.0, 1.0, 1.0, 2.0]),
            np.array([0.5, 0.5, 0.5, 1.0]),
            np.array([3.0, 2.0, 2.0, 6.0]),
        ]

    def _check_data(self, data, index):
        x, tx = data.get("frequency"), data.get("recency")
        if x is None or tx is None:
            return []
        bad = np.flatnonzero(x > tx)
        if not bad.size:
            return []
        i = bad[0]
        return [
            f"'frequency' exceeds 'recency' in {bad.size} rows (first: {index.name or 'row'} "
            f"{index[i]!r}: frequency={x[i]:g}, recency={tx[i]:g}). With discrete opportunities "
            "a customer with x repeat transactions has their last one at opportunity >= x; "
            "recency must be the index of that opportunity, not a time since it."
        ]

    def fit(self, summary=None, *, weights=None, **columns) -> BGBB:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        summary : DataFrame, optional
            Columns ``frequency``, ``recency``, ``n_periods`` and, optionally,
            ``weights`` (number of customers per row, used when ``weights``
            is not given).
        weights : array_like or str, optional
            Customers per row, or the name of a column holding them.
        **columns : array_like
            The data columns by keyword.

        Returns
        -------
        self
        """
        if weights is None and isinstance(summary, pd.DataFrame) and "weights" in summary.columns:
            weights = "weights"
        return super().fit(summary, weights=weights, **columns)

    def expected_purchases(self, summary=None, t=1, *, interval=None, method="asymptotic",
                           n_draws=1000, n_boot=200, random_state=None, progress=False,
                           fit_summary=None, **columns):
        """Expected transactions of each customer in the next ``t`` opportunities (eq. 13).

        Parameters
        ----------
        summary : DataFrame, optional
            Columns frequency, recency, n_periods.
        t : int, default 1
            Number of future opportunities.
        interval : float in (0, 1), optional
            Also return a parameter-uncertainty interval at this level (see
            :mod:`clvmodels.models.uncertainty`; parameter uncertainty only, not
            the customer's own transaction noise).
        method : {"asymptotic", "bootstrap"}, default "asymptotic"
        n_draws, n_boot : int, default 1000, 200
        random_state : None, int or numpy Generator
        progress : bool, default False
        fit_summary : DataFrame, optional
            The summary the model was fitted on (bootstrap only; its
            ``weights`` column, if any, counts the customers per row).
        **columns : array_like
            The columns by keyword.

        Returns
        -------
        Series or DataFrame
            Series named ``expected_purchases``, indexed like the summary; with
            ``interval``, a DataFrame with ``expected_purchases``,
            ``expected_purchases_lower``, ``expected_purchases_upper``.
        """
        data, index = self._prediction_data(summary, "expected_purchases", **columns)
        values = expected_purchases(
            self._params_array(), data["frequency"], data["recency"], data["n_periods"], t
        )
        estimate = pd.Series(values, index=index, name="expected_purchases")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._with_interval(estimate, "expected_purchases", summary, columns, options, t=t)

    def probability_alive(self, summary=None, t=1, *, interval=None, method="asymptotic",
                          n_draws=1000, n_boot=200, random_state=None, progress=False,
                          fit_summary=None, **columns):
        """P(alive at opportunity ``n + t``), by default at the next opportunity.

        Parameters
        ----------
        summary : DataFrame, optional
        t : int, default 1
        interval, method, n_draws, n_boot, random_state, progress, fit_summary
            Parameter-uncertainty interval, as in :meth:`expected_purchases`.
        **columns : array_like

        Returns
        -------
        Series or DataFrame
            Series named ``probability_alive``; with ``interval``, a DataFrame with
            ``probability_alive``, ``probability_alive_lower``,
            ``probability_alive_upper``.
        """
        data, index = self._prediction_data(summary, "probability_alive", **columns)
        values = probability_alive(
            self._params_array(), data["frequency"], data["recency"], data["n_periods"], t
        )
        estimate = pd.Series(values, index=index, name="probability_alive")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._with_interval(estimate, "probability_alive", summary, columns, options, t=t)

    def _bootstrap_data(self, fit_summary):
        """Unique rows and customer counts, honouring a ``weights`` column as :meth:`fit` does."""
        from clvmodels.models._base import validate_data
        from clvmodels.models._fit import compress

        data, index = validate_data(self, fit_summary, {}, context="bootstrap")
        weights = None
        if isinstance(fit_summary, pd.DataFrame) and "weights" in fit_summary.columns:
            weights = self._weights(fit_summary, "weights", len(index))
        packed = compress([data[c] for c in self._data_columns], weights)
        return packed.columns, packed.weights

    def discounted_expected_residual_transactions(
        self, summary=None, discount_rate=0.1, **columns
    ) -> pd.Series:
        """DERT of each customer at a per-opportunity discount rate (eq. 14).

        Parameters
        ----------
        summary : DataFrame, optional
        discount_rate : float, default 0.1
        **columns : array_like

        Returns
        -------
        Series named ``discounted_expected_residual_transactions``.
        """
        data, index = self._prediction_data(
            summary, "discounted_expected_residual_transactions", **columns
        )
        values = discounted_expected_residual_transactions(
            self._params_array(), data["frequency"], data["recency"], data["n_periods"],
            discount_rate,
        )
        return pd.Series(values, index=index, name="discounted_expected_residual_transactions")

    def expected_purchases_new_customer(self, t) -> np.ndarray:
        """Expected transactions in a new customer's first ``t`` opportunities."""
        check_is_fitted(self, "expected_purchases_new_customer")
        return expected_purchases_new_customer(self._params_array(), t)

    def probability_of_purchases(self, n, t) -> np.ndarray:
        """``P(X(t) = n)`` for a new customer (eq. 7)."""
        check_is_fitted(self, "probability_of_purchases")
        return probability_of_purchases(self._params_array(), n, t)
