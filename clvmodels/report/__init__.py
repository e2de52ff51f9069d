"""The model-validation report: one self-contained HTML file a validator can sign off on.

:func:`validation_report` runs the comparison harness on a transaction log
and writes a single HTML file (plots embedded as base64 PNG, CSS inline, no
script and no network fetch) covering the data, each model's estimates and
convergence, goodness of fit in calibration, holdout performance of every
method, backtest stability, assumption checks, limitations and a
reproducibility block.
"""

from clvmodels.report.builder import (
    SECTIONS,
    data_fingerprint,
    validation_report,
)

__all__ = ["validation_report", "data_fingerprint", "SECTIONS"]
