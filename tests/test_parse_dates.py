"""The one date parser of the data layer, used by the harness and the report."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd

import clvmodels.data
from clvmodels.data import parse_dates, validate_transactions


def test_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(parse_dates, "parse_dates", globs={})
    assert tests and tests[0].examples
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


def test_formats_agree_with_the_validated_day_numbers():
    raw = pd.Series(["1997-01-01", "19970102", "1997-01-03T10:00:00"])
    parsed = parse_dates(raw)
    assert parsed.dt.strftime("%Y-%m-%d").tolist() == ["1997-01-01", "1997-01-02", "1997-01-03"]
    ints = parse_dates(pd.Series([19970101, 19971231]))
    assert ints.tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-12-31")]
    log = pd.DataFrame({"customer_id": [1, 1, 2], "date": raw})
    days = validate_transactions(log).day
    expected = (parsed.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    np.testing.assert_array_equal(days, expected)


def test_every_layer_reads_dates_through_the_public_helper():
    import inspect

    from clvmodels.evaluation import harness
    from clvmodels.funnel import events
    from clvmodels.report import builder

    assert "parse_dates" in clvmodels.data.__all__
    for module in (harness, builder, events):
        assert "_parse_dates" not in inspect.getsource(module)
        assert module.parse_dates is parse_dates
