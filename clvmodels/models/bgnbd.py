"""The BG/NBD model (Fader, Hardie & Lee 2005, "'Counting your customers' the easy way").

Model (Marketing Science 24(2), 275-284, assumptions i-v): while alive, a
customer buys as a Poisson process with rate ``lambda``; after each repeat
purchase the customer drops out with probability ``p``. Across customers
``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate ``alpha``) and
``p ~ Beta(a, b)``, independently. A customer's data are ``x`` repeat
purchases (``frequency``), the time of the last one ``t_x`` (``recency``,
0 when ``x = 0``) and the time since the first purchase ``T``, all in the
summary's time unit.

This module holds the maths as pure functions over arrays
(:func:`log_likelihood`, :func:`gradient`, :func:`expected_purchases`,
:func:`probability_alive`, ...); :class:`BGNBD` is the thin estimator
around them (fitting, standard errors, saving: see
:mod:`clvmodels.models._base`). It is the pattern the other models copy.

Params arrays are ``(r, alpha, a, b)`` in that order (or a mapping with
those keys).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln

from clvmodels.errors import InvalidParameterError
from clvmodels.models._base import BaseModel

__all__ = [
    "PARAM_NAMES",
    "BGNBD",
    "log_likelihood",
    "log_likelihood_rows",
    "gradient",
    "probability_alive",
]

#: Names of the parameters, in the order used by every params array.
PARAM_NAMES = ("r", "alpha", "a", "b")


# ---------------------------------------------------------------------------
# argument helpers
# ---------------------------------------------------------------------------
def _unpack(params) -> tuple[float, float, float, float]:
    if isinstance(params, Mapping) or isinstance(params, pd.Series):
        try:
            values = [params[name] for name in PARAM_NAMES]
        except KeyError as exc:
            raise InvalidParameterError(
                f"BG/NBD params need the keys {PARAM_NAMES}; missing {exc.args[0]!r}."
            ) from None
    else:
        values = list(np.asarray(params, dtype=float).reshape(-1))
        if len(values) != 4:
            raise InvalidParameterError(
                f"BG/NBD params must be 4 numbers (r, alpha, a, b), got {len(values)}."
            )
    out = []
    for name, v in zip(PARAM_NAMES, values, strict=True):
        v = float(v)
        if not (np.isfinite(v) and v > 0):
            raise InvalidParameterError(
                f"BG/NBD parameter {name} must be finite and > 0, got {v!r}."
            )
        out.append(v)
    return tuple(out)


def _data(frequency, recency, T, weights=None):
    x, tx, T = np.broadcast_arrays(
        np.asarray(frequency, dtype=float),
        np.asarray(recency, dtype=float),
        np.asarray(T, dtype=float),
    )
    for name, arr in (("frequency", x), ("recency", tx), ("T", T)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InvalidParameterError(f"{name} must be finite and >= 0 for every customer.")
    if np.any(tx > T):
        raise InvalidParameterError("recency must not exceed T.")
    if weights is None:
        w = None
    else:
        w = np.broadcast_to(np.asarray(weights, dtype=float), x.shape)
    return x, tx, T, w


# ---------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------
def _loglik_terms(r, alpha, a, b, x, tx, T):
    """Row log-likelihoods and the two log-terms of eq. 6 (see :func:`log_likelihood_rows`)."""
    log_a_term = betaln(a, b + x) - r * np.log1p(T / alpha) - x * np.log(alpha + T)
    log_b_term = np.full_like(log_a_term, -np.inf)
    has = x > 0
    if np.any(has):
        xh = x[has]
        log_b_term[has] = (
            betaln(a + 1, b + xh - 1) - r * np.log1p(tx[has] / alpha) - xh * np.log(alpha + tx[has])
        )
    log_sum = np.logaddexp(log_a_term, log_b_term)
    rows = gammaln(r + x) - gammaln(r) - betaln(a, b) + log_sum
    return rows, log_a_term, log_b_term, log_sum, has


def log_likelihood_rows(params, frequency, recency, T) -> np.ndarray:
    """Log-likelihood of each customer's ``(x, t_x, T)`` under BG/NBD.

    Fader, Hardie & Lee (2005), eq. 6::

        L(r, alpha, a, b | x, t_x, T)
            = B(a, b + x) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
              + [x > 0] B(a + 1, b + x - 1) / B(a, b) * Gamma(r + x) alpha^r
                / (Gamma(r) (alpha + t_x)^(r + x))

    evaluated in log space: ``gammaln(r + x) - gammaln(r) - betaln(a, b) +
    logaddexp(A, B)`` with ``A = betaln(a, b + x) - r log1p(T / alpha) - x
    log(alpha + T)`` and ``B`` likewise with ``t_x``.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like
        Repeat purchases ``x``, time of the last one ``t_x`` and time since the
        first purchase ``T`` (broadcast together).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> float(np.round(log_likelihood_rows((0.243, 4.414, 0.793, 2.426), 2, 30.43, 38.86), 6))
    -9.458606
    """
    r, alpha, a, b = _unpack(params)
    x, tx, T, _ = _data(frequency, recency, T)
    return _loglik_terms(r, alpha, a, b, x.reshape(-1), tx.reshape(-1), T.reshape(-1))[0].reshape(
        x.shape
    )


def log_likelihood(params, frequency, recency, T, weights=None) -> float:
    """Total (weighted) BG/NBD log-likelihood, the sum of :func:`log_likelihood_rows`.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like
    weights : array_like, optional
        Number of customers each row stands for (default 1).

    Returns
    -------
    float

    Examples
    --------
    >>> round(log_likelihood((0.243, 4.414, 0.793, 2.426), [0, 2], [0.0, 30.43], [38.86, 38.86]), 6)
    -10.01332
    """
    rows = log_likelihood_rows(params, frequency, recency, T)
    if weights is None:
        return float(np.sum(rows))
    w = np.broadcast_to(np.asarray(weights, dtype=float), rows.shape)
    return float(np.sum(w * rows))


def _loglik_and_gradient(params, x, tx, T, weights):
    """Weighted total log-likelihood and its gradient (no argument checks; used by fit).

    With ``w_A = exp(A - logaddexp(A, B))`` and ``w_B = 1 - w_A`` (the shares
    of the two terms of eq. 6)::

        d/dr     = psi(r + x) - psi(r) - w_A log1p(T / alpha) - w_B log1p(t_x / alpha)
        d/dalpha = w_A (r T / (alpha (alpha + T)) - x / (alpha + T))
                   + w_B (r t_x / (alpha (alpha + t_x)) - x / (alpha + t_x))
        d/da     = psi(a + b) - psi(a + b + x) + w_B / a
        d/db     = psi(a + b) - psi(a + b + x) + w_A (psi(b + x) - psi(b))
                   + w_B (psi(b + x - 1) - psi(b))
    """
    r, alpha, a, b = (float(v) for v in params)
    rows, log_a_term, log_b_term, log_sum, has = _loglik_terms(r, alpha, a, b, x, tx, T)
    w_a = np.exp(log_a_term - log_sum)
    w_b = np.exp(log_b_term - log_sum)
    psi_ab = digamma(a + b)
    common_ab = psi_ab - digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) - w_a * np.log1p(T / alpha) - w_b * np.log1p(tx / alpha)
    d_alpha = w_a * (r * T / (alpha * (alpha + T)) - x / (alpha + T)) + w_b * (
        r * tx / (alpha * (alpha + tx)) - x / (alpha + tx)
    )
    d_a = common_ab + w_b / a
    psi_b = digamma(b)
    d_b = common_ab + w_a * (digamma(b + x) - psi_b)
    if np.any(has):
        d_b[has] += w_b[has] * (digamma(b + x[has] - 1) - psi_b)
    grad = np.array([weights @ d_r, weights @ d_alpha, weights @ d_a, weights @ d_b])
    return float(weights @ rows), grad


def gradient(params, frequency, recency, T, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` with respect to ``(r, alpha, a, b)``.

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like
    weights : array_like, optional

    Returns
    -------
    ndarray of shape (4,)

    Notes
    -----
    See :func:`_loglik_and_gradient` for the formulas (derived from eq. 6 of
    Fader, Hardie & Lee 2005; ``psi`` is the digamma function).

    Examples
    --------
    >>> g = gradient((0.243, 4.414, 0.793, 2.426), [0, 2], [0.0, 30.43], [38.86, 38.86])
    >>> g.shape
    (4,)
    """
    params = _unpack(params)
    x, tx, T, w = _data(frequency, recency, T, weights)
    x, tx, T = x.reshape(-1), tx.reshape(-1), T.reshape(-1)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float).reshape(-1)
    return _loglik_and_gradient(params, x, tx, T, w)[1]


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
def probability_alive(params, frequency, recency, T) -> np.ndarray:
    """Probability that a customer with history ``(x, t_x, T)`` is still alive at ``T``.

    Fader, Hardie & Lee (2005), eq. A10 / the conditional expectation's
    denominator (eq. 10)::

        P(alive | x, t_x, T)
            = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))

    computed as ``exp(-log1p(exp(log term)))`` (stable for every size of
    the term). A customer without repeat purchases is alive with
    probability 1 (the BG/NBD assumes dropout only happens after a purchase).

    Parameters
    ----------
    params : sequence (r, alpha, a, b) or mapping
    frequency, recency, T : array_like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> p = probability_alive((0.243, 4.414, 0.793, 2.426), [0, 2], [0.0, 30.43], [38.86, 38.86])
    >>> np.round(p, 4)
    array([1.    , 0.7266])
    """
    r, alpha, a, b = _unpack(params)
    x, tx, T, _ = _data(frequency, recency, T)
    return np.exp(-np.logaddexp(0.0, _log_odds_dead(r, alpha, a, b, x, tx, T)))


def _log_odds_dead(r, alpha, a, b, x, tx, T):
    """``log(a / (b + x - 1)) + (r + x) log((alpha + T) / (alpha + t_x))``, -inf when x = 0."""
    out = np.full(np.shape(x), -np.inf)
    has = x > 0
    if np.any(has):
        xh = x[has]
        out[has] = (
            np.log(a)
            - np.log(b + xh - 1)
            + (r + xh) * (np.log1p((T[has] - tx[has]) / (alpha + tx[has])))
        )
    return out


class BGNBD(BaseModel):
    """BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the log-parameters (see :class:`~clvmodels.models._base.BaseModel`).
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
    >>> from clvmodels.data.simulate import simulate_bgnbd_summary
    >>> summary = simulate_bgnbd_summary(
    ...     2000, r=0.25, alpha=4.0, a=0.8, b=2.5, T=39, random_state=1
    ... )
    >>> model = BGNBD().fit(summary)
    >>> model.summary().columns.tolist()
    ['estimate', 'std_error', 'ci_lower', 'ci_upper']
    """

    _model_type = "BGNBD"
    _param_names = PARAM_NAMES
    _data_columns = ("frequency", "recency", "T")
    _integer_columns = ("frequency",)
    _bounded_by = {"recency": "T"}
    _zero_implies_zero = {"frequency": "recency"}

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)

    def _start_values(self, frequency, recency, T, weights):
        w = np.ones_like(frequency) if weights is None else weights
        total = float(np.sum(w))
        mean_x = float(w @ frequency) / total
        mean_T = float(w @ T) / total
        # a purchase rate near the observed one: E[lambda] = r / alpha ~ mean(x) / mean(T)
        scale = max(mean_T, 1e-6) / max(mean_x, 0.05)
        return [
            np.array([1.0, scale, 1.0, 1.0]),
            np.array([0.3, 0.3 * scale, 0.7, 2.5]),
            np.array([3.0, 3.0 * scale, 3.0, 6.0]),
        ]

    def probability_alive(self, summary=None, **columns) -> pd.Series:
        """P(alive at T) for each customer of a summary; see :func:`probability_alive`.

        Parameters
        ----------
        summary : DataFrame, optional
            Columns frequency, recency, T (in the model's time unit).
        **columns : array_like
            The same columns by keyword.

        Returns
        -------
        Series indexed like the summary.
        """
        data, index = self._prediction_data(summary, "probability_alive", **columns)
        values = probability_alive(
            self._params_array(), data["frequency"], data["recency"], data["T"]
        )
        return pd.Series(values, index=index, name="probability_alive")
