"""Plots of the funnel: counts and conversion between stages, and the conversion curves.

Each takes ``ax=None`` (a new figure when None), returns the
:class:`matplotlib.axes.Axes` and imports matplotlib only when called, as
:mod:`clvmodels.plotting` does. Each draws a table the package computes
(:func:`~clvmodels.funnel.funnel_table`, :func:`~clvmodels.funnel.conversion_curves`),
which is what tests check.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from clvmodels.funnel import simulate_funnel, funnel_table, plot_funnel
>>> ax = plot_funnel(funnel_table(simulate_funnel(300, random_state=0)))
>>> ax.get_xlabel()
'Leads that entered the stage'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.errors import InvalidParameterError

__all__ = ["plot_funnel", "plot_conversion_curves"]


def _get_ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def plot_funnel(table: pd.DataFrame, *, ax=None, color="C0"):
    """The funnel: leads entering each stage, and the conversion to the next one.

    Bars (widest at the top) show the leads that entered each stage; between two bars,
    the censoring-aware conversion with its interval and, in brackets, the naive rate.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`~clvmodels.funnel.funnel_table` (without ``by=``).
    ax : matplotlib Axes, optional
    color : matplotlib color, default "C0"

    Returns
    -------
    matplotlib.axes.Axes
    """
    needed = {"entered", "conversion", "conversion_lower", "conversion_upper", "naive_rate"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise InvalidParameterError(
            "plot_funnel takes the table of funnel_table(...) (columns entered, naive_rate, "
            "conversion, conversion_lower, conversion_upper).")
    if isinstance(table.index, pd.MultiIndex):
        raise InvalidParameterError(
            "plot_funnel draws one funnel: pass funnel_table(...) without by=, or one group "
            "of it (table.loc[group]).")
    ax = _get_ax(ax)
    n = len(table)
    y = np.arange(n)[::-1].astype(float)
    entered = table["entered"].to_numpy(dtype=float)
    ax.barh(y, entered, left=(entered.max() - entered) / 2, color=color, alpha=0.8, height=0.6)
    for yi, name, count in zip(y, table.index, entered, strict=True):
        ax.text(entered.max() / 2, yi, f"{name}: {int(count):,}", ha="center", va="center",
                color="white" if count > 0.25 * entered.max() else "black", fontsize=9)
    for i in range(n - 1):
        row = table.iloc[i]
        if not np.isfinite(row["conversion"]):
            continue
        ax.text(entered.max() / 2, y[i] - 0.5,
                f"{row['conversion']:.1%} [{row['conversion_lower']:.1%}, "
                f"{row['conversion_upper']:.1%}]  (naive {row['naive_rate']:.1%})",
                ha="center", va="center", fontsize=8, color="0.2")
    ax.set_yticks([])
    ax.set_xticks([])  # the bars are centred: their counts are written on them
    ax.set_xlim(0, entered.max() * 1.02 if entered.max() > 0 else 1)
    ax.set_xlabel("Leads that entered the stage")
    level = table.attrs.get("interval")
    ax.set_title("Funnel: conversion to the next stage"
                 + (f" ({level:.0%} interval)" if level else ""))
    return ax


def plot_conversion_curves(curves: pd.DataFrame, *, stage: str | None = None, ax=None,
                           band: bool = True):
    """Cumulative conversion against days since entering a stage, one step curve per group.

    Parameters
    ----------
    curves : DataFrame
        The output of :func:`~clvmodels.funnel.conversion_curves`.
    stage : str, optional
        The stage to draw (default: every stage in ``curves``).
    ax : matplotlib Axes, optional
    band : bool, default True
        Shade the pointwise confidence band.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from clvmodels.funnel import simulate_funnel, conversion_curves
    >>> curves = conversion_curves(simulate_funnel(300, random_state=0), by="cohort")
    >>> ax = plot_conversion_curves(curves, stage="lead")
    >>> ax.get_ylabel()
    'Moved on to the next stage (cumulative)'
    """
    needed = {"stage", "days", "conversion", "lower", "upper"}
    if not isinstance(curves, pd.DataFrame) or not needed <= set(curves.columns):
        raise InvalidParameterError(
            "plot_conversion_curves takes the table of conversion_curves(...) (columns stage, "
            "days, conversion, lower, upper).")
    if stage is not None:
        if stage not in set(curves["stage"]):
            raise InvalidParameterError(
                f"stage {stage!r} is not in the curves (they have {sorted(set(curves['stage']))}).")
        curves = curves[curves["stage"] == stage]
    group = curves.attrs.get("by")
    keys = ["stage"] + ([group] if group in curves.columns else [])
    ax = _get_ax(ax)
    for i, (key, sub) in enumerate(curves.groupby(keys, sort=False, observed=True)):
        label = " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        (line,) = ax.step(sub["days"], sub["conversion"], where="post", label=label,
                          color=f"C{i % 10}")
        if band:
            ax.fill_between(sub["days"], sub["lower"], sub["upper"], step="post",
                            color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlabel("Days since entering the stage")
    ax.set_ylabel("Moved on to the next stage (cumulative)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return ax
