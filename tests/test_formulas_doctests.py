"""The runnable examples in the formulas' docstrings run and give what they print."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "historical", "cohort", "predictive", "traditional", "retention", "ltv", "whatif",
    "loyalty", "net", "segmentation", "inputs", "predictors",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"clvmodels.formulas.{name}")
    result = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
