"""The practitioners' formulas: CLV, retention, margin and segmentation.

One module per family, each formula a plain function on numbers that checks
its arguments and returns a float, with the source article's worked example in
its docstring (and the article's arithmetic errors recorded where there are any):

* :mod:`~clvmodels.formulas.historical`: ARPU and historical CLV.
* :mod:`~clvmodels.formulas.cohort`: the cohort table and cohort CLV.
* :mod:`~clvmodels.formulas.predictive`: T x AOV x AGM x ALT.
* :mod:`~clvmodels.formulas.traditional`: GML x R / (1 + D - R).
* :mod:`~clvmodels.formulas.retention`: CRR, churn, lifetime, industry benchmarks.
* :mod:`~clvmodels.formulas.ltv`: S x C x P x T.
* :mod:`~clvmodels.formulas.whatif`: CLV change when retention rises.
* :mod:`~clvmodels.formulas.loyalty`: reward rate, break-even retention uplift.
* :mod:`~clvmodels.formulas.net`: net CLV, CLV:CAC, maximum CAC, payback.
* :mod:`~clvmodels.formulas.segmentation`: loyalty ladder, ABC-XYZ, RFM.
* :mod:`~clvmodels.formulas.inputs`: every input above computed from a transaction log.
* :mod:`~clvmodels.formulas.predictors`: each formula as a per-customer predictor.
* :mod:`~clvmodels.formulas.plots`: cohort heatmap and curves, ladder funnel, ABC-XYZ matrix.
"""

from clvmodels.formulas.cohort import cohort_clv, cohort_table
from clvmodels.formulas.historical import (
    annualized_arpu,
    average_revenue_per_user,
    historical_clv,
)
from clvmodels.formulas.inputs import FormulaInputs, formula_inputs, monthly_inputs
from clvmodels.formulas.loyalty import (
    break_even_retention_uplift,
    loyalty_program_clv,
    reward_rate,
)
from clvmodels.formulas.ltv import scpt_ltv
from clvmodels.formulas.net import (
    clv_to_cac_ratio,
    max_acquisition_cost,
    net_clv,
    payback_period,
)
from clvmodels.formulas.plots import (
    plot_abc_xyz_matrix,
    plot_cohort_curves,
    plot_cohort_heatmap,
    plot_ladder_funnel,
)
from clvmodels.formulas.predictive import (
    average_gross_margin,
    average_order_value,
    average_transactions_per_month,
    gross_margin,
    predictive_clv,
)
from clvmodels.formulas.predictors import (
    FORMULA_PREDICTORS,
    CohortPredictor,
    HistoricalARPUPredictor,
    PredictiveCLVPredictor,
    SCPTPredictor,
    TraditionalCLVPredictor,
    formula_predictor_variants,
)
from clvmodels.formulas.retention import (
    INDUSTRY_RETENTION_BENCHMARKS,
    average_lifetime,
    churn_rate,
    compare_to_benchmarks,
    convert_retention_rate,
    retention_benchmarks,
    retention_rate,
)
from clvmodels.formulas.segmentation import (
    LADDER_STAGES,
    RFM_SEGMENTS,
    abc_classes,
    abc_xyz_analysis,
    abc_xyz_matrix,
    ladder_funnel,
    loyalty_ladder,
    quantile_scores,
    rfm_scores,
    rfm_segment,
    xyz_classes,
)
from clvmodels.formulas.traditional import (
    gross_margin_per_customer,
    retained_margin_schedule,
    traditional_clv,
)
from clvmodels.formulas.whatif import (
    raised_retention_rate,
    retention_what_if,
    retention_what_if_table,
)

__all__ = [
    # historical
    "average_revenue_per_user", "annualized_arpu", "historical_clv",
    # cohort
    "cohort_table", "cohort_clv",
    # predictive
    "average_transactions_per_month", "average_order_value", "gross_margin",
    "average_gross_margin", "predictive_clv",
    # traditional
    "gross_margin_per_customer", "traditional_clv", "retained_margin_schedule",
    # retention
    "retention_rate", "churn_rate", "average_lifetime", "convert_retention_rate",
    "INDUSTRY_RETENTION_BENCHMARKS", "retention_benchmarks", "compare_to_benchmarks",
    # ltv
    "scpt_ltv",
    # what-if
    "raised_retention_rate", "retention_what_if", "retention_what_if_table",
    # loyalty
    "reward_rate", "loyalty_program_clv", "break_even_retention_uplift",
    # net
    "net_clv", "clv_to_cac_ratio", "max_acquisition_cost", "payback_period",
    # segmentation
    "LADDER_STAGES", "loyalty_ladder", "ladder_funnel", "abc_classes", "xyz_classes",
    "abc_xyz_analysis", "abc_xyz_matrix", "quantile_scores", "RFM_SEGMENTS", "rfm_segment",
    "rfm_scores",
    # inputs
    "monthly_inputs", "formula_inputs", "FormulaInputs",
    # predictors
    "HistoricalARPUPredictor", "CohortPredictor", "PredictiveCLVPredictor",
    "TraditionalCLVPredictor", "SCPTPredictor", "FORMULA_PREDICTORS",
    "formula_predictor_variants",
    # plots
    "plot_cohort_heatmap", "plot_cohort_curves", "plot_ladder_funnel", "plot_abc_xyz_matrix",
]
