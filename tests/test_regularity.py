"""estimate_regularity (Wheat & Morrison 1990; per-customer ML) and the litt statistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import InvalidParameterError, InvalidSummaryError
from clvmodels.models.regularity import (
    estimate_regularity,
    log_intertransaction_times,
    plot_regularity,
    regularity_by_customer,
)


def _erlang_log(k, n_customers, n_gaps, seed):
    """Event log of customers with Gamma(k) gaps (mean 40 days, each its own rate)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(5.0, 1.0, n_customers)[:, None] / 5.0
    gaps = rng.gamma(k, 40.0 / k, size=(n_customers, n_gaps)) / rate
    days = np.cumsum(np.maximum(np.round(gaps), 1.0), axis=1)
    days = np.hstack([np.zeros((n_customers, 1)), days])
    return pd.DataFrame({
        "customer_id": np.repeat(np.arange(n_customers), n_gaps + 1),
        "date": pd.Timestamp("2015-01-01") + pd.to_timedelta(days.ravel(), unit="D"),
    })


@pytest.mark.parametrize("k", [1, 2, 3])
def test_wheat_morrison_recovers_the_shape_of_simulated_gaps(k):
    # Var(M) = 1 / (4 (2k + 1)) for M ~ Beta(k, k); with 3000 customers the estimate's
    # standard deviation is below 0.08 at k = 3 (delta method), so 0.35 is > 4 sd
    log = _erlang_log(k, 3000, 3, seed=k)
    assert estimate_regularity(log) == pytest.approx(k, abs=0.35)


def test_mle_shapes_are_scipys_gamma_fits():
    stats = pytest.importorskip("scipy.stats")
    log = _erlang_log(4, 40, 15, seed=9)
    shapes = regularity_by_customer(log)
    assert shapes.size == 40
    for customer in shapes.index[:8]:
        days = pd.to_datetime(log.loc[log.customer_id == customer, "date"]).sort_values()
        gaps = np.diff(days.to_numpy()).astype("timedelta64[D]").astype(float)
        shape, _, _ = stats.gamma.fit(gaps, floc=0)
        assert shapes[customer] == pytest.approx(shape, rel=1e-4)
    assert estimate_regularity(log, method="mle") == pytest.approx(float(np.median(shapes)))


def test_litt_is_the_sum_of_log_gaps_in_the_unit():
    log = pd.DataFrame({"c": ["a", "a", "a", "a", "b"],
                        "d": ["2020-01-01", "2020-01-01", "2020-01-15", "2020-02-12",
                              "2020-03-01"]})
    litt = log_intertransaction_times(log, "c", "d")
    # same-day purchases count once: gaps of 2 and 4 weeks
    assert litt["a"] == pytest.approx(np.log(2.0) + np.log(4.0), rel=1e-15)
    assert litt["b"] == 0.0
    days = log_intertransaction_times(log, "c", "d", time_unit="D", calibration_end="2020-01-31")
    assert days["a"] == pytest.approx(np.log(14.0), rel=1e-15)


def test_errors_and_plot():
    log = _erlang_log(2, 50, 3, seed=1)
    with pytest.raises(InvalidParameterError, match="method"):
        estimate_regularity(log, method="cv")
    with pytest.raises(InvalidSummaryError, match="no column 'cust'"):
        estimate_regularity(log, customer_id="cust")
    with pytest.raises(InvalidSummaryError, match="at least 10 gaps"):
        estimate_regularity(log, method="mle")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert plot_regularity(log, ax=ax) is ax
    assert len(ax.get_lines()) == 2
    plt.close(fig)
