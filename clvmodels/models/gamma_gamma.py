"""The Gamma-Gamma model of the monetary value of repeat transactions.

Model (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, JMR 42(4); Fader & Hardie
2013, "The Gamma-Gamma model of monetary value", www.brucehardie.com/notes/025/):
a customer's transaction values are ``z ~ Gamma(p, nu)`` (shape ``p``, rate
``nu``), so their mean value is ``p / nu``; across customers ``nu ~ Gamma(q,
gamma)``. A customer with ``x`` repeat transactions of mean value ``mbar``
then has ``mbar | nu ~ Gamma(p x, nu x)`` and, integrating ``nu`` out, the
marginal density (Fader & Hardie 2013, eq. 3)::

    f(mbar | p, q, gamma; x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
                               * gamma^q mbar^(p x - 1) x^(p x) / (gamma + x mbar)^(p x + q)

The posterior of ``nu`` is ``Gamma(p x + q, gamma + x mbar)``, so the expected
value of the customer's future transactions is (eq. 5)::

    E[Z | p, q, gamma; x, mbar] = p (gamma + x mbar) / (p x + q - 1)
                                = (q - 1) / (p x + q - 1) * p gamma / (q - 1)
                                  + p x / (p x + q - 1) * mbar,

a weighted mean of the population mean ``p gamma / (q - 1)`` and the
customer's own mean ``mbar``. It exists when ``p x + q > 1``; the population
mean needs ``q > 1``.

The model assumes the value of a customer's transactions is independent of
their number (``frequency``): :func:`independence_check` tests that.

The maths are pure functions over arrays (:func:`log_likelihood`,
:func:`gradient`, :func:`expected_spend`, :func:`population_mean_spend`);
:class:`GammaGamma` is the thin estimator around them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, stdtr

from clvmodels.errors import (
    ExcludedCustomersWarning,
    InvalidCustomerDataError,
    InvalidParameterError,
    InvalidSummaryError,
    StatisticalWarning,
)
from clvmodels.models._base import BaseModel, check_is_fitted, validate_data
from clvmodels.models._checks import finite_array, weights_array
from clvmodels.models._params import unpack_params
from clvmodels.models.uncertainty import draw_rows

__all__ = [
    "GammaGamma",
    "PARAM_NAMES",
    "individual_log_likelihood",
    "log_likelihood",
    "gradient",
    "expected_spend",
    "population_mean_spend",
    "independence_check",
]

#: Names of the parameters, in the order used by every array of parameters.
PARAM_NAMES = ("p", "q", "gamma")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _unpack_params(params) -> tuple[float, float, float]:
    """Return ``(p, q, gamma)`` as floats from a mapping/Series or a sequence; check > 0."""
    return unpack_params(params, PARAM_NAMES, "Gamma-Gamma")


def _check_spend_data(frequency, monetary_value):
    """Arrays ``x > 0`` and ``mbar > 0`` (the only customers the likelihood is defined for)."""
    x = finite_array(frequency, "frequency")
    m = finite_array(monetary_value, "monetary_value")
    x, m = np.broadcast_arrays(x, m)
    bad = (x <= 0) | (m <= 0)
    if np.any(bad):
        pos = np.flatnonzero(bad.ravel())
        first = pos[0]
        raise InvalidCustomerDataError(
            f"The Gamma-Gamma likelihood needs frequency > 0 and monetary_value > 0; "
            f"{pos.size} row(s) are not (first at position {first}: frequency="
            f"{x.ravel()[first]:g}, monetary_value={m.ravel()[first]:g}). Keep only "
            f"customers with at least one repeat transaction of positive value."
        )
    return x, m


def _stirling_tail(z):
    """``sum_k B_2k / (2k (2k - 1) z^(2k - 1))``, k = 1..4: ``log Gamma(z)`` minus Stirling's
    leading terms (Abramowitz & Stegun 6.1.40); truncation error below ``1e-17`` for ``z >= 40``."""
    w = 1.0 / (z * z)
    return (1.0 / z) * (1.0 / 12.0 + w * (-1.0 / 360.0 + w * (1.0 / 1260.0 - w / 1680.0)))


def _digamma_tail(z):
    """``sum_k B_2k / (2k z^2k)``, k = 1..4: ``log z - 1/(2z) - psi(z)`` (A&S 6.3.18)."""
    w = 1.0 / (z * z)
    return w * (1.0 / 12.0 + w * (-1.0 / 120.0 + w * (1.0 / 252.0 - w / 240.0)))


def _log_beta(a, b):
    """``log B(a, b)`` for ``a, b > 0``, accurate to ~1e-15 relative everywhere.

    :func:`scipy.special.betaln` loses up to ~5e-11 relative accuracy when one
    argument is large (``1e3``-``1e10``). When ``A = max(a, b) >= 40`` this uses
    ``log B = log Gamma(s) - [log Gamma(A + s) - log Gamma(A)]`` with ``s =
    min(a, b)``, the bracket from Stirling's series with its leading terms
    differenced in closed form, ``(A - 1/2) log1p(s / A) + s log(A + s) - s``.
    The tails are below ``A^-1 / 12`` so their difference needs no care.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    big_arg = np.maximum(a, b)
    small_arg = np.minimum(a, b)
    out = np.empty(a.shape)
    small = big_arg < 40.0
    if np.all(small):
        return betaln(a, b)
    if np.any(small):
        out[small] = betaln(a[small], b[small])
    big = ~small
    A, s = big_arg[big], small_arg[big]
    diff = ((A - 0.5) * np.log1p(s / A) + s * np.log(A + s) - s
            + _stirling_tail(A + s) - _stirling_tail(A))
    out[big] = gammaln(s) - diff
    return out


def _digamma_difference(a, b):
    """``psi(a + b) - psi(a)`` for ``a, b > 0`` without cancellation when ``a`` is large.

    For ``a >= 40`` it uses the asymptotic series of the digamma function,
    ``psi(z) ~ log z - 1/(2z) - sum_k B_2k / (2k z^2k)`` (Abramowitz & Stegun
    6.3.18), with the leading terms differenced in closed form:
    ``log1p(b / a) + b / (2 a (a + b)) + tail(a) - tail(a + b)``; truncation
    error below ``1e-17``. Elsewhere it calls :func:`scipy.special.digamma`.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    big = a >= 40.0
    if not np.any(big):
        return digamma(a + b) - digamma(a)
    out = np.empty(a.shape)
    small = ~big
    if np.any(small):
        out[small] = digamma(a[small] + b[small]) - digamma(a[small])
    ab, bb = a[big], b[big]
    out[big] = (np.log1p(bb / ab) + bb / (2.0 * ab * (ab + bb))
                + _digamma_tail(ab) - _digamma_tail(ab + bb))
    return out


# ---------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------
def individual_log_likelihood(params, frequency, monetary_value) -> np.ndarray:
    """Log of the marginal density of each customer's mean spend ``mbar`` given ``x``.

    Fader & Hardie (2013), eq. (3)::

        log f = log Gamma(p x + q) - log Gamma(p x) - log Gamma(q) + q log gamma
                + (p x - 1) log mbar + p x log x - (p x + q) log(gamma + x mbar)

    evaluated in the equivalent, cancellation-free form
    ``-log B(p x, q) - q log1p(x mbar / gamma) - p x log1p(gamma / (x mbar)) - log mbar``.

    Parameters
    ----------
    params : sequence (p, q, gamma) or mapping with those keys
        Model parameters, all > 0.
    frequency : array_like
        Number of repeat transactions ``x`` (> 0).
    monetary_value : array_like
        Mean value ``mbar`` of the repeat transactions (> 0).

    Returns
    -------
    ndarray
        One log-density per customer (the density of ``mbar``, in currency^-1).

    Examples
    --------
    >>> individual_log_likelihood((6.25, 3.74, 15.44), [1, 3], [20.0, 35.0]).round(4)
    array([-3.5942, -4.064 ])
    """
    p, q, gamma = _unpack_params(params)
    x, m = _check_spend_data(frequency, monetary_value)
    px = p * x
    xm = x * m
    return -_log_beta(px, q) - q * np.log1p(xm / gamma) - px * np.log1p(gamma / xm) - np.log(m)


class _Prepared:
    """The data of a fit in the form the log-likelihood uses, built once (``_prepare_data``).

    The special functions (log-beta, digamma) depend on a row only through its
    frequency ``x``, which takes few distinct values: they are evaluated on
    ``x_values`` and summed with the total weight of each value; the per-row
    work is then a few logarithms of the precomputed ``x m``.
    """

    __slots__ = ("x", "m", "xm", "log_m", "inverse_xm", "x_values", "x_index", "_w", "_cached")

    def __init__(self, frequency, monetary_value):
        self.x = np.asarray(frequency, dtype=float).ravel()
        self.m = np.asarray(monetary_value, dtype=float).ravel()
        self.xm = self.x * self.m
        self.log_m = np.log(self.m)
        self.inverse_xm = 1.0 / self.xm
        self.x_values, self.x_index = np.unique(self.x, return_inverse=True)
        self._w = self._cached = None

    def weighted(self, weights):
        """Products of the weights with the data, computed once per weight vector.

        Returns ``(w, wx, wxm, wx_by_value, sum_w_log_m)``.
        """
        if self._cached is None or weights is not self._w:
            w = np.ones_like(self.x) if weights is None else np.asarray(weights, dtype=float)
            wx = w * self.x
            self._cached = (w, wx, wx * self.m,
                            np.bincount(self.x_index, weights=w, minlength=self.x_values.size),
                            _dot(w, self.log_m))
            self._w = weights
        return self._cached


def _dot(u, v) -> float:
    # einsum, not BLAS: no thread pool to wake for a reduction
    return float(np.einsum("i,i->", u, v))


def _loglik_and_gradient(params, *data_and_weights):
    """Weighted total log-likelihood and its gradient w.r.t. ``(p, q, gamma)``; no validation.

    Called as ``_loglik_and_gradient(params, frequency, monetary_value, weights)``
    or, inside a fit, as ``_loglik_and_gradient(params, _Prepared, weights)``.
    The formulas of :func:`log_likelihood` and :func:`gradient`.
    """
    *data, weights = data_and_weights
    prep = data[0] if len(data) == 1 and isinstance(data[0], _Prepared) else _Prepared(*data)
    p, q, gamma = (float(v) for v in params)
    w, wx_rows, wxm, wx, sum_w_log_m = prep.weighted(weights)
    # functions of x alone, on its distinct values, weighted by their total weight
    ux = prep.x_values
    pux = p * ux
    ll_x = -_log_beta(pux, q)
    dp_x = ux * _digamma_difference(pux, q)
    dq_x = digamma(pux + q) - digamma(q)
    # per-row terms: two log1p (each accurate to an ulp, whichever of gamma and x m is
    # larger) and one reciprocal; the weight products are precomputed
    xm = prep.xm
    log1p_g_xm = np.log1p(np.multiply(prep.inverse_xm, gamma))
    log1p_xm_g = np.log1p(np.multiply(xm, 1.0 / gamma))
    inverse = np.reciprocal(xm + gamma)
    sum_log1p_xm_g = _dot(w, log1p_xm_g)
    sum_x_log1p_g_xm = _dot(wx_rows, log1p_g_xm)
    ll = _dot(wx, ll_x) - q * sum_log1p_xm_g - p * sum_x_log1p_g_xm - sum_w_log_m
    d_p = _dot(wx, dp_x) - sum_x_log1p_g_xm
    d_q = _dot(wx, dq_x) - sum_log1p_xm_g
    # x (q m - p gamma) / (gamma (gamma + x m)), summed: (q / gamma) sum w x m / (gamma + x m)
    # - p sum w x / (gamma + x m)
    d_gamma = (q / gamma) * _dot(wxm, inverse) - p * _dot(wx_rows, inverse)
    return ll, np.array([d_p, d_q, d_gamma])


def log_likelihood(params, frequency, monetary_value, weights=None) -> float:
    """Total Gamma-Gamma log-likelihood of customers' mean spends.

    ``sum_i w_i log f(mbar_i | p, q, gamma; x_i)`` with ``f`` the marginal
    density of the mean spend (Fader & Hardie 2013, eq. 3; see
    :func:`individual_log_likelihood`).

    Parameters
    ----------
    params : sequence (p, q, gamma) or mapping with those keys
    frequency, monetary_value : array_like
        ``x > 0`` repeat transactions and their mean value ``mbar > 0``.
    weights : array_like, optional
        Number of customers sharing each row (default 1 each).

    Returns
    -------
    float

    Examples
    --------
    >>> round(log_likelihood((6.25, 3.74, 15.44), [1, 3], [20.0, 35.0], weights=[2, 1]), 4)
    -11.2524
    """
    theta = _unpack_params(params)
    x, m = _check_spend_data(frequency, monetary_value)
    x, m = x.ravel(), m.ravel()
    return _loglik_and_gradient(theta, x, m, weights_array(weights, x.shape))[0]


def gradient(params, frequency, monetary_value, weights=None) -> np.ndarray:
    """Analytic gradient of :func:`log_likelihood` with respect to ``(p, q, gamma)``.

    Differentiating eq. (3) of Fader & Hardie (2013)::

        d/dp     = x [psi(p x + q) - psi(p x) - log1p(gamma / (x mbar))]
        d/dq     = psi(p x + q) - psi(q) - log1p(x mbar / gamma)
        d/dgamma = q / gamma - (p x + q) / (gamma + x mbar)
                 = x (q mbar - p gamma) / (gamma (gamma + x mbar))

    summed over customers with weights. ``psi(p x + q) - psi(p x)`` is
    evaluated without cancellation for large ``p x``.

    Returns
    -------
    ndarray of shape (3,)
        Derivatives with respect to ``p``, ``q`` and ``gamma`` (natural scale).

    Examples
    --------
    >>> gradient((6.25, 3.74, 15.44), [1, 3], [20.0, 35.0]).round(4)
    array([0.0757, 0.0973, 0.0158])
    """
    theta = _unpack_params(params)
    x, m = _check_spend_data(frequency, monetary_value)
    x, m = x.ravel(), m.ravel()
    return _loglik_and_gradient(theta, x, m, weights_array(weights, x.shape))[1]


# ---------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------
def population_mean_spend(params) -> float:
    """Mean transaction value across the population, ``p gamma / (q - 1)``.

    ``E[p / nu]`` with ``nu ~ Gamma(q, gamma)``; finite only when ``q > 1``
    (Fader & Hardie 2013, section 3).

    Raises
    ------
    InvalidParameterError
        If ``q <= 1``: the model then has no finite mean spend.

    Examples
    --------
    >>> round(population_mean_spend((6.25, 3.74, 15.44)), 4)
    35.219
    """
    p, q, gamma = _unpack_params(params)
    if q <= 1.0:
        raise InvalidParameterError(
            f"The Gamma-Gamma population mean spend p*gamma/(q-1) is infinite when q <= 1 "
            f"(q = {q:g}): the fitted spend distribution is too heavy-tailed to have a mean. "
            f"Check the monetary values for extreme outliers (refunds, data errors), or use "
            f"customers' own mean spend instead."
        )
    return p * gamma / (q - 1.0)


def expected_spend(params, frequency, monetary_value) -> np.ndarray:
    """Conditional expected value of a customer's future transactions.

    Fader & Hardie (2013), eq. (5)::

        E[Z | x, mbar] = p (gamma + x mbar) / (p x + q - 1)

    A customer with ``x = 0`` gets the population mean ``p gamma / (q - 1)``
    (``mbar`` is then ignored). The expectation exists when ``p x + q > 1``.

    Parameters
    ----------
    params : sequence (p, q, gamma) or mapping with those keys
    frequency : array_like
        Repeat transactions ``x >= 0``.
    monetary_value : array_like
        Mean value of the repeat transactions (``> 0`` where ``x > 0``).

    Returns
    -------
    ndarray

    Raises
    ------
    InvalidParameterError
        If ``p x + q <= 1`` for some row (the posterior mean is infinite).

    Warns
    -----
    StatisticalWarning
        If ``q <= 1`` but every row's expectation exists: the population has no
        finite mean spend, so estimates for customers with few transactions are
        fragile.

    Examples
    --------
    >>> expected_spend((6.25, 3.74, 15.44), [0, 1, 3], [0.0, 20.0, 35.0]).round(4)
    array([35.219 , 24.6385, 35.0279])
    """
    p, q, gamma = _unpack_params(params)
    x = finite_array(frequency, "frequency")
    m = finite_array(monetary_value, "monetary_value")
    x, m = np.broadcast_arrays(x, m)
    if np.any(x < 0):
        raise InvalidCustomerDataError("frequency must be >= 0 (number of repeat transactions).")
    bad_m = (x > 0) & ~(m >= 0)  # 0 is free repeat purchases: eq. (5) holds at mbar = 0
    if np.any(bad_m):
        first = np.flatnonzero(bad_m.ravel())[0]
        raise InvalidCustomerDataError(
            f"monetary_value must be >= 0 for customers with repeat transactions; "
            f"{int(bad_m.sum())} row(s) are not (first at position {first}: frequency="
            f"{x.ravel()[first]:g}, monetary_value={m.ravel()[first]:g})."
        )
    denom = p * x + q - 1.0
    undefined = denom <= 0
    if np.any(undefined):
        first = np.flatnonzero(undefined.ravel())[0]
        raise InvalidParameterError(
            f"The Gamma-Gamma expected spend p(gamma + x mbar)/(p x + q - 1) is infinite when "
            f"p x + q <= 1: {int(undefined.sum())} row(s) (first at position {first}, "
            f"frequency={x.ravel()[first]:g}) with p={p:g}, q={q:g}. With q <= 1 the fitted "
            f"spend distribution has no mean; check monetary values for outliers."
        )
    if q <= 1.0:
        warnings.warn(
            f"Gamma-Gamma q = {q:g} <= 1: the population has no finite mean spend, so expected "
            f"spends of customers with few transactions are fragile.",
            StatisticalWarning,
            stacklevel=2,
        )
    return p * (gamma + np.where(x > 0, x * m, 0.0)) / denom


# ---------------------------------------------------------------------------
# diagnostics
# ---------------------------------------------------------------------------
def _weighted_midranks(values, weights):
    """Midranks each value would have in the data expanded by (integer) weights."""
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_vals[1:] != sorted_vals[:-1])))
    tie_weight = np.add.reduceat(weights[order], starts)
    below = np.concatenate(([0.0], np.cumsum(tie_weight)[:-1]))
    rank_of_tie = below + (tie_weight + 1.0) / 2.0
    ranks = np.empty_like(values)
    ranks[order] = np.repeat(rank_of_tie, np.diff(np.append(starts, values.size)))
    return ranks


def _weighted_pearson(x, m, w):
    """Pearson correlation of the data expanded by weights, and its t-test p-value."""
    n = float(np.sum(w))
    dx = x - np.sum(w * x) / n
    dm = m - np.sum(w * m) / n
    corr = float(np.sum(w * dx * dm) / np.sqrt(np.sum(w * dx * dx) * np.sum(w * dm * dm)))
    corr = min(1.0, max(-1.0, corr))
    if n <= 2:
        return corr, float("nan")
    if abs(corr) == 1.0:
        return corr, 0.0
    t = corr * np.sqrt((n - 2.0) / (1.0 - corr * corr))
    return corr, float(2.0 * stdtr(n - 2.0, -abs(t)))  # two-sided Student t


def independence_check(frequency, monetary_value, method: str = "pearson",
                       threshold: float = 0.3, alpha: float = 0.05, weights=None) -> dict:
    """Test the model's assumption that spend per transaction is independent of frequency.

    The Gamma-Gamma model treats ``mbar`` and ``x`` as independent (Fader &
    Hardie 2013, section 2, who report a correlation of 0.11 on CDNOW). This
    computes the Pearson (or Spearman rank) correlation between them over the
    customers given and its two-sided p-value (:func:`scipy.stats.pearsonr` /
    :func:`scipy.stats.spearmanr`). With ``weights`` (customers per row) it
    gives the same numbers as those functions on the rows repeated by their
    weights (t-test p-value with ``n = sum(weights)``), without repeating them.

    Parameters
    ----------
    frequency, monetary_value : array_like
        Customers with at least one repeat transaction.
    method : {"pearson", "spearman"}
    threshold : float
        ``|correlation|`` at or above which the dependence is called large.
    alpha : float
        Significance level.
    weights : array_like, optional
        Number of customers each row stands for.

    Returns
    -------
    dict
        ``method``, ``correlation``, ``p_value``, ``n_customers``,
        ``threshold``, ``alpha`` and ``violated`` (``|correlation| >=
        threshold`` and ``p_value < alpha``). The correlation and p-value are
        NaN (and ``violated`` False) when fewer than 3 customers are given or
        either variable is constant: there is nothing to test.

    Examples
    --------
    >>> res = independence_check([1, 2, 3, 4, 5], [10.0, 12.0, 9.0, 11.0, 10.5])
    >>> res["violated"]
    False
    """
    if method not in ("pearson", "spearman"):
        raise InvalidParameterError(
            f"method must be 'pearson' or 'spearman'; got {method!r}."
        )
    x = finite_array(frequency, "frequency").ravel()
    m = finite_array(monetary_value, "monetary_value").ravel()
    w = weights_array(weights, x.shape)
    if w is not None:
        keep = w > 0
        x, m, w = x[keep], m[keep], w[keep]
    n = float(x.size if w is None else np.sum(w))
    n_out = int(n) if float(n).is_integer() else n
    if n < 3 or x.size < 2 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return {"method": method, "correlation": float("nan"), "p_value": float("nan"),
                "n_customers": n_out, "threshold": float(threshold), "alpha": float(alpha),
                "violated": False}
    if w is None:
        from scipy import stats  # here, not at import: scipy.stats costs ~0.8 s to import

        res = stats.pearsonr(x, m) if method == "pearson" else stats.spearmanr(x, m)
        corr, pval = float(res.statistic), float(res.pvalue)
    elif method == "pearson":
        corr, pval = _weighted_pearson(x, m, w)
    else:
        corr, pval = _weighted_pearson(_weighted_midranks(x, w), _weighted_midranks(m, w), w)
    return {"method": method, "correlation": corr, "p_value": pval, "n_customers": n_out,
            "threshold": float(threshold), "alpha": float(alpha),
            "violated": bool(abs(corr) >= threshold and pval < alpha)}


def _id(value):
    """A customer id as plain Python (``3``, not ``np.int64(3)``) for messages."""
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------
# estimator
# ---------------------------------------------------------------------------
class GammaGamma(BaseModel):
    """Gamma-Gamma model of the value of repeat transactions (Fader & Hardie 2013).

    Each transaction of a customer is worth ``z ~ Gamma(p, nu)``; across
    customers ``nu ~ Gamma(q, gamma)``. Fitted by maximum likelihood on the
    customers with at least one repeat transaction, from their number of
    repeat transactions ``frequency`` and mean repeat value ``monetary_value``
    (the marginal density of eq. 3 of the note; see
    :func:`individual_log_likelihood`).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the log-parameters (see :class:`~clvmodels.models._base.BaseModel`).
    n_starts : int, default 3
        Start values tried.
    drop_invalid : bool, default False
        Rows the model cannot use (``frequency == 0`` or ``monetary_value <=
        0``) make :meth:`fit` raise :class:`~clvmodels.errors.InvalidSummaryError`
        unless this is True; they are then left out with an
        :class:`~clvmodels.errors.ExcludedCustomersWarning` giving the count.
        ``fit(summary, drop_invalid=True)`` overrides it for one call.
    independence_threshold : float, default 0.3
        ``|correlation|`` between ``frequency`` and ``monetary_value`` at or
        above which (when also significant at 5%) :meth:`fit` warns that the
        model's independence assumption looks violated.

    Attributes
    ----------
    params_ : Series
        ``p``, ``q``, ``gamma``.
    n_excluded_customers_ : int
        Rows left out by ``drop_invalid``.
    independence_ : dict
        Result of :meth:`independence_check` on the fitted customers.
    time_unit_ : str or None
        Unit of the fitted summary, for information only: spend per transaction
        does not depend on the time unit, so predictions do not check it.

    Notes
    -----
    CDNOW (946 repeat buyers, Fader & Hardie 2013): ``p = 6.25``, ``q = 3.74``,
    ``gamma = 15.44``; population mean spend ``p gamma / (q - 1) = $35.22``.

    Examples
    --------
    >>> from clvmodels.data.summary import rfm_summary
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> summary = rfm_summary(load_cdnow_transactions(), amount="amount",
    ...                       calibration_end="1997-09-30", observation_end="1998-06-30")
    >>> repeat = summary[summary["frequency"] > 0]
    >>> model = GammaGamma().fit(repeat)
    >>> model.params_.round(2).tolist()  # Fader & Hardie (2013): 6.25, 3.74, 15.44
    [6.25, 3.74, 15.44]
    >>> round(model.population_mean_spend(), 2)
    35.17
    >>> model.expected_spend(summary).head(3).round(2).tolist()  # customer 3 never came back
    [24.65, 18.91, 35.17]
    """

    _param_names = PARAM_NAMES
    _data_columns = ("frequency", "monetary_value")
    _integer_columns = ("frequency",)

    _loglik_and_gradient = staticmethod(_loglik_and_gradient)

    @staticmethod
    def _prepare_data(frequency, monetary_value):
        return (_Prepared(frequency, monetary_value),)

    def __init__(self, penalizer: float = 0.0, n_starts: int = 3, drop_invalid: bool = False,
                 independence_threshold: float = 0.3):
        self.penalizer = penalizer
        self.n_starts = n_starts
        self.drop_invalid = drop_invalid
        self.independence_threshold = independence_threshold

    # ------------------------------------------------------------------ fit
    def _start_values(self, frequency, monetary_value, weights):
        """Moment-matched ``gamma`` for a few (p, q) shapes: the population mean
        ``p gamma / (q - 1)`` equals the weighted mean of ``monetary_value``."""
        w = np.ones_like(monetary_value) if weights is None else weights
        mean = float(np.sum(w * monetary_value) / np.sum(w))
        shapes = [(2.0, 3.0), (1.0, 2.0), (10.0, 10.0), (0.5, 5.0)]
        return [np.array([p, q, mean * (q - 1.0) / p]) for p, q in shapes]

    def fit(self, summary: pd.DataFrame | None = None, *, weights=None,
            drop_invalid: bool | None = None, **columns) -> GammaGamma:
        """Estimate ``p``, ``q`` and ``gamma`` on the customers with repeat transactions.

        Parameters
        ----------
        summary : DataFrame, optional
            Customer summary with ``frequency`` and ``monetary_value`` (mean value
            of the *repeat* transactions, as ``clvmodels.rfm_summary(...,
            amount=...)`` gives), indexed by customer.
        weights : array_like or str, optional
            Customers per row (or the name of a column holding it).
        drop_invalid : bool, optional
            Overrides the ``drop_invalid`` hyperparameter for this call.
        **columns : array_like
            ``frequency=`` and ``monetary_value=`` by keyword instead of ``summary``.

        Returns
        -------
        self

        Raises
        ------
        InvalidSummaryError
            If a row has ``frequency == 0`` or ``monetary_value <= 0`` and
            invalid rows are not dropped.

        Warns
        -----
        ExcludedCustomersWarning
            How many rows were dropped (with ``drop_invalid``).
        StatisticalWarning
            When ``frequency`` and ``monetary_value`` are clearly correlated.
        """
        self._check_hyperparameters()
        drop = self.drop_invalid if drop_invalid is None else drop_invalid
        data, index = validate_data(self, summary, columns, context="fit")
        x, m = data["frequency"], data["monetary_value"]
        w = self._weights(summary, weights, len(index))
        invalid = (x <= 0) | (m <= 0)
        n_invalid = int(invalid.sum())
        if n_invalid and not drop:
            pos = np.flatnonzero(invalid)[:5]
            shown = "; ".join(
                f"{index.name or 'row'} {_id(index[i])!r}: frequency={x[i]:g}, "
                f"monetary_value={m[i]:g}" for i in pos)
            raise InvalidSummaryError(
                f"The Gamma-Gamma model is fitted on customers with at least one repeat "
                f"transaction of positive value, but {n_invalid} of {x.size} rows have "
                f"frequency == 0 or monetary_value <= 0 (first: {shown}). Fit on "
                f"summary[(summary.frequency > 0) & (summary.monetary_value > 0)], or pass "
                f"drop_invalid=True to leave them out with a warning."
            )
        keep = ~invalid
        if n_invalid:
            if not np.any(keep):
                raise InvalidSummaryError(
                    f"All {x.size} rows have frequency == 0 or monetary_value <= 0: no customer "
                    f"with a repeat transaction to fit the Gamma-Gamma model on."
                )
            warnings.warn(
                f"The Gamma-Gamma fit left out {n_invalid} of {x.size} customers with frequency "
                f"== 0 or monetary_value <= 0 (no repeat transaction of positive value to "
                f"average); "
                f"fitted on the other {int(keep.sum())}.",
                ExcludedCustomersWarning,
                stacklevel=2,
            )
        wk = None if w is None else w[keep]
        super().fit(None, weights=wk, frequency=x[keep], monetary_value=m[keep])
        unit = summary.attrs.get("time_unit") if isinstance(summary, pd.DataFrame) else None
        self.time_unit_ = None if unit is None else str(unit)
        self.n_excluded_customers_ = n_invalid
        self.independence_ = self._independence(x[keep], m[keep], "pearson", weights=wk,
                                                stacklevel=3)
        # also in fit_info_, so that summary().attrs and saved files carry them
        self.fit_info_.update({
            "n_excluded_customers": n_invalid,
            "independence_correlation": self.independence_["correlation"],
            "independence_p_value": self.independence_["p_value"],
        })
        return self

    # ------------------------------------------------------------ diagnostics
    def _independence(self, x, m, method, alpha=0.05, weights=None, stacklevel=2) -> dict:
        result = independence_check(x, m, method=method, alpha=alpha, weights=weights,
                                    threshold=float(self.independence_threshold))
        if result["violated"]:
            warnings.warn(
                f"frequency and monetary_value are correlated ({method} r = "
                f"{result['correlation']:.3f}, p = {result['p_value']:.2g}, n = "
                f"{result['n_customers']}): the Gamma-Gamma model assumes spend per transaction "
                f"is independent of the number of transactions, so expected spends and CLV may "
                f"be biased. Consider segmenting customers or a model with dependence.",
                StatisticalWarning,
                stacklevel=stacklevel + 1,
            )
        return result

    def independence_check(self, summary: pd.DataFrame | None = None, method: str = "pearson",
                           alpha: float = 0.05, *, weights=None, **columns) -> dict:
        """Correlation between ``frequency`` and ``monetary_value`` of repeat customers.

        Runs :func:`independence_check` on the rows with ``frequency > 0`` and
        ``monetary_value > 0`` and warns (:class:`~clvmodels.errors.StatisticalWarning`)
        when ``|correlation| >= independence_threshold`` with ``p_value < alpha``.
        Needs no fitted parameters; :meth:`fit` stores its result in
        ``independence_``. ``weights`` (customers per row, or a column name)
        count each row that many times.

        Returns
        -------
        dict
            ``method``, ``correlation``, ``p_value``, ``n_customers``,
            ``threshold``, ``alpha``, ``violated``. The correlation is NaN when
            fewer than 3 customers remain or a column is constant.
        """
        data, index = validate_data(self, summary, columns, context="independence_check")
        x, m = data["frequency"], data["monetary_value"]
        w = self._weights(summary, weights, len(index))
        keep = (x > 0) & (m > 0)
        return self._independence(x[keep], m[keep], method, alpha=alpha,
                                  weights=None if w is None else w[keep])

    # ------------------------------------------------------------ predictions
    def _check_unit(self, summary, method: str) -> None:
        """Spend per transaction has no time unit: any summary unit is accepted."""

    def population_mean_spend(self) -> float:
        """Mean value per transaction across customers, ``p gamma / (q - 1)`` (needs ``q > 1``)."""
        check_is_fitted(self, "population_mean_spend")
        return population_mean_spend(self._params_array())

    def expected_spend(self, summary: pd.DataFrame | None = None, *, interval=None,
                       method="asymptotic", n_draws=1000, n_boot=200, random_state=None,
                       progress=False, fit_summary=None, **columns):
        """Expected value of each customer's future transactions (Fader & Hardie 2013, eq. 5).

        ``p (gamma + x mbar) / (p x + q - 1)``; customers with ``frequency == 0``
        get the population mean ``p gamma / (q - 1)``.

        Parameters
        ----------
        summary : DataFrame, optional
            With ``frequency`` and ``monetary_value`` (0 allowed when frequency is 0).
        interval : float in (0, 1), optional
            Also return a parameter-uncertainty interval at this level (e.g.
            0.9): the percentiles of the expected spend over draws of ``(p, q,
            gamma)``. It covers the uncertainty of the estimated parameters only,
            not the spread of the customer's individual transaction values (see
            :mod:`clvmodels.models.uncertainty`).
        method : {"asymptotic", "bootstrap"}, default "asymptotic"
            Normal draws of the log-parameters from the fit's covariance, or a
            bootstrap over customers (needs ``fit_summary``; the repeat customers
            with a positive mean value are resampled, as in :meth:`fit`).
        n_draws, n_boot : int, default 1000, 200
            Parameter draws (asymptotic) or resamples (bootstrap).
        random_state : None, int or numpy Generator
        progress : bool, default False
            Progress bar of the bootstrap refits.
        fit_summary : DataFrame, optional
            The summary the model was fitted on (bootstrap only).
        **columns : array_like
            The columns by keyword instead of ``summary``.

        Returns
        -------
        Series or DataFrame
            Series named ``"expected_spend"``, indexed like ``summary``; with
            ``interval``, a DataFrame with columns ``expected_spend``,
            ``expected_spend_lower``, ``expected_spend_upper``. A draw with ``p x +
            q <= 1`` has no finite expected spend; it counts as ``+inf`` (with a
            :class:`~clvmodels.errors.StatisticalWarning`).
        """
        data, index = self._prediction_data(summary, "expected_spend", **columns)
        x, m = data["frequency"], data["monetary_value"]
        bad = (x > 0) & ~(m >= 0)
        if np.any(bad):
            pos = np.flatnonzero(bad)[:5]
            shown = "; ".join(f"{index.name or 'row'} {_id(index[i])!r}: frequency={x[i]:g}, "
                              f"monetary_value={m[i]:g}" for i in pos)
            raise InvalidSummaryError(
                f"expected_spend(): {int(bad.sum())} customer(s) have repeat transactions but "
                f"monetary_value < 0 (first: {shown}); a mean transaction value must be >= 0. "
                f"Check refunds or build the summary with clvmodels.rfm_summary(..., amount=...)."
            )
        free = (x > 0) & (m == 0)
        if np.any(free):
            pos = np.flatnonzero(free)[:5]
            shown = ", ".join(repr(_id(index[i])) for i in pos)
            warnings.warn(
                f"expected_spend(): {int(free.sum())} customer(s) (first: {shown}) have repeat "
                "transactions that all cost 0. Gamma-Gamma's spend is positive, so these "
                "customers were not part of its fit; their expected spend is eq. (5) at mean "
                "value 0, p gamma / (p x + q - 1), the population mean shrunk by their free "
                "purchases.", StatisticalWarning, stacklevel=2)
        values = expected_spend(self._params_array(), x, m)
        estimate = pd.Series(values, index=index, name="expected_spend")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._with_interval(estimate, "expected_spend", summary, columns, options)

    # ------------------------------------------------------------ interval hooks
    def _interval_data(self, summary, method: str, **columns):
        """The default, with ``monetary_value`` set to 0 where ``frequency`` is 0 (unused there)."""
        data, index = super()._interval_data(summary, method, **columns)
        data["monetary_value"] = np.where(data["frequency"] > 0, data["monetary_value"], 0.0)
        return data, index

    def _simulate_values(self, theta, frequency, monetary_value, owner, rng):
        """The forecast's per-purchase value: :func:`simulate_values`."""
        return simulate_values(theta, frequency, monetary_value, owner, rng)

    def _predict_with_params(self, quantity, params, data, **kwargs):
        """Expected spend at many parameter vectors; see :func:`expected_spend_draws`."""
        if quantity != "expected_spend":
            return super()._predict_with_params(quantity, params, data, **kwargs)
        return expected_spend_draws(params, data["frequency"], data["monetary_value"])

    def _bootstrap_data(self, fit_summary):
        """Unique ``(frequency, monetary_value)`` rows of the customers :meth:`fit` uses."""
        from clvmodels.models._fit import compress

        data, _ = validate_data(self, fit_summary, {}, context="bootstrap")
        x, m = data["frequency"], data["monetary_value"]
        keep = (x > 0) & (m > 0)
        if not np.any(keep):
            raise InvalidSummaryError(
                "fit_summary has no customer with a repeat transaction of positive value; the "
                "Gamma-Gamma bootstrap resamples those customers. Pass the summary the model "
                "was fitted on."
            )
        packed = compress([x[keep], m[keep]])
        return packed.columns, packed.weights


def expected_spend_draws(params, frequency, monetary_value) -> np.ndarray:
    """Gamma-Gamma expected spend for many parameter vectors at once.

    ``E[Z | x, mbar] = p (gamma + x mbar) / (p x + q - 1)`` (Fader & Hardie 2013,
    eq. 5), the population mean ``p gamma / (q - 1)`` at ``x = 0``; ``+inf`` where
    ``p x + q <= 1`` (no finite mean at those parameters).

    Parameters
    ----------
    params : ndarray of shape (n_draws, 3)
        ``(p, q, gamma)`` per row.
    frequency, monetary_value : ndarray of shape (n_rows,)

    Returns
    -------
    ndarray of shape (n_draws, n_rows)
    """
    p, q, gamma = draw_rows(params, 3)
    x = np.asarray(frequency, dtype=float)[:, None]
    m = np.where(x > 0, np.asarray(monetary_value, dtype=float)[:, None], 0.0)
    denom = x * p + (q - 1.0)
    with np.errstate(divide="ignore"):
        out = (x * m + gamma) * p / denom
    out[denom <= 0] = np.inf
    return out.T


def simulate_values(theta, frequency, monetary_value, owner, rng) -> np.ndarray:
    """A value for each simulated purchase of the forecast (the spend model's forecast hook).

    Each customer's transaction-value rate is drawn from its posterior ``nu ~ Gamma(q + p
    x, gamma + x mbar)`` given ``x`` repeat transactions of mean ``mbar`` (the prior
    ``Gamma(q, gamma)`` at ``x = 0``; Fader & Hardie 2013), once per customer with
    purchases; each purchase is then worth ``Gamma(p, nu)``.

    Parameters
    ----------
    theta : ndarray of shape (n, 3)
        ``(p, q, gamma)`` of each simulated customer.
    frequency, monetary_value : ndarray of shape (n,)
    owner : ndarray of int
        The customer of each purchase, sorted.
    rng : numpy Generator

    Returns
    -------
    ndarray of shape (owner.size,)
    """
    x, m = frequency, monetary_value
    buyers = owner[np.r_[True, owner[1:] != owner[:-1]]] if owner.size else owner
    p = theta[buyers, 0]
    nu = np.zeros(x.size)
    nu[buyers] = rng.gamma(theta[buyers, 1] + p * x[buyers]) / (
        theta[buyers, 2] + x[buyers] * m[buyers])
    return rng.gamma(theta[owner, 0]) / nu[owner]
