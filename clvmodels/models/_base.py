"""The estimator base class every model in :mod:`clvmodels.models` derives from.

How a model plugs in
--------------------
A model is a module with pure functions (log-likelihood, analytic gradient,
predictions, conditional PMF, draw kernels, simulation) and a thin class that
subclasses :class:`BaseModel` and fills in a few class attributes and hooks; one
:class:`~clvmodels.models.registry.ModelSpec` line in
:mod:`clvmodels.models.registry` gives it its key, display name and capabilities
(``CONTRIBUTING.md`` at the repository's root is the step-by-step guide).
:mod:`clvmodels.models.bgnbd` is the worked example to copy; a continuous-time
purchase model gets its predictions, interval kernel, forecast step and
new-customer quantities from :class:`PurchaseModelMixin` by naming its module's
functions. The complete list:
``_param_names`` (tuple of str)
    Parameter names in the order of the ``params`` arrays the pure functions
    take, e.g. ``("r", "alpha", "a", "b")``. Each is optimised on the scale
    of its transform in ``_param_transforms`` (default log: positive).
``_param_transforms`` (dict, optional)
    ``{name: "identity"}`` for a real-valued parameter, ``{name: "logit"}``
    for a probability; unlisted parameters are positive (log).
``_data_columns`` (tuple of str)
    Column names of the data, in the order the pure functions take them,
    e.g. ``("frequency", "recency", "T")``. ``fit(summary)`` reads these
    columns; ``fit(frequency=..., recency=..., T=...)`` takes them by keyword.
``_integer_columns``, ``_bounded_by``, ``_zero_implies_zero``, ``_positive_columns``
    Declarative validation: columns that must hold whole numbers; pairs
    ``{column: upper_bound_column}`` (``recency <= T``); pairs
    ``{column: other}`` such that ``column == 0`` requires ``other == 0``
    (no repeat purchase means recency 0); columns that must be > 0 rather
    than >= 0. All columns must be finite and non-negative.
``_loglik_and_gradient(params, *data, weights)`` (staticmethod)
    Weighted total log-likelihood (float) and its gradient with respect to
    the natural parameters (ndarray). Usually ``bgnbd._loglik_and_gradient``.
``_start_values(self, *data, weights)``
    List of natural-scale start arrays. The first is the default start; the
    others are deterministic alternatives (``n_starts`` of them are tried and
    the best optimum kept).

Optional: ``_check_data(self, data, index)`` returning a list of extra
problem messages (model-specific validation), ``_prepare_data(*columns)``
(a staticmethod run once per fit on the unique rows; whatever tuple it
returns is passed to ``_loglik_and_gradient`` in place of the columns, e.g.
precomputed unique values), ``_log_bounds`` (bounds on the log-parameters),
and ``__init__`` with extra hyperparameters (keep the scikit-learn rule: only
store the arguments). Prediction methods call
``self._prediction_data(summary, "method_name")`` which checks fitted-ness,
the time unit and the data, and returns ``(data_dict, index)``; they return a
Series indexed like the summary.

Intervals on predictions (:mod:`clvmodels.models.uncertainty`): a prediction
method builds its Series as usual and returns ``self._with_interval(estimate,
"method_name", summary, columns, options, **kwargs)``, which is the Series
itself unless ``options["interval"]`` is set. The machinery compresses the
customers to unique rows of ``_interval_data`` (default: the checked
``_data_columns``, sorted in ``_interval_columns`` order), draws the
parameters and calls ONE hook, ``_predict_with_params(quantity, params
(n_draws, k), data, **kwargs) -> (n_draws, n_rows)``; its default calls the
public method once per draw, models override it with a vectorised
evaluation. The bootstrap uses ``_bootstrap_data`` (unique rows and counts of
the calibration summary) and ``_refit_weighted`` (refit on reweighted rows).

Everything else comes from here: ``fit`` (compression to unique rows,
L-BFGS-B on the transformed parameters, Hessian standard errors; see
:mod:`clvmodels.models._fit`), ``from_params``, ``summary()``,
``summary_text()`` (and ``print(model)``), ``aic``, ``bic``, ``save``, the
typed record of the fit ``fit_result_`` (:class:`~clvmodels.models._fit.FitResult`)
and the fitted attributes read from it, ``params_``, ``log_likelihood_``,
``n_customers_``, ``converged_``, ``covariance_``, ``time_unit_`` (and
``fit_info_``, a dict-like view kept for compatibility), and scikit-learn's
``get_params``/``set_params``/``clone``.
"""

from __future__ import annotations

import builtins
import inspect
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clvmodels import errors as _errors
from clvmodels._version import __version__
from clvmodels.errors import (
    InvalidParameterError,
    ModelFileError,
    UnitMismatchError,
)
from clvmodels.models._checks import check_is_fitted, validate_data, weights_array
from clvmodels.models._fit import (
    DEFAULT_LOG_BOUNDS,
    LOG,
    FitResult,
    FitWarning,
    Transform,
    compress,
    fit_maximum_likelihood,
    get_transform,
    summary_table,
)
from clvmodels.models.conditional_pmf import log_conditional_pmf
from clvmodels.models.registry import spec_for

__all__ = [
    "BaseModel",
    "ConditionalCountsMixin",
    "FORMAT_VERSION",
    "validate_data",
    "check_is_fitted",
]

#: Version of the JSON layout written by :meth:`BaseModel.save`.
FORMAT_VERSION = 1


class ConditionalCountsMixin:
    """For purchase models (BG/NBD, Pareto/NBD, MBG/NBD): the distribution of future counts.

    A class names its module's ``log_conditional_pmf(params, n, frequency, recency, T, t)``
    as ``_log_conditional_pmf_function``.
    """

    _log_conditional_pmf_function: ClassVar[Any] = None

    def conditional_log_probability_of_purchases(self, summary, counts, t) -> np.ndarray:
        """log P(X(T, T + t) = counts[i] | frequency, recency, T) per customer.

        The distribution of each customer's purchases in the next ``t`` time
        units given the calibration history; see
        :mod:`clvmodels.models.conditional_pmf` for the formula and its checks.
        The comparison harness uses it to score the holdout log-likelihood.
        """
        return log_conditional_pmf(self, summary, counts, t)


class PurchaseModelMixin(ConditionalCountsMixin):
    """Everything a continuous-time purchase model on (frequency, recency, T) answers.

    BG/NBD, MBG/NBD and Pareto/NBD differ only in their module's pure functions, which a
    class names; the validation, the Series, the optional interval, the interval and
    forecast hooks and the new-customer quantities are the same for all, so they live here
    once. The functions a class names (each a ``staticmethod`` of its module's function):

    ``_expected_purchases_function(params, frequency, recency, T, t)``
        E[purchases in (T, T + t] | history].
    ``_probability_alive_function(params, frequency, recency, T)``
        P(alive at T | history).
    ``_log_conditional_pmf_function(params, n, frequency, recency, T, t)``
        log P(n purchases in (T, T + t] | history) (see :class:`ConditionalCountsMixin`).
    ``_predict_draws_function(quantity, params, frequency, recency, T, t=None)``
        The first two at many parameter vectors: (n_draws, n_rows) (intervals, forecast).
    ``_simulate_function(theta, x, T, horizon, rng)``
        Purchase times of customers alive at ``T`` (the forecast's per-customer step):
        ``(owner, times, keep)``. A model whose future depends on the time since the last
        purchase (BG/CNBD-k) overrides ``_simulate_alive_purchases``, which also receives
        ``recency``.
    ``_expected_purchases_new_customer_function(params, t)`` and
    ``_probability_of_purchases_function(params, n, t)``
        A new customer's expected purchases and count distribution in ``(0, t]``.
    """

    _data_columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    _integer_columns: ClassVar[tuple[str, ...]] = ("frequency",)
    _bounded_by: ClassVar[dict[str, str]] = {"recency": "T"}
    _zero_implies_zero: ClassVar[dict[str, str]] = {"frequency": "recency"}

    _expected_purchases_function: ClassVar[Any] = None
    _probability_alive_function: ClassVar[Any] = None
    _predict_draws_function: ClassVar[Any] = None
    _simulate_function: ClassVar[Any] = None
    _expected_purchases_new_customer_function: ClassVar[Any] = None
    _probability_of_purchases_function: ClassVar[Any] = None

    def _predict_with_params(self, quantity, params, data, **kwargs):
        """Predictions at many parameter vectors (the interval hook of ``BaseModel``).

        ``expected_purchases`` and ``probability_alive`` by the module's vectorised
        ``_predict_draws_function``; anything else by the generic route.
        """
        kernel = type(self)._predict_draws_function
        if kernel is None or quantity not in ("expected_purchases", "probability_alive"):
            return super()._predict_with_params(quantity, params, data, **kwargs)
        return kernel(quantity, params, data["frequency"], data["recency"], data["T"],
                      **kwargs)

    def _simulate_alive_purchases(self, theta, x, T, horizon, rng, recency=None):
        """The forecast's per-customer step (see :mod:`clvmodels.models.forecast`).

        ``recency`` (each customer's ``t_x``) is passed by the forecast for models whose
        future depends on the time since the last purchase (an Erlang gap in progress);
        the memoryless models here ignore it.
        """
        simulate = type(self)._simulate_function
        if simulate is None:
            raise InvalidParameterError(
                f"{type(self).__name__} cannot simulate its customers' purchases."
            )
        return simulate(theta, x, T, horizon, rng)

    def expected_purchases_new_customer(self, t) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` of a customer who just made a first purchase.

        Parameters
        ----------
        t : float or array_like
            Horizon(s) in the model's time unit.

        Returns
        -------
        ndarray (0-d for scalar ``t``)
        """
        check_is_fitted(self, "expected_purchases_new_customer")
        return type(self)._expected_purchases_new_customer_function(self._params_array(), t)

    def probability_of_purchases(self, n, t) -> np.ndarray:
        """``P(X(t) = n)``: a new customer's probability of ``n`` repeat purchases in ``(0, t]``.

        Parameters
        ----------
        n : int or array_like of int
        t : float or array_like

        Returns
        -------
        ndarray
        """
        check_is_fitted(self, "probability_of_purchases")
        return type(self)._probability_of_purchases_function(self._params_array(), n, t)

    def expected_purchases(self, summary=None, t=1.0, *, interval=None, method="asymptotic",
                           n_draws=1000, n_boot=200, random_state=None, progress=False,
                           fit_summary=None, **columns):
        """Expected purchases of each customer in the next ``t`` time units.

        The conditional expectation given each customer's history; the formula and
        its reference are in the docstring of the model module's
        ``expected_purchases`` function (e.g. FHL 2005, eq. 10 for the BG/NBD).

        Parameters
        ----------
        summary : DataFrame, optional
            Columns frequency, recency, T in the model's time unit (its
            ``attrs["time_unit"]``, when set, must match ``time_unit_``).
        t : float or array_like, default 1
            Horizon in the same unit (one value, or one per customer).
        interval : float in (0, 1), optional
            Also return a parameter-uncertainty interval at this level (e.g.
            0.9). It covers the uncertainty of the estimated parameters only,
            not the customer's own purchase noise; see
            :mod:`clvmodels.models.uncertainty`.
        method : {"asymptotic", "bootstrap"}, default "asymptotic"
            Normal draws of the log-parameters from the fit's covariance, or
            a bootstrap over customers (needs ``fit_summary``).
        n_draws, n_boot : int, default 1000, 200
            Parameter draws (asymptotic) or resamples (bootstrap).
        random_state : None, int or numpy Generator
        progress : bool, default False
            Progress bar of the bootstrap refits.
        fit_summary : DataFrame, optional
            The calibration summary the model was fitted on (bootstrap only).
        **columns : array_like
            frequency, recency, T by keyword instead of ``summary``.

        Returns
        -------
        Series or DataFrame
            Without ``interval``: a Series indexed like the summary, named
            ``expected_purchases``. With it: a DataFrame with columns
            ``expected_purchases`` (the same values), ``expected_purchases_lower``
            and ``expected_purchases_upper``.

        Examples
        --------
        >>> from clvmodels.models.bgnbd import BGNBD
        >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> model.expected_purchases(frequency=[0, 2], recency=[0.0, 30.43], T=[38.86, 38.86], t=39)
        customer
        0    0.195098
        1    1.226028
        Name: expected_purchases, dtype: float64
        """
        data, index = self._prediction_data(summary, "expected_purchases", **columns)
        values = type(self)._expected_purchases_function(
            self._params_array(), data["frequency"], data["recency"], data["T"], t
        )
        estimate = pd.Series(values, index=index, name="expected_purchases")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._with_interval(estimate, "expected_purchases", summary, columns, options, t=t)

    def probability_alive(self, summary=None, *, interval=None, method="asymptotic",
                          n_draws=1000, n_boot=200, random_state=None, progress=False,
                          fit_summary=None, **columns):
        """P(alive at T) for each customer of a summary, given their history.

        Parameters
        ----------
        summary : DataFrame, optional
            Columns frequency, recency, T (in the model's time unit).
        interval, method, n_draws, n_boot, random_state, progress, fit_summary
            Parameter-uncertainty interval, as in :meth:`expected_purchases`.
        **columns : array_like
            The same columns by keyword.

        Returns
        -------
        Series or DataFrame
            Indexed like the summary, named ``probability_alive``; with
            ``interval``, a DataFrame with columns ``probability_alive``,
            ``probability_alive_lower``, ``probability_alive_upper``.
        """
        data, index = self._prediction_data(summary, "probability_alive", **columns)
        values = type(self)._probability_alive_function(
            self._params_array(), data["frequency"], data["recency"], data["T"]
        )
        estimate = pd.Series(values, index=index, name="probability_alive")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._with_interval(estimate, "probability_alive", summary, columns, options)


class _Hyperparameters:
    """scikit-learn's estimator protocol (``get_params``/``set_params``), without importing it.

    ``sklearn.base.clone``, ``GridSearchCV`` and friends only need these two methods and
    an ``__init__`` that stores its keyword arguments unchanged. Importing
    ``sklearn.base`` costs about 1.3 s (it pulls in ``scipy.stats``), which every
    ``clvmodels fit``/``score`` process would pay for nothing.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                raise TypeError(
                    f"{cls.__name__}.__init__ must not take *args (scikit-learn convention)."
                )
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        """Hyperparameters by name (scikit-learn convention)."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params):
        """Set hyperparameters by name; returns self (scikit-learn convention)."""
        valid = self._get_param_names()
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise InvalidParameterError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid ones are {valid}."
                )
            if sub:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
        }
        shown = []
        for k, v in self.get_params(deep=False).items():
            d = defaults.get(k, inspect.Parameter.empty)
            same = v is d
            if not same:
                try:
                    same = bool(v == d)
                except Exception:  # arrays and the like: show them
                    same = False
            if not same:
                shown.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


class BaseModel(_Hyperparameters):
    """Base class of the maximum-likelihood models (scikit-learn estimator contract).

    Parameters
    ----------
    penalizer : float, default 0
        Strength of an L2 penalty on the transformed parameters,
        ``penalizer * sum(x**2)`` with ``x = log(theta)`` for positive
        parameters (a real coefficient enters as itself, a probability as its
        logit), added to the mean negative log-likelihood per customer. Off by
        default (plain maximum likelihood).
    n_starts : int, default 3
        Number of start values tried (the model's default start first, then
        deterministic alternatives); the best optimum is kept.

    Attributes
    ----------
    params_ : Series
        Estimates by parameter name.
    log_likelihood_ : float
        Maximised (unpenalised) log-likelihood; NaN for ``from_params`` models.
    n_customers_ : int or float
        Number of customers fitted (sum of weights).
    converged_ : bool or None
        Whether the optimizer reached an interior optimum (None for ``from_params``).
    covariance_ : DataFrame
        Covariance of the estimates (natural scale, delta method); NaN when
        the Hessian was not positive definite.
    fit_result_ : FitResult
        The typed record of the fit: estimates, covariance on both scales,
        log-likelihood, AIC/BIC, customers, convergence facts (message,
        iterations, gradient norm, Hessian positive definite, starts and their
        log-likelihoods, unique rows), the transforms and the warnings.
    fit_info_ : mapping
        The convergence facts of ``fit_result_`` under their old dict keys
        (compatibility; new code reads ``fit_result_``).
    time_unit_ : str or None
        Time unit of the fitted summary (``summary.attrs["time_unit"]``).
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _data_columns: ClassVar[tuple[str, ...]] = ()
    _integer_columns: ClassVar[tuple[str, ...]] = ()
    _positive_columns: ClassVar[tuple[str, ...]] = ()
    _bounded_by: ClassVar[dict[str, str]] = {}
    _zero_implies_zero: ClassVar[dict[str, str]] = {}
    _log_bounds: ClassVar[tuple[float, float]] = DEFAULT_LOG_BOUNDS
    #: Transform of each parameter the optimiser works with, by name: ``"log"`` (positive
    #: parameters, the default for every name not listed), ``"identity"`` (real-valued
    #: coefficients), ``"logit"`` (probabilities). ``_log_bounds`` bound every transformed
    #: parameter and ``penalizer`` acts on the transformed scale.
    _param_transforms: ClassVar[Mapping[str, str]] = {}
    #: Name of the file section holding parameters beyond ``_param_names`` (e.g. covariate
    #: coefficients, whose names depend on the data); None when there are none.
    _extra_params_section: ClassVar[str | None] = None
    #: Prediction columns in the order the interval machinery sorts unique rows by (default
    #: ``_data_columns``); e.g. ``("frequency", "T", "recency")`` keeps each (x, T) group of
    #: BG/NBD rows in one chunk, so quantities that depend on (x, T) only are computed once.
    _interval_columns: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, penalizer: float = 0.0, n_starts: int = 3):
        self.penalizer = penalizer
        self.n_starts = n_starts

    # ----------------------------------------------------------------- hooks
    @staticmethod
    def _loglik_and_gradient(params, *data_and_weights):  # pragma: no cover - abstract
        raise NotImplementedError("this model does not define _loglik_and_gradient")

    @staticmethod
    def _prepare_data(*columns) -> tuple:
        """Optional: turn the unique data columns into what ``_loglik_and_gradient`` takes.

        Runs once per fit; the default passes the columns through unchanged.
        """
        return columns

    def _start_values(self, *data, weights) -> list[np.ndarray]:
        """Start values (natural scale); the default is all ones."""
        return [np.ones(len(self._param_names))]

    def _check_data(self, data: dict[str, np.ndarray], index: pd.Index) -> list[str]:
        """Model-specific validation; return a list of problem messages (empty if fine)."""
        return []

    @classmethod
    def _transform_of(cls, name: str) -> Transform:
        """The transform of parameter ``name`` (``_param_transforms``, default log)."""
        return get_transform(cls._param_transforms.get(name, LOG))

    def _transforms(self, names=None) -> tuple[Transform, ...]:
        """The transforms of ``names`` (default: every parameter in ``params_``)."""
        names = self.params_.index if names is None else names
        return tuple(self._transform_of(n) for n in names)

    def _bound_message(self, at_bound: dict[str, float]) -> str | None:
        """Optional: the model's own diagnosis when parameters run to a search bound.

        ``at_bound`` maps those parameters to their values; None keeps the
        generic :class:`~clvmodels.errors.ConvergenceWarning` message.
        """
        return None

    # ------------------------------------------------------------------- fit
    def fit(self, summary: pd.DataFrame | None = None, *, weights=None, **columns) -> BaseModel:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        summary : DataFrame, optional
            One row per customer with the model's data columns (see
            ``_data_columns``), e.g. from :func:`clvmodels.rfm_summary`. Its
            ``attrs["time_unit"]`` is recorded in ``time_unit_``.
        weights : array_like or str, optional
            Number of customers each row stands for (or the name of a summary
            column holding it). Default 1.
        **columns : array_like
            The data columns by keyword instead of (or overriding) ``summary``.

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        data, index = validate_data(self, summary, columns, context="fit")
        w = self._weights(summary, weights, len(index))
        arrays = tuple(data[c] for c in self._data_columns)
        starts = self._start_values(*arrays, weights=w)
        result = fit_maximum_likelihood(
            type(self)._loglik_and_gradient,
            arrays,
            self._param_names,
            list(starts)[: max(1, int(self.n_starts))],
            weights=w,
            penalizer=float(self.penalizer),
            log_bounds=self._log_bounds,
            prepare=type(self)._prepare_data,
            transforms=self._transforms(self._param_names),
            bound_message=self._bound_message,
        )
        self._set_fit_result(result)
        unit = summary.attrs.get("time_unit") if isinstance(summary, pd.DataFrame) else None
        self.time_unit_ = None if unit is None else str(unit)
        return self

    def _check_hyperparameters(self) -> None:
        p = self.penalizer
        if not isinstance(p, (int, float, np.floating, np.integer)) or not np.isfinite(p) or p < 0:
            raise InvalidParameterError(f"penalizer must be a finite number >= 0, got {p!r}.")
        n = self.n_starts
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise InvalidParameterError(f"n_starts must be a positive integer, got {n!r}.")

    @staticmethod
    def _weights(summary, weights, n: int) -> np.ndarray | None:
        return weights_array(weights, n, summary=summary, require_positive_total=True)

    def _set_fit_result(self, result: FitResult) -> None:
        """Keep the typed record of a fit and set the public attributes from it."""
        names = list(result.param_names)
        self.fit_result_ = result
        self.params_ = pd.Series(
            np.array(result.params, dtype=float), index=pd.Index(names, name="parameter"),
            name="estimate",
        )
        self.covariance_ = pd.DataFrame(result.covariance, index=names, columns=names)
        self._covariance_log = np.array(result.covariance_transformed, dtype=float)
        self.log_likelihood_ = float(result.log_likelihood)
        self.n_customers_ = result.n_customers
        self.converged_ = None if result.converged is None else bool(result.converged)

    @property
    def fit_info_(self) -> _FitInfoView:
        """The convergence facts as a dict-like view of ``fit_result_`` (compatibility).

        Keys ``message``, ``n_iterations``, ``n_evaluations``, ``gradient_norm``,
        ``n_starts``, ``start_log_likelihoods``, ``n_unique_rows``, ``hessian_ok``,
        ``at_bound``, ``penalizer`` and the model's extra facts. New code reads
        the attributes of ``fit_result_`` instead.
        """
        check_is_fitted(self, "fit_info_")
        return _FitInfoView(self.fit_result_)

    def _record_warning(self, message: str, category: type[Warning], stacklevel: int = 2) -> None:
        """Issue a warning about the fit and keep it in ``fit_result_.warnings``."""
        import warnings

        warnings.warn(message, category, stacklevel=stacklevel + 1)
        self.fit_result_.warnings.append(FitWarning(category, message))

    # ------------------------------------------------------------ from_params
    @classmethod
    def from_params(cls, *, time_unit: str | None = None, **params: float) -> BaseModel:
        """A model with given parameters (e.g. published estimates), ready to predict.

        Parameters
        ----------
        time_unit : str, optional
            Time unit the parameters refer to ("D", "W", "M", "Y").
        **params : float
            One value per parameter name, in its domain (> 0 for the positive
            parameters).

        Returns
        -------
        model
            ``log_likelihood_`` is NaN, ``covariance_`` NaN, ``converged_`` None.
        """
        names = list(cls._param_names)
        missing = [p for p in names if p not in params]
        extra = [p for p in params if p not in names]
        if missing or extra:
            raise InvalidParameterError(
                f"{cls.__name__}.from_params needs exactly the parameters {names}; "
                f"missing {missing}, unknown {extra}."
            )
        model = cls()
        model._set_given_params(names, [params[p] for p in names], time_unit)
        return model

    def _set_given_params(self, names, values, time_unit) -> None:
        """Check given values against their transforms' domains; record them as not fitted."""
        checked = []
        for p, raw in zip(names, values, strict=True):
            try:
                v = float(raw)
            except (TypeError, ValueError):
                raise InvalidParameterError(
                    f"parameter {p} must be a number, got {raw!r}."
                ) from None
            transform = self._transform_of(p)
            if not bool(transform.in_domain(np.float64(v))):
                raise InvalidParameterError(
                    f"parameter {p} must be finite and {transform.domain}, got {raw!r}."
                )
            checked.append(v)
        self._set_fit_result(
            FitResult.given(checked, names, tuple(self._transform_of(p) for p in names))
        )
        self.time_unit_ = time_unit

    # ------------------------------------------------------------ accessors
    def _params_array(self) -> np.ndarray:
        return self.params_.to_numpy(dtype=float)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``2k - 2 LL`` (k: every estimated parameter)."""
        check_is_fitted(self, "aic")
        return 2 * len(self.params_) - 2 * self.log_likelihood_

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``k log(n) - 2 LL`` with n the number of customers."""
        check_is_fitted(self, "bic")
        n = self.n_customers_ if self.n_customers_ else float("nan")
        return len(self.params_) * math.log(n) - 2 * self.log_likelihood_

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Estimates, standard errors and confidence intervals.

        Parameters
        ----------
        alpha : float, default 0.05
            1 - confidence level. Intervals are formed on each parameter's
            transformed scale and mapped back: on the log scale for positive
            parameters (always positive), on the logit scale for probabilities
            (inside (0, 1)), and ``estimate +/- z se`` (Wald) for real-valued
            coefficients, which also get ``z_value`` and ``p_value`` (the test
            of a zero coefficient; the two columns exist only for models with
            real-valued parameters).

        Returns
        -------
        DataFrame
            Index: parameter; columns ``estimate``, ``std_error``,
            ``ci_lower``, ``ci_upper`` (and ``z_value``, ``p_value``).
            ``attrs`` holds the model name, log-likelihood, AIC, BIC, number
            of customers, convergence facts and the time unit (pandas drops
            ``attrs`` in many operations: ``fit_result_`` is the typed record).
        """
        check_is_fitted(self, "summary")
        table = summary_table(
            list(self.params_.index),
            self._params_array(),
            self.covariance_.to_numpy(),
            self._covariance_log,
            alpha=alpha,
            transforms=self._transforms(),
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

    def summary_text(self, alpha: float = 0.05) -> str:
        """The fit as text, in the way statsmodels prints a result.

        A header (the model's display name, customers, log-likelihood, AIC,
        BIC, convergence, time unit), the table of :meth:`summary` with the
        numbers to 6 significant digits, and notes (how the intervals are
        formed, the fit's warnings). ``print(model)`` shows the same.

        Parameters
        ----------
        alpha : float, default 0.05

        Returns
        -------
        str
        """
        check_is_fitted(self, "summary_text")
        table = self.summary(alpha)
        result = self.fit_result_
        try:
            title = spec_for(self).display_name
        except InvalidParameterError:  # a user's model outside the registry
            title = type(self).__name__
        header = [
            ("Model:", title),
            ("Log-likelihood:", _num(self.log_likelihood_)),
            ("Customers:", _num(self.n_customers_)),
            ("AIC:", _num(self.aic)),
            ("Converged:", "n/a (given parameters)" if self.converged_ is None
             else str(self.converged_)),
            ("BIC:", _num(self.bic)),
            ("Time unit:", str(self.time_unit_)),
            ("Unique rows:", str(result.n_unique) if result.fitted else "n/a"),
        ]
        value_width = max(20, *(len(v) for _, v in header))
        cells = [f"{k:<16}{v:>{value_width}}" for k, v in header]
        lines_header = [f"{cells[i]}    {cells[i + 1]}" for i in range(0, len(cells), 2)]
        columns = list(table.columns)
        labels = {"ci_lower": f"[{alpha / 2:g}", "ci_upper": f"{1 - alpha / 2:g}]"}
        names = [str(n) for n in table.index]
        width_name = max(len("parameter"), *(len(n) for n in names))
        rendered = {c: [_num(v, blank_nan=True) for v in table[c]] for c in columns}
        widths = {c: max(len(labels.get(c, c)), *(len(v) for v in rendered[c])) + 2
                  for c in columns}
        head = " " * width_name + "".join(f"{labels.get(c, c):>{widths[c]}}" for c in columns)
        body = [f"{n:<{width_name}}" + "".join(f"{rendered[c][i]:>{widths[c]}}" for c in columns)
                for i, n in enumerate(names)]
        width = max(len(head), *(len(x) for x in lines_header), *(len(b) for b in body))
        notes = []
        groups: dict[str, list[str]] = {}
        for n, t in zip(names, self._transforms(), strict=True):
            groups.setdefault(t.name, []).append(n)
        kinds = {
            "log": "intervals on the log scale (always positive)",
            "identity": "Wald intervals estimate +/- z*se; z_value, p_value test a zero value",
            "logit": "intervals on the logit scale (inside (0, 1))",
        }
        for name, members in groups.items():
            notes.append(f"{', '.join(members)}: {kinds.get(name, name)}.")
        if not result.fitted:
            notes.append(result.message + "; no standard errors.")
        elif not result.hessian_ok:
            notes.append("The Hessian was not positive definite (or a parameter is at a "
                         "bound): no standard errors.")
        notes.extend(str(w) for w in result.warnings)
        rule, thin = "=" * width, "-" * width
        out = [f"{title} results".center(width), rule, *lines_header, rule, head, thin, *body,
               rule, "Notes:"]
        out.extend(f"[{i}] {note}" for i, note in enumerate(notes, start=1))
        return "\n".join(out)

    def __str__(self) -> str:
        """The :meth:`summary_text` of a fitted model; the constructor call otherwise."""
        if not hasattr(self, "params_"):
            return repr(self)
        return self.summary_text()

    # ------------------------------------------------------------ prediction
    def _prediction_data(
        self, summary, method: str, **columns
    ) -> tuple[dict[str, np.ndarray], pd.Index]:
        """Checks shared by prediction methods: fitted, same time unit, valid data."""
        check_is_fitted(self, method)
        self._check_unit(summary, method)
        return validate_data(self, summary, columns, context=method)

    def _check_unit(self, summary, method: str) -> None:
        unit = (
            getattr(summary, "attrs", {}).get("time_unit")
            if isinstance(summary, pd.DataFrame)
            else None
        )
        if unit is not None and self.time_unit_ is not None and str(unit) != self.time_unit_:
            raise UnitMismatchError(
                f"{method}(): the model was fitted with time unit {self.time_unit_!r} "
                "but the summary "
                f"is in {unit!r}, so its rates and times do not match. Recompute the summary with "
                f"time_unit={self.time_unit_!r} "
                f"(clvmodels.rfm_summary(..., time_unit={self.time_unit_!r}))."
            )

    # ------------------------------------------------------ interval hooks
    # Used by clvmodels.models.uncertainty (intervals on predictions) and
    # clvmodels.models.forecast. A model gets intervals on a prediction method by
    # returning ``self._with_interval(...)`` from it (see BGNBD.expected_purchases);
    # the three hooks below have generic defaults that a subclass may override.
    def _interval_data(self, summary, method: str, **columns):
        """Numeric prediction data for the interval machinery: ``(data, index)``.

        ``data`` maps column names to equal-length 1-D float arrays, one value
        per customer; **every** array in it is used to compress the customers
        to unique rows (customers with equal values in all of them share one
        evaluation), and the unique rows are what :meth:`_predict_with_params`
        receives. The default is :meth:`_prediction_data` (the model's
        ``_data_columns``, checked). A model whose predictions need more
        (e.g. covariates) returns those columns too, already numeric (e.g.
        one-hot encoded design columns). The unique rows are sorted
        lexicographically in the order of the dict's keys, which the default
        takes from ``_interval_columns``: rows sharing the leading columns land
        in the same chunk of the evaluation.
        """
        data, index = self._prediction_data(summary, method, **columns)
        order = self._interval_columns or tuple(data)
        return {c: data[c] for c in order}, index

    def _predict_with_params(self, quantity: str, params: np.ndarray, data: dict, **kwargs):
        """Evaluate a prediction at many parameter vectors: THE hook of the interval machinery.

        Parameters
        ----------
        quantity : str
            Name of the prediction method, e.g. ``"expected_purchases"``,
            ``"probability_alive"``, ``"expected_spend"``.
        params : ndarray of shape (n_draws, n_params)
            Natural-scale parameter vectors, columns in ``params_`` order (all
            of ``params_``, e.g. including covariate coefficients).
        data : dict of str -> ndarray of shape (n_rows,)
            Unique rows of the arrays returned by :meth:`_interval_data`
            (already checked).
        **kwargs
            The method's other arguments (e.g. ``t``): scalars, or arrays of
            shape ``(n_rows,)`` for per-customer values.

        Returns
        -------
        ndarray of shape (n_draws, n_rows)
            The prediction for each parameter vector and row. Row ``j`` at
            ``params[i]`` must equal ``quantity`` of a model with ``params_ =
            params[i]`` for that row (the machinery checks the point estimate
            against the method's own output).

        Notes
        -----
        The default calls the public method once per parameter vector on a
        shallow copy of the model, with the data columns by keyword (correct
        for any model, but one Python call per draw). Models override it with
        an evaluation vectorised over draws and rows.
        """
        out = np.empty((params.shape[0], next(iter(data.values())).shape[0]))
        for i, theta in enumerate(params):
            model = self._with_params(theta)
            out[i] = np.asarray(getattr(model, quantity)(**data, **kwargs), dtype=float)
        return out

    def _with_params(self, theta) -> BaseModel:
        """A shallow copy of this fitted model with ``params_`` replaced by ``theta``."""
        import copy

        model = copy.copy(self)
        model.params_ = pd.Series(
            np.asarray(theta, dtype=float), index=self.params_.index, name="estimate"
        )
        return model

    def _bootstrap_data(self, fit_summary) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """Fit data for the bootstrap: unique rows of ``_data_columns`` and their counts.

        The default checks ``fit_summary`` like :meth:`fit` and compresses it
        (:func:`~clvmodels.models._fit.compress`). A model that fits on a
        subset of the summary (Gamma-Gamma: repeat customers) or on other
        columns overrides it; whatever it returns is passed to
        :meth:`_refit_weighted`.
        """
        data, _ = validate_data(self, fit_summary, {}, context="bootstrap")
        packed = compress([data[c] for c in self._data_columns])
        return packed.columns, packed.weights

    def _refit_weighted(self, columns, weights, start) -> np.ndarray | None:
        """Maximum likelihood on unique rows with new weights, from ``start``; params or None.

        Used by the bootstrap (multinomial reweighting of the unique rows). The
        default runs the shared optimizer from the single start ``start``
        (natural scale) with this model's penalizer and bounds, without
        warnings; it returns None when the refit fails or does not converge.
        """
        return self._refit(columns, weights, start, type(self)._loglik_and_gradient,
                           type(self)._prepare_data)

    def _refit(self, columns, weights, start, loglik_and_gradient, prepare) -> np.ndarray | None:
        """One warning-free fit from ``start`` on compressed rows, with this model's transforms."""
        names = list(self.params_.index)
        try:
            result = fit_maximum_likelihood(
                loglik_and_gradient,
                columns,
                names,
                [np.asarray(start, dtype=float)],
                weights=weights,
                penalizer=float(self.penalizer),
                log_bounds=self._log_bounds,
                compressed=True,
                prepare=prepare,
                warn=False,
                transforms=self._transforms(names),
            )
        except (ValueError, FloatingPointError):
            return None
        if not result.converged:
            return None
        return np.asarray(result.params, dtype=float)

    def _with_interval(self, estimate: pd.Series, quantity: str, summary, columns: dict,
                       options: dict, **kwargs):
        """The estimate, or (``options["interval"]`` given) a DataFrame with its bounds.

        ``options`` holds the interval arguments of the public method
        (``interval``, ``method``, ``n_draws``, ``n_boot``, ``random_state``,
        ``progress``, ``fit_summary``); see
        :func:`clvmodels.models.uncertainty.prediction_interval`.
        """
        if options.get("interval") is None:
            return estimate
        from clvmodels.models.uncertainty import prediction_interval

        return prediction_interval(self, quantity, estimate, summary, columns, **options,
                                   **kwargs)

    # ---------------------------------------------------------------- save
    def _extra_state(self) -> dict:
        """Optional: what the model needs besides its parameters (saved in the extra section)."""
        return {}

    def _load_extra_state(self, block: dict, fail) -> None:
        """Optional: restore :meth:`_extra_state` from a file's extra section (``fail(msg)``)."""

    def _expected_param_names(self) -> list[str]:
        """Every parameter name once the extra state is loaded (default ``_param_names``)."""
        return list(self._param_names)

    def to_dict(self) -> dict:
        """The JSON-ready description written by :meth:`save`.

        ``params``, ``covariance`` and ``covariance_log`` hold the parameters of
        ``_param_names`` (so any reader of model files understands them);
        ``covariance_log`` is on the optimiser's scale (the log scale for
        positive parameters). A model with parameters beyond those (covariate
        coefficients) writes them, its extra state and the full matrices in
        the section named by ``_extra_params_section``.
        """
        check_is_fitted(self, "save")
        cov = self.covariance_.to_numpy(dtype=float)
        cov_log = np.asarray(self._covariance_log, dtype=float)
        hyper = self.get_params(deep=False)
        for key, value in hyper.items():
            if isinstance(value, np.generic):
                hyper[key] = value.item()
            try:
                json.dumps(hyper[key], allow_nan=False)
            except (TypeError, ValueError):
                raise ModelFileError(
                    f"hyperparameter {key}={value!r} cannot be written to JSON; use a number, "
                    "string, boolean or None."
                ) from None
        info = {k: _json_safe(v) for k, v in self.fit_info_.items()}
        k = len(self._param_names)

        def matrix(m):
            return m.tolist() if np.all(np.isfinite(m)) else None

        d = {
            "format_version": FORMAT_VERSION,
            "model_type": spec_for(self).class_name,
            "model": spec_for(self).key,
            "package": "clvmodels",
            "package_version": __version__,
            "param_names": list(self._param_names),
            "params": {n: float(self.params_[n]) for n in self._param_names},
            "covariance": matrix(cov[:k, :k]),
            "covariance_log": matrix(cov_log[:k, :k]),
            "log_likelihood": _json_safe(self.log_likelihood_),
            "n_customers": self.n_customers_,
            "converged": self.converged_,
            "fit_info": info,
            "time_unit": self.time_unit_,
            "hyperparameters": hyper,
        }
        if self._extra_params_section is not None:
            d[self._extra_params_section] = {
                "names": list(self.params_.index),
                "coefficients": {n: float(v) for n, v in self.params_.iloc[k:].items()},
                **self._extra_state(),
                "covariance": matrix(cov),
                "covariance_log": matrix(cov_log),
            }
        warned = getattr(self.fit_result_, "warnings", [])
        if warned:
            d["fit_warnings"] = [{"category": w.category.__name__, "message": w.message}
                                 for w in warned]
        return d

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to a versioned JSON file (atomically: temp file then rename).

        Read it back with :func:`clvmodels.models.io.load_model`. No pickle:
        the file holds the parameters, covariance, fit facts, time unit,
        hyperparameters and the package version.

        Parameters
        ----------
        path : str or path-like
        """
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".clvmodel-", suffix=".json.tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def _from_dict(cls, d: dict) -> BaseModel:
        """Rebuild from a dict already validated by :func:`clvmodels.models.io.load_model`."""

        def fail(what):
            raise ModelFileError(f"{cls.__name__} model file: {what}")

        model = cls(**d["hyperparameters"])
        names = list(cls._param_names)
        k = len(names)
        values = [float(d["params"][p]) for p in names]
        cov = d.get("covariance")
        cov_log = d.get("covariance_log")
        cov = np.full((k, k), np.nan) if cov is None else np.array(cov, dtype=float)
        cov_log = np.full((k, k), np.nan) if cov_log is None else np.array(cov_log, dtype=float)
        section = cls._extra_params_section
        if section is not None:
            model._check_hyperparameters()
            block = d.get(section)
            if not isinstance(block, dict):
                fail(f"the {section!r} section (the parameters beyond {names}) is missing.")
            model._load_extra_state(block, fail)
            names = model._expected_param_names()
            extra_names = names[k:]
            coefs = block.get("coefficients")
            if (block.get("names") != names or not isinstance(coefs, dict)
                    or sorted(coefs) != sorted(extra_names)):
                fail(f"the coefficient names do not match the encoding (expected {names}).")
            extra = [coefs[n] for n in extra_names]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in extra):
                fail(f"coefficients must be finite numbers, got {extra}.")
            values += [float(v) for v in extra]
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
                    fail(f"{section}.{key} must be a finite {k}x{k} matrix or null.")
                if np.max(np.abs(arr - arr.T)) > 1e-12 * max(float(np.max(np.abs(arr))), 1e-300):
                    fail(f"{section}.{key} is not symmetric.")
                mats.append(arr)
            cov, cov_log = mats
        info = dict(d.get("fit_info") or {})
        ll = d.get("log_likelihood")
        converged = d.get("converged")
        fields = {_INFO_FIELDS.get(key, key): info.pop(key) for key in list(info)
                  if key in _INFO_FIELDS}
        total = d.get("n_customers", 0) or 0
        result = FitResult(
            params=np.array(values, dtype=float),
            param_names=tuple(names),
            log_likelihood=float("nan") if ll is None else float(ll),
            covariance=cov,
            covariance_transformed=cov_log,
            hessian_transformed=np.full((k, k), np.nan),
            converged=converged,
            message=str(fields.pop("message", "")),
            n_iterations=int(fields.pop("n_iterations", 0) or 0),
            gradient_norm=_float(fields.pop("gradient_norm", None)),
            n_evaluations=int(fields.pop("n_evaluations", 0) or 0),
            n_starts=int(fields.pop("n_starts", 0) or 0),
            start_log_likelihoods=[float("-inf") if v is None else float(v)
                                   for v in fields.pop("start_log_likelihoods", [])],
            n_observations=float(total),
            n_unique=int(fields.pop("n_unique", 0) or 0),
            at_bound=list(fields.pop("at_bound", [])),
            hessian_ok=bool(fields.pop("hessian_ok", np.all(np.isfinite(cov_log)))),
            penalizer=_float(fields.pop("penalizer", None), 0.0),
            transforms=tuple(model._transform_of(n) for n in names),
            warnings=[FitWarning(_warning_category(w.get("category")), str(w.get("message")))
                      for w in d.get("fit_warnings") or [] if isinstance(w, dict)],
            extra=info,
        )
        model._set_fit_result(result)
        model.n_customers_ = d.get("n_customers", 0)
        model.time_unit_ = d.get("time_unit")
        return model


#: ``fit_info_`` keys and the :class:`FitResult` attributes they show.
_INFO_FIELDS = {
    "message": "message",
    "n_iterations": "n_iterations",
    "n_evaluations": "n_evaluations",
    "gradient_norm": "gradient_norm",
    "n_starts": "n_starts",
    "start_log_likelihoods": "start_log_likelihoods",
    "n_unique_rows": "n_unique",
    "hessian_ok": "hessian_ok",
    "at_bound": "at_bound",
    "penalizer": "penalizer",
}


def _float(value, default: float = float("nan")) -> float:
    return default if value is None else float(value)


def _warning_category(name) -> type[Warning]:
    category = getattr(_errors, str(name), None) or getattr(builtins, str(name), None)
    if isinstance(category, type) and issubclass(category, Warning):
        return category
    return UserWarning


class _FitInfoView(MutableMapping):
    """``fit_info_``: the convergence facts of a :class:`FitResult` under their old dict keys.

    Reading a key reads the result; setting one of the keys above sets the
    result's attribute, any other key goes to ``FitResult.extra`` (model-specific
    facts). A model whose parameters were given shows only ``message`` and the
    extra facts.
    """

    def __init__(self, result: FitResult):
        self._result = result

    def _keys(self) -> list[str]:
        base = list(_INFO_FIELDS) if self._result.fitted else ["message"]
        return base + [k for k in self._result.extra if k not in _INFO_FIELDS]

    def __getitem__(self, key):
        if key in _INFO_FIELDS and key in self._keys():
            value = getattr(self._result, _INFO_FIELDS[key])
            return list(value) if isinstance(value, list) else value
        return self._result.extra[key]

    def __setitem__(self, key, value) -> None:
        if key in _INFO_FIELDS:
            setattr(self._result, _INFO_FIELDS[key], value)
        else:
            self._result.extra[key] = value

    def __delitem__(self, key) -> None:
        del self._result.extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return repr(dict(self))


def _num(value, blank_nan: bool = False) -> str:
    """A number in the text summary: integers as such, others to 6 significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    v = float(value)
    if not math.isfinite(v):
        if math.isnan(v):
            return "" if blank_nan else "nan"
        return "inf" if v > 0 else "-inf"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{v:.6g}"


def _json_safe(value):
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
