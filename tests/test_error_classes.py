"""One exception class per condition, whichever model or entry point meets it.

Impossible customer data (recency > T, negative counts, a Gamma-Gamma spend <= 0, a BG/BB
frequency above its recency) raise :class:`InvalidCustomerDataError` from the estimators
and from the models' pure functions alike; it is both an ``InvalidSummaryError`` and an
``InvalidParameterError``, so code written against either keeps working.
"""

from __future__ import annotations

import pytest

from clvmodels.errors import (
    CLVError,
    InvalidCustomerDataError,
    InvalidParameterError,
    InvalidSummaryError,
)
from clvmodels.models import bgbb, bgnbd, gamma_gamma, mbgnbd, paretonbd
from clvmodels.models.registry import get_spec, model_keys

BAD_RFM = {"frequency": [1, 2], "recency": [5.0, 1.0], "T": [4.0, 3.0]}  # recency > T


def test_the_class_is_both_kinds_of_error():
    assert issubclass(InvalidCustomerDataError, InvalidSummaryError)
    assert issubclass(InvalidCustomerDataError, InvalidParameterError)
    assert issubclass(InvalidCustomerDataError, CLVError)


@pytest.mark.parametrize("key", model_keys(kind="purchase"))
def test_fit_refuses_recency_above_T_with_one_class(key):
    model = get_spec(key).model_class()()
    with pytest.raises(InvalidCustomerDataError, match="recency"):
        model.fit(**BAD_RFM)


@pytest.mark.parametrize("module,params", [
    (bgnbd, (0.243, 4.414, 0.793, 2.426)),
    (mbgnbd, (0.525, 6.183, 0.891, 1.614)),
    (paretonbd, (0.553, 10.578, 0.606, 11.669)),
])
@pytest.mark.parametrize("function", ["log_likelihood", "probability_alive"])
def test_pure_functions_refuse_recency_above_T_with_the_same_class(module, params, function):
    with pytest.raises(InvalidCustomerDataError, match="recency > T"):
        getattr(module, function)(params, *BAD_RFM.values())
    with pytest.raises(InvalidCustomerDataError, match="recency > T"):
        module.expected_purchases(params, *BAD_RFM.values(), 10.0)


def test_spend_and_discrete_data_problems_use_the_same_class():
    with pytest.raises(InvalidCustomerDataError, match="monetary_value"):
        gamma_gamma.log_likelihood((6.25, 3.74, 15.44), [2, 1], [10.0, -1.0])
    with pytest.raises(InvalidCustomerDataError, match="frequency <= recency"):
        bgbb.log_likelihood((1.2, 0.75, 0.66, 2.78), [3], [2], [6])
