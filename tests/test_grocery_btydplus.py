"""groceryElog (BTYDplus) with the calibration of BTYDplus's "HowTo" vignette: 2006-12-31, weeks.

What BTYDplus publishes about these fits, and what is checked here (sources):

* BTYDplus 1.2.0 vignette "Customer Base Analysis with BTYDplus" (vignettes/BTYDplus-HowTo.Rmd,
  mplatzer/BTYDplus), in its text: the Wheat & Morrison estimate on groceryElog is "close
  to 2"; the MBG/CNBD-k "is able to provide a better fit than NBD, Pareto/NBD, BG/NBD,
  MBG/NBD and BG/CNBD-k"; "the estimate for regularity parameter k is 2"; the NBD "heavily
  overforecasts" the holdout transactions; the MBG/CNBD-k improves the customer-level MAE
  of the Pareto/NBD. BTYDplus's demo/mbg-cnbd-k.R: "Wheat-Morrison estimator detects
  Erlang-2", "k=2 -> regularity also detected via MBG/CNBD-k model".
* The printed tables of the rendered vignette (estimates, log-likelihoods, holdout
  totals, MAE) are not in the reference material this project could search, so they are
  not asserted here; the numbers this code gets are in the lead's note for comparison.
* Issue 15 of this project: on these data the MBG/CNBD-k raises the log-likelihood of the
  Pareto/NBD by about 800 and cuts its MAE by about 5%. That 5% is what BTYDplus's
  approximate conditional expectation gives (reproduced by
  :func:`clvmodels.models.bgcnbd.btydplus_expected_purchases`: 5.1%); the exact expectation
  the models use cuts it by 7.2%.

The MAE is BTYDplus's: ``sum |actual - predicted| / sum actual`` over customers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.data import rfm_summary
from clvmodels.models.bgcnbd import BGCNBD
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.mbgcnbd import MBGCNBD
from clvmodels.models.mbgnbd import MBGNBD
from clvmodels.models.nbd import NBD
from clvmodels.models.paretonbd import ParetoNBD
from clvmodels.models.regularity import estimate_regularity, log_intertransaction_times

_ROOT = Path(__file__).resolve().parents[1]
GROCERY = next((p / "shared" / "data" / "grocery_elog.csv" for p in (_ROOT.parent, _ROOT.parents[1])
                if (p / "shared" / "data" / "grocery_elog.csv").exists()),
               _ROOT.parent / "shared" / "data" / "grocery_elog.csv")
pytestmark = pytest.mark.skipif(not GROCERY.exists(),
                                reason="needs ../shared/data/grocery_elog.csv")


@pytest.fixture(scope="module")
def grocery():
    elog = pd.read_csv(GROCERY)
    summary = rfm_summary(elog, customer_id="cust", date="date", calibration_end="2006-12-31",
                          observation_end="2007-12-30")
    summary["litt"] = log_intertransaction_times(elog, "cust", "date",
                                                 calibration_end="2006-12-31")
    return elog, summary


@pytest.fixture(scope="module")
def fits(grocery):
    _, s = grocery
    models = {name: cls().fit(s) for name, cls in (
        ("NBD", NBD), ("Pareto/NBD", ParetoNBD), ("BG/NBD", BGNBD), ("BG/CNBD-k", BGCNBD),
        ("MBG/NBD", MBGNBD), ("MBG/CNBD-k", MBGCNBD))}
    actual = s["frequency_holdout"].to_numpy()
    table = pd.DataFrame({
        name: {"log_likelihood": m.log_likelihood_,
               "holdout": float(m.expected_purchases(s, t=s["duration_holdout"]).sum()),
               "mae": float(np.abs(actual - m.expected_purchases(s, t=s["duration_holdout"]))
                            .sum() / actual.sum())}
        for name, m in models.items()}).T
    return models, table, actual


def test_the_data_are_the_vignettes(grocery):
    _, s = grocery
    assert len(s) == 1525  # "transaction records of 1525 grocery customers" (demo)
    assert s.attrs["n_excluded_customers"] == 0


def test_wheat_morrison_detects_erlang_2(grocery):
    elog, _ = grocery
    k = estimate_regularity(elog, customer_id="cust", date="date")
    assert 1.7 < k < 2.3  # "close to 2"; 1.870 here


def test_cnbd_models_choose_k_2_and_mbgcnbd_fits_best(fits):
    models, table, _ = fits
    assert int(models["MBG/CNBD-k"].params_["k"]) == 2
    assert int(models["BG/CNBD-k"].params_["k"]) == 2
    best = table["log_likelihood"].idxmax()
    assert best == "MBG/CNBD-k", table
    gain = table.loc["MBG/CNBD-k", "log_likelihood"] - table.loc["Pareto/NBD", "log_likelihood"]
    assert 700 < gain < 900, table  # "about 800"


def test_k1_fits_are_bgnbd_and_mbgnbd(grocery, fits):
    _, s = grocery
    models, _, _ = fits
    for cnbd, plain in ((BGCNBD, "BG/NBD"), (MBGCNBD, "MBG/NBD")):
        fixed = cnbd(k=1).fit(s)
        np.testing.assert_allclose(fixed.params_.to_numpy()[1:], models[plain].params_,
                                   rtol=1e-5)
        assert fixed.log_likelihood_ == pytest.approx(models[plain].log_likelihood_, abs=1e-6)


def test_holdout_totals_and_mae(fits):
    _, table, actual = fits
    assert actual.sum() == 3389
    # the NBD "heavily overforecasts" (no dropout): by more than 50% here
    assert table.loc["NBD", "holdout"] > 1.5 * actual.sum()
    lift = 1 - table.loc["MBG/CNBD-k", "mae"] / table.loc["Pareto/NBD", "mae"]
    assert lift > 0.06, table


def test_btydplus_approximation_gives_the_published_five_percent(grocery, fits):
    from clvmodels.models import bgcnbd

    _, s = grocery
    models, table, actual = fits
    approx = bgcnbd.btydplus_expected_purchases(
        models["MBG/CNBD-k"].params_.to_numpy(), s["frequency"], s["recency"], s["T"],
        s["duration_holdout"], dropout_at_zero=True)
    mae = np.abs(actual - approx).sum() / actual.sum()
    lift = 1 - mae / table.loc["Pareto/NBD", "mae"]
    assert lift == pytest.approx(0.05, abs=0.01), (mae, table)


def test_a_long_hiatus_is_a_stronger_sign_of_churn_for_regular_buyers(fits):
    """The vignette's five customers with 1..5 purchases in the first 12 weeks and 40 weeks
    of silence: "the same pattern as for Pareto/NBD [fewer expected purchases the more
    purchases before the hiatus], except that the forecasted numbers are even lower"."""
    models, _, _ = fits
    hiatus = {"frequency": np.arange(1, 6), "recency": np.full(5, 12.0), "T": np.full(5, 52.0)}
    cnbd = models["MBG/CNBD-k"].expected_purchases(**hiatus, t=52.0).to_numpy()
    pnbd = models["Pareto/NBD"].expected_purchases(**hiatus, t=52.0).to_numpy()
    assert np.all(np.diff(cnbd) < 0) and np.all(np.diff(pnbd) < 0)
    assert np.all(cnbd < pnbd), (cnbd, pnbd)
    alive = models["MBG/CNBD-k"].probability_alive(**hiatus).to_numpy()
    assert np.all(alive < models["Pareto/NBD"].probability_alive(**hiatus).to_numpy())
