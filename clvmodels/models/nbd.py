"""The NBD model (Ehrenberg 1959): gamma-Poisson purchasing without dropout.

Model (Ehrenberg, "The pattern of consumer purchases", Applied Statistics 8(1), 26-41;
Morrison & Schmittlein 1988): every customer buys as a Poisson process with rate
``lambda`` forever; across customers ``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate
``alpha``). There is no dropout, so every customer is alive (``P(alive) = 1``): it is the
baseline a dropout model (BG/NBD, Pareto/NBD, ...) must beat.

A customer's data are ``x`` repeat purchases (``frequency``) in ``(0, T]``; the recency
``t_x`` carries no information under a Poisson process once ``x`` and ``T`` are known (it
is accepted, checked and ignored, so the model takes the same summaries as the others).

The likelihood is that of the purchase times (as for the BG/NBD and Pareto/NBD, and as
BTYDplus's ``nbd.LL``), ``L = Gamma(r + x) / Gamma(r) * alpha^r / (alpha + T)^(r + x)``;
it differs from the count likelihood ``P(X(T) = x)`` by the parameter-free factor ``T^x
/ x!``. Everything else is conjugate: given ``(x, T)``, ``lambda ~ Gamma(r + x, alpha +
T)``, so

* ``E[Y(t) | x, T] = (r + x) t / (alpha + T)``;
* ``P(Y(t) = n | x, T) = NB(n; r + x, (alpha + T) / (alpha + T + t))``;
* a new customer: ``E[X(t)] = r t / alpha``, ``P(X(t) = n) = NB(n; r, alpha / (alpha + t))``.

Params arrays are ``(r, alpha)`` (or a mapping with those keys).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from clvmodels.errors import InvalidParameterError
from clvmodels.models._base import BaseModel, PurchaseModelMixin
from clvmodels.models._checks import customer_arrays, horizon_array, weights_array
from clvmodels.models._params import unpack_params
from clvmodels.models._special import counts_and_horizon, log_gamma_ratio
from clvmodels.models.uncertainty import draw_rows

__all__ = [
    "NBD",
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
]

#: Names of the parameters, in the order used by every params array.
PARAM_NAMES = ("r", "alpha")


def _unpack(params) -> tuple[float, float]:
    return unpack_params(params, PARAM_NAMES, "NBD")


def _log_nb_pmf(n, r, alpha, t):
    """``log NB(n; r, alpha / (alpha + t))``: ``Gamma(r+n)/(Gamma(r) n!) q^r (1-q)^n``."""
    log_q = -np.log1p(t / alpha)
    with np.errstate(divide="ignore"):
        log_p = np.log(t) - np.log(alpha + t)
    out = log_gamma_ratio(r, n) - gammaln(n + 1.0) + r * log_q
    return out + np.where(n > 0, n * log_p, 0.0)


def log_likelihood_rows(params, frequency, recency, T) -> np.ndarray:
    """Log-likelihood of each customer's purchase times under the NBD.

    ``log L = log[Gamma(r + x) / Gamma(r)] + r log(alpha) - (r + x) log(alpha + T)``
    (Ehrenberg 1959; the timing likelihood of a gamma-mixed Poisson process, as
    BTYDplus's ``nbd.LL``), written as ``log_gamma_ratio(r, x) - r log1p(T / alpha) - x
    log(alpha + T)``.

    Parameters
    ----------
    params : sequence (r, alpha) or mapping
    frequency, recency, T : array_like
        ``recency`` is checked (``0 <= recency <= T``) but does not enter.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(np.round(log_likelihood_rows((0.5, 5.0), 2, 20.0, 30.0), 6))
    -8.371333
    """
    r, alpha = _unpack(params)
    x, _, T = customer_arrays(frequency, recency, T)
    return log_gamma_ratio(r, x) - r * np.log1p(T / alpha) - x * np.log(alpha + T)


def log_likelihood(params, frequency, recency, T, weights=None) -> float:
    """Total (weighted) NBD log-likelihood, the sum of :func:`log_likelihood_rows`."""
    rows = log_likelihood_rows(params, frequency, recency, T)
    if weights is None:
        return float(np.sum(rows))
    return float(np.sum(np.broadcast_to(np.asarray(weights, dtype=float), rows.shape) * rows))


def _loglik_and_gradient(params, x, tx, T, weights):
    """Weighted log-likelihood and gradient (used by fit; no checks).

    ``d/dr = psi(r + x) - psi(r) - log1p(T / alpha)``,
    ``d/dalpha = r / alpha - (r + x) / (alpha + T)``.
    """
    r, alpha = (float(v) for v in params)
    rows = log_gamma_ratio(r, x) - r * np.log1p(T / alpha) - x * np.log(alpha + T)
    d_r = digamma(r + x) - digamma(r) - np.log1p(T / alpha)
    d_alpha = r * T / (alpha * (alpha + T)) - x / (alpha + T)
    return float(weights @ rows), np.array([weights @ d_r, weights @ d_alpha])


def gradient(params, frequency, recency, T, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` with respect to ``(r, alpha)``."""
    params = _unpack(params)
    x, tx, T = (v.reshape(-1) for v in customer_arrays(frequency, recency, T))
    w = weights_array(weights, x.shape)
    w = np.ones_like(x) if w is None else w.reshape(-1)
    return _loglik_and_gradient(params, x, tx, T, w)[1]


def expected_purchases(params, frequency, recency, T, t) -> np.ndarray:
    """``E[Y(t) | x, T] = (r + x) t / (alpha + T)``: purchases in ``(T, T + t]``.

    The posterior mean rate ``(r + x) / (alpha + T)`` (gamma-Poisson conjugacy;
    Morrison & Schmittlein 1988) times the horizon.

    Examples
    --------
    >>> float(expected_purchases((0.5, 5.0), 2, 20.0, 30.0, 10.0)[()])
    0.7142857142857143
    """
    r, alpha = _unpack(params)
    t = horizon_array(t)
    x, _, T = customer_arrays(frequency, recency, T)
    return (r + x) * t / (alpha + T)


def probability_alive(params, frequency, recency, T) -> np.ndarray:
    """``P(alive) = 1``: the NBD has no dropout (an array of ones shaped like the data)."""
    _unpack(params)
    x, _, _ = customer_arrays(frequency, recency, T)
    return np.ones(x.shape)


def expected_purchases_new_customer(params, t) -> np.ndarray:
    """``E[X(t)] = r t / alpha`` for a customer who just made a first purchase."""
    r, alpha = _unpack(params)
    return r * horizon_array(t) / alpha


def probability_of_purchases(params, n, t) -> np.ndarray:
    """``P(X(t) = n) = Gamma(r + n)/(Gamma(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n``.

    The negative binomial distribution of a new customer's count in ``(0, t]``
    (Ehrenberg 1959).

    Examples
    --------
    >>> pr = probability_of_purchases((0.5, 5.0), np.arange(400), 30.0)
    >>> float(np.round(pr.sum(), 12))
    1.0
    """
    r, alpha = _unpack(params)
    n = np.asarray(n, dtype=float)
    if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
        raise InvalidParameterError(f"n must hold whole numbers >= 0, got {n!r}.")
    t = horizon_array(t)
    if np.any(t <= 0):
        raise InvalidParameterError("the horizon t must be > 0 for probability_of_purchases.")
    n, t = np.broadcast_arrays(n, t)
    return np.exp(_log_nb_pmf(n, np.full(n.shape, r), alpha, t))


def log_conditional_pmf(params, n, frequency, recency, T, t) -> np.ndarray:
    """``log P(Y(t) = n | x, T) = log NB(n; r + x, (alpha + T) / (alpha + T + t))``.

    Every customer is alive and the posterior of ``lambda`` is ``Gamma(r + x, alpha +
    T)``, so the future count is negative binomial. ``t = 0`` gives ``P(0) = 1``.

    Examples
    --------
    >>> lp = log_conditional_pmf((0.5, 5.0), np.arange(300), 2, 20.0, 30.0, 10.0)
    >>> float(np.round(np.exp(lp).sum(), 12))
    1.0
    """
    r, alpha = _unpack(params)
    shape, n, x, tx, T, t = counts_and_horizon(n, frequency, recency, T, t, customer_arrays)
    out = np.where(n == 0, 0.0, -np.inf)
    pos = t > 0
    if np.any(pos):
        out[pos] = _log_nb_pmf(n[pos], r + x[pos], alpha + T[pos], t[pos])
    return np.minimum(out, 0.0).reshape(shape)


def predict_draws(quantity: str, params, frequency, recency, T, t=None) -> np.ndarray:
    """NBD ``probability_alive`` (ones) or ``expected_purchases`` at many parameter vectors.

    ``params`` has shape (n_draws, 2); returns (n_draws, n_rows).
    """
    if quantity not in ("probability_alive", "expected_purchases"):
        raise InvalidParameterError(f"no draw kernel for {quantity!r}.")
    r, alpha = draw_rows(params, 2)
    x = np.asarray(frequency, dtype=float)[:, None]
    T = np.asarray(T, dtype=float)[:, None]
    if quantity == "probability_alive":
        return np.ones((r.shape[1], x.shape[0]))
    horizon = np.asarray(1.0 if t is None else t, dtype=float)
    horizon = np.broadcast_to(horizon, (x.shape[0],))[:, None]
    return ((r + x) * horizon / (alpha + T)).T


def simulate_alive_purchases(theta, x, T, horizon: float, rng):
    """Purchase times in ``(0, horizon]`` of NBD customers (the forecast hook).

    ``lambda ~ Gamma(r + x, alpha + T)`` (the posterior), then a Poisson process:
    ``N ~ Poisson(lambda L)`` purchases at uniform times, all kept.
    """
    lam = rng.gamma(theta[:, 0] + x) / (theta[:, 1] + T)
    n_events = rng.poisson(lam * horizon)
    owner = np.repeat(np.arange(x.size), n_events)
    times = rng.random(owner.size) * horizon
    order = np.lexsort((times, owner))
    return owner[order], times[order], np.ones(owner.size, dtype=bool)


class NBD(PurchaseModelMixin, BaseModel):
    """NBD model of repeat purchasing without dropout (Ehrenberg 1959).

    Parameters
    ----------
    penalizer : float, default 0
    n_starts : int, default 3

    Attributes
    ----------
    params_ : Series
        ``r``, ``alpha``: the purchase rate ``lambda ~ Gamma(r, alpha)``.

    Examples
    --------
    >>> from clvmodels.data._simulate_cnbd import simulate_nbd_summary
    >>> summary = simulate_nbd_summary(2000, r=0.5, alpha=5.0, T=39, random_state=1)
    >>> model = NBD().fit(summary)
    >>> bool(model.probability_alive(summary).eq(1).all())
    True
    """

    _param_names = PARAM_NAMES

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)
    _expected_purchases_function = staticmethod(expected_purchases)
    _probability_alive_function = staticmethod(probability_alive)
    _log_conditional_pmf_function = staticmethod(log_conditional_pmf)
    _predict_draws_function = staticmethod(predict_draws)
    _simulate_function = staticmethod(simulate_alive_purchases)
    _expected_purchases_new_customer_function = staticmethod(expected_purchases_new_customer)
    _probability_of_purchases_function = staticmethod(probability_of_purchases)

    def _start_values(self, frequency, recency, T, weights):
        w = np.ones_like(frequency) if weights is None else weights
        mean_x = float(w @ frequency) / float(np.sum(w))
        mean_T = float(w @ T) / float(np.sum(w))
        scale = max(mean_T, 1e-6) / max(mean_x, 0.05)
        return [np.array([1.0, scale]), np.array([0.3, 0.3 * scale]),
                np.array([3.0, 3.0 * scale])]
