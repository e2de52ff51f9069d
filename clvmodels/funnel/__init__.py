"""The sales funnel: from a lead's first contact to its first purchase, and what a lead is worth.

* :func:`funnel_spells` checks an event log (lead, stage, date) and turns it into one spell
  per lead and stage (:mod:`clvmodels.funnel.events` documents every bad-input policy).
* :func:`funnel_table` and :func:`conversion_curves`: conversion between stages, with the
  leads still open treated as censored (Aalen-Johansen; :mod:`clvmodels.funnel.estimate`);
  :func:`counts_table` for plain counts per stage and period.
* :func:`forecast_conversions`: new customers per week or month from the open pipeline and
  the inflow of new leads, with a simulated interval.
* :func:`new_customer_value` and :func:`lead_value`: the expected discounted CLV of a new
  customer from fitted models, and what a lead at each stage is worth and may cost.
* :func:`plot_funnel`, :func:`plot_conversion_curves`; :func:`simulate_funnel`.

Names are imported on first use, like the package's top level.
"""

from __future__ import annotations

import importlib

_EXPORTS: dict[str, str] = {
    "DEFAULT_STAGES": "clvmodels.funnel.events",
    "AIDA_STAGES": "clvmodels.funnel.events",
    "read_events": "clvmodels.funnel.events",
    "funnel_spells": "clvmodels.funnel.events",
    "aalen_johansen": "clvmodels.funnel.estimate",
    "CumulativeIncidence": "clvmodels.funnel.estimate",
    "funnel_table": "clvmodels.funnel.estimate",
    "conversion_curves": "clvmodels.funnel.estimate",
    "counts_table": "clvmodels.funnel.estimate",
    "forecast_conversions": "clvmodels.funnel.forecast",
    "new_customer_value": "clvmodels.funnel.value",
    "lead_value": "clvmodels.funnel.value",
    "plot_funnel": "clvmodels.funnel.plots",
    "plot_conversion_curves": "clvmodels.funnel.plots",
    "simulate_funnel": "clvmodels.funnel.simulate",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'clvmodels.funnel' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
