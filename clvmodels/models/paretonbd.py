"""The Pareto/NBD model of repeat purchasing in a non-contractual setting.

Model (Schmittlein, Morrison & Colombo 1987, Management Science 33(1); Fader &
Hardie 2005, "A Note on Deriving the Pareto/NBD Model and Related
Expressions", www.brucehardie.com/notes/009/): while alive, a customer buys
following a Poisson process of rate ``lambda``; their lifetime is
exponential with rate ``mu``; across customers ``lambda ~ Gamma(r, alpha)``
and ``mu ~ Gamma(s, beta)`` independently (shapes ``r, s``, rates
``alpha, beta``). A customer's data are ``x = frequency`` (repeat purchases),
``t_x = recency`` (time of the last one) and ``T`` (time since the first
purchase), all in the summary's time unit.

The likelihood
--------------
Given ``lambda, mu``, ``L = lambda^x e^-(lambda+mu)T + int_{t_x}^T lambda^x
e^-lambda tau mu e^-mu tau d tau``. Integrating the rates out,
and integrating the second term by parts, gives a sum of two positive terms
(the "alternative form" of the likelihood, Fader & Hardie 2005, eq. 22;
Schmittlein et al. 1987, eq. 11 written without subtraction)::

    L = Gamma(r+x) alpha^r beta^s / Gamma(r)
        * [ s J(r+x, s+1; t_x) + (r+x) J(r+x+1, s; T) ]

    J(a, b; t) = int_t^inf (alpha+tau)^-a (beta+tau)^-b dtau
               = 2F1(a+b-1, b; a+b; z) / ((a+b-1) (alpha+t)^(a+b-1)),
                 z = (alpha-beta)/(alpha+t)      (alpha >= beta;
                 swap alpha<->beta, a<->b otherwise).

The common form ``L = C [1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A_0]``
subtracts two hypergeometric terms (``A_0``); near ``t_x = T``, for large
``x`` or when ``alpha`` is close to ``beta`` that difference cancels, and
``lifetimes`` returns NaN, infinity or wrong values there. Here nothing is
subtracted.

How ``J`` is evaluated (:func:`log_tail_integral`)
---------------------------------------------------
With ``A = max(alpha,beta) + t``, ``B = min(alpha,beta) + t`` and ``a``, ``b``
the exponents of the larger and smaller base, Euler's transformation gives
``J = A^-a B^(1-b) S(z) / (a+b-1)`` with ``S(z) = 2F1(1, a; a+b; z) =
sum_k (a)_k/(a+b)_k z^k``. Every term of ``S`` is positive and each is at most
``z`` times the previous one, so ``K`` terms leave a relative error below
``z^K/(1-z)``: no overflow for any ``x``, no cancellation, and at
``alpha == beta`` (``z = 0``) ``S = 1`` exactly: no ``1/(alpha-beta)`` anywhere.
The derivatives of ``log S`` with respect to ``a``, ``b`` and ``z`` are the
same series differentiated term by term (digamma differences as running
sums), so the analytic gradient costs one more pass over the terms.
The series is used for ``z <= 0.3``. For ``0.3 < z <= 0.99`` ``S`` is the Gauss
continued fraction of the incomplete beta function (modified Lentz; ~25 steps
at ``z = 0.9``, ~90 at ``z = 0.99``, against 400 and 4000 series terms), with the
derivatives carried through the recurrence in forward mode. Beyond ``z = 0.99``
(``alpha`` and ``beta`` far apart and small ``t``) the integral is split at the
point ``t*`` where ``z = 0.3``: the tail beyond ``t*`` by the series, the piece
``[t, t*]`` by Gauss-Legendre quadrature in ``u = log(min(alpha,beta) + tau)``,
where the integrand is log-concave (its peak and the region within ``e^-50``
of it are located first; the same nodes give the derivatives).

The maths are pure functions over arrays; :class:`ParetoNBD` is the thin
estimator around them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.polynomial.legendre import leggauss
from scipy.special import digamma, exprel, gammaln

from clvmodels.errors import InvalidParameterError
from clvmodels.models._base import BaseModel, PurchaseModelMixin
from clvmodels.models._checks import customer_arrays, finite_array, weights_array
from clvmodels.models._params import unpack_params
from clvmodels.models._special import (
    combine_alive_dead,
    counts_and_horizon,
    log1mexp,
    log_gamma_ratio,
    unique_rows,
)
from clvmodels.models.uncertainty import draw_rows

__all__ = [
    "PARAM_NAMES",
    "ParetoNBD",
    "log_likelihood_rows",
    "log_likelihood",
    "gradient",
    "probability_alive",
    "expected_purchases",
    "expected_purchases_new_customer",
    "probability_of_purchases",
    "expected_residual_transactions",
]

#: Names of the parameters, in the order used by every array of parameters.
PARAM_NAMES = ("r", "alpha", "s", "beta")

# Method switches on the hypergeometric argument z: power series up to _Z_CF (at most
# ~40 terms), continued fraction up to _Z_QUAD (at most ~90 steps), quadrature beyond.
_Z_CF = 0.3
_Z_QUAD = 0.99
_CF_MAX_STEPS = 5000
_TINY = 1e-300
# Target relative truncation error of the series.
_SERIES_TOL = 1e-18
# Quadrature: log-width of the window kept around the peak, bisection steps,
# Gauss-Legendre nodes per panel.
_WINDOW = 50.0
_N_BISECT = 50
# Panel edges on each side of the peak: where the log-integrand has dropped by these
# amounts, and at these fractions of the window.
_DROP_LEVELS = np.array([1.0, 5.0, 15.0, _WINDOW])
_GEOMETRIC_EDGES = np.array([1.0 / 64.0, 1.0 / 16.0, 1.0 / 4.0])
_N_BISECT_LEVELS = 24
_GL_X, _GL_W = leggauss(20)


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------
def _unpack_params(params) -> tuple[float, float, float, float]:
    """Return ``(r, alpha, s, beta)`` as floats from a mapping/Series or a sequence; check > 0."""
    return unpack_params(params, PARAM_NAMES, "Pareto/NBD")


def _check_time(t, name="t") -> np.ndarray:
    arr = finite_array(t, name)
    if np.any(arr < 0):
        raise InvalidParameterError(f"{name} must be >= 0 (a length of time), got {arr.min():g}.")
    return arr


# ---------------------------------------------------------------------------
# numerical core: J(a, b; t) = int_t^inf (alpha+tau)^-a (beta+tau)^-b dtau
# ---------------------------------------------------------------------------
def _n_series_terms(z, a):
    """Terms needed per row so that ``S`` and its derivative series are truncated below 1e-18.

    Term ``k`` is at most ``z^k``, so the tail after ``K`` terms is at most
    ``z^K / (1-z)`` relative to ``S >= 1``; the derivative series weight term
    ``k`` by at most ``1/a + log(1 + k/a)`` (``d/da``), ``log(1 + k/(a+b))``
    (``d/db``) and ``k/z`` (``d/dz``), covered by the margins below.
    """
    with np.errstate(divide="ignore"):
        log_z = np.log(z)
    safe = np.where(z > 0, -log_z, 1.0)
    margin = np.log(2.0 + 1.0 / a) - 2.0 * np.log1p(-z)
    k0 = np.ceil((margin - np.log(_SERIES_TOL)) / safe)
    k = k0 + np.ceil(2.0 * np.log(k0 + 2.0) / safe) + 2.0
    return np.where(z > 0, np.maximum(k, 2.0), 2.0).astype(np.intp)


def _series_log_S(a, b, z, grad):
    """``log S`` with ``S = 2F1(1, a; a+b; z) = sum_k c_k z^k`` by its power series.

    ``c_0 = 1``, ``c_{k+1} = c_k (a+k)/(a+b+k)``: positive terms, each at most
    ``z`` times the previous one. With ``grad`` also returns the derivatives of
    ``log S`` with respect to ``(a, b, z)``, from the series differentiated term
    by term (``d log c_k / da = sum_{i<k} b/((a+i)(a+b+i))``,
    ``d log c_k / db = -sum_{i<k} 1/(a+b+i)``, kept as running sums).

    Each row gets its own number of terms (:func:`_n_series_terms`): rows are
    sorted by it once, and term ``k`` updates only the prefix of rows that
    still need it, so the cost is the total number of terms, not rows x max.
    """
    n = a.shape[0]
    n_terms = _n_series_terms(z, a)
    order = np.argsort(-n_terms, kind="stable")
    sorted_terms = n_terms[order]
    az, bz, zz = a[order], b[order], z[order]
    k_max = int(sorted_terms[0]) if n else 0
    # rows still active at term k (k = 1 .. k_max - 1): those with n_terms > k
    active = np.searchsorted(-sorted_terms, -np.arange(1, k_max), side="left")
    S = np.ones(n)
    term = np.ones(n)
    if grad:
        da = np.zeros(n)
        db = np.zeros(n)
        Sa = np.zeros(n)
        Sb = np.zeros(n)
        Sz = np.zeros(n)
    for k in range(1, k_max):
        p = int(active[k - 1])
        if p == 0:
            break
        ap = az[:p] + (k - 1.0)
        abp = ap + bz[:p]
        term[:p] *= zz[:p] * ap / abp
        S[:p] += term[:p]
        if grad:
            da[:p] += bz[:p] / (ap * abp)
            db[:p] -= 1.0 / abp
            Sa[:p] += term[:p] * da[:p]
            Sb[:p] += term[:p] * db[:p]
            Sz[:p] += k * term[:p]
    unsort = np.empty(n, dtype=np.intp)
    unsort[order] = np.arange(n)
    S = S[unsort]
    if not grad:
        return np.log(S), None
    # dS/dz = sum_k k c_k z^(k-1); at z = 0 it is c_1 = a / (a + b)
    positive = z > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        dlogS_dz = np.where(positive, Sz[unsort] / np.where(positive, z, 1.0) / S, a / (a + b))
    return np.log(S), np.stack([Sa[unsort] / S, Sb[unsort] / S, dlogS_dz])


def _cf_log_S(a, b, z, grad):
    """``log S``, ``S = 2F1(1, a; a+b; z)``, by the continued fraction of the incomplete beta.

    ``S = 2F1(p+q, 1; p+1; z)`` with ``p = a+b-1``, ``q = 1-b`` is the function
    whose Gauss continued fraction evaluates the incomplete beta function
    ``I_z(p, q)`` (Abramowitz & Stegun 26.5.8; Press et al., Numerical Recipes,
    sec. 6.4), with coefficients ``d_2j = j(q-j)z/((p+2j-1)(p+2j))`` and
    ``d_2j+1 = -(p+j)(p+q+j)z/((p+2j)(p+2j+1))``. It is evaluated by the
    modified Lentz method and converges much faster than the power series as
    ``z -> 1`` (about 25 steps at ``z = 0.9``, 90 at ``z = 0.99``, against 400
    and 4000 terms). The derivatives of ``log S`` with respect to ``(a, b, z)``
    are carried through the recurrence in forward mode.
    """
    n = a.shape[0]
    p = a + b - 1.0
    q = 1.0 - b
    pq = a  # p + q
    # first convergent: d = 1 / (1 - (p+q) z / (p+1)),  p + 1 = a + b
    D0 = 1.0 - pq * z / (a + b)
    d = 1.0 / D0
    c = np.ones(n)
    S = d.copy()  # 1 <= S <= 1/(1-z): no overflow, so the product is kept, not its log
    if grad:
        # tangents with respect to (p, q, z)
        dD0 = np.stack([-z * b / (a + b) ** 2, -z / (a + b), -pq / (a + b)])
        dd = -d * d * dD0
        dc = np.zeros((3, n))
        g = dd / d
    # A row is done once both half-steps of an iteration change S (and its tangents) by less
    # than rounding; it is then written out and dropped from the active set, so rows with
    # small z (a few steps) do not wait for those near z = 0.99 (~90 steps).
    S_out = np.empty(n)
    g_out = np.empty((3, n)) if grad else None
    rows = np.arange(n)
    for j in range(1, _CF_MAX_STEPS):
        small = np.ones(rows.size, dtype=bool)
        zeros = np.zeros(rows.size)
        for odd in (False, True):
            if odd:
                den = (p + 2.0 * j) * (p + 2.0 * j + 1.0)
                coef = -(p + j) * (pq + j) / den
                if grad:
                    dcoef = np.stack([
                        coef * (1.0 / (p + j) + 1.0 / (pq + j) - 1.0 / (p + 2.0 * j)
                                - 1.0 / (p + 2.0 * j + 1.0)),
                        coef / (pq + j),
                        zeros,
                    ])
            else:
                den = (p + 2.0 * j - 1.0) * (p + 2.0 * j)
                coef = j * (q - j) / den
                if grad:
                    dcoef = np.stack([
                        -coef * (1.0 / (p + 2.0 * j - 1.0) + 1.0 / (p + 2.0 * j)),
                        j / den,
                        zeros,
                    ])
            aa = coef * z
            with np.errstate(divide="ignore"):  # a zero denominator is replaced as in Lentz
                d_new = 1.0 / (1.0 + aa * d)
            d_new = np.where(np.isfinite(d_new), d_new, 1.0 / _TINY)
            c_new = 1.0 + aa / c
            c_new = np.where(np.abs(c_new) < _TINY, _TINY, c_new)
            step = d_new * c_new
            S *= step
            if grad:
                daa = dcoef * z
                daa[2] = coef
                dd = -d_new * d_new * (daa * d + aa * dd)
                dc = daa / c - aa * dc / (c * c)
                g_step = dd / d_new + dc / c_new
                g = g + g_step
                small &= np.all(np.abs(g_step) <= 1e-15 * (1.0 + np.abs(g)), axis=0)
            d, c = d_new, c_new
            small &= np.abs(step - 1.0) <= 4e-16
        if np.any(small):
            S_out[rows[small]] = S[small]
            if grad:
                g_out[:, rows[small]] = g[:, small]
            keep = ~small
            rows = rows[keep]
            if rows.size == 0:
                break
            p, q, pq, z, d, c, S = (v[keep] for v in (p, q, pq, z, d, c, S))
            if grad:
                dd, dc, g = dd[:, keep], dc[:, keep], g[:, keep]
    if rows.size:  # not converged within _CF_MAX_STEPS (never seen for z <= 0.99)
        S_out[rows] = S
        if grad:
            g_out[:, rows] = g
    if not grad:
        return np.log(S_out), None
    # p = a + b - 1, q = 1 - b:  d/da = d/dp,  d/db = d/dp - d/dq
    return np.log(S_out), np.stack([g_out[0], g_out[0] - g_out[1], g_out[2]])


def _assemble_log_J(a, b, A, B, log_S, dS, grad):
    """``log J = -a log A + (1-b) log B + log S - log(a+b-1)`` and its partial derivatives.

    ``A``, ``B`` are the larger and smaller base at ``t``, ``z = 1 - B/A``.
    Derivatives (with ``t`` fixed) with respect to ``(a, b, big, small)``.
    """
    m = a + b - 1.0
    log_J = -a * np.log(A) + (1.0 - b) * np.log(B) + log_S - np.log(m)
    if not grad:
        return log_J, None
    d_a = -np.log(A) + dS[0] - 1.0 / m
    d_b = -np.log(B) + dS[1] - 1.0 / m
    # z = 1 - B/A: dz/d(big) = B/A^2, dz/d(small) = -1/A
    d_big = -a / A + dS[2] * B / (A * A)
    d_small = (1.0 - b) / B - dS[2] / A
    return log_J, np.stack([d_a, d_b, d_big, d_small])


def _bisect(fun, lo, hi, n_steps=_N_BISECT):
    """Vectorised bisection for the point where ``fun`` changes from > 0 (left) to <= 0."""
    a, b = lo.copy(), hi.copy()
    for _ in range(n_steps):
        mid = 0.5 * (a + b)
        positive = fun(mid) > 0
        a = np.where(positive, mid, a)
        b = np.where(positive, b, mid)
    return 0.5 * (a + b)


def log_concave_nodes(log_f, dlog_f, lo, hi):
    """Gauss-Legendre nodes and log-weights for ``int_lo^hi exp(log_f(u)) du``, ``log_f`` concave.

    ``log_f`` and ``dlog_f`` map arrays of shape ``(n, k)`` (one row per
    integral) to arrays of the same shape. The peak is found by bisection on
    ``dlog_f``. On each side of it, the points where ``log_f`` has dropped by
    :data:`_DROP_LEVELS` (the last, :data:`_WINDOW` = 50, bounds the region
    holding all the mass to ``e^-50``) and points at geometric fractions
    :data:`_GEOMETRIC_EDGES` of that window cut it into 7 panels, each with a
    20-point Gauss-Legendre rule. The drop levels resolve where the integrand
    changes (a cliff far from the peak, as in DERT's ``exp(-z e^w)``); the
    geometric edges resolve the peak itself when the integrand is flat.

    Returns ``(u, log_w)`` of shape ``(n, 2 * 7 * 20)``.
    """
    col = lambda v: v[:, None]  # noqa: E731
    df = lambda v: dlog_f(col(v))[:, 0]  # noqa: E731
    mode = _bisect(df, lo, hi)
    mode = np.where(df(lo) <= 0, lo, np.where(df(hi) >= 0, hi, mode))
    targets = log_f(col(mode)) - _DROP_LEVELS  # (n, levels)
    shape = targets.shape
    nodes, weights = [], []
    for end in (lo, hi):
        # log_f decreases from the peak towards `end`: bisect for each drop level at once
        near = np.broadcast_to(col(mode), shape).copy()
        far = np.broadcast_to(col(end), shape).copy()
        reached = log_f(col(end)) < targets
        for _ in range(_N_BISECT_LEVELS):
            mid = 0.5 * (near + far)
            above = log_f(mid) > targets
            near = np.where(above, mid, near)
            far = np.where(above, far, mid)
        levels = np.where(reached, 0.5 * (near + far), col(end))
        window = levels[:, -1:]
        geometric = col(mode) + (window - col(mode)) * _GEOMETRIC_EDGES
        edges = np.sort(np.concatenate([col(mode), levels, geometric], axis=1), axis=1)
        half = 0.5 * np.diff(edges, axis=1)  # (n, panels), >= 0
        centre = edges[:, :-1] + half
        nodes.append((centre[:, :, None] + half[:, :, None] * _GL_X).reshape(len(mode), -1))
        weights.append((half[:, :, None] * _GL_W).reshape(len(mode), -1))
    u = np.concatenate(nodes, axis=1)
    w = np.concatenate(weights, axis=1)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)  # -inf for empty panels (peak at an end): contributes 0
    return u, log_w


def log_tail_integral(alpha, beta, e_alpha, e_beta, t, grad=False):
    """``log J`` with ``J = int_t^inf (alpha+tau)^-e_alpha (beta+tau)^-e_beta dtau``.

    ``e_alpha``, ``e_beta``, ``t`` 1-D arrays with ``e_alpha + e_beta > 1``;
    ``alpha``, ``beta`` scalars or one value per row (the covariate models give
    each customer their own). ``z = |alpha - beta| / (max(alpha, beta) + t)``
    chooses, row by row, the power series (``z <= _Z_CF``), the continued
    fraction (up to ``_Z_QUAD``) or quadrature from ``t`` to where ``z = _Z_CF``
    plus the series. With ``grad`` also returns an array ``(4, n)`` of the
    partial derivatives of ``log J`` with respect to ``(e_alpha, e_beta, alpha, beta)``.
    """
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), t.shape)
    beta = np.broadcast_to(np.asarray(beta, dtype=float), t.shape)
    swap = alpha < beta
    big = np.where(swap, beta, alpha)
    small = np.where(swap, alpha, beta)
    e_big = np.where(swap, e_beta, e_alpha)
    e_small = np.where(swap, e_alpha, e_beta)
    gap = big - small
    spread = gap > 0
    safe_gap = np.where(spread, gap, 1.0)
    t_cf = np.where(spread, safe_gap / _Z_CF - big, -np.inf)
    t_split = np.where(spread, safe_gap / _Z_QUAD - big, -np.inf)
    use_cf = (t < t_cf) & (t >= t_split)
    quad = t < t_split
    n = t.shape[0]
    log_J = np.empty(n)
    d = np.empty((4, n)) if grad else None
    for rows, cf in ((~use_cf, False), (use_cf, True)):
        if not np.any(rows):
            continue
        t_here = t[rows] if cf else np.maximum(t[rows], t_cf[rows])
        A, B = big[rows] + t_here, small[rows] + t_here
        ea, eb = e_big[rows], e_small[rows]
        log_S, dS = (_cf_log_S if cf else _series_log_S)(ea, eb, (A - B) / A, grad)
        log_J[rows], d_rows = _assemble_log_J(ea, eb, A, B, log_S, dS, grad)
        if grad:
            d[:, rows] = d_rows
    if np.any(quad):
        qa = e_big[quad][:, None]
        qb = e_small[quad][:, None]
        g = gap[quad]
        log_gap = np.log(g)[:, None]
        lo = np.log(small[quad] + t[quad])
        hi = np.log(g / _Z_CF - g)

        def log_f(u):
            return (1.0 - qb) * u - qa * np.logaddexp(log_gap, u)

        def dlog_f(u):
            return (1.0 - qb) - qa / (1.0 + np.exp(log_gap - u))

        u, log_w = log_concave_nodes(log_f, dlog_f, lo, hi)
        log_terms = log_f(u) + log_w
        log_tail = log_J[quad]
        top = np.maximum(log_terms.max(axis=1), log_tail)
        w_nodes = np.exp(log_terms - top[:, None])
        w_tail = np.exp(log_tail - top)
        total = w_nodes.sum(axis=1) + w_tail
        log_J[quad] = top + np.log(total)
        if grad:
            log_big = np.logaddexp(log_gap, u)
            g_nodes = np.stack([
                -(w_nodes * log_big).sum(axis=1),
                -(w_nodes * u).sum(axis=1),
                -(w_nodes * qa * np.exp(-log_big)).sum(axis=1),
                -(w_nodes * qb * np.exp(-u)).sum(axis=1),
            ])
            d[:, quad] = (g_nodes + w_tail * d[:, quad]) / total
    if not grad:
        return log_J, None
    return log_J, np.stack([
        np.where(swap, d[1], d[0]),
        np.where(swap, d[0], d[1]),
        np.where(swap, d[3], d[2]),
        np.where(swap, d[2], d[3]),
    ])


class _Prepared(NamedTuple):
    """Flat customer data with the distinct ``(x, t_x)`` and ``(x, T)`` pairs.

    ``J(r+x, s+1; t_x)`` depends on ``(x, t_x)`` only and ``J(r+x+1, s; T)`` on
    ``(x, T)`` only; real summaries have far fewer distinct pairs than rows
    (CDNOW-like data: 31k rows, 6k and 1.2k pairs), so the integrals are
    evaluated once per pair and gathered.
    """

    x: np.ndarray
    g_x: np.ndarray  # distinct (x, t_x) pairs
    g_t: np.ndarray
    g_index: np.ndarray  # row -> pair
    h_x: np.ndarray  # distinct (x, T) pairs
    h_t: np.ndarray
    h_index: np.ndarray


def _prepare(x, tx, T) -> _Prepared:
    """Index the distinct pairs of flat float arrays (hash-based, order of first appearance)."""
    g_index, g_keys = pd.factorize(x + 1j * tx)
    h_index, h_keys = pd.factorize(x + 1j * T)
    g_keys = np.asarray(g_keys, dtype=complex)
    h_keys = np.asarray(h_keys, dtype=complex)
    return _Prepared(x, g_keys.real.copy(), g_keys.imag.copy(), g_index,
                     h_keys.real.copy(), h_keys.imag.copy(), h_index)


def _likelihood_parts(r, alpha, s, beta, prep: _Prepared, grad=False):
    """The two terms of the likelihood, per distinct pair.

    Returns ``log_G = log(s J(r+x, s+1; t_x))`` per ``(x, t_x)`` pair,
    ``log_H = log((r+x) J(r+x+1, s; T))`` per ``(x, T)`` pair and, with
    ``grad``, the partial derivatives of the two ``log J`` (rows: exponent of
    ``alpha+tau``, exponent of ``beta+tau``, ``alpha``, ``beta``).
    """
    g_rx = r + prep.g_x
    h_rx = r + prep.h_x
    log_JG, dG = log_tail_integral(alpha, beta, g_rx, np.full_like(g_rx, s + 1.0), prep.g_t, grad)
    log_JH, dH = log_tail_integral(alpha, beta, h_rx + 1.0, np.full_like(h_rx, s), prep.h_t, grad)
    return np.log(s) + log_JG, np.log(h_rx) + log_JH, dG, dH


def _log_lik_rows(r, alpha, s, beta, prep: _Prepared):
    """Per-row log-likelihood."""
    log_G, log_H, _, _ = _likelihood_parts(r, alpha, s, beta, prep)
    rx = r + prep.x
    log_C = gammaln(rx) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return log_C + np.logaddexp(log_G[prep.g_index], log_H[prep.h_index])


def _log_lik_and_grad_total(r, alpha, s, beta, prep: _Prepared, weights):
    """Weighted total log-likelihood and gradient (w.r.t. r, alpha, s, beta).

    Per-row weights of the two terms are summed onto the distinct pairs with
    ``bincount`` before meeting the pair-level derivatives, so rows cost a few
    vector operations each.
    """
    log_G, log_H, dG, dH = _likelihood_parts(r, alpha, s, beta, prep, grad=True)
    # every row's x is its (x, T) pair's x: per-x terms are computed per pair
    h_rx = r + prep.h_x
    h_log_C = gammaln(h_rx) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    lg = log_G[prep.g_index]
    lh = log_H[prep.h_index]
    log_Q = np.logaddexp(lg, lh)
    w = np.ones(log_Q.shape) if weights is None else weights
    total = float(w @ log_Q) + float(np.bincount(prep.h_index, w, len(h_rx)) @ h_log_C)
    # w_G = G/(G+H), w_H = H/(G+H) per row, times the row weight, summed per pair
    wG = np.bincount(prep.g_index, w * np.exp(lg - log_Q), len(log_G))
    wH = np.bincount(prep.h_index, w * np.exp(lh - log_Q), len(log_H))
    wh_rows = np.bincount(prep.h_index, w, len(h_rx))
    n = float(w.sum())
    # dG, dH rows: d log J / d(e_alpha, e_beta, alpha, beta); e_alpha moves with r, e_beta with s
    d_r = (wh_rows @ (digamma(h_rx) - digamma(r)) + n * np.log(alpha)
           + wG @ dG[0] + wH @ (1.0 / h_rx + dH[0]))
    d_s = n * np.log(beta) + wG @ (1.0 / s + dG[1]) + wH @ dH[1]
    d_alpha = n * r / alpha + wG @ dG[2] + wH @ dH[2]
    d_beta = n * s / beta + wG @ dG[3] + wH @ dH[3]
    return total, np.array([d_r, d_alpha, d_s, d_beta])


# ---------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------
def log_likelihood_rows(params, frequency, recency, T) -> np.ndarray:
    """Log-likelihood of each customer's ``(x, t_x, T)`` under the Pareto/NBD model.

    Fader & Hardie (2005, note 009, eq. 22; the form without subtraction)::

        L = Gamma(r+x) alpha^r beta^s / Gamma(r)
            * [ s J(r+x, s+1; t_x) + (r+x) J(r+x+1, s; T) ]
        J(a, b; t) = int_t^inf (alpha+tau)^-a (beta+tau)^-b dtau

    which equals Schmittlein et al. (1987) eq. (11) / note 009 eq. (18)
    ``C [(alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A_0]``. ``J`` is a Gaussian
    hypergeometric function evaluated stably (see the module docstring), so
    the result is accurate to ~1e-14 relative for any ``x``, ``T``, for
    ``alpha == beta`` and ``s = 1``.

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping with those keys
        Model parameters, all > 0.
    frequency : array_like
        Number of repeat purchases ``x`` (>= 0).
    recency : array_like
        Time of the last repeat purchase ``t_x`` (0 when ``x = 0``), ``<= T``.
    T : array_like
        Time since the first purchase (end of calibration minus first purchase).

    Returns
    -------
    ndarray
        One log-likelihood per customer (broadcast shape of the inputs).

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)  # CDNOW, Fader, Hardie & Lee (2005)
    >>> log_likelihood_rows(params, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(4)
    array([-0.521 , -9.5543])
    """
    r, alpha, s, beta = _unpack_params(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    prep = _prepare(x.ravel(), tx.ravel(), T.ravel())
    return _log_lik_rows(r, alpha, s, beta, prep).reshape(x.shape)


def log_likelihood(params, frequency, recency, T, weights=None) -> float:
    """Total Pareto/NBD log-likelihood ``sum_i w_i log L(r, alpha, s, beta | x_i, t_x,i, T_i)``.

    See :func:`log_likelihood_rows` for the formula.

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping with those keys
    frequency, recency, T : array_like
        Customer summary columns.
    weights : array_like, optional
        Number of customers sharing each row (default 1 each).

    Returns
    -------
    float

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)
    >>> round(log_likelihood(params, [0, 2], [0.0, 30.43], [38.86, 38.86], weights=[3, 1]), 4)
    -11.1174
    """
    ll = log_likelihood_rows(params, frequency, recency, T)
    w = weights_array(weights, ll.shape)
    return float(np.sum(ll) if w is None else np.sum(w * ll))


def _loglik_and_gradient(params, *data_and_weights):
    """Weighted total log-likelihood and gradient without argument checks (used by fit).

    Called as ``_loglik_and_gradient(params, x, tx, T, weights)`` or, inside a
    fit, with the prepared data ``(params, _Prepared, weights)``: the optimiser
    evaluates the likelihood ~100 times on the same compressed rows, so the
    index of distinct ``(x, t_x)`` and ``(x, T)`` pairs is built once
    (:meth:`ParetoNBD._prepare_data`).
    """
    *data, weights = data_and_weights
    prep = data[0] if len(data) == 1 and isinstance(data[0], _Prepared) else _prepare(
        *(np.asarray(v, dtype=float) for v in data))
    r, alpha, s, beta = (float(v) for v in params)
    w = None if weights is None else np.asarray(weights, dtype=float)
    return _log_lik_and_grad_total(r, alpha, s, beta, prep, w)


def gradient(params, frequency, recency, T, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` with respect to ``(r, alpha, s, beta)``.

    With ``G = s J(r+x, s+1; t_x)``, ``H = (r+x) J(r+x+1, s; T)`` and
    ``w_G = G/(G+H)``, ``w_H = H/(G+H)``::

        d/dr     = psi(r+x) - psi(r) + log alpha + w_G dlogJ_G/da + w_H (1/(r+x) + dlogJ_H/da)
        d/ds     = log beta + w_G (1/s + dlogJ_G/db) + w_H dlogJ_H/db
        d/dalpha = r/alpha + w_G dlogJ_G/dalpha + w_H dlogJ_H/dalpha
        d/dbeta  = s/beta + w_G dlogJ_G/dbeta + w_H dlogJ_H/dbeta

    where ``a``, ``b`` are the exponents of ``alpha+tau`` and ``beta+tau`` in ``J``.
    The derivatives of ``log J`` with respect to its exponents (the parameters
    of the hypergeometric function) come from differentiating its series term
    by term (``d/da log (a)_k = psi(a+k) - psi(a)``, kept as running sums), or,
    where ``J`` is partly a quadrature, from the same nodes weighted by
    ``-log(alpha+tau)``, ``-log(beta+tau)``; those with respect to ``alpha`` and
    ``beta`` by the chain rule through the series' argument ``z``.

    Returns
    -------
    ndarray of shape (4,)

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)
    >>> gradient(params, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(4)
    array([ 0.0688,  0.0263, -0.88  ,  0.024 ])
    """
    r, alpha, s, beta = _unpack_params(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    w = weights_array(weights, x.shape)
    prep = _prepare(x.ravel(), tx.ravel(), T.ravel())
    return _log_lik_and_grad_total(r, alpha, s, beta, prep, None if w is None else w.ravel())[1]


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
def _log_probability_alive_flat(r, alpha, s, beta, x, tx, T):
    prep = _prepare(x, tx, T)
    log_G, log_H, _, _ = _likelihood_parts(r, alpha, s, beta, prep)
    log_G, log_H = log_G[prep.g_index], log_H[prep.h_index]
    log_alive_term = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    return np.minimum(log_alive_term - np.logaddexp(log_G, log_H), 0.0)


def probability_alive(params, frequency, recency, T) -> np.ndarray:
    """Probability that a customer with history ``(x, t_x, T)`` is still alive at ``T``.

    Fader & Hardie (2005, note 009, eq. 36)::

        P(alive | x, t_x, T) = (alpha+T)^-(r+x) (beta+T)^-s
                               / [ s J(r+x, s+1; t_x) + (r+x) J(r+x+1, s; T) ]

    (the numerator is the likelihood's "still alive" term divided by
    ``Gamma(r+x) alpha^r beta^s / Gamma(r)``), evaluated in log space.

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping
    frequency, recency, T : array_like

    Returns
    -------
    ndarray
        Probabilities in [0, 1].

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)
    >>> probability_alive(params, [0, 2, 2], [0.0, 30.43, 5.0], 38.86).round(4)
    array([0.2953, 0.8692, 0.1302])
    """
    r, alpha, s, beta = _unpack_params(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    log_p = _log_probability_alive_flat(r, alpha, s, beta, x.ravel(), tx.ravel(), T.ravel())
    return np.exp(log_p).reshape(x.shape)


def _log_exprel(y):
    """``log((e^y - 1) / y)`` for any real ``y`` without overflow (0 at ``y = 0``)."""
    y = np.asarray(y, dtype=float)
    out = np.empty(y.shape)
    mid = np.abs(y) <= 50.0
    out[mid] = np.log(exprel(y[mid]))
    hi = y > 50.0
    out[hi] = y[hi] - np.log(y[hi]) + np.log(-np.expm1(-y[hi]))
    lo = y < -50.0
    out[lo] = np.log(-np.expm1(y[lo])) - np.log(-y[lo])
    return out


def log_mean_lifetime_window(s, b, t):
    """``log E[(1 - e^-mu t) / mu]`` for ``mu ~ Gamma(s, b)`` and ``t > 0``.

    ``= log int_0^t (b/(b+u))^s du = log( b w exprel((1-s) w) )`` with
    ``w = log1p(t/b)``, which is ``b/(s-1) (1 - (b/(b+t))^(s-1))`` for ``s != 1``
    and ``b log(1 + t/b)`` at ``s = 1`` (no division by ``s - 1``).
    """
    w = np.log1p(t / b)
    return np.log(b) + np.log(w) + _log_exprel((1.0 - s) * w)


def expected_purchases_new_customer(params, t) -> np.ndarray:
    """Expected number of repeat purchases in ``(0, t]`` of a customer just acquired.

    Schmittlein et al. (1987) eq. (17); Fader & Hardie (2005, note 009, eq. 27)::

        E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]

    computed as ``(r/alpha) beta w exprel((1-s) w)``, ``w = log(1+t/beta)``, which
    is exact at ``s = 1`` (``(r/alpha) beta log(1 + t/beta)``).

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping
    t : array_like
        Lengths of time (>= 0).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> expected_purchases_new_customer((0.553, 10.578, 0.606, 11.669), [39.0, 78.0]).round(4)
    array([1.213 , 1.9094])
    """
    r, alpha, s, beta = _unpack_params(params)
    t = _check_time(t)
    out = np.zeros(t.shape)
    pos = t > 0
    out[pos] = r / alpha * np.exp(log_mean_lifetime_window(s, beta, t[pos]))
    return out


def expected_purchases(params, frequency, recency, T, t) -> np.ndarray:
    """Expected repeat purchases in ``(T, T+t]`` given a customer's history ``(x, t_x, T)``.

    Fader & Hardie (2005, note 009, eq. 41); Schmittlein et al. (1987) eq. (22)::

        E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) * (r+x)/(alpha+T)
                              * (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)]

    the posterior mean purchase rate times the expected time alive in the
    next ``t`` (the last factor written as ``(beta+T) w exprel((1-s) w)``,
    ``w = log(1 + t/(beta+T))``, exact at ``s = 1``).

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping
    frequency, recency, T : array_like
        Customer summary.
    t : float or array_like
        Length of the prediction window (broadcast against the customers).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)
    >>> expected_purchases(params, [0, 2], [0.0, 30.43], 38.86, t=39.0).round(4)
    array([0.1071, 1.4551])
    """
    r, alpha, s, beta = _unpack_params(params)
    t = _check_time(t)
    x, tx, T, t = np.broadcast_arrays(*customer_arrays(frequency, recency, T), t)
    shape = x.shape
    x, tx, T, t = (v.ravel() for v in (x, tx, T, t))
    out = np.zeros(x.shape)
    pos = t > 0
    if np.any(pos):
        x, tx, T, t = x[pos], tx[pos], T[pos], t[pos]
        log_alive = _log_probability_alive_flat(r, alpha, s, beta, x, tx, T)
        log_rate = np.log(r + x) - np.log(alpha + T)
        out[pos] = np.exp(log_alive + log_rate + log_mean_lifetime_window(s, beta + T, t))
    return out.reshape(shape)


def probability_of_purchases(params, n, t) -> np.ndarray:
    """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

    Fader & Hardie (2005, note 009, section 4; Schmittlein et al. 1987): alive
    at ``t`` and ``n`` Poisson events, or dead at ``tau < t`` after ``n`` events::

        P(X(t) = n) = NB(n; r, alpha/(alpha+t)) (beta/(beta+t))^s
                      + Gamma(r+n)/(Gamma(r) n!) alpha^r s beta^s
                        * int_0^t tau^n (alpha+tau)^-(r+n) (beta+tau)^-(s+1) dtau

    with ``NB(n; r, p) = Gamma(r+n)/(Gamma(r) n!) p^r (1-p)^n``. The integral
    (which note 009 expands into hypergeometric functions and an alternating
    finite sum) is computed by Gauss-Legendre quadrature in ``u = log tau``,
    where the integrand is log-concave, after locating its peak: no
    cancellation for large ``n``.

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping
    n : array_like of int
        Numbers of repeat purchases (>= 0).
    t : array_like
        Lengths of time (>= 0), broadcast against ``n``.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> probability_of_purchases((0.553, 10.578, 0.606, 11.669), [0, 1, 2], 39.0).round(4)
    array([0.5936, 0.1656, 0.0825])
    """
    r, alpha, s, beta = _unpack_params(params)
    n = finite_array(n, "n")
    if np.any(n < 0) or np.any(n != np.round(n)):
        raise InvalidParameterError("n must hold whole numbers >= 0 (counts of purchases).")
    n, t = np.broadcast_arrays(n, _check_time(t))
    shape = n.shape
    n, t = n.ravel(), t.ravel()
    out = np.zeros(n.shape)
    out[(t == 0) & (n == 0)] = 1.0
    pos = t > 0
    if not np.any(pos):
        return out.reshape(shape)
    n, t = n[pos], t[pos]
    log_coef = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0)
    log_alive = (log_coef + r * np.log(alpha / (alpha + t)) + n * np.log(t / (alpha + t))
                 + s * np.log(beta / (beta + t)))
    nn, rn = n[:, None], (r + n)[:, None]

    def log_f(u):  # log of tau^(n+1) (alpha+tau)^-(r+n) (beta+tau)^-(s+1) at tau = e^u
        return ((nn + 1.0) * u - rn * np.logaddexp(np.log(alpha), u)
                - (s + 1.0) * np.logaddexp(np.log(beta), u))

    def dlog_f(u):
        return (nn + 1.0) - rn / (1.0 + alpha * np.exp(-u)) - (s + 1.0) / (1.0 + beta * np.exp(-u))

    hi = np.log(t)
    # below u_c the slope of log_f is >= (n+1)/2, so lo is at least _WINDOW + 5 below the peak
    u_c = np.log(min(alpha, beta) * (n + 1.0) / (2.0 * (r + n + s + 1.0)))
    lo = np.minimum(u_c, hi) - 2.0 * (_WINDOW + 5.0) / (n + 1.0)
    u, log_w = log_concave_nodes(log_f, dlog_f, lo, hi)
    log_terms = log_f(u) + log_w
    top = log_terms.max(axis=1)
    log_integral = top + np.log(np.exp(log_terms - top[:, None]).sum(axis=1))
    log_dead = log_coef + r * np.log(alpha) + np.log(s) + s * np.log(beta) + log_integral
    out[pos] = np.exp(np.logaddexp(log_alive, log_dead))
    return out.reshape(shape)


def log_discounted_lifetime(s, b, discount_rate):
    """``log E[1 / (mu + delta)]`` for ``mu ~ Gamma(s, b)``, ``delta > 0``.

    ``E[1/(mu+delta)] = int_0^inf e^-delta y (b/(b+y))^s dy = b U(1, 2-s, delta b)
    = b (delta b)^(s-1) U(s, s, delta b)`` (Tricomi's confluent hypergeometric
    function, Kummer's transformation). With ``v = e^w - 1 = y/b`` the integral is
    ``b int_0^inf exp((1-s) w - delta b (e^w - 1)) dw``, a log-concave integrand
    handled by :func:`log_concave_nodes`.
    """
    z = discount_rate * b
    one_minus_s = 1.0 - s
    zc = z[:, None]

    def log_f(w):
        return one_minus_s * w - zc * np.expm1(w)

    def dlog_f(w):
        return one_minus_s - zc * np.exp(w)

    mode = np.where(one_minus_s > z, np.log(np.maximum(one_minus_s, 1e-300) / z), 0.0)
    peak = log_f(mode[:, None])[:, 0]
    lo = np.zeros(z.shape)
    hi = mode + 1.0
    for _ in range(64):  # doubling: z e^w grows doubly exponentially, so few rounds are needed
        short = log_f(hi[:, None])[:, 0] > peak - _WINDOW - 5.0
        if not np.any(short):
            break
        hi = np.where(short, 2.0 * hi + 1.0, hi)
    u, log_w = log_concave_nodes(log_f, dlog_f, lo, hi)
    log_terms = log_f(u) + log_w
    top = log_terms.max(axis=1)
    return np.log(b) + top + np.log(np.exp(log_terms - top[:, None]).sum(axis=1))


def expected_residual_transactions(params, frequency, recency, T, discount_rate) -> np.ndarray:
    """Discounted expected residual transactions (DERT) of customers with history ``(x, t_x, T)``.

    Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for
    customer base analysis", Journal of Marketing Research 42(4), eq. (2): with
    continuous discount rate ``delta`` (per time unit),

        DERT = int_T^inf E[purchase rate at tau] e^-delta (tau - T) dtau
             = alpha^r beta^s delta^(s-1) Gamma(r+x+1) U(s, s; delta (beta+T))
               / (Gamma(r) (alpha+T)^(r+x+1) L(r, alpha, s, beta | x, t_x, T))

    where ``U`` is Tricomi's confluent hypergeometric function. Equivalently
    ``P(alive) (r+x)/(alpha+T) E[1/(mu+delta)]`` with the posterior
    ``mu ~ Gamma(s, beta+T)``; the last factor is
    ``(beta+T) int_0^inf exp((1-s) w - delta (beta+T)(e^w - 1)) dw``,
    computed by quadrature of that log-concave integrand (stable for any
    ``s``, including ``s = 1`` and large ``delta (beta+T)`` where
    :func:`scipy.special.hyperu` loses accuracy).

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping
    frequency, recency, T : array_like
        Customer summary.
    discount_rate : float
        Continuously compounded discount rate per time unit (> 0), e.g. an
        annual rate of 15% with weekly data is ``log(1.15) / 52``.

    Returns
    -------
    ndarray
        Expected number of future transactions, discounted to ``T``.

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)
    >>> delta = np.log(1.15) / 52  # 15% a year, weekly data
    >>> expected_residual_transactions(params, [0, 2], [0.0, 30.43], 38.86, delta).round(4)
    array([0.4785, 6.5017])
    """
    r, alpha, s, beta = _unpack_params(params)
    delta = float(discount_rate)
    if not (np.isfinite(delta) and delta > 0):
        raise InvalidParameterError(
            f"discount_rate must be a finite number > 0 (continuous rate per time unit), got "
            f"{discount_rate!r}; without discounting the expected number of residual "
            "transactions is infinite when s <= 1."
        )
    x, tx, T = customer_arrays(frequency, recency, T)
    shape = x.shape
    x, tx, T = x.ravel(), tx.ravel(), T.ravel()
    log_alive = _log_probability_alive_flat(r, alpha, s, beta, x, tx, T)
    log_rate = np.log(r + x) - np.log(alpha + T)
    # the discounted-lifetime factor depends on T only: one quadrature per distinct T
    T_values, T_index = np.unique(T, return_inverse=True)
    log_life = log_discounted_lifetime(s, beta + T_values, delta)[T_index.reshape(-1)]
    return np.exp(log_alive + log_rate + log_life).reshape(shape)


# ---------------------------------------------------------------------------
# estimator
# ---------------------------------------------------------------------------
_QUAD_BLOCK = 20_000  # rows per block of the Pareto/NBD quadrature (x 280 nodes)


def log_pmf_new_customer_rows(r, alpha, s, beta, n, t):
    """``log P(X(t) = n)`` of a new Pareto/NBD customer, per row (note 009, section 4); ``t > 0``.

    ``r``, ``alpha``, ``beta``, ``n``, ``t`` arrays of one shape, ``s`` a float.
    """
    log_coef = log_gamma_ratio(r, n) - gammaln(n + 1.0)
    la, lb, lt = np.log(alpha), np.log(beta), np.log(t)
    log_alive = (
        log_coef - r * np.log1p(t / alpha) + n * (lt - np.logaddexp(la, lt))
        - s * np.log1p(t / beta)
    )
    log_dead = np.empty(n.shape)
    for start in range(0, n.size, _QUAD_BLOCK):
        sl = slice(start, start + _QUAD_BLOCK)
        rr, nn = r[sl, None], n[sl, None]
        la_, lb_ = la[sl, None], lb[sl, None]

        # u = log tau: log of tau (alpha/(alpha+tau))^r (tau/(alpha+tau))^n
        #                        (beta/(beta+tau))^s / (beta+tau)
        def log_f(u, rr=rr, nn=nn, la_=la_, lb_=lb_):
            log_ap = np.logaddexp(la_, u)
            log_bp = np.logaddexp(lb_, u)
            return (u + rr * (la_ - log_ap) + nn * (u - log_ap) + s * (lb_ - log_bp)
                    - log_bp)

        def dlog_f(u, rr=rr, nn=nn, la_=la_, lb_=lb_):
            return ((nn + 1.0) - (rr + nn) / (1.0 + np.exp(la_ - u))
                    - (s + 1.0) / (1.0 + np.exp(lb_ - u)))

        hi = lt[sl]
        n_b = n[sl]
        # below u_c the slope of log_f is >= (n + 1)/2: lo is >= 55 below the peak
        u_c = np.log(np.minimum(alpha[sl], beta[sl]) * (n_b + 1.0)
                     / (2.0 * (r[sl] + n_b + s + 1.0)))
        lo = np.minimum(u_c, hi) - 2.0 * (_WINDOW + 5.0) / (n_b + 1.0)
        u, log_w = log_concave_nodes(log_f, dlog_f, lo, hi)
        log_terms = log_f(u) + log_w
        top = log_terms.max(axis=1)
        log_dead[sl] = top + np.log(np.exp(log_terms - top[:, None]).sum(axis=1))
    log_dead += log_coef + np.log(s)
    return np.logaddexp(log_alive, log_dead)


def _log_alive_dead(r, alpha, s, beta, x, tx, T):
    """``log P(alive | data)`` and ``log P(dead | data)`` for flat arrays.

    With ``G = s J(r+x, s+1; t_x)``, ``H = (r+x) J(r+x+1, s; T)`` (so that the
    likelihood is ``C (G + H)``, note 009 eq. 22), the alive term
    ``A = (alpha+T)^-(r+x) (beta+T)^-s`` and the dead term
    ``D = s [J(r+x, s+1; t_x) - J(r+x, s+1; T)] = s int_{t_x}^T (alpha+tau)^-(r+x)
    (beta+tau)^-(s+1) dtau``: ``P(alive) = A / (G + H)``, ``P(dead) = D / (G + H)``.
    """
    prep = _prepare(x, tx, T)
    log_G, log_H, _, _ = _likelihood_parts(r, alpha, s, beta, prep)
    log_G, log_H = log_G[prep.g_index], log_H[prep.h_index]
    log_total = np.logaddexp(log_G, log_H)
    log_A = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_alive = np.minimum(log_A - log_total, 0.0)
    # J(r+x, s+1; T) on the distinct (x, T) pairs
    log_JT = log_tail_integral(
        alpha, beta, r + prep.h_x, np.full(prep.h_x.shape, s + 1.0), prep.h_t
    )[0][prep.h_index]
    log_Jtx = log_G - np.log(s)
    log_dead = log_G + log1mexp(np.minimum(log_JT - log_Jtx, 0.0)) - log_total
    return log_alive, log_dead


def log_conditional_pmf(params, n, frequency, recency, T, t) -> np.ndarray:
    """``log P(X(T, T+t) = n | x, t_x, T)`` under the Pareto/NBD model (1-D quadrature).

    Fader & Hardie, "Deriving the conditional PMF of the Pareto/NBD model";
    here in the equivalent form::

        P(X(T, T+t) = n | x, t_x, T)
            = [n = 0] (1 - P(alive)) + P(alive) P_PNBD(n; r + x, alpha + T, s, beta + T; t)

    with ``P(alive)`` of note 009, eq. 36 and the new-customer PMF (note 009,
    section 4)::

        P_PNBD(n; r, alpha, s, beta; t)
            = Gamma(r+n)/(Gamma(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n (beta/(beta+t))^s
              + Gamma(r+n)/(Gamma(r) n!) s int_0^t (alpha/(alpha+tau))^r (tau/(alpha+tau))^n
                                                   (beta/(beta+tau))^s / (beta+tau) dtau

    The integral (dying inside the window after ``n`` purchases) is a
    Gauss-Legendre quadrature in ``u = log tau`` around the peak of the
    log-concave integrand (:func:`clvmodels.models.log_concave_nodes`,
    7 panels x 20 nodes per side); ``1 - P(alive)`` is ``s int_{t_x}^T
    (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau`` over the likelihood (a
    difference of two tail integrals ``J``, taken in log space).

    Parameters
    ----------
    params : sequence (r, alpha, s, beta) or mapping
    n : array_like of int
    frequency, recency, T : array_like
    t : float or array_like

    Returns
    -------
    ndarray of log-probabilities

    Examples
    --------
    >>> params = (0.553, 10.578, 0.606, 11.669)
    >>> lp = log_conditional_pmf(params, np.arange(300), 2, 30.43, 38.86, 39.0)
    >>> float(np.round(np.exp(lp).sum(), 10))
    1.0
    """
    r, alpha, s, beta = _unpack_params(params)
    shape, n, x, tx, T, t = counts_and_horizon(n, frequency, recency, T, t,
                                                customer_arrays)
    log_alive, log_dead = _log_alive_dead(r, alpha, s, beta, x, tx, T)
    log_new = np.zeros(n.shape)
    pos = t > 0
    log_new[~pos & (n > 0)] = -np.inf
    if np.any(pos):
        (ux, uT, un, ut), inv = unique_rows(x[pos], T[pos], n[pos], t[pos])
        vals = log_pmf_new_customer_rows(r + ux, alpha + uT, s, beta + uT, un, ut)
        log_new[pos] = vals[inv]
    out = combine_alive_dead(log_alive, log_dead, log_new, n)
    return out.reshape(shape)


def predict_draws(quantity: str, params, frequency, recency, T, t=None) -> np.ndarray:
    """Pareto/NBD predictions for many parameter vectors at once.

    ``P(alive) = (alpha+T)^-(r+x) (beta+T)^-s / [s J(r+x, s+1; t_x) + (r+x) J(r+x+1, s; T)]``
    and ``E[Y(t) | ...] = P(alive) (r+x)/(alpha+T) E[(1 - e^{-mu t}) / mu]`` (Fader &
    Hardie 2005, note 009, eqs. 36, 41). The integrals ``J`` are evaluated on the
    distinct ``(x, t_x)`` and ``(x, T)`` pairs for all draws at once
    (:func:`_pareto_log_tail_draws`, the Pareto/NBD module's series and continued
    fraction); the rest is vectorised over draws and rows.

    Parameters
    ----------
    quantity : {"probability_alive", "expected_purchases"}
    params : ndarray of shape (n_draws, 4)
        ``(r, alpha, s, beta)`` per row.
    frequency, recency, T : ndarray of shape (n_rows,)
    t : float or ndarray of shape (n_rows,)

    Returns
    -------
    ndarray of shape (n_draws, n_rows)
    """
    if quantity not in ("probability_alive", "expected_purchases"):
        raise InvalidParameterError(f"no draw kernel for {quantity!r}.")
    params = np.asarray(params, dtype=float)
    r, alpha, s, beta = draw_rows(params, 4)
    col = lambda v: v[:, None]  # noqa: E731
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    prep = _prepare(x, tx, T)
    n = params.shape[0]

    def log_j(pair_x, pair_t, e_alpha_shift, e_beta):
        cells = (pair_x.size, n)
        draw = np.broadcast_to(np.arange(n)[None, :], cells).ravel()
        e_a = (col(pair_x) + r + e_alpha_shift).ravel()
        values = _log_tail_draws(
            np.broadcast_to(alpha, cells).ravel(), np.broadcast_to(beta, cells).ravel(), e_a,
            np.broadcast_to(e_beta, cells).ravel(),
            np.broadcast_to(col(pair_t), cells).ravel(), draw)
        return values.reshape(cells)

    # log(s J(r+x, s+1; t_x)) per (x, t_x) pair and log((r+x) J(r+x+1, s; T)) per (x, T)
    log_g = np.log(s) + log_j(prep.g_x, prep.g_t, 0.0, s + 1.0)
    log_h = np.log(col(prep.h_x) + r) + log_j(prep.h_x, prep.h_t, 1.0, s)
    log_alive = np.logaddexp(np.take(log_g, prep.g_index, axis=0),
                             np.take(log_h, prep.h_index, axis=0))
    np.negative(log_alive, out=log_alive)
    log_alive -= (col(x) + r) * np.log(col(T) + alpha)
    log_alive -= s * np.log(col(T) + beta)
    np.minimum(log_alive, 0.0, out=log_alive)
    if quantity == "probability_alive":
        return np.exp(log_alive, out=log_alive).T
    horizon = np.broadcast_to(np.asarray(1.0 if t is None else t, dtype=float), x.shape)
    positive = horizon > 0
    log_alive += np.log(col(x) + r) - np.log(col(T) + alpha)
    window = np.full(log_alive.shape, -np.inf)
    if positive.any():
        bt = col(T[positive]) + beta
        window[positive] = log_mean_lifetime_window(s, bt, col(horizon[positive]))
    log_alive += window
    return np.exp(log_alive, out=log_alive).T


def simulate_alive_purchases(theta, x, T, horizon: float, rng):
    """Purchase times in ``(0, horizon]`` of Pareto/NBD customers alive at ``T`` (forecast hook).

    Given alive and the history, ``lambda ~ Gamma(r + x, alpha + T)`` and ``mu ~
    Gamma(s, beta + T)`` (the alive term of the likelihood is ``lambda^x e^{-lambda T}
    e^{-mu T}``); the remaining lifetime is ``Exponential(mu)`` (memoryless) and the
    customer buys as a Poisson process of rate ``lambda`` while alive within the horizon.

    Parameters
    ----------
    theta : ndarray of shape (n, 4)
        ``(r, alpha, s, beta)`` of each simulated customer.
    x, T : ndarray of shape (n,)
    horizon : float
    rng : numpy Generator

    Returns
    -------
    owner, times, keep
        As :func:`clvmodels.models.bgnbd.simulate_alive_purchases` (every event is kept).
    """
    lam = rng.gamma(theta[:, 0] + x) / (theta[:, 1] + T)
    mu = rng.gamma(theta[:, 2]) / (theta[:, 3] + T)
    with np.errstate(divide="ignore"):
        window = np.minimum(rng.exponential(1.0, size=mu.size) / mu, horizon)
    n_events = rng.poisson(lam * window)
    buyers = np.flatnonzero(n_events)
    owner = np.repeat(buyers, n_events[buyers])  # sorted by customer
    times = rng.random(owner.size) * window[owner]
    return owner, times, np.ones(owner.size, dtype=bool)


def _log_tail_draws(alpha, beta, e_alpha, e_beta, t, draw) -> np.ndarray:
    """``log J`` of :func:`clvmodels.models.paretonbd.log_tail_integral` with per-cell alpha, beta.

    ``J = int_t^inf (alpha + tau)^-e_alpha (beta + tau)^-e_beta dtau`` for 1-D arrays of
    cells (draw x pair). The Pareto/NBD module's routine takes one ``(alpha, beta)`` per
    call; here the cells of all draws go through its vectorised pieces at once: the
    power series of ``2F1(1, a; a + b; z)`` where ``z = (big - small) / (big + t) <=
    0.3``, its continued fraction where ``0.3 < z <= 0.99``, assembled as there. Cells
    with ``z > 0.99`` (the module adds a quadrature there) are passed to the module's
    routine draw by draw (``draw`` gives each cell's draw).
    """
    swap = alpha < beta
    big = np.where(swap, beta, alpha)
    small = np.where(swap, alpha, beta)
    e_big = np.where(swap, e_beta, e_alpha)
    e_small = np.where(swap, e_alpha, e_beta)
    z = (big - small) / (big + t)
    out = np.empty(t.shape)
    for rows, fn in ((z <= _Z_CF, _series_log_S), ((z > _Z_CF) & (z <= _Z_QUAD), _cf_log_S)):
        if rows.any():
            A, B = big[rows] + t[rows], small[rows] + t[rows]
            ea, eb = e_big[rows], e_small[rows]
            log_S, _ = fn(ea, eb, (A - B) / A, False)
            out[rows], _ = _assemble_log_J(ea, eb, A, B, log_S, None, False)
    quad = z > _Z_QUAD
    if quad.any():
        cells = np.flatnonzero(quad)
        for d in np.unique(draw[cells]):
            here = cells[draw[cells] == d]
            out[here], _ = log_tail_integral(float(alpha[here[0]]), float(beta[here[0]]),
                                              e_alpha[here], e_beta[here], t[here])
    return out


class ParetoNBD(PurchaseModelMixin, BaseModel):
    """Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

    Purchases follow a Poisson process with rate ``lambda ~ Gamma(r, alpha)``
    while a customer is alive; lifetimes are exponential with rate
    ``mu ~ Gamma(s, beta)``. Fitted by maximum likelihood on the unique
    ``(frequency, recency, T)`` rows, with the analytic gradient of
    :func:`log_likelihood` (see the module docstring for how its
    hypergeometric terms are evaluated stably).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the log-parameters (see :class:`~clvmodels.models._base.BaseModel`).
    n_starts : int, default 3
        Start values tried; the best optimum is kept.

    Attributes
    ----------
    params_ : Series
        ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha)), ``s``, ``beta``
        (dropout rate ~ Gamma(s, beta)).
    log_likelihood_, n_customers_, converged_, covariance_, fit_info_, time_unit_
        See :class:`~clvmodels.models._base.BaseModel`.

    Examples
    --------
    >>> from clvmodels.data._simulate_paretonbd import simulate_paretonbd_summary
    >>> summary = simulate_paretonbd_summary(
    ...     2000, r=0.55, alpha=10.6, s=0.6, beta=11.7, T=39, random_state=1
    ... )
    >>> model = ParetoNBD().fit(summary)
    >>> model.summary().columns.tolist()
    ['estimate', 'std_error', 'ci_lower', 'ci_upper']
    """

    _param_names = PARAM_NAMES
    # intervals: rows sorted by (x, t_x) keep each (x, t_x) integral in one chunk (there are
    # more distinct (x, t_x) than (x, T) pairs)
    _interval_columns = ("frequency", "recency", "T")

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)
    _expected_purchases_function = staticmethod(expected_purchases)
    _probability_alive_function = staticmethod(probability_alive)
    _log_conditional_pmf_function = staticmethod(log_conditional_pmf)
    _predict_draws_function = staticmethod(predict_draws)
    _simulate_function = staticmethod(simulate_alive_purchases)
    _expected_purchases_new_customer_function = staticmethod(expected_purchases_new_customer)
    _probability_of_purchases_function = staticmethod(probability_of_purchases)

    @staticmethod
    def _prepare_data(frequency, recency, T):
        return (_prepare(frequency, recency, T),)

    def _start_values(self, frequency, recency, T, weights):
        w = np.ones_like(frequency) if weights is None else weights
        total = float(np.sum(w))
        mean_x = float(w @ frequency) / total
        mean_T = max(float(w @ T) / total, 1e-6)
        # E[lambda] = r / alpha near the observed purchase rate, E[lifetime] ~ beta / s near T
        scale = mean_T / max(mean_x, 0.05)
        return [
            np.array([1.0, scale, 1.0, mean_T]),
            np.array([0.5, 0.5 * scale, 0.5, 0.5 * mean_T]),
            np.array([2.0, 2.0 * scale, 2.0, 4.0 * mean_T]),
        ]

    def expected_residual_transactions(self, summary=None, discount_rate=None,
                                       **columns) -> pd.Series:
        """Discounted expected residual transactions (DERT) per customer.

        See :func:`expected_residual_transactions` (Fader, Hardie & Lee 2005, JMR).

        Parameters
        ----------
        summary : DataFrame, optional
            Columns frequency, recency, T (in the model's time unit).
        discount_rate : float
            Continuously compounded discount rate per time unit (> 0).
        **columns : array_like
            The summary columns by keyword.

        Returns
        -------
        Series indexed like the summary.
        """
        if discount_rate is None:
            raise InvalidParameterError(
                "expected_residual_transactions() needs discount_rate, the continuous discount "
                "rate per time unit (e.g. log(1.15) / 52 for 15% a year with weekly data)."
            )
        data, index = self._prediction_data(summary, "expected_residual_transactions", **columns)
        values = expected_residual_transactions(
            self._params_array(), data["frequency"], data["recency"], data["T"], discount_rate
        )
        return pd.Series(values, index=index, name="expected_residual_transactions")
