"""The verdict of a comparison on data simulated from a known model (issue 16's simulation study).

Small here (a few thousand customers, 100 resamples); the full-size study is in
``benchmarks/bench_verdict.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import clvmodels
from clvmodels.data.simulate import simulate_transactions


@pytest.fixture(scope="module")
def simulated_result():
    log = simulate_transactions(4000, random_state=7)  # BG/NBD + Gamma-Gamma, CDNOW-like
    return clvmodels.compare(log, ["bgnbd", "paretonbd", "own_rate", "zero"],
                             calibration_end="1997-09-30", observation_end="1998-06-30",
                             n_splits=2)


def test_the_verdict_picks_the_true_model_or_one_it_cannot_tell_apart(simulated_result):
    verdict = simulated_result.verdict(n_boot=100, random_state=0)
    assert list(verdict.index) == list(clvmodels.evaluation.verdict.DECISIONS)
    for decision in ("valuation: transactions per customer", "targeting: who spends most"):
        row = verdict.loc[decision]
        # the simulating model, or Pareto/NBD (as flexible; not significantly different)
        assert row["method"] in ("bgnbd", "paretonbd")
        if row["method"] != "bgnbd":
            assert row["runner_up"] == "bgnbd" and not row["significant"]
    # the naive baselines never win a valuation significantly
    valuation = verdict[verdict.index.str.startswith("valuation")]
    assert not valuation["method"].isin(["zero", "own_rate"]).any()
    assert {"rank_first_share", "dm_p_value"} <= set(verdict.columns)
    assert verdict["dm_p_value"].drop("forecast distribution: holdout counts").between(0, 1).all()
    assert verdict.loc["forecast distribution: holdout counts", "method"] in ("bgnbd",
                                                                               "paretonbd")


def test_the_verdict_is_seeded_and_cached(simulated_result):
    first = simulated_result.verdict(n_boot=50, random_state=3)
    assert simulated_result.verdict(n_boot=50, random_state=3) is first
    other = clvmodels.evaluation.verdict.comparison_verdict(simulated_result, n_boot=50,
                                                             random_state=3)
    np.testing.assert_allclose(first["ci_lower"], other["ci_lower"])
    tables = first.attrs["bootstrap"]
    assert set(tables) == {"revenue", "transactions"}


def test_two_copies_of_a_method_are_never_significantly_different():
    from clvmodels.evaluation.baselines import OwnRate

    log = simulate_transactions(1500, random_state=8)

    class Twin(OwnRate):
        name = "own_rate_twin"

    result = clvmodels.compare(log, ["own_rate", Twin()], calibration_end="1997-09-30",
                               observation_end="1998-06-30")
    verdict = result.verdict(n_boot=100)
    assert "forecast distribution: holdout counts" not in verdict.index  # no PMF method
    assert not verdict["significant"].any()
    assert (verdict["margin"] == 0).all()
    assert verdict["conclusion"].str.startswith("no clear winner").all()


def test_distribution_scores_of_the_models(simulated_result):
    from clvmodels.evaluation.scores import distribution_scores

    dist = distribution_scores(simulated_result)
    table = dist["table"]
    assert set(table.index) == {"bgnbd", "paretonbd"}  # the methods with a count PMF
    # the per-customer log scores sum to the harness's holdout log-likelihood
    board = simulated_result.table()
    for name in table.index:
        assert dist["per_customer"][name]["log_score"].sum() == pytest.approx(
            board.loc[name, "holdout_log_likelihood"], rel=1e-9)
    # the data come from the BG/NBD: its 90% predictive intervals cover about 90% or more
    assert 0.88 <= table.loc["bgnbd", "interval_coverage"] <= 1.0
    assert table.loc["bgnbd", "pit_max_deviation"] < 0.05
    cal = dist["calibration"]["bgnbd"]
    assert cal["actual"].sum() == len(simulated_result.summary)
    assert cal["predicted"].sum() == pytest.approx(len(simulated_result.summary))
