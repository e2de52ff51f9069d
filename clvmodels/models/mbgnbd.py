"""The MBG/NBD model (Batislam, Denizel & Filiztekin 2007), a modified BG/NBD.

Model ("Empirical validation and comparison of models for customer base
analysis", International Journal of Research in Marketing 24(3), 201-209;
corrected by Wagner & Hoppe 2008, IJRM 25(3)): the BG/NBD of Fader, Hardie &
Lee (2005) (Poisson purchases at rate ``lambda ~ Gamma(r, alpha)`` while
alive; dropout with probability ``p ~ Beta(a, b)`` after each repeat
purchase), except that a customer may also drop out **at time 0**, right
after the first purchase. So a customer without repeat purchases may be
inactive (under the BG/NBD they are alive for sure), which removes the
BG/NBD's odd prediction that such customers are certainly alive.

For a customer with ``x`` repeat purchases, the last at ``t_x``, observed up
to ``T``, the likelihood is::

    L = B(a, b + x + 1) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
        + B(a + 1, b + x) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x))

(alive after ``x + 1`` survival "coin flips"; or dropped out at the last of
them), for every ``x`` including 0. Everything follows from BG/NBD results
with ``b`` shifted:

* ``P(alive | x, t_x, T) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x))``;
* an alive customer's posterior is ``lambda ~ Gamma(r + x, alpha + T)``,
  ``p ~ Beta(a, b + x + 1)``, and their future purchases follow the BG/NBD,
  so ``E[Y(t) | x, t_x, T] = P(alive) g(r + x, alpha + T, a, b + x + 1; t)``,
  ``g`` the expected purchases of an alive BG/NBD customer (FHL 2005, eq. 9's
  integrand); in closed form (Wagner & Hoppe 2008)
  ``(a + b + x) / (a - 1) [1 - ((alpha + T) / (alpha + T + t))^(r + x)
  2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))] * P(alive)``;
* a new customer survives time 0 with probability ``b / (a + b)``, after which
  their prior on ``p`` is ``Beta(a, b + 1)``: ``E[X(t)] = b / (a + b) g(r,
  alpha, a, b + 1; t) = b / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b + 1;
  a + b; t / (alpha + t))]`` and ``P(X(t) = n) = b / (a + b) P_BGNBD(n; r,
  alpha, a, b + 1) + [n = 0] a / (a + b)``.

``g`` is computed by :func:`clvmodels.models.bgnbd.alive_purchases` (a
quadrature over ``p`` that replaces the 2F1 and stays exact at ``a = 1`` and
large ``t``); ``P_BGNBD`` by :func:`clvmodels.models.bgnbd.probability_of_purchases`.

Params arrays are ``(r, alpha, a, b)`` in that order (or a mapping).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit

from clvmodels.models import bgnbd
from clvmodels.models._base import BaseModel, PurchaseModelMixin
from clvmodels.models._checks import customer_arrays, horizon_array, weights_array
from clvmodels.models._fit import compress
from clvmodels.models._params import unpack_params
from clvmodels.models._special import counts_and_horizon, log_beta, log_gamma_ratio
from clvmodels.models.bgnbd import alive_purchases

__all__ = [
    "PARAM_NAMES",
    "MBGNBD",
    "log_likelihood",
    "log_likelihood_rows",
    "gradient",
    "probability_alive",
    "expected_purchases",
    "expected_purchases_new_customer",
    "probability_of_purchases",
]

#: Names of the parameters, in the order used by every params array.
PARAM_NAMES = ("r", "alpha", "a", "b")


def _unpack(params) -> tuple[float, float, float, float]:
    """``(r, alpha, a, b)``: the BG/NBD's parameter names, checked under the MBG/NBD's name."""
    return unpack_params(params, bgnbd.PARAM_NAMES, "MBG/NBD")


# ---------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------
def _log_odds_dead(r, alpha, a, b, x, tx, T):
    """``log(a / (b + x)) + (r + x) log((alpha + T) / (alpha + t_x))``: log odds of dropout."""
    return np.log(a) - np.log(b + x) + (r + x) * np.log1p((T - tx) / (alpha + tx))


def _loglik_terms(r, alpha, a, b, x, tx, T):
    d = _log_odds_dead(r, alpha, a, b, x, tx, T)
    rows = (
        log_gamma_ratio(r, x)
        + log_beta(a, b + x + 1.0)
        - log_beta(a, b)
        - r * np.log1p(T / alpha)
        - x * np.log(alpha + T)
        + np.logaddexp(0.0, d)
    )
    return rows, d


def log_likelihood_rows(params, frequency, recency, T) -> np.ndarray:
    """Log-likelihood of each customer's ``(x, t_x, T)`` under MBG/NBD.

    Batislam, Denizel & Filiztekin (2007), appendix::

        L = B(a, b + x + 1) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
            + B(a + 1, b + x) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x))

    in log space: the first term times ``1 + exp(d)``, ``d`` the log-ratio of
    the second term to the first, ``log(a / (b + x)) + (r + x) log1p((T -
    t_x) / (alpha + t_x))`` (exact, no difference of log-betas).

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(log_likelihood_rows((0.525, 6.183, 0.891, 1.614), [0, 2], [0.0, 30.43],
    ...                              [38.86, 38.86]), 4)
    array([-0.5398, -9.4856])
    """
    r, alpha, a, b = _unpack(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    shape = x.shape
    rows = _loglik_terms(r, alpha, a, b, x.reshape(-1), tx.reshape(-1), T.reshape(-1))[0]
    return rows.reshape(shape)


def log_likelihood(params, frequency, recency, T, weights=None) -> float:
    """Total (weighted) MBG/NBD log-likelihood, the sum of :func:`log_likelihood_rows`.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like
    weights : array_like, optional
        Customers per row (default 1).

    Returns
    -------
    float
    """
    rows = log_likelihood_rows(params, frequency, recency, T)
    if weights is None:
        return float(np.sum(rows))
    return float(np.sum(np.broadcast_to(np.asarray(weights, dtype=float), rows.shape) * rows))


def _loglik_and_gradient(params, x, tx, T, weights):
    """Weighted log-likelihood and gradient (no argument checks; used by fit).

    With ``w_A = expit(-d)``, ``w_B = expit(d)`` the shares of the two terms::

        d/dr     = psi(r + x) - psi(r) - w_A log1p(T / alpha) - w_B log1p(t_x / alpha)
        d/dalpha = w_A (r T / (alpha (alpha + T)) - x / (alpha + T))
                   + w_B (r t_x / (alpha (alpha + t_x)) - x / (alpha + t_x))
        d/da     = psi(a + b) - psi(a + b + x + 1) + w_B / a
        d/db     = psi(a + b) - psi(a + b + x + 1) + w_A (psi(b + x + 1) - psi(b))
                   + w_B (psi(b + x) - psi(b))
    """
    r, alpha, a, b = (float(v) for v in params)
    rows, d = _loglik_terms(r, alpha, a, b, x, tx, T)
    w_a = expit(-d)
    w_b = expit(d)
    common = digamma(a + b) - digamma(a + b + x + 1.0)
    psi_b = digamma(b)
    d_r = digamma(r + x) - digamma(r) - w_a * np.log1p(T / alpha) - w_b * np.log1p(tx / alpha)
    d_alpha = w_a * (r * T / (alpha * (alpha + T)) - x / (alpha + T)) + w_b * (
        r * tx / (alpha * (alpha + tx)) - x / (alpha + tx)
    )
    d_a = common + w_b / a
    d_b = common + w_a * (digamma(b + x + 1.0) - psi_b) + w_b * (digamma(b + x) - psi_b)
    grad = np.array([weights @ d_r, weights @ d_alpha, weights @ d_a, weights @ d_b])
    return float(weights @ rows), grad


def gradient(params, frequency, recency, T, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` with respect to ``(r, alpha, a, b)``.

    Formulas in :func:`_loglik_and_gradient`.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like
    weights : array_like, optional

    Returns
    -------
    ndarray of shape (4,)
    """
    params = _unpack(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    w = weights_array(weights, x.shape)
    x, tx, T = x.reshape(-1), tx.reshape(-1), T.reshape(-1)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float).reshape(-1)
    return _loglik_and_gradient(params, x, tx, T, w)[1]


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
def probability_alive(params, frequency, recency, T) -> np.ndarray:
    """Probability that a customer with history ``(x, t_x, T)`` is alive at ``T``.

    Batislam, Denizel & Filiztekin (2007), appendix, eq. (5)::

        P(alive | x, t_x, T) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x))

    computed as ``expit(-d)``. Unlike the BG/NBD, a customer without repeat
    purchases is alive with probability below 1.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(probability_alive((0.525, 6.183, 0.891, 1.614), [0, 2], [0.0, 30.43],
    ...                            [38.86, 38.86]), 4)
    array([0.3897, 0.7062])
    """
    r, alpha, a, b = _unpack(params)
    x, tx, T = customer_arrays(frequency, recency, T)
    return expit(-_log_odds_dead(r, alpha, a, b, x, tx, T))


def expected_purchases(params, frequency, recency, T, t) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` of a customer with history ``(x, t_x, T)``.

    Wagner & Hoppe (2008), the corrected conditional expectation::

        E[Y(t) | x, t_x, T] = (a + b + x) / (a - 1)
            * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
                   2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))]
            * P(alive | x, t_x, T)

    evaluated as ``P(alive)`` times the BG/NBD expected purchases of an
    alive customer with posterior parameters ``(r + x, alpha + T, a, b + x +
    1)`` (:func:`clvmodels.models.bgnbd.alive_purchases`, exact also at
    ``a = 1``), on the unique ``(x, T, t)`` only.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like
    t : float or array_like
        Horizon, broadcast with the histories.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> np.round(expected_purchases((0.525, 6.183, 0.891, 1.614), [0, 2], [0.0, 30.43],
    ...                             [38.86, 38.86], 39), 4)
    array([0.154, 1.263])
    """
    r, alpha, a, b = _unpack(params)
    t = horizon_array(t)
    x, tx, T = customer_arrays(frequency, recency, T)
    x, tx, T, t = np.broadcast_arrays(x, tx, T, t)
    shape = x.shape
    x, tx, T, t = (np.ravel(v) for v in (x, tx, T, t))
    alive = expit(-_log_odds_dead(r, alpha, a, b, x, tx, T))
    if x.size > 64:
        packed = compress([x, T, t])
        ux, uT, ut = packed.columns
        per_alive = alive_purchases(r + ux, alpha + uT, a, b + ux + 1.0, ut)[packed.inverse]
    else:
        per_alive = alive_purchases(r + x, alpha + T, a, b + x + 1.0, t)
    return (alive * per_alive).reshape(shape)


def expected_purchases_new_customer(params, t) -> np.ndarray:
    """Expected repeat purchases in ``(0, t]`` of a customer who just made a first purchase.

    Batislam, Denizel & Filiztekin (2007)::

        E[X(t)] = b / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b + 1; a + b; t / (alpha + t))]

    evaluated as ``b / (a + b)`` (survive time 0) times the BG/NBD expected
    purchases with ``b + 1`` (:func:`clvmodels.models.bgnbd.alive_purchases`).

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    t : float or array_like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(np.round(expected_purchases_new_customer((0.525, 6.183, 0.891, 1.614), 39.0), 4))
    1.183
    """
    r, alpha, a, b = _unpack(params)
    t = horizon_array(t)
    return b / (a + b) * alive_purchases(r, alpha, a, b + 1.0, t)


def probability_of_purchases(params, n, t) -> np.ndarray:
    """``P(X(t) = n)``: probability that a new customer makes ``n`` repeat purchases in ``(0, t]``.

    Batislam, Denizel & Filiztekin (2007)::

        P(X(t) = n) = B(a, b + n + 1) / B(a, b) NB(n; r, alpha, t)
                      + B(a + 1, b + n) / B(a, b) P(NB(r, alpha, t) >= n)

    with ``NB`` the negative binomial of the Poisson-gamma purchase count,
    i.e. ``b / (a + b) P_BGNBD(n; r, alpha, a, b + 1) + [n = 0] a / (a + b)``,
    computed with :func:`clvmodels.models.bgnbd.probability_of_purchases`.
    Sums to 1 over ``n``.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    n : int or array_like of int
    t : float or array_like (> 0)

    Returns
    -------
    ndarray

    Examples
    --------
    >>> pr = probability_of_purchases((0.525, 6.183, 0.891, 1.614), np.arange(300), 39)
    >>> float(np.round(pr[0], 4)), float(np.round(pr.sum(), 10))
    (0.5825, 1.0)
    """
    r, alpha, a, b = _unpack(params)
    shifted = bgnbd.probability_of_purchases((r, alpha, a, b + 1.0), n, t)
    n = np.asarray(n, dtype=float)
    return b / (a + b) * shifted + np.where(n == 0, a / (a + b), 0.0)


# ---------------------------------------------------------------------------
# estimator
# ---------------------------------------------------------------------------
def log_conditional_pmf(params, n, frequency, recency, T, t) -> np.ndarray:
    """``log P(X(T, T+t) = n | x, t_x, T)`` under the MBG/NBD model (closed form).

    The MBG/NBD is a BG/NBD in which dropout can also happen at time 0
    (Batislam, Denizel & Filiztekin 2007): the survival factor of the
    likelihood's alive term is ``(1 - p)^(x + 1)``, so with
    ``P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))`` (also for
    ``x = 0``)::

        P(X(T, T+t) = n | x, t_x, T)
            = [n = 0] (1 - P(alive)) + P(alive) P_BGNBD(n; r + x, alpha + T, a, b + x + 1; t)

    with ``P_BGNBD`` the BG/NBD new-customer PMF (FHL 2005, eq. 8); see
    :func:`clvmodels.models.bgnbd.log_conditional_pmf`.

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
    >>> lp = log_conditional_pmf(params, [0, 1], [0, 0], [0.0, 0.0], 38.86, 39.0)
    >>> np.round(np.exp(lp), 4)
    array([0.8912, 0.0787])
    """
    r, alpha, a, b = _unpack(params)
    shape, n, x, tx, T, t = counts_and_horizon(n, frequency, recency, T, t, customer_arrays)
    d = _log_odds_dead(r, alpha, a, b, x, tx, T)
    out = bgnbd.bg_family_log_pmf(r, alpha, a, lambda ux: b + ux + 1.0, d, n, x, T, t)
    return out.reshape(shape)


def predict_draws(quantity: str, params, frequency, recency, T, t=None) -> np.ndarray:
    """MBG/NBD ``probability_alive`` or ``expected_purchases`` for many parameter vectors.

    :func:`clvmodels.models.bgnbd.bg_family_draws` with dropout possible at time 0 too.
    ``params`` has shape (n_draws, 4); the result (n_draws, n_rows).
    """
    return bgnbd.bg_family_draws(quantity, params, frequency, recency, T, t,
                                 dropout_at_zero=True)


def simulate_alive_purchases(theta, x, T, horizon: float, rng):
    """Purchase times of MBG/NBD customers alive at ``T`` (the forecast hook).

    :func:`clvmodels.models.bgnbd.simulate_alive_purchases` with ``p ~ Beta(a, b + x +
    1)``: an alive MBG/NBD customer survived ``x + 1`` dropout opportunities.
    """
    return bgnbd.simulate_alive_purchases(theta, x, T, horizon, rng, dropout_at_zero=True)


class MBGNBD(PurchaseModelMixin, BaseModel):
    """MBG/NBD model: the BG/NBD with dropout possible at time 0 (Batislam et al. 2007).

    Same data, API and attributes as :class:`~clvmodels.models.bgnbd.BGNBD`.

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the log-parameters.
    n_starts : int, default 3
        Start values tried; the best optimum is kept.

    Attributes
    ----------
    params_ : Series
        ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha)), ``a``, ``b``
        (dropout probability ~ Beta(a, b)).
    log_likelihood_, n_customers_, converged_, covariance_, fit_info_, time_unit_
        See :class:`~clvmodels.models._base.BaseModel`.

    Examples
    --------
    >>> from clvmodels.data._simulate_family import simulate_mbgnbd_summary
    >>> summary = simulate_mbgnbd_summary(3000, r=0.5, alpha=6.0, a=0.9, b=1.6, T=39,
    ...                                   random_state=1)
    >>> model = MBGNBD().fit(summary)
    >>> model.params_.index.tolist()
    ['r', 'alpha', 'a', 'b']
    """

    _param_names = PARAM_NAMES
    _interval_columns = ("frequency", "T", "recency")

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)
    _expected_purchases_function = staticmethod(expected_purchases)
    _probability_alive_function = staticmethod(probability_alive)
    _log_conditional_pmf_function = staticmethod(log_conditional_pmf)
    _predict_draws_function = staticmethod(predict_draws)
    _simulate_function = staticmethod(simulate_alive_purchases)
    _expected_purchases_new_customer_function = staticmethod(expected_purchases_new_customer)
    _probability_of_purchases_function = staticmethod(probability_of_purchases)

    # the same data and the same scale of parameters as the BG/NBD: the same start values
    _start_values = bgnbd.BGNBD._start_values
