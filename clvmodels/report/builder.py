"""Build the HTML validation report from a transaction log.

The report is one file: CSS inline, every figure a base64 PNG rendered with
matplotlib's Agg canvas (no pyplot state is touched), no script, no
external reference, so it opens offline, prints, and can be archived with a
sign-off. The file is written atomically: a log that fails validation raises
:class:`~clvmodels.errors.InvalidTransactionsError` before any work, and any
failure later leaves an existing file at ``path`` untouched.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import os
import platform
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels._output import atomic_path, check_writable
from clvmodels.data import parse_dates
from clvmodels.data.summary import time_unit_days
from clvmodels.data.transactions import read_transactions, to_timestamp, validate_transactions
from clvmodels.errors import InvalidParameterError
from clvmodels.evaluation.base import calibration_only
from clvmodels.evaluation.goodness_of_fit import pooled_chi_square
from clvmodels.evaluation.harness import compare
from clvmodels.evaluation.metrics import METRICS
from clvmodels.models.registry import display_name as _registry_display_name
from clvmodels.models.registry import spec_for

__all__ = ["validation_report", "data_fingerprint", "SECTIONS"]

#: (id, heading) of every section, in order; the tests and the browser check use it.
SECTIONS = (
    ("verdict", "Executive summary: which method to use"),
    ("data", "Data description"),
    ("summary-statistics", "Summary statistics and distributions"),
    ("models", "Model estimates and convergence"),
    ("goodness-of-fit", "Goodness of fit in calibration"),
    ("holdout", "Holdout performance"),
    ("backtest", "Backtest stability"),
    ("assumptions", "Assumptions and their checks"),
    ("limitations", "Limitations"),
    ("reproducibility", "Reproducibility"),
)

_UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}
_HOLDOUT_METRICS = (
    "transactions_mae", "transactions_rmse", "transactions_bias",
    "transactions_total_error_pct", "transactions_spearman", "holdout_log_likelihood",
)
_REVENUE_METRICS = (
    "revenue_mae", "revenue_rmse", "revenue_bias", "revenue_total_error_pct",
    "revenue_spearman", "revenue_top20_capture", "revenue_gini",
)
_DEPENDENCIES = ("numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "jinja2", "mpmath")


# --- small helpers ----------------------------------------------------------------------


def data_fingerprint(transactions: pd.DataFrame, customer_id: str, date: str,
                     amount: str | None) -> str:
    """SHA-256 of the log's used columns, in input order, serialised as CSV.

    The serialisation is ``DataFrame.to_csv(index=False, lineterminator="\\n")``
    of the columns ``customer_id``, ``date`` (and ``amount``) as given, so the
    same rows in the same order give the same fingerprint whatever else the
    frame holds.
    """
    cols = [customer_id, date] + ([amount] if amount is not None else [])
    text = transactions[cols].to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fmt(value, digits: int = 4) -> str:
    """A number for a person: 4 significant digits, thousands separated, NaN as a dash."""
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    if abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:,.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}g}"


def _cell(value, digits: int = 4) -> dict:
    """A table cell: the formatted text and, for numbers, the exact value (data-value)."""
    exact = None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)):
        exact = repr(float(value)) if np.isfinite(float(value)) else "nan"
    return {"text": _fmt(value, digits), "value": exact}


def _table(frame: pd.DataFrame, index_name: str | None = None, digits: int = 4,
           table_id: str | None = None, caption: str | None = None) -> dict:
    """A DataFrame as the template's table: header, rows of cells (index first)."""
    header = [index_name if index_name is not None else (frame.index.name or "")]
    header += [str(c) for c in frame.columns]
    rows = []
    for idx, row in frame.iterrows():
        cells = [{"text": str(idx), "value": None}]
        cells += [_cell(v, digits) for v in row.tolist()]
        rows.append(cells)
    return {"header": header, "rows": rows, "id": table_id, "caption": caption}


def _facts(pairs) -> list[dict]:
    return [{"label": k, "text": v if isinstance(v, str) else _fmt(v)} for k, v in pairs]


def _figure(width: float = 7.0, height: float = 4.0, ncols: int = 1, nrows: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _png(fig, alt: str, caption: str | None = None) -> dict:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return {"src": uri, "alt": alt, "caption": caption}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _call_string(transactions, path_in, kwargs) -> str:
    what = (repr(os.fspath(path_in)) if path_in is not None
            else f"<DataFrame: {len(transactions):,} rows x {transactions.shape[1]} columns>")
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"clvmodels.report.validation_report({what}, {args})"


def _warning_text(w) -> str:
    return f"{w.category.__name__}: {w.message}"


# --- the report -------------------------------------------------------------------------


def validation_report(
    transactions,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    calibration_end,
    observation_end,
    time_unit: str = "W",
    methods=None,
    n_splits: int = 3,
    random_state: int = 0,
    path="report.html",
    refunds: str = "error",
    max_frequency: int = 7,
    command: str | None = None,
) -> Path:
    """Write the model-validation report of a transaction log to one HTML file.

    Runs :func:`clvmodels.compare` (every method fitted on the calibration
    period, scored on the holdout, repeated over ``n_splits`` backtest
    cutoffs), reads the models the harness fitted at every cutoff, with their
    warnings, from ``ComparisonResult.fits`` (for
    the parameter-stability tables; nothing is refitted), and renders the
    sections listed in :data:`SECTIONS`. Methods appear under their display
    names ("BG/NBD + Gamma-Gamma"); table ids keep the method names. The
    goodness-of-fit test is Pearson's chi-square on the calibration frequency
    histogram (Fader, Hardie & Lee 2005, figure 2), the model's expected
    counts pooled until each cell expects at least 5 customers, with
    ``cells - 1 - parameters`` degrees of freedom
    (:func:`clvmodels.evaluation.pooled_chi_square`).

    Parameters
    ----------
    transactions : DataFrame or path
        The transaction log (CSV/Parquet path accepted; its SHA-256 is reported).
    customer_id, date, amount : str
        Column names of the log.
    calibration_end, observation_end : date-like
        End of the calibration period and of the holdout window.
    time_unit : {"D", "W", "M", "Y"}
    methods : list, optional
        Methods to compare (default: every registered method).
    n_splits : int, default 3
        Backtest cutoffs ending at ``calibration_end`` (1 = the main split only).
    random_state : int, default 0
        Seed given to every method that takes one.
    path : str or Path, default "report.html"
        Output file, written atomically.
    refunds : {"error", "net"}
        Passed to :func:`clvmodels.validate_transactions`.
    max_frequency : int, default 7
        Last (pooled, ``7+``) group of the frequency histogram and the
        conditional expectations.
    command : str, optional
        The command line that produced the report (the CLI passes it); shown
        in the reproducibility block with the equivalent Python call.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InvalidTransactionsError
        The log has problems (each listed with rows and values); nothing is written.

    Examples
    --------
    >>> import clvmodels, tempfile, os
    >>> from clvmodels.report import validation_report
    >>> log = clvmodels.datasets.load_cdnow_transactions()
    >>> out = validation_report(log, calibration_end="1997-09-30", observation_end="1998-06-30",
    ...                         methods=["bgnbd", "own_rate"], n_splits=1,
    ...                         path=os.path.join(tempfile.mkdtemp(), "report.html"))
    >>> out.stat().st_size > 10_000
    True
    """
    started = time.perf_counter()
    generated = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    call_kwargs = {
        "customer_id": customer_id, "date": date, "amount": amount,
        "calibration_end": str(calibration_end), "observation_end": str(observation_end),
        "time_unit": time_unit, "methods": methods if methods is None else list(methods),
        "n_splits": n_splits, "random_state": random_state, "path": os.fspath(path),
    }
    if refunds != "error":
        call_kwargs["refunds"] = refunds
    path = check_writable(path)
    path_in, file_sha = None, None
    if isinstance(transactions, (str, bytes)) or hasattr(transactions, "__fspath__"):
        path_in = transactions
        transactions = read_transactions(path_in, columns=[customer_id, date, amount])
        file_sha = _file_sha256(path_in)
    cal = to_timestamp(calibration_end, "calibration_end")
    obs = to_timestamp(observation_end, "observation_end")
    if cal is None or obs is None:
        raise InvalidParameterError("the report needs both calibration_end and observation_end.")
    # Refuse bad input before any work: every problem listed, nothing written.
    validated = validate_transactions(transactions, customer_id, date, amount,
                                      calibration_end=cal, observation_end=obs, refunds=refunds)
    if time_unit not in _UNIT_NAMES:
        raise InvalidParameterError(f"time_unit={time_unit!r}: use one of {list(_UNIT_NAMES)}.")
    unit = _UNIT_NAMES[time_unit]
    fingerprint = data_fingerprint(transactions, customer_id, date, amount)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning of every fit lands in its record
        result = compare(transactions, methods, calibration_end=cal, observation_end=obs,
                         customer_id=customer_id, date=date, amount=amount,
                         time_unit=time_unit, n_splits=n_splits, random_state=random_state,
                         refunds=refunds)
    compare_warnings = list(dict.fromkeys(_warning_text(w) for w in caught))  # raised order
    log = pd.DataFrame({
        "customer_id": transactions[customer_id].to_numpy(),
        "date": parse_dates(transactions[date]).dt.normalize().to_numpy(),
        "amount": pd.to_numeric(transactions[amount]).to_numpy(dtype=float),
    })

    ctx = {"title": "CLV model validation report", "sections": SECTIONS,
           "generated": generated.isoformat().replace("+00:00", " UTC"), "unit": unit}
    summary = result.summary
    cal_summary = calibration_only(summary)
    fits = _model_fits(result)
    model_methods = {n: rows[fits["main"]] for n, rows in fits["records"].items()}
    spend_model = next((r.models["spend"] for r in model_methods.values()
                        if "spend" in r.models), None)

    ctx["verdict"] = _verdict_section(result, random_state)
    ctx["data"] = _data_section(log, validated, summary, cal, obs, unit, time_unit)
    ctx["stats"] = _stats_section(summary, unit, max_frequency)
    ctx["models"] = _models_section(model_methods, spend_model, cal_summary)
    ctx["fit"] = _fit_section(model_methods, cal_summary, max_frequency)
    ctx["holdout"] = _holdout_section(result, model_methods, log, cal, obs, time_unit, unit,
                                      max_frequency)
    ctx["backtest"] = _backtest_section(result, model_methods, fits)
    ctx["assumptions"] = _assumptions_section(spend_model, cal_summary, result, model_methods)
    ctx["limitations"] = _limitations(result, summary, fits, cal, obs, unit, compare_warnings,
                                      ctx["fit"])
    ctx["compare_warnings"] = compare_warnings
    ctx["repro"] = {
        "facts": _facts([
            ("clvmodels version", _version("clvmodels")),
            ("Python", platform.python_version()),
            *[(d, _version(d)) for d in _DEPENDENCIES],
            ("Platform", platform.platform()),
            ("Input data SHA-256 (columns "
             f"{', '.join([customer_id, date, amount])} as CSV, input order)", fingerprint),
            *([("Input file SHA-256 (" + os.fspath(path_in) + ")", file_sha)]
              if file_sha else []),
            ("Input rows", f"{validated.n_rows:,}"),
            ("Calibration end", str(cal.date())),
            ("Observation end", str(obs.date())),
            ("Backtest cutoffs", ", ".join(str(c.date()) for c in result.settings["cutoffs"])),
            ("Time unit", f"{time_unit} ({time_unit_days(time_unit):g} days)"),
            ("Random seed (random_state)", str(random_state)),
            ("Methods (as named in the call)", ", ".join(result.settings["methods"])),
            ("Generated", ctx["generated"]),
        ]),
        "call": _call_string(transactions, path_in, call_kwargs),
        "command": command,
        "fingerprint": fingerprint,
    }
    ctx["build_seconds"] = f"{time.perf_counter() - started:.1f}"
    html = _render(ctx)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return path


def _render(ctx: dict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("clvmodels.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**ctx)


# --- sections ---------------------------------------------------------------------------


def _verdict_section(result, random_state) -> dict:
    """The executive summary: per decision the method to use, the runner-up and the margin."""
    verdict = result.verdict(random_state=random_state)
    rows = []
    for decision, row in verdict.iterrows():
        runner = result.display_name(row["runner_up"]) if row["runner_up"] else "-"
        rows.append({
            "decision": decision,
            "recommended": (result.display_name(row["method"]) if row["significant"]
                            else "no clear winner"),
            "best": result.display_name(row["method"]),
            "runner-up": runner,
            "metric": row["metric"],
            "margin": row["margin"],
            "margin CI lower": row["ci_lower"],
            "margin CI upper": row["ci_upper"],
            "significant": "yes" if row["significant"] else "no",
            **({"first across cutoffs": row["rank_first_share"]}
               if "rank_first_share" in verdict else {}),
        })
    table = pd.DataFrame(rows).set_index("decision")
    level = verdict.attrs.get("level", 0.9)
    text = (
        f"Each decision is judged by one metric on the holdout of the main split. The margin "
        f"is how much worse the runner-up is; its {level:.0%} interval comes from a paired "
        f"bootstrap over customers ({verdict.attrs.get('n_boot')} resamples, the same for "
        "every method). A margin whose interval includes 0 gives \"no clear winner\": the "
        "data do not separate the two. Budgeting is judged by the absolute error of the "
        "total, targeting by the normalised Gini of the ranking, valuation by the RMSE per "
        "customer (the MAE favours predicting 0 when most customers buy nothing), and the "
        "predicted distributions by the ranked probability score."
    )
    return {"table": _table(table, "decision", table_id="verdict",
                            caption="The verdict: one row per decision."),
            "text": text}




def _data_section(log, validated, summary, cal, obs, unit, time_unit) -> dict:
    attrs = summary.attrs
    first, last = log["date"].min(), log["date"].max()
    in_cal = log["date"] <= cal
    n_customers_log = log["customer_id"].nunique()
    n_cohort = len(summary)
    later = n_customers_log - n_cohort
    unit_days = time_unit_days(time_unit)
    n_zero = int((log["amount"] == 0).sum())
    facts = _facts([
        ("Transactions (input rows)", f"{validated.n_rows:,}"),
        ("Customers in the log", f"{n_customers_log:,}"),
        ("Customers in the calibration cohort (first purchase on or before "
         f"{cal.date()})", f"{n_cohort:,}"),
        ("Customers whose first purchase is after the calibration end (not scored)",
         f"{later:,}"),
        ("First and last transaction", f"{first.date()} to {last.date()}"),
        ("Calibration period", f"{first.date()} to {cal.date()} "
         f"({(cal - first).days + 1} days, {((cal - first).days + 1) / unit_days:.1f} {unit})"),
        ("Holdout period", f"{(cal + pd.Timedelta(days=1)).date()} to {obs.date()} "
         f"({(obs - cal).days} days, {(obs - cal).days / unit_days:.1f} {unit})"),
        ("Rows in calibration / holdout", f"{int(in_cal.sum()):,} / {int((~in_cal).sum()):,}"),
        ("Customer-days (rows of one customer on one day count as one transaction)",
         f"{attrs.get('n_customer_days', float('nan')):,}"),
        ("Repeat transactions in calibration (cohort)", f"{int(summary['frequency'].sum()):,}"),
        ("Repeat transactions in holdout (cohort)",
         f"{int(summary['frequency_holdout'].sum()):,}"),
        ("Total amount in calibration / holdout",
         f"{log.loc[in_cal, 'amount'].sum():,.2f} / {log.loc[~in_cal, 'amount'].sum():,.2f}"),
        ("Rows with amount 0", f"{n_zero:,}"),
        ("Rows rejected", "0"),
    ])
    notes = list(validated.notes) + [str(n) for n in attrs.get("notes", [])]
    return {"facts": facts, "notes": notes}


def _stats_section(summary, unit, max_frequency) -> dict:
    cols = [c for c in ("frequency", "recency", "T", "monetary_value", "frequency_holdout",
                        "monetary_value_holdout") if c in summary.columns]
    desc = summary[cols].describe().T
    desc["count"] = desc["count"].astype(int)
    repeat = summary["frequency"] > 0
    rows = {"all customers": desc}
    if "monetary_value" in summary.columns and repeat.any():
        mv = summary.loc[repeat, "monetary_value"].describe()
        mv["count"] = int(mv["count"])
        desc.loc["monetary_value (repeat customers only)"] = mv
    table = _table(rows["all customers"], "column", table_id="summary-statistics-table",
                   caption=f"Calibration summary per customer (times in {unit}; monetary_value "
                           "is the mean value of repeat transactions, 0 without one).")
    fig, axes = _figure(9.0, 6.0, 2, 2)
    x = np.minimum(summary["frequency"].to_numpy(), 3 * max_frequency)
    counts = np.bincount(x, minlength=3 * max_frequency + 1)
    ax = axes[0, 0]
    ax.bar(np.arange(len(counts)), counts, color="#4c72b0")
    ax.set_title(f"Repeat transactions in calibration ({3 * max_frequency} = {3 * max_frequency}+)")
    ax.set_xlabel("frequency")
    ax.set_ylabel("Customers")
    ax = axes[0, 1]
    ax.hist(summary.loc[repeat, "recency"], bins=30, color="#4c72b0")
    ax.set_title("Recency of repeat customers")
    ax.set_xlabel(f"recency ({unit})")
    ax.set_ylabel("Customers")
    ax = axes[1, 0]
    ax.hist(summary["T"], bins=30, color="#4c72b0")
    ax.set_title("Customer age at the calibration end")
    ax.set_xlabel(f"T ({unit})")
    ax.set_ylabel("Customers")
    ax = axes[1, 1]
    if "monetary_value" in summary.columns and repeat.any():
        mv = summary.loc[repeat, "monetary_value"].to_numpy()
        mv = mv[mv > 0]
        if len(mv):
            ax.hist(np.log10(mv), bins=30, color="#4c72b0")
        ax.set_xlabel("log10 mean repeat spend")
    ax.set_title("Mean spend per repeat transaction")
    ax.set_ylabel("Customers")
    facts = _facts([
        ("Customers without a repeat transaction in calibration",
         f"{int((~repeat).sum()):,} ({100 * (~repeat).mean():.1f}%)"),
        ("Customers without a transaction in the holdout",
         f"{int((summary['frequency_holdout'] == 0).sum()):,} "
         f"({100 * (summary['frequency_holdout'] == 0).mean():.1f}%)"),
        ("Largest calibration frequency", f"{int(summary['frequency'].max()):,}"),
    ])
    return {"table": table, "facts": facts,
            "figure": _png(fig, "Histograms of frequency, recency, T and mean spend",
                           "Distributions of the calibration summary.")}


def _model_fits(result) -> dict:
    """The harness's fit records of the methods with a purchase model, by method and cutoff.

    Returns ``{"cutoffs": [...], "main": index of the main split's cutoff,
    "records": {method: [FitRecord or None per cutoff]}, "n_customers":
    {cutoff: customers}}``; the methods are those with a fitted purchase model
    on the main split, in the comparison's order.
    """
    cutoffs = list(result.settings["cutoffs"])
    main = cutoffs.index(result.settings["calibration_end"])
    by_key = {(r.cutoff, r.method): r for r in result.fits}
    names = [n for n in result.methods
             if "purchase" in getattr(by_key.get((cutoffs[main], n)), "models", {})]
    n_customers = {}
    for r in result.fits:
        n_customers.setdefault(r.cutoff, r.n_customers)
    return {"cutoffs": cutoffs, "main": main,
            "records": {n: [by_key.get((c, n)) for c in cutoffs] for n in names},
            "n_customers": {c: n_customers.get(c, float("nan")) for c in cutoffs}}


def _by_display_name(frame: pd.DataFrame, result) -> pd.DataFrame:
    """``frame`` (indexed by method) indexed by the names people read instead."""
    out = frame.copy()
    out.index = pd.Index([result.display_name(m) for m in frame.index], name="method")
    return out


def _model_title(model) -> str:
    """The registry's display name of a model ("BG/NBD"), else its class name."""
    try:
        return _registry_display_name(model)
    except InvalidParameterError:  # a stand-in the registry does not know
        return type(model).__name__


def _has_covariates(model) -> bool:
    try:
        return spec_for(model).covariates
    except InvalidParameterError:
        return False


def _param_table(model, table_id: str) -> dict:
    s = model.summary()
    frame = s[["estimate", "std_error", "ci_lower", "ci_upper"]].rename(columns={
        "std_error": "standard error", "ci_lower": "95% CI lower", "ci_upper": "95% CI upper"})
    return _table(frame, "parameter", digits=4, table_id=table_id)


def _model_facts(model) -> list[dict]:
    a = model.summary().attrs
    info = getattr(model, "fit_info_", {}) or {}
    pairs = [
        ("Customers", f"{a.get('n_customers', getattr(model, 'n_customers_', 0)):,}"),
        ("Log-likelihood", f"{model.log_likelihood_:,.3f}"),
        ("AIC", f"{model.aic:,.3f}"),
        ("BIC", f"{model.bic:,.3f}"),
        ("Converged", "yes" if model.converged_ else "NO"),
        ("Optimiser message", str(info.get("message", a.get("message", "–")))),
        ("Iterations / likelihood evaluations",
         f"{info.get('n_iterations', '–')} / {info.get('n_evaluations', '–')}"),
        ("Gradient norm at the optimum", _fmt(info.get("gradient_norm"))),
        ("Starting points", str(info.get("n_starts", "–"))),
        ("Hessian positive definite", "yes" if info.get("hessian_ok", True) else "NO"),
        ("Parameters at a bound", ", ".join(info.get("at_bound", [])) or "none"),
        ("Distinct data rows fitted", _fmt(info.get("n_unique_rows"))),
        ("Penalizer", _fmt(info.get("penalizer", 0.0))),
    ]
    if "start_log_likelihoods" in info:
        lls = np.asarray(info["start_log_likelihoods"], dtype=float)
        pairs.append(("Log-likelihood reached from each start",
                      ", ".join(f"{v:,.3f}" for v in lls)))
    return _facts(pairs)


def _models_section(model_methods, spend_model, cal_summary) -> dict:
    from clvmodels.plotting import plot_probability_alive_matrix

    blocks = []
    spend_of = None
    for name, record in model_methods.items():
        pm = record.models["purchase"]
        title = _model_title(pm)
        if spend_model is not None and record.models.get("spend") is spend_model:
            spend_of = record.display_name
        figure, note = None, None
        if _has_covariates(pm):
            note = (f"{title}: no P(alive) matrix is drawn, as probability alive depends on each "
                    "customer's attributes as well as on (frequency, recency).")
        else:
            fig, axes = _figure(6.0, 4.0)
            plot_probability_alive_matrix(pm, cal_summary, max_frequency=min(
                30, int(cal_summary["frequency"].max())), ax=axes[0, 0])
            figure = _png(fig, f"P(alive) matrix of {title}",
                          f"{title}: probability alive over (frequency, recency) for customers "
                          "of the largest age T in the data.")
        blocks.append({
            "name": name, "title": title, "method": record.display_name,
            "params": _param_table(pm, f"params-{name}"),
            "facts": _model_facts(pm),
            "warnings": list(dict.fromkeys(_warning_text(w) for w in record.warnings)),
            "figure": figure, "note": note,
        })
    spend = None
    if spend_model is not None:
        spend = {"title": _model_title(spend_model),
                 "params": _param_table(spend_model, "params-gamma_gamma"),
                 "facts": _model_facts(spend_model), "fitted_with": spend_of}
    return {"blocks": blocks, "spend": spend}


def _fit_section(model_methods, cal_summary, max_frequency) -> dict:
    from clvmodels.plotting import frequency_histogram_table, plot_frequency_histogram

    blocks = []
    for name, record in model_methods.items():
        pm = record.models["purchase"]
        # a covariate model's histogram depends on the customers' attributes as well
        if not callable(getattr(pm, "probability_of_purchases", None)) or _has_covariates(pm):
            continue
        title = _model_title(pm)
        table = frequency_histogram_table(pm, cal_summary, max_frequency)
        k = len(pm.params_)
        test = pooled_chi_square(table["actual"], table["model"], k)
        labels = table.index.tolist()
        pooled = pd.DataFrame({
            "actual customers": test["actual"],
            "expected customers": test["expected"],
            "(O - E)^2 / E": (test["actual"] - test["expected"]) ** 2 / test["expected"],
        }, index=pd.Index([labels[g[0]] if len(g) == 1 else f"{labels[g[0]]}–{labels[g[-1]]}"
                           for g in test["groups"]], name="frequency"))
        fig, axes = _figure(6.5, 3.8)
        plot_frequency_histogram(pm, cal_summary, max_frequency, ax=axes[0, 0], label=title)
        if np.isfinite(test["statistic"]):
            verdict = (f"chi-square = {test['statistic']:.2f} on {test['df']} degrees of freedom "
                       f"({len(test['groups'])} cells - 1 - {k} parameters), p = "
                       f"{_fmt(test['p_value'], 3)}. "
                       + ("The model's histogram differs from the data at the 5% level."
                          if test["p_value"] < 0.05 else
                          "The data do not reject the model's histogram at the 5% level."))
        else:
            verdict = (f"chi-square not computed: {len(test['groups'])} pooled cells leave "
                       f"{test['df']} degrees of freedom for {k} parameters.")
        blocks.append({
            "name": name, "title": title,
            "table": _table(pooled, "frequency", table_id=f"chisq-{name}",
                            caption="Cells pooled until each expects at least 5 customers."),
            "raw": _table(table.rename(columns={"actual": "actual customers",
                                                "model": "expected customers"}), "frequency"),
            "verdict": verdict, "statistic": test["statistic"], "df": test["df"],
            "p_value": test["p_value"],
            "figure": _png(fig, f"Frequency histogram, actual vs {title}",
                           f"Calibration repeat transactions: actual customers vs {title}'s "
                           "expectation."),
        })
    return {"blocks": blocks}


def _holdout_section(result, model_methods, log, cal, obs, time_unit, unit, max_frequency):
    from clvmodels.plotting import (
        conditional_expectations_table,
        plot_conditional_expectations,
        plot_cumulative_tracking,
        plot_gains,
        plot_incremental_tracking,
        plot_leaderboard,
    )

    wide = result.table()
    tx_cols = [m for m in _HOLDOUT_METRICS if m in wide.columns]
    rev_cols = [m for m in _REVENUE_METRICS if m in wide.columns]
    order = wide.sort_values("transactions_mae").index if "transactions_mae" in wide else wide.index
    tx = _by_display_name(wide.loc[order, tx_cols], result)
    rev_order = wide.sort_values("revenue_mae").index if "revenue_mae" in wide else wide.index
    rev = _by_display_name(wide.loc[rev_order, rev_cols], result)
    tables = [
        _table(tx, "method", table_id="leaderboard-transactions",
               caption="Holdout transactions per customer, main split, sorted by MAE."),
        _table(rev, "method", table_id="leaderboard-revenue",
               caption="Holdout revenue per customer, main split, sorted by MAE."),
    ]
    legend = [{"label": m, "text": f"{METRICS[m]['description']} ({METRICS[m]['better']} "
               "is better)".replace("(zero is better)", "(closer to 0 is better)")}
              for m in tx_cols + rev_cols if m in METRICS]
    figures = []
    fig, axes = _figure(11.0, max(4.0, 0.28 * len(wide) + 1.5), 2, 1)
    if "transactions_mae" in wide:
        plot_leaderboard(result.leaderboard, "transactions_mae", ax=axes[0, 0],
                         labels=result.display_names)
    if "revenue_mae" in wide:
        plot_leaderboard(result.leaderboard, "revenue_mae", ax=axes[0, 1],
                         labels=result.display_names)
    figures.append(_png(fig, "Leaderboard bar charts",
                        "Holdout MAE per method, error bars one standard deviation across "
                        "backtest cutoffs."))
    for record in model_methods.values():
        pm = record.models["purchase"]
        if _has_covariates(pm):  # a new customer's expectation depends on her attributes
            continue
        title = _model_title(pm)
        fig, axes = _figure(11.0, 3.8, 2, 1)
        plot_cumulative_tracking(log, pm, cal, obs, time_unit=time_unit, ax=axes[0, 0],
                                 label=title)
        plot_incremental_tracking(log, pm, cal, obs, time_unit=time_unit, ax=axes[0, 1],
                                  label=title)
        figures.append(_png(fig, f"Tracking plots of {title}",
                            f"{title}: cumulative and weekly repeat transactions of the "
                            "calibration cohort, actual vs model, calibration end marked."))
    # the predicted count distributions: proper scores, PIT and calibration (models only)
    from clvmodels.evaluation.scores import distribution_scores
    from clvmodels.plotting import plot_count_calibration, plot_pit_histogram

    dist = distribution_scores(result)
    if not dist["table"].empty:
        scored = dist["table"].rename(columns={
            "mean_rps": "mean RPS", "mean_log_score": "mean log score",
            "interval_coverage": f"coverage of {dist['level']:.0%} predictive intervals",
            "pit_max_deviation": "largest PIT deviation"}).sort_values("mean RPS")
        tables.append(_table(_by_display_name(scored, result), "method",
                             table_id="distribution-scores",
                             caption="Predicted distributions of each customer's holdout count: "
                                     "ranked probability score (lower is better), log score "
                                     "(higher), coverage of predictive intervals that include "
                                     "the customer's own purchase noise."))
        best = scored.index[0]
        fig, axes = _figure(11.0, 3.8, 2, 1)
        plot_pit_histogram({result.display_name(m): t for m, t in dist["pit"].items()},
                           ax=axes[0, 0])
        plot_count_calibration(dist["calibration"][best], ax=axes[0, 1],
                               label=result.display_name(best))
        figures.append(_png(fig, "Calibration of the predicted count distributions",
                            "Left: PIT histograms (flat at 1 when calibrated). Right: actual "
                            f"and predicted customers by holdout count, "
                            f"{result.display_name(best)} (lowest RPS)."))
    # per-period tracking of the holdout total by every method with a purchase model
    tracking = result.tracking().attrs["summary"]
    if not tracking.empty:
        tracking = tracking.rename(columns={
            "mae": "weekly MAE", "rmse": "weekly RMSE", "mape": "weekly MAPE %",
            "final_cumulative_error_pct": "cumulative error at the end %"})
        tables.append(_table(_by_display_name(tracking.sort_values("weekly MAE"), result),
                             "method", table_id="tracking-errors",
                             caption="Tracking of the holdout total per period (one time unit): "
                                     "errors of the incremental totals and of the cumulative "
                                     "total at the end of the holdout."))
    # conditional expectations and gains: the models plus the three other methods with the
    # lowest RMSE (MAE favours predicting almost nothing for counts that are mostly 0)
    by_rmse = (wide.sort_values("transactions_rmse").index if "transactions_rmse" in wide
               else order)
    others = [m for m in by_rmse if m not in model_methods and m != "zero"][:3]
    shown = list(model_methods) + others
    p = result.predictions
    first = p[p["method"] == shown[0]] if shown else p.iloc[:0]
    label = result.display_name
    preds = {label(m): p.loc[p["method"] == m, "transactions"].to_numpy() for m in shown}
    cond = None
    if shown:
        ce = conditional_expectations_table(first["frequency"].to_numpy(),
                                            first["actual_transactions"].to_numpy(), preds,
                                            max_frequency)
        cond = _table(ce, "frequency", table_id="conditional-expectations",
                      caption="Mean holdout transactions by calibration frequency.")
        fig, axes = _figure(7.5, 4.2)
        plot_conditional_expectations(first["frequency"].to_numpy(),
                                      first["actual_transactions"].to_numpy(), preds,
                                      max_frequency, ax=axes[0, 0])
        figures.append(_png(fig, "Conditional expectations",
                            "Mean holdout transactions by calibration frequency, actual vs "
                            f"{', '.join(map(label, shown))}."))
        rev_preds = {label(m): p.loc[p["method"] == m, "revenue"].to_numpy() for m in shown}
        fig, axes = _figure(11.0, 4.0, 2, 1)
        plot_gains(first["actual_revenue"].to_numpy(), rev_preds, ax=axes[0, 0])
        plot_gains(first["actual_revenue"].to_numpy(), rev_preds, ax=axes[0, 1], kind="lift")
        figures.append(_png(fig, "Gains and lift curves",
                            "Share of actual holdout revenue captured by customers ranked by "
                            "each method's predicted revenue, and the lift over a random "
                            "ranking."))
    totals = []
    for m in wide.index:
        q = p[p["method"] == m]
        totals.append({"method": m, "predicted": q["transactions"].sum(),
                       "actual": q["actual_transactions"].sum(),
                       "predicted revenue": q["revenue"].sum(),
                       "actual revenue": q["actual_revenue"].sum()})
    totals = pd.DataFrame(totals).set_index("method").loc[order]
    totals.columns = ["predicted transactions", "actual transactions", "predicted revenue",
                      "actual revenue"]
    return {"tables": tables, "legend": legend, "figures": figures, "conditional": cond,
            "totals": _table(_by_display_name(totals, result), "method",
                             table_id="holdout-totals",
                             caption="Holdout totals over the calibration cohort."),
            "failures": [f"{c.date()} {result.display_name(m)}: {msg}"
                         for (c, m), msg in result.failures.items()],
            "best_tx": result.display_name(order[0]) if len(order) else None,
            "best_rev": result.display_name(rev_order[0]) if len(rev_order) else None}


def _backtest_section(result, model_methods, fits) -> dict:
    bt = result.backtest
    tables = []
    for metric in ("transactions_mae", "revenue_mae", "transactions_total_error_pct"):
        rows = bt[bt["metric"] == metric]
        if rows.empty:
            continue
        wide = rows.pivot(index="method", columns="cutoff", values="value")
        wide.columns = [str(c.date()) for c in wide.columns]
        wide["mean"] = wide.mean(axis=1)
        wide["std"] = wide.iloc[:, :-1].std(axis=1, ddof=1) if wide.shape[1] > 2 else np.nan
        wide = wide.sort_values("mean", key=np.abs if metric.endswith("pct") else None)
        tables.append(_table(_by_display_name(wide, result), "method",
                             table_id=f"backtest-{metric}",
                             caption=f"{metric} at each calibration cutoff."))
    params = []
    for name, rows in fits["records"].items():
        frame = []
        for c, r in zip(fits["cutoffs"], rows, strict=True):
            entry = {"cutoff": str(c.date()), "customers": fits["n_customers"][c]}
            model = None if r is None else r.models.get("purchase")
            if model is not None:
                entry.update({k: float(v) for k, v in model.params_.items()})
                entry["log-likelihood"] = model.log_likelihood_
                entry["converged"] = bool(model.converged_)
            entry["warnings"] = (1 if r is None else
                                 len(set(map(_warning_text, r.warnings))) + (r.error is not None))
            frame.append(entry)
        df = pd.DataFrame(frame).set_index("cutoff")
        params.append({"name": result.display_name(name),
                       "table": _table(df, "cutoff", table_id=f"stability-{name}")})
    spend_rows = next((rows for rows in fits["records"].values()
                       if "spend" in rows[fits["main"]].models), None)
    if spend_rows is not None:
        frame = []
        for c, r in zip(fits["cutoffs"], spend_rows, strict=True):
            model = None if r is None else r.models.get("spend")
            entry = {"cutoff": str(c.date()),
                     "repeat customers fitted": np.nan if model is None else model.n_customers_}
            if model is not None:
                entry.update({k: float(v) for k, v in model.params_.items()})
                entry["mean spend"] = float(model.params_["p"] * model.params_["gamma"]
                                            / (model.params_["q"] - 1)) \
                    if model.params_["q"] > 1 else float("nan")
            frame.append(entry)
        df = pd.DataFrame(frame).set_index("cutoff")
        spend = spend_rows[fits["main"]].models["spend"]
        params.append({"name": f"{_model_title(spend)} (spend model of "
                               f"{spend_rows[fits['main']].display_name})",
                       "table": _table(df, "cutoff", table_id="stability-gamma_gamma")})
    figure = None
    rows = bt[bt["metric"] == "transactions_mae"]
    if not rows.empty and rows["cutoff"].nunique() > 1:
        keep = list(model_methods) + [m for m in result.table().sort_values(
            "transactions_rmse").index if m not in model_methods and m != "zero"][:3]
        fig, axes = _figure(7.5, 4.0)
        ax = axes[0, 0]
        for m in keep:
            r = rows[rows["method"] == m].sort_values("cutoff")
            ax.plot(r["cutoff"], r["value"], marker="o", label=result.display_name(m))
        ax.set_xlabel("Calibration cutoff")
        ax.set_ylabel("transactions_mae (lower is better)")
        ax.set_title("Holdout MAE across backtest cutoffs")
        ax.legend()
        fig.autofmt_xdate()
        figure = _png(fig, "Backtest MAE across cutoffs",
                      "transactions_mae of the models and the three other methods with the "
                      "lowest transactions RMSE at each cutoff.")
    fit_warnings = []
    for r in result.fits:  # every method at every cutoff, in the order fitted
        shown = [f"{r.cutoff.date()} {r.display_name}: {_warning_text(w)}" for w in r.warnings]
        fit_warnings += list(dict.fromkeys(shown))
        if r.error is not None:
            fit_warnings.append(f"{r.cutoff.date()} {r.display_name}: {r.error}")
    return {"tables": tables, "params": params, "figure": figure, "warnings": fit_warnings,
            "cutoffs": [str(c.date()) for c in fits["cutoffs"]]}


def _assumptions_section(spend_model, cal_summary, result, model_methods) -> dict:
    items = []
    spend = None
    if spend_model is not None:
        ind = spend_model.independence_
        n = ind["n_customers"]
        sig = ind["p_value"] < ind["alpha"] if np.isfinite(ind["p_value"]) else False
        text = (f"Gamma-Gamma assumes a customer's mean spend per transaction is independent of "
                f"her number of transactions. {ind['method'].capitalize()} correlation between "
                f"frequency and mean repeat spend over the {n:,} repeat customers: "
                f"{ind['correlation']:.3f} (p = {_fmt(ind['p_value'], 3)}). The correlation "
                + ("is" if sig else "is not")
                + f" significantly different from 0 at the {ind['alpha']:g} level; its size is "
                + ("at or above" if abs(ind["correlation"]) >= ind["threshold"] else "below")
                + f" the model's threshold {ind['threshold']:g}, so the check "
                + ("flags a violation." if ind["violated"] else "does not flag a violation."))
        items.append(text)
        repeat = cal_summary[cal_summary["frequency"] > 0]
        bins = [0, 1, 2, 3, 6, np.inf]
        labels = ["1", "2", "3", "4-6", "7+"]
        grp = pd.cut(repeat["frequency"], bins=bins, labels=labels)
        by = repeat.groupby(grp, observed=False)["monetary_value"].agg(
            customers="count", mean="mean", median="median")
        by.index = by.index.astype(str)
        spend = _table(by, "frequency", table_id="spend-by-frequency",
                       caption="Mean repeat spend by calibration frequency (repeat customers).")
    p = result.predictions
    for name, record in model_methods.items():
        title = record.display_name
        q = p[p["method"] == name]
        pred, act = q["transactions"].sum(), q["actual_transactions"].sum()
        items.append(
            f"{title} assumes each customer buys at a constant rate while alive and that "
            "purchase rates and dropout are independent across the population. Checked by "
            f"the holdout total: predicted {pred:,.1f} repeat transactions vs {act:,.0f} "
            f"actual ({100 * (pred - act) / act:+.1f}%)." if act > 0 else
            f"{title}: no holdout transactions to check against.")
    return {"checks": items, "spend_table": spend}


def _limitations(result, summary, fits, cal, obs, unit, compare_warnings, fit) -> list[str]:
    out = []
    n_ex = int(summary.attrs.get("n_excluded_customers", 0))
    out.append("Only customers whose first purchase is on or before the calibration end "
               f"({cal.date()}) are fitted and scored"
               + (f"; {n_ex:,} later customers are not." if n_ex else "."))
    out.append(f"The holdout window is {(obs - cal).days} days long and is a single period; "
               "predictions over other horizons are not validated by this report.")
    if len(fits["cutoffs"]) > 1:
        sizes = ", ".join(f"{c.date()}: {fits['n_customers'][c]:,}" for c in fits["cutoffs"])
        out.append(f"Backtest cutoffs share the main split's holdout length; earlier cutoffs "
                   f"have shorter calibration histories (customers per cutoff: {sizes}), and "
                   "their holdout windows overlap the main calibration period, so the cutoffs "
                   "are not independent tests.")
    else:
        out.append("One cutoff only: no backtest spread is available.")
    out.append("Revenue predictions of the models are expected transactions times the "
               "Gamma-Gamma expected spend; no discounting, margin or acquisition cost is "
               "applied.")
    out.append("Standard errors come from the Hessian of the log-likelihood at the optimum "
               "(asymptotic); confidence intervals are 95% Wald intervals formed on the log "
               "scale.")
    if fit["blocks"]:
        out.append("The chi-square test uses parameters estimated from the same data (degrees "
                   "of freedom reduced by their number) and pools cells expecting fewer than 5 "
                   "customers; with thousands of customers small misfits become significant.")
    if result.failures:
        out.append(f"{len(result.failures)} method fit(s) failed and are missing from the "
                   "affected cutoffs (listed under Holdout performance).")
    if compare_warnings:
        out.append(f"{len(compare_warnings)} distinct warning(s) were raised during the "
                   "comparison (listed below).")
    return out
