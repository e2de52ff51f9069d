"""The ``clvmodels`` command line.

Exit status: 0 success; 2 a user error (bad input, bad arguments, unreadable or
unwritable file), with one message on stderr and no traceback; 1 an internal
error (a bug: the message asks for a report). Output files are written
atomically, so a failed run leaves no partial or stale output.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from clvmodels._version import __version__
from clvmodels.errors import CLVError

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="clvmodels",
        description="Customer lifetime value: summaries, formulas and probabilistic models.",
        epilog="Exit status: 0 ok, 2 user error, 1 internal error.",
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


def _cmd_summarize(args):
    from clvmodels.data.tables import check_writable, table_format, write_table

    table_format(args.out)  # fail on a bad extension or directory before reading anything
    check_writable(args.out)
    summary = _summarize_from_args(args)
    write_table(summary, args.out)
    if not args.quiet:
        print(f"wrote {len(summary)} customers to {args.out}", file=sys.stderr)
    return EXIT_OK


LEADERBOARD_COLUMNS = ["transactions_mae", "transactions_total_error_pct", "revenue_mae",
                       "revenue_total_error_pct", "revenue_spearman", "revenue_top20_capture"]


def _cmd_compare(args):
    from clvmodels.data.tables import check_writable, table_format, write_table
    from clvmodels.evaluation import available_methods
    from clvmodels.evaluation.harness import compare

    if args.list_methods:
        print("\n".join(available_methods()))
        return EXIT_OK
    if args.calibration_end is None or args.observation_end is None:
        raise CLVError("compare needs --calibration-end and --observation-end.")
    if args.amount is None:
        raise CLVError("compare needs --amount (the revenue column) to score revenue.")
    for path in (args.out, args.predictions):
        if path is not None:
            table_format(path)
            check_writable(path)
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    res = compare(
        args.log, methods, customer_id=args.customer_id, date=args.date, amount=args.amount,
        calibration_end=args.calibration_end, observation_end=args.observation_end,
        time_unit=args.time_unit, n_splits=args.n_splits, step_days=args.step_days,
        progress=not args.quiet and sys.stderr.isatty(), random_state=args.seed,
        refunds=args.refunds,
    )
    settings = {"calibration_end": str(res.settings["calibration_end"].date()),
                "observation_end": str(res.settings["observation_end"].date()),
                "time_unit": args.time_unit, "clvmodels_version": __version__}
    if args.out:
        write_table(res.leaderboard, args.out, metadata=settings, index=False)
    if args.predictions:
        write_table(res.predictions, args.predictions, metadata=settings, index=False)
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
    quiet = getattr(args, "quiet", False)
    try:
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _show_warning
            return args.func(args)
    except (CLVError, OSError) as exc:
        print(f"clvmodels: error: {exc}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("clvmodels: interrupted", file=sys.stderr)
        return 130
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
