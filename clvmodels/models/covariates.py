"""Time-invariant covariates for the BG/NBD and Pareto/NBD models.

Customer attributes known at acquisition (channel, region, the value of the
first purchase, ...) shift each customer's *prior*: the gamma **rate**
parameters become customer-specific, as in Fader & Hardie (2007), "Incorporating
time-invariant covariates into the Pareto/NBD and BG/NBD models"
(www.brucehardie.com/notes/019/), and in R's CLVTools (``pnbd``/``bgnbd`` with
static covariates). With ``z_i`` a customer's purchase covariates and ``w_i``
the dropout covariates (each a row of a design matrix, see below):

Pareto/NBD (:class:`ParetoNBDCovariates`, Fader & Hardie 2007, eq. 1-2)::

    alpha_i = alpha0 exp(-gamma_purchase' z_i)      lambda_i ~ Gamma(r, alpha_i)
    beta_i  = beta0  exp(-gamma_dropout' w_i)       mu_i     ~ Gamma(s, beta_i)

BG/NBD (:class:`BGNBDCovariates`)::

    alpha_i = alpha0 exp(-gamma_purchase' z_i)      lambda_i ~ Gamma(r, alpha_i)
    a_i = a0 exp(gamma_dropout' w_i),  b_i = b0 exp(gamma_dropout' w_i)
                                                    p_i ~ Beta(a_i, b_i)

How to read a coefficient. The mean purchase rate is ``r / alpha_i =
(r / alpha0) exp(gamma_purchase' z_i)``: ``exp(gamma)`` multiplies it (a
positive coefficient means more purchases), in both models; ``r`` (the shape,
i.e. the heterogeneity left after the covariates) is shared. In the
Pareto/NBD the mean dropout rate is ``s / beta_i = (s / beta0) exp(gamma_dropout'
w_i)``: a positive coefficient means shorter lifetimes. In the BG/NBD the
dropout probability has a Beta prior, which has no scale parameter; we follow
CLVTools and scale ``a`` and ``b`` by the same factor: the mean dropout
probability ``a / (a + b)`` is unchanged and ``exp(gamma)`` multiplies the
concentration ``a + b`` (a positive coefficient means customers more alike
in their dropout probability, and, when ``a0 > 1``, an expected number of
purchases before dropping out ``(a + b - 1) / (a - 1)`` that moves towards
``1 / E[p]``). We chose it because it is the parameterisation of the only
widely used implementation (so estimates can be compared with CLVTools) and
it keeps one coefficient per covariate, as for the other process; a user who
needs the mean dropout probability to move with a covariate should use the
Pareto/NBD, whose dropout covariates act on the mean rate.

With every coefficient at zero both models are the models without covariates
(checked to 1e-12 in the tests).

Design matrices
---------------
Numeric columns are used as they are (centre or rescale them yourself if you
want ``alpha0`` to describe an average customer); categorical columns (strings,
booleans, pandas ``category``) are one-hot encoded against a reference level:
the first level in sorted order (for a ``category`` column, the first of its
categories present in the data), or the one given in ``reference=``. Codes
stored as integers are numeric: convert them with ``astype(str)`` or
``astype("category")`` to treat them as levels. Levels are learned by ``fit``
and reused for prediction; a level not seen in fitting, a missing value, a
constant column and linearly dependent columns all raise
:class:`~clvmodels.errors.InvalidSummaryError` naming the column and the rows.

Computation
-----------
The likelihood of a customer is the model's likelihood evaluated at that
customer's own ``(alpha_i, a_i, b_i)`` or ``(alpha_i, beta_i)``; the pure
functions here evaluate it for per-row parameters with the same formulas and
numerical methods as :mod:`clvmodels.models.bgnbd` and
:mod:`clvmodels.models.paretonbd` (for the Pareto/NBD, the series / continued
fraction / quadrature of its tail integral, applied row by row), so that at
zero coefficients they reproduce those modules' values. The gradient with
respect to a coefficient follows by the chain rule: with ``g_i = d log L_i /
d log alpha_i``, ``d LL / d gamma_purchase = -sum_i w_i g_i z_i`` (and
similarly for the dropout process). Fitting compresses the data to the unique
``(frequency, recency, T, covariates)`` rows with counts as weights and, for the
Pareto/NBD, evaluates the tail integrals once per distinct ``(x, t_x)`` and
``(x, T)`` pair within each covariate pattern.

The optimizer of :mod:`clvmodels.models._fit` works on log-parameters. The
coefficients are passed to it as ``exp(gamma)`` (so its log-parameter *is*
``gamma``, unbounded in sign); the gradient is adapted accordingly. So the
covariance it returns (``_covariance_log``) is that of ``(log r, log alpha0,
..., gamma)``: log scale for the model's parameters, raw scale for the
coefficients; ``covariance_`` is on the natural scale (delta method for the
former, unchanged for the latter). The bounds of the search are
``|gamma| <= 18.4`` and a ``penalizer`` also shrinks the coefficients toward 0
(ridge).

Intervals
---------
``expected_purchases``, ``probability_alive`` (and the Pareto/NBD's
``expected_residual_transactions``) take ``interval=`` like the models without
covariates (:mod:`clvmodels.models.uncertainty`): the asymptotic draws are
``(log r, log alpha0, ., ., gamma) ~ Normal(estimate, _covariance_log)``, so the
coefficients are drawn on their raw scale (the machinery is handed a view of
the model on its optimizer's scale, :class:`_OptimizerScaleView`), and the
bootstrap refits on the unique ``(frequency, recency, T, covariates)`` rows
with multinomial weights. Each draw is evaluated at every customer's own
parameters, all draws and rows in one vectorised call.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import chdtrc, digamma, gammaln, ndtr, ndtri

from clvmodels.data._random import check_random_state
from clvmodels.errors import (
    ConvergenceWarning,
    InvalidParameterError,
    InvalidSummaryError,
    ModelFileError,
)
from clvmodels.models import bgnbd as _bgnbd
from clvmodels.models import conditional_pmf as _cpmf
from clvmodels.models import paretonbd as _pnbd
from clvmodels.models._checks import _SHOW, check_is_fitted, customer_arrays, validate_data
from clvmodels.models._fit import compress, fit_maximum_likelihood
from clvmodels.models._special import combine_alive_dead, log1mexp, log_nb_tail
from clvmodels.models.bgnbd import BGNBD, alive_purchases, log_beta, log_gamma_ratio
from clvmodels.models.paretonbd import ParetoNBD

__all__ = [
    "BGNBDCovariates",
    "ParetoNBDCovariates",
    "bgnbd_log_likelihood_rows",
    "bgnbd_loglik_and_gradient",
    "paretonbd_log_likelihood_rows",
    "paretonbd_loglik_and_gradient",
    "bgnbd_probability_alive",
    "bgnbd_expected_purchases",
    "bgnbd_log_conditional_pmf",
    "paretonbd_probability_alive",
    "paretonbd_expected_purchases",
    "paretonbd_log_conditional_pmf",
    "likelihood_ratio_test",
    "simulate_summary",
]


# ===========================================================================
# BG/NBD with one (alpha, a, b) per row
# ===========================================================================
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


# ===========================================================================
# Pareto/NBD with one (alpha, beta) per row
# ===========================================================================
#: Per-row ``alpha``, ``beta`` are handled by the Pareto/NBD module's own integral.
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


def _at(v, index):
    """``v[index]`` for a per-row array, ``v`` itself for a scalar."""
    return v[index] if np.ndim(v) else v


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


# ===========================================================================
# individual parameters and the public likelihood functions
# ===========================================================================
def _design(Z, n) -> np.ndarray:
    if Z is None:
        return np.zeros((n, 0))
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2 or Z.shape[0] != n:
        raise InvalidParameterError(
            f"a design matrix must have one row per customer ({n}), got shape {Z.shape}."
        )
    if not np.all(np.isfinite(Z)):
        raise InvalidParameterError("design matrices must be finite (no NaN or infinity).")
    return Z


def _split_params(params, k_p: int, k_d: int, model: str):
    p = np.asarray(params, dtype=float).reshape(-1)
    if p.shape[0] != 4 + k_p + k_d:
        raise InvalidParameterError(
            f"{model} with {k_p} purchase and {k_d} dropout covariate column(s) takes "
            f"{4 + k_p + k_d} parameters (4 of the model, then the purchase coefficients, then "
            f"the dropout coefficients), got {p.shape[0]}."
        )
    base, gp, gd = p[:4], p[4:4 + k_p], p[4 + k_p:]
    if not (np.all(np.isfinite(base)) and np.all(base > 0)):
        raise InvalidParameterError(f"{model} parameters must be finite and > 0, got {base}.")
    if not np.all(np.isfinite(p[4:])):
        raise InvalidParameterError(f"{model} coefficients must be finite, got {p[4:]}.")
    return base, gp, gd


def _bg_individual(base, gp, gd, Zp, Zd):
    r, alpha0, a0, b0 = base
    with np.errstate(over="ignore"):
        alpha = alpha0 * np.exp(-(Zp @ gp))
        scale = np.exp(Zd @ gd)
    return float(r), alpha, a0 * scale, b0 * scale


def _pnbd_individual(base, gp, gd, Zp, Zd):
    r, alpha0, s, beta0 = base
    with np.errstate(over="ignore"):
        alpha = alpha0 * np.exp(-(Zp @ gp))
        beta = beta0 * np.exp(-(Zd @ gd))
    return float(r), alpha, float(s), beta


def _summary_arrays(frequency, recency, T, weights, check):
    x, tx, T_ = (np.ravel(v).astype(float) for v in check(frequency, recency, T))
    if weights is None:
        w = np.ones(x.shape)
    else:
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InvalidParameterError(
                f"weights must be {x.shape[0]} finite numbers >= 0 (one per customer)."
            )
    return x, tx, T_, w


def _bg_check(frequency, recency, T):
    return customer_arrays(frequency, recency, T)


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
    x, tx, T_, _ = _summary_arrays(frequency, recency, T, None, _bg_check)
    Zp, Zd = _design(purchase_design, x.size), _design(dropout_design, x.size)
    base, gp, gd = _split_params(params, Zp.shape[1], Zd.shape[1], "BG/NBD")
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
    x, tx, T_, w = _summary_arrays(frequency, recency, T, weights, _bg_check)
    Zp, Zd = _design(purchase_design, x.size), _design(dropout_design, x.size)
    base, gp, gd = _split_params(params, Zp.shape[1], Zd.shape[1], "BG/NBD")
    return _bg_total(base, gp, gd, Zp, Zd, _BGRows.build(x, tx, T_, _pattern_codes(Zd)), w)


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
    x, tx, T_, _ = _summary_arrays(frequency, recency, T, None, customer_arrays)
    Zp, Zd = _design(purchase_design, x.size), _design(dropout_design, x.size)
    base, gp, gd = _split_params(params, Zp.shape[1], Zd.shape[1], "Pareto/NBD")
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
    x, tx, T_, w = _summary_arrays(frequency, recency, T, weights, customer_arrays)
    Zp, Zd = _design(purchase_design, x.size), _design(dropout_design, x.size)
    base, gp, gd = _split_params(params, Zp.shape[1], Zd.shape[1], "Pareto/NBD")
    rows = _ParetoRows.build(x, tx, T_, _pattern_codes(np.column_stack([Zp, Zd])))
    return _pnbd_total(base, gp, gd, Zp, Zd, rows, w)


def _pattern_codes(Z: np.ndarray) -> np.ndarray:
    if Z.shape[1] == 0:
        return np.zeros(Z.shape[0])
    return np.unique(Z, axis=0, return_inverse=True)[1].reshape(-1).astype(float)


# ===========================================================================
# predictions with per-customer parameters
# ===========================================================================
def _rows(*arrays):
    out = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in arrays))
    return [np.ravel(v) for v in out]


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


def _pattern_of(*params):
    """Codes of the distinct parameter combinations of the rows."""
    return pd.factorize(pd.MultiIndex.from_arrays(
        [np.broadcast_to(v, np.shape(params[0])) for v in params]))[0].astype(float)


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


# ===========================================================================
# encoding of covariate columns
# ===========================================================================
def _describe(index: pd.Index, positions: np.ndarray, column: str, values) -> str:
    shown = ", ".join(
        f"{index[i]!r} ({column}={values[i]!r})" for i in positions[:_SHOW]
    )
    more = f" and {positions.size - _SHOW} more" if positions.size > _SHOW else ""
    return f"{index.name or 'row'} {shown}{more}"


def _sorted_levels(values) -> list:
    levels = list(pd.unique(values))
    try:
        return sorted(levels)
    except TypeError:  # mixed types: sort by their text
        return sorted(levels, key=str)


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def _learn_encoding(frame: Mapping, names: list[str], reference: Mapping | None,
                    index: pd.Index) -> dict[str, dict]:
    """Kind, levels and reference level of each covariate column, from the fitting data."""
    reference = dict(reference or {})
    encoding = {}
    for name in names:
        col = pd.Series(frame[name]).reset_index(drop=True)
        _check_missing(col, name, index, "fit")
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if name in reference:
                raise InvalidParameterError(
                    f"reference={{{name!r}: {reference[name]!r}}}: column {name!r} is numeric and "
                    "used as it is; a reference level applies to categorical columns only "
                    "(convert it with .astype(str) to treat its values as levels)."
                )
            values = col.to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise InvalidSummaryError(
                    f"covariate column {name!r} is infinite in {bad.size} row(s): "
                    f"{_describe(index, bad, name, values)}. Replace these values."
                )
            if np.all(values == values[0]):
                raise InvalidSummaryError(
                    f"covariate column {name!r} has the same value ({values[0]!r}) for every "
                    "customer, so its coefficient cannot be told apart from the model's scale "
                    "parameter; drop it from the covariates."
                )
            encoding[name] = {"kind": "numeric", "levels": None, "reference": None}
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            present = set(col.dropna().unique())
            levels = [c for c in col.cat.categories if c in present]
        else:
            levels = _sorted_levels(col.to_numpy(dtype=object))
        levels = [_python(v) for v in levels]
        if len(levels) < 2:
            raise InvalidSummaryError(
                f"covariate column {name!r} has a single level ({levels[0]!r}) in the data, so "
                "it cannot explain differences between customers; drop it from the covariates."
            )
        ref = levels[0]
        if name in reference:
            ref = reference[name]
            if ref not in levels:
                raise InvalidParameterError(
                    f"reference level {ref!r} of column {name!r} does not occur in the data; "
                    f"its levels are {levels}."
                )
        encoding[name] = {"kind": "categorical", "levels": levels, "reference": _python(ref)}
    return encoding


def _check_missing(col: pd.Series, name: str, index: pd.Index, context: str) -> None:
    missing = np.flatnonzero(col.isna().to_numpy())
    if missing.size:
        raise InvalidSummaryError(
            f"{context}(): covariate column {name!r} is missing (NaN/None) for "
            f"{missing.size} of {len(col)} customers: "
            f"{_describe(index, missing, name, col.to_numpy())}."
            " Fill these values (e.g. with an explicit 'unknown' level) or drop the customers."
        )


def _column_labels(name: str, spec: dict) -> list[str]:
    if spec["kind"] == "numeric":
        return [name]
    return [f"{name}[{lvl}]" for lvl in spec["levels"] if lvl != spec["reference"]]


def _encode(frame: Mapping, names: list[str], encoding: dict, index: pd.Index,
            context: str) -> np.ndarray:
    """The design matrix of ``names`` (no intercept), as learned in ``encoding``."""
    n = len(index)
    blocks = []
    for name in names:
        spec = encoding[name]
        col = pd.Series(frame[name]).reset_index(drop=True)
        if len(col) != n:
            raise InvalidSummaryError(
                f"{context}(): covariate column {name!r} has {len(col)} values but the summary "
                f"has {n} customers."
            )
        _check_missing(col, name, index, context)
        if spec["kind"] == "numeric":
            try:
                values = col.to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise InvalidSummaryError(
                    f"{context}(): covariate column {name!r} was numeric when the model was "
                    f"fitted but holds non-numeric values here (dtype {col.dtype}); convert it "
                    "with pd.to_numeric."
                ) from None
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise InvalidSummaryError(
                    f"{context}(): covariate column {name!r} is infinite for "
                    f"{_describe(index, bad, name, values)}."
                )
            blocks.append(values[:, None])
            continue
        levels = spec["levels"]
        raw = col.to_numpy(dtype=object)
        codes = pd.Index(levels, dtype=object).get_indexer(pd.Index(raw, dtype=object))
        unknown = np.flatnonzero(codes < 0)
        if unknown.size:
            new = list(dict.fromkeys(_python(v) for v in raw[unknown]))[:_SHOW]
            raise InvalidSummaryError(
                f"{context}(): covariate column {name!r} has level(s) {new} that the model did "
                f"not see in fitting (known levels {levels}), in {unknown.size} row(s): "
                f"{_describe(index, unknown, name, raw)}. The model has no coefficient for them: "
                "map them to a known level or refit with these customers."
            )
        kept = [j for j, lvl in enumerate(levels) if lvl != spec["reference"]]
        blocks.append((codes[:, None] == np.asarray(kept)[None, :]).astype(float))
    if not blocks:
        return np.zeros((n, 0))
    return np.hstack(blocks)


def _check_rank(Z: np.ndarray, labels: list[str], process: str) -> None:
    """Raise when the columns and an intercept are linearly dependent (unidentified)."""
    if Z.shape[1] == 0:
        return
    X = np.column_stack([np.ones(Z.shape[0]), Z])
    X = X / np.maximum(np.abs(X).max(axis=0), 1e-300)
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        v = vt[-1]
        involved = [(["(intercept)"] + labels)[j] for j in np.flatnonzero(np.abs(v) > 1e-6)]
        raise InvalidSummaryError(
            f"the {process} covariate columns are linearly dependent (with the model's scale "
            f"parameter as intercept): {involved} combine to a constant, so their coefficients "
            "are not identified. Drop one of them (e.g. a numeric copy of a categorical column, "
            "or two columns that coincide in these data)."
        )


# ===========================================================================
# likelihood ratio test
# ===========================================================================
def likelihood_ratio_test(restricted, full) -> pd.Series:
    """Likelihood-ratio test of a model against a larger one that nests it.

    ``statistic = 2 (LL_full - LL_restricted)``, asymptotically chi-square with
    ``df`` = the difference in the number of parameters under the restricted
    model (Wilks' theorem), ``p_value = P(chi2_df > statistic)``. Typical use:
    the model with covariates against the same model without them, fitted on
    the same customers.

    Parameters
    ----------
    restricted, full : fitted models
        ``restricted`` must have fewer parameters and be fitted on the same
        number of customers (without penalizer).

    Returns
    -------
    Series
        ``statistic``, ``df``, ``p_value``, ``log_likelihood_restricted``,
        ``log_likelihood_full``.
    """
    for m, what in ((restricted, "restricted"), (full, "full")):
        check_is_fitted(m, "likelihood_ratio_test")
        if not np.isfinite(m.log_likelihood_):
            raise InvalidParameterError(
                f"the {what} model has no log-likelihood (built with from_params?); fit it first."
            )
        if float(getattr(m, "penalizer", 0.0) or 0.0) > 0:
            raise InvalidParameterError(
                f"the {what} model was fitted with penalizer={m.penalizer}: a penalised fit is "
                "not a maximum-likelihood fit, so the test does not apply; refit with penalizer=0."
            )
    if restricted.n_customers_ != full.n_customers_:
        raise InvalidParameterError(
            f"the models were fitted on different data ({restricted.n_customers_} and "
            f"{full.n_customers_} customers); fit both on the same summary."
        )
    df = len(full.params_) - len(restricted.params_)
    if df <= 0:
        raise InvalidParameterError(
            f"the full model must have more parameters than the restricted one (got "
            f"{len(full.params_)} and {len(restricted.params_)}); pass (restricted, full)."
        )
    stat = 2.0 * (full.log_likelihood_ - restricted.log_likelihood_)
    return pd.Series(
        {
            "statistic": stat,
            "df": df,
            "p_value": float(chdtrc(df, max(stat, 0.0))),
            "log_likelihood_restricted": restricted.log_likelihood_,
            "log_likelihood_full": full.log_likelihood_,
        },
        name="likelihood_ratio_test",
    )


def _objective(kind: str, kp: int):
    """``(loglik_and_gradient, prepare)`` for :func:`~clvmodels.models._fit.fit_maximum_likelihood`.

    The data columns are ``(x, t_x, T, *purchase design, *dropout design)``
    (``kp`` purchase columns). The optimizer passes the coefficients as
    ``theta = exp(gamma)`` (its log-parameter is the coefficient), so the
    gradient with respect to them is ``dLL/dgamma / theta``.
    """

    def prepare(x, tx, T, *z):
        Z = np.column_stack(z) if z else np.zeros((x.size, 0))
        Zp, Zd = Z[:, :kp], Z[:, kp:]
        if kind == "paretonbd":
            rows = _ParetoRows.build(x, tx, T, _pattern_codes(Z))
        else:
            rows = _BGRows.build(x, tx, T, _pattern_codes(Zd))
        return ((Zp, Zd, rows),)

    def loglik_and_gradient(theta, prepared, weights):
        Zp, Zd, rows = prepared
        gamma = np.log(theta[4:])
        gp, gd = gamma[:kp], gamma[kp:]
        if kind == "paretonbd":
            ll, grad = _pnbd_total(theta[:4], gp, gd, Zp, Zd, rows, weights)
        else:
            ll, grad = _bg_total(theta[:4], gp, gd, Zp, Zd, rows, weights)
        grad = grad.copy()
        grad[4:] /= theta[4:]
        return ll, grad

    return loglik_and_gradient, prepare


def _to_optimizer_scale(params) -> np.ndarray:
    """``(r, alpha0, ., ., *gamma)`` -> ``(r, alpha0, ., ., *exp(gamma))`` (all positive)."""
    p = np.array(params, dtype=float)
    p[..., 4:] = np.exp(p[..., 4:])
    return p


def _from_optimizer_scale(theta) -> np.ndarray:
    p = np.array(theta, dtype=float)
    p[..., 4:] = np.log(p[..., 4:])
    return p


# ===========================================================================
# estimators
# ===========================================================================
class _CovariateModel:
    """What :class:`BGNBDCovariates` and :class:`ParetoNBDCovariates` share (a mixin)."""

    _base_class: ClassVar[type]
    _model_label: ClassVar[str]
    _dropout_sign: ClassVar[float]

    def __init__(self, purchase_covariates: Sequence[str] | None = None,
                 dropout_covariates: Sequence[str] | None = None,
                 reference: Mapping[str, Any] | None = None,
                 penalizer: float = 0.0, n_starts: int = 3):
        self.purchase_covariates = purchase_covariates
        self.dropout_covariates = dropout_covariates
        self.reference = reference
        self.penalizer = penalizer
        self.n_starts = n_starts

    # ------------------------------------------------------------ hyperparameters
    def _covariate_lists(self) -> tuple[list[str], list[str]]:
        out = []
        for arg in ("purchase_covariates", "dropout_covariates"):
            value = getattr(self, arg)
            if value is None:
                out.append([])
                continue
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise InvalidParameterError(
                    f"{arg} must be a list of column names, got {value!r} "
                    f"(e.g. {arg}=['channel'])."
                )
            value = list(value)
            dup = sorted({v for v in value if value.count(v) > 1})
            if dup:
                raise InvalidParameterError(f"{arg} names {dup} more than once.")
            out.append(value)
        return out[0], out[1]

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        purchase, dropout = self._covariate_lists()
        ref = self.reference
        if ref is not None:
            if not isinstance(ref, Mapping):
                raise InvalidParameterError(
                    f"reference must be a mapping column -> level, got {ref!r} "
                    "(e.g. reference={'channel': 'shop'})."
                )
            unknown = [c for c in ref if c not in purchase and c not in dropout]
            if unknown:
                raise InvalidParameterError(
                    f"reference names column(s) {unknown} that are not covariates of this model "
                    f"(purchase {purchase}, dropout {dropout})."
                )

    @property
    def covariate_columns(self) -> list[str]:
        """Every column the model reads besides frequency, recency and T (in order)."""
        purchase, dropout = self._covariate_lists()
        return list(dict.fromkeys(purchase + dropout))

    # ------------------------------------------------------------ data
    def _split_columns(self, summary, columns: dict) -> dict:
        """Take the covariate columns from the keyword arguments or the summary."""
        values = {}
        for name in self.covariate_columns:
            if name in columns:
                values[name] = columns.pop(name)
            elif isinstance(summary, pd.DataFrame) and name in summary.columns:
                values[name] = summary[name]
            elif isinstance(summary, Mapping) and name in summary:
                values[name] = summary[name]
        missing = [c for c in self.covariate_columns if c not in values]
        if missing:
            have = list(summary.columns) if isinstance(summary, pd.DataFrame) else sorted(columns)
            raise InvalidSummaryError(
                f"the summary lacks the covariate column(s) {missing} of this "
                f"{type(self).__name__} (it has {have}). Join the customer attributes to the "
                "summary by customer id (summary.join(attributes)), or pass them by keyword."
            )
        return values

    def _designs(self, values, index, context, encoding=None):
        purchase, dropout = self._covariate_lists()
        encoding = encoding if encoding is not None else self.covariate_encoding_
        Zp = _encode(values, purchase, encoding, index, context)
        Zd = _encode(values, dropout, encoding, index, context)
        return Zp, Zd

    def _labels(self, encoding) -> tuple[list[str], list[str]]:
        purchase, dropout = self._covariate_lists()
        lp = [f"purchase:{lab}" for c in purchase for lab in _column_labels(c, encoding[c])]
        ld = [f"dropout:{lab}" for c in dropout for lab in _column_labels(c, encoding[c])]
        return lp, ld

    # ------------------------------------------------------------ fit
    def fit(self, summary=None, *, weights=None, **columns):
        """Estimate the model's parameters and the covariate coefficients by maximum likelihood.

        Parameters
        ----------
        summary : DataFrame
            One row per customer: frequency, recency, T and the covariate
            columns (``purchase_covariates`` and ``dropout_covariates``).
        weights : array_like or str, optional
            Customers each row stands for (or a column name).
        **columns : array_like
            Any of these columns by keyword instead.

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        columns = dict(columns)
        values = self._split_columns(summary, columns)
        data, index = validate_data(self, summary, columns, context="fit")
        w = self._weights(summary, weights, len(index))
        purchase, dropout = self._covariate_lists()
        encoding = _learn_encoding(values, self.covariate_columns, self.reference, index)
        Zp, Zd = self._designs(values, index, "fit", encoding)
        lp, ld = self._labels(encoding)
        _check_rank(Zp, [lab.split(":", 1)[1] for lab in lp], "purchase")
        _check_rank(Zd, [lab.split(":", 1)[1] for lab in ld], "dropout")
        arrays = tuple(data[c] for c in self._data_columns)
        base_cls = self._base_class
        kp, kd = Zp.shape[1], Zd.shape[1]
        names = (*self._param_names, *lp, *ld)

        # start from the model without covariates (its optimum, coefficients 0)
        base_starts = [np.asarray(s, dtype=float) for s in base_cls._start_values(self, *arrays,
                                                                                   weights=w)]
        base_ll = float("nan")
        try:
            base = fit_maximum_likelihood(
                base_cls._loglik_and_gradient, arrays, self._param_names,
                base_starts[: max(1, int(self.n_starts))], weights=w,
                penalizer=float(self.penalizer), log_bounds=self._log_bounds,
                prepare=base_cls._prepare_data, warn=False,
            )
            base_starts[0] = base.params
            base_ll = base.log_likelihood
        except InvalidParameterError:
            pass
        starts = [np.concatenate([s, np.ones(kp + kd)]) for s in base_starts]

        loglik_and_gradient, prepare = _objective(self._kind, kp)
        design = np.column_stack([Zp, Zd]) if kp + kd else np.zeros((len(index), 0))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fit_maximum_likelihood(
                loglik_and_gradient, (*arrays, *design.T), names,
                starts[: max(1, int(self.n_starts))], weights=w,
                penalizer=float(self.penalizer), log_bounds=self._log_bounds, prepare=prepare,
            )
        self._reissue(caught, result, names)
        k = len(names)
        theta = np.asarray(result.params, dtype=float)
        estimates = _from_optimizer_scale(theta)
        self.params_ = pd.Series(estimates, index=pd.Index(names, name="parameter"),
                                 name="estimate")
        jac = np.concatenate([theta[:4], np.ones(k - 4)])
        cov_log = np.asarray(result.covariance_log, dtype=float)
        self.covariance_ = pd.DataFrame(cov_log * np.outer(jac, jac), index=list(names),
                                        columns=list(names))
        self._covariance_log = cov_log
        self.covariate_encoding_ = encoding
        self._set_fit_facts(result)
        self.fit_info_["log_likelihood_without_covariates"] = base_ll
        unit = summary.attrs.get("time_unit") if isinstance(summary, pd.DataFrame) else None
        self.time_unit_ = None if unit is None else str(unit)
        return self

    @staticmethod
    def _reissue(caught, result, names) -> None:
        """Pass the fit's warnings on; a coefficient at a bound gets its own diagnosis.

        The optimizer sees a coefficient as the logarithm of a positive number, so its
        generic message would show ``exp(gamma)``; here the coefficient itself is named.
        """
        coefs_at_bound = [n for n in result.at_bound if n in names[4:]]
        for item in caught:
            if coefs_at_bound and issubclass(item.category, ConvergenceWarning):
                continue
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        if coefs_at_bound:
            values = {n: round(float(np.log(result.params[names.index(n)])), 2)
                      for n in coefs_at_bound}
            others = [n for n in result.at_bound if n not in coefs_at_bound]
            warnings.warn(
                f"The fit did not converge: coefficient(s) {values} ran to the edge of the "
                "search region (|gamma| <= 18.4). The data push them to infinity, typically "
                "because a level's customers all behave alike (e.g. none made a repeat "
                "purchase: 'separation'), so their estimates and standard errors are not "
                "meaningful. Merge that level with another, drop the covariate, or refit "
                "with a small penalizer (which also shrinks the coefficients)."
                + (f" Parameters {others} are at a bound too." if others else ""),
                ConvergenceWarning,
                stacklevel=3,
            )

    def _draw_log_scale(self) -> np.ndarray:
        """Which parameters are drawn on the log scale by the interval machinery.

        The four base parameters are (as in the fit); the coefficients are drawn on
        their own scale, ``gamma* ~ Normal(gamma_hat, .)``, as the fit's covariance of
        ``(log r, log alpha0, ., ., gamma)`` describes them (used by
        :func:`clvmodels.models.uncertainty.draw_parameters`, e.g. for CLV intervals).
        """
        mask = np.zeros(len(self.params_), dtype=bool)
        mask[:4] = True
        return mask

    # ------------------------------------------------------------ results
    @property
    def coefficients_(self) -> pd.Series:
        """The covariate coefficients (purchase then dropout), by name."""
        check_is_fitted(self, "coefficients_")
        return self.params_.iloc[4:]

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Estimates, standard errors, confidence intervals; z and p-values for the coefficients.

        The model's parameters (all positive) have intervals formed on the log
        scale, as in the models without covariates. Each coefficient has the
        Wald interval ``gamma +/- z se`` and the test of ``gamma = 0``
        (``z_value = gamma / se``, two-sided ``p_value``); these two columns are
        NaN for the model's parameters.

        Parameters
        ----------
        alpha : float, default 0.05
            1 - confidence level.

        Returns
        -------
        DataFrame
            Columns ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``,
            ``z_value``, ``p_value``; ``attrs`` as for the other models plus
            ``log_likelihood_without_covariates``.
        """
        check_is_fitted(self, "summary")
        if not 0 < alpha < 1:
            raise InvalidParameterError(f"alpha must be between 0 and 1, got {alpha!r}.")
        z = ndtri(1 - alpha / 2)
        est = self.params_.to_numpy(dtype=float)
        cov = self.covariance_.to_numpy(dtype=float)
        se = np.sqrt(np.diag(cov))
        se_log = np.sqrt(np.diag(self._covariance_log))
        coef = np.arange(len(est)) >= 4
        lower = np.where(coef, est - z * se, est * np.exp(-z * se_log))
        upper = np.where(coef, est + z * se, est * np.exp(z * se_log))
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = np.where(coef, est / se, np.nan)
        table = pd.DataFrame(
            {"estimate": est, "std_error": se, "ci_lower": lower, "ci_upper": upper,
             "z_value": zval, "p_value": np.where(coef, 2.0 * ndtr(-np.abs(zval)), np.nan)},
            index=pd.Index(list(self.params_.index), name="parameter"),
        )
        table.attrs = {
            "model": type(self).__name__,
            "log_likelihood": self.log_likelihood_,
            "aic": self.aic,
            "bic": self.bic,
            "n_customers": self.n_customers_,
            "converged": self.converged_,
            "time_unit": self.time_unit_,
            **{k: v for k, v in self.fit_info_.items() if k != "start_log_likelihoods"},
        }
        return table

    def likelihood_ratio_test(self) -> pd.Series:
        """Test of all coefficients = 0 against the same model without covariates.

        Uses the fit of the model without covariates made on the same data by
        :meth:`fit` (``fit_info_["log_likelihood_without_covariates"]``); see
        :func:`likelihood_ratio_test` for the statistic.

        Returns
        -------
        Series
            ``statistic``, ``df``, ``p_value``, ``log_likelihood_restricted``,
            ``log_likelihood_full``.
        """
        check_is_fitted(self, "likelihood_ratio_test")
        base_ll = (self.fit_info_ or {}).get("log_likelihood_without_covariates")
        restricted = self._base_class.from_params(
            **dict(zip(self._base_class._param_names, self.params_.iloc[:4], strict=True))
        )
        restricted.log_likelihood_ = float("nan") if base_ll is None else float(base_ll)
        restricted.n_customers_ = self.n_customers_
        return likelihood_ratio_test(restricted, self)

    # ------------------------------------------------------------ from_params
    @classmethod
    def from_params(cls, *, time_unit: str | None = None, purchase_covariates=None,
                    dropout_covariates=None, levels: Mapping[str, Sequence] | None = None,
                    reference: Mapping[str, Any] | None = None,
                    coefficients: Mapping[str, float] | None = None, **params: float):
        """A model with given parameters and coefficients, ready to predict (or to simulate from).

        Parameters
        ----------
        time_unit : str, optional
        purchase_covariates, dropout_covariates : list of str, optional
            Covariate columns, as in the constructor.
        levels : mapping column -> list, optional
            The levels of each categorical column (the others are numeric); the
            reference is the first in sorted order unless given in ``reference``.
        reference : mapping column -> level, optional
        coefficients : mapping name -> float
            One value per coefficient, named as in ``params_`` of a fitted model
            (``"purchase:channel[web]"``, ``"dropout:age"``); missing ones are 0.
        **params : float
            The model's parameters (``r, alpha0, a0, b0`` or ``r, alpha0, s, beta0``).

        Returns
        -------
        model
        """
        model = cls(purchase_covariates=purchase_covariates,
                    dropout_covariates=dropout_covariates, reference=reference)
        model._check_hyperparameters()
        base = cls._base_class.from_params(
            time_unit=time_unit,
            **{b: params.pop(m) for b, m in zip(cls._base_class._param_names, cls._param_names,
                                                 strict=True) if m in params},
        ) if all(m in params for m in cls._param_names) else None
        if base is None or params:
            raise InvalidParameterError(
                f"{cls.__name__}.from_params needs exactly the parameters "
                f"{list(cls._param_names)} (coefficients go in coefficients=...); got "
                f"unknown {sorted(params)}."
            )
        levels = dict(levels or {})
        encoding = {}
        ref = dict(reference or {})
        for name in model.covariate_columns:
            if name in levels:
                lv = [_python(v) for v in _sorted_levels(np.asarray(levels[name], dtype=object))]
                r0 = ref.get(name, lv[0])
                if r0 not in lv or len(lv) < 2:
                    raise InvalidParameterError(
                        f"levels[{name!r}] = {lv} must hold at least two levels including the "
                        f"reference {r0!r}."
                    )
                encoding[name] = {"kind": "categorical", "levels": lv, "reference": r0}
            else:
                encoding[name] = {"kind": "numeric", "levels": None, "reference": None}
        lp, ld = model._labels(encoding)
        coefficients = dict(coefficients or {})
        unknown = sorted(set(coefficients) - set(lp + ld))
        if unknown:
            raise InvalidParameterError(
                f"unknown coefficient(s) {unknown}; this model's coefficients are {lp + ld}."
            )
        gammas = [float(coefficients.get(k, 0.0)) for k in lp + ld]
        if not all(np.isfinite(gammas)):
            raise InvalidParameterError(f"coefficients must be finite, got {coefficients}.")
        names = [*cls._param_names, *lp, *ld]
        values = np.concatenate([base.params_.to_numpy(dtype=float), gammas])
        model.params_ = pd.Series(values, index=pd.Index(names, name="parameter"),
                                  name="estimate")
        k = len(names)
        model.log_likelihood_ = float("nan")
        model.n_customers_ = 0
        model.converged_ = None
        model.covariance_ = pd.DataFrame(np.full((k, k), np.nan), index=names, columns=names)
        model._covariance_log = np.full((k, k), np.nan)
        model.fit_info_ = {"message": "parameters given by from_params, not fitted"}
        model.time_unit_ = time_unit
        model.covariate_encoding_ = encoding
        return model

    # ------------------------------------------------------------ save / load
    def to_dict(self) -> dict:
        """The JSON description written by :meth:`save`.

        The generic fields (``params``, ``covariance``, ``covariance_log``) hold
        the model's four parameters, so any reader of model files understands
        them; ``covariates`` holds the coefficients, the encoding of each
        column (kind, levels, reference) and the full covariance matrices.
        """
        d = super().to_dict()
        names = list(self.params_.index)
        cov = self.covariance_.to_numpy(dtype=float)
        cov_log = np.asarray(self._covariance_log, dtype=float)
        d["params"] = {k: float(v) for k, v in self.params_.iloc[:4].items()}
        d["covariance"] = cov[:4, :4].tolist() if np.all(np.isfinite(cov)) else None
        d["covariance_log"] = cov_log[:4, :4].tolist() if np.all(np.isfinite(cov_log)) else None
        d["covariates"] = {
            "names": names,
            "coefficients": {k: float(v) for k, v in self.params_.iloc[4:].items()},
            "encoding": self.covariate_encoding_,
            "covariance": cov.tolist() if np.all(np.isfinite(cov)) else None,
            "covariance_log": cov_log.tolist() if np.all(np.isfinite(cov_log)) else None,
        }
        return d

    @classmethod
    def _from_dict(cls, d: dict):
        model = super()._from_dict(d)
        block = d.get("covariates")
        model._check_hyperparameters()

        def fail(what):
            raise ModelFileError(f"{cls.__name__} model file: {what}")

        if not isinstance(block, dict):
            fail("the 'covariates' section (coefficients and encoding) is missing.")
        encoding = block.get("encoding")
        if not isinstance(encoding, dict) or sorted(encoding) != sorted(model.covariate_columns):
            fail(f"'encoding' must describe exactly the columns {model.covariate_columns}, got "
                 f"{encoding!r}.")
        for name, spec in encoding.items():
            ok = isinstance(spec, dict) and spec.get("kind") in ("numeric", "categorical")
            if ok and spec["kind"] == "categorical":
                lv = spec.get("levels")
                ok = isinstance(lv, list) and len(lv) >= 2 and spec.get("reference") in lv
            if not ok:
                fail(f"the encoding of column {name!r} is not valid: {spec!r}.")
        lp, ld = model._labels(encoding)
        names = [*cls._param_names, *lp, *ld]
        coefs = block.get("coefficients")
        if block.get("names") != names or not isinstance(coefs, dict) or sorted(coefs) != sorted(
                lp + ld):
            fail(f"the coefficient names do not match the encoding (expected {names}).")
        values = [coefs[k] for k in lp + ld]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in values):
            fail(f"coefficients must be finite numbers, got {values}.")
        k = len(names)
        mats = []
        for key in ("covariance", "covariance_log"):
            m = block.get(key)
            if m is None:
                mats.append(np.full((k, k), np.nan))
                continue
            try:
                arr = np.array(m, dtype=float)
            except (TypeError, ValueError):
                arr = None
            if arr is None or arr.shape != (k, k) or not np.all(np.isfinite(arr)):
                fail(f"covariates.{key} must be a finite {k}x{k} matrix or null.")
            if np.max(np.abs(arr - arr.T)) > 1e-12 * max(float(np.max(np.abs(arr))), 1e-300):
                fail(f"covariates.{key} is not symmetric.")
            mats.append(arr)
        model.params_ = pd.Series(
            np.concatenate([model.params_.to_numpy(dtype=float), values]),
            index=pd.Index(names, name="parameter"), name="estimate",
        )
        model.covariance_ = pd.DataFrame(mats[0], index=names, columns=names)
        model._covariance_log = mats[1]
        model.covariate_encoding_ = encoding
        return model

    # ------------------------------------------------------------ prediction
    def _individual_data(self, summary, method: str, columns: dict):
        """Checked data, index and each customer's parameters ``(r, alpha_i, ., .)``."""
        check_is_fitted(self, method)
        columns = dict(columns)
        values = self._split_columns(summary, columns)
        data, index = self._prediction_data(summary, method, **columns)
        Zp, Zd = self._designs(values, index, method)
        return data, index, self._checked_individual(Zp, Zd, index, method)

    def _checked_individual(self, Zp, Zd, index, method):
        """Each row's parameters; an error when the coefficients push one out of (0, inf)."""
        p = self._individual_params(Zp, Zd)
        names = self._base_class._param_names
        for name, v in zip(names, p, strict=True):
            bad = np.flatnonzero(~(np.isfinite(v) & (np.asarray(v) > 0)).reshape(-1))
            if bad.size:
                raise InvalidParameterError(
                    f"{method}(): the coefficients give {name} = "
                    f"{float(np.ravel(v)[bad[0]])!r} (not a finite positive number) for "
                    f"{bad.size} customer(s), first "
                    f"{index[bad[0]]!r}: their covariate values times the coefficients overflow. "
                    "Check the covariate's scale (rescale large numeric columns) and the model's "
                    "coefficients."
                )
        return p

    def _individual_params(self, Zp, Zd, params=None):
        p = self._params_array() if params is None else np.asarray(params, dtype=float)
        kp = Zp.shape[1]
        fn = _pnbd_individual if self._kind == "paretonbd" else _bg_individual
        return fn(p[:4], p[4:4 + kp], p[4 + kp:], Zp, Zd)

    def _covariate_frame(self, covariates, method: str):
        """Designs of a frame of covariates alone (for the new-customer quantities)."""
        check_is_fitted(self, method)
        if covariates is None and not self.covariate_columns:
            covariates = pd.DataFrame(index=pd.RangeIndex(1))
        if not isinstance(covariates, pd.DataFrame):
            raise InvalidSummaryError(
                f"{method}() of a model with covariates needs covariates=DataFrame with the "
                f"columns {self.covariate_columns} (one row per kind of new customer); got "
                f"{type(covariates).__name__}."
            )
        values = self._split_columns(covariates, {})
        index = covariates.index
        Zp, Zd = self._designs(values, index, method)
        return index, self._checked_individual(Zp, Zd, index, method)

    def individual_params(self, summary=None, **columns) -> pd.DataFrame:
        """Each customer's own model parameters implied by the covariates.

        Returns
        -------
        DataFrame
            Indexed like the summary; columns ``r, alpha, a, b`` (BG/NBD) or
            ``r, alpha, s, beta`` (Pareto/NBD).
        """
        _, index, p = self._individual_data(summary, "individual_params", columns)
        names = self._base_class._param_names
        return pd.DataFrame({n: np.broadcast_to(v, (len(index),)) for n, v in zip(names, p,
                                                                                  strict=True)},
                            index=index)

    def conditional_log_probability_of_purchases(self, summary, counts, t) -> np.ndarray:
        """log P(X(T, T + t) = counts[i] | history, covariates) per customer.

        See :mod:`clvmodels.models.conditional_pmf`; here at each customer's
        own parameters.
        """
        data, index, p = self._individual_data(
            summary, "conditional_log_probability_of_purchases", {})
        counts = _cpmf.counts_in_summary_order(counts, summary, index)
        bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
        if np.any(bad):
            raise InvalidParameterError(
                f"counts must hold whole numbers >= 0; position {int(np.flatnonzero(bad)[0])} "
                "is not."
            )
        if isinstance(t, pd.Series):
            t = t.reindex(index)
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidParameterError("the horizon t must be finite and >= 0.")
        fn = (paretonbd_log_conditional_pmf if self._kind == "paretonbd"
              else bgnbd_log_conditional_pmf)
        return fn(*p, counts, data["frequency"], data["recency"], data["T"], t)

    def _quantity(self, quantity: str, p, x, tx, T, **kwargs) -> np.ndarray:
        """One prediction for every row at the rows' own parameters ``p``."""
        pnbd = self._kind == "paretonbd"
        if quantity == "expected_purchases":
            fn = paretonbd_expected_purchases if pnbd else bgnbd_expected_purchases
            return fn(*p, x, tx, T, kwargs["t"])
        if quantity == "probability_alive":
            fn = paretonbd_probability_alive if pnbd else bgnbd_probability_alive
            return fn(*p, x, tx, T)
        if quantity == "expected_residual_transactions" and pnbd:
            return _paretonbd_dert(*p, x, tx, T, kwargs["discount_rate"])
        raise InvalidParameterError(
            f"{type(self).__name__} has no interval for {quantity!r}; intervals are available "
            "for expected_purchases and probability_alive"
            + (" and expected_residual_transactions." if pnbd else ".")
        )

    def _predict(self, quantity, summary, columns, options, **kwargs):
        data, index, p = self._individual_data(summary, quantity, columns)
        values = self._quantity(quantity, p, data["frequency"], data["recency"], data["T"],
                                **kwargs)
        estimate = pd.Series(values, index=index, name=quantity)
        return self._with_interval(estimate, quantity, summary, columns, options, **kwargs)

    def expected_purchases(self, summary=None, t=1.0, *, interval=None, method="asymptotic",
                           n_draws=1000, n_boot=200, random_state=None, progress=False,
                           fit_summary=None, **columns):
        """Expected purchases of each customer in the next ``t`` time units (own parameters).

        Parameters
        ----------
        summary : DataFrame
            frequency, recency, T and the covariate columns.
        t : float or array_like, default 1
        interval : float in (0, 1), optional
            Also return a parameter-uncertainty interval at this level (the
            coefficients' uncertainty included); see
            :mod:`clvmodels.models.uncertainty` for what it covers.
        method, n_draws, n_boot, random_state, progress, fit_summary
            As for :meth:`clvmodels.models.bgnbd.BGNBD.expected_purchases`;
            ``fit_summary`` (bootstrap) needs the covariate columns too.
        **columns : array_like
            Columns by keyword instead.

        Returns
        -------
        Series named ``expected_purchases`` indexed like the summary; with
        ``interval``, a DataFrame with ``expected_purchases``,
        ``expected_purchases_lower`` and ``expected_purchases_upper``.
        """
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidParameterError(f"the horizon t must be finite and >= 0, got {t!r}.")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._predict("expected_purchases", summary, columns, options, t=t)

    def probability_alive(self, summary=None, *, interval=None, method="asymptotic",
                          n_draws=1000, n_boot=200, random_state=None, progress=False,
                          fit_summary=None, **columns):
        """P(alive at T) of each customer, at their own parameters.

        Parameters
        ----------
        summary : DataFrame
            frequency, recency, T and the covariate columns.
        interval, method, n_draws, n_boot, random_state, progress, fit_summary
            Parameter-uncertainty interval, as in :meth:`expected_purchases`.

        Returns
        -------
        Series named ``probability_alive`` indexed like the summary (with
        ``interval``, a DataFrame with ``_lower``/``_upper`` columns).
        """
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._predict("probability_alive", summary, columns, options)

    # ------------------------------------------------------------ interval hooks
    def _interval_data(self, summary, method: str, **columns):
        """frequency, recency, T and the encoded design columns (``purchase_j``, ``dropout_j``)."""
        columns = dict(columns)
        values = self._split_columns(summary, columns)
        data, index = self._prediction_data(summary, method, **columns)
        Zp, Zd = self._designs(values, index, method)
        out = {c: np.asarray(data[c], dtype=float) for c in self._data_columns}
        out.update({f"purchase_{j}": Zp[:, j] for j in range(Zp.shape[1])})
        out.update({f"dropout_{j}": Zd[:, j] for j in range(Zd.shape[1])})
        return out, index

    def _predict_with_params(self, quantity: str, params: np.ndarray, data: dict, **kwargs):
        """``quantity`` at each parameter vector (raw-scale coefficients) for each row of ``data``.

        One vectorised evaluation over the rows per parameter vector.
        """
        x, tx, T = data["frequency"], data["recency"], data["T"]
        n = x.shape[0]

        def design(prefix):
            cols = [data[k] for k in sorted((k for k in data if k.startswith(prefix)),
                                            key=lambda k: int(k.rsplit("_", 1)[1]))]
            return np.column_stack(cols) if cols else np.zeros((n, 0))

        Zp, Zd = design("purchase_"), design("dropout_")
        params = np.atleast_2d(np.asarray(params, dtype=float))
        n_draws = params.shape[0]
        if quantity not in ("expected_purchases", "probability_alive"):
            out = np.empty((n_draws, n))
            with np.errstate(over="ignore"):
                for i, theta in enumerate(params):
                    p = self._individual_params(Zp, Zd, params=theta)
                    out[i] = self._quantity(quantity, p, x, tx, T, **kwargs)
            return out
        # every (draw, row) pair is one row of a single vectorised evaluation
        kp = Zp.shape[1]
        with np.errstate(over="ignore"):
            lin_p = params[:, 4:4 + kp] @ Zp.T
            lin_d = params[:, 4 + kp:] @ Zd.T
            alpha = (params[:, 1:2] * np.exp(-lin_p)).ravel()
            if self._kind == "paretonbd":
                second = np.broadcast_to(params[:, 2:3], (n_draws, n)).ravel()
                fourth = (params[:, 3:4] * np.exp(-lin_d)).ravel()
            else:
                scale = np.exp(lin_d)
                second = (params[:, 2:3] * scale).ravel()
                fourth = (params[:, 3:4] * scale).ravel()
        r = np.broadcast_to(params[:, 0:1], (n_draws, n)).ravel()
        xs, txs, Ts = (np.tile(v, n_draws) for v in (x, tx, T))
        if self._kind == "paretonbd":
            codes = _pattern_codes(np.column_stack([Zp, Zd]))
            pattern = (np.arange(n_draws)[:, None] * (codes.max() + 1.0) + codes).ravel()
            if quantity == "probability_alive":
                values = _pnbd_alive(r, alpha, second, fourth, xs, txs, Ts, pattern)
            else:
                t = np.broadcast_to(np.asarray(kwargs["t"], dtype=float), (n_draws, n)).ravel()
                values = _pnbd_expected(r, alpha, second, fourth, xs, txs, Ts, t, pattern)
        else:
            values = bgnbd_probability_alive(r, alpha, second, fourth, xs, txs, Ts)
            if quantity == "expected_purchases":
                # the alive customer's expectation at (r + x, alpha_i + T, a_i, b_i + x), by
                # the interval machinery's vectorised kernel (closed form / series, spot-checked
                # against the quadrature), in its (rows, draws) layout

                shape = (n_draws, n)
                t = np.broadcast_to(np.asarray(kwargs["t"], dtype=float), shape)
                per_alive = _bgnbd.alive_purchases_fast(
                    (r.reshape(shape) + x).T, (alpha.reshape(shape) + T).T,
                    second.reshape(shape).T, (fourth.reshape(shape) + x).T, t.T,
                )
                values = values * per_alive.T.ravel()
        return np.asarray(values, dtype=float).reshape(n_draws, n)

    def _with_interval(self, estimate, quantity, summary, columns: dict, options: dict,
                       **kwargs):
        """The estimate, or with ``options["interval"]`` a DataFrame with its bounds.

        The interval machinery draws ``log(params_)`` from ``_covariance_log``;
        for this model that covariance is of ``(log r, log alpha0, ., ., gamma)``,
        so the machinery is handed :class:`_OptimizerScaleView` of the model
        (coefficients as ``exp(gamma)``), whose draws it converts back.
        """
        if options.get("interval") is None:
            return estimate
        from clvmodels.models.uncertainty import prediction_interval

        return prediction_interval(_optimizer_scale_view(self), quantity, estimate, summary,
                                   columns, **options, **kwargs)

    def _bootstrap_data(self, fit_summary):
        """Unique rows of ``(frequency, recency, T, design columns)`` of the fitting summary."""
        check_is_fitted(self, "bootstrap")
        columns: dict = {}
        values = self._split_columns(fit_summary, columns)
        data, index = validate_data(self, fit_summary, columns, context="bootstrap")
        Zp, Zd = self._designs(values, index, "bootstrap")
        packed = compress([data[c] for c in self._data_columns] + list(Zp.T) + list(Zd.T))
        return packed.columns, packed.weights

    def _refit_weighted(self, columns, weights, start):
        """Refit on the unique rows with new weights from ``start`` (raw coefficients)."""
        kp = len(self._labels(self.covariate_encoding_)[0])
        loglik_and_gradient, prepare = _objective(self._kind, kp)
        try:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                result = fit_maximum_likelihood(
                    loglik_and_gradient, columns, list(self.params_.index),
                    [_to_optimizer_scale(start)], weights=weights,
                    penalizer=float(self.penalizer), log_bounds=self._log_bounds,
                    compressed=True, prepare=prepare, warn=False,
                )
        except (ValueError, FloatingPointError):
            return None
        if not result.converged:
            return None
        return _from_optimizer_scale(result.params)

    def expected_purchases_new_customer(self, t, covariates=None) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` of new customers with given covariates.

        Parameters
        ----------
        t : float or array_like
            Horizon(s), broadcast with the rows of ``covariates``.
        covariates : DataFrame
            One row per kind of customer, with the covariate columns.

        Returns
        -------
        ndarray, one value per row
        """
        index, p = self._covariate_frame(covariates, "expected_purchases_new_customer")
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidParameterError(f"the horizon t must be finite and >= 0, got {t!r}.")
        if self._kind == "paretonbd":
            r, alpha, s, beta = p
            alpha, beta, t = _rows(alpha, beta, t)
            out = np.zeros(t.shape)
            pos = t > 0
            out[pos] = r / alpha[pos] * np.exp(
                _pnbd.log_mean_lifetime_window(s, beta[pos], t[pos]))
            return out
        return _bg_expected_new(*p, t)

    def probability_of_purchases(self, n, t, covariates=None) -> np.ndarray:
        """``P(X(t) = n)`` for new customers with given covariates (one row each).

        Parameters
        ----------
        n : int or array_like of int
        t : float or array_like (> 0)
        covariates : DataFrame
            Broadcast with ``n`` and ``t`` as rows.

        Returns
        -------
        ndarray
        """
        index, p = self._covariate_frame(covariates, "probability_of_purchases")
        n = np.asarray(n, dtype=float)
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
            raise InvalidParameterError(f"n must hold whole numbers >= 0, got {n!r}.")
        if not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise InvalidParameterError("the horizon t must be finite and > 0.")
        if self._kind == "paretonbd":
            r, alpha, s, beta = p
            alpha, beta, n, t = _rows(alpha, beta, n, t)
            return np.exp(_pnbd.log_pmf_new_customer_rows(np.full(n.shape, r), alpha, s, beta,
                                                          n, t))
        r, alpha, a, b = p
        alpha, a, b, n, t = _rows(alpha, a, b, n, t)
        return np.exp(_log_pmf_bgnbd_new_rows(np.full(n.shape, r), alpha, a, b, n, t))


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
        ``fit_info_["log_likelihood_without_covariates"]`` is the fit without
        covariates on the same data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> truth = BGNBDCovariates.from_params(
    ...     r=0.5, alpha0=5.0, a0=0.8, b0=2.5, purchase_covariates=["channel"],
    ...     levels={"channel": ["shop", "web"]}, coefficients={"purchase:channel[web]": 0.7})
    >>> attributes = pd.DataFrame({"channel": np.repeat(["shop", "web"], 1000)})
    >>> summary = simulate_summary(truth, attributes, T=39.0, random_state=1)
    >>> model = BGNBDCovariates(purchase_covariates=["channel"]).fit(summary)
    >>> list(model.params_.index)
    ['r', 'alpha0', 'a0', 'b0', 'purchase:channel[web]']
    """

    _model_type = "BGNBDCovariates"
    _param_names = ("r", "alpha0", "a0", "b0")
    _base_class = BGNBD
    _kind = "bgnbd"


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

    _model_type = "ParetoNBDCovariates"
    _param_names = ("r", "alpha0", "s", "beta0")
    _base_class = ParetoNBD
    _kind = "paretonbd"

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


def _paretonbd_dert(r, alpha, s, beta, frequency, recency, T, discount_rate):
    """Pareto/NBD DERT with per-customer ``alpha``, ``beta`` (FHL 2005, JMR, eq. 2)."""
    alpha, beta, x, tx, T = _rows(alpha, beta, frequency, recency, T)
    log_alive, _ = _pnbd_alive_dead(r, alpha, s, beta, x, tx, T, _pattern_of(alpha, beta),
                                    False)
    packed = compress([beta + T])
    log_life = _pnbd.log_discounted_lifetime(s, packed.columns[0],
                                              float(discount_rate))[packed.inverse]
    return np.exp(log_alive + np.log(r + x) - np.log(alpha + T) + log_life)


class _OptimizerScaleView:
    """A fitted covariate model on the scale of its optimizer, for the interval machinery.

    :mod:`clvmodels.models.uncertainty` draws ``log theta* ~ Normal(log
    params_, _covariance_log)`` and refits from ``params_``. Here the
    covariance is that of ``(log r, log alpha0, ., ., gamma)``, so this view
    shows ``params_`` with the coefficients as ``exp(gamma)``: its draws are
    exactly ``gamma* ~ Normal(gamma_hat, .)`` on the raw scale (a negative
    coefficient is fine), and its hooks convert back before evaluating.
    """

    def __init__(self, model):
        self._model = model
        self.params_ = pd.Series(_to_optimizer_scale(model.params_.to_numpy(dtype=float)),
                                 index=model.params_.index, name="estimate")
        self._covariance_log = model._covariance_log
        self.converged_ = model.converged_
        self.fit_info_ = model.fit_info_

    def _interval_data(self, summary, method, **columns):
        return self._model._interval_data(summary, method, **columns)

    def _predict_with_params(self, quantity, params, data, **kwargs):
        return self._model._predict_with_params(quantity, _from_optimizer_scale(params), data,
                                                **kwargs)

    def _bootstrap_data(self, fit_summary):
        return self._model._bootstrap_data(fit_summary)

    def _refit_weighted(self, columns, weights, start):
        theta = self._model._refit_weighted(columns, weights, _from_optimizer_scale(start))
        return None if theta is None else _to_optimizer_scale(theta)


def _optimizer_scale_view(model) -> _OptimizerScaleView:
    # named like the model, so the machinery's messages name the user's class
    cls = type(type(model).__name__, (_OptimizerScaleView,), {})
    return cls(model)


# ===========================================================================
# simulation
# ===========================================================================
def simulate_summary(model, covariates: pd.DataFrame, T, random_state=None,
                     time_unit: str = "W") -> pd.DataFrame:
    """Draw ``(frequency, recency, T)`` for customers with given covariates from a covariate model.

    Each customer gets their own parameters (``alpha_i`` etc., from the model's
    parameters and coefficients) and then follows the model's story:

    * BG/NBD: ``lambda ~ Gamma(r, alpha_i)``, ``p ~ Beta(a_i, b_i)``; the
      number of repeat purchases before dropping out is ``D ~ Geometric(p)``
      on {1, 2, ...}, the Poisson events in ``(0, T]`` number
      ``N ~ Poisson(lambda T)``, ``x = min(N, D)`` and the ``x``-th event time
      is ``T Beta(x, N - x + 1)`` (order statistics of uniforms);
    * Pareto/NBD: ``lambda ~ Gamma(r, alpha_i)``, ``mu ~ Gamma(s, beta_i)``,
      lifetime ``tau ~ Exponential(mu)``; ``x ~ Poisson(lambda min(tau, T))``
      and the last purchase at ``min(tau, T) Beta(x, 1)``.

    Parameters
    ----------
    model : BGNBDCovariates or ParetoNBDCovariates
        Fitted, or built with ``from_params``.
    covariates : DataFrame
        One row per customer with the covariate columns; its index becomes the
        summary's index.
    T : float or array_like
        Observation time of each customer since the first purchase.
    random_state : int, Generator or None

    Returns
    -------
    DataFrame
        frequency, recency, T and the covariate columns; ``attrs["time_unit"]``.
    """
    if not isinstance(model, _CovariateModel):
        raise InvalidParameterError(
            f"simulate_summary() takes a BGNBDCovariates or ParetoNBDCovariates, got "
            f"{type(model).__name__}."
        )
    rng = check_random_state(random_state)
    _, p = model._covariate_frame(covariates, "simulate_summary")
    n = len(covariates)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if not np.all(np.isfinite(T)) or np.any(T < 0):
        raise InvalidParameterError("T must be finite and >= 0 for every customer.")
    if model._kind == "paretonbd":
        r, alpha, s, beta = (np.broadcast_to(v, (n,)) for v in p)
        lam = rng.gamma(r, 1.0 / alpha)
        mu = rng.gamma(s, 1.0 / beta)
        tau = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        window = np.minimum(tau, T)
        x = rng.poisson(lam * window)
        recency = np.zeros(n)
        has = x > 0
        recency[has] = window[has] * rng.beta(x[has], 1.0)
    else:
        r, alpha, a, b = (np.broadcast_to(v, (n,)) for v in p)
        lam = rng.gamma(r, 1.0 / alpha)
        prob = rng.beta(a, b)
        D = rng.geometric(np.clip(prob, 1e-300, 1.0))
        N = rng.poisson(lam * T)
        x = np.minimum(N, D)
        recency = np.zeros(n)
        has = x > 0
        recency[has] = T[has] * rng.beta(x[has], N[has] - x[has] + 1)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": recency, "T": T},
                       index=covariates.index)
    for c in model.covariate_columns:
        out[c] = covariates[c].to_numpy()
    out.attrs = {"time_unit": time_unit}
    return out
