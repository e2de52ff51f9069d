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


class _RegistryChoices:
    """argparse ``choices`` read from the model registry when first needed.

    Importing the registry imports ``clvmodels.models`` (every model, scipy), so
    the parser must not do it while it is built: ``clvmodels --version`` or
    ``clvmodels score`` would pay for it. argparse only tests membership (when
    the option is given) and iterates (for help and errors).
    """

    def __init__(self, extra: tuple[str, ...] = (), hyphens: bool = False, **capabilities):
        self._extra, self._hyphens, self._capabilities = extra, hyphens, capabilities

    def _keys(self) -> list[str]:
        from clvmodels.models.registry import model_keys

        keys = sorted(model_keys(**self._capabilities))
        return [k.replace("_", "-") if self._hyphens else k for k in keys] + list(self._extra)

    def __iter__(self):
        return iter(self._keys())

    def __contains__(self, value) -> bool:
        return value in self._keys()


#: ``--model`` choices of ``fit``: the registry's purchase models without covariates.
PURCHASE_MODELS = _RegistryChoices(kind="purchase", covariates=False, engine="ml")
#: ``--spend-model`` choices of ``fit``: the registry's spend models, spelled with hyphens
#: ("gamma-gamma"; "gamma_gamma" is accepted too), and "none".
SPEND_MODELS = _RegistryChoices(extra=("none",), hyphens=True, kind="spend")
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
    p.add_argument("--n-boot", type=int, default=200,
                   help="bootstrap resamples of the verdict (default 200; 0: no verdict)")
    p.add_argument("--verdict-out", default=None,
                   help="the verdict table (one row a decision): .csv or .parquet")
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
    # metavar: argparse would otherwise iterate the choices (import the models) right here
    p.add_argument("--model", default="bgnbd", choices=PURCHASE_MODELS, metavar="MODEL",
                   help="purchase model: %(choices)s (default %(default)s)")
    p.add_argument("--spend-model", default="gamma-gamma", choices=SPEND_MODELS,
                   metavar="SPEND_MODEL", type=lambda v: v.strip().lower().replace("_", "-"),
                   help="spend model: %(choices)s (default %(default)s; needs --amount)")
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

    p = sub.add_parser(
        "funnel", help="sales funnel: conversion per stage (censoring-aware) and lead values",
        description="Read an event log of leads (lead id, stage, date; a 'lost' stage for "
                    "leads that dropped out), write one row per stage (entered, moved on, "
                    "dropped out, open, naive and censoring-aware conversion with intervals, "
                    "days to the next stage) and print it; with --model or --clv, also print "
                    "what a lead at each stage is worth and may cost.",
        epilog=EXIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("events", help="event log: a .csv or .parquet file")
    p.add_argument("--out", required=True, help="the funnel table: .csv or .parquet")
    p.add_argument("--lead-id", default="lead_id", help="lead id column (default lead_id)")
    p.add_argument("--stage", default="stage", help="stage column (default stage)")
    p.add_argument("--date", default="date", help="date column (default date)")
    p.add_argument("--channel", default=None, help="channel or source column (optional)")
    p.add_argument("--stages", default="prospect,lead,opportunity,customer",
                   help="comma-separated stages in funnel order (default "
                        "prospect,lead,opportunity,customer)")
    p.add_argument("--lost", default="lost",
                   help="stage value of a loss event (default lost; 'none' if the log has none)")
    p.add_argument("--cutoff", default=None, help="date the funnel is observed at (default: "
                                                  "the last event's date)")
    p.add_argument("--timeout", type=float, default=None,
                   help="days after which a lead still open in its stage counts as dropped out")
    p.add_argument("--skipped", default="error", choices=["error", "pass"],
                   help="a lead skipping a stage: an error (default) or count it as passed")
    p.add_argument("--duplicates", default="error", choices=["error", "first"],
                   help="a lead entering a stage twice: an error (default) or keep the earliest")
    p.add_argument("--by", default=None, choices=["cohort", "channel"],
                   help="one table per month of entry or per channel (needs --channel)")
    p.add_argument("--interval", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("--model", default=None,
                   help="model file of 'clvmodels fit': lead values from its new-customer CLV")
    p.add_argument("--clv", type=float, default=None,
                   help="or the value of a new customer as a number (a formula's CLV)")
    p.add_argument("--target-ratio", type=float, default=3.0,
                   help="CLV:CAC target for the affordable cost per lead (default 3)")
    p.add_argument("--values-out", default=None, help="also write the lead values (.csv/.parquet)")
    _add_scoring_arguments(p, note="; with --model, in the model's time unit")
    p.add_argument("--quiet", action="store_true", help="do not print warnings")
    p.set_defaults(func=_cmd_funnel)

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


LEADERBOARD_COLUMNS = ["transactions_rmse", "transactions_total_error_pct", "revenue_rmse",
                       "revenue_total_error_pct", "revenue_gini", "revenue_top20_capture",
                       "transactions_mae", "revenue_mae"]
#: the leaderboard is sorted by the metric of the verdict's valuation decision
LEADERBOARD_SORT = "revenue_rmse"


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
    if args.n_boot != 0 and args.n_boot < 2:
        raise CLVError(f"--n-boot must be 0 (no verdict) or at least 2, got {args.n_boot}.")
    if args.verdict_out is not None and args.n_boot == 0:
        raise CLVError("--verdict-out needs the verdict: drop --n-boot 0.")
    if args.step_days is not None and args.step_days < 1:
        raise CLVError(f"--step-days {args.step_days}: the days between backtest cutoffs must "
                       "be >= 1.")
    if args.n_splits is not None and args.n_splits < 1:
        raise CLVError(f"--n-splits {args.n_splits}: give at least 1 cutoff.")
    with OutputSet(inputs=[("the transaction log", args.log)]) as outputs:
        for label, path in (("--out", args.out), ("--predictions", args.predictions),
                            ("--verdict-out", args.verdict_out)):
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
        verdict = None
        if args.n_boot:
            verdict = res.verdict(n_boot=args.n_boot, random_state=args.seed)
            if args.verdict_out:
                _write_table(outputs, args.verdict_out, verdict.reset_index(),
                             metadata=settings, index=False)
        outputs.commit()
    if verdict is not None:
        _print_verdict(res, verdict)
    _print_leaderboard(res)
    return EXIT_OK


def _print_verdict(res, verdict):
    """The verdict first: per decision, the method to use, or 'no clear winner'."""
    level = verdict.attrs.get("level", 0.9)
    print(f"Verdict ({verdict.attrs.get('n_boot')} paired bootstrap resamples of the customers, "
          f"{level:.0%} intervals of the runner-up's margin; 'no clear winner' when the interval "
          "includes 0):")
    width = max(len(d) for d in verdict.index)
    for decision, row in verdict.iterrows():
        best = res.display_name(row["method"])
        metric = row["metric"]
        if row["runner_up"] is None:
            print(f"  {decision:<{width}}  {best} (the only method scored)")
            continue
        runner = res.display_name(row["runner_up"])
        margin = (f"{row['margin']:.3g} [{row['ci_lower']:.3g}, {row['ci_upper']:.3g}] "
                  f"{metric}")
        if row["significant"]:
            print(f"  {decision:<{width}}  {best}; runner-up {runner} by {margin}")
        else:
            print(f"  {decision:<{width}}  no clear winner: {best} or {runner} "
                  f"(margin {margin})")
    print()


def _print_leaderboard(res):
    import pandas as pd

    table = res.table()
    cols = [c for c in LEADERBOARD_COLUMNS if c in table.columns]
    key = LEADERBOARD_SORT if LEADERBOARD_SORT in cols else cols[0]
    table = table[cols].sort_values(key)
    # people read the display names ("BG/NBD + Gamma-Gamma"); --out files keep the names
    table.index = pd.Index([res.display_name(m) for m in table.index], name="method")
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.max_rows", 100):
        print(f"Holdout of {res.settings['horizon']:.1f} {res.settings['time_unit']} after "
              f"{res.settings['calibration_end'].date()}, {res.settings['n_customers']} customers "
              "(sorted by revenue RMSE, the verdict's valuation metric; total error in % of "
              "actual):")
        print(table.round(3).to_string())
        print("MAE favours predicting 0 when most customers buy nothing in the holdout, so the "
              "verdict judges valuation by RMSE, budgeting by the total error and targeting "
              "by the Gini.")
    for (cutoff, name), message in res.failures.items():
        print(f"FAILED {res.display_name(name)} at {cutoff.date()}: {message}", file=sys.stderr)


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

    from clvmodels._output import OutputSet
    from clvmodels.bundle import ModelBundle
    from clvmodels.models.registry import get_spec

    if not str(args.out).lower().endswith(".json"):
        raise CLVError(f"the model file {args.out!r} must be named .json.")
    if args.scores_out is not None:
        _check_scoring_arguments(args)  # bad horizon or rate: fail before the work
    spend_spec = (None if args.spend_model == "none"
                  else get_spec(args.spend_model.replace("-", "_")))
    if spend_spec is not None and args.amount is None:
        raise CLVError(f"--spend-model {args.spend_model} needs --amount (the transaction value "
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
            purchase_spec = get_spec(args.model)
            progress.stage(f"fitting {purchase_spec.display_name}")
            purchase = purchase_spec.model_class()().fit(summary)
            spend = None
            if spend_spec is not None:
                progress.stage(f"fitting {spend_spec.display_name}")
                spend = spend_spec.model_class()(drop_invalid=True).fit(summary)
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

        print(f"{purchase_spec.display_name} on {purchase.n_customers_} customers: "
              f"{params(purchase)} (log-likelihood {purchase.log_likelihood_:.1f})",
              file=sys.stderr)
        if spend is not None:
            print(f"{spend_spec.display_name} on {spend.n_customers_} repeat customers: "
                  f"{params(spend)}", file=sys.stderr)
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


def _cmd_funnel(args):
    import pandas as pd

    from clvmodels._output import OutputSet
    from clvmodels.funnel import funnel_spells, funnel_table, lead_value

    if args.model is not None and args.clv is not None:
        raise CLVError("give --model or --clv (the value of a new customer), not both.")
    if args.values_out is not None and args.model is None and args.clv is None:
        raise CLVError("--values-out needs --model or --clv (the value of a new customer).")
    bundle = None
    if args.model is not None:
        from clvmodels.bundle import load_bundle

        bundle = load_bundle(args.model)
    inputs = [("the event log", args.events)] + (
        [("the model file", args.model)] if args.model is not None else [])
    with OutputSet(inputs=inputs) as outputs:
        _table_output(outputs, "--out", args.out)
        if args.values_out is not None:
            _table_output(outputs, "--values-out", args.values_out)
        table, spells, values, source = _funnel_results(args, bundle, funnel_spells,
                                                        funnel_table, lead_value)
        settings = {"clvmodels_version": __version__, "events": str(args.events),
                    "interval": args.interval}
        _write_table(outputs, args.out, table.reset_index(), metadata=settings, index=False)
        if values is not None and args.values_out is not None:
            _write_table(outputs, args.values_out, values.reset_index(), metadata=settings,
                         index=False)
        outputs.commit()
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.max_rows", 200):
        print(f"Funnel as of {spells.attrs['cutoff'].date()}: {spells.attrs['n_leads']} leads "
              f"(conversion = eventual probability of moving on, open leads censored; "
              f"{args.interval:.0%} intervals):")
        print(table.round(3).to_string())
        if values is not None:
            print(f"\nLead values (customer value {values.attrs['customer_value']:.2f} from "
                  f"{source}; max cost per lead at CLV:CAC {args.target_ratio:g}):")
            print(values.round(4).to_string())
    if not args.quiet:
        print(f"wrote {len(table)} rows to {args.out}", file=sys.stderr)
    return EXIT_OK


def _funnel_results(args, bundle, funnel_spells, funnel_table, lead_value):
    """The funnel table, the spells and (with --model or --clv) the lead values."""
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    spells = funnel_spells(
        args.events, lead_id=args.lead_id, stage=args.stage, date=args.date,
        channel=args.channel, stages=stages,
        lost=None if args.lost.lower() == "none" else args.lost, cutoff=args.cutoff,
        timeout=args.timeout, skipped=args.skipped, duplicates=args.duplicates)
    table = funnel_table(spells, by=args.by, interval=args.interval)
    values, source = None, None
    if bundle is not None:
        values = lead_value(
            spells, purchase_model=bundle.purchase_model, spend_model=bundle.spend_model,
            horizon=args.horizon, discount_rate=args.discount_rate, margin=args.margin,
            periods_per_step=args.periods_per_step, target_ratio=args.target_ratio)
        source = (f"{type(bundle.purchase_model).__name__} new-customer CLV over "
                  f"{args.horizon:g} {bundle.time_unit} at {args.discount_rate:g} per "
                  f"{bundle.time_unit}")
    elif args.clv is not None:
        values = lead_value(spells, clv=args.clv, target_ratio=args.target_ratio)
        source = "--clv"
    return table, spells, values, source


def _cmd_demo(args):
    import pandas as pd

    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions
    from clvmodels.evaluation.harness import compare
    from clvmodels.models import BGNBD, GammaGamma, customer_lifetime_value
    from clvmodels.models.clv import convert_discount_rate
    from clvmodels.models.registry import display_name

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
        print(f"{display_name(bgnbd)} (log-likelihood {bgnbd.log_likelihood_:.1f}):")
        print(bgnbd.summary().round(3).to_string())
        print(f"\n{display_name(gg)} on the {gg.n_customers_} repeat customers:")
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
    _print_verdict(res, res.verdict())
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
