"""BG/NBD with time-invariant covariates: likelihood rows, gradient, predictions, PMF, draws.

``alpha_i = alpha0 exp(-gamma_purchase' z_i)``, ``a_i = a0 exp(gamma_dropout'
w_i)``, ``b_i = b0 exp(gamma_dropout' w_i)`` (Fader & Hardie 2007, note 019;
CLVTools' ``bgnbd`` with static covariates; see :mod:`clvmodels.models.covariates`
for how to read the coefficients). The functions evaluate the formulas of
:mod:`clvmodels.models.bgnbd` with ``alpha``, ``a``, ``b`` taken row by row;
:class:`BGNBDCovariates` hands them to the shared estimator as its hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import digamma, gammaln

from clvmodels.models import bgnbd as _bgnbd
from clvmodels.models._fit import compress
from clvmodels.models._special import combine_alive_dead, log_nb_tail
from clvmodels.models.bgnbd import BGNBD, alive_purchases, log_beta, log_gamma_ratio
from clvmodels.models.covariates._estimator import _CovariateModel
from clvmodels.models.covariates.design import (
    _at,
    _pattern_codes,
    _public_inputs,
    _rows,
)

__all__ = [
    "BGNBDCovariates",
    "bgnbd_expected_purchases",
    "bgnbd_log_conditional_pmf",
    "bgnbd_log_likelihood_rows",
    "bgnbd_loglik_and_gradient",
    "bgnbd_probability_alive",
]


@dataclass
class _BGRows:
    """Rows with their distinct frequencies and distinct (frequency, dropout pattern) pairs.

    The gamma and digamma terms depend on ``x`` alone (``r`` is shared) or on ``x``
    and the customer's ``(a_i, b_i)``, which are equal within a dropout covariate
    pattern: they are evaluated once per distinct value or pair and gathered.
    """

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    x_values: np.ndarray
    x_index: np.ndarray
    k_first: np.ndarray  # a row of each distinct (x, dropout pattern)
    k_index: np.ndarray

    @classmethod
    def build(cls, x, tx, T, dropout_pattern):
        x_values, x_index = np.unique(x, return_inverse=True)
        _, k_first, k_index = np.unique(np.column_stack([x, dropout_pattern]), axis=0,
                                        return_index=True, return_inverse=True)
        return cls(x, tx, T, x_values, x_index.reshape(-1), k_first, k_index.reshape(-1))


def _bgnbd_rows(r, alpha, a, b, rows: _BGRows, grad):
    """Per-row log-likelihood and, with ``grad``, its derivatives.

    Returns ``ll`` and ``(d/dr, d/dlog alpha, d/dlog a, d/dlog b)`` per row
    (``r`` a float; ``alpha``, ``a``, ``b`` one value per row). The formulas are
    those of :func:`clvmodels.models.bgnbd.log_likelihood_rows` (FHL 2005, eq. 6)
    and of its gradient, with ``alpha``, ``a``, ``b`` taken row by row.
    """
    x, tx, T = rows.x, rows.tx, rows.T
    ux, ix, kf, ki = rows.x_values, rows.x_index, rows.k_first, rows.k_index
    xk, ak, bk = x[kf], a[kf], b[kf]
    has = x > 0
    lg = (log_gamma_ratio(r, ux)[ix]
          + (log_gamma_ratio(bk, xk) - log_gamma_ratio(ak + bk, xk))[ki])
    l1T = np.log1p(T / alpha)
    lT = np.log(alpha + T)
    d = np.full(x.shape, -np.inf)
    xh = x[has]
    d[has] = (np.log(a[has]) - np.log(b[has] + xh - 1.0)
              + (r + xh) * np.log1p((T[has] - tx[has]) / (alpha[has] + tx[has])))
    e = np.exp(-np.abs(d))
    log_sum = np.maximum(d, 0.0) + np.log1p(e)
    ll = lg - r * l1T - x * lT + log_sum
    if not grad:
        return ll, None
    q = 1.0 / (1.0 + e)
    wB = np.where(d > 0, q, e * q)  # expit(d): share of the "dropped out after t_x" term
    wA = 1.0 - wB
    l1t = np.log1p(tx / alpha)
    g_r = (digamma(r + ux) - digamma(r))[ix] - wA * l1T - wB * l1t
    g_alpha = (wA * (r * T / (alpha * (alpha + T)) - x / (alpha + T))
               + wB * (r * tx / (alpha * (alpha + tx)) - x / (alpha + tx)))
    common_k = digamma(ak + bk) - digamma(ak + bk + xk)
    common = common_k[ki]
    d1 = (digamma(bk + xk) - digamma(bk) + common_k)[ki]
    inv_b1 = np.zeros(x.shape)
    inv_b1[has] = 1.0 / (b[has] + xh - 1.0)
    g_a = common + wB / a
    g_b = d1 - wB * inv_b1
    return ll, (g_r, alpha * g_alpha, a * g_a, b * g_b)




def _bg_individual(base, gp, gd, Zp, Zd):
    r, alpha0, a0, b0 = base
    with np.errstate(over="ignore"):
        alpha = alpha0 * np.exp(-(Zp @ gp))
        scale = np.exp(Zd @ gd)
    return float(r), alpha, a0 * scale, b0 * scale




def bgnbd_log_likelihood_rows(params, frequency, recency, T, purchase_design=None,
                              dropout_design=None) -> np.ndarray:
    """Log-likelihood of each customer under the BG/NBD with time-invariant covariates.

    FHL (2005) eq. 6 at the customer's own parameters ``alpha_i = alpha0
    exp(-gamma_p' z_i)``, ``a_i = a0 exp(gamma_d' w_i)``, ``b_i = b0
    exp(gamma_d' w_i)`` (Fader & Hardie 2007, note 019; CLVTools' static
    covariates)::

        L_i = B(a_i, b_i + x) / B(a_i, b_i)
                * Gamma(r + x) alpha_i^r / (Gamma(r) (alpha_i + T)^(r + x))
              + [x > 0] B(a_i + 1, b_i + x - 1) / B(a_i, b_i)
                * Gamma(r + x) alpha_i^r / (Gamma(r) (alpha_i + t_x)^(r + x))

    Parameters
    ----------
    params : sequence
        ``(r, alpha0, a0, b0, *gamma_p, *gamma_d)``.
    frequency, recency, T : array_like
        One value per customer.
    purchase_design, dropout_design : array_like of shape (n, k), optional
        Covariate values ``z_i`` and ``w_i`` (no intercept column); None for none.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> rows = bgnbd_log_likelihood_rows((0.243, 4.414, 0.793, 2.426, 0.0), [0, 2],
    ...                                  [0.0, 30.43], [38.86, 38.86], [[1.0], [0.0]])
    >>> np.round(rows, 6)  # equal to BG/NBD's with a zero coefficient
    array([-0.554713, -9.458606])
    """
    (x, tx, T_, _), (Zp, Zd), (base, gp, gd) = _public_inputs(
        params, frequency, recency, T, purchase_design, dropout_design, None, "BG/NBD")
    r, alpha, a, b = _bg_individual(base, gp, gd, Zp, Zd)
    return _bgnbd_rows(r, alpha, a, b, _BGRows.build(x, tx, T_, _pattern_codes(Zd)), False)[0]


def _bg_total(base, gp, gd, Zp, Zd, rows: _BGRows, w):
    r, alpha, a, b = _bg_individual(base, gp, gd, Zp, Zd)
    ll, (g_r, g_la, g_la_, g_lb) = _bgnbd_rows(r, alpha, a, b, rows, True)
    g_ab = g_la_ + g_lb
    grad = np.concatenate([
        [w @ g_r, (w @ g_la) / base[1], (w @ g_la_) / base[2], (w @ g_lb) / base[3]],
        -(Zp.T @ (w * g_la)),
        Zd.T @ (w * g_ab),
    ])
    return float(w @ ll), grad


def bgnbd_loglik_and_gradient(params, frequency, recency, T, purchase_design=None,
                              dropout_design=None, weights=None) -> tuple[float, np.ndarray]:
    """Total (weighted) log-likelihood of :func:`bgnbd_log_likelihood_rows` and its gradient.

    The gradient is with respect to ``(r, alpha0, a0, b0, *gamma_p, *gamma_d)``
    (natural scale). With ``g^alpha_i``, ``g^a_i``, ``g^b_i`` the derivatives
    of ``log L_i`` with respect to ``log alpha_i``, ``log a_i``, ``log b_i``
    (the BG/NBD gradient of :mod:`clvmodels.models.bgnbd` at the row's
    parameters, times the parameter)::

        d LL / d alpha0  = sum_i w_i g^alpha_i / alpha0
        d LL / d gamma_p = -sum_i w_i g^alpha_i z_i
        d LL / d gamma_d = sum_i w_i (g^a_i + g^b_i) w_i

    Returns
    -------
    (float, ndarray)
    """
    (x, tx, T_, w), (Zp, Zd), (base, gp, gd) = _public_inputs(
        params, frequency, recency, T, purchase_design, dropout_design, weights, "BG/NBD")
    return _bg_total(base, gp, gd, Zp, Zd, _BGRows.build(x, tx, T_, _pattern_codes(Zd)), w)




def bgnbd_probability_alive(r, alpha, a, b, frequency, recency, T) -> np.ndarray:
    """BG/NBD ``P(alive | x, t_x, T)``, per-customer ``alpha``, ``a``, ``b`` (FHL 2005, eq. A10).

    ``1 / (1 + [x > 0] a_i / (b_i + x - 1) ((alpha_i + T) / (alpha_i + t_x))^(r + x))``;
    all arguments broadcast (``r`` too).
    """
    r, alpha, a, b, x, tx, T = _rows(r, alpha, a, b, frequency, recency, T)
    return np.exp(-np.logaddexp(0.0, _bg_log_odds_dead(r, alpha, a, b, x, tx, T)))


def _bg_log_odds_dead(r, alpha, a, b, x, tx, T):
    out = np.full(x.shape, -np.inf)
    has = x > 0
    xh = x[has]
    out[has] = (np.log(a[has]) - np.log(b[has] + xh - 1.0)
                + (_at(r, has) + xh) * np.log1p((T[has] - tx[has]) / (alpha[has] + tx[has])))
    return out


def bgnbd_expected_purchases(r, alpha, a, b, frequency, recency, T, t) -> np.ndarray:
    """BG/NBD ``E[Y(t) | x, t_x, T]`` with per-customer ``alpha``, ``a``, ``b`` (FHL 2005, eq. 10).

    ``P(alive)`` times the expected purchases of an alive customer with updated
    parameters ``(r + x, alpha_i + T, a_i, b_i + x)``, by the quadrature of
    :func:`clvmodels.models.bgnbd.alive_purchases`, on the distinct rows.
    """
    r, alpha, a, b, x, tx, T, t = _rows(r, alpha, a, b, frequency, recency, T, t)
    alive = np.exp(-np.logaddexp(0.0, _bg_log_odds_dead(r, alpha, a, b, x, tx, T)))
    packed = compress([x, T, t, alpha, a, b, r])
    ux, uT, ut, ua, uA, uB, ur = packed.columns
    per_alive = alive_purchases(ur + ux, ua + uT, uA, uB + ux, ut)[packed.inverse]
    return alive * per_alive


def _bg_expected_new(r, alpha, a, b, t):
    alpha, a, b, t = _rows(alpha, a, b, t)
    return alive_purchases(np.full(t.shape, r), alpha, a, b, t)


def _log_pmf_bgnbd_new_rows(r, alpha, a, b, n, t):
    """``log P(X(t) = n)`` of a new BG/NBD customer (FHL 2005, eq. 8), every argument per row."""
    log_q = -np.log1p(t / alpha)
    log_z = np.log(t) - np.log(alpha + t)
    log_b_ab = log_beta(a, b)
    first = (log_beta(a, b + n) - log_b_ab + log_gamma_ratio(r, n) - gammaln(n + 1.0)
             + r * log_q + n * log_z)
    second = np.full(n.shape, -np.inf)
    has = n > 0
    if np.any(has):
        second[has] = (log_beta(a[has] + 1.0, b[has] + n[has] - 1.0) - log_b_ab[has]
                       + log_nb_tail(n[has], r[has], np.exp(log_z[has])))
    return np.logaddexp(first, second)


def bgnbd_log_conditional_pmf(r, alpha, a, b, n, frequency, recency, T, t) -> np.ndarray:
    """BG/NBD ``log P(X(T, T+t) = n | x, t_x, T)`` with per-customer ``alpha``, ``a``, ``b``.

    ``[n = 0] (1 - P(alive)) + P(alive) P_new(n; r + x, alpha_i + T, a_i, b_i + x; t)``
    (see :func:`clvmodels.models.conditional_pmf.log_conditional_pmf_bgnbd`).
    """
    alpha, a, b, n, x, tx, T, t = _rows(alpha, a, b, n, frequency, recency, T, t)
    d = _bg_log_odds_dead(r, alpha, a, b, x, tx, T)
    log_alive = -np.logaddexp(0.0, d)
    log_dead = d + log_alive
    log_new = np.zeros(n.shape)
    pos = t > 0
    log_new[~pos & (n > 0)] = -np.inf
    if np.any(pos):
        log_new[pos] = _log_pmf_bgnbd_new_rows(
            r + x[pos], alpha[pos] + T[pos], a[pos], b[pos] + x[pos], n[pos], t[pos]
        )
    return combine_alive_dead(log_alive, log_dead, log_new, n)




def _bg_draws_at(quantity, params, x, tx, T, Zp, Zd, **kwargs):
    """``expected_purchases`` or ``probability_alive`` at every (draw, row) pair at once.

    ``params`` (n_draws, k) on the natural scale; None for other quantities
    (evaluated draw by draw by the estimator).
    """
    if quantity not in ("expected_purchases", "probability_alive"):
        return None
    n_draws, n = params.shape[0], x.shape[0]
    kp = Zp.shape[1]
    lin_p = params[:, 4:4 + kp] @ Zp.T
    lin_d = params[:, 4 + kp:] @ Zd.T
    alpha = (params[:, 1:2] * np.exp(-lin_p)).ravel()
    scale = np.exp(lin_d)
    a = (params[:, 2:3] * scale).ravel()
    b = (params[:, 3:4] * scale).ravel()
    r = np.broadcast_to(params[:, 0:1], (n_draws, n)).ravel()
    xs, txs, Ts = (np.tile(v, n_draws) for v in (x, tx, T))
    values = bgnbd_probability_alive(r, alpha, a, b, xs, txs, Ts)
    if quantity == "expected_purchases":
        # the alive customer's expectation at (r + x, alpha_i + T, a_i, b_i + x), by the
        # interval machinery's vectorised kernel (closed form / series, spot-checked
        # against the quadrature), in its (rows, draws) layout
        shape = (n_draws, n)
        t = np.broadcast_to(np.asarray(kwargs["t"], dtype=float), shape)
        per_alive = _bgnbd.alive_purchases_fast(
            (r.reshape(shape) + x).T, (alpha.reshape(shape) + T).T,
            a.reshape(shape).T, (b.reshape(shape) + x).T, t.T,
        )
        values = values * per_alive.T.ravel()
    return values.reshape(n_draws, n)


def _bg_simulate(p, T, rng):
    """One draw of ``(x, t_x)`` per customer at their own ``(r, alpha_i, a_i, b_i)``.

    ``lambda ~ Gamma(r, alpha_i)``, ``p ~ Beta(a_i, b_i)``; the repeat purchases
    before dropping out number ``D ~ Geometric(p)`` on {1, 2, ...}, the Poisson
    events in ``(0, T]`` ``N ~ Poisson(lambda T)``, ``x = min(N, D)``, and the
    ``x``-th event time is ``T Beta(x, N - x + 1)`` (order statistics of uniforms).
    """
    n = T.shape[0]
    r, alpha, a, b = (np.broadcast_to(v, (n,)) for v in p)
    lam = rng.gamma(r, 1.0 / alpha)
    prob = rng.beta(a, b)
    D = rng.geometric(np.clip(prob, 1e-300, 1.0))
    N = rng.poisson(lam * T)
    x = np.minimum(N, D)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], N[has] - x[has] + 1)
    return x, recency


class BGNBDCovariates(_CovariateModel, BGNBD):
    """BG/NBD with time-invariant covariates in the purchase and dropout processes.

    ``alpha_i = alpha0 exp(-gamma_purchase' z_i)``, ``a_i = a0 exp(gamma_dropout'
    w_i)``, ``b_i = b0 exp(gamma_dropout' w_i)`` (Fader & Hardie 2007, note 019;
    the parameterisation of CLVTools' ``bgnbd`` with static covariates; see the
    module docstring for how to read the coefficients).

    Parameters
    ----------
    purchase_covariates : list of str, optional
        Summary columns that shift the purchase rate.
    dropout_covariates : list of str, optional
        Summary columns that shift the dropout process (may repeat the
        purchase ones, or differ).
    reference : mapping column -> level, optional
        Reference level of categorical columns (default: the first in sorted order).
    penalizer : float, default 0
        L2 penalty on the log-parameters and the coefficients.
    n_starts : int, default 3
        Start values tried (the first is the fit without covariates).

    Attributes
    ----------
    params_ : Series
        ``r, alpha0, a0, b0`` then the coefficients, named
        ``purchase:<column>`` (numeric) or ``purchase:<column>[<level>]``, and
        ``dropout:...``.
    coefficients_ : Series
        The coefficients alone.
    covariate_encoding_ : dict
        Kind, levels and reference level of each covariate column.
    covariance_, log_likelihood_, fit_info_, ...
        As for :class:`~clvmodels.models.bgnbd.BGNBD`;
        ``fit_result_.extra["log_likelihood_without_covariates"]`` is the fit without
        covariates on the same data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clvmodels.models.covariates import simulate_summary
    >>> truth = BGNBDCovariates.from_params(
    ...     r=0.5, alpha0=5.0, a0=0.8, b0=2.5, purchase_covariates=["channel"],
    ...     levels={"channel": ["shop", "web"]}, coefficients={"purchase:channel[web]": 0.7})
    >>> attributes = pd.DataFrame({"channel": np.repeat(["shop", "web"], 1000)})
    >>> summary = simulate_summary(truth, attributes, T=39.0, random_state=1)
    >>> model = BGNBDCovariates(purchase_covariates=["channel"]).fit(summary)
    >>> list(model.params_.index)
    ['r', 'alpha0', 'a0', 'b0', 'purchase:channel[web]']
    """

    _param_names = ("r", "alpha0", "a0", "b0")
    _base_class = BGNBD

    # ---- the hooks of _CovariateModel: the BG/NBD's formulas at per-row parameters
    _individual = staticmethod(_bg_individual)
    _total = staticmethod(_bg_total)
    _draws_at = staticmethod(_bg_draws_at)
    _simulate = staticmethod(_bg_simulate)
    _quantities: ClassVar[dict[str, Any]] = {
        "expected_purchases": lambda p, x, tx, T, t: bgnbd_expected_purchases(*p, x, tx, T, t),
        "probability_alive": lambda p, x, tx, T: bgnbd_probability_alive(*p, x, tx, T),
    }

    @staticmethod
    def _build_rows(x, tx, T, Zp, Zd):
        return _BGRows.build(x, tx, T, _pattern_codes(Zd))

    @staticmethod
    def _log_conditional_pmf(p, n, x, tx, T, t):
        return bgnbd_log_conditional_pmf(*p, n, x, tx, T, t)

    @staticmethod
    def _expected_new(p, t):
        return _bg_expected_new(*p, t)

    @staticmethod
    def _pmf_new(p, n, t):
        r, alpha, a, b = p
        alpha, a, b, n, t = _rows(alpha, a, b, n, t)
        return _log_pmf_bgnbd_new_rows(np.full(n.shape, r), alpha, a, b, n, t)


