"""Maximum-likelihood machinery shared by every model in :mod:`clvmodels.models`.

This module knows nothing about any particular model. It takes data as a
tuple of 1-D arrays (for example ``(frequency, recency, T)`` for BG/NBD and
Pareto/NBD, ``(frequency, recency, n_periods)`` for BG/BB, or
``(period, n_lost)`` counts for the shifted-beta-geometric model) and a
function returning the weighted log-likelihood and its analytic gradient.

What it does, in order (:func:`fit_maximum_likelihood`):

1. **Compress** (:func:`compress`): customers with identical data rows
   contribute identical likelihood terms, so the rows are reduced to the
   unique tuples (sorted, deterministic) with their counts as weights; user
   weights multiply in. A million customers summarised by day usually have a
   few tens of thousands of distinct rows.
2. **Optimise** the negative *mean* weighted log-likelihood over the
   transformed parameters ``x``: each parameter has a :class:`Transform`
   (:data:`LOG` for positive parameters, the default; :data:`IDENTITY` for
   real coefficients; :data:`LOGIT` for probabilities), ``theta = inverse(x)``,
   with L-BFGS-B and the analytic gradient by the chain rule ``d/dx =
   theta'(x) d/dtheta`` (``theta`` itself for log), from each start value the
   model proposes (the first is the default; the others are deterministic
   alternatives); the best optimum is kept and polished by a few Newton
   steps. An optional L2 penalty ``penalizer * sum(x**2)`` acts on the
   transformed scale: it shrinks positive parameters toward 1, coefficients
   toward 0 (ridge) and probabilities toward 1/2; it is off by default.
3. **Hessian** of the total negative log-likelihood (penalty included, on
   the same per-customer scale as the optimised objective) with respect to
   ``x``, by central finite differences of the analytic gradient,
   symmetrised. It must be finite and positive definite (checked by
   eigenvalues) before it is inverted; otherwise a
   :class:`~clvmodels.errors.HessianWarning` says which parameter
   combination is flat and the covariance is NaN. There is no pseudo-inverse.
4. **Covariance** on the transformed scale ``V = H^-1`` and, by the delta
   method, on the natural scale ``J V J^T`` with ``J = diag(d theta / d x)``
   (the Jacobian of the inverse transforms, diagonal because each acts on one
   parameter: ``theta`` for log, 1 for identity, ``theta (1 - theta)`` for
   logit; the full matrix, where lifetimes multiplies elementwise, which is
   wrong off the diagonal).
5. **Convergence facts** (optimizer message, iterations, gradient norm,
   starts tried) and the warnings issued are returned in :class:`FitResult`,
   the typed record every layer reads; a
   :class:`~clvmodels.errors.ConvergenceWarning` names a parameter that ran to
   a bound, or gives the gradient norm when the optimum was not reached.
   The reported log-likelihood is the unpenalised one on the natural scale.

How a model plugs in
--------------------
A model subclasses :class:`clvmodels.models._base.BaseModel` and sets a few
class attributes; it never calls this module directly::

    class MyModel(BaseModel):
        _model_type = "MyModel"                       # name in saved files
        _param_names = ("r", "alpha", "s", "beta")    # order of params arrays
        _data_columns = ("frequency", "recency", "T") # order of data arrays
        _integer_columns = ("frequency",)             # validated as integers
        _bounded_by = {"recency": "T"}                # recency <= T
        _zero_implies_zero = {"frequency": "recency"} # frequency 0 -> recency 0

        @staticmethod
        def _loglik_and_gradient(params, frequency, recency, T, weights):
            # weighted total log-likelihood (float) and its gradient with
            # respect to the NATURAL parameters (array of len(params))
            ...

        def _start_values(self, frequency, recency, T, weights):
            # list of natural-scale start arrays; the first is the default
            ...

Optional hooks: ``_check_data(self, data)`` for model-specific validation
(raise :class:`~clvmodels.errors.InvalidSummaryError`),
``_log_bounds`` (bounds on every transformed parameter, default ``(-18.42,
18.42)``, i.e. 1e-8 to 1e8 for a log parameter), ``_param_transforms``
(``{"name": "identity" | "logit"}`` for parameters that are not positive
reals). The base class then provides ``fit``, ``from_params``,
``summary``, ``save`` and the fitted attributes. :mod:`clvmodels.models.bgnbd`
is the worked example.

Using the machinery directly::

    >>> import numpy as np
    >>> from clvmodels.models._fit import fit_maximum_likelihood
    >>> y = np.array([0.5, 1.2, 2.0, 0.7])            # exponential draws
    >>> def loglik_and_gradient(params, y, weights):
    ...     (rate,) = params
    ...     ll = np.sum(weights * (np.log(rate) - rate * y))
    ...     return ll, np.array([np.sum(weights * (1 / rate - y))])
    >>> result = fit_maximum_likelihood(loglik_and_gradient, (y,), ("rate",), [np.array([1.0])])
    >>> round(float(result.params[0]), 6)          # the MLE is 1 / mean(y)
    0.909091
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import sqrt

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, ndtr, ndtri
from threadpoolctl import threadpool_limits

from clvmodels.errors import (
    ConvergenceWarning,
    HessianWarning,
    InvalidParameterError,
    StatisticalWarning,
)

__all__ = [
    "CompressedData",
    "FitResult",
    "FitWarning",
    "IDENTITY",
    "LOG",
    "LOGIT",
    "Transform",
    "get_transform",
    "transform_set",
    "compress",
    "fit_maximum_likelihood",
    "hessian_log_scale",
    "covariance_from_hessian",
    "summary_table",
    "DEFAULT_LOG_BOUNDS",
]

#: Bounds on each log-parameter: parameters between 1e-8 and 1e8.
DEFAULT_LOG_BOUNDS = (float(np.log(1e-8)), float(np.log(1e8)))

#: A fit is declared converged when the largest absolute gradient component of
#: the mean objective (with respect to log-parameters) is below this.
GRADIENT_TOLERANCE = 1e-5

#: Objective value returned where the likelihood is not finite (the line search then steps back).
_UNDEFINED = 1e30

LoglikAndGradient = Callable[..., tuple[float, np.ndarray]]


# --------------------------------------------------------------------------- transforms
class Transform:
    """How one parameter is mapped to the unbounded scale the optimiser works on.

    A transform is a smooth bijection ``x = forward(theta)`` from the parameter's
    domain onto (a box of) the real line. The optimiser, the Hessian, the L2
    penalty, the normal draws of :mod:`clvmodels.models.uncertainty` and the
    confidence intervals all work on ``x``; the natural-scale covariance is
    ``J V J^T`` with ``J = diag(d theta / d x)`` (:meth:`derivative`).

    Three are defined: :data:`LOG` (positive parameters, the default),
    :data:`IDENTITY` (real coefficients) and :data:`LOGIT` (probabilities).
    """

    #: Name written in files and shown in summaries.
    name: str = ""
    #: What the domain is, for messages ("> 0", "real", "in (0, 1)").
    domain: str = ""

    def forward(self, theta):  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x):  # pragma: no cover - abstract
        """``d theta / d x`` at ``x`` (elementwise)."""
        raise NotImplementedError

    def in_domain(self, theta) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative_at(self, theta):
        """``d theta / d x`` at the natural-scale value ``theta``."""
        return self.derivative(self.forward(theta))

    def __repr__(self) -> str:
        return f"Transform({self.name!r})"


class _Log(Transform):
    name, domain = "log", "> 0"

    def forward(self, theta):
        return np.log(theta)

    def inverse(self, x):
        return np.exp(x)

    def derivative(self, x):
        return np.exp(x)

    def in_domain(self, theta):
        return np.isfinite(theta) & (np.asarray(theta) > 0)

    def derivative_at(self, theta):
        return np.asarray(theta, dtype=float)


class _Identity(Transform):
    name, domain = "identity", "real"

    def forward(self, theta):
        return np.asarray(theta, dtype=float)

    def inverse(self, x):
        return np.asarray(x, dtype=float)

    def derivative(self, x):
        return np.ones_like(np.asarray(x, dtype=float))

    def in_domain(self, theta):
        return np.isfinite(theta)


class _Logit(Transform):
    name, domain = "logit", "in (0, 1)"

    def forward(self, theta):
        theta = np.asarray(theta, dtype=float)
        return np.log(theta) - np.log1p(-theta)

    def inverse(self, x):
        return expit(x)

    def derivative(self, x):
        p = expit(x)
        return p * expit(-np.asarray(x, dtype=float))

    def in_domain(self, theta):
        theta = np.asarray(theta, dtype=float)
        return np.isfinite(theta) & (theta > 0) & (theta < 1)

    def derivative_at(self, theta):
        theta = np.asarray(theta, dtype=float)
        return theta * (1.0 - theta)


#: Positive parameters: ``x = log(theta)``; intervals ``theta * exp(+/- z se_log)`` (always > 0).
LOG = _Log()
#: Real-valued coefficients: ``x = theta``; Wald intervals ``theta +/- z se`` with z and p-values.
IDENTITY = _Identity()
#: Probabilities: ``x = log(theta / (1 - theta))``; intervals stay inside (0, 1).
LOGIT = _Logit()

_TRANSFORMS = {t.name: t for t in (LOG, IDENTITY, LOGIT)}


def get_transform(transform: str | Transform) -> Transform:
    """The :class:`Transform` named ``"log"``, ``"identity"`` or ``"logit"`` (or ``transform``)."""
    if isinstance(transform, Transform):
        return transform
    try:
        return _TRANSFORMS[transform]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"unknown parameter transform {transform!r}; use one of {sorted(_TRANSFORMS)}."
        ) from None


class _TransformSet:
    """The transforms of a parameter vector, applied along the last axis."""

    def __init__(self, transforms: Sequence[Transform], k: int):
        self.transforms = tuple(transforms)
        if len(self.transforms) != k:
            raise InvalidParameterError(
                f"got {len(self.transforms)} parameter transforms for {k} parameters."
            )
        self.all_log = all(t is LOG for t in self.transforms)
        self.groups = [
            (t, np.array([j for j, u in enumerate(self.transforms) if u is t]))
            for t in dict.fromkeys(self.transforms)
        ]

    def _apply(self, method: str, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        out = np.empty_like(values)
        for t, idx in self.groups:
            out[..., idx] = getattr(t, method)(values[..., idx])
        return out

    def forward(self, theta) -> np.ndarray:
        return np.log(theta) if self.all_log else self._apply("forward", theta)

    def inverse(self, x) -> np.ndarray:
        return np.exp(x) if self.all_log else self._apply("inverse", x)

    def derivative(self, x) -> np.ndarray:
        return np.exp(x) if self.all_log else self._apply("derivative", x)

    def derivative_at(self, theta) -> np.ndarray:
        return self._apply("derivative_at", theta)

    def in_domain(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        out = np.empty(theta.shape, dtype=bool)
        for t, idx in self.groups:
            out[..., idx] = t.in_domain(theta[..., idx])
        return out

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.transforms)


def transform_set(transforms, k: int) -> _TransformSet:
    """The transforms of a k-vector (default all :data:`LOG`), applied along the last axis."""
    if transforms is None:
        return _TransformSet([LOG] * k, k)
    if isinstance(transforms, _TransformSet):
        return transforms
    return _TransformSet([get_transform(t) for t in transforms], k)


@dataclass(frozen=True)
class FitWarning:
    """A warning issued during a fit: its category and message (kept on :class:`FitResult`)."""

    category: type[Warning]
    message: str

    def __str__(self) -> str:
        return f"{self.category.__name__}: {self.message}"


def _warn(record: list | None, message: str, category: type[Warning], stacklevel: int) -> None:
    """Issue a warning (one frame further up than ``stacklevel``) and keep it in ``record``."""
    warnings.warn(message, category, stacklevel=stacklevel + 1)
    if record is not None:
        record.append(FitWarning(category, message))


@dataclass(frozen=True)
class CompressedData:
    """Unique data rows with their total weights.

    Attributes
    ----------
    columns : tuple of ndarray
        The unique rows, one array per data column, sorted lexicographically.
    weights : ndarray
        Total weight of each unique row (the count, times user weights).
    inverse : ndarray of int
        ``columns[j][inverse]`` reproduces the original column ``j``.
    """

    columns: tuple[np.ndarray, ...]
    weights: np.ndarray
    inverse: np.ndarray

    @property
    def n_unique(self) -> int:
        """Number of unique rows."""
        return int(self.weights.shape[0])


def _column_codes(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes of one column in sorted order of its values, and the number of values.

    Whole numbers in a range not much wider than the column (counts such as frequency)
    are coded by offset without hashing; anything else goes through ``pd.factorize``.
    """
    if a.size and np.isfinite(lo := a.min()) and np.isfinite(hi := a.max()):
        if hi - lo <= 4 * a.size + 1024 and np.array_equal(a, np.floor(a)):
            offset = (a - lo).astype(np.int64)
            present = np.bincount(offset) > 0
            dense = np.cumsum(present) - 1
            return dense[offset], int(present.sum())
    code, uniques = pd.factorize(a, sort=True)
    if np.any(code < 0):
        raise InvalidParameterError("data columns must not contain NaN; drop those rows first.")
    return code.astype(np.int64, copy=False), len(uniques)


def _group_codes(arrays: list[np.ndarray]) -> np.ndarray:
    """Number the distinct rows 0, 1, ... in lexicographic order of their values.

    Each column is factorised on its own (hash, sorted uniques), the codes are combined
    into one int64 key by mixed radix, and the key is factorised again: about twice as
    fast as a multi-column groupby and ~100x faster than ``np.unique(axis=0)`` on 10M
    rows. Falls back to the groupby when the key would overflow.
    """
    codes, sizes = [], []
    for a in arrays:
        code, size = _column_codes(a)
        codes.append(code)
        sizes.append(size)
    if float(np.prod([max(k, 1) for k in sizes], dtype=float)) < 2.0**62:
        key = codes[0]
        for code, size in zip(codes[1:], sizes[1:], strict=True):
            key = key * size + code
        return pd.factorize(key, sort=True)[0].astype(np.intp, copy=False)
    frame = pd.DataFrame({f"c{j}": c for j, c in enumerate(codes)}, copy=False)
    return frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy(dtype=np.intp)


#: Below this many rows a fit always compresses (it is cheap).
_SAMPLE_CHECK_ROWS = 200_000


def _mostly_distinct(columns: Sequence[np.ndarray]) -> bool:
    """Whether the rows are so nearly all distinct that compressing them would not pay.

    Continuous data (Gamma-Gamma's mean spend, say) have as many unique rows as rows, so
    hashing and sorting them buys nothing. A fixed pseudo-random sample of ``m`` of the
    ``n`` rows (the same rows every time: the fit stays deterministic) is checked for
    repeats: if every row appeared ``k`` times the sample would hold about
    ``m^2 (k - 1) / (2 n)`` repeated pairs, so (with ``m^2 / 2n >= 50``) finding
    fewer than 5% of that for ``k = 2`` means the data shrink by less than ~5%.
    """
    arrays = [np.asarray(c).reshape(-1) for c in columns]
    n = arrays[0].shape[0] if arrays else 0
    if n < _SAMPLE_CHECK_ROWS or any(a.shape[0] != n for a in arrays):
        return False
    m = min(n, max(20_000, int(10 * sqrt(n))))
    rows = np.random.default_rng(0).choice(n, size=m, replace=False)
    sample = pd.DataFrame({j: a[rows] for j, a in enumerate(arrays)}, copy=False)
    repeats = int(sample.duplicated().sum())
    return repeats < 0.05 * m * m / (2.0 * n)


def compress(columns: Sequence[np.ndarray], weights: np.ndarray | None = None) -> CompressedData:
    """Reduce data rows to the unique tuples, with counts (times weights) as weights.

    Parameters
    ----------
    columns : sequence of array_like
        Equal-length 1-D arrays, one per data column.
    weights : array_like, optional
        Non-negative weight per row (default 1). The weight of a unique row is
        the sum of the weights of the rows equal to it.

    Returns
    -------
    CompressedData

    Examples
    --------
    >>> c = compress([np.array([0, 1, 0]), np.array([0.0, 2.0, 0.0])])
    >>> c.columns[0].tolist(), c.weights.tolist(), c.inverse.tolist()
    ([0.0, 1.0], [2.0, 1.0], [0, 1, 0])
    """
    arrays = [np.asarray(c, dtype=float).reshape(-1) for c in columns]
    if not arrays:
        raise InvalidParameterError("compress needs at least one data column.")
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        lengths = [a.shape[0] for a in arrays]
        raise InvalidParameterError(
            f"data columns have different lengths {lengths}; pass equal-length arrays."
        )
    codes = _group_codes(arrays)
    n_unique = int(codes.max()) + 1 if n else 0
    first = np.full(n_unique, -1, dtype=np.intp)
    # first occurrence of each group: assign in reverse so the smallest index wins
    first[codes[::-1]] = np.arange(n - 1, -1, -1, dtype=np.intp)
    unique_columns = tuple(a[first] for a in arrays)
    if weights is None:
        total = np.bincount(codes, minlength=n_unique).astype(float)
    else:
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.shape[0] != n:
            raise InvalidParameterError(
                f"weights has length {w.shape[0]} but the data have {n} rows."
            )
        total = np.bincount(codes, weights=w, minlength=n_unique)
    return CompressedData(columns=unique_columns, weights=total, inverse=codes)


@dataclass
class FitResult:
    """Everything a maximum-likelihood fit found out: the one typed record of a fit.

    Every layer reads a fit from here (a fitted model keeps it as
    ``model.fit_result_``); the model's ``params_``, ``covariance_``,
    ``log_likelihood_``, ``converged_`` and ``n_customers_`` are its values.

    Attributes
    ----------
    params : ndarray
        Estimates on the natural scale, in ``param_names`` order.
    param_names : tuple of str
    log_likelihood : float
        Unpenalised weighted log-likelihood at ``params`` (natural scale); NaN
        when the parameters were given, not fitted.
    covariance : ndarray
        Covariance of the estimates on the natural scale, ``J V J^T`` with
        ``V = covariance_transformed`` and ``J = diag(d theta / d x)`` (NaN when
        the Hessian is not positive definite).
    covariance_transformed : ndarray
        Covariance on the optimiser's scale ``x`` (``log theta`` for positive
        parameters, ``theta`` for real coefficients, ``logit theta`` for
        probabilities): the inverse Hessian.
    hessian_transformed : ndarray
        Hessian of the total negative (penalised) log-likelihood with respect
        to ``x``.
    converged : bool or None
        True when no parameter is at a bound and the gradient norm is below
        :data:`GRADIENT_TOLERANCE`; None when the parameters were given.
    message : str
        Optimizer message of the best start, plus polishing notes.
    n_iterations : int
        Optimizer iterations of the best start.
    gradient_norm : float
        Largest absolute gradient component of the mean objective with respect
        to ``x`` at the optimum (free parameters only).
    n_evaluations : int
        Log-likelihood and gradient evaluations in all (starts, polishing, Hessian).
    n_starts : int
        Number of start values tried.
    start_log_likelihoods : list of float
        Log-likelihood reached from each start. A start whose iterate comes
        within 0.01 (in every transformed parameter) of an optimum found from an
        earlier start is stopped there, so its value is a little lower.
    n_observations : float
        Sum of weights (number of customers when unweighted).
    n_unique : int
        Number of distinct data rows the likelihood was evaluated on.
    at_bound : list of str
        Parameters that ended at a bound.
    hessian_ok : bool
        Whether the Hessian was finite and positive definite.
    penalizer : float
    transforms : tuple of Transform
        The transform of each parameter (:data:`LOG`, :data:`IDENTITY`, :data:`LOGIT`).
    warnings : list of FitWarning
        The warnings the fit issued (convergence, Hessian, and any the model adds).
    extra : dict
        Model-specific facts (e.g. the log-likelihood of the model without
        covariates, Gamma-Gamma's independence check); saved with the model.
    """

    params: np.ndarray
    param_names: tuple[str, ...]
    log_likelihood: float
    covariance: np.ndarray
    covariance_transformed: np.ndarray
    hessian_transformed: np.ndarray
    converged: bool | None
    message: str
    n_iterations: int
    gradient_norm: float
    n_evaluations: int
    n_starts: int
    start_log_likelihoods: list[float] = field(default_factory=list)
    n_observations: float = 0.0
    n_unique: int = 0
    at_bound: list[str] = field(default_factory=list)
    hessian_ok: bool = True
    penalizer: float = 0.0
    transforms: tuple[Transform, ...] = ()
    warnings: list[FitWarning] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.transforms:
            self.transforms = (LOG,) * len(self.param_names)
        self.transforms = tuple(get_transform(t) for t in self.transforms)

    @classmethod
    def given(cls, params, param_names, transforms=None,
              message: str = "parameters given by from_params, not fitted") -> FitResult:
        """The record of given (not fitted) parameters: NaN likelihood and covariance."""
        names = tuple(param_names)
        k = len(names)
        nan = np.full((k, k), np.nan)
        return cls(
            params=np.asarray(params, dtype=float), param_names=names,
            log_likelihood=float("nan"), covariance=nan, covariance_transformed=nan.copy(),
            hessian_transformed=nan.copy(), converged=None, message=message, n_iterations=0,
            gradient_norm=float("nan"), n_evaluations=0, n_starts=0, hessian_ok=False,
            transforms=tuple(transforms) if transforms is not None else (),
        )

    # ------------------------------------------------------------ derived facts
    @property
    def fitted(self) -> bool:
        """Whether the parameters come from a fit (False for given parameters)."""
        return self.converged is not None

    @property
    def covariance_log(self) -> np.ndarray:
        """The covariance on the optimiser's scale (the log scale for positive parameters)."""
        return self.covariance_transformed

    @property
    def hessian_log(self) -> np.ndarray:
        """The Hessian on the optimiser's scale (see :attr:`covariance_log`)."""
        return self.hessian_transformed

    @property
    def n_params(self) -> int:
        """Number of estimated parameters (every one counts in AIC and BIC)."""
        return len(self.param_names)

    @property
    def n_customers(self) -> int | float:
        """Customers fitted: the sum of weights (an int when it is whole)."""
        total = float(self.n_observations)
        return int(total) if total.is_integer() else total

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``2k - 2 LL``."""
        return 2 * self.n_params - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``k log(n) - 2 LL`` (NaN without customers)."""
        n = self.n_observations if self.n_observations > 0 else float("nan")
        return self.n_params * float(np.log(n)) - 2 * self.log_likelihood

    @property
    def std_errors(self) -> np.ndarray:
        """Natural-scale standard errors ``sqrt(diag(covariance))``."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def transform_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.transforms)


class _Objective:
    """Negative mean weighted log-likelihood over the transformed parameters, with caching."""

    def __init__(self, loglik_and_gradient, data, weights, penalizer, transforms=None):
        self.loglik_and_gradient = loglik_and_gradient
        self.data = data
        self.weights = weights
        self.total_weight = float(np.sum(weights))
        self.penalizer = float(penalizer)
        self.n_evaluations = 0
        self.transforms = transforms

    def _theta(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x) if self.transforms is None else self.transforms.inverse(x)

    def loglik(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Unpenalised total log-likelihood and its gradient w.r.t. natural params."""
        theta = self._theta(x)
        ll, grad = self.loglik_and_gradient(theta, *self.data, self.weights)
        return float(ll), np.asarray(grad, dtype=float)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_evaluations += 1
        ll, grad = self.loglik(x)
        if not (np.isfinite(ll) and np.all(np.isfinite(grad))):
            # outside the region where the model is numerically defined: a large finite value
            # makes the line search step back instead of aborting
            return _UNDEFINED, np.zeros_like(x)
        # chain rule: d/dx = (d theta / d x) * d/d theta, elementwise (the transforms act
        # on one parameter each)
        jac = np.exp(x) if self.transforms is None else self.transforms.derivative(x)
        value = -ll / self.total_weight + self.penalizer * float(x @ x)
        gradient = -(grad * jac) / self.total_weight + 2.0 * self.penalizer * x
        return value, gradient


def hessian_log_scale(
    objective_gradient: Callable[[np.ndarray], np.ndarray], x: np.ndarray
) -> np.ndarray:
    """Symmetrised central finite differences of an analytic gradient.

    Parameters
    ----------
    objective_gradient : callable
        ``x -> gradient`` of the function whose Hessian is wanted.
    x : ndarray
        Point (log-parameters).

    Returns
    -------
    ndarray of shape (k, k)
        ``(G + G.T) / 2`` with ``G[:, j] = (g(x + h_j e_j) - g(x - h_j e_j)) / (2 h_j)``
        and ``h_j = 1e-5 * max(1, |x_j|)`` (error O(h^2) from truncation plus
        O(eps / h) from rounding, both about 1e-10 relative).

    Examples
    --------
    >>> h = hessian_log_scale(lambda x: np.array([2 * x[0] + x[1], x[0] + 6 * x[1]]), np.zeros(2))
    >>> np.round(h, 8).tolist()
    [[2.0, 1.0], [1.0, 6.0]]
    """
    x = np.asarray(x, dtype=float)
    k = x.shape[0]
    columns = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(x[j]))
        up = x.copy()
        down = x.copy()
        up[j] += h
        down[j] -= h
        columns[:, j] = (
            np.asarray(objective_gradient(up)) - np.asarray(objective_gradient(down))
        ) / (2 * h)
    return 0.5 * (columns + columns.T)


def covariance_from_hessian(
    hessian_log: np.ndarray,
    params: np.ndarray,
    param_names: Sequence[str],
    *,
    warn: bool = True,
    transforms: Sequence[str | Transform] | None = None,
    record: list | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Invert a Hessian on the transformed scale (checked positive definite); Jacobian to natural.

    Parameters
    ----------
    hessian_log : ndarray (k, k)
        Hessian of the total negative log-likelihood w.r.t. the transformed
        parameters ``x`` (log-parameters when every transform is :data:`LOG`).
    params : ndarray (k,)
        Natural-scale parameters ``theta``.
    param_names : sequence of str
        Used in the warning.
    warn : bool
        Issue a :class:`~clvmodels.errors.HessianWarning` when not positive definite.
    transforms : sequence of str or Transform, optional
        One per parameter (default: all :data:`LOG`).
    record : list, optional
        Warnings issued are appended here as :class:`FitWarning`.

    Returns
    -------
    covariance : ndarray
        ``J H^-1 J^T`` with ``J = diag(d theta / d x)`` (``diag(theta)`` for log
        parameters, 1 for identity, ``theta (1 - theta)`` for logit; NaN when
        not invertible).
    covariance_log : ndarray
        ``H^-1`` on the transformed scale (NaN when not invertible).
    ok : bool

    Examples
    --------
    >>> cov, cov_log, ok = covariance_from_hessian(np.diag([4.0, 1.0]), np.array([2.0, 3.0]), "ab")
    >>> cov.tolist(), ok
    ([[1.0, 0.0], [0.0, 9.0]], True)
    """
    k = len(params)
    tset = transform_set(transforms, k)
    labels = [f"{t.name}({n})" if t is not IDENTITY else str(n)
              for t, n in zip(tset.transforms, param_names, strict=True)]
    nan = np.full((k, k), np.nan)
    hessian_log = np.asarray(hessian_log, dtype=float)
    if not np.all(np.isfinite(hessian_log)):
        if warn:
            bad = [param_names[j] for j in range(k) if not np.all(np.isfinite(hessian_log[j]))]
            _warn(
                record,
                f"The Hessian at the optimum has non-finite entries for {bad}; no standard errors "
                "(the likelihood is not numerically defined around the estimate). "
                "Check the data for extreme values or refit with a small penalizer.",
                HessianWarning,
                stacklevel=5,
            )
        return nan, nan.copy(), False
    eigenvalues, eigenvectors = np.linalg.eigh(hessian_log)
    largest = float(np.max(np.abs(eigenvalues)))
    if eigenvalues[0] <= max(largest, 1e-300) * 1e-12:
        if warn:
            vector = eigenvectors[:, 0]
            order = np.argsort(-np.abs(vector))
            combo = " ".join(
                f"{vector[j]:+.2f}*{labels[j]}" for j in order if abs(vector[j]) > 0.1
            )
            _warn(
                record,
                "The Hessian at the optimum is not positive definite (smallest eigenvalue "
                f"{eigenvalues[0]:.3g}, largest {largest:.3g}): the likelihood is flat or curving "
                f"down along {combo}, so these parameters are not identified by the data "
                "(or the optimum was not reached). Standard errors are NaN. Try more data, check "
                "convergence_ facts, or refit with a small penalizer.",
                HessianWarning,
                stacklevel=5,
            )
        return nan, nan.copy(), False
    covariance_log = (eigenvectors / eigenvalues) @ eigenvectors.T
    covariance_log = 0.5 * (covariance_log + covariance_log.T)
    jac = tset.derivative_at(np.asarray(params, dtype=float))
    covariance = covariance_log * np.outer(jac, jac)
    return covariance, covariance_log, True


#: A later start whose iterate comes this close (in every log-parameter, i.e. within 1%) to an
#: optimum already found is in that optimum's basin; it is stopped there instead of
#: converging a second time.
_SAME_BASIN = 1e-2


def _run_lbfgsb(objective: _Objective, x0: np.ndarray, bounds, maxiter: int, known=None):
    callback = None
    if known is not None:
        x_known = np.asarray(known, dtype=float)

        def callback(intermediate_result):
            if np.max(np.abs(intermediate_result.x - x_known)) < _SAME_BASIN:
                raise StopIteration

    return optimize.minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[bounds] * len(x0),
        callback=callback,
        options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 20},
    )


def _newton_polish(objective: _Objective, x: np.ndarray, value: float, bounds, n_steps: int = 4):
    """A few Newton steps with a finite-difference Hessian; accepted only if they help.

    Returns the point, its value and gradient, the number of accepted steps and the
    last Hessian computed with the point it was computed at (reused for the standard
    errors when the point has not moved since).
    """
    grad = objective(x)[1]
    n_accepted = 0
    last_hessian = None
    for _ in range(n_steps):
        gnorm = float(np.max(np.abs(grad)))
        if gnorm < 1e-12:
            break
        hess = hessian_log_scale(lambda z: objective(z)[1], x)
        last_hessian = (x.copy(), hess)
        try:
            eig = np.linalg.eigvalsh(hess)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(eig)) or eig[0] <= 0:
            break
        step = np.linalg.solve(hess, grad)
        candidate = np.clip(x - step, bounds[0], bounds[1])
        new_value, new_grad = objective(candidate)
        # near the optimum values differ by less than rounding; accept when the value does not
        # rise beyond rounding and the gradient shrinks
        tolerance = 1e-13 * max(1.0, abs(value))
        if new_value <= value + tolerance and np.max(np.abs(new_grad)) < gnorm:
            x, value, grad = candidate, new_value, new_grad
            n_accepted += 1
        else:
            break
    return x, value, grad, n_accepted, last_hessian


def fit_maximum_likelihood(
    loglik_and_gradient: LoglikAndGradient,
    data: Sequence[np.ndarray],
    param_names: Sequence[str],
    starts: Sequence[np.ndarray],
    *,
    weights: np.ndarray | None = None,
    penalizer: float = 0.0,
    log_bounds: tuple[float, float] = DEFAULT_LOG_BOUNDS,
    maxiter: int = 2000,
    compressed: bool = False,
    prepare: Callable[..., tuple] | None = None,
    warn: bool = True,
    transforms: Sequence[str | Transform] | None = None,
    bound_message: Callable[[dict[str, float]], str | None] | None = None,
) -> FitResult:
    """Maximise a weighted log-likelihood over transformed parameters.

    Parameters
    ----------
    loglik_and_gradient : callable
        ``f(params, *data, weights) -> (total_loglik, gradient)``: the weighted
        total log-likelihood and its gradient with respect to the natural
        parameters.
    data : sequence of ndarray
        Data columns (equal length).
    param_names : sequence of str
    starts : sequence of ndarray
        Natural-scale start values (each inside its transform's domain); the
        first is the default, the others are tried too and the best optimum kept.
    weights : ndarray, optional
        Row weights (default 1).
    penalizer : float, default 0
        Strength of the L2 penalty ``penalizer * sum(x**2)`` on the transformed
        parameters ``x`` (``log theta`` for positive parameters: shrinks them
        toward 1; a real coefficient itself: ridge toward 0; ``logit theta``
        for a probability: toward 1/2), added to the mean negative
        log-likelihood.
    log_bounds : (float, float)
        Bounds for every transformed parameter (the name is historical: with
        the default :data:`LOG` transforms they are bounds on log-parameters).
    maxiter : int
        Maximum L-BFGS-B iterations per start.
    compressed : bool, default False
        True when ``data`` are already unique rows (skip :func:`compress`).
    prepare : callable, optional
        ``prepare(*unique_columns) -> tuple`` run once after compression; its
        result replaces the data columns in every call of
        ``loglik_and_gradient`` (e.g. to precompute unique values and
        indices).
    warn : bool, default True
        Issue convergence and Hessian warnings (they are also kept in
        :attr:`FitResult.warnings`).
    transforms : sequence of str or Transform, optional
        One per parameter: ``"log"`` (positive, the default for all),
        ``"identity"`` (real) or ``"logit"`` (a probability).
    bound_message : callable, optional
        ``f({name: value at the bound}) -> str or None``: the model's own
        diagnosis when parameters run to a bound (None: the generic message).

    Returns
    -------
    FitResult

    Notes
    -----
    The optimised objective is ``-sum_i w_i log L_i(theta(x)) / sum_i w_i +
    penalizer * ||x||^2`` over ``x = forward(theta)``, with the gradient by the
    chain rule ``d/dx = theta'(x) d/dtheta``. Standard errors come from the
    Hessian of ``sum_i w_i`` times that objective (on ``x``), mapped to the
    natural scale by the Jacobian of the inverse transforms.
    """
    names = tuple(param_names)
    tset = transform_set(transforms, len(names))
    if penalizer < 0 or not np.isfinite(penalizer):
        raise InvalidParameterError(f"penalizer must be a finite number >= 0, got {penalizer!r}.")
    if compressed:
        columns = tuple(np.asarray(c, dtype=float) for c in data)
        w = np.ones(columns[0].shape[0]) if weights is None else np.asarray(weights, dtype=float)
        n_unique = columns[0].shape[0]
    elif _mostly_distinct(data):
        # compressing would cost more (a hash and a sort of n rows) than it saves
        columns = tuple(np.asarray(c, dtype=float).reshape(-1) for c in data)
        n = columns[0].shape[0]
        if any(c.shape[0] != n for c in columns):
            raise InvalidParameterError(
                f"data columns have different lengths {[c.shape[0] for c in columns]}."
            )
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
        if w.shape[0] != n:
            raise InvalidParameterError(
                f"weights has length {w.shape[0]} but the data have {n} rows."
            )
        n_unique = n
    else:
        packed = compress(data, weights)
        columns, w, n_unique = packed.columns, packed.weights, packed.n_unique
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InvalidParameterError("weights must be finite and >= 0.")
    keep = w > 0
    if not np.all(keep):
        columns = tuple(c[keep] for c in columns)
        w = w[keep]
    if w.sum() <= 0:
        raise InvalidParameterError("the total weight of the data is zero; nothing to fit.")
    if prepare is not None:
        columns = tuple(prepare(*columns))

    # the optimizer's tiny vector operations call BLAS; its threads cost more than they save
    # (4x slower L-BFGS-B on a busy 2-core machine), so BLAS runs single-threaded here
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_prepared(
            loglik_and_gradient,
            columns,
            w,
            names,
            starts,
            n_unique,
            penalizer,
            log_bounds,
            maxiter,
            warn,
            tset,
            bound_message,
        )


def _fit_prepared(
    loglik_and_gradient, columns, w, names, starts, n_unique, penalizer, log_bounds, maxiter, warn,
    tset, bound_message,
) -> FitResult:
    k = len(names)
    record: list[FitWarning] = []
    objective = _Objective(loglik_and_gradient, columns, w, penalizer,
                           None if tset.all_log else tset)
    lower, upper = log_bounds
    best = None
    start_lls: list[float] = []
    for start in starts:
        start = np.asarray(start, dtype=float)
        if start.shape != (k,) or not np.all(tset.in_domain(start)):
            domains = ", ".join(f"{n} {t.domain}" for n, t in zip(names, tset.transforms,
                                                                    strict=True))
            raise InvalidParameterError(
                f"start values must be {k} finite numbers in their domains ({domains}), "
                f"got {start!r}."
            )
        x0 = np.clip(tset.forward(start), lower + 1e-3, upper - 1e-3)
        if objective(x0)[0] >= _UNDEFINED:
            start_lls.append(-np.inf)
            continue
        result = _run_lbfgsb(
            objective, x0, (lower, upper), maxiter, known=None if best is None else best.x
        )
        reached = -np.inf if result.fun >= _UNDEFINED else objective.loglik(result.x)[0]
        start_lls.append(float(reached))
        if best is None or result.fun < best.fun:
            best = result

    if best is None:
        ll, grad = objective.loglik(tset.forward(np.asarray(starts[0], dtype=float)))
        raise InvalidParameterError(
            f"The log-likelihood is not finite at any of the {len(starts)} start values "
            f"(log-likelihood {ll}, gradient {grad}); the data are probably outside the model's "
            "support (e.g. a zero where the model needs a positive value). Check the data."
        )
    x = np.asarray(best.x, dtype=float)
    x, value, grad, n_newton, last_hessian = _newton_polish(
        objective, x, float(best.fun), (lower, upper)
    )
    message = str(best.message)
    if n_newton:
        message += f"; polished by {n_newton} Newton step(s)"
    theta = tset.inverse(x)
    log_likelihood, _ = objective.loglik(x)
    if not np.isfinite(log_likelihood):
        raise InvalidParameterError(
            f"The fit ended where the log-likelihood is not finite ({log_likelihood}) at "
            f"{dict(zip(names, theta.tolist(), strict=True))}; the data are probably outside the "
            "model's support. Check the data."
        )

    at_bound = [names[j] for j in range(k) if x[j] <= lower + 1e-6 or x[j] >= upper - 1e-6]
    free = np.array([names[j] not in at_bound for j in range(k)])
    gradient_norm = float(np.max(np.abs(grad[free]))) if np.any(free) else 0.0
    converged = bool(
        not at_bound and gradient_norm < GRADIENT_TOLERANCE and np.isfinite(log_likelihood)
    )

    if warn and n_unique < k:
        warnings.warn(
            f"The data have {n_unique} distinct history(ies) for {k} parameters ({names}): "
            "the parameters are not identified, and the estimates (here "
            + ", ".join(f"{names[j]}={theta[j]:.3g}" for j in range(k))
            + ") are one of many equally good fits. Fit on more customers.",
            StatisticalWarning, stacklevel=4)
    if warn and at_bound:
        values = {names[j]: float(theta[j]) for j in range(k) if names[j] in at_bound}
        custom = bound_message(values) if bound_message is not None else None
        if custom is None:
            details = ", ".join(
                f"{names[j]}={theta[j]:.10g} (bound "
                f"{tset.transforms[j].inverse(np.float64(lower if x[j] < 0 else upper)):.10g})"
                for j in range(k)
                if names[j] in at_bound
            )
            custom = (
                f"The fit did not converge: parameter(s) {details} ran to a bound of the search "
                "region, so the data do not pin them down (a degenerate data set, e.g. no repeat "
                "purchases or no sign of dropout). Estimates and standard errors of these "
                "parameters are not meaningful; consider more data, a simpler model, or a small "
                "penalizer."
            )
        _warn(record, custom, ConvergenceWarning, stacklevel=4)
    elif warn and not converged:
        worst = names[int(np.argmax(np.abs(grad)))]
        _warn(
            record,
            f"The fit did not converge: the gradient norm is {gradient_norm:.2e} (tolerance "
            f"{GRADIENT_TOLERANCE:.0e}), largest for parameter '{worst}'; optimizer said: "
            f"{message}. Try other start values, rescale time (e.g. weeks instead of days) or a "
            "small penalizer.",
            ConvergenceWarning,
            stacklevel=4,
        )

    total = objective.total_weight
    if last_hessian is not None and np.max(np.abs(last_hessian[0] - x)) < 1e-7:
        # the polish's last Hessian was taken within 1e-7 of x: its change is below the
        # finite-difference error, so it serves for the standard errors
        hessian_log = total * last_hessian[1]
    else:
        hessian_log = total * hessian_log_scale(lambda z: objective(z)[1], x)
    if at_bound:
        # a parameter at a bound has no interior curvature worth inverting
        covariance = np.full((k, k), np.nan)
        covariance_log = covariance.copy()
        hessian_ok = False
    else:
        covariance, covariance_log, hessian_ok = covariance_from_hessian(
            hessian_log, theta, names, warn=warn, transforms=tset, record=record
        )

    return FitResult(
        params=theta,
        param_names=names,
        log_likelihood=float(log_likelihood),
        covariance=covariance,
        covariance_transformed=covariance_log,
        hessian_transformed=hessian_log,
        converged=converged,
        message=message,
        n_iterations=int(best.nit),
        n_evaluations=int(objective.n_evaluations),
        gradient_norm=gradient_norm,
        n_starts=len(starts),
        start_log_likelihoods=[float(v) for v in start_lls],
        n_observations=float(total),
        n_unique=int(n_unique),
        at_bound=at_bound,
        hessian_ok=bool(hessian_ok),
        penalizer=float(penalizer),
        transforms=tset.transforms,
        warnings=record,
    )


def summary_table(
    param_names: Sequence[str],
    params: np.ndarray,
    covariance: np.ndarray,
    covariance_log: np.ndarray,
    *,
    alpha: float = 0.05,
    transforms: Sequence[str | Transform] | None = None,
) -> pd.DataFrame:
    """Estimates with standard errors and confidence intervals.

    The standard error is the natural-scale one (``sqrt(diag(J V J^T))``). The
    interval is formed on each parameter's transformed scale and mapped back,
    ``inverse(x +/- z * se_x)``: for a positive (log) parameter
    ``exp(log(theta) +/- z * se_log)``, always positive and asymmetric like the
    likelihood; for a probability (logit) inside (0, 1); for a real coefficient
    (identity) the Wald interval ``theta +/- z * se``. When any parameter is
    real-valued the table also has the Wald test of ``theta = 0``:
    ``z_value = theta / se`` and the two-sided ``p_value = 2 (1 - Phi(|z|))``
    (NaN for the other parameters, whose value 0 is outside their domain).

    Parameters
    ----------
    param_names : sequence of str
    params, covariance, covariance_log : ndarray
        Estimates, natural-scale covariance, covariance on the transformed scale.
    alpha : float, default 0.05
        1 - confidence level.
    transforms : sequence of str or Transform, optional
        One per parameter (default all :data:`LOG`).

    Returns
    -------
    DataFrame
        Index ``param_names``; columns ``estimate``, ``std_error``,
        ``ci_lower``, ``ci_upper`` (and ``z_value``, ``p_value`` with
        real-valued parameters).

    Examples
    --------
    >>> t = summary_table(["r"], np.array([2.0]), np.array([[0.04]]), np.array([[0.01]]))
    >>> t.loc["r", "std_error"]
    np.float64(0.2)
    """
    if not 0 < alpha < 1:
        raise InvalidParameterError(f"alpha must be between 0 and 1, got {alpha!r}.")
    params = np.asarray(params, dtype=float)
    tset = transform_set(transforms, params.shape[0])
    z = ndtri(1 - alpha / 2)  # normal quantile; scipy.stats is slow to import
    se = np.sqrt(np.diag(covariance))
    se_log = np.sqrt(np.diag(covariance_log))
    if tset.all_log:
        lower, upper = params * np.exp(-z * se_log), params * np.exp(z * se_log)
    else:
        x = tset.forward(params)
        lower, upper = tset.inverse(x - z * se_log), tset.inverse(x + z * se_log)
        real = np.array([t is IDENTITY for t in tset.transforms])
        # an identity parameter's interval is exactly the Wald one on the natural scale
        lower = np.where(real, params - z * se, lower)
        upper = np.where(real, params + z * se, upper)
    table = pd.DataFrame(
        {
            "estimate": params,
            "std_error": se,
            "ci_lower": lower,
            "ci_upper": upper,
        },
        index=pd.Index(list(param_names), name="parameter"),
    )
    if not tset.all_log and real.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = np.where(real, params / se, np.nan)
        table["z_value"] = zval
        table["p_value"] = np.where(real, 2.0 * ndtr(-np.abs(zval)), np.nan)
    return table
