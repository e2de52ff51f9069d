"""Print the fuzz corpus's tally of outcomes at the end of the session."""

from __future__ import annotations

import json
import os


def pytest_terminal_summary(terminalreporter):
    from _corpus import OUTCOMES

    if not OUTCOMES:
        return
    terminalreporter.section("fuzz corpus outcomes")
    for key, n in sorted(OUTCOMES.items()):
        terminalreporter.write_line(f"{n:6d}  {key}")
    terminalreporter.write_line(f"{sum(OUTCOMES.values()):6d}  cases in all")
    target = os.environ.get("CLVMODELS_FUZZ_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(dict(OUTCOMES), handle, indent=1, sort_keys=True)
