"""Forecast of the customer base: transactions (and revenue) of today's customers, per period.

For the customers of a calibration summary, the number of repeat
transactions they will make together in each of the next periods, with an
interval that combines

* **parameter uncertainty**: each simulation uses its own parameter vector,
  drawn as for the prediction intervals (:mod:`clvmodels.models.uncertainty`:
  the asymptotic normal of the log-parameters, or bootstrap refits); and
* **process uncertainty**: each customer's future is simulated from the
  model given their history.

The simulation of one customer with history ``(x, t_x, T)`` at parameters
``theta``: alive at ``T`` with probability ``P(alive | x, t_x, T)`` (the model's
``_predict_with_params("probability_alive", ...)`` hook); if alive, the purchase
model's ``_simulate_alive_purchases(theta, x, T, horizon, rng, recency=...)`` hook draws the
customer's latent parameters from their posterior given alive and the history, and
the purchase times in ``(0, horizon]`` (see e.g.
:func:`clvmodels.models.bgnbd.simulate_alive_purchases` and
:func:`clvmodels.models.paretonbd.simulate_alive_purchases`); with ``spend_model``,
its ``_simulate_values(theta, x, mbar, owner, rng)`` hook draws a value for each
purchase (:func:`clvmodels.models.gamma_gamma.simulate_values`).

Customers with identical histories are simulated together: the number alive
is ``Binomial(count, P(alive))`` and only the alive ones are drawn further.

The deterministic columns are the closed forms at the estimates: the sum over
customers of the model's ``expected_purchases`` increments (and of
``expected_spend`` times them). Without parameter uncertainty the mean of the
simulated totals estimates exactly that sum (tests check it within Monte
Carlo error); with it, the simulated mean also averages over the parameter
draws and may differ slightly (Jensen's inequality).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError, InvalidSummaryError, UnitMismatchError
from clvmodels.models.registry import get_spec, model_keys, spec_for

__all__ = ["forecast_customer_base", "simulate_customer_base"]

#: Customers (with repetition over the simulations of a batch) simulated at once.
_BATCH_CUSTOMERS = 4_000_000


def _check_simulable(model) -> None:
    """A purchase model the forecast can simulate: the registry says so and it has the hook.

    The capability comes from :mod:`clvmodels.models.registry` (a covariate model inherits
    its base model's hook but is not simulated: the hook ignores the covariates).
    """
    try:
        capable = spec_for(model).forecast
    except InvalidParameterError:  # not a registered model
        capable = False
    if not capable or getattr(type(model), "_simulate_alive_purchases", None) is None:
        shown = [get_spec(k).display_name for k in model_keys(forecast=True)]
        names = ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
        raise InvalidParameterError(
            f"forecast_customer_base simulates {names} purchase models; got "
            f"{type(model).__name__}, which cannot simulate its customers' purchases. Fit one "
            "of those (clvmodels.models.bgnbd.BGNBD, ...)."
        )


def _period_ends(horizon, period) -> np.ndarray:
    from clvmodels.models.clv import step_times

    return step_times(horizon, period)


def _check_units(model, summary: pd.DataFrame) -> None:
    unit = summary.attrs.get("time_unit")
    model_unit = getattr(model, "time_unit_", None)
    if unit is not None and model_unit is not None and str(unit) != str(model_unit):
        raise UnitMismatchError(
            f"forecast_customer_base: the purchase model was fitted in time unit "
            f"{model_unit!r} but the summary is in {unit!r}; build the summary with "
            f"rfm_summary(..., time_unit={model_unit!r})."
        )


def _data(model, spend_model, summary):
    """Checked unique rows (x, t_x, T[, mbar]) and their customer counts."""
    from clvmodels.models._fit import compress

    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"summary must be a DataFrame (clvmodels.rfm_summary); got {type(summary).__name__}."
        )
    data, _ = model._prediction_data(summary, "forecast_customer_base")
    columns = [data["frequency"], data["recency"], data["T"]]
    if spend_model is not None:
        spend, _ = spend_model._prediction_data(summary, "forecast_customer_base")
        m = np.where(data["frequency"] > 0, spend["monetary_value"], 0.0)
        bad = (data["frequency"] > 0) & (m <= 0)
        if np.any(bad):
            first = int(np.flatnonzero(bad)[0])
            raise InvalidSummaryError(
                f"forecast_customer_base: {int(bad.sum())} customer(s) have repeat transactions "
                f"but monetary_value <= 0 (first: {summary.index[first]!r}); the Gamma-Gamma "
                "model needs a positive mean value. Fix refunds or build the summary with "
                "clvmodels.rfm_summary(..., amount=...)."
            )
        columns.append(m)
    packed = compress(columns)
    return packed.columns, packed.weights.astype(np.int64)


def _draws(model, n_sims, parameter_uncertainty, method, n_boot, rng, progress, fit_summary):
    """One parameter vector per simulation (rows cycle through bootstrap refits)."""
    from clvmodels.models.uncertainty import parameter_draws

    theta = model.params_.to_numpy(dtype=float)
    if not parameter_uncertainty:
        return np.tile(theta, (n_sims, 1))
    try:
        draws = parameter_draws(model, method, n_draws=max(2, n_sims), n_boot=n_boot,
                                random_state=rng, progress=progress, fit_summary=fit_summary)
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            f"{exc} Or forecast with parameter_uncertainty=False (only the customers' own "
            "randomness; the interval is then too narrow by the estimation error)."
        ) from None
    return draws[np.arange(n_sims) % draws.shape[0]]


def _simulate_batch(purchase_model, spend_model, theta, spend_theta, columns, counts, ends,
                    rng):
    """Per-simulation totals for a batch: transactions (B, K) and revenue (B, K) or None.

    Model-agnostic: which customers are alive at ``T`` (a binomial draw per distinct row
    from the model's P(alive) at each parameter vector), then the purchase model's
    ``_simulate_alive_purchases`` hook gives each alive customer's purchase times in
    ``(0, L]`` (``L`` the horizon) from its posterior given alive, and the spend model's
    ``_simulate_values`` hook a value for each purchase. Only customers with purchases
    get spend drawn, so the cost grows with the purchases, not with customers x periods.
    """
    x, tx, T = columns[:3]
    B, K = theta.shape[0], ends.size
    horizon = float(ends[-1])
    # P(alive) once per distinct parameter vector (all equal without parameter uncertainty)
    distinct, which = np.unique(theta, axis=0, return_inverse=True)
    alive_p = purchase_model._predict_with_params(
        "probability_alive", distinct, {"frequency": x, "recency": tx, "T": T})
    alive_p = alive_p[which.reshape(-1)]
    n_alive = rng.binomial(counts[None, :], np.clip(alive_p, 0.0, 1.0))  # (B, U)
    sim = np.repeat(np.arange(B), n_alive.sum(axis=1))
    row = np.repeat(np.tile(np.arange(x.size), B), n_alive.ravel())
    owner, times, keep = purchase_model._simulate_alive_purchases(
        theta[sim], x[row], T[row], horizon, rng, recency=tx[row])
    period = np.minimum(np.searchsorted(ends, times, side="left"), K - 1)
    key = sim[owner] * K + period
    transactions = np.bincount(key[keep], minlength=B * K).reshape(B, K).astype(float)
    if spend_theta is None:
        return transactions, None
    value = spend_model._simulate_values(spend_theta[sim], x[row], columns[3][row], owner, rng)
    revenue = np.bincount(key[keep], weights=value[keep], minlength=B * K).reshape(B, K)
    return transactions, revenue


def simulate_customer_base(purchase_model, summary: pd.DataFrame, period_ends, *,
                           spend_model=None, n_sims: int = 1000,
                           parameter_uncertainty: bool = True, method: str = "asymptotic",
                           n_boot: int = 200, random_state=None, progress: bool = False,
                           fit_summary=None) -> dict:
    """Simulated totals of the customer base's future transactions (and revenue) per period.

    See the module docstring for the simulation.

    Parameters
    ----------
    purchase_model : fitted BGNBD, MBGNBD or ParetoNBD
    summary : DataFrame
        The customers (frequency, recency, T; ``monetary_value`` with a spend
        model), in the model's time unit.
    period_ends : array_like
        Increasing ends of the periods, in time units after the end of
        calibration (the first period starts at 0).
    spend_model : fitted GammaGamma, optional
        Adds simulated revenue.
    n_sims : int, default 1000
    parameter_uncertainty : bool, default True
        Draw the parameters of each simulation (else all use the estimates).
    method : {"asymptotic", "bootstrap"}
        How parameters are drawn (see :mod:`clvmodels.models.uncertainty`).
    n_boot : int, default 200
        Bootstrap refits (cycled over the simulations).
    random_state : None, int or numpy Generator
    progress : bool
        Progress bars (bootstrap refits, simulation batches).
    fit_summary : DataFrame, optional
        Calibration summary, for the bootstrap.

    Returns
    -------
    dict
        ``"transactions"``: array (n_sims, n_periods) of totals per period;
        ``"revenue"``: the same for revenue (None without a spend model);
        ``"params"``: the purchase parameters of each simulation.
    """
    _check_simulable(purchase_model)
    if isinstance(n_sims, bool) or not isinstance(n_sims, numbers.Integral) or n_sims < 1:
        raise InvalidParameterError(f"n_sims must be a positive integer, got {n_sims!r}.")
    ends = np.asarray(period_ends, dtype=float).reshape(-1)
    if ends.size == 0 or not np.all(np.isfinite(ends)) or ends[0] <= 0 or np.any(
            np.diff(ends) <= 0):
        raise InvalidParameterError(
            f"period_ends must be increasing positive times after the end of calibration, got "
            f"{period_ends!r}."
        )
    _check_units(purchase_model, summary)
    if spend_model is not None and getattr(type(spend_model), "_simulate_values", None) is None:
        raise InvalidParameterError(
            f"spend_model must be a fitted spend model that simulates transaction values "
            f"(a GammaGamma model), got {type(spend_model).__name__}."
        )
    rng = check_random_state(random_state)
    columns, counts = _data(purchase_model, spend_model, summary)
    theta = _draws(purchase_model, n_sims, parameter_uncertainty, method, n_boot, rng, progress,
                   fit_summary)
    spend_theta = None
    if spend_model is not None:
        spend_theta = _draws(spend_model, n_sims, parameter_uncertainty, method, n_boot, rng,
                             progress, fit_summary)
    n_customers = int(counts.sum())
    per_batch = max(1, _BATCH_CUSTOMERS // max(1, n_customers))
    batches = range(0, n_sims, per_batch)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="simulating the customer base")
    transactions = np.empty((n_sims, ends.size))
    revenue = None if spend_model is None else np.empty((n_sims, ends.size))
    for start in batches:
        rows = slice(start, min(n_sims, start + per_batch))
        tr, rev = _simulate_batch(purchase_model, spend_model, theta[rows],
                                  None if spend_theta is None else spend_theta[rows],
                                  columns, counts, ends, rng)
        transactions[rows] = tr
        if revenue is not None:
            revenue[rows] = rev
    return {"transactions": transactions, "revenue": revenue, "params": theta}


def _expected_paths(purchase_model, spend_model, summary, ends):
    """Closed-form expected transactions (and revenue) per period at the estimates."""
    from clvmodels.models._fit import compress
    from clvmodels.models.clv import _cumulative_curve

    cols = ["frequency", "recency", "T"]
    packed = compress([summary[c].to_numpy(dtype=float) for c in cols])
    codes, counts = packed.inverse, packed.weights
    unique_frame = pd.DataFrame(dict(zip(cols, packed.columns, strict=True)))
    unique_frame.attrs = dict(summary.attrs)
    curve = _cumulative_curve(purchase_model, unique_frame, ends)  # (U, K)
    steps = np.diff(curve, axis=1, prepend=0.0)
    transactions = counts @ steps
    if spend_model is None:
        return transactions, None
    spend = np.asarray(spend_model.expected_spend(summary), dtype=float)
    per_customer_steps = steps[codes]
    revenue = spend @ per_customer_steps
    return transactions, revenue


def forecast_customer_base(purchase_model, summary: pd.DataFrame, horizon: float,
                           period: float = 1.0, *, spend_model=None, interval: float = 0.9,
                           n_sims: int = 1000, parameter_uncertainty: bool = True,
                           method: str = "asymptotic", n_boot: int = 200, random_state=None,
                           progress: bool = False, fit_summary=None) -> pd.DataFrame:
    """Expected transactions (and revenue) of the existing customers per future period.

    Parameters
    ----------
    purchase_model : fitted BGNBD, MBGNBD or ParetoNBD
    summary : DataFrame
        The customers at the end of calibration (``clvmodels.rfm_summary``), in
        the model's time unit; ``monetary_value`` too with a spend model.
    horizon : float
        How far ahead, in time units (e.g. 13 weeks for 3 months).
    period : float, default 1
        Length of a period in time units (e.g. 4.345 weeks for months); the
        last period is cut at ``horizon``.
    spend_model : fitted GammaGamma, optional
        Adds revenue columns.
    interval : float in (0, 1), default 0.9
        Level of the simulation intervals.
    n_sims : int, default 1000
        Simulations of the whole customer base.
    parameter_uncertainty : bool, default True
        Draw the parameters of each simulation from their sampling
        distribution (else only the customers' own randomness is simulated).
    method : {"asymptotic", "bootstrap"}, default "asymptotic"
        How the parameters are drawn; see :mod:`clvmodels.models.uncertainty`.
    n_boot : int, default 200
        Bootstrap refits (``method="bootstrap"``), cycled over the simulations.
    random_state : None, int or numpy Generator
    progress : bool, default False
    fit_summary : DataFrame, optional
        Calibration summary the models were fitted on (bootstrap only).

    Returns
    -------
    DataFrame
        Indexed by ``period`` (1, 2, ...), with ``start`` and ``end`` (time
        units after the end of calibration; ``start_date``/``end_date`` too when
        the summary's ``attrs`` carry ``calibration_end`` and
        ``time_unit_days``) and, per period and cumulated from the end of
        calibration:

        * ``expected_transactions``: closed form at the estimates, ``sum_i
          E_i[X(end)] - E_i[X(start)]`` over the customers;
        * ``simulated_transactions``: the mean of the simulated totals;
        * ``transactions_lower``, ``transactions_upper``: percentiles of the
          simulated totals (parameter and process uncertainty);
        * ``cumulative_expected_transactions``, ``cumulative_simulated_transactions``,
          ``cumulative_transactions_lower``, ``cumulative_transactions_upper``;
        * with a spend model, the same with ``revenue`` in place of
          ``transactions``.

        ``attrs`` records the interval, ``n_sims``, ``parameter_uncertainty``,
        ``method``, the model and ``n_customers``.

    Examples
    --------
    >>> from clvmodels.models.bgnbd import BGNBD
    >>> from clvmodels.data.simulate import simulate_bgnbd_summary
    >>> summary = simulate_bgnbd_summary(500, r=0.25, alpha=4.0, a=0.8, b=2.5, T=39,
    ...                                  random_state=1)
    >>> model = BGNBD().fit(summary)
    >>> table = forecast_customer_base(model, summary, horizon=13, period=13, n_sims=200,
    ...                                random_state=0)
    >>> table.columns[:4].tolist()
    ['start', 'end', 'expected_transactions', 'simulated_transactions']
    """
    from clvmodels.models.uncertainty import check_interval, percentiles

    level = check_interval(interval)
    _check_simulable(purchase_model)
    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"summary must be a DataFrame (clvmodels.rfm_summary); got {type(summary).__name__}."
        )
    ends = _period_ends(horizon, period)
    sims = simulate_customer_base(
        purchase_model, summary, ends, spend_model=spend_model, n_sims=n_sims,
        parameter_uncertainty=parameter_uncertainty, method=method, n_boot=n_boot,
        random_state=random_state, progress=progress, fit_summary=fit_summary)
    expected_tr, expected_rev = _expected_paths(purchase_model, spend_model, summary, ends)
    probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    starts = np.r_[0.0, ends[:-1]]
    out = {"start": starts, "end": ends}
    attrs = dict(summary.attrs)
    if attrs.get("calibration_end") is not None and attrs.get("time_unit_days"):
        origin = pd.Timestamp(attrs["calibration_end"])
        days = pd.to_timedelta(np.asarray(ends) * float(attrs["time_unit_days"]), unit="D")
        out["start_date"] = origin + pd.to_timedelta(starts * float(attrs["time_unit_days"]),
                                                     unit="D")
        out["end_date"] = origin + days
    for name, expected, simulated in (("transactions", expected_tr, sims["transactions"]),
                                      ("revenue", expected_rev, sims["revenue"])):
        if simulated is None:
            continue
        lower, upper = percentiles(simulated, probs)
        cumulated = np.cumsum(simulated, axis=1)
        cum_lower, cum_upper = percentiles(cumulated, probs)
        out.update({
            f"expected_{name}": expected,
            f"simulated_{name}": simulated.mean(axis=0),
            f"{name}_lower": lower,
            f"{name}_upper": upper,
            f"cumulative_expected_{name}": np.cumsum(expected),
            f"cumulative_simulated_{name}": cumulated.mean(axis=0),
            f"cumulative_{name}_lower": cum_lower,
            f"cumulative_{name}_upper": cum_upper,
        })
    table = pd.DataFrame(out, index=pd.RangeIndex(1, ends.size + 1, name="period"))
    table.attrs = {
        "interval": level,
        "n_sims": int(n_sims),
        "parameter_uncertainty": bool(parameter_uncertainty),
        "method": method if parameter_uncertainty else None,
        "model": type(purchase_model).__name__,
        "spend_model": None if spend_model is None else type(spend_model).__name__,
        "n_customers": int(len(summary)),
        "time_unit": summary.attrs.get("time_unit", getattr(purchase_model, "time_unit_", None)),
        "covers": "parameter uncertainty and each customer's own purchase (and spend) randomness"
        if parameter_uncertainty else "each customer's own purchase (and spend) randomness",
    }
    return table
