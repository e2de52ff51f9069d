"""The BG/CNBD-k model (Reutterer, Platzer & Schröder 2021) and the maths it shares with MBG/CNBD-k.

Model ("Leveraging purchase regularity for predicting customer behavior the easy way",
International Journal of Research in Marketing 38(1), 194-215; BTYDplus's ``bgcnbd.*``):
while alive, a customer's gaps between purchases are Erlang-k with rate ``lambda`` (mean
``k / lambda``; ``k = 1`` is the exponential of the BG/NBD), ``lambda ~ Gamma(r, alpha)``;
after each repeat purchase the customer drops out with probability ``p ~ Beta(a, b)``
(the MBG/CNBD-k, :mod:`clvmodels.models.mbgcnbd`, ``dropout_at_zero=True``: also right
after the first purchase). ``k`` is a positive integer; the class profiles the
likelihood over it (or keeps it fixed). Params arrays are ``(k, r, alpha, a, b)``.

The Poisson representation
--------------------------
An Erlang-k renewal process is every ``k``-th event ("tick") of a Poisson process of rate
``lambda`` started at the first purchase. Everything below follows from it.

Likelihood (paper, eq. 6-8 with BTYDplus's ``xbgcnbd.LL``). With ``c = 1`` for the
MBG/CNBD-k and 0 for the BG/CNBD-k, ``s = r + k x``, ``A = alpha + T``, ``B = alpha + t_x``::

    L = exp(P1) B(a, b + x + c) / B(a, b) Gamma(s) alpha^r / (Gamma(r) A^s) (S2 + S1)
    S2 = sum_{j=0}^{k-1} Gamma(s + j) / (Gamma(s) j!) ((T - t_x) / A)^j
    S1 = [c = 1 or x > 0] a / (b + x - 1 + c) (A / B)^s

``S2`` is the alive branch (``j`` ticks after the last purchase, fewer than ``k``, so no
purchase by ``T``); ``S1`` the dropout after the last purchase. ``P1`` depends on the data
only: with the event log, ``P1 = (k - 1) litt - x log((k - 1)!)`` (``litt`` the sum of the
logarithms of the gaps, BTYDplus's ``elog2cbs``), exactly BTYDplus's likelihood, which at
``k = 1`` is the BG/NBD's (MBG/NBD's) to rounding. Without ``litt`` the pure functions take
``P1 = 0`` (BTYDplus's convention too) and the estimates for a fixed ``k`` are unchanged;
profiling ``k`` then uses the likelihood of the summary ``(x, t_x, T)`` itself, whose
``t_x`` is the sum of ``x`` Erlang-k gaps, Erlang-``kx``: ``P1 = (k x - 1) log t_x - log
Gamma(k x)`` (:func:`summary_timing_term`). Both are proper likelihoods of their data.

The state at ``T`` (why the time since the last purchase matters)
-----------------------------------------------------------------
Unlike the exponential, the Erlang gap is not memoryless: an alive customer at ``T`` has
already accumulated ``J`` of the ``k`` ticks of the gap in progress. The alive branch of
the likelihood decomposes by ``J = j``: given the data and alive,
``P(J = j) = c_j / S2`` with ``c_j = Gamma(s + j) / (Gamma(s) j!) ((T - t_x) / A)^j``, and
given ``J = j`` the posterior of the rate is ``lambda ~ Gamma(s + j, A)``, with ``p ~ Beta(a,
b + x + c)`` independent. From ``T`` on, ticks are Poisson again (memoryless), the next
purchase comes at the ``(k - j)``-th tick and then every ``k`` ticks. So, with ``N(t)`` the
ticks in ``(T, T + t]`` (negative binomial given ``J = j``: shape ``s + j``, ``z = t / (A +
t)``) and ``O = floor((N + j) / k)`` the purchase epochs::

    P(alive | x, t_x, T) = 1 / (1 + S1 / S2)
    E[Y(t) | data] = P(alive) sum_j P(J = j) sum_{m >= 1} E[(1 - p)^(m - 1)] P(N >= m k - j)
    P(Y(t) = n | data) = [n = 0] (1 - P(alive))
        + P(alive) sum_j P(J = j) (P(O = n) E[(1-p)^(n-1)] + P(O > n) E[p (1-p)^(n-1)])

(the second line for ``n >= 1``; ``P(Y = 0 | alive, j) = P(O = 0)``), with ``E[(1 - p)^(m -
1)] = B(a, b' + m - 1) / B(a, b')``, ``b' = b + x + c``, and ``P(N >= n) = I_z(n, s + j)``
the regularised incomplete beta function. This is exact; BTYDplus's
``ConditionalExpectedTransactions`` instead approximates it by the BG/NBD expression with
``alpha`` scaled by ``k`` and a cohort-level bias correction (R/mbg-cnbd-k.R), so its
customer-level numbers differ from these slightly. The series over ``m`` has positive,
decreasing terms; it is summed in blocks until the bound on the rest (the negative
binomial tail decays at least geometrically beyond its mean) is below 1e-16 of the sum.
A new customer is the case ``x = 0``, ``t_x = T = 0``. The forecast simulation draws ``J``,
then ``lambda`` and ``p`` from this posterior and the future ticks as a Poisson process
(:func:`simulate_alive_purchases`); at ``k = 1`` every formula is the BG/NBD's (MBG/NBD's).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy.special import betainc, digamma, gammaln

from clvmodels.errors import InvalidCustomerDataError, InvalidParameterError
from clvmodels.models._base import BaseModel, PurchaseModelMixin
from clvmodels.models._checks import (
    customer_arrays,
    finite_array,
    horizon_array,
    validate_data,
    weights_array,
)
from clvmodels.models._fit import LOG, compress, fit_maximum_likelihood
from clvmodels.models._params import unpack_params
from clvmodels.models._special import counts_and_horizon, log_beta, log_gamma_ratio
from clvmodels.models.bgnbd import alive_purchases
from clvmodels.models.uncertainty import draw_columns

__all__ = [
    "BGCNBD",
    "CNBDModel",
    "btydplus_expected_purchases",
    "PARAM_NAMES",
    "expected_purchases",
    "expected_purchases_new_customer",
    "gradient",
    "log_conditional_pmf",
    "log_likelihood",
    "log_likelihood_rows",
    "predict_draws",
    "probability_alive",
    "probability_of_purchases",
    "simulate_alive_purchases",
    "summary_timing_term",
]

#: Names of the parameters, in the order used by every params array.
PARAM_NAMES = ("k", "r", "alpha", "a", "b")
#: Largest k the profile tries (BTYDplus: 12).
MAX_K = 12
_TAIL_RTOL = 1e-16
_BLOCK = 64
_MAX_ROWS = 32_768  # rows evaluated together in one block of the series
_MAX_TERMS = 2_000_000


def _unpack(params, name="BG/CNBD-k"):
    k, r, alpha, a, b = unpack_params(params, PARAM_NAMES, name)
    if k != round(k):
        raise InvalidParameterError(f"{name} parameter k must be a whole number >= 1, got {k!r}.")
    return int(round(k)), r, alpha, a, b


# ---------------------------------------------------------------------------
# the alive branch S2: weights of J = j ticks since the last purchase
# ---------------------------------------------------------------------------
def _log_tick_weights(k, s, T, tx, alpha):
    """``log c_j`` (n, k): ``log[Gamma(s+j)/(Gamma(s) j!)] + j log((T - t_x)/(alpha + T))``."""
    with np.errstate(divide="ignore"):
        log_u = np.log(T - tx) - np.log(alpha + T)
    out = np.zeros(s.shape + (k,))
    for j in range(1, k):
        out[:, j] = out[:, j - 1] + np.log(s + j - 1.0) - math.log(j) + log_u
    return out


def _logsumexp_rows(m):
    top = np.max(m, axis=1)
    return top + np.log(np.sum(np.exp(m - top[:, None]), axis=1))


def _core(k, r, alpha, a, b, x, tx, T, c):
    """Per-row pieces of the likelihood: rows (without P1), log S2, log S1, tick weights."""
    s = r + k * x
    A = alpha + T
    lc = _log_tick_weights(k, s, T, tx, alpha)
    log_s2 = _logsumexp_rows(lc)
    log_s1 = np.full(x.shape, -np.inf)
    has = (x > 0) | (c > 0)
    if np.any(has):
        log_s1[has] = (np.log(a) - np.log(b + x[has] - 1.0 + c)
                       + s[has] * np.log1p((T[has] - tx[has]) / (alpha + tx[has])))
    rows = (log_beta(a, b + x + c) - log_beta(a, b) + log_gamma_ratio(r, k * x)
            - r * np.log1p(T / alpha) - k * x * np.log(A) + np.logaddexp(log_s2, log_s1))
    return rows, log_s2, log_s1, lc, s


def _timing_term(k, x, litt):
    """``P1 = (k - 1) litt - x log((k - 1)!)`` (0 without ``litt``)."""
    if litt is None:
        return np.zeros(np.shape(x))
    return (k - 1) * litt - x * gammaln(k)


def summary_timing_term(k, frequency, recency) -> np.ndarray:
    """``[x > 0] ((k x - 1) log t_x - log Gamma(k x))``: the density of ``t_x`` up to ``lambda``.

    The part of the likelihood of the summary ``(x, t_x, T)`` that depends on ``k`` but not
    on the other parameters: ``t_x`` is the sum of ``x`` Erlang-k gaps, so Erlang-``kx``
    with density ``lambda^(kx) t_x^(kx - 1) e^(-lambda t_x) / Gamma(kx)``; the
    ``lambda``-dependent factor is already in :func:`log_likelihood_rows`. Used to profile
    ``k`` when the event log's ``litt`` is not available.

    Raises
    ------
    InvalidCustomerDataError
        For a customer with repeat purchases and ``recency = 0`` (the density is 0 there).
    """
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    bad = (x > 0) & (tx <= 0)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise InvalidCustomerDataError(
            f"{int(bad.sum())} customer(s) have repeat purchases but recency 0 (first at "
            f"position {first}: frequency={x[first]:g}); choosing k without the event log needs "
            "a positive time of the last repeat purchase. Give the summary a 'litt' column "
            "(clvmodels.models.regularity.log_intertransaction_times), or fix k (e.g. k=2)."
        )
    out = np.zeros(x.shape)
    has = x > 0
    kx = k * x[has]
    out[has] = (kx - 1.0) * np.log(tx[has]) - gammaln(kx)
    return out


def log_likelihood_rows(params, frequency, recency, T, litt=None, *,
                        dropout_at_zero: bool = False) -> np.ndarray:
    """Log-likelihood of each customer under the BG/CNBD-k (MBG/CNBD-k with ``dropout_at_zero``).

    Reutterer, Platzer & Schröder (2021), eq. 6-8, as BTYDplus's ``xbgcnbd.LL`` (see the
    module docstring), in log space: ``log S2`` by a log-sum-exp over the ``k`` tick
    counts, ``log S1 - log S2`` without overflow, ``Gamma(r + kx)/Gamma(r)`` and the beta
    functions by cancellation-free ratios.

    Parameters
    ----------
    params : sequence (k, r, alpha, a, b) or mapping
    frequency, recency, T : array_like
    litt : array_like, optional
        Sum of the log gaps of each customer (the event-log term ``P1``); 0 without it.
    dropout_at_zero : bool, default False

    Examples
    --------
    >>> from clvmodels.models import bgnbd
    >>> a = log_likelihood_rows((1, 0.243, 4.414, 0.793, 2.426), 2, 30.43, 38.86)
    >>> b = bgnbd.log_likelihood_rows((0.243, 4.414, 0.793, 2.426), 2, 30.43, 38.86)
    >>> bool(abs(float(a) - float(b)) < 1e-12)
    True
    """
    k, r, alpha, a, b = _unpack(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    shape = x.shape
    x, tx, T = (v.reshape(-1) for v in (x, tx, T))
    rows = _core(k, r, alpha, a, b, x, tx, T, 1.0 if dropout_at_zero else 0.0)[0]
    if litt is not None:
        lt = np.broadcast_to(finite_array(litt, "litt"), shape).reshape(-1)
        rows = rows + _timing_term(k, x, lt)
    return rows.reshape(shape)


def log_likelihood(params, frequency, recency, T, litt=None, weights=None, *,
                   dropout_at_zero: bool = False) -> float:
    """Total (weighted) log-likelihood, the sum of :func:`log_likelihood_rows`."""
    rows = log_likelihood_rows(params, frequency, recency, T, litt,
                               dropout_at_zero=dropout_at_zero)
    if weights is None:
        return float(np.sum(rows))
    return float(np.sum(np.broadcast_to(np.asarray(weights, dtype=float), rows.shape) * rows))


def _loglik_and_gradient_k(params, x, tx, T, kcol, ccol, weights):
    """Weighted log-likelihood and gradient in ``(r, alpha, a, b)`` at the fixed ``k = kcol[0]``.

    With ``w1 = S1 / (S1 + S2)``, ``w2 = 1 - w1``, ``P(J = j) = c_j / S2``, ``H_j =
    psi(s + j) - psi(s)`` and ``b' = b + x + c``::

        d/dr     = psi(s) - psi(r) - log1p(T/alpha) + w2 E_J[H_J] + w1 log1p((T-t_x)/(alpha+t_x))
        d/dalpha = r/alpha - s/(alpha+T) - w2 E_J[J]/(alpha+T) + w1 s (1/(alpha+T) - 1/(alpha+t_x))
        d/da     = psi(a+b) - psi(a+b') + w1 / a
        d/db     = psi(b') - psi(b) + psi(a+b) - psi(a+b') - w1 / (b' - 1)
    """
    r, alpha, a, b = (float(v) for v in params)
    k = int(kcol[0])
    c = float(ccol[0])
    rows, log_s2, log_s1, lc, s = _core(k, r, alpha, a, b, x, tx, T, c)
    w = np.asarray(weights, dtype=float)
    d = log_s1 - log_s2
    w1 = np.exp(-np.logaddexp(0.0, -d))
    w2 = np.exp(-np.logaddexp(0.0, d))
    pj = np.exp(lc - log_s2[:, None])
    jj = np.arange(k, dtype=float)
    harmonic = np.zeros_like(lc)
    for j in range(1, k):
        harmonic[:, j] = harmonic[:, j - 1] + 1.0 / (s + j - 1.0)
    e_h = np.sum(pj * harmonic, axis=1)
    e_j = np.sum(pj * jj, axis=1)
    A, B = alpha + T, alpha + tx
    bp = b + x + c
    d_r = (digamma(s) - digamma(r) - np.log1p(T / alpha) + w2 * e_h
           + w1 * np.log1p((T - tx) / B))
    d_alpha = r * T / (alpha * A) - k * x / A - w2 * e_j / A + w1 * s * (1.0 / A - 1.0 / B)
    common = digamma(a + b) - digamma(a + bp)
    d_a = common + w1 / a
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(w1 > 0, w1 / (bp - 1.0), 0.0)
    d_b = digamma(bp) - digamma(b) + common - drop
    grad = np.array([w @ d_r, w @ d_alpha, w @ d_a, w @ d_b])
    return float(w @ rows), grad


def gradient(params, frequency, recency, T, weights=None, *, dropout_at_zero=False) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` in ``(r, alpha, a, b)`` at the given ``k``.

    ``k`` is an integer and has no derivative; ``litt`` does not depend on the parameters.
    Formulas in :func:`_loglik_and_gradient_k`.
    """
    k, r, alpha, a, b = _unpack(params)
    x, tx, T = (v.reshape(-1) for v in customer_arrays(frequency, recency, T))
    w = weights_array(weights, x.shape)
    w = np.ones_like(x) if w is None else w.reshape(-1)
    kcol = np.full(x.shape, float(k))
    ccol = np.full(x.shape, 1.0 if dropout_at_zero else 0.0)
    return _loglik_and_gradient_k((r, alpha, a, b), x, tx, T, kcol, ccol, w)[1]


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
def _alive_and_ticks(k, r, alpha, a, b, x, tx, T, c):
    """``log P(alive)``, ``log P(dead)`` and ``log P(J = j | alive)`` (n, k)."""
    s = r + k * x
    lc = _log_tick_weights(k, s, T, tx, alpha)
    log_s2 = _logsumexp_rows(lc)
    has = (x > 0) | (c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # parameters may be scalars or one value per row (the draw kernel)
        log_s1 = np.where(has, np.log(a) - np.log(b + x - 1.0 + c)
                          + s * np.log1p((T - tx) / (alpha + tx)), -np.inf)
    d = log_s1 - log_s2
    log_alive = -np.logaddexp(0.0, d)
    log_dead = d + log_alive
    return log_alive, log_dead, lc - log_s2[:, None]


def _alive_expectation(k, shape, rate, a, bp, j, t):
    """``sum_{m>=1} B(a, b'+m-1)/B(a, b') I_z(m k - j, shape)``, ``z = t/(rate + t)`` (1-D arrays).

    Positive decreasing terms, summed in blocks of ``m``; a row stops when the bound on the
    rest, ``R_{m+1} I_z(n) / (1 - rho)`` with ``rho = z (n + shape) / (n + 1)`` the ratio
    bounding the negative binomial tail beyond ``n`` (once ``rho < 1``), is below 1e-16 of
    the sum.
    """
    n_rows = shape.size
    a = np.broadcast_to(np.asarray(a, dtype=float), (n_rows,))
    total = np.zeros(n_rows)
    pos = t > 0
    active = np.flatnonzero(pos)
    z = np.where(pos, t / (rate + t), 0.0)
    log_ratio = np.zeros(n_rows)  # log B(a, b'+m-1)/B(a, b') for the next m
    m0 = 1
    n_rounds = 0
    while active.size:
        if m0 * k > _MAX_TERMS + k:
            raise InvalidParameterError(
                f"the expected purchases did not converge within {_MAX_TERMS} purchase epochs "
                f"(horizon t = {float(t[active[0]]):g} against a rate scale "
                f"{float(rate[active[0]]):g}); such a horizon is far beyond the data: shorten it."
            )
        block = min(_BLOCK, 8 << n_rounds)  # 8, 16, 32, 64, 64, ... terms
        n_rounds += 1
        m = m0 + np.arange(block, dtype=float)
        ia = active[:_MAX_ROWS]  # rows x block cells at a time; the rest wait a round
        rest = active[_MAX_ROWS:]
        bpa = bp[ia, None]
        steps = np.log(bpa + m[None, :] - 1.0) - np.log(a[ia, None] + bpa + m[None, :] - 1.0)
        # log R_m for m = m0 .. m0 + BLOCK - 1: R_1 = 1, R_{m+1} = R_m (b'+m-1)/(a+b'+m-1)
        cum = np.concatenate([np.zeros((ia.size, 1)), np.cumsum(steps, axis=1)], axis=1)
        log_r = log_ratio[ia, None] + cum[:, :-1]
        n = m[None, :] * k - j[ia, None]
        tail = betainc(n, shape[ia, None], z[ia, None])
        terms = np.exp(log_r) * tail
        total[ia] += terms.sum(axis=1)
        log_ratio[ia] += cum[:, -1]
        n_next = (m0 + block) * k - j[ia]
        zz = z[ia]
        rho = zz * (n_next + shape[ia]) / (n_next + 1.0)
        next_tail = betainc(n_next, shape[ia], zz)
        with np.errstate(divide="ignore", over="ignore"):
            bound = np.exp(log_ratio[ia]) * next_tail / np.where(rho < 1, 1.0 - rho, 0.0)
        done = (rho < 1) & (bound <= _TAIL_RTOL * total[ia])
        done |= next_tail == 0
        if rest.size:
            # rows not yet started keep m0 = 1: run them first, separately
            total[rest] += _alive_expectation(k, shape[rest], rate[rest], a[rest], bp[rest],
                                              j[rest], t[rest])
        active = ia[~done]
        m0 += block
    return total


def _expected(k, r, alpha, a, b, x, tx, T, t, c):
    log_alive, _, log_pj = _alive_and_ticks(k, r, alpha, a, b, x, tx, T, c)
    packed = compress([x, T, t] + [log_pj[:, j] for j in range(k)])
    ux, uT, ut = packed.columns[:3]
    upj = np.column_stack(packed.columns[3:])
    value = np.zeros(ux.size)
    for j in range(k):
        g = _alive_expectation(k, r + k * ux + j, alpha + uT, a, b + ux + c,
                               np.full(ux.size, float(j)), ut)
        value += np.exp(upj[:, j]) * g
    return np.exp(log_alive) * value[packed.inverse]


def _flat(x, tx, T, t):
    x, tx, T, t = np.broadcast_arrays(x, tx, T, t)
    return x.shape, *(np.ravel(v).astype(float) for v in (x, tx, T, t))


def probability_alive(params, frequency, recency, T, *, dropout_at_zero=False) -> np.ndarray:
    """``P(alive | x, t_x, T) = 1 / (1 + S1 / S2)`` (module docstring; BTYDplus ``xbgcnbd.PAlive``).

    Examples
    --------
    >>> p = probability_alive((2, 0.8, 2.0, 0.8, 2.5), [0, 3, 3], [0.0, 20.0, 50.0], [52.0] * 3)
    >>> np.round(p, 4)
    array([1.    , 0.0593, 0.8449])
    """
    k, r, alpha, a, b = _unpack(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    shape = x.shape
    la = _alive_and_ticks(k, r, alpha, a, b, x.reshape(-1), tx.reshape(-1), T.reshape(-1),
                          1.0 if dropout_at_zero else 0.0)[0]
    return np.exp(la).reshape(shape)


def expected_purchases(params, frequency, recency, T, t, *, dropout_at_zero=False) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` given ``(x, t_x, T)``: the exact series.

    ``P(alive) sum_j P(J = j) sum_m B(a, b'+m-1)/B(a, b') I_z(mk - j, r + kx + j)`` (module
    docstring), evaluated on the distinct ``(x, T, t, P(J))`` rows.

    Examples
    --------
    >>> e = expected_purchases((2, 0.8, 2.0, 0.8, 2.5), [0, 3], [0.0, 50.0], [52.0, 52.0], 52.0)
    >>> np.round(e, 3)
    array([0.549, 2.275])
    """
    k, r, alpha, a, b = _unpack(params)
    t = horizon_array(t)
    x, tx, T = customer_arrays(frequency, recency, T)
    shape, x, tx, T, t = _flat(x, tx, T, t)
    out = _expected(k, r, alpha, a, b, x, tx, T, t, 1.0 if dropout_at_zero else 0.0)
    return out.reshape(shape)


def expected_purchases_new_customer(params, t, *, dropout_at_zero=False) -> np.ndarray:
    """A new customer's expected repeat purchases in ``(0, t]``: the case ``x = t_x = T = 0``.

    (BTYDplus's ``xbgcnbd.Expectation``.)
    """
    t = horizon_array(t)
    zeros = np.zeros(t.shape)
    return expected_purchases(params, zeros, zeros, zeros, t, dropout_at_zero=dropout_at_zero)


def _log_nb(n, shape, z):
    """``log P(N = n)`` for ``N ~ NB(shape, 1 - z)`` (``n >= 0``)."""
    with np.errstate(divide="ignore"):
        return (log_gamma_ratio(shape, n) - gammaln(n + 1.0) + shape * np.log1p(-z)
                + np.where(n > 0, n * np.log(np.where(z > 0, z, 1.0)), 0.0)
                + np.where((n > 0) & (z == 0), -np.inf, 0.0))


def _alive_log_pmf(k, shape, z, a, bp, j, n):
    """``log P(Y = n | alive, J = j)`` (1-D arrays): epochs ``O`` and geometric dropout."""
    # P(O = n) = sum of the NB pmf over ticks n k - j .. (n + 1) k - j - 1 (>= 0)
    lo = n * k - j
    parts = []
    for i in range(k):
        ticks = lo + i
        parts.append(np.where(ticks >= 0, _log_nb(np.maximum(ticks, 0.0), shape, z), -np.inf))
    log_o_eq = np.logaddexp.reduce(np.stack(parts), axis=0)
    upper = (n + 1) * k - j
    with np.errstate(divide="ignore"):
        log_o_gt = np.log(betainc(upper, shape, z))
    out = log_o_eq.copy()
    pos = n > 0
    if np.any(pos):
        base = log_beta(a, bp[pos])
        stay = log_beta(a, bp[pos] + n[pos] - 1.0) - base
        drop = log_beta(a + 1.0, bp[pos] + n[pos] - 1.0) - base
        out[pos] = np.logaddexp(log_o_eq[pos] + stay, log_o_gt[pos] + drop)
    return out


def log_conditional_pmf(params, n, frequency, recency, T, t, *,
                        dropout_at_zero=False) -> np.ndarray:
    """``log P(Y(t) = n | x, t_x, T)``: mixture over the state ``J`` at ``T`` (module docstring).

    Examples
    --------
    >>> lp = log_conditional_pmf((2, 0.8, 2.0, 0.8, 2.5), np.arange(300), 3, 50.0, 52.0, 52.0)
    >>> float(np.round(np.exp(lp).sum(), 10))
    1.0
    """
    k, r, alpha, a, b = _unpack(params)
    c = 1.0 if dropout_at_zero else 0.0
    shape_, n, x, tx, T, t = counts_and_horizon(n, frequency, recency, T, t, customer_arrays)
    log_alive, log_dead, log_pj = _alive_and_ticks(k, r, alpha, a, b, x, tx, T, c)
    z = t / (alpha + T + t)
    alive_part = np.full(n.shape, -np.inf)
    for j in range(k):
        jj = np.full(n.shape, float(j))
        lp = _alive_log_pmf(k, r + k * x + j, z, a, b + x + c, jj, n)
        alive_part = np.logaddexp(alive_part, log_pj[:, j] + lp)
    out = log_alive + alive_part
    zero = n == 0
    out[zero] = np.logaddexp(out[zero], log_dead[zero])
    return np.minimum(out, 0.0).reshape(shape_)


def probability_of_purchases(params, n, t, *, dropout_at_zero=False) -> np.ndarray:
    """``P(X(t) = n)`` for a new customer (BTYDplus ``xbgcnbd.pmf``): the case ``x = T = 0``."""
    n = np.asarray(n, dtype=float)
    t = horizon_array(t)
    if np.any(t <= 0):
        raise InvalidParameterError("the horizon t must be > 0 for probability_of_purchases.")
    n, t = np.broadcast_arrays(n, t)
    zeros = np.zeros(n.shape)
    return np.exp(log_conditional_pmf(params, n, zeros, zeros, zeros, t,
                                      dropout_at_zero=dropout_at_zero))


def btydplus_expected_purchases(params, frequency, recency, T, t, *, dropout_at_zero=False,
                                bias_correction=True) -> np.ndarray:
    """BTYDplus's approximation of the conditional expectation (for comparison only).

    ``xbgcnbd.ConditionalExpectedTransactions`` (R/mbg-cnbd-k.R) does not evaluate the
    exact series of :func:`expected_purchases`: it takes the BG/NBD expression with the
    rate's scale multiplied by ``k``, ``P(alive) g(r + x, k alpha + T, a, b + x + c; t)``
    (``g`` the alive customer's BG/NBD expectation,
    :func:`clvmodels.models.bgnbd.alive_purchases`), and, for ``k > 1`` and at least 100
    customers, rescales all customers by one factor so that their total equals the
    cohort's unconditional expectation ``sum E[X(T + t)] - E[X(T)]``. Its customer-level
    numbers (and the MAE BTYDplus's vignette prints) come from this; it is here to reproduce
    them, and the models use the exact expression.
    """
    k, r, alpha, a, b = _unpack(params)
    c = 1.0 if dropout_at_zero else 0.0
    x, tx, T = customer_arrays(frequency, recency, T)
    shape, x, tx, T, t = _flat(x, tx, T, horizon_array(t))
    alive = np.exp(_alive_and_ticks(k, r, alpha, a, b, x, tx, T, c)[0])
    out = alive * alive_purchases(r + x, k * alpha + T, a, b + x + c, t)
    if bias_correction and k > 1 and x.size >= 100:
        new = expected_purchases_new_customer(params, np.r_[T, T + t],
                                              dropout_at_zero=dropout_at_zero)
        out = out * (new[x.size:].sum() - new[: x.size].sum()) / out.sum()
    return out.reshape(shape)


def predict_draws(quantity: str, params, frequency, recency, T, t=None, *,
                  dropout_at_zero=False) -> np.ndarray:
    """``probability_alive`` or ``expected_purchases`` at many parameter vectors: (n_draws, n_rows).

    ``params`` has shape (n_draws, 5); ``k`` (its first column) is fixed at the profile's
    value in every draw (the interval is conditional on ``k``, whose estimate has no
    standard error). All (draw, row) pairs are evaluated together (see :func:`_draws_one_k`).
    """
    if quantity not in ("probability_alive", "expected_purchases"):
        raise InvalidParameterError(f"no draw kernel for {quantity!r}.")
    columns = draw_columns(params, 5)
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    c = 1.0 if dropout_at_zero else 0.0
    ks = np.rint(columns[0][:, 0]).astype(np.int64)
    out = np.empty((ks.size, x.size))
    horizon = np.broadcast_to(np.asarray(1.0 if t is None else t, dtype=float), x.shape)
    for k in np.unique(ks):  # one k in practice (fixed in every draw)
        rows = np.flatnonzero(ks == k)
        r, alpha, a, b = (col[rows, 0] for col in columns[1:])
        out[rows] = _draws_one_k(quantity, int(k), r, alpha, a, b, x, tx, T, horizon, c)
    return out


def _draws_one_k(quantity, k, r, alpha, a, b, x, tx, T, t, c):
    """(n_draws, n_rows) at one ``k``: every (draw, row) pair as one flat row of the kernels;
    the series of the expectation on the distinct ``(x, T, t)`` only (it does not depend on
    ``t_x``), gathered back."""
    n_draws, n = r.size, x.size
    rep = lambda v: np.repeat(v, n)  # noqa: E731
    log_alive, _, log_pj = _alive_and_ticks(k, rep(r), rep(alpha), rep(a), rep(b),
                                            np.tile(x, n_draws), np.tile(tx, n_draws),
                                            np.tile(T, n_draws), c)
    if quantity == "probability_alive":
        return np.exp(log_alive).reshape(n_draws, n)
    packed = compress([x, T, t])
    ux, uT, ut = packed.columns
    u = ux.size
    urep = lambda v: np.repeat(v, u)  # noqa: E731
    X, TT, TH = np.tile(ux, n_draws), np.tile(uT, n_draws), np.tile(ut, n_draws)
    value = np.zeros((n_draws, n))
    for j in range(k):
        g = _alive_expectation(k, urep(r) + k * X + j, urep(alpha) + TT, urep(a),
                               urep(b) + X + c, np.full(X.size, float(j)), TH)
        value += np.exp(log_pj[:, j]).reshape(n_draws, n) * g.reshape(n_draws, u)[
            :, packed.inverse]
    return np.exp(log_alive).reshape(n_draws, n) * value


def simulate_alive_purchases(theta, x, T, horizon: float, rng, *, recency,
                             dropout_at_zero=False):
    """Purchase times in ``(0, horizon]`` of customers alive at ``T`` (the forecast hook).

    The posterior given alive (module docstring): ``J`` ticks already accumulated in the
    gap in progress with ``P(J = j) = c_j / S2`` (it needs the recency: the Erlang gap is
    not memoryless), then ``lambda ~ Gamma(r + k x + J, alpha + T)`` and ``p ~ Beta(a, b + x
    + c)``. Future ticks are Poisson(``lambda``): ``N ~ Poisson(lambda L)`` at uniform times;
    the purchases are ticks ``k - J, 2k - J, ...``, each followed by dropout with
    probability ``p`` (the first ``D ~ Geometric(p)`` purchases are kept).

    Returns
    -------
    owner, times, keep : ndarrays (see :func:`clvmodels.models.bgnbd.simulate_alive_purchases`)
        Only purchase epochs are returned (the other ticks are not purchases).
    """
    c = 1.0 if dropout_at_zero else 0.0
    k = np.rint(theta[:, 0]).astype(np.int64)
    r, alpha, a, b = (theta[:, i] for i in range(1, 5))
    tx = np.asarray(recency, dtype=float)
    j = np.zeros(x.size, dtype=np.int64)
    for kk in np.unique(k):
        rows = np.flatnonzero(k == kk)
        if kk == 1:
            continue
        s = r[rows] + kk * x[rows]
        lc = np.zeros((rows.size, kk))
        with np.errstate(divide="ignore"):
            log_u = np.log(T[rows] - tx[rows]) - np.log(alpha[rows] + T[rows])
        for jj in range(1, kk):
            lc[:, jj] = lc[:, jj - 1] + np.log(s + jj - 1.0) - math.log(jj) + log_u
        prob = np.exp(lc - lc.max(axis=1, keepdims=True))
        cdf = np.cumsum(prob, axis=1)
        u = rng.random(rows.size) * cdf[:, -1]
        j[rows] = (cdf < u[:, None]).sum(axis=1)
    lam = rng.gamma(r + k * x + j) / (alpha + T)
    n_ticks = rng.poisson(lam * horizon)
    tick_owner = np.repeat(np.arange(x.size), n_ticks)
    tick_time = rng.random(tick_owner.size) * horizon
    order = np.lexsort((tick_time, tick_owner))
    tick_owner, tick_time = tick_owner[order], tick_time[order]
    first = np.cumsum(n_ticks) - n_ticks
    rank = np.arange(tick_owner.size) - first[tick_owner] + 1 + j[tick_owner]
    epoch = rank % k[tick_owner] == 0
    owner, times = tick_owner[epoch], tick_time[epoch]
    n_epochs = np.bincount(owner, minlength=x.size)
    buyers = np.flatnonzero(n_epochs)
    limit = np.zeros(x.size, dtype=np.int64)
    p = rng.beta(a[buyers], b[buyers] + x[buyers] + c)
    limit[buyers] = rng.geometric(np.maximum(p, 1e-300))
    start = np.cumsum(n_epochs) - n_epochs
    number = np.arange(owner.size) - start[owner]
    return owner, times, number < limit[owner]


# ---------------------------------------------------------------------------
# the estimators
# ---------------------------------------------------------------------------
class CNBDModel(PurchaseModelMixin, BaseModel):
    """Shared estimator of BG/CNBD-k and MBG/CNBD-k: the profile over the integer ``k``.

    Parameters
    ----------
    k : int or None, default None
        ``None`` chooses ``k`` by profiling the likelihood over ``k = 1 .. max_k``: the
        continuous parameters are fitted for each ``k`` (warm-started from the previous
        ``k``) and the search stops once the log-likelihood has fallen twice in a row
        (BTYDplus's rule). An integer fixes it (``k=1`` is the BG/NBD or MBG/NBD).
    max_k : int, default 12
    penalizer : float, default 0
    n_starts : int, default 3

    Notes
    -----
    ``fit`` reads the optional column ``litt`` (sum of each customer's log gaps, the
    event-log statistic; :func:`clvmodels.models.regularity.log_intertransaction_times`).
    With it the log-likelihood is BTYDplus's; without it, a fixed ``k`` uses ``P1 = 0``
    (BTYDplus's convention) and the profile over ``k`` uses the likelihood of the summary
    (:func:`summary_timing_term`). ``fit_info_["k_profile"]`` lists the log-likelihood of
    each ``k`` tried and ``fit_info_["timing_term"]`` which term was used. ``k`` has no
    standard error (it is an integer, maximised over a grid): the summary shows NaN for it
    and the covariance holds 0 in its row and column, so intervals are conditional on ``k``.
    """

    _param_names = PARAM_NAMES
    _interval_columns = ("frequency", "T", "recency")
    _dropout_at_zero = False
    _display = "BG/CNBD-k"
    _loglik_and_gradient = staticmethod(_loglik_and_gradient_k)

    def __init__(self, k=None, max_k: int = MAX_K, penalizer: float = 0.0, n_starts: int = 3):
        self.k = k
        self.max_k = max_k
        self.penalizer = penalizer
        self.n_starts = n_starts

    # the pure functions take the variant as a keyword: bind it
    def _c(self):
        return 1.0 if type(self)._dropout_at_zero else 0.0

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        for name, value in (("k", self.k), ("max_k", self.max_k)):
            if value is None and name == "k":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidParameterError(
                    f"{name} must be a whole number >= 1 (or k=None to choose it), got {value!r}."
                )

    @classmethod
    def from_params(cls, *, time_unit=None, **params):
        """A model with given parameters ``k`` (whole number), ``r``, ``alpha``, ``a``, ``b``."""
        if "k" in params:
            _unpack({**{p: 1.0 for p in PARAM_NAMES}, "k": params["k"]}, cls._display)
        return super().from_params(time_unit=time_unit, **params)

    def _simulate_alive_purchases(self, theta, x, T, horizon, rng, recency=None):
        if recency is None:
            raise InvalidParameterError(
                f"{type(self).__name__} needs each customer's recency to simulate the gap in "
                "progress at T (the Erlang gap is not memoryless)."
            )
        return simulate_alive_purchases(theta, x, T, horizon, rng, recency=recency,
                                        dropout_at_zero=type(self)._dropout_at_zero)

    def _starts(self, x, T, w, k, previous):
        mean_x = float(w @ x) / float(np.sum(w))
        mean_T = float(w @ T) / float(np.sum(w))
        scale = k * max(mean_T, 1e-6) / max(mean_x, 0.05)  # E[lambda] = r/alpha ~ k x / T
        starts = [np.array([1.0, scale, 1.0, 1.0]), np.array([0.3, 0.3 * scale, 0.7, 2.5]),
                  np.array([3.0, 3.0 * scale, 3.0, 6.0])]
        if previous is not None:
            starts.insert(0, previous * np.array([1.0, 1.0, 1.0, 1.0]))
        return starts[: max(1, int(self.n_starts))]

    def _fit_k(self, k, columns, w, previous):
        x, tx, T = columns
        data = (x, tx, T, np.full(x.shape, float(k)), np.full(x.shape, self._c()))
        return fit_maximum_likelihood(
            _loglik_and_gradient_k, data, PARAM_NAMES[1:], self._starts(x, T, w, k, previous),
            weights=w, penalizer=float(self.penalizer), log_bounds=self._log_bounds)

    def fit(self, summary: pd.DataFrame | None = None, *, weights=None, **columns):
        """Maximum likelihood over ``(r, alpha, a, b)`` for each ``k``; the best ``k`` is kept.

        Parameters
        ----------
        summary : DataFrame, optional
            Columns ``frequency``, ``recency``, ``T`` and optionally ``litt``.
        weights : array_like or str, optional
        **columns : array_like
            The columns (``litt`` too) by keyword.

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        litt = columns.pop("litt", None)
        if litt is None and isinstance(summary, pd.DataFrame) and "litt" in summary:
            litt = summary["litt"].to_numpy(dtype=float)
        data, index = validate_data(self, summary, columns, context="fit")
        w = self._weights(summary, weights, len(index))
        w = np.ones(len(index)) if w is None else np.asarray(w, dtype=float)
        x, tx, T = (data[c] for c in self._data_columns)
        if litt is not None:
            litt = np.asarray(finite_array(litt, "litt"), dtype=float).reshape(-1)
            if litt.size != x.size:
                raise InvalidCustomerDataError(
                    f"litt has {litt.size} values but the summary has {x.size} customers.")
            timing = "litt"
        elif self.k is None:
            summary_timing_term(1, x, tx)  # refuses repeat customers with recency 0
            timing = "recency"
        else:
            timing = "none"
        ks = [int(self.k)] if self.k is not None else list(range(1, int(self.max_k) + 1))
        results, profile, previous = {}, {}, None
        for k in ks:
            result = self._fit_k(k, (x, tx, T), w, previous)
            if timing == "litt":
                extra = float(w @ _timing_term(k, x, litt))
            elif timing == "recency":
                extra = float(w @ summary_timing_term(k, x, tx))
            else:
                extra = 0.0
            results[k] = result
            profile[k] = float(result.log_likelihood) + extra
            previous = np.asarray(result.params, dtype=float)
            lls = [profile[kk] for kk in sorted(profile)]
            if len(lls) >= 3 and lls[-1] < lls[-2] < lls[-3]:
                break
        best = max(profile, key=profile.get)
        result = results[best]
        names = tuple(PARAM_NAMES)
        # k is held fixed (a whole number maximised over a grid): its row and column of the
        # covariance are zero; the record covers all five parameters
        def padded(matrix):
            out = np.zeros((5, 5))
            out[1:, 1:] = matrix
            return out

        record = dataclasses.replace(
            result,
            params=np.array([float(best), *np.asarray(result.params, dtype=float)]),
            param_names=names,
            log_likelihood=profile[best],
            covariance=padded(result.covariance),
            covariance_transformed=padded(result.covariance_transformed),
            hessian_transformed=padded(result.hessian_transformed),
            at_bound=list(result.at_bound),
            transforms=(LOG, *result.transforms),
            extra={**result.extra, "k_profile": {str(k): v for k, v in profile.items()},
                   "timing_term": timing},
        )
        self._set_fit_result(record)
        unit = summary.attrs.get("time_unit") if isinstance(summary, pd.DataFrame) else None
        self.time_unit_ = None if unit is None else str(unit)
        return self

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """As :meth:`BaseModel.summary`, with NaN standard error and interval for ``k``.

        ``k`` is an integer chosen on a grid (or fixed): no standard error is defined for
        it; ``attrs["k_note"]`` says so and ``attrs["k_profile"]`` gives the profile.
        """
        table = super().summary(alpha)
        table.loc["k", ["std_error", "ci_lower", "ci_upper"]] = np.nan
        table.attrs["k_note"] = ("k is a whole number maximised over a grid (or fixed): it has "
                                 "no standard error; the others are conditional on it.")
        return table

    def _bootstrap_data(self, fit_summary):
        data, _ = validate_data(self, fit_summary, {}, context="bootstrap")
        packed = compress([data[c] for c in self._data_columns])
        return packed.columns, packed.weights

    def _refit_weighted(self, columns, weights, start):
        k = int(round(float(start[0])))
        x, tx, T = columns
        data = (x, tx, T, np.full(x.shape, float(k)), np.full(x.shape, self._c()))
        try:
            result = fit_maximum_likelihood(
                _loglik_and_gradient_k, data, PARAM_NAMES[1:], [np.asarray(start[1:], float)],
                weights=weights, penalizer=float(self.penalizer), log_bounds=self._log_bounds,
                compressed=True, warn=False)
        except (ValueError, FloatingPointError):
            return None
        if not result.converged:
            return None
        return np.array([float(k), *np.asarray(result.params, dtype=float)])


class BGCNBD(CNBDModel):
    """BG/CNBD-k: Erlang-k gaps, dropout after repeat purchases (Reutterer et al. 2021).

    See :class:`CNBDModel` for the parameters and the profile over ``k``.

    Examples
    --------
    >>> from clvmodels.data._simulate_cnbd import simulate_cnbd_summary
    >>> s = simulate_cnbd_summary(3000, 2, 0.8, 2.0, 0.8, 2.5, 52.0, random_state=1)
    >>> model = BGCNBD().fit(s)
    >>> int(model.params_["k"])
    2
    """

    _dropout_at_zero = False
    _display = "BG/CNBD-k"

    _expected_purchases_function = staticmethod(expected_purchases)
    _probability_alive_function = staticmethod(probability_alive)
    _log_conditional_pmf_function = staticmethod(log_conditional_pmf)
    _predict_draws_function = staticmethod(predict_draws)
    _simulate_function = staticmethod(simulate_alive_purchases)
    _expected_purchases_new_customer_function = staticmethod(expected_purchases_new_customer)
    _probability_of_purchases_function = staticmethod(probability_of_purchases)

