"""Conditional distribution of a customer's future purchases, ``P(X(T, T+t) = n | x, t_x, T)``.

For the BG/NBD (Fader, Hardie & Lee 2005), the MBG/NBD (Batislam, Denizel &
Filiztekin 2007) and the Pareto/NBD (Schmittlein, Morrison & Colombo 1987)
models: the probability that a customer with calibration history ``(x, t_x,
T)`` (``frequency``, ``recency``, ``T``) makes exactly ``n`` purchases in the
next ``t`` time units. It scores a model's holdout log-likelihood (the
comparison harness calls it through the models'
``conditional_log_probability_of_purchases`` hook).

Derivation (the same for all three models)
------------------------------------------
The conditional PMF is ``P(data, X(T, T+t) = n) / P(data)``. Split the joint
by whether the customer is still alive at ``T``:

* dead at ``T``: no purchase in the window, so this part adds only to ``n = 0``;
* alive at ``T``: the "alive" term of the likelihood is ``lambda^x e^{-lambda
  T}`` times the survival factor (``(1 - p)^x`` for BG/NBD, ``(1 - p)^(x + 1)``
  for MBG/NBD, ``e^{-mu T}`` for Pareto/NBD), which is a gamma / beta / gamma
  kernel; so given the data and being alive, the customer's latent
  parameters follow the prior updated to

  =========  ==============================================================
  BG/NBD     ``lambda ~ Gamma(r + x, alpha + T)``, ``p ~ Beta(a, b + x)``
  MBG/NBD    ``lambda ~ Gamma(r + x, alpha + T)``, ``p ~ Beta(a, b + x + 1)``
  Pareto/NBD ``lambda ~ Gamma(r + x, alpha + T)``, ``mu ~ Gamma(s, beta + T)``
  =========  ==============================================================

  and, because the purchase process is Poisson and the dropout happens only
  at purchases (BG/NBD, MBG/NBD after time 0) or after an exponential
  lifetime (Pareto/NBD), the future from ``T`` on is that of a *new*
  customer with those updated parameters. Hence::

    P(X(T, T+t) = n | x, t_x, T)
        = [n = 0] (1 - P(alive | x, t_x, T))
          + P(alive | x, t_x, T) * P_new(X(t) = n; updated parameters)

which is the result of Fader & Hardie's notes "Deriving the conditional PMF
of the BG/NBD model" and "... of the Pareto/NBD model" (there expanded into
hypergeometric functions). ``P_new`` is

* BG/NBD and MBG/NBD: **closed form** (FHL 2005, eq. 8)
  ``B(a, b'+n)/B(a, b') NB(n; r', alpha', t) + [n > 0] B(a+1, b'+n-1)/B(a, b')
  I_z(n, r')`` with ``NB`` the negative binomial probability, ``z = t /
  (alpha' + t)`` and ``I_z(n, r') = P(NB >= n)`` the regularised incomplete
  beta function; where ``I_z`` would underflow (``n`` far in the tail) its
  logarithm comes from the positive series ``I_z(n, r) = z^n (1-z)^r / (n
  B(n, r)) 2F1(n + r, 1; n + 1; z)`` (DLMF 8.17.8).
* Pareto/NBD: the alive part in closed form, the part dying inside the
  window by a **stable 1-D quadrature** (Fader & Hardie 2005, note 009,
  section 4)::

    P_new(n) = NB(n; r', alpha', t) (beta'/(beta'+t))^s
               + Gamma(r'+n)/(Gamma(r') n!) s
                 * int_0^t (alpha'/(alpha'+tau))^r' (tau/(alpha'+tau))^n
                           (beta'/(beta'+tau))^s / (beta'+tau) dtau

  taken in ``u = log tau``, where the integrand is log-concave, by the
  Gauss-Legendre panels of :func:`clvmodels.models.paretonbd._log_concave_nodes`
  around its peak (no cancellation for large ``n`` or ``x``).

``P(alive)`` and ``1 - P(alive)`` are both computed in log space: BG/NBD and
MBG/NBD from their log-odds of having dropped out; Pareto/NBD from the two
terms of the likelihood, the dead part as ``s [J(r+x, s+1; t_x) - J(r+x, s+1;
T)]`` (``J`` the tail integral of :mod:`clvmodels.models.paretonbd`).
Everything is returned as a log-probability, finite for valid inputs
(counts of several hundred, ``x`` of 1e3 and more).

Rows are compressed to the distinct ``(x, T, n, t)`` for ``P_new`` (it does
not depend on ``t_x``), so CDNOW-sized inputs cost a few milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betainc, gammaln

from clvmodels.errors import InvalidParameterError, InvalidSummaryError
from clvmodels.models import bgnbd, mbgnbd, paretonbd
from clvmodels.models._base import check_is_fitted
from clvmodels.models.bgnbd import log_beta, log_gamma_ratio

__all__ = [
    "log_conditional_pmf",
    "log_conditional_pmf_bgnbd",
    "log_conditional_pmf_mbgnbd",
    "log_conditional_pmf_paretonbd",
]

# below this, betainc's value is replaced by the log of its hypergeometric series
_TINY_TAIL = 1e-280
_SERIES_MAX_TERMS = 1_000_000
_SERIES_TOL = 1e-17
_QUAD_BLOCK = 20_000  # rows per block of the Pareto/NBD quadrature (x 280 nodes)


# ---------------------------------------------------------------------------
# argument handling
# ---------------------------------------------------------------------------
def _counts_and_horizon(n, frequency, recency, T, t, check):
    """Broadcast ``(n, x, t_x, T, t)`` to flat float arrays; check ``n`` and ``t``."""
    x, tx, T_ = check(frequency, recency, T)
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    try:
        n, x, tx, T_, t = np.broadcast_arrays(n, x, tx, T_, t)
    except ValueError:
        raise InvalidParameterError(
            f"n (shape {n.shape}), the customer data (shape {np.shape(x)}) and t (shape "
            f"{t.shape}) cannot be broadcast together; give one count per customer."
        ) from None
    bad = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
    if np.any(bad):
        pos = np.flatnonzero(bad.ravel())
        raise InvalidParameterError(
            f"n must hold whole numbers >= 0 (purchase counts); {pos.size} value(s) are not, "
            f"first at position {pos[0]}: {float(n.ravel()[pos[0]])!r}."
        )
    bad = ~np.isfinite(t) | (t < 0)
    if np.any(bad):
        pos = np.flatnonzero(bad.ravel())
        raise InvalidParameterError(
            f"the horizon t must be finite and >= 0 (a length of time in the model's unit); "
            f"got {t.ravel()[pos[0]]!r} at position {pos[0]}."
        )
    shape = n.shape
    return shape, *(np.ravel(v).astype(float) for v in (n, x, tx, T_, t))


def _log1mexp(v):
    """``log(1 - e^v)`` for ``v <= 0`` (``-inf`` at ``v = 0``), accurate on both sides of -log 2."""
    v = np.minimum(np.asarray(v, dtype=float), 0.0)
    with np.errstate(divide="ignore"):
        return np.where(v > -0.6931471805599453, np.log(-np.expm1(v)), np.log1p(-np.exp(v)))


def _unique_rows(*columns):
    """Distinct rows of equal-length float columns and the inverse index."""
    stacked = np.stack(columns, axis=1)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return tuple(uniq[:, j] for j in range(len(columns))), inverse.reshape(-1)


def _combine(log_alive, log_dead, log_new, n):
    """``log([n = 0] e^log_dead + e^(log_alive + log_new))``."""
    out = log_alive + log_new
    zero = n == 0
    out[zero] = np.logaddexp(log_dead[zero], out[zero])
    # P(alive) + P(dead) = 1 up to rounding: keep log-probabilities <= 0
    return np.minimum(out, 0.0)


# ---------------------------------------------------------------------------
# negative binomial tail and the BG/NBD new-customer PMF in log space
# ---------------------------------------------------------------------------
def _log_nb_tail(n, r, z):
    """``log I_z(n, r)`` = log P(N >= n) for ``N ~ NB(r, 1 - z)`` (``n >= 1``, ``0 < z < 1``).

    scipy's ``betainc`` where its value is above 1e-280; beyond, the positive
    series ``log[z^n (1-z)^r / (n B(n, r))] + log 2F1(n + r, 1; n + 1; z)``
    (DLMF 8.17.8), whose terms fall by at least ``(n + r) z / (n + 1) < 1`` each
    step that far in the tail.
    """
    out = np.empty(n.shape)
    with np.errstate(under="ignore"):
        val = betainc(n, r, z)
    ok = val > _TINY_TAIL
    out[ok] = np.log(val[ok])
    far = ~ok
    if np.any(far):
        nf, rf, zf = n[far], r[far], z[far]
        log_lead = nf * np.log(zf) + r[far] * np.log1p(-zf) - np.log(nf) - log_beta(nf, rf)
        total = np.ones(nf.shape)
        term = np.ones(nf.shape)
        active = np.arange(nf.size)
        for k in range(_SERIES_MAX_TERMS):
            term[active] *= zf[active] * (nf[active] + rf[active] + k) / (nf[active] + 1.0 + k)
            total[active] += term[active]
            active = active[term[active] > _SERIES_TOL * total[active]]
            if active.size == 0:
                break
        out[far] = log_lead + np.log(total)
    return out


def _log_pmf_bgnbd_new(r, alpha, a, b, n, t):
    """``log P(X(t) = n)`` of a new BG/NBD customer, per row (FHL 2005, eq. 8); ``t > 0``.

    ``r``, ``alpha``, ``b``, ``n``, ``t`` are arrays of one shape, ``a`` a float.
    """
    log_q = -np.log1p(t / alpha)  # log(alpha / (alpha + t))
    log_z = np.log(t) - np.log(alpha + t)
    log_b_ab = log_beta(a, b)
    first = (
        log_beta(a, b + n) - log_b_ab + log_gamma_ratio(r, n) - gammaln(n + 1.0)
        + r * log_q + n * log_z
    )
    second = np.full(n.shape, -np.inf)
    has = n > 0
    if np.any(has):
        z = np.exp(log_z[has])
        second[has] = (
            log_beta(a + 1.0, b[has] + n[has] - 1.0) - log_b_ab[has]
            + _log_nb_tail(n[has], r[has], z)
        )
    return np.logaddexp(first, second)


def _bg_family(r, alpha, a, b_alive, log_odds_dead, n, x, T, t):
    """Shared assembly for BG/NBD and MBG/NBD (``b_alive`` the posterior ``b`` of ``p``)."""
    log_alive = -np.logaddexp(0.0, log_odds_dead)
    log_dead = log_odds_dead + log_alive  # -inf when the customer cannot have dropped out
    log_new = np.zeros(n.shape)  # t = 0: P_new(0) = 1 and P_new(n > 0) = 0
    pos = t > 0
    log_new[~pos & (n > 0)] = -np.inf
    if np.any(pos):
        (ux, uT, un, ut), inv = _unique_rows(x[pos], T[pos], n[pos], t[pos])
        vals = _log_pmf_bgnbd_new(r + ux, alpha + uT, a, b_alive(ux), un, ut)
        log_new[pos] = vals[inv]
    return _combine(log_alive, log_dead, log_new, n)


def log_conditional_pmf_bgnbd(params, n, frequency, recency, T, t) -> np.ndarray:
    """``log P(X(T, T+t) = n | x, t_x, T)`` under the BG/NBD model (closed form).

    Fader & Hardie, "Deriving the conditional PMF of the BG/NBD model"; with
    ``P(alive) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``
    (FHL 2005, eq. A10)::

        P(X(T, T+t) = n | x, t_x, T)
            = [n = 0] (1 - P(alive)) + P(alive) P_BGNBD(n; r + x, alpha + T, a, b + x; t)

    where ``P_BGNBD(n; r, alpha, a, b; t)`` is the new-customer PMF of FHL
    2005, eq. 8: ``B(a, b+n)/B(a, b) Gamma(r+n)/(Gamma(r) n!) (alpha/(alpha+t))^r
    (t/(alpha+t))^n + [n > 0] B(a+1, b+n-1)/B(a, b) I_{t/(alpha+t)}(n, r)``.
    All in log space (see the module docstring for the derivation and the
    incomplete-beta tail).

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    n : array_like of int
        Purchase counts in ``(T, T + t]``, one per customer (broadcast with the data).
    frequency, recency, T : array_like
        The customers' calibration histories ``x``, ``t_x``, ``T``.
    t : float or array_like
        Length of the window (>= 0).

    Returns
    -------
    ndarray
        Log-probabilities (``<= 0``), in the broadcast shape.

    Examples
    --------
    >>> params = (0.243, 4.414, 0.793, 2.426)
    >>> lp = log_conditional_pmf_bgnbd(params, np.arange(300), 2, 30.43, 38.86, 39.0)
    >>> float(np.round(np.exp(lp).sum(), 12))
    1.0
    """
    r, alpha, a, b = bgnbd._unpack(params)
    shape, n, x, tx, T, t = _counts_and_horizon(n, frequency, recency, T, t, _bg_check)
    d = bgnbd._log_odds_dead(r, alpha, a, b, x, tx, T)
    out = _bg_family(r, alpha, a, lambda ux: b + ux, d, n, x, T, t)
    return out.reshape(shape)


def log_conditional_pmf_mbgnbd(params, n, frequency, recency, T, t) -> np.ndarray:
    """``log P(X(T, T+t) = n | x, t_x, T)`` under the MBG/NBD model (closed form).

    The MBG/NBD is a BG/NBD in which dropout can also happen at time 0
    (Batislam, Denizel & Filiztekin 2007): the survival factor of the
    likelihood's alive term is ``(1 - p)^(x + 1)``, so with
    ``P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))`` (also for
    ``x = 0``)::

        P(X(T, T+t) = n | x, t_x, T)
            = [n = 0] (1 - P(alive)) + P(alive) P_BGNBD(n; r + x, alpha + T, a, b + x + 1; t)

    with ``P_BGNBD`` the BG/NBD new-customer PMF (FHL 2005, eq. 8); see
    :func:`log_conditional_pmf_bgnbd`.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    n : array_like of int
    frequency, recency, T : array_like
    t : float or array_like

    Returns
    -------
    ndarray of log-probabilities

    Examples
    --------
    >>> params = (0.525, 6.183, 0.891, 1.614)
    >>> lp = log_conditional_pmf_mbgnbd(params, [0, 1], [0, 0], [0.0, 0.0], 38.86, 39.0)
    >>> np.round(np.exp(lp), 4)
    array([0.8912, 0.0787])
    """
    r, alpha, a, b = mbgnbd._unpack(params)
    shape, n, x, tx, T, t = _counts_and_horizon(n, frequency, recency, T, t, _bg_check)
    d = mbgnbd._log_odds_dead(r, alpha, a, b, x, tx, T)
    out = _bg_family(r, alpha, a, lambda ux: b + ux + 1.0, d, n, x, T, t)
    return out.reshape(shape)


def _bg_check(frequency, recency, T):
    x, tx, T, _ = bgnbd._data(frequency, recency, T)
    return x, tx, T


# ---------------------------------------------------------------------------
# Pareto/NBD
# ---------------------------------------------------------------------------
def _log_pmf_paretonbd_new(r, alpha, s, beta, n, t):
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
        lo = np.minimum(u_c, hi) - 2.0 * (paretonbd._WINDOW + 5.0) / (n_b + 1.0)
        u, log_w = paretonbd._log_concave_nodes(log_f, dlog_f, lo, hi)
        log_terms = log_f(u) + log_w
        top = log_terms.max(axis=1)
        log_dead[sl] = top + np.log(np.exp(log_terms - top[:, None]).sum(axis=1))
    log_dead += log_coef + np.log(s)
    return np.logaddexp(log_alive, log_dead)


def _paretonbd_alive_dead(r, alpha, s, beta, x, tx, T):
    """``log P(alive | data)`` and ``log P(dead | data)`` for flat arrays.

    With ``G = s J(r+x, s+1; t_x)``, ``H = (r+x) J(r+x+1, s; T)`` (so that the
    likelihood is ``C (G + H)``, note 009 eq. 22), the alive term
    ``A = (alpha+T)^-(r+x) (beta+T)^-s`` and the dead term
    ``D = s [J(r+x, s+1; t_x) - J(r+x, s+1; T)] = s int_{t_x}^T (alpha+tau)^-(r+x)
    (beta+tau)^-(s+1) dtau``: ``P(alive) = A / (G + H)``, ``P(dead) = D / (G + H)``.
    """
    prep = paretonbd._prepare(x, tx, T)
    log_G, log_H, _, _ = paretonbd._likelihood_parts(r, alpha, s, beta, prep)
    log_G, log_H = log_G[prep.g_index], log_H[prep.h_index]
    log_total = np.logaddexp(log_G, log_H)
    log_A = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_alive = np.minimum(log_A - log_total, 0.0)
    # J(r+x, s+1; T) on the distinct (x, T) pairs
    log_JT = paretonbd._log_tail_integral(
        alpha, beta, r + prep.h_x, np.full(prep.h_x.shape, s + 1.0), prep.h_t
    )[0][prep.h_index]
    log_Jtx = log_G - np.log(s)
    log_dead = log_G + _log1mexp(np.minimum(log_JT - log_Jtx, 0.0)) - log_total
    return log_alive, log_dead


def log_conditional_pmf_paretonbd(params, n, frequency, recency, T, t) -> np.ndarray:
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
    log-concave integrand (:func:`clvmodels.models.paretonbd._log_concave_nodes`,
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
    >>> lp = log_conditional_pmf_paretonbd(params, np.arange(300), 2, 30.43, 38.86, 39.0)
    >>> float(np.round(np.exp(lp).sum(), 10))
    1.0
    """
    r, alpha, s, beta = paretonbd._unpack_params(params)
    shape, n, x, tx, T, t = _counts_and_horizon(n, frequency, recency, T, t,
                                                paretonbd._check_data)
    log_alive, log_dead = _paretonbd_alive_dead(r, alpha, s, beta, x, tx, T)
    log_new = np.zeros(n.shape)
    pos = t > 0
    log_new[~pos & (n > 0)] = -np.inf
    if np.any(pos):
        (ux, uT, un, ut), inv = _unique_rows(x[pos], T[pos], n[pos], t[pos])
        vals = _log_pmf_paretonbd_new(r + ux, alpha + uT, s, beta + uT, un, ut)
        log_new[pos] = vals[inv]
    out = _combine(log_alive, log_dead, log_new, n)
    return out.reshape(shape)


# ---------------------------------------------------------------------------
# dispatcher on fitted models
# ---------------------------------------------------------------------------
_FUNCTIONS = {
    "BGNBD": log_conditional_pmf_bgnbd,
    "MBGNBD": log_conditional_pmf_mbgnbd,
    "ParetoNBD": log_conditional_pmf_paretonbd,
}


def counts_in_summary_order(counts, summary, index: pd.Index) -> np.ndarray:
    """One purchase count per summary row, as floats: a Series is aligned on the
    summary's customers (a missing customer is an error), anything else must have one
    value per row."""
    if isinstance(counts, pd.Series) and isinstance(summary, pd.DataFrame):
        if not counts.index.equals(index):
            missing = index.difference(counts.index)
            if missing.size:
                raise InvalidSummaryError(
                    f"counts has no value for {missing.size} customer(s) of the summary (first: "
                    f"{missing[0]!r}); give one count per summary row."
                )
            counts = counts.reindex(index)
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 1 or counts.size != len(index):
        raise InvalidSummaryError(
            f"counts has shape {counts.shape} but the summary has {len(index)} customers; give "
            "one purchase count per customer."
        )
    return counts


def log_conditional_pmf(model, summary, counts, t) -> np.ndarray:
    """Log-probability of each customer's purchase count in ``(T, T + t]`` under a fitted model.

    Dispatches on the model type (:class:`~clvmodels.models.bgnbd.BGNBD`,
    :class:`~clvmodels.models.mbgnbd.MBGNBD`,
    :class:`~clvmodels.models.paretonbd.ParetoNBD`) to
    :func:`log_conditional_pmf_bgnbd`, :func:`log_conditional_pmf_mbgnbd` or
    :func:`log_conditional_pmf_paretonbd`. The sum of the result over
    customers is the model's holdout log-likelihood.

    Parameters
    ----------
    model : BGNBD, MBGNBD or ParetoNBD
        A fitted model (or one built with ``from_params``).
    summary : DataFrame
        Columns ``frequency``, ``recency``, ``T`` in the model's time unit.
    counts : array_like or Series of int
        Purchases of each customer in the window (e.g. ``summary["frequency_holdout"]``).
        A Series is aligned on the summary's index.
    t : float or array_like
        Length of the window (e.g. ``summary["duration_holdout"]``), in the model's unit.

    Returns
    -------
    ndarray
        One log-probability per customer, in the summary's row order.

    Examples
    --------
    >>> from clvmodels.models.bgnbd import BGNBD
    >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> summary = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 30.43], "T": [38.86] * 2})
    >>> np.round(log_conditional_pmf(model, summary, [0, 1], 39.0), 4)
    array([-0.1561, -1.43  ])
    """
    kind = getattr(model, "_model_type", None)
    if kind not in _FUNCTIONS:
        raise InvalidParameterError(
            f"log_conditional_pmf() supports BGNBD, MBGNBD and ParetoNBD models, got "
            f"{type(model).__name__}."
        )
    check_is_fitted(model, "conditional_log_probability_of_purchases")
    data, index = model._prediction_data(summary, "conditional_log_probability_of_purchases")
    counts = counts_in_summary_order(counts, summary, index)
    if isinstance(t, pd.Series):
        t = t.reindex(index) if isinstance(summary, pd.DataFrame) else t
    t = np.asarray(t, dtype=float)
    return _FUNCTIONS[kind](
        model._params_array(), counts, data["frequency"], data["recency"], data["T"], t
    )
