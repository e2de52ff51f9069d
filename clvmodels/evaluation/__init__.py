"""Scoring methods (formulas, models, baselines) on a holdout period, on the same customers.

The method protocol is in :mod:`clvmodels.evaluation.base`, the registry of
named methods in :mod:`clvmodels.evaluation.registry`, the metrics in
:mod:`clvmodels.evaluation.metrics`, the goodness-of-fit test in
:mod:`clvmodels.evaluation.goodness_of_fit`, the naive baselines in
:mod:`clvmodels.evaluation.baselines` and the gradient-boosting baseline in
:mod:`clvmodels.evaluation.ml`, the zero-inflated lognormal baseline in
:mod:`clvmodels.evaluation.ziln`, the verdict's statistics in
:mod:`clvmodels.evaluation.verdict` and the scores of predicted count distributions in
:mod:`clvmodels.evaluation.scores`.
"""

from clvmodels.evaluation.base import (
    Method,
    calibration_only,
    check_calibration_summary,
    check_calibration_transactions,
    check_predictions,
    prediction_frame,
)
from clvmodels.evaluation.baselines import OwnRate, PopulationRate, Zero
from clvmodels.evaluation.goodness_of_fit import pooled_chi_square
from clvmodels.evaluation.harness import ComparisonResult, FitRecord, backtest_cutoffs, compare
from clvmodels.evaluation.methods import CovariateModelMethod, ModelMethod
from clvmodels.evaluation.metrics import (
    METRICS,
    conditional_expectations,
    gains_curve,
    holdout_actuals,
    holdout_log_likelihood,
    score_predictions,
)
from clvmodels.evaluation.ml import GradientBoosting
from clvmodels.evaluation.registry import (
    available_methods,
    get_method,
    register_method,
    unregister_method,
)
from clvmodels.evaluation.scores import (
    calibration_table,
    count_pmf_matrix,
    distribution_scores,
    interval_coverage,
    pit_histogram,
    predictive_intervals,
    ranked_probability_score,
    tracking_error,
)
from clvmodels.evaluation.verdict import (
    DECISIONS,
    comparison_verdict,
    decide,
    diebold_mariano,
    paired_bootstrap,
    rank_first_share,
)
from clvmodels.evaluation.ziln import ZeroInflatedLognormal

__all__ = [
    "Method",
    "calibration_only",
    "check_calibration_summary",
    "check_calibration_transactions",
    "check_predictions",
    "prediction_frame",
    "Zero",
    "OwnRate",
    "PopulationRate",
    "GradientBoosting",
    "ZeroInflatedLognormal",
    "ModelMethod",
    "CovariateModelMethod",
    "compare",
    "ComparisonResult",
    "FitRecord",
    "backtest_cutoffs",
    "METRICS",
    "conditional_expectations",
    "gains_curve",
    "holdout_actuals",
    "holdout_log_likelihood",
    "score_predictions",
    "pooled_chi_square",
    "DECISIONS",
    "comparison_verdict",
    "decide",
    "diebold_mariano",
    "paired_bootstrap",
    "rank_first_share",
    "calibration_table",
    "count_pmf_matrix",
    "distribution_scores",
    "interval_coverage",
    "pit_histogram",
    "predictive_intervals",
    "ranked_probability_score",
    "tracking_error",
    "available_methods",
    "get_method",
    "register_method",
    "unregister_method",
]
