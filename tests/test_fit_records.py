"""The harness keeps every fit it makes: models, warnings and time per (cutoff, method)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.data.summary import rfm_summary
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.errors import InvalidSummaryError
from clvmodels.evaluation import CovariateModelMethod, FitRecord, Method, calibration_only
from clvmodels.evaluation.base import prediction_frame
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.covariates import BGNBDCovariates
from clvmodels.models.gamma_gamma import GammaGamma

CAL, OBS = "1997-09-30", "1998-06-30"
EARLY = pd.Timestamp("1997-06-30")


class _Noisy(Method):
    """Warns twice while fitting at one cutoff only, in an order that is not alphabetical."""

    name = "noisy"

    def __init__(self, at: str = "1997-06-30"):
        self.at = at

    def fit(self, summary, transactions=None):
        if pd.Timestamp(summary.attrs["calibration_end"]) == pd.Timestamp(self.at):
            warnings.warn("zulu: first warning of the noisy fit", UserWarning, stacklevel=2)
            warnings.warn("alpha: second warning of the noisy fit", FutureWarning,
                          stacklevel=2)
        return self

    def predict(self, summary, horizon):
        zero = pd.Series(0.0, index=summary.index)
        return prediction_frame(summary, zero, zero)


class _Broken(Method):
    name = "broken"

    def fit(self, summary, transactions=None):
        raise InvalidSummaryError("broken on purpose")


def _first_amount(log):
    first = log.sort_values("date").groupby("customer_id")["amount"].first()
    return pd.DataFrame({"big_first": (first > first.median()).astype(float)})


@pytest.fixture(scope="module")
def log():
    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def result(log):
    methods = ["bgnbd", "own_rate", _Noisy(), _Broken(),
               CovariateModelMethod("bgnbd", covariates=_first_amount,
                                    purchase_covariates=["big_first"])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = clvmodels.compare(log, methods, calibration_end=CAL, observation_end=OBS,
                                cutoffs=[EARLY])
    res.caught = caught  # what the caller of compare saw
    return res


def test_one_record_per_cutoff_and_method(result):
    cutoffs = [EARLY, pd.Timestamp(CAL)]
    names = ["bgnbd", "own_rate", "noisy", "broken", "bgnbd+covariates"]
    assert [(r.cutoff, r.method) for r in result.fits] == [(c, n) for c in cutoffs for n in names]
    for r in result.fits:
        assert isinstance(r, FitRecord)
        assert r.display_name == result.display_names[r.method]
        assert r.n_customers == 2357
        if r.method == "broken":
            assert r.error == "InvalidSummaryError: broken on purpose"
            assert r.models == {} and r.fitted is None
        else:
            assert r.error is None and r.fitted is not None
            assert np.isfinite(r.fit_seconds) and r.fit_seconds >= 0
    assert result.fit_record("bgnbd").fitted is result.methods["bgnbd"]
    assert set(result.fit_record("bgnbd", cutoff=EARLY).models) == {"purchase", "spend"}
    assert result.fit_record("own_rate").models == {}
    with pytest.raises(clvmodels.errors.InvalidParameterError, match="no fit of method"):
        result.fit_record("bgnbd", cutoff="1997-01-31")


def test_a_records_models_equal_a_refit_on_that_cutoffs_data(result, log):
    obs = EARLY + pd.Timedelta(days=(pd.Timestamp(OBS) - pd.Timestamp(CAL)).days)
    summary = calibration_only(rfm_summary(log[log["date"] <= obs], amount="amount",
                                           calibration_end=EARLY, observation_end=obs,
                                           time_unit="W"))
    record = result.fit_record("bgnbd", cutoff=EARLY)
    refit = BGNBD().fit(summary)
    pd.testing.assert_series_equal(record.models["purchase"].params_, refit.params_,
                                   rtol=1e-10, atol=0)
    assert record.models["purchase"].n_customers_ == len(summary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spend = GammaGamma(drop_invalid=True).fit(summary)
    pd.testing.assert_series_equal(record.models["spend"].params_, spend.params_,
                                   rtol=1e-10, atol=0)
    # the main split's records are the fitted methods of the result, not other copies
    main = result.fit_record("bgnbd")
    assert main.models["purchase"] is result.methods["bgnbd"].purchase_model_
    assert not np.allclose(main.models["purchase"].params_, refit.params_)


def test_warnings_of_a_fit_are_in_that_fits_record_only(result):
    noisy = result.fit_record("noisy", cutoff=EARLY)
    # in the order raised (not sorted by text), with their categories
    assert [(w.category, str(w.message)) for w in noisy.warnings] == [
        (UserWarning, "zulu: first warning of the noisy fit"),
        (FutureWarning, "alpha: second warning of the noisy fit"),
    ]
    assert all(isinstance(w, warnings.WarningMessage) for w in noisy.warnings)
    for r in result.fits:
        if r is not noisy:
            assert not any("noisy fit" in str(w.message) for w in r.warnings), r.method
    # recording does not swallow them: the caller of compare sees each once
    seen = [str(w.message) for w in result.caught if "noisy fit" in str(w.message)]
    assert seen == ["zulu: first warning of the noisy fit",
                    "alpha: second warning of the noisy fit"]


def test_caller_filters_decide_what_is_recorded(log):
    with pytest.warns(FutureWarning, match="alpha") as seen, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = clvmodels.compare(log, [_Noisy(at=CAL)], calibration_end=CAL,
                                observation_end=OBS)
    assert [w.category for w in seen] == [FutureWarning]  # passed on, the ignored one not
    assert [w.category for w in res.fit_record("noisy").warnings] == [FutureWarning]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="zulu"):  # an error filter still stops the fit
            clvmodels.compare(log, [_Noisy(at=CAL)], calibration_end=CAL, observation_end=OBS)


def test_covariate_methods_are_recorded(result):
    for cutoff in (EARLY, pd.Timestamp(CAL)):
        r = result.fit_record("bgnbd+covariates", cutoff=cutoff)
        assert isinstance(r.models["purchase"], BGNBDCovariates)
        assert isinstance(r.models["spend"], GammaGamma)
        assert "purchase:big_first" in r.models["purchase"].params_.index
    assert result.display_name("bgnbd+covariates") == "BG/NBD with covariates + Gamma-Gamma"
    early = result.fit_record("bgnbd+covariates", cutoff=EARLY).models["purchase"]
    main = result.fit_record("bgnbd+covariates").models["purchase"]
    assert early.n_customers_ == main.n_customers_ == 2357
    assert not np.allclose(early.params_, main.params_)  # two fits, two sets of parameters


@pytest.mark.slow
def test_report_shows_covariate_methods_from_the_records(tmp_path, log):
    html5lib = pytest.importorskip("html5lib")
    from clvmodels.report import validation_report

    cov = CovariateModelMethod("bgnbd", covariates=_first_amount,
                               purchase_covariates=["big_first"])
    out = validation_report(log, calibration_end=CAL, observation_end=OBS,
                            methods=["bgnbd", cov], n_splits=2, path=tmp_path / "r.html")
    doc = html5lib.HTMLParser(strict=True).parse(out.read_bytes())
    ns = "{http://www.w3.org/1999/xhtml}"
    text = "".join(doc.find(f"{ns}body").itertext())
    assert "BG/NBD with covariates, fitted on the calibration period" in text
    assert "BG/NBD with covariates + Gamma-Gamma" in text
    res = clvmodels.compare(log, ["bgnbd", cov], calibration_end=CAL, observation_end=OBS,
                            n_splits=2)
    tables = {t.get("id"): t for t in doc.iter(f"{ns}table")}
    for table_id, cutoff_rows in (("params-bgnbd+covariates", None),
                                  ("stability-bgnbd+covariates", 2)):
        rows = [tr for tr in tables[table_id].iter(f"{ns}tr") if tr.findall(f"{ns}td")]
        if cutoff_rows is None:
            shown = {"".join(tr.find(f"{ns}th").itertext()).strip():
                     float(tr.findall(f"{ns}td")[0].get("data-value")) for tr in rows}
            model = res.fit_record("bgnbd+covariates").models["purchase"]
            for name, value in model.params_.items():
                assert shown[name] == pytest.approx(value, rel=1e-6)
        else:
            assert len(rows) == cutoff_rows  # one row per cutoff: every fit was recorded
