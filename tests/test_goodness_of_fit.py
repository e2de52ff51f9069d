"""The pooled chi-square test of observed vs expected counts (clvmodels.evaluation)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from clvmodels.errors import InvalidParameterError
from clvmodels.evaluation import goodness_of_fit, pooled_chi_square


def test_pooling_merges_until_five_expected():
    res = pooled_chi_square([10, 3, 2, 1, 1], [9.0, 4.0, 3.0, 1.0, 0.5], n_params=1)
    assert res["groups"] == [[0], [1, 2, 3, 4]]
    assert res["df"] == 0 and np.isnan(res["statistic"])
    res = pooled_chi_square([50, 30, 20], [45.0, 35.0, 20.0], n_params=0)
    assert res["statistic"] == pytest.approx(25 / 45 + 25 / 35)
    assert res["p_value"] == pytest.approx(stats.chisquare([50, 30, 20], [45, 35, 20]).pvalue)


def test_pooled_cells_equal_scipy_on_the_pooled_counts():
    actual = [40, 25, 12, 6, 3, 2, 1, 1]
    expected = [38.0, 26.0, 13.0, 6.5, 3.0, 1.5, 1.2, 0.8]
    res = pooled_chi_square(actual, expected, n_params=2)
    assert [len(g) for g in res["groups"]] == [1, 1, 1, 1, 4]
    assert res["actual"].sum() == sum(actual) and res["expected"].sum() == pytest.approx(90.0)
    ref = stats.chisquare(res["actual"], res["expected"], ddof=2)
    assert res["df"] == len(res["groups"]) - 1 - 2
    assert res["statistic"] == pytest.approx(ref.statistic)
    assert res["p_value"] == pytest.approx(ref.pvalue)


def test_mismatched_or_non_finite_counts_are_refused():
    with pytest.raises(InvalidParameterError, match="3 cells and expected 2"):
        pooled_chi_square([1, 2, 3], [1.0, 2.0], n_params=0)
    with pytest.raises(InvalidParameterError, match="finite"):
        pooled_chi_square([1, 2], [1.0, np.nan], n_params=0)


def test_docstring_examples():
    result = doctest.testmod(goodness_of_fit, verbose=False)
    assert result.attempted > 0 and result.failed == 0
