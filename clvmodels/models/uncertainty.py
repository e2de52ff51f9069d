"""Intervals on predictions: parameter uncertainty of the fitted models.

What an interval covers
-----------------------
A prediction such as ``expected_purchases`` is a conditional expectation,
``E[Y | history; theta]``, a deterministic function of the parameters
``theta``. The intervals here describe how that function varies with the
**estimation uncertainty of theta** only: the interval at level 0.9 is the
range from the 5th to the 95th percentile of ``f(theta*)`` over parameter
draws ``theta*``. They are *not* prediction intervals for what the customer
will actually do: a customer expected to buy 1.2 times in the next year will
buy 0, 1, 2, ... times (Poisson/dropout noise of the individual), and that
spread is not included. For the total of a customer base, which combines
both, see :func:`clvmodels.models.forecast.forecast_customer_base`.

Two ways to draw ``theta*``:

``method="asymptotic"`` (default)
    ``x* ~ Normal(x_hat, V)`` on the optimiser's scale ``x`` (the parameter
    transforms of the fit: ``log theta`` for positive parameters, ``theta``
    itself for real coefficients, ``logit theta`` for probabilities), with
    ``V = model._covariance_log``, the inverse Hessian of the negative
    log-likelihood on that scale (the large-sample distribution of the
    maximum-likelihood estimate); ``theta* = inverse(x*)``, so every draw is in
    its parameter's domain. Needs a fitted model whose Hessian was positive
    definite.
``method="bootstrap"``
    Nonparametric bootstrap over customers: the calibration summary
    (``fit_summary=``, required: the model does not keep its training data)
    is compressed once to unique rows with counts ``n_j``; each resample draws
    new counts ``n* ~ Multinomial(N, n / N)`` (``N`` customers) and refits by
    maximum likelihood on the same unique rows from ``theta_hat``, so a
    resample costs one reweighted fit, not a new summary. Weights are treated
    as customer counts (``N`` is their rounded sum).

Both give percentile intervals of ``f(theta*)``; the estimate column is the
prediction at ``theta_hat``, exactly the value returned without
``interval``. The predictions are evaluated once per unique row of the
model's prediction columns (and per-customer arguments such as ``t``) and
mapped back to the customers, in chunks of rows so that memory stays bounded
(:data:`CHUNK_CELLS` draws x rows at once).

The model side is one hook, :meth:`BaseModel._predict_with_params
<clvmodels.models._base.BaseModel._predict_with_params>` ``(quantity,
params (n_draws, k), data, **kwargs) -> (n_draws, n_rows)``, with a generic
default (one call of the public method per draw); BG/NBD, MBG/NBD,
Pareto/NBD and Gamma-Gamma override it with the evaluations vectorised over
draws in this module (:func:`bgnbd_draws`, :func:`paretonbd_draws`,
:func:`gamma_gamma_draws`).

References
----------
Efron, B. & Tibshirani, R. (1993), *An Introduction to the Bootstrap*, ch. 13
(percentile intervals). Cameron, A. C. & Trivedi, P. K. (2005),
*Microeconometrics*, sec. 7.2 (simulating the asymptotic distribution of a
function of the estimates, "Krinsky-Robb").
"""

from __future__ import annotations

import numbers
import os
import warnings

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import CLVError, InvalidParameterError, StatisticalWarning
from clvmodels.models._fit import transform_set

__all__ = [
    "CHUNK_CELLS",
    "INTERVAL_METHODS",
    "bootstrap_parameters",
    "draw_columns",
    "draw_parameters",
    "draw_rows",
    "factorize",
    "interval_column_names",
    "map_draw_chunks",
    "parameter_draws",
    "percentiles",
    "prediction_interval",
]

#: Draws x unique rows evaluated at once per thread (each float64 array of this size is 16 MB).
CHUNK_CELLS = 2_000_000

#: Worker threads evaluating chunks (numpy releases the GIL in the heavy loops); at most 2.
N_THREADS = max(1, min(2, os.cpu_count() or 1))

INTERVAL_METHODS = ("asymptotic", "bootstrap")

#: What the interval columns describe (stored in ``DataFrame.attrs["covers"]``).
COVERS = (
    "parameter uncertainty of the model's conditional expectation only (percentiles of the "
    "prediction over parameter draws); not the customer's own purchase/dropout randomness"
)


def interval_column_names(name: str) -> tuple[str, str, str]:
    """Columns of an interval result: ``(name, name + "_lower", name + "_upper")``."""
    return name, f"{name}_lower", f"{name}_upper"


# --------------------------------------------------------------------------- checks
def check_interval(interval) -> float:
    """The interval level as a float in (0, 1), or a clear error."""
    if isinstance(interval, bool) or not isinstance(interval, numbers.Real):
        raise InvalidParameterError(
            f"interval must be a probability between 0 and 1 (e.g. 0.9 for a 90% interval); "
            f"got {interval!r}."
        )
    level = float(interval)
    if not (0.0 < level < 1.0):
        hint = " (write 0.9, not 90)" if level > 1 else ""
        raise InvalidParameterError(
            f"interval must be strictly between 0 and 1, got {interval!r}{hint}."
        )
    return level


def _check_count(value, name: str, minimum: int = 2) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_method(method) -> str:
    if method not in INTERVAL_METHODS:
        raise InvalidParameterError(
            f"method must be one of {INTERVAL_METHODS} for intervals, got {method!r}."
        )
    return method


# --------------------------------------------------------------------------- draws
def _usable_covariance(model) -> np.ndarray:
    """The Cholesky factor of ``model._covariance_log``, or an error saying what to do."""
    from clvmodels.models._checks import check_is_fitted

    check_is_fitted(model, "draw_parameters")
    name = type(model).__name__
    cov = getattr(model, "_covariance_log", None)
    k = len(model.params_)
    if cov is None or np.shape(cov) != (k, k) or not np.all(np.isfinite(cov)):
        result = model.fit_result_
        if not result.fitted:
            why = (f"this {name} was built with from_params (or loaded without a covariance), so "
                   "there is no estimate of how uncertain its parameters are")
        else:
            why = (f"the fit of this {name} has no usable covariance (the Hessian at the optimum "
                   f"was not positive definite or a parameter ran to a bound: "
                   f"fit_result_.hessian_ok = {result.hessian_ok}, at_bound = "
                   f"{result.at_bound})")
        raise InvalidParameterError(
            f"Asymptotic intervals need the covariance of the parameters on the optimiser's "
            f"scale, but {why}. Use "
            "method='bootstrap' with fit_summary=<the calibration summary> (refits on "
            "resampled customers), or refit the model on data that identify its parameters "
            "(more customers, or a small penalizer)."
        )
    cov = np.asarray(cov, dtype=float)
    # a parameter held fixed by the fit (a whole-number k chosen on a grid) has an exactly
    # zero row and column: it is drawn at its estimate, the others from their block
    free = ~(np.all(cov == 0.0, axis=0) & np.all(cov == 0.0, axis=1))
    try:
        chol = np.zeros_like(cov)
        chol[np.ix_(free, free)] = np.linalg.cholesky(cov[np.ix_(free, free)])
        return chol
    except np.linalg.LinAlgError:
        raise InvalidParameterError(
            f"The covariance of the log-parameters of this {name} is not positive definite, "
            "so no normal draws can be made from it. Use method='bootstrap' with "
            "fit_summary=<the calibration summary>, or refit the model."
        ) from None


def draw_parameters(model, n_draws: int = 1000, random_state=None) -> np.ndarray:
    """Draws of the parameters from their asymptotic normal distribution on the fit's scale.

    ``x* = x_hat + L z``, ``z ~ Normal(0, I)``, ``L L' = model._covariance_log``
    (inverse Hessian of the negative log-likelihood with respect to the
    transformed parameters ``x``), and ``theta* = inverse(x*)`` through each
    parameter's transform (``exp`` for positive parameters, the identity for
    real coefficients, which may be negative, ``expit`` for probabilities).

    Parameters
    ----------
    model : fitted model
        All of ``params_`` is drawn (e.g. covariate coefficients too).
    n_draws : int, default 1000
    random_state : None, int or numpy Generator

    Returns
    -------
    ndarray of shape (n_draws, n_params)
        Natural-scale parameter vectors in ``params_`` order.

    Raises
    ------
    InvalidParameterError
        When the model has no usable covariance (``from_params``, Hessian not
        positive definite), or when draws leave the region the model is
        fitted in: use the bootstrap or refit.
    """
    n_draws = _check_count(n_draws, "n_draws")
    chol = _usable_covariance(model)
    rng = check_random_state(random_state)
    estimate = model.params_.to_numpy(dtype=float)
    transforms = transform_set(model._transforms(), estimate.size)
    x_hat = transforms.forward(estimate)
    z = rng.standard_normal((n_draws, x_hat.size))
    x_draws = x_hat + z @ chol.T
    lower, upper = getattr(model, "_log_bounds", (-np.inf, np.inf))
    outside = (x_draws < lower) | (x_draws > upper)
    if outside.any():
        j = int(np.argmax(outside.sum(axis=0)))
        name = model.params_.index[j]
        t = transforms.transforms[j]
        se = float(np.sqrt(np.diag(np.asarray(model._covariance_log))[j]))
        low, high = (float(t.inverse(np.float64(v))) for v in (lower, upper))
        raise InvalidParameterError(
            f"{int(outside.any(axis=1).sum())} of {n_draws} normal draws put a parameter outside "
            f"the range the model is fitted in ({low:.3g} to {high:.3g}); "
            f"the worst is {name} = {model.params_.iloc[j]:.4g} with a standard error of "
            f"{se:.3g} on the {t.name} scale: the data barely identify it, so the asymptotic "
            "normal approximation is not usable. Use method='bootstrap' with fit_summary=<the "
            "calibration summary>, or more data."
        )
    return transforms.inverse(x_draws)


def bootstrap_parameters(model, fit_summary, n_boot: int = 200, random_state=None,
                         progress: bool = False) -> np.ndarray:
    """Nonparametric bootstrap of the parameters over customers, by reweighting unique rows.

    The calibration summary is compressed once to unique rows with counts
    ``n_j`` (:meth:`BaseModel._bootstrap_data`); each resample draws counts
    ``n* ~ Multinomial(N, n / N)`` (resampling ``N`` customers with
    replacement) and refits on the same unique rows from the model's
    estimate (:meth:`BaseModel._refit_weighted`).

    Parameters
    ----------
    model : fitted model
    fit_summary : DataFrame
        The summary the model was fitted on (the model does not keep it).
    n_boot : int, default 200
    random_state : None, int or numpy Generator
    progress : bool, default False
        Show a progress bar (``tqdm.auto``).

    Returns
    -------
    ndarray of shape (n_successful, n_params)
        Resamples whose refit failed or did not converge are left out (a
        :class:`~clvmodels.errors.StatisticalWarning` gives their number when
        they exceed 5%).
    """
    from clvmodels.models._checks import check_is_fitted

    check_is_fitted(model, "bootstrap_parameters")
    n_boot = _check_count(n_boot, "n_boot")
    if fit_summary is None:
        raise InvalidParameterError(
            "method='bootstrap' refits the model on resampled customers and needs the data it "
            "was fitted on: pass fit_summary=<the calibration summary> (the model does not "
            "keep its training data)."
        )
    rng = check_random_state(random_state)
    columns, counts = model._bootstrap_data(fit_summary)
    counts = np.asarray(counts, dtype=float)
    total = int(round(float(counts.sum())))
    if total < 2:
        raise InvalidParameterError(
            f"the bootstrap needs at least 2 customers in fit_summary, got {counts.sum():g}."
        )
    probabilities = counts / counts.sum()
    start = model.params_.to_numpy(dtype=float)
    draws = []
    iterator = range(n_boot)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="bootstrap refits", total=n_boot)
    for _ in iterator:
        weights = rng.multinomial(total, probabilities).astype(float)
        theta = model._refit_weighted(columns, weights, start)
        if theta is not None and np.all(np.isfinite(theta)):
            draws.append(theta)
    n_failed = n_boot - len(draws)
    if len(draws) < 2:
        raise CLVError(
            f"only {len(draws)} of {n_boot} bootstrap refits converged; the data do not pin the "
            "parameters down well enough for a bootstrap. Check the fit (model.summary()) or "
            "use more customers."
        )
    if n_failed > 0.05 * n_boot:
        warnings.warn(
            f"{n_failed} of {n_boot} bootstrap refits failed or did not converge and were left "
            "out; the interval may be too narrow (the failures are usually the resamples "
            "furthest from the estimate).",
            StatisticalWarning,
            stacklevel=3,
        )
    return np.vstack(draws)


def parameter_draws(model, method: str = "asymptotic", *, n_draws: int = 1000,
                    n_boot: int = 200, random_state=None, progress: bool = False,
                    fit_summary=None) -> np.ndarray:
    """Parameter draws by ``method`` ("asymptotic" or "bootstrap"); shape (n, n_params)."""
    method = _check_method(method)
    if method == "asymptotic":
        return draw_parameters(model, n_draws, random_state)
    return bootstrap_parameters(model, fit_summary, n_boot, random_state, progress)


# --------------------------------------------------------------------------- evaluation
def _first_rows(inverse: np.ndarray, n_unique: int) -> np.ndarray:
    """Index of the first row of each unique row."""
    first = np.empty(n_unique, dtype=np.intp)
    first[inverse[::-1]] = np.arange(inverse.size - 1, -1, -1, dtype=np.intp)
    return first


def _split_kwargs(kwargs: dict, n: int):
    """Scalar arguments, and per-customer arrays (compressed with the data)."""
    scalars, per_row = {}, {}
    for key, value in kwargs.items():
        arr = np.asarray(value, dtype=float) if not isinstance(value, str) else None
        if arr is None or arr.ndim == 0:
            scalars[key] = value if arr is None else float(arr)
        elif arr.size == n:
            per_row[key] = arr.reshape(-1)
        elif arr.size == 1:
            scalars[key] = float(arr.reshape(-1)[0])
        else:
            raise InvalidParameterError(
                f"{key} has {arr.size} values but there are {n} customers; give one value or "
                "one per customer."
            )
    return scalars, per_row


def percentiles(values: np.ndarray, probs) -> np.ndarray:
    """Percentiles along axis 0, as ``np.quantile(values, probs, axis=0)`` (linear method).

    By partial sorting (``np.partition``) at the needed order statistics only.
    ``+inf`` values are allowed (NaN are not).

    Examples
    --------
    >>> v = np.arange(11.0)[:, None]
    >>> percentiles(v, [0.05, 0.5]).ravel().tolist()
    [0.5, 5.0]
    """
    n = values.shape[0]
    pos = np.asarray(probs, dtype=float) * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).reshape((-1,) + (1,) * (values.ndim - 1))
    part = np.partition(values, np.unique(np.concatenate([lo, hi])), axis=0)
    low, high = part[lo], part[hi]
    with np.errstate(invalid="ignore"):
        out = low + (high - low) * frac
    return np.where(low == high, low, out)


def _chunks(n: int, n_draws: int, chunk_cells: int):
    rows_per_chunk = max(1, int(chunk_cells) // max(1, n_draws))
    return [slice(a, min(n, a + rows_per_chunk)) for a in range(0, n, rows_per_chunk)]


def map_draw_chunks(model, quantity: str, data: dict, draws: np.ndarray, reduce, *,
                    chunk_cells: int | None = None, n_threads: int | None = None, **kwargs):
    """Evaluate ``quantity`` at ``draws`` on chunks of unique rows and reduce each chunk.

    ``reduce(rows, values)`` gets the slice of rows and the ``(n_draws, len(rows))``
    values of :meth:`BaseModel._predict_with_params`; it is called from up to
    ``n_threads`` worker threads (numpy releases the GIL in the heavy parts), so it
    must only write to its own rows. Per-row arrays in ``kwargs`` are sliced with
    the data.
    """
    n = next(iter(data.values())).shape[0]
    scalars, per_row = _split_kwargs(kwargs, n)
    cells = CHUNK_CELLS if chunk_cells is None else chunk_cells
    threads = N_THREADS if n_threads is None else max(1, int(n_threads))

    def work(rows):
        chunk = {k: v[rows] for k, v in data.items()}
        extra = {k: v[rows] for k, v in per_row.items()}
        values = np.asarray(
            model._predict_with_params(quantity, draws, chunk, **scalars, **extra), dtype=float
        )
        if values.shape != (draws.shape[0], rows.stop - rows.start):
            raise CLVError(
                f"{type(model).__name__}._predict_with_params({quantity!r}) returned shape "
                f"{values.shape}, expected (n_draws, n_rows) = "
                f"{(draws.shape[0], rows.stop - rows.start)}."
            )
        return reduce(rows, values)

    chunks = _chunks(n, draws.shape[0], cells)
    if threads == 1 or len(chunks) == 1:
        return [work(rows) for rows in chunks]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, chunks))


def _check_values(values: np.ndarray, quantity: str, draws: np.ndarray, names) -> int:
    """Raise on NaN; return the number of rows with an infinite value."""
    if np.isfinite(values).all():
        return 0
    if np.isnan(values).any():
        i, j = np.argwhere(np.isnan(values))[0]
        params = dict(zip(names, np.round(draws[i], 6).tolist(), strict=False))
        raise CLVError(
            f"{quantity} is NaN at parameter draw {params} (row {j} of the unique rows); the "
            "prediction is not defined there. Check the fit (model.summary()); a draw far in "
            "the tails of a poorly identified parameter can leave the model's domain."
        )
    return int(np.isinf(values).any(axis=0).sum())


def prediction_interval(model, quantity: str, estimate: pd.Series, summary, columns: dict, *,
                        interval: float = 0.9, method: str = "asymptotic",
                        n_draws: int = 1000, n_boot: int = 200, random_state=None,
                        progress: bool = False, fit_summary=None, **kwargs) -> pd.DataFrame:
    """Percentile interval of a prediction over parameter draws, next to its estimate.

    Called by the prediction methods of the models when given ``interval=``;
    see the module docstring for what the interval covers.

    Parameters
    ----------
    model : fitted model
    quantity : str
        Name of the prediction method (``"expected_purchases"``, ...).
    estimate : Series
        The method's own output (at the estimate), indexed like the summary.
    summary : DataFrame or None
        As given to the method.
    columns : dict
        Data columns given to the method by keyword.
    interval : float in (0, 1)
        Level, e.g. 0.9 for the 5th-95th percentiles.
    method : {"asymptotic", "bootstrap"}
    n_draws : int, default 1000
        Normal draws (``method="asymptotic"``).
    n_boot : int, default 200
        Resamples (``method="bootstrap"``).
    random_state : None, int or numpy Generator
    progress : bool
        Progress bar of the bootstrap refits.
    fit_summary : DataFrame, optional
        Calibration summary, required by the bootstrap.
    **kwargs
        The method's other arguments (``t``, ...), scalars or one per customer.

    Returns
    -------
    DataFrame
        Indexed like ``estimate``; columns ``<name>`` (the estimate, equal to
        the method's result without ``interval``), ``<name>_lower`` and
        ``<name>_upper`` (the ``(1 - interval) / 2`` and ``(1 + interval) /
        2`` percentiles over the draws). ``attrs`` records the level, method,
        number of draws, number of unique rows and what the interval covers.
    """
    from clvmodels.models._fit import compress

    level = check_interval(interval)
    method = _check_method(method)
    draws = parameter_draws(model, method, n_draws=n_draws, n_boot=n_boot,
                            random_state=random_state, progress=progress,
                            fit_summary=fit_summary)
    data, _ = model._interval_data(summary, quantity, **columns)
    n = next(iter(data.values())).shape[0]
    scalars, per_row = _split_kwargs(kwargs, n)
    names = list(data) + list(per_row)
    packed = compress([data[c] for c in data] + [per_row[k] for k in per_row])
    unique = dict(zip(names, packed.columns, strict=True))
    udata = {c: unique[c] for c in data}
    ukw = {k: unique[k] for k in per_row}
    point = np.asarray(estimate, dtype=float)[_first_rows(packed.inverse, packed.n_unique)]

    # the estimate itself goes first: the hook is checked against the method's own output
    all_draws = np.vstack([model.params_.to_numpy(dtype=float)[None, :], draws])
    probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    lower = np.empty(packed.n_unique)
    upper = np.empty(packed.n_unique)

    def reduce(rows, values):
        n_inf = _check_values(values, quantity, all_draws, model.params_.index)
        at_hat, ref = values[0], point[rows]
        scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
        close = np.isclose(at_hat, ref, rtol=1e-8, atol=1e-12 * scale)
        if not np.all(close):
            j = int(np.flatnonzero(~close)[0])
            raise CLVError(
                f"internal check failed: {type(model).__name__}._predict_with_params("
                f"{quantity!r}) gives {at_hat[j]!r} at the estimate but {quantity}() gives "
                f"{ref[j]!r} for the same customer; the model's hook and its method disagree."
            )
        lower[rows], upper[rows] = percentiles(values[1:], probs)
        return n_inf

    n_inf = sum(map_draw_chunks(model, quantity, udata, all_draws, reduce, **scalars, **ukw))
    if n_inf:
        warnings.warn(
            f"{quantity}: some parameter draws give an infinite value for {n_inf} unique rows "
            "(the quantity does not exist at those parameters, e.g. a Gamma-Gamma q <= 1); "
            "their upper bounds may be infinite.",
            StatisticalWarning,
            stacklevel=3,
        )
    name = estimate.name or quantity
    col, col_lo, col_hi = interval_column_names(name)
    out = pd.DataFrame(
        {col: estimate.to_numpy(dtype=float), col_lo: lower[packed.inverse],
         col_hi: upper[packed.inverse]},
        index=estimate.index,
    )
    out.attrs = {
        "interval": level,
        "method": method,
        "n_draws": int(draws.shape[0]),
        "n_unique_rows": int(packed.n_unique),
        "covers": COVERS,
    }
    return out


# ------------------------------------------------ helpers for the models' draw kernels
def draw_columns(params: np.ndarray, k: int) -> list[np.ndarray]:
    """The first ``k`` columns of a (n_draws, n_params) array, each of shape (n_draws, 1)."""
    params = np.asarray(params, dtype=float)
    if params.ndim != 2 or params.shape[1] < k:
        raise InvalidParameterError(
            f"params must have shape (n_draws, {k}), got {params.shape}."
        )
    return [params[:, j : j + 1] for j in range(k)]


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and the index of each value in them."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, inverse.reshape(-1)


def draw_rows(params, k: int) -> list[np.ndarray]:
    """Parameter columns as rows of shape (1, n_draws) (the kernels work in (rows, draws))."""
    return [c.reshape(1, -1) for c in draw_columns(params, k)]


