"""Forecast of the customer base (clvmodels.models.forecast) and its tracking-plot band.

What is checked against what:

* the simulated distribution of one customer's future purchases against the
  model's conditional PMF (``conditional_log_probability_of_purchases``,
  checked against mpmath and Monte Carlo of each model's story in
  tests/test_conditional_pmf.py), for BG/NBD, MBG/NBD and Pareto/NBD;
* the mean of the simulated totals (without parameter uncertainty) against
  the sum of the models' closed-form ``expected_purchases`` (and
  ``expected_spend`` times it), within Monte Carlo error, per period;
* the deterministic columns against ``expected_purchases`` summed directly;
* parameter uncertainty widens the interval; seeds reproduce; errors;
* the CDNOW holdout forecast (weeks 40-78) at the published BG/NBD point value.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from clvmodels.data.simulate import simulate_bgnbd_summary, simulate_gamma_gamma_spend
from clvmodels.errors import InvalidParameterError, UnitMismatchError
from clvmodels.models.bgbb import BGBB
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.forecast import forecast_customer_base, simulate_customer_base
from clvmodels.models.gamma_gamma import GammaGamma
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.paretonbd import ParetoNBD

matplotlib.use("Agg")

MODELS = [
    BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W"),
    MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614, time_unit="W"),
    ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669, time_unit="W"),
]
HISTORIES = pd.DataFrame({"frequency": [0, 1, 4, 12], "recency": [0.0, 5.0, 30.0, 36.0],
                          "T": [38.0, 30.0, 38.0, 38.0]})


@pytest.fixture(scope="module")
def cdnow():
    from clvmodels import rfm_summary
    from clvmodels.datasets import load_cdnow_transactions

    return rfm_summary(load_cdnow_transactions(), amount="amount",
                       calibration_end="1997-09-30", observation_end="1998-06-30")


@pytest.fixture(scope="module")
def simulated():
    """A simulated cohort with spend, fitted BG/NBD and Gamma-Gamma models."""
    s = simulate_bgnbd_summary(600, r=0.25, alpha=4.0, a=0.8, b=2.5,
                               T=np.linspace(10, 52, 600), random_state=2)
    spend = simulate_gamma_gamma_spend(s["frequency"].to_numpy(), 6.25, 3.74, 15.44,
                                       random_state=3)
    s["monetary_value"] = np.where(s["frequency"] > 0, spend, 0.0)
    return s, BGNBD().fit(s), GammaGamma().fit(s[s["frequency"] > 0])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_one_customer_simulated_counts_follow_the_conditional_pmf(model):
    n_sims = 20_000
    counts = np.arange(8)
    for i in range(len(HISTORIES)):
        one = HISTORIES.iloc[[i]]
        sims = simulate_customer_base(model, one, [26.0], n_sims=n_sims,
                                      parameter_uncertainty=False, random_state=i)
        y = sims["transactions"][:, 0]
        observed = np.array([(y == c).mean() for c in counts])
        many = HISTORIES.iloc[[i] * counts.size]
        pmf = np.exp(model.conditional_log_probability_of_purchases(many, counts, 26.0))
        tolerance = 4.5 * np.sqrt(pmf * (1 - pmf) / n_sims) + 1e-4
        assert np.all(np.abs(observed - pmf) <= tolerance), (i, observed, pmf)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_simulated_mean_equals_the_closed_form_sum_per_period(model, simulated):
    s = simulated[0]
    ends = np.array([4.0, 13.0, 26.0])
    sims = simulate_customer_base(model, s, ends, n_sims=3000, parameter_uncertainty=False,
                                  random_state=1)["transactions"]
    previous = 0.0
    for k, t in enumerate(ends):
        cumulative = model.expected_purchases(s, t=t).sum()
        expected = cumulative - previous
        previous = cumulative
        se = sims[:, k].std() / np.sqrt(sims.shape[0])
        assert abs(sims[:, k].mean() - expected) <= 4 * se, (k, sims[:, k].mean(), expected)


def test_simulated_revenue_mean_equals_spend_times_purchases(simulated):
    s, m, g = simulated
    sims = simulate_customer_base(m, s, [13.0], spend_model=g, n_sims=4000,
                                  parameter_uncertainty=False, random_state=5)
    expected = float(g.expected_spend(s) @ m.expected_purchases(s, t=13.0))
    revenue = sims["revenue"][:, 0]
    assert abs(revenue.mean() - expected) <= 4 * revenue.std() / np.sqrt(revenue.size)
    # every simulated transaction carries a positive value
    assert np.all((sims["revenue"] > 0) == (sims["transactions"] > 0))


def test_forecast_table_columns_closed_forms_and_interval(simulated):
    s, m, g = simulated
    f = forecast_customer_base(m, s, horizon=10, period=4, spend_model=g, n_sims=400,
                               random_state=0)
    assert f.index.tolist() == [1, 2, 3]
    np.testing.assert_allclose(f["end"], [4.0, 8.0, 10.0])
    np.testing.assert_allclose(f["start"], [0.0, 4.0, 8.0])
    cum = np.array([m.expected_purchases(s, t=t).sum() for t in (4.0, 8.0, 10.0)])
    np.testing.assert_allclose(f["cumulative_expected_transactions"], cum, rtol=1e-10)
    np.testing.assert_allclose(f["expected_transactions"], np.diff(cum, prepend=0.0),
                               rtol=1e-10)
    spend = g.expected_spend(s).to_numpy()
    rev = np.array([spend @ m.expected_purchases(s, t=t).to_numpy() for t in (4.0, 8.0, 10.0)])
    np.testing.assert_allclose(f["cumulative_expected_revenue"], rev, rtol=1e-10)
    for name in ("transactions", "revenue"):
        assert (f[f"{name}_lower"] <= f[f"simulated_{name}"]).all()
        assert (f[f"simulated_{name}"] <= f[f"{name}_upper"]).all()
        assert (np.diff(f[f"cumulative_{name}_upper"]) >= 0).all()
    assert f.attrs["interval"] == 0.9 and f.attrs["parameter_uncertainty"]


def test_parameter_uncertainty_widens_the_interval(simulated):
    s, m, _ = simulated
    both = forecast_customer_base(m, s, horizon=26, period=26, n_sims=2000, random_state=0)
    process = forecast_customer_base(m, s, horizon=26, period=26, n_sims=2000, random_state=0,
                                     parameter_uncertainty=False)
    width = lambda f: float(f["transactions_upper"].iloc[0] - f["transactions_lower"].iloc[0])  # noqa: E731
    assert width(both) > 1.1 * width(process)
    # the process-only spread is the sum of independent customers' variances (normal approx.)
    assert process.attrs["covers"].startswith("each customer's own")


def test_seed_reproduces_and_bootstrap_draws_work(simulated):
    s, m, _ = simulated
    a = forecast_customer_base(m, s, horizon=8, period=4, n_sims=100, random_state=3)
    b = forecast_customer_base(m, s, horizon=8, period=4, n_sims=100, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    boot = forecast_customer_base(m, s, horizon=8, period=4, n_sims=50, random_state=3,
                                  method="bootstrap", n_boot=10, fit_summary=s)
    assert boot.attrs["method"] == "bootstrap"


def test_cdnow_holdout_forecast(cdnow):
    """Weeks 40-78: BG/NBD point forecast 1,653.4 (FHL 2005); the actual was 1,882."""
    m = BGNBD().fit(cdnow)
    f = forecast_customer_base(m, cdnow, horizon=39, period=39, n_sims=1000, random_state=0)
    row = f.iloc[0]
    assert row["expected_transactions"] == pytest.approx(1653.4, abs=0.5)
    assert cdnow["frequency_holdout"].sum() == 1882
    assert row["transactions_lower"] < row["expected_transactions"] < row["transactions_upper"]
    assert f["end_date"].iloc[0] == pd.Timestamp("1998-06-30")


def test_errors(simulated):
    s, m, _ = simulated
    with pytest.raises(InvalidParameterError,
                       match="BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gompertz/NBD"):
        forecast_customer_base(BGBB.from_params(alpha=1, beta=1, gamma=1, delta=1), s, 4)
    with pytest.raises(InvalidParameterError, match="interval"):
        forecast_customer_base(m, s, 4, interval=90)
    with pytest.raises(InvalidParameterError, match="n_sims"):
        forecast_customer_base(m, s, 4, n_sims=0)
    with pytest.raises(InvalidParameterError, match="horizon"):
        forecast_customer_base(m, s, -1)
    days = s.copy()
    days.attrs = {"time_unit": "D"}
    with pytest.raises(UnitMismatchError):
        forecast_customer_base(m, days, 4)
    with pytest.raises(InvalidParameterError, match="from_params.*parameter_uncertainty=False"):
        forecast_customer_base(MODELS[0], s, 4)
    with pytest.raises(InvalidParameterError, match="GammaGamma"):
        forecast_customer_base(m, s, 4, spend_model=m)


def test_tracking_plots_draw_the_forecast_band_and_are_unchanged_without_it(cdnow):
    from clvmodels.datasets import load_cdnow_transactions
    from clvmodels.plotting import (
        forecast_band_table,
        plot_cumulative_tracking,
        plot_incremental_tracking,
        tracking_table,
    )

    log = load_cdnow_transactions()
    m = BGNBD().fit(cdnow)
    f = forecast_customer_base(m, cdnow, horizon=39, period=13, n_sims=200, random_state=0)
    table = tracking_table(log, m, "1997-09-30", "1998-06-30")
    band = forecast_band_table(table, f, "cumulative")
    base = table.loc[~table["holdout"], "cumulative_actual"].iloc[-1]
    assert band["expected"].iloc[0] == base
    assert band["expected"].iloc[-1] == pytest.approx(base + f[
        "cumulative_expected_transactions"].iloc[-1])
    np.testing.assert_allclose(band["time"].iloc[1:], table.attrs["calibration_time"] + f["end"])
    weekly = forecast_band_table(table, f, "incremental")
    np.testing.assert_allclose(weekly["expected"], f["expected_transactions"] / 13.0)

    plain = plot_cumulative_tracking(log, m, "1997-09-30", "1998-06-30")
    with_band = plot_cumulative_tracking(log, m, "1997-09-30", "1998-06-30", forecast=f)
    assert len(plain.lines) == 3 and len(plain.collections) == 0
    assert len(with_band.lines) == 4 and len(with_band.collections) == 1
    inc = plot_incremental_tracking(log, m, "1997-09-30", "1998-06-30", forecast=f)
    assert len(inc.collections) == 1
    with pytest.raises(InvalidParameterError, match="forecast_customer_base"):
        plot_cumulative_tracking(log, m, "1997-09-30", "1998-06-30", forecast=table)
    import matplotlib.pyplot as plt

    plt.close("all")
