"""Pareto/NBD with time-invariant covariates: likelihood rows, gradient, predictions, PMF, draws.

``alpha_i = alpha0 exp(-gamma_purchase' z_i)``, ``beta_i = beta0
exp(-gamma_dropout' w_i)`` (Fader & Hardie 2007, note 019, eq. 1-2; CLVTools'
``pnbd`` with static covariates). The functions evaluate the formulas of
:mod:`clvmodels.models.paretonbd` (the series / continued fraction / quadrature
of its tail integral, row by row) with ``alpha``, ``beta`` taken per customer,
once per distinct ``(x, t_x)`` and ``(x, T)`` pair within each covariate
pattern; :class:`ParetoNBDCovariates` hands them to the shared estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import digamma, gammaln

from clvmodels.errors import InvalidParameterError
from clvmodels.models import paretonbd as _pnbd
from clvmodels.models._fit import compress
from clvmodels.models._special import combine_alive_dead, log1mexp
from clvmodels.models.covariates._estimator import _CovariateModel
from clvmodels.models.covariates.design import (
    _at,
    _pattern_codes,
    _pattern_of,
    _public_inputs,
    _rows,
)
from clvmodels.models.paretonbd import ParetoNBD

__all__ = [
    "ParetoNBDCovariates",
    "paretonbd_expected_purchases",
    "paretonbd_log_conditional_pmf",
    "paretonbd_log_likelihood_rows",
    "paretonbd_loglik_and_gradient",
    "paretonbd_probability_alive",
]


_log_tail_integral_rows = _pnbd.log_tail_integral


@dataclass
class _ParetoRows:
    """Rows, and their distinct ``(x, t_x)`` and ``(x, T)`` pairs within each covariate pattern.

    ``J(r+x, s+1; t_x)`` depends on ``(x, t_x, alpha_i, beta_i)`` and ``J(r+x+1,
    s; T)`` on ``(x, T, alpha_i, beta_i)``; within a covariate pattern ``alpha_i``,
    ``beta_i`` are equal, so each integral is evaluated once per pair and pattern.
    """

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    g_first: np.ndarray  # a row of each distinct (x, t_x, pattern)
    g_index: np.ndarray  # row -> its (x, t_x, pattern)
    h_first: np.ndarray
    h_index: np.ndarray

    @classmethod
    def build(cls, x, tx, T, pattern):
        def pairs(v):
            _, first, index = np.unique(
                np.column_stack([x, v, pattern]), axis=0, return_index=True, return_inverse=True
            )
            return first, index.reshape(-1)

        g_first, g_index = pairs(tx)
        h_first, h_index = pairs(T)
        return cls(x, tx, T, g_first, g_index, h_first, h_index)


def _paretonbd_parts(r, s, alpha, beta, rows: _ParetoRows, grad):
    """``log G`` per (x, t_x) pair, ``log H`` per (x, T) pair, and their ``log J`` derivatives.

    ``r`` and ``s`` are floats or one value per row (then equal within a pattern).
    """
    g, h = rows.g_first, rows.h_first
    gx, gt = rows.x[g], rows.tx[g]
    hx, hT = rows.x[h], rows.T[h]
    r_g, s_g, r_h, s_h = _at(r, g), _at(s, g), _at(r, h), _at(s, h)
    log_JG, dG = _log_tail_integral_rows(
        alpha[g], beta[g], r_g + gx, np.broadcast_to(s_g + 1.0, gx.shape), gt, grad
    )
    log_JH, dH = _log_tail_integral_rows(
        alpha[h], beta[h], r_h + hx + 1.0, np.broadcast_to(s_h, hx.shape).astype(float), hT, grad
    )
    return np.log(s_g) + log_JG, np.log(r_h + hx) + log_JH, dG, dH


def _paretonbd_rows(r, s, alpha, beta, rows: _ParetoRows, grad):
    """Per-row log-likelihood and ``(d/dr, d/dlog alpha, d/ds, d/dlog beta)`` per row.

    Fader & Hardie (2005, note 009, eq. 22), as in
    :func:`clvmodels.models.paretonbd.log_likelihood_rows`, with ``alpha``,
    ``beta`` taken row by row.
    """
    x = rows.x
    log_G, log_H, dG, dH = _paretonbd_parts(r, s, alpha, beta, rows, grad)
    lg, lh = log_G[rows.g_index], log_H[rows.h_index]
    log_Q = np.logaddexp(lg, lh)
    log_alpha, log_beta_ = np.log(alpha), np.log(beta)
    ll = gammaln(r + x) - gammaln(r) + r * log_alpha + s * log_beta_ + log_Q
    if not grad:
        return ll, None
    wG, wH = np.exp(lg - log_Q), np.exp(lh - log_Q)
    dG, dH = dG[:, rows.g_index], dH[:, rows.h_index]
    g_r = (digamma(r + x) - digamma(r) + log_alpha + wG * dG[0]
           + wH * (1.0 / (r + x) + dH[0]))
    g_s = log_beta_ + wG * (1.0 / s + dG[1]) + wH * dH[1]
    g_alpha = r / alpha + wG * dG[2] + wH * dH[2]
    g_beta = s / beta + wG * dG[3] + wH * dH[3]
    return ll, (g_r, alpha * g_alpha, g_s, beta * g_beta)




def _pnbd_individual(base, gp, gd, Zp, Zd):
    r, alpha0, s, beta0 = base
    with np.errstate(over="ignore"):
        alpha = alpha0 * np.exp(-(Zp @ gp))
        beta = beta0 * np.exp(-(Zd @ gd))
    return float(r), alpha, float(s), beta




def paretonbd_log_likelihood_rows(params, frequency, recency, T, purchase_design=None,
                                  dropout_design=None) -> np.ndarray:
    """Log-likelihood of each customer under the Pareto/NBD with time-invariant covariates.

    Fader & Hardie (2007, note 019): ``alpha_i = alpha0 exp(-gamma_p' z_i)``,
    ``beta_i = beta0 exp(-gamma_d' w_i)``, and the likelihood of note 009 (eq.
    22) at the customer's parameters::

        L_i = Gamma(r+x) alpha_i^r beta_i^s / Gamma(r)
              * [ s J(r+x, s+1; t_x) + (r+x) J(r+x+1, s; T) ],
        J(a, b; t) = int_t^inf (alpha_i+tau)^-a (beta_i+tau)^-b dtau

    Parameters
    ----------
    params : sequence
        ``(r, alpha0, s, beta0, *gamma_p, *gamma_d)``.
    frequency, recency, T : array_like
    purchase_design, dropout_design : array_like of shape (n, k), optional

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> rows = paretonbd_log_likelihood_rows((0.553, 10.578, 0.606, 11.669, 0.0), [0, 2],
    ...                                      [0.0, 30.43], [38.86, 38.86], [[1.0], [0.0]])
    >>> np.round(rows, 4)  # equal to Pareto/NBD's with a zero coefficient
    array([-0.521 , -9.5543])
    """
    (x, tx, T_, _), (Zp, Zd), (base, gp, gd) = _public_inputs(
        params, frequency, recency, T, purchase_design, dropout_design, None, "Pareto/NBD")
    r, alpha, s, beta = _pnbd_individual(base, gp, gd, Zp, Zd)
    rows = _ParetoRows.build(x, tx, T_, _pattern_codes(np.column_stack([Zp, Zd])))
    return _paretonbd_rows(r, s, alpha, beta, rows, False)[0]


def _pnbd_total(base, gp, gd, Zp, Zd, rows: _ParetoRows, w):
    r, alpha, s, beta = _pnbd_individual(base, gp, gd, Zp, Zd)
    ll, (g_r, g_la, g_s, g_lb) = _paretonbd_rows(r, s, alpha, beta, rows, True)
    grad = np.concatenate([
        [w @ g_r, (w @ g_la) / base[1], w @ g_s, (w @ g_lb) / base[3]],
        -(Zp.T @ (w * g_la)),
        -(Zd.T @ (w * g_lb)),
    ])
    return float(w @ ll), grad


def paretonbd_loglik_and_gradient(params, frequency, recency, T, purchase_design=None,
                                  dropout_design=None, weights=None) -> tuple[float, np.ndarray]:
    """Total (weighted) log-likelihood of :func:`paretonbd_log_likelihood_rows` and its gradient.

    With respect to ``(r, alpha0, s, beta0, *gamma_p, *gamma_d)``; with
    ``g^alpha_i``, ``g^beta_i`` the derivatives of ``log L_i`` with respect to
    ``log alpha_i``, ``log beta_i``: ``d LL / d gamma_p = -sum_i w_i g^alpha_i
    z_i`` and ``d LL / d gamma_d = -sum_i w_i g^beta_i w_i``.

    Returns
    -------
    (float, ndarray)
    """
    (x, tx, T_, w), (Zp, Zd), (base, gp, gd) = _public_inputs(
        params, frequency, recency, T, purchase_design, dropout_design, weights, "Pareto/NBD")
    rows = _ParetoRows.build(x, tx, T_, _pattern_codes(np.column_stack([Zp, Zd])))
    return _pnbd_total(base, gp, gd, Zp, Zd, rows, w)




def _pnbd_alive_dead(r, alpha, s, beta, x, tx, T, pattern, want_dead):
    rows = _ParetoRows.build(x, tx, T, pattern)
    log_G, log_H, _, _ = _paretonbd_parts(r, s, alpha, beta, rows, False)
    log_G, log_H = log_G[rows.g_index], log_H[rows.h_index]
    log_total = np.logaddexp(log_G, log_H)
    log_A = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_alive = np.minimum(log_A - log_total, 0.0)
    if not want_dead:
        return log_alive, None
    h = rows.h_first
    log_JT = _log_tail_integral_rows(
        alpha[h], beta[h], _at(r, h) + x[h], np.broadcast_to(_at(s, h) + 1.0, h.shape), T[h]
    )[0][rows.h_index]
    log_Jtx = log_G - np.log(s)
    log_dead = log_G + log1mexp(np.minimum(log_JT - log_Jtx, 0.0)) - log_total
    return log_alive, log_dead




def paretonbd_probability_alive(r, alpha, s, beta, frequency, recency, T) -> np.ndarray:
    """Pareto/NBD ``P(alive | x, t_x, T)`` with per-customer ``alpha``, ``beta`` (note 009, eq. 36).

    ``(alpha_i+T)^-(r+x) (beta_i+T)^-s / [s J(r+x, s+1; t_x) + (r+x) J(r+x+1, s; T)]``;
    all arguments broadcast (``r`` and ``s`` too).
    """
    r, alpha, s, beta, x, tx, T = _rows(r, alpha, s, beta, frequency, recency, T)
    return _pnbd_alive(r, alpha, s, beta, x, tx, T, _pattern_of(r, alpha, s, beta))


def _pnbd_alive(r, alpha, s, beta, x, tx, T, pattern):
    return np.exp(_pnbd_alive_dead(r, alpha, s, beta, x, tx, T, pattern, False)[0])


def paretonbd_expected_purchases(r, alpha, s, beta, frequency, recency, T, t) -> np.ndarray:
    """Pareto/NBD ``E[Y(t) | x, t_x, T]`` with per-customer ``alpha``, ``beta`` (note 009, eq. 41).

    ``P(alive) (r+x)/(alpha_i+T) (beta_i+T)/(s-1) [1 - ((beta_i+T)/(beta_i+T+t))^(s-1)]``,
    the last factor computed as in :func:`clvmodels.models.paretonbd.expected_purchases`;
    all arguments broadcast (``r`` and ``s`` too).
    """
    r, alpha, s, beta, x, tx, T, t = _rows(r, alpha, s, beta, frequency, recency, T, t)
    return _pnbd_expected(r, alpha, s, beta, x, tx, T, t, _pattern_of(r, alpha, s, beta))


def _pnbd_expected(r, alpha, s, beta, x, tx, T, t, pattern):
    out = np.zeros(x.shape)
    pos = t > 0
    if np.any(pos):
        rp, al, sp, be, xp, Tp = r[pos], alpha[pos], s[pos], beta[pos], x[pos], T[pos]
        log_alive, _ = _pnbd_alive_dead(rp, al, sp, be, xp, tx[pos], Tp, pattern[pos], False)
        log_rate = np.log(rp + xp) - np.log(al + Tp)
        log_life = _pnbd.log_mean_lifetime_window(sp, be + Tp, t[pos])
        out[pos] = np.exp(log_alive + log_rate + log_life)
    return out


def paretonbd_log_conditional_pmf(r, alpha, s, beta, n, frequency, recency, T, t) -> np.ndarray:
    """Pareto/NBD ``log P(X(T, T+t) = n | x, t_x, T)`` with per-customer ``alpha``, ``beta``.

    See :func:`clvmodels.models.conditional_pmf.log_conditional_pmf_paretonbd`.
    """
    alpha, beta, n, x, tx, T, t = _rows(alpha, beta, n, frequency, recency, T, t)
    log_alive, log_dead = _pnbd_alive_dead(r, alpha, s, beta, x, tx, T,
                                           _pattern_of(alpha, beta), True)
    log_new = np.zeros(n.shape)
    pos = t > 0
    log_new[~pos & (n > 0)] = -np.inf
    if np.any(pos):
        log_new[pos] = _pnbd.log_pmf_new_customer_rows(
            r + x[pos], alpha[pos] + T[pos], s, beta[pos] + T[pos], n[pos], t[pos]
        )
    return combine_alive_dead(log_alive, log_dead, log_new, n)




def _paretonbd_dert(r, alpha, s, beta, frequency, recency, T, discount_rate):
    """Pareto/NBD DERT with per-customer ``alpha``, ``beta`` (FHL 2005, JMR, eq. 2)."""
    alpha, beta, x, tx, T = _rows(alpha, beta, frequency, recency, T)
    log_alive, _ = _pnbd_alive_dead(r, alpha, s, beta, x, tx, T, _pattern_of(alpha, beta),
                                    False)
    packed = compress([beta + T])
    log_life = _pnbd.log_discounted_lifetime(s, packed.columns[0],
                                             float(discount_rate))[packed.inverse]
    return np.exp(log_alive + np.log(r + x) - np.log(alpha + T) + log_life)



def _pnbd_draws_at(quantity, params, x, tx, T, Zp, Zd, **kwargs):
    """``expected_purchases`` or ``probability_alive`` at every (draw, row) pair at once.

    Each draw's covariate patterns are distinct patterns of the evaluation, so
    the tail integrals are evaluated once per pair and pattern; None for other
    quantities (evaluated draw by draw by the estimator).
    """
    if quantity not in ("expected_purchases", "probability_alive"):
        return None
    n_draws, n = params.shape[0], x.shape[0]
    kp = Zp.shape[1]
    lin_p = params[:, 4:4 + kp] @ Zp.T
    lin_d = params[:, 4 + kp:] @ Zd.T
    alpha = (params[:, 1:2] * np.exp(-lin_p)).ravel()
    s = np.broadcast_to(params[:, 2:3], (n_draws, n)).ravel()
    beta = (params[:, 3:4] * np.exp(-lin_d)).ravel()
    r = np.broadcast_to(params[:, 0:1], (n_draws, n)).ravel()
    xs, txs, Ts = (np.tile(v, n_draws) for v in (x, tx, T))
    codes = _pattern_codes(np.column_stack([Zp, Zd]))
    pattern = (np.arange(n_draws)[:, None] * (codes.max() + 1.0) + codes).ravel()
    if quantity == "probability_alive":
        values = _pnbd_alive(r, alpha, s, beta, xs, txs, Ts, pattern)
    else:
        t = np.broadcast_to(np.asarray(kwargs["t"], dtype=float), (n_draws, n)).ravel()
        values = _pnbd_expected(r, alpha, s, beta, xs, txs, Ts, t, pattern)
    return values.reshape(n_draws, n)


def _pnbd_simulate(p, T, rng):
    """One draw of ``(x, t_x)`` per customer at their own ``(r, alpha_i, s, beta_i)``.

    ``lambda ~ Gamma(r, alpha_i)``, ``mu ~ Gamma(s, beta_i)``, lifetime
    ``tau ~ Exponential(mu)``; ``x ~ Poisson(lambda min(tau, T))`` and the last
    purchase at ``min(tau, T) Beta(x, 1)``.
    """
    n = T.shape[0]
    r, alpha, s, beta = (np.broadcast_to(v, (n,)) for v in p)
    lam = rng.gamma(r, 1.0 / alpha)
    mu = rng.gamma(s, 1.0 / beta)
    tau = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    window = np.minimum(tau, T)
    x = rng.poisson(lam * window)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = window[has] * rng.beta(x[has], 1.0)
    return x, recency


class ParetoNBDCovariates(_CovariateModel, ParetoNBD):
    """Pareto/NBD with time-invariant covariates in the purchase and dropout processes.

    ``alpha_i = alpha0 exp(-gamma_purchase' z_i)``, ``beta_i = beta0
    exp(-gamma_dropout' w_i)`` (Fader & Hardie 2007, note 019, eq. 1-2; CLVTools'
    ``pnbd`` with static covariates): ``exp(gamma)`` multiplies the mean
    purchase rate ``r / alpha_i`` or the mean dropout rate ``s / beta_i``.

    Parameters
    ----------
    purchase_covariates, dropout_covariates, reference, penalizer, n_starts
        As for :class:`BGNBDCovariates`.

    Attributes
    ----------
    params_ : Series
        ``r, alpha0, s, beta0`` then the coefficients.
    coefficients_, covariate_encoding_, covariance_, log_likelihood_, fit_info_
        As for :class:`BGNBDCovariates`.
    """

    _param_names = ("r", "alpha0", "s", "beta0")
    _base_class = ParetoNBD

    # ---- the hooks of _CovariateModel: the Pareto/NBD's formulas at per-row parameters
    _individual = staticmethod(_pnbd_individual)
    _total = staticmethod(_pnbd_total)
    _draws_at = staticmethod(_pnbd_draws_at)
    _simulate = staticmethod(_pnbd_simulate)
    _quantities: ClassVar[dict[str, Any]] = {
        "expected_purchases": lambda p, x, tx, T, t: paretonbd_expected_purchases(
            *p, x, tx, T, t),
        "probability_alive": lambda p, x, tx, T: paretonbd_probability_alive(*p, x, tx, T),
        "expected_residual_transactions": lambda p, x, tx, T, discount_rate: _paretonbd_dert(
            *p, x, tx, T, discount_rate),
    }

    @staticmethod
    def _build_rows(x, tx, T, Zp, Zd):
        return _ParetoRows.build(x, tx, T, _pattern_codes(np.column_stack([Zp, Zd])))

    @staticmethod
    def _log_conditional_pmf(p, n, x, tx, T, t):
        return paretonbd_log_conditional_pmf(*p, n, x, tx, T, t)

    @staticmethod
    def _expected_new(p, t):
        r, alpha, s, beta = p
        alpha, beta, t = _rows(alpha, beta, t)
        out = np.zeros(t.shape)
        pos = t > 0
        out[pos] = r / alpha[pos] * np.exp(_pnbd.log_mean_lifetime_window(s, beta[pos], t[pos]))
        return out

    @staticmethod
    def _pmf_new(p, n, t):
        r, alpha, s, beta = p
        alpha, beta, n, t = _rows(alpha, beta, n, t)
        return _pnbd.log_pmf_new_customer_rows(np.full(n.shape, r), alpha, s, beta, n, t)

    def expected_residual_transactions(self, summary=None, discount_rate=None, *,
                                       interval=None, method="asymptotic", n_draws=1000,
                                       n_boot=200, random_state=None, progress=False,
                                       fit_summary=None, **columns):
        """Discounted expected residual transactions per customer, at their own parameters.

        ``P(alive) (r+x)/(alpha_i+T) E[1/(mu+delta)]`` with the posterior
        ``mu ~ Gamma(s, beta_i+T)`` (see
        :func:`clvmodels.models.paretonbd.expected_residual_transactions`).
        ``interval`` etc. as in :meth:`expected_purchases`.
        """
        if (discount_rate is None or isinstance(discount_rate, bool)
                or not (np.isfinite(discount_rate) and discount_rate > 0)):
            raise InvalidParameterError(
                "expected_residual_transactions() needs discount_rate > 0, the continuous "
                "discount rate per time unit (e.g. log(1.15) / 52 for 15% a year, weekly data)."
            )
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._predict("expected_residual_transactions", summary, columns, options,
                             discount_rate=float(discount_rate))


