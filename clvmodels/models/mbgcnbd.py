"""The MBG/CNBD-k model (Reutterer, Platzer & Schröder 2021; BTYDplus's ``mbgcnbd.*``).

The BG/CNBD-k of :mod:`clvmodels.models.bgcnbd` (Erlang-k gaps between purchases with
rate ``lambda ~ Gamma(r, alpha)``, dropout probability ``p ~ Beta(a, b)`` after each
repeat purchase) in which a customer may also drop out right after the first purchase,
as the MBG/NBD of Batislam, Denizel & Filiztekin (2007) modifies the BG/NBD: so a
customer without repeat purchases may be inactive. In the formulas of
:mod:`clvmodels.models.bgcnbd` this is ``c = 1``: ``B(a, b + x + 1)`` in the likelihood,
the dropout branch ``a / (b + x) (A / B)^(r + kx)`` for every ``x``, the posterior ``p ~
Beta(a, b + x + 1)`` of an alive customer, and a new customer alive after time 0 with
probability ``b / (a + b)``. ``k = 1`` is the MBG/NBD. Params arrays are ``(k, r, alpha,
a, b)``.
"""

from __future__ import annotations

from clvmodels.models import bgcnbd
from clvmodels.models.bgcnbd import CNBDModel

__all__ = [
    "MBGCNBD",
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

PARAM_NAMES = bgcnbd.PARAM_NAMES


def log_likelihood_rows(params, frequency, recency, T, litt=None):
    """MBG/CNBD-k log-likelihood per customer (:func:`clvmodels.models.bgcnbd.log_likelihood_rows`
    with ``dropout_at_zero=True``; BTYDplus ``mbgcnbd.LL``)."""
    return bgcnbd.log_likelihood_rows(params, frequency, recency, T, litt, dropout_at_zero=True)


def log_likelihood(params, frequency, recency, T, litt=None, weights=None):
    """Total MBG/CNBD-k log-likelihood."""
    return bgcnbd.log_likelihood(params, frequency, recency, T, litt, weights,
                                 dropout_at_zero=True)


def gradient(params, frequency, recency, T, weights=None):
    """Gradient in ``(r, alpha, a, b)`` at the given ``k``."""
    return bgcnbd.gradient(params, frequency, recency, T, weights, dropout_at_zero=True)


def probability_alive(params, frequency, recency, T):
    """``P(alive | x, t_x, T) = 1 / (1 + S1 / S2)`` with ``S1 = a/(b+x) (A/B)^(r+kx)``."""
    return bgcnbd.probability_alive(params, frequency, recency, T, dropout_at_zero=True)


def expected_purchases(params, frequency, recency, T, t):
    """Expected purchases in ``(T, T + t]`` (the exact series of :mod:`clvmodels.models.bgcnbd`)."""
    return bgcnbd.expected_purchases(params, frequency, recency, T, t, dropout_at_zero=True)


def expected_purchases_new_customer(params, t):
    """A new customer's expected repeat purchases in ``(0, t]`` (BTYDplus's ``Expectation``)."""
    return bgcnbd.expected_purchases_new_customer(params, t, dropout_at_zero=True)


def log_conditional_pmf(params, n, frequency, recency, T, t):
    """``log P(Y(t) = n | x, t_x, T)`` under the MBG/CNBD-k."""
    return bgcnbd.log_conditional_pmf(params, n, frequency, recency, T, t, dropout_at_zero=True)


def probability_of_purchases(params, n, t):
    """``P(X(t) = n)`` of a new customer (BTYDplus ``mbgcnbd.pmf``)."""
    return bgcnbd.probability_of_purchases(params, n, t, dropout_at_zero=True)


def predict_draws(quantity, params, frequency, recency, T, t=None):
    """The draw kernel (see :func:`clvmodels.models.bgcnbd.predict_draws`)."""
    return bgcnbd.predict_draws(quantity, params, frequency, recency, T, t, dropout_at_zero=True)


def simulate_alive_purchases(theta, x, T, horizon, rng, *, recency):
    """The forecast hook (see :func:`clvmodels.models.bgcnbd.simulate_alive_purchases`)."""
    return bgcnbd.simulate_alive_purchases(theta, x, T, horizon, rng, recency=recency,
                                           dropout_at_zero=True)


class MBGCNBD(CNBDModel):
    """MBG/CNBD-k: Erlang-k gaps, dropout also at time 0 (Reutterer, Platzer & Schröder 2021).

    See :class:`clvmodels.models.bgcnbd.CNBDModel` for the parameters (``k=None`` profiles
    the likelihood over ``k``, an integer fixes it) and the notes on ``litt``.

    Examples
    --------
    >>> from clvmodels.data._simulate_cnbd import simulate_cnbd_summary
    >>> s = simulate_cnbd_summary(3000, 2, 0.8, 2.0, 0.8, 2.5, 52.0, dropout_at_zero=True,
    ...                           random_state=1)
    >>> int(MBGCNBD().fit(s).params_["k"])
    2
    """

    _dropout_at_zero = True
    _display = "MBG/CNBD-k"

    _expected_purchases_function = staticmethod(expected_purchases)
    _probability_alive_function = staticmethod(probability_alive)
    _log_conditional_pmf_function = staticmethod(log_conditional_pmf)
    _predict_draws_function = staticmethod(predict_draws)
    _simulate_function = staticmethod(simulate_alive_purchases)
    _expected_purchases_new_customer_function = staticmethod(expected_purchases_new_customer)
    _probability_of_purchases_function = staticmethod(probability_of_purchases)
