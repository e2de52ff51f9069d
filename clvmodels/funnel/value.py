r"""What a lead is worth, and how much the business may pay for one.

A lead in stage :math:`k` who has been there :math:`a` days is worth

.. math::

    V_k(a) = P(\text{purchase} \mid k, a) \times \mathrm{CLV}_{new}, \qquad
    P(\text{purchase} \mid k, a) = \frac{\hat p_k - \hat F_{1,k}(a)}{\hat S_k(a)}
                                   \prod_{j > k} \hat p_j,

the probability that it eventually becomes a customer (:mod:`clvmodels.funnel.estimate`:
the chance of still moving on after :math:`a` days without moving on or dropping out,
times the later stages' conversions) times the expected discounted value of a new
customer. The latter comes from a formula's CLV (``clv=``) or from fitted models
(:func:`new_customer_value`): a purchase model's expected repeat purchases of a customer
who has just made a first purchase, :math:`E[X(t)]` (``expected_purchases_new_customer``),
and a spend model's mean value per transaction (Gamma-Gamma's
:math:`p\gamma/(q-1)`), discounted step by step as in
:func:`~clvmodels.models.clv.customer_lifetime_value`:

.. math::

    \mathrm{CLV}_{new} = m \, \bar z \Bigl( [\text{first purchase}]
      + \sum_{k=1}^{K} \frac{E[X(t_k)] - E[X(t_{k-1})]}{(1 + d)^{t_k}} \Bigr).

The first purchase (made on becoming a customer, at time 0, not discounted) is included by
default: the funnel's last stage *is* that purchase. The affordable cost per lead at a
target CLV:CAC ratio :math:`r` is :math:`V_k / r`
(:func:`~clvmodels.formulas.net.max_acquisition_cost`).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError, StatisticalWarning
from clvmodels.funnel.estimate import _CAUSE, _check_interval, _spells_from, aalen_johansen
from clvmodels.funnel.events import DEFAULT_STAGES

__all__ = ["new_customer_value", "lead_value"]


def _real(value, name: str, *, minimum=None, strict=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(
            float(value)):
        raise InvalidParameterError(f"{name} must be a finite number; got {value!r}.")
    value = float(value)
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise InvalidParameterError(
            f"{name} must be {'>' if strict else '>='} {minimum:g}; got {value!r}.")
    return value


def new_customer_value(
    purchase_model,
    spend_model=None,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    periods_per_step: float = 1.0,
    first_purchase: bool = True,
) -> float:
    """Expected discounted value of a customer who has just made a first purchase.

    Parameters
    ----------
    purchase_model : fitted model
        Has ``expected_purchases_new_customer(t)`` (BGNBD, ParetoNBD, MBGNBD, BGBB ...).
    spend_model : fitted model or float, optional
        Has ``population_mean_spend()`` (GammaGamma), or the mean value per transaction
        as a number; None counts purchases (value 1 each).
    horizon : float
        Projection length, in the purchase model's time unit.
    discount_rate : float, default 0
        Per time unit of the model, >= 0.
    margin : float, default 1
        Share of the spend that is profit.
    periods_per_step : float, default 1
        Time units per discounting step (as in ``customer_lifetime_value``).
    first_purchase : bool, default True
        Count the first purchase (at time 0, undiscounted) as well as the repeats.

    Returns
    -------
    float

    Examples
    --------
    >>> from clvmodels.models import BGNBD, GammaGamma
    >>> bgnbd = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> round(new_customer_value(bgnbd, gg, horizon=52, first_purchase=False), 2)
    50.93
    >>> value = new_customer_value(bgnbd, gg, horizon=52, discount_rate=0.002)
    >>> value > new_customer_value(bgnbd, gg, horizon=52, discount_rate=0.01)
    True
    """
    from clvmodels.models.clv import step_times

    if not callable(getattr(purchase_model, "expected_purchases_new_customer", None)):
        raise InvalidParameterError(
            f"purchase_model must have expected_purchases_new_customer(t) (a fitted BGNBD, "
            f"ParetoNBD, MBGNBD or BGBB); got {type(purchase_model).__name__}.")
    rate = _real(discount_rate, "discount_rate", minimum=0.0)
    m = _real(margin, "margin", minimum=0.0)
    times = step_times(horizon, periods_per_step)
    if spend_model is None:
        spend = 1.0
    elif isinstance(spend_model, numbers.Real) and not isinstance(spend_model, bool):
        spend = _real(spend_model, "spend", minimum=0.0)
    elif callable(getattr(spend_model, "population_mean_spend", None)):
        spend = float(spend_model.population_mean_spend())
    else:
        raise InvalidParameterError(
            f"spend_model must have population_mean_spend() (a fitted GammaGamma) or be a "
            f"number; got {type(spend_model).__name__}.")
    cumulative = np.asarray(purchase_model.expected_purchases_new_customer(times),
                            dtype=float).reshape(-1)
    if cumulative.shape != times.shape or not np.all(np.isfinite(cumulative)):
        raise InvalidParameterError(
            f"purchase_model.expected_purchases_new_customer returned {cumulative!r} for the "
            f"steps {times}; check the model's parameters.")
    increments = np.diff(np.r_[0.0, cumulative])
    discounted = float(np.sum(increments * np.exp(-times * np.log1p(rate))))
    return m * spend * ((1.0 if first_purchase else 0.0) + discounted)


def _ages(time_in_stage) -> tuple[np.ndarray, bool]:
    scalar = np.ndim(time_in_stage) == 0
    ages = np.atleast_1d(np.asarray(time_in_stage, dtype=float))
    if ages.size == 0 or not np.all(np.isfinite(ages)) or np.any(ages < 0):
        raise InvalidParameterError(
            f"time_in_stage must be days >= 0 (a number or a sequence); got {time_in_stage!r}.")
    return ages, scalar


def _purchase_probabilities(spells, names, ages, weights_for=None, strict=False) -> np.ndarray:
    """P(purchase | stage k, age) for every stage (rows) and age (columns)."""
    k_final = len(names) - 1
    out = np.ones((len(names), ages.size))
    later = 1.0
    for k in range(k_final - 1, -1, -1):
        mine = spells[spells["stage_index"].to_numpy() == k]
        if len(mine) == 0:
            out[k] = np.nan
            later = np.nan
            continue
        w = None if weights_for is None else weights_for(len(mine))
        ci = aalen_johansen(mine["days"].to_numpy(),
                            mine["outcome"].map(_CAUSE).fillna(0).to_numpy(dtype=np.int64), w)
        out[k] = ci.conditional(ages, strict=strict) * later
        later = later * ci.eventual
    return out


def lead_value(
    events,
    *,
    clv: float | None = None,
    purchase_model=None,
    spend_model=None,
    horizon: float | None = None,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    periods_per_step: float = 1.0,
    first_purchase: bool = True,
    target_ratio: float = 3.0,
    time_in_stage=0.0,
    per_lead: bool = False,
    interval: float | None = None,
    n_boot: int = 200,
    random_state=None,
    lead_id: str = "lead_id",
    stage: str = "stage",
    date: str = "date",
    stages=DEFAULT_STAGES,
    cutoff=None,
    lost: str | None = "lost",
    timeout: float | None = None,
    skipped: str = "error",
    duplicates: str = "error",
) -> pd.DataFrame:
    """What a lead at each stage is worth, and the most one may cost at a CLV:CAC target.

    Parameters
    ----------
    events : DataFrame or path
        The event log (or :func:`~clvmodels.funnel.events.funnel_spells`'s output).
    clv : float, optional
        The value of a new customer (a formula's CLV, say). Give either ``clv`` or
        ``purchase_model`` (with ``spend_model`` and ``horizon``; see
        :func:`new_customer_value`).
    purchase_model, spend_model, horizon, discount_rate, margin, periods_per_step, first_purchase
        Passed to :func:`new_customer_value` (in the purchase model's time unit).
    target_ratio : float, default 3
        The CLV:CAC ratio wanted; ``max_cost_per_lead`` = lead value / target.
    time_in_stage : float or sequence of float, default 0
        Days the lead has already spent in its stage without moving on or dropping out, at
        the start of a day (0: it has just entered, and ``p_purchase`` is the table's
        ``p_customer``); a sequence gives one row per (stage, days).
    per_lead : bool, default False
        One row per lead open at the cutoff instead (its stage and its days there, having
        not moved on by the end of the cutoff day): the value of today's pipeline.
    interval : float, optional
        Add bootstrap percentile intervals of ``p_purchase`` and ``lead_value`` (leads
        resampled within each stage; the customer value taken as known).
    n_boot : int, default 200
    random_state : None, int or numpy Generator
    lead_id, stage, date, stages, cutoff, lost, timeout, skipped, duplicates
        As in :func:`~clvmodels.funnel.events.funnel_spells`.

    Returns
    -------
    DataFrame
        Indexed by stage (or (stage, days_in_stage), or lead): ``p_purchase``,
        ``customer_value``, ``lead_value`` = their product, ``max_cost_per_lead``, and
        with ``interval`` the ``_lower``/``_upper`` columns. The last stage (already a
        customer) has ``p_purchase`` 1.

    Warns
    -----
    StatisticalWarning
        When a ``time_in_stage`` is longer than any lead was observed in the stage: the
        probability is then unknown (NaN).

    Examples
    --------
    >>> from clvmodels.funnel import simulate_funnel
    >>> log = simulate_funnel(800, random_state=4)
    >>> values = lead_value(log, clv=600.0)
    >>> bool(values["lead_value"].is_monotonic_increasing)  # later stages are worth more
    True
    >>> float(values.loc["customer", "lead_value"])
    600.0
    """
    from clvmodels.formulas.net import max_acquisition_cost

    if (clv is None) == (purchase_model is None):
        raise InvalidParameterError(
            "give the value of a new customer either as clv= (a number) or as "
            "purchase_model= (with spend_model= and horizon=), not both or neither.")
    if clv is not None:
        value = _real(clv, "clv", minimum=0.0)
    else:
        if horizon is None:
            raise InvalidParameterError(
                "horizon= is needed with purchase_model= (in the model's time unit).")
        value = new_customer_value(purchase_model, spend_model, horizon=horizon,
                                   discount_rate=discount_rate, margin=margin,
                                   periods_per_step=periods_per_step,
                                   first_purchase=first_purchase)
    target = _real(target_ratio, "target_ratio", minimum=0.0, strict=True)
    spells = _spells_from(events, dict(
        lead_id=lead_id, stage=stage, date=date, channel=None, stages=stages, cutoff=cutoff,
        lost=lost, timeout=timeout, skipped=skipped, duplicates=duplicates))
    names = spells.attrs["stages"]
    if per_lead:
        open_ = spells[spells["outcome"] == "open"]
        ages = np.unique(open_["days"].to_numpy(dtype=float))
        if ages.size == 0:
            ages = np.zeros(1)
        scalar = False
    else:
        ages, scalar = _ages(time_in_stage)
    probs = _purchase_probabilities(spells, names, ages, strict=per_lead)
    boot = None
    if interval is not None:
        from clvmodels.data._random import check_random_state

        level = _check_interval(interval)
        if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 10:
            raise InvalidParameterError(f"n_boot must be an integer >= 10; got {n_boot!r}.")
        rng = check_random_state(random_state)

        def resample(n):
            return np.bincount(rng.integers(0, n, n), minlength=n).astype(float)

        boot = np.stack([_purchase_probabilities(spells, names, ages, resample, per_lead)
                         for _ in range(int(n_boot))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
            lo, hi = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    def frame(p, lower=None, upper=None, index=None):
        out = {"p_purchase": p, "customer_value": np.full(p.shape, value),
               "lead_value": p * value}
        if lower is not None:
            out.update(p_purchase_lower=lower, p_purchase_upper=upper,
                       lead_value_lower=lower * value, lead_value_upper=upper * value)
        out["max_cost_per_lead"] = np.array(
            [max_acquisition_cost(v, target) if np.isfinite(v) else np.nan
             for v in p * value])
        return pd.DataFrame(out, index=index)

    if per_lead:
        open_ = spells[spells["outcome"] == "open"]
        k = open_["stage_index"].to_numpy()
        j = np.searchsorted(ages, open_["days"].to_numpy(dtype=float))
        index = pd.Index(open_["lead_id"].to_numpy(), name="lead_id")
        out = frame(probs[k, j], None if boot is None else lo[k, j],
                    None if boot is None else hi[k, j], index)
        out.insert(0, "stage", open_["stage"].to_numpy())
        out.insert(1, "days_in_stage", open_["days"].to_numpy())
    elif scalar:
        out = frame(probs[:, 0], None if boot is None else lo[:, 0],
                    None if boot is None else hi[:, 0], pd.Index(names, name="stage"))
    else:
        ordered = pd.CategoricalIndex(names, categories=names, ordered=True)
        index = pd.MultiIndex.from_product([ordered, ages], names=["stage", "days_in_stage"])
        out = frame(probs.ravel(), None if boot is None else lo.ravel(),
                    None if boot is None else hi.ravel(), index)
    missing = out["p_purchase"].isna().to_numpy()
    if missing.any():
        first = out[missing].iloc[0]
        if per_lead:
            where = f"{first['stage']!r} after {first['days_in_stage']:g} days"
        elif isinstance(out.index, pd.MultiIndex):
            stage_name, days = out.index[missing][0]
            where = f"{stage_name!r} after {float(days):g} days"
        else:
            where = repr(out.index[missing][0])
        warnings.warn(
            f"P(purchase) is unknown (NaN) in {int(missing.sum())} row(s), e.g. {where}: no "
            "lead was observed that long in the stage (or none entered it). Ask for shorter "
            "times in stage.", StatisticalWarning, stacklevel=2)
    out.attrs = {**spells.attrs, "customer_value": value, "target_ratio": target,
                 "interval": interval, "n_boot": int(n_boot) if interval is not None else 0}
    return out
