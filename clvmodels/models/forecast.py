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
``theta``:

BG/NBD (Fader, Hardie & Lee 2005)
    alive at ``T`` with probability ``P(alive | x, t_x, T)``; if alive, the
    posterior given the history is ``lambda ~ Gamma(r + x, alpha + T)`` and
    ``p ~ Beta(a, b + x)``, independent (the likelihood of an alive customer
    is ``lambda^x e^{-lambda T} (1 - p)^x``). The customer then buys as a
    Poisson process of rate ``lambda`` and drops out after each purchase with
    probability ``p``: the number of future purchases is ``min(N(t), J)`` with
    ``N`` the Poisson count and ``J ~ Geometric(p)`` on ``{1, 2, ...}``.
MBG/NBD (Batislam, Denizel & Filiztekin 2007)
    the same with ``p ~ Beta(a, b + x + 1)`` (an alive customer survived
    ``x + 1`` dropout opportunities).
Pareto/NBD (Schmittlein, Morrison & Colombo 1987)
    alive with probability ``P(alive | x, t_x, T)``; if alive,
    ``lambda ~ Gamma(r + x, alpha + T)`` and ``mu ~ Gamma(s, beta + T)``; the
    remaining lifetime is ``Exponential(mu)`` (memoryless) and purchases are
    Poisson with rate ``lambda`` while alive.
Gamma-Gamma spend (Fader & Hardie 2013), with ``spend_model``
    each customer's transaction-value rate ``nu ~ Gamma(q + p x, gamma + x
    mbar)`` (posterior given ``x`` repeat transactions of mean ``mbar``; the
    prior ``Gamma(q, gamma)`` when ``x = 0``); ``n`` transactions are worth
    ``Gamma(p n, nu)`` together.

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

__all__ = ["forecast_customer_base", "simulate_customer_base"]

#: Customers (with repetition over the simulations of a batch) simulated at once.
_BATCH_CUSTOMERS = 4_000_000


def _kind(model) -> str:
    name = getattr(model, "_model_type", "")
    if name in ("BGNBD", "MBGNBD", "ParetoNBD"):
        return name
    raise InvalidParameterError(
        f"forecast_customer_base simulates BG/NBD, MBG/NBD and Pareto/NBD purchase models; got "
        f"{type(model).__name__}. Fit one of those (clvmodels.models.bgnbd.BGNBD, ...)."
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


def _simulate_batch(kind, theta, spend_theta, columns, counts, ends, rng):
    """Per-simulation totals for a batch: transactions (B, K) and revenue (B, K) or None.

    Event by event: each alive customer's purchase opportunities in ``(0, L]`` (``L`` the
    horizon, or for Pareto/NBD the time alive within it) are a Poisson process, i.e.
    ``N ~ Poisson(lambda L)`` events at uniform times; BG/NBD customers keep the first
    ``J ~ Geometric(p)`` of them in time order. Only customers with events get ``p``,
    ``J`` and a spend rate drawn, so the cost grows with the purchases, not with
    customers x periods.
    """
    from clvmodels.models.uncertainty import bgnbd_draws, paretonbd_draws

    x, tx, T = columns[:3]
    B, K = theta.shape[0], ends.size
    horizon = float(ends[-1])
    # P(alive) once per distinct parameter vector (all equal without parameter uncertainty)
    distinct, which = np.unique(theta, axis=0, return_inverse=True)
    if kind == "ParetoNBD":
        alive_p = paretonbd_draws("probability_alive", distinct, x, tx, T)
    else:
        variant = "mbgnbd" if kind == "MBGNBD" else "bgnbd"
        alive_p = bgnbd_draws("probability_alive", distinct, x, tx, T, variant=variant)
    alive_p = alive_p[which.reshape(-1)]
    n_alive = rng.binomial(counts[None, :], np.clip(alive_p, 0.0, 1.0))  # (B, U)
    sim = np.repeat(np.arange(B), n_alive.sum(axis=1))
    row = np.repeat(np.tile(np.arange(x.size), B), n_alive.ravel())
    lam = rng.gamma(theta[sim, 0] + x[row]) / (theta[sim, 1] + T[row])
    if kind == "ParetoNBD":
        mu = rng.gamma(theta[sim, 2]) / (theta[sim, 3] + T[row])
        with np.errstate(divide="ignore"):
            window = np.minimum(rng.exponential(1.0, size=mu.size) / mu, horizon)
    else:
        window = np.full(sim.size, horizon)
    n_events = rng.poisson(lam * window)
    buyers = np.flatnonzero(n_events)
    owner = np.repeat(buyers, n_events[buyers])  # sorted by customer
    times = rng.random(owner.size) * window[owner]
    keep = np.ones(owner.size, dtype=bool)
    if kind != "ParetoNBD":
        shift = 1.0 if kind == "MBGNBD" else 0.0
        b_sim, b_row = sim[buyers], row[buyers]
        p = rng.beta(theta[b_sim, 2], theta[b_sim, 3] + x[b_row] + shift)
        # purchases up to and including the one after which the customer drops out
        limit = np.zeros(sim.size, dtype=np.int64)
        limit[buyers] = rng.geometric(np.maximum(p, 1e-300))
        order = np.lexsort((times, owner))
        owner, times = owner[order], times[order]
        first = np.cumsum(n_events) - n_events
        rank = np.arange(owner.size) - first[owner]
        keep = rank < limit[owner]
    period = np.minimum(np.searchsorted(ends, times, side="left"), K - 1)
    key = sim[owner] * K + period
    transactions = np.bincount(key[keep], minlength=B * K).reshape(B, K).astype(float)
    if spend_theta is None:
        return transactions, None
    m = columns[3]
    b_sim, b_row = sim[buyers], row[buyers]
    sp = spend_theta[b_sim, 0]
    nu = np.zeros(sim.size)
    nu[buyers] = rng.gamma(spend_theta[b_sim, 1] + sp * x[b_row]) / (
        spend_theta[b_sim, 2] + x[b_row] * m[b_row])
    value = rng.gamma(spend_theta[sim[owner], 0]) / nu[owner]
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
    kind = _kind(purchase_model)
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
    if spend_model is not None and getattr(spend_model, "_model_type", "") != "GammaGamma":
        raise InvalidParameterError(
            f"spend_model must be a fitted GammaGamma model, got {type(spend_model).__name__}."
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
        tr, rev = _simulate_batch(kind, theta[rows],
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
    _kind(purchase_model)
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
