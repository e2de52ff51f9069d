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
2. **Optimise** the negative *mean* weighted log-likelihood over
   ``x = log(theta)`` with L-BFGS-B and the analytic gradient (chain rule
   ``d/dx = theta * d/dtheta``), from each start value the model proposes
   (the first is the default; the others are deterministic alternatives);
   the best optimum is kept and polished by a few Newton steps. An optional
   L2 penalty ``penalizer * sum(x**2)`` shrinks log-parameters toward 0
   (parameters toward 1); it is off by default.
3. **Hessian** of the total negative log-likelihood (penalty included, on
   the same per-customer scale as the optimised objective) by central finite
   differences of the analytic gradient, symmetrised. It must be finite and
   positive definite (checked by eigenvalues) before it is inverted;
   otherwise a :class:`~clvmodels.errors.HessianWarning` says which
   parameter combination is flat and the covariance is NaN. There is no
   pseudo-inverse.
4. **Covariance** on the log scale ``V = H^-1`` and, by the delta method,
   on the natural scale ``J V J`` with ``J = diag(theta)`` (the full matrix;
   lifetimes multiplies elementwise, which is wrong off the diagonal).
5. **Convergence facts** (optimizer message, iterations, gradient norm,
   starts tried) are returned in :class:`FitResult`; a
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
``_log_bounds`` (bounds on log-parameters, default ``(-18.42, 18.42)``, i.e.
1e-8 to 1e8). The base class then provides ``fit``, ``from_params``,
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
from scipy.special import ndtri
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
    """Everything a maximum-likelihood fit found out.

    Attributes
    ----------
    params : ndarray
        Estimates on the natural scale, in ``param_names`` order.
    param_names : tuple of str
    log_likelihood : float
        Unpenalised weighted log-likelihood at ``params`` (natural scale).
    covariance : ndarray
        Covariance of the estimates on the natural scale (NaN when the
        Hessian is not positive definite).
    covariance_log : ndarray
        Covariance of the log-parameters.
    hessian_log : ndarray
        Hessian of the total negative (penalised) log-likelihood with respect
        to the log-parameters.
    converged : bool
        True when no parameter is at a bound and the gradient norm is below
        :data:`GRADIENT_TOLERANCE`.
    message : str
        Optimizer message of the best start, plus polishing notes.
    n_iterations : int
        Optimizer iterations of the best start.
    n_evaluations : int
        Log-likelihood and gradient evaluations in all (starts, polishing, Hessian).
    gradient_norm : float
        Largest absolute gradient component of the mean objective with respect
        to log-parameters at the optimum.
    n_starts : int
        Number of start values tried.
    start_log_likelihoods : list of float
        Log-likelihood reached from each start. A start whose iterate comes
        within 0.01 (in every log-parameter) of an optimum found from an
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
    """

    params: np.ndarray
    param_names: tuple[str, ...]
    log_likelihood: float
    covariance: np.ndarray
    covariance_log: np.ndarray
    hessian_log: np.ndarray
    converged: bool
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


class _Objective:
    """Negative mean weighted log-likelihood over log-parameters, with caching."""

    def __init__(self, loglik_and_gradient, data, weights, penalizer):
        self.loglik_and_gradient = loglik_and_gradient
        self.data = data
        self.weights = weights
        self.total_weight = float(np.sum(weights))
        self.penalizer = float(penalizer)
        self.n_evaluations = 0

    def loglik(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Unpenalised total log-likelihood and its gradient w.r.t. natural params."""
        theta = np.exp(x)
        ll, grad = self.loglik_and_gradient(theta, *self.data, self.weights)
        return float(ll), np.asarray(grad, dtype=float)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_evaluations += 1
        theta = np.exp(x)
        ll, grad = self.loglik(x)
        if not (np.isfinite(ll) and np.all(np.isfinite(grad))):
            # outside the region where the model is numerically defined: a large finite value
            # makes the line search step back instead of aborting
            return _UNDEFINED, np.zeros_like(x)
        value = -ll / self.total_weight + self.penalizer * float(x @ x)
        gradient = -(grad * theta) / self.total_weight + 2.0 * self.penalizer * x
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
    hessian_log: np.ndarray, params: np.ndarray, param_names: Sequence[str], *, warn: bool = True
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Invert a log-scale Hessian (checked positive definite); delta method to the natural scale.

    Parameters
    ----------
    hessian_log : ndarray (k, k)
        Hessian of the total negative log-likelihood w.r.t. log-parameters.
    params : ndarray (k,)
        Natural-scale parameters ``theta``.
    param_names : sequence of str
        Used in the warning.
    warn : bool
        Issue a :class:`~clvmodels.errors.HessianWarning` when not positive definite.

    Returns
    -------
    covariance : ndarray
        ``J H^-1 J`` with ``J = diag(theta)`` (NaN when not invertible).
    covariance_log : ndarray
        ``H^-1`` (NaN when not invertible).
    ok : bool

    Examples
    --------
    >>> cov, cov_log, ok = covariance_from_hessian(np.diag([4.0, 1.0]), np.array([2.0, 3.0]), "ab")
    >>> cov.tolist(), ok
    ([[1.0, 0.0], [0.0, 9.0]], True)
    """
    k = len(params)
    nan = np.full((k, k), np.nan)
    hessian_log = np.asarray(hessian_log, dtype=float)
    if not np.all(np.isfinite(hessian_log)):
        if warn:
            bad = [param_names[j] for j in range(k) if not np.all(np.isfinite(hessian_log[j]))]
            warnings.warn(
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
                f"{vector[j]:+.2f}*log({param_names[j]})" for j in order if abs(vector[j]) > 0.1
            )
            warnings.warn(
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
    jac = np.asarray(params, dtype=float)
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
) -> FitResult:
    """Maximise a weighted log-likelihood over log-parameters.

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
        Natural-scale start values; the first is the default, the others are
        tried too and the best optimum kept.
    weights : ndarray, optional
        Row weights (default 1).
    penalizer : float, default 0
        Strength of the L2 penalty ``penalizer * sum(log(theta)**2)`` added to
        the mean negative log-likelihood.
    log_bounds : (float, float)
        Bounds for every log-parameter.
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
        Issue convergence and Hessian warnings.

    Returns
    -------
    FitResult

    Notes
    -----
    The optimised objective is ``-sum_i w_i log L_i(theta) / sum_i w_i +
    penalizer * ||log theta||^2``. Standard errors come from the Hessian of
    ``sum_i w_i`` times that objective.
    """
    names = tuple(param_names)
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
        )


def _fit_prepared(
    loglik_and_gradient, columns, w, names, starts, n_unique, penalizer, log_bounds, maxiter, warn
) -> FitResult:
    k = len(names)
    objective = _Objective(loglik_and_gradient, columns, w, penalizer)
    lower, upper = log_bounds
    best = None
    start_lls: list[float] = []
    for start in starts:
        start = np.asarray(start, dtype=float)
        if start.shape != (k,) or np.any(start <= 0) or not np.all(np.isfinite(start)):
            raise InvalidParameterError(
                f"start values must be {k} finite positive numbers ({names}), got {start!r}."
            )
        x0 = np.clip(np.log(start), lower + 1e-3, upper - 1e-3)
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
        ll, grad = objective.loglik(np.log(np.asarray(starts[0], dtype=float)))
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
    theta = np.exp(x)
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
        details = ", ".join(
            f"{names[j]}={theta[j]:.3g} (bound {np.exp(lower if x[j] < 0 else upper):.0e})"
            for j in range(k)
            if names[j] in at_bound
        )
        warnings.warn(
            f"The fit did not converge: parameter(s) {details} ran to a bound of the search "
            "region, so the data do not pin them down (a degenerate data set, e.g. no repeat "
            "purchases or no sign of dropout). Estimates and standard errors of these parameters "
            "are not meaningful; consider more data, a simpler model, or a small penalizer.",
            ConvergenceWarning,
            stacklevel=4,
        )
    elif warn and not converged:
        worst = names[int(np.argmax(np.abs(grad)))]
        warnings.warn(
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
            hessian_log, theta, names, warn=warn
        )

    return FitResult(
        params=theta,
        param_names=names,
        log_likelihood=float(log_likelihood),
        covariance=covariance,
        covariance_log=covariance_log,
        hessian_log=hessian_log,
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
    )


def summary_table(
    param_names: Sequence[str],
    params: np.ndarray,
    covariance: np.ndarray,
    covariance_log: np.ndarray,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Estimates with standard errors and confidence intervals.

    The standard error is the delta-method one on the natural scale
    (``sqrt(diag(J V J))``). The interval is formed on the log scale and
    transformed back, ``exp(log(theta) +/- z * se_log)``, so it stays positive
    and is asymmetric like the likelihood.

    Parameters
    ----------
    param_names : sequence of str
    params, covariance, covariance_log : ndarray
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    DataFrame
        Index ``param_names``; columns ``estimate``, ``std_error``,
        ``ci_lower``, ``ci_upper``.

    Examples
    --------
    >>> t = summary_table(["r"], np.array([2.0]), np.array([[0.04]]), np.array([[0.01]]))
    >>> t.loc["r", "std_error"]
    np.float64(0.2)
    """
    if not 0 < alpha < 1:
        raise InvalidParameterError(f"alpha must be between 0 and 1, got {alpha!r}.")
    params = np.asarray(params, dtype=float)
    z = ndtri(1 - alpha / 2)  # normal quantile; scipy.stats is slow to import
    se = np.sqrt(np.diag(covariance))
    se_log = np.sqrt(np.diag(covariance_log))
    table = pd.DataFrame(
        {
            "estimate": params,
            "std_error": se,
            "ci_lower": params * np.exp(-z * se_log),
            "ci_upper": params * np.exp(z * se_log),
        },
        index=pd.Index(list(param_names), name="parameter"),
    )
    return table
