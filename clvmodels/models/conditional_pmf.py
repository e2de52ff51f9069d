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
  Gauss-Legendre panels of :func:`clvmodels.models.paretonbd.log_concave_nodes`
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

from clvmodels.errors import InvalidParameterError, InvalidSummaryError
from clvmodels.models.registry import get_spec, model_keys

__all__ = ["counts_in_summary_order", "log_conditional_pmf"]


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

    Calls the pure function the model's class names as ``_log_conditional_pmf_function``
    (``log_conditional_pmf(params, n, frequency, recency, T, t)`` of its module, e.g.
    :func:`clvmodels.models.bgnbd.log_conditional_pmf`). The sum of the result over
    customers is the model's holdout log-likelihood.

    Parameters
    ----------
    model : a purchase model with a conditional PMF
        A fitted model (or one built with ``from_params``) whose class names its
        module's ``log_conditional_pmf`` (BG/NBD, MBG/NBD, Pareto/NBD).
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
    function = getattr(type(model), "_log_conditional_pmf_function", None)
    if function is None:
        shown = [get_spec(k).class_name for k in model_keys(conditional_pmf=True)]
        raise InvalidParameterError(
            f"log_conditional_pmf() supports {', '.join(shown[:-1])} and {shown[-1]} models "
            f"(the purchase models with a conditional PMF); {type(model).__name__} has none."
        )
    data, index = model._prediction_data(summary, "conditional_log_probability_of_purchases")
    counts = counts_in_summary_order(counts, summary, index)
    if isinstance(t, pd.Series):
        t = t.reindex(index) if isinstance(summary, pd.DataFrame) else t
    t = np.asarray(t, dtype=float)
    return function(
        model._params_array(), counts, data["frequency"], data["recency"], data["T"], t
    )
