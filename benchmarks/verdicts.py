"""The verdict on three real data sets, side by side (issue 16, item 7).

* CDNOW (the bundled 1/10 sample): calibration to 1997-09-30, holdout to 1998-06-30;
* BTYDplus's online grocery log (``../shared/data/grocery_elog.csv``, no amounts: each
  transaction is worth 1, so only the transaction decisions are judged): calibration to
  2006-12-31, holdout 2007 (BTYDplus's HowTo split);
* CLVTools' apparel log (``../shared/data/apparel_transactions.csv``): a 104-week
  estimation period from 2005-01-02 (CLVTools' vignette), holdout to 2010-12-20.

Every registered method is compared (weeks); the verdict uses 200 paired resamples.
Writes ``benchmarks/results/verdicts.json`` and prints a Markdown table for the docs.

    python benchmarks/verdicts.py              # all three data sets
    python benchmarks/verdicts.py --quick      # CDNOW with four methods, writes nothing
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd
from _common import machine

import clvmodels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TRANSACTION_DECISIONS = {
    "budgeting: total transactions": ("transactions", "abs_total_error_pct"),
    "targeting: who buys most": ("transactions", "gini"),
    "valuation: transactions per customer": ("transactions", "rmse"),
    "forecast distribution: holdout counts": ("transactions", "mean_rps"),
}


def datasets(quick: bool):
    cdnow = clvmodels.datasets.load_cdnow_transactions()
    yield "CDNOW", cdnow, "1997-09-30", "1998-06-30", None
    if quick:
        return
    grocery = pd.read_csv(DATA / "grocery_elog.csv")
    grocery = pd.DataFrame({"customer_id": grocery["cust"], "date": grocery["date"],
                            "amount": 1.0})
    yield "groceryElog", grocery, "2006-12-31", "2007-12-30", TRANSACTION_DECISIONS
    apparel = pd.read_csv(DATA / "apparel_transactions.csv")
    apparel = pd.DataFrame({"customer_id": apparel["Id"], "date": apparel["Date"],
                            "amount": apparel["Price"]})
    yield "apparel", apparel, "2006-12-31", "2010-12-20", None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="CDNOW, four methods, write nothing")
    args = ap.parse_args()
    methods = ["bgnbd", "paretonbd", "own_rate", "zero"] if args.quick else None
    out, lines = {}, []
    for name, log, cal, obs, decisions in datasets(args.quick):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = clvmodels.compare(log, methods, calibration_end=cal, observation_end=obs,
                                    n_splits=3)
            verdict = res.verdict(n_boot=200, decisions=decisions)
        elapsed = time.perf_counter() - t0
        out[name] = {
            "calibration_end": cal, "observation_end": obs,
            "n_customers": int(res.settings["n_customers"]),
            "n_methods": len(res.settings["methods"]), "seconds": elapsed,
            "failures": {f"{c.date()} {m}": msg for (c, m), msg in res.failures.items()},
            "verdict": verdict.reset_index().to_dict(orient="records"),
        }
        for decision, row in verdict.iterrows():
            best = res.display_name(row["method"])
            runner = res.display_name(row["runner_up"]) if row["runner_up"] else "-"
            shown = best if row["significant"] else f"no clear winner ({best} / {runner})"
            lines.append(f"| {name} | {decision} | {shown} | {runner} | {row['margin']:.3g} "
                         f"[{row['ci_lower']:.3g}, {row['ci_upper']:.3g}] |")
        print(f"{name}: {res.settings['n_customers']} customers, "
              f"{len(res.settings['methods'])} methods, {elapsed:.0f} s", flush=True)
    print("\n| data | decision | verdict | runner-up | margin [90% CI] |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))
    if not args.quick:
        path = Path(__file__).parent / "results" / "verdicts.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"machine": machine(), "datasets": out}, indent=2,
                                  default=str) + "\n")
        os.replace(tmp, path)


if __name__ == "__main__":
    main()
