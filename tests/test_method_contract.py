"""The contract every method of the comparison harness keeps (one case per registered method).

Each registered method is fitted on a small CDNOW calibration split and checked
the way the harness relies on it (see :mod:`clvmodels.evaluation.base`):

* ``predict`` returns a DataFrame indexed by the summary's customers, in the
  summary's order, with the float columns ``transactions`` and ``revenue``,
  finite and >= 0 (the optional holdout log-likelihood hook, when present,
  gives one finite value <= 0 per customer);
* neither ``fit`` nor ``predict`` changes the summary or the log it is given;
* ``get_method`` makes a fresh object for every use, and fitting twice (the
  same object again, or a fresh one) gives the same predictions;
* ``display_name`` is a non-empty string, before and after fitting;
* holdout data cannot reach the predictions: a summary with holdout columns
  is refused (the models and baselines) or has no influence on them (the
  formulas read only the calibration columns).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.summary import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import InvalidSummaryError
from clvmodels.evaluation import available_methods, calibration_only, get_method
from clvmodels.evaluation.base import PREDICTION_COLUMNS

CAL, OBS = pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30")
HORIZON = 39.0  # weeks from CAL to OBS
N_CUSTOMERS = 600  # every 4th CDNOW customer: small, but enough for every model to fit

METHODS = available_methods()


@pytest.fixture(scope="module")
def split():
    log = load_cdnow_transactions()
    ids = np.sort(log["customer_id"].unique())[::4][:N_CUSTOMERS]
    log = log[log["customer_id"].isin(ids)].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = rfm_summary(log, amount="amount", calibration_end=CAL, observation_end=OBS,
                           time_unit="W")
    summary = calibration_only(full)
    cal_log = log[log["date"] <= CAL].reset_index(drop=True)
    return full, summary, cal_log


def _fit(method, summary, cal_log):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small sample: Hessian or convergence warnings
        if getattr(method, "needs_transactions", False):
            return method.fit(summary, cal_log)
        return method.fit(summary)


def _predict(method, summary):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return method.predict(summary, HORIZON)


def test_every_kind_of_method_is_covered():
    assert {"bgnbd", "paretonbd", "mbgnbd", "zero", "own_rate", "population_rate",
            "gradient_boosting", "historical_arpu", "cohort"} <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_method_contract(name, split):
    full, summary, cal_log = split
    summary_before, log_before = summary.copy(), cal_log.copy()
    attrs_before = dict(summary.attrs)

    method = get_method(name)
    other = get_method(name)
    assert method is not other  # a fresh object for every use
    for m in (method, other):
        assert isinstance(m.display_name, str) and m.display_name.strip()

    assert _fit(method, summary, cal_log) is method
    first = _predict(method, summary)

    # the frame the harness expects
    assert isinstance(first, pd.DataFrame)
    assert first.index.equals(summary.index)
    assert set(PREDICTION_COLUMNS) <= set(first.columns)
    for col in PREDICTION_COLUMNS:
        values = first[col].to_numpy(dtype=float)
        assert np.isfinite(values).all(), col
        assert (values >= 0).all(), col
    hook = getattr(method, "log_likelihood_holdout", None)
    if callable(hook):
        counts = full["frequency_holdout"].to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ll = np.asarray(hook(summary, HORIZON, counts), dtype=float)
        assert ll.shape == (len(summary),)
        assert np.isfinite(ll).all() and (ll <= 1e-12).all()

    # the inputs are left as they were
    pd.testing.assert_frame_equal(summary, summary_before)
    assert summary.attrs == attrs_before
    pd.testing.assert_frame_equal(cal_log, log_before)

    # fitting twice gives the same predictions: the same object again, and a fresh one
    _fit(method, summary, cal_log)
    pd.testing.assert_frame_equal(_predict(method, summary), first, rtol=1e-10, atol=1e-12)
    _fit(other, summary, cal_log)
    pd.testing.assert_frame_equal(_predict(other, summary), first, rtol=1e-10, atol=1e-12)
    assert isinstance(method.display_name, str) and method.display_name.strip()

    # holdout data cannot reach the predictions: refused, or without any influence
    leaked = get_method(name)
    try:
        _fit(leaked, full, cal_log)
    except InvalidSummaryError as exc:
        assert "holdout" in str(exc)
    else:
        pd.testing.assert_frame_equal(_predict(leaked, full)[list(PREDICTION_COLUMNS)],
                                      first[list(PREDICTION_COLUMNS)], rtol=1e-10, atol=1e-12)
