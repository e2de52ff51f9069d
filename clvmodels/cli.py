"""The ``clvmodels`` command line.

Exit status: 0 success; 2 a user error (bad input, bad arguments, unreadable or
unwritable file), with one message on stderr and no traceback; 1 an internal
error (a bug: the message asks for a report); 130 / 143 interrupted by SIGINT /
SIGTERM. Inputs are read by :mod:`clvmodels.data.reading` and every output goes
through :class:`clvmodels._output.OutputSet`: refused if it names an input,
written aside and committed with the run's other outputs as a set, so a failed
or interrupted run leaves the previous outputs as they were.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from clvmodels._version import __version__
from clvmodels.errors import CLVError

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 130, 143  # 128 + the signal's number, as shells report it
EXIT_EPILOG = (
    "Exit status: 0 ok, 2 user error (bad input, arguments, model file or unwritable output: "
    "one message on stderr, previous outputs untouched), 1 internal error (a bug: please "
    "report it), 130/143 interrupted by SIGINT/SIGTERM (previous outputs untouched)."
)
PURCHASE_MODELS = {"bgnbd": "BGNBD", "paretonbd": "ParetoNBD", "mbgnbd": "MBGNBD"}
SUMMARY_COLUMNS = ("frequency", "recency", "T")


class _UserError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 already; keep its message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER, f"clvmodels: error: {message}\n")


def _add_log_arguments(p):
    p.add_argument("log", help="transaction log: a .csv or .parquet file")
    p.add_argument("--customer-id", default="customer_id", help="customer id column")
    p.add_argument("--date", default="date", help="date column (ISO dates or YYYYMMDD)")
    p.add_argument("--amount", default=None, help="transaction value column (optional)")
    p.add_argument("--calibration-end", default=None,
                   help="last day of the calibration period (default: last date in the log)")
    p.add_argument("--observation-end", default=None,
                   help="last day of the holdout period (adds holdout columns)")
    p.add_argument("--time-unit", default="W", choices=["D", "W", "M", "Y"],
                   help="unit of recency and T: D=day, W=7 days, M=30.4375 days, "
                        "Y=365.25 days (default W)")
    p.add_argument("--refunds", default="error", choices=["error", "net"],
                   help="negative amounts: an error (default) or netted into the day's total")
    p.add_argument("--monetary", default="repeat", choices=["repeat", "all"],
                   help="monetary_value = mean of repeat transactions (default) or of all")


def _add_scoring_arguments(p, note: str = "") -> None:
    p.add_argument("--horizon", type=float, default=52.0,
                   help=f"projection length in the model's time units (default 52){note}")
    p.add_argument("--discount-rate", type=float, default=0.0,
                   help=f"discount rate per time unit of the model (default 0){note}")
    p.add_argument("--periods-per-step", type=float, default=1.0,
                   help=f"time units per discounting step (default 1){note}")
    p.add_argument("--margin", type=float, default=1.0,
                   help=f"profit margin applied to spend (default 1.0 = revenue){note}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="clvmodels",
        description="Customer lifetime value: summaries, formulas and probabilistic models.",
        epilog=EXIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"clvmodels {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("summarize", help="transaction log -> per-customer summary",
                       description="Summarise a transaction log into one row per customer "
                                   "(frequency, recency, T, monetary value, holdout columns).")
    _add_log_arguments(p)
    p.add_argument("--out", required=True, help="output summary: .csv or .parquet")
    p.add_argument("--quiet", action="store_true", help="do not print warnings")
    p.set_defaults(func=_cmd_summarize)

    p = sub.add_parser("compare", help="score every method on a holdout period",
                       description="Fit every method (formulas, models, baselines) on the "
                                   "calibration period and score its predictions of each "
                                   "customer's holdout transactions and revenue.")
    _add_log_arguments(p)
    p.add_argument("--methods", default=None,
                   help="comma-separated method names (default: all; see --list-methods)")
    p.add_argument("--list-methods", action="store_true", help="print the method names and exit")
    p.add_argument("--n-splits", type=int, default=None,
                   help="backtest over this many calibration cutoffs ending at --calibration-end")
    p.add_argument("--step-days", type=int, default=None, help="days between backtest cutoffs")
    p.add_argument("--seed", type=int, default=0, help="random_state of the methods (default 0)")
    p.add_argument("--out", help="leaderboard (tidy: method, metric, value, ...): .csv or .parquet")
    p.add_argument("--predictions", default=None,
                   help="per-customer predictions and actuals: .csv or .parquet")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no warnings")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "fit", help="transaction log -> fitted purchase + spend models (one JSON file)",
        description="Summarise a transaction log, fit a purchase model (BG/NBD, Pareto/NBD or "
                    "MBG/NBD) and the Gamma-Gamma spend model on the calibration period, and "
                    "write both, with the time unit and cutoffs, to one JSON model file.",
        epilog=EXIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_log_arguments(p)
    p.add_argument("--model", default="bgnbd", choices=sorted(PURCHASE_MODELS),
                   help="purchase model (default bgnbd)")
    p.add_argument("--spend-model", default="gamma-gamma", choices=["gamma-gamma", "none"],
                   help="spend model (default gamma-gamma; needs --amount)")
    p.add_argument("--out", required=True, help="output model file (.json)")
    p.add_argument("--summary-out", default=None,
                   help="also write the calibration summary (.csv or .parquet; Parquet records "
                        "the time unit): 'clvmodels score SUMMARY' then skips re-reading the log")
    p.add_argument("--scores-out", default=None,
                   help="also score every customer of the calibration summary with the fitted "
                        "models, as 'clvmodels score' does (.csv or .parquet): the weekly job "
                        "in one run")
    _add_scoring_arguments(p, note="; with --scores-out")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no warnings")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser(
        "score", help="score customers with a model file: purchases, P(alive), spend, CLV",
        description="Score every customer of a transaction log or of a summary file with the "
                    "models of a 'clvmodels fit' file: expected_purchases over the horizon, "
                    "probability_alive, expected_spend and clv (discounted). A file with the "
                    "columns frequency, recency, T (and monetary_value) is read as a summary; "
                    "any other file as a transaction log, summarised in the model's time unit "
                    "up to --as-of (default: its last date). Horizon and discount rate are per "
                    "the model's time unit.",
        epilog=EXIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="LOG_OR_SUMMARY",
                   help="transaction log or customer summary: a .csv or .parquet file")
    p.add_argument("--model", required=True, help="model file written by 'clvmodels fit'")
    _add_scoring_arguments(p)
    p.add_argument("--as-of", default=None,
                   help="for a log: last day of the history used (default: its last date)")
    p.add_argument("--time-unit", default=None, choices=["D", "W", "M", "Y"],
                   help="unit of the summary file (checked against the model's; a summary "
                        "Parquet written by clvmodels records its unit)")
    p.add_argument("--customer-id", default=None,
                   help="customer id column (default: the one the model was fitted with)")
    p.add_argument("--date", default=None, help="date column of a log (default: as at fit)")
    p.add_argument("--amount", default=None, help="amount column of a log (default: as at fit)")
    p.add_argument("--refunds", default=None, choices=["error", "net"],
                   help="negative amounts in a log (default: as at fit)")
    p.add_argument("--out", required=True, help="output scores: .csv or .parquet")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no warnings")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("report", help="write the model-validation report (one HTML file)",
                       description="Compare every method on the holdout, with backtests, and "
                                   "write a self-contained HTML validation report.")
    _add_log_arguments(p)
    p.add_argument("--methods", default=None, help="comma-separated method names (default: all)")
    p.add_argument("--n-splits", type=int, default=3, help="backtest cutoffs (default 3)")
    p.add_argument("--seed", type=int, default=0, help="random_state of the methods (default 0)")
    p.add_argument("--out", required=True, help="the report: an .html file")
    p.add_argument("--quiet", action="store_true", help="do not print warnings")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("demo", help="the main job on the bundled CDNOW data",
                       description="Summarise the bundled CDNOW sample (39-week calibration, "
                                   "39-week holdout) and print the result.")
    p.set_defaults(func=_cmd_demo)
    return parser


def _summarize_from_args(args):
    from clvmodels.data.summary import rfm_summary

    return rfm_summary(
        args.log, customer_id=args.customer_id, date=args.date, amount=args.amount,
        calibration_end=args.calibration_end, observation_end=args.observation_end,
        time_unit=args.time_unit, monetary=args.monetary, refunds=args.refunds,
    )


def _table_output(outputs, label, path):
    """Register a table output (.csv, .tsv or .parquet) of the run's output set."""
    from clvmodels.data.tables import table_format

    table_format(path)  # fail on a bad extension before reading anything
    return outputs.add(label, path)


def _write_table(outputs, path, frame, **kwargs):
    from clvmodels.data.tables import table_format, write_table_file

    outputs.write(path, lambda tmp: write_table_file(frame, tmp, table_format(path), **kwargs))


def _cmd_summarize(args):
    from clvmodels._output import OutputSet

    with OutputSet(inputs=[("the transaction log", args.log)]) as outputs:
        out = _table_output(outputs, "--out", args.out)
        summary = _summarize_from_args(args)
        _write_table(outputs, out, summary)
        outputs.commit()
    if not args.quiet:
        print(f"wrote {len(summary)} customers to {args.out}", file=sys.stderr)
    return EXIT_OK


LEADERBOARD_COLUMNS = ["transactions_mae", "transactions_total_error_pct", "revenue_mae",
                       "revenue_total_error_pct", "revenue_spearman", "revenue_top20_capture"]


def _cmd_compare(args):
    from clvmodels._output import OutputSet
    from clvmodels.evaluation import available_methods
    from clvmodels.evaluation.harness import compare

    if args.list_methods:
        print("\n".join(available_methods()))
        return EXIT_OK
    if args.calibration_end is None or args.observation_end is None:
        raise CLVError("compare needs --calibration-end and --observation-end.")
    if args.amount is None:
        raise CLVError("compare needs --amount (the revenue column) to score revenue.")
    if args.step_days is not None and args.step_days < 1:
        raise CLVError(f"--step-days {args.step_days}: the days between backtest cutoffs must "
                       "be >= 1.")
    if args.n_splits is not None and args.n_splits < 1:
        raise CLVError(f"--n-splits {args.n_splits}: give at least 1 cutoff.")
    with OutputSet(inputs=[("the transaction log", args.log)]) as outputs:
        for label, path in (("--out", args.out), ("--predictions", args.predictions)):
            if path is not None:
                _table_output(outputs, label, path)
        methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
        res = compare(
            args.log, methods, customer_id=args.customer_id, date=args.date,
            amount=args.amount, calibration_end=args.calibration_end,
            observation_end=args.observation_end, time_unit=args.time_unit,
            n_splits=args.n_splits, step_days=args.step_days,
            progress=not args.quiet and sys.stderr.isatty(), random_state=args.seed,
            refunds=args.refunds,
        )
        settings = {"calibration_end": str(res.settings["calibration_end"].date()),
                    "observation_end": str(res.settings["observation_end"].date()),
                    "time_unit": args.time_unit, "clvmodels_version": __version__}
        if args.out:
            _write_table(outputs, args.out, res.leaderboard, metadata=settings, index=False)
        if args.predictions:
            _write_table(outputs, args.predictions, res.predictions, metadata=settings,
                         index=False)
        outputs.commit()
    _print_leaderboard(res)
    return EXIT_OK


def _print_leaderboard(res):
    import pandas as pd

    table = res.table()
    cols = [c for c in LEADERBOARD_COLUMNS if c in table.columns]
    table = table[cols].sort_values("revenue_mae" if "revenue_mae" in cols else cols[0])
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.max_rows", 100):
        print(f"Holdout of {res.settings['horizon']:.1f} {res.settings['time_unit']} after "
              f"{res.settings['calibration_end'].date()}, {res.settings['n_customers']} customers "
              "(sorted by revenue MAE; total error in % of actual):")
        print(table.round(3).to_string())
        print("MAE favours predicting 0 when most customers buy nothing in the holdout; read it "
              "with the total error and the ranking metrics (Spearman, top-20% capture).")
    for (cutoff, name), message in res.failures.items():
        print(f"FAILED {name} at {cutoff.date()}: {message}", file=sys.stderr)


class _Progress:
    """Stage progress on stderr; silent unless stderr is a terminal (and not --quiet)."""

    def __init__(self, stages: list[str], quiet: bool):
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=len(stages), file=sys.stderr, leave=False,
                             bar_format="{desc} [{n_fmt}/{total_fmt}] {elapsed}")

    def stage(self, name: str) -> None:
        if self._bar is not None:
            if self._bar.desc:
                self._bar.update(1)
            self._bar.set_description_str(name)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _check_scoring_arguments(args) -> None:
    """Refuse scoring arguments outside their meaning before any work (policies in the README)."""
    import math

    from clvmodels.models.clv import step_times

    for flag, value in (("--horizon", args.horizon), ("--periods-per-step",
                                                      args.periods_per_step)):
        if not (math.isfinite(value) and value > 0):
            raise CLVError(f"{flag} {value:g}: give a finite number > 0 (in the model's time "
                           "units).")
    step_times(args.horizon, args.periods_per_step)  # at most MAX_STEPS steps
    rate = args.discount_rate
    if not (math.isfinite(rate) and 0 <= rate < 1):
        raise CLVError(
            f"--discount-rate {rate:g}: a discount rate per time unit of the model must be "
            ">= 0 and below 1 (100% a period); give 0.05 for 5%. For an annual rate on a "
            "weekly model use (1 + annual)^(1/52.18) - 1, e.g. 0.0018 for 10% a year.")
    if not (math.isfinite(args.margin) and 0 <= args.margin <= 1):
        raise CLVError(f"--margin {args.margin:g}: the profit margin is a fraction of revenue "
                       "between 0 and 1 (1 = revenue, 0.3 for 30%).")


def _cmd_fit(args):
    import os

    from clvmodels import models
    from clvmodels._output import OutputSet
    from clvmodels.bundle import ModelBundle

    if not str(args.out).lower().endswith(".json"):
        raise CLVError(f"the model file {args.out!r} must be named .json.")
    if args.scores_out is not None:
        _check_scoring_arguments(args)  # bad horizon or rate: fail before the work
    if args.spend_model == "gamma-gamma" and args.amount is None:
        raise CLVError("--spend-model gamma-gamma needs --amount (the transaction value "
                       "column); give it, or pass --spend-model none.")
    progress = _Progress(["summarise", "fit purchases", "fit spend", "write"]
                         + (["score"] if args.scores_out is not None else []), args.quiet)
    # every output is written aside and the set renamed at the end: a failure or a signal
    # anywhere leaves the previous model, summary and scores as they were
    with OutputSet(inputs=[("the transaction log", args.log)]) as outputs:
        outputs.add("--out", args.out)
        if args.summary_out is not None:
            _table_output(outputs, "--summary-out", args.summary_out)
        if args.scores_out is not None:
            _table_output(outputs, "--scores-out", args.scores_out)
        try:
            progress.stage(f"summarising {os.path.basename(args.log)}")
            summary = _summarize_from_args(args)
            if len(summary) == 0:
                raise CLVError(f"{args.log!r} has no customer with a transaction on or before "
                               "the calibration end; nothing to fit.")
            progress.stage(f"fitting {PURCHASE_MODELS[args.model]}")
            purchase = getattr(models, PURCHASE_MODELS[args.model])().fit(summary)
            spend = None
            if args.spend_model == "gamma-gamma":
                progress.stage("fitting GammaGamma")
                spend = models.GammaGamma(drop_invalid=True).fit(summary)
            progress.stage("writing")
            attrs = summary.attrs
            data = {
                "log": os.path.basename(str(args.log)),
                "customer_id": args.customer_id, "date": args.date, "amount": args.amount,
                "monetary": args.monetary, "refunds": args.refunds,
                "n_customers": int(len(summary)), "n_rows": int(attrs.get("n_rows", 0)),
                "n_excluded_customers": int(attrs.get("n_excluded_customers", 0)),
            }
            bundle = ModelBundle(purchase, spend, time_unit=attrs["time_unit"],
                                 calibration_end=attrs["calibration_end"],
                                 first_transaction=attrs.get("first_transaction"),
                                 observation_end=attrs.get("observation_end"), data=data)
            if args.summary_out is not None:
                _write_table(outputs, args.summary_out, summary)
            outputs.write(args.out, bundle.save)
            if args.scores_out is not None:
                progress.stage(f"scoring {len(summary)} customers")
                scores = _write_scores(outputs, bundle, summary, args, args.scores_out,
                                       model_file=args.out, input_kind="transaction log")
            outputs.commit()
        finally:
            progress.close()
    if not args.quiet:
        def params(m):
            return ", ".join(f"{k}={v:.4g}" for k, v in m.params_.items())

        print(f"{type(purchase).__name__} on {purchase.n_customers_} customers: "
              f"{params(purchase)} (log-likelihood {purchase.log_likelihood_:.1f})",
              file=sys.stderr)
        if spend is not None:
            print(f"GammaGamma on {spend.n_customers_} repeat customers: {params(spend)}",
                  file=sys.stderr)
        print(f"wrote {args.out} ({attrs['time_unit']} units, calibration end "
              f"{attrs['calibration_end'].date()})", file=sys.stderr)
        if args.summary_out is not None:
            print(f"wrote {len(summary)} customers' summary to {args.summary_out}",
                  file=sys.stderr)
        if args.scores_out is not None:
            print(f"wrote {len(scores)} customers' scores to {args.scores_out}",
                  file=sys.stderr)
    return EXIT_OK


def _file_columns(path) -> list[str]:
    from clvmodels.data.reading import file_columns

    return file_columns(path)


def _read_summary_file(path, columns, args, bundle):
    """A summary file (CSV or Parquet) -> DataFrame indexed by customer, with attrs time_unit."""
    import json

    import pandas as pd

    from clvmodels.data.reading import read_table
    from clvmodels.errors import InvalidSummaryError, UnitMismatchError

    needed = list(SUMMARY_COLUMNS) + (["monetary_value"] if bundle.spend_model else [])
    id_col = args.customer_id or bundle.data.get("customer_id")
    file_unit = None
    file_meta = {}
    frame = read_table(path, text_columns=[c for c in columns if c not in needed])
    if frame.attrs["read"]["format"] == "parquet":
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        if b"clvmodels" in meta:
            try:
                file_meta = json.loads(meta[b"clvmodels"])
                file_unit = file_meta.get("time_unit")
            except (ValueError, AttributeError, RecursionError):
                file_meta, file_unit = {}, None
            if not isinstance(file_meta, dict):
                file_meta, file_unit = {}, None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        why = " (the spend model needs monetary_value)" if missing == ["monetary_value"] else ""
        raise InvalidSummaryError(
            f"the summary file {str(path)!r} lacks the column(s) {missing}{why}; it has "
            f"{list(frame.columns)}. Write it with 'clvmodels summarize' (with --amount), or "
            "score the transaction log instead.")
    if isinstance(frame.index, pd.RangeIndex):
        if id_col in frame.columns:
            frame = frame.set_index(id_col)
        else:
            others = [c for c in frame.columns if c not in needed]
            if others:
                frame = frame.set_index(others[0])
    units = {"the model file": bundle.time_unit}
    if file_unit is not None:
        units["the summary file's metadata"] = str(file_unit).upper()
    if args.time_unit is not None:
        units["--time-unit"] = args.time_unit
    if len(set(units.values())) > 1:
        listed = ", ".join(f"{k} says {v!r}" for k, v in units.items())
        raise UnitMismatchError(
            f"time units disagree: {listed}. Recompute the summary with --time-unit "
            f"{bundle.time_unit} ('clvmodels summarize ... --time-unit {bundle.time_unit}'), or "
            "refit the model on data in the summary's unit.")
    if file_unit is None and args.time_unit is None:
        warnings.warn(f"the summary file {str(path)!r} records no time unit; assuming the "
                      f"model's {bundle.time_unit!r} (pass --time-unit to have it checked).",
                      UserWarning, stacklevel=2)
    frame = frame[[c for c in frame.columns if c in needed]]
    frame.attrs = {"time_unit": bundle.time_unit}
    if isinstance(file_meta, dict) and file_meta.get("calibration_end"):
        frame.attrs["calibration_end"] = pd.Timestamp(file_meta["calibration_end"])
    return frame


def _summarize_for_scoring(path, args, bundle):
    from clvmodels.errors import UnitMismatchError

    if args.time_unit is not None and args.time_unit != bundle.time_unit:
        raise UnitMismatchError(
            f"--time-unit {args.time_unit} differs from the model file's unit "
            f"{bundle.time_unit!r}; a log is summarised in the model's unit, so drop "
            "--time-unit or refit the model in that unit.")
    data = bundle.data
    amount = args.amount or data.get("amount")
    if bundle.spend_model is not None and amount is None:
        raise CLVError("the model file has a spend model but no amount column is known; "
                       "pass --amount.")
    with warnings.catch_warnings(record=True) as caught:
        summary = _rfm(path, args, data, amount, bundle)
    for w in caught:  # the library's advice names API arguments; say it in CLI terms
        message = str(w.message)
        if "after calibration_end" in message and "observation_end" in message:
            n = message.split(" ", 1)[0]
            message = (f"{n} transaction day(s) after --as-of "
                       f"({summary.attrs['calibration_end'].date()}) are not used for scoring.")
        warnings.warn(message, w.category, stacklevel=2)
    return summary


def _rfm(path, args, data, amount, bundle):
    from clvmodels.data.summary import rfm_summary

    return rfm_summary(
        path, customer_id=args.customer_id or data.get("customer_id") or "customer_id",
        date=args.date or data.get("date") or "date",
        amount=amount if bundle.spend_model is not None else None,
        calibration_end=args.as_of, time_unit=bundle.time_unit,
        monetary=data.get("monetary") or "repeat",
        refunds=args.refunds or data.get("refunds") or "error",
    )


def _write_scores(outputs, bundle, summary, args, out, *, model_file, input_kind,
                  progress=None):
    """Score the summary's customers with the bundle's models; write them with metadata."""
    from clvmodels.bundle import BUNDLE_FORMAT_VERSION, score_frame

    purchase, spend = bundle.purchase_model, bundle.spend_model
    if spend is None:
        warnings.warn("the model file has no spend model: the scores have expected_purchases "
                      "and probability_alive only (no expected_spend, no clv); fit with "
                      "--amount and --spend-model gamma-gamma for those.", UserWarning,
                      stacklevel=2)
    scores = score_frame(purchase, spend, summary, horizon=args.horizon,
                         discount_rate=args.discount_rate, margin=args.margin,
                         periods_per_step=args.periods_per_step)
    if progress is not None:
        progress.stage("writing")
    metadata = {
        "clvmodels_version": __version__,
        "model_file": str(model_file),
        "model_format_version": BUNDLE_FORMAT_VERSION,
        "model_package_version": bundle.package_version,
        "purchase_model": type(purchase).__name__,
        "spend_model": None if spend is None else type(spend).__name__,
        "time_unit": bundle.time_unit,
        "model_calibration_end": bundle.calibration_end,
        "as_of": summary.attrs.get("calibration_end"),
        "horizon": args.horizon, "discount_rate": args.discount_rate,
        "periods_per_step": args.periods_per_step, "margin": args.margin,
        "input": input_kind,
    }
    _write_table(outputs, out, scores, metadata=metadata)
    return scores


def _cmd_score(args):
    from clvmodels._output import OutputSet
    from clvmodels.bundle import load_bundle

    _check_scoring_arguments(args)
    with OutputSet(inputs=[("the scored data", args.data),
                           ("the model file", args.model)]) as outputs:
        _table_output(outputs, "--out", args.out)
        bundle = load_bundle(args.model)
        columns = _file_columns(args.data)
        is_summary = all(c in columns for c in SUMMARY_COLUMNS)
        progress = _Progress(["read", "score", "write"], args.quiet)
        try:
            if is_summary:
                progress.stage("reading the summary")
                if args.as_of is not None:
                    raise CLVError("--as-of applies to a transaction log; the input is a "
                                   "summary (it has frequency, recency and T columns).")
                summary = _read_summary_file(args.data, columns, args, bundle)
            else:
                progress.stage("summarising the log")
                summary = _summarize_for_scoring(args.data, args, bundle)
            progress.stage(f"scoring {len(summary)} customers")
            scores = _write_scores(outputs, bundle, summary, args, args.out,
                                   model_file=args.model,
                                   input_kind="summary" if is_summary else "transaction log",
                                   progress=progress)
            outputs.commit()
        finally:
            progress.close()
    if not args.quiet:
        print(f"wrote {len(scores)} customers to {args.out}", file=sys.stderr)
    return EXIT_OK


def _cmd_report(args):
    import shlex

    from clvmodels._output import OutputSet
    from clvmodels.report import validation_report

    if args.calibration_end is None or args.observation_end is None:
        raise CLVError("report needs --calibration-end and --observation-end.")
    if args.amount is None:
        raise CLVError("report needs --amount (the revenue column).")
    if not str(args.out).lower().endswith((".html", ".htm")):
        raise CLVError(f"--out {args.out!r}: name the report .html.")
    OutputSet(inputs=[("the transaction log", args.log)]).add("--out", args.out)
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    path = validation_report(
        args.log, customer_id=args.customer_id, date=args.date, amount=args.amount,
        calibration_end=args.calibration_end, observation_end=args.observation_end,
        time_unit=args.time_unit, methods=methods, n_splits=args.n_splits,
        random_state=args.seed, path=args.out, refunds=args.refunds,
        command=shlex.join(["clvmodels", *sys.argv[1:]]),
    )
    if not args.quiet:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return EXIT_OK


def _cmd_demo(args):
    import pandas as pd

    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions
    from clvmodels.evaluation.harness import compare
    from clvmodels.models import BGNBD, GammaGamma, customer_lifetime_value
    from clvmodels.models.clv import convert_discount_rate

    log = load_cdnow_transactions()
    s = rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                    observation_end="1998-06-30", time_unit="W")
    print("CDNOW sample: calibration 1997-01-01..1997-09-30, holdout to 1998-06-30 (weeks)")
    print(f"customers: {len(s)}, calibration repeat transactions: "
          f"{int(s['frequency'].sum())}, holdout transactions: "
          f"{int(s['frequency_holdout'].sum())}\n")
    cal = s[["frequency", "recency", "T", "monetary_value"]]
    bgnbd = BGNBD().fit(cal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gg = GammaGamma(drop_invalid=True).fit(cal)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"BG/NBD (log-likelihood {bgnbd.log_likelihood_:.1f}):")
        print(bgnbd.summary().round(3).to_string())
        print(f"\nGamma-Gamma on the {gg.n_customers_} repeat customers:")
        print(gg.summary().round(3).to_string())
    expected = bgnbd.expected_purchases(cal, t=39.0)
    weekly = convert_discount_rate(0.01, "M", "W")
    clv = customer_lifetime_value(bgnbd, gg, cal, horizon=52, discount_rate=weekly)
    print(f"\nexpected holdout transactions (39 weeks): {expected.sum():.0f} "
          f"(actual {int(s['frequency_holdout'].sum())})")
    print(f"52-week CLV at 1%/month: mean ${clv.mean():.2f}, top 10% of customers hold "
          f"{clv.nlargest(len(clv) // 10).sum() / clv.sum():.0%} of the total\n")
    res = compare(log, calibration_end="1997-09-30", observation_end="1998-06-30",
                  time_unit="W")
    _print_leaderboard(res)
    return EXIT_OK


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USER
    from clvmodels._output import Terminated, handle_termination

    quiet = getattr(args, "quiet", False)
    try:
        with handle_termination(), warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _show_warning
            return args.func(args)
    except (CLVError, OSError) as exc:
        print(f"clvmodels: error: {exc}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("clvmodels: interrupted (SIGINT); no output was changed", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print("clvmodels: terminated (SIGTERM); no output was changed", file=sys.stderr)
        return EXIT_SIGTERM
    except MemoryError:
        print("clvmodels: error: out of memory; the input or the arguments ask for more "
              "memory than this machine has (see the limits in the README).", file=sys.stderr)
        return EXIT_USER
    except Exception as exc:
        print(
            f"clvmodels: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in clvmodels; please report it with the command you ran "
            "(run with CLVMODELS_DEBUG=1 for a traceback).",
            file=sys.stderr,
        )
        import os

        if os.environ.get("CLVMODELS_DEBUG"):
            raise
        return EXIT_INTERNAL


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"clvmodels: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
