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

The fitting engine (:mod:`clvmodels.models._fit`) optimises the model's
parameters on the log scale and the coefficients on their own scale (each
parameter has its transform: log for ``r, alpha0, ...``, identity for the
coefficients), so ``_covariance_log`` is the covariance of ``(log r, log
alpha0, ..., gamma)`` and ``covariance_`` its natural-scale image ``J V J^T``.
The bounds of the search are ``|gamma| <= 18.4`` and a ``penalizer`` also
shrinks the coefficients toward 0 (ridge). ``summary()`` gives log-scale
intervals for the model's parameters and, for each coefficient, the Wald
interval with ``z_value`` and ``p_value``.

Intervals
---------
``expected_purchases``, ``probability_alive`` (and the Pareto/NBD's
``expected_residual_transactions``) take ``interval=`` like the models without
covariates (:mod:`clvmodels.models.uncertainty`): the asymptotic draws are
``(log r, log alpha0, ., ., gamma) ~ Normal(estimate, _covariance_log)``
through the same transforms (a negative coefficient is fine), and the
bootstrap refits on the unique ``(frequency, recency, T, covariates)`` rows
with multinomial weights. Each draw is evaluated at every customer's own
parameters, all draws and rows in one vectorised call.

Layout
------
:mod:`.design` encodes covariate columns (and checks them);
:mod:`.bgnbd` and :mod:`.paretonbd` hold each base model's formulas at
per-customer parameters and its estimator class; :mod:`._estimator` is the
estimator they share, which reaches the formulas only through the hooks each
class supplies.
"""

from clvmodels.models.covariates._estimator import likelihood_ratio_test, simulate_summary
from clvmodels.models.covariates.bgnbd import (
    BGNBDCovariates,
    bgnbd_expected_purchases,
    bgnbd_log_conditional_pmf,
    bgnbd_log_likelihood_rows,
    bgnbd_loglik_and_gradient,
    bgnbd_probability_alive,
)
from clvmodels.models.covariates.paretonbd import (
    ParetoNBDCovariates,
    paretonbd_expected_purchases,
    paretonbd_log_conditional_pmf,
    paretonbd_log_likelihood_rows,
    paretonbd_loglik_and_gradient,
    paretonbd_probability_alive,
)

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
