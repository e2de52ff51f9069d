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


def _cmd_demo(args):
    import pandas as pd

    from clvmodels.data.summary import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    log = load_cdnow_transactions()
    s = rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                    observation_end="1998-06-30", time_unit="W")
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print("CDNOW sample: calibration 1997-01-01..1997-09-30, holdout to 1998-06-30 (weeks)")
        print(f"customers: {len(s)}, calibration repeat transactions: "
              f"{int(s['frequency'].sum())}, holdout transactions: "
              f"{int(s['frequency_holdout'].sum())}")
        print(s.head(10).round(3).to_string())
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
