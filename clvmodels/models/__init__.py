"""Probabilistic customer-base models ("buy till you die") and their shared machinery.

Each model is a module of pure functions (log-likelihood, analytic gradient,
predictions) plus a thin estimator class built on
:class:`clvmodels.models._base.BaseModel`; :mod:`clvmodels.models._fit` does
the maximum-likelihood work (per-parameter transforms: :data:`LOG`,
:data:`IDENTITY`, :data:`LOGIT`) and records each fit in a
:class:`FitResult` (``model.fit_result_``). Saved models are read back with
:func:`clvmodels.models.io.load_model`.
"""

from clvmodels.models._base import BaseModel
from clvmodels.models._fit import IDENTITY, LOG, LOGIT, FitResult, FitWarning, Transform
from clvmodels.models.bgbb import BGBB
from clvmodels.models.bgcnbd import BGCNBD
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.clv import convert_discount_rate, customer_lifetime_value
from clvmodels.models.covariates import (
    BGNBDCovariates,
    ParetoNBDCovariates,
    likelihood_ratio_test,
)
from clvmodels.models.forecast import forecast_customer_base, simulate_customer_base
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.ggomnbd import GammaGompertzNBD
from clvmodels.models.io import load_model
from clvmodels.models.mbgcnbd import MBGCNBD
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.nbd import NBD
from clvmodels.models.paretoggg import ParetoGGG
from clvmodels.models.paretonbd import ParetoNBD
from clvmodels.models.sbg import ShiftedBetaGeometric
from clvmodels.models.uncertainty import bootstrap_parameters, draw_parameters

__all__ = [
    "BaseModel",
    "FitResult",
    "FitWarning",
    "Transform",
    "LOG",
    "IDENTITY",
    "LOGIT",
    "BGNBD",
    "BGCNBD",
    "BGNBDCovariates",
    "BGBB",
    "GammaGamma",
    "GammaGompertzNBD",
    "MBGNBD",
    "MBGCNBD",
    "NBD",
    "ParetoGGG",
    "ParetoNBD",
    "ParetoNBDCovariates",
    "ShiftedBetaGeometric",
    "customer_lifetime_value",
    "convert_discount_rate",
    "likelihood_ratio_test",
    "forecast_customer_base",
    "simulate_customer_base",
    "draw_parameters",
    "bootstrap_parameters",
    "load_model",
]
