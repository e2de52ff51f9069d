"""Every consumer reads the model registry: people read display names, files keep the keys."""

from __future__ import annotations

import pandas as pd
import pytest

import clvmodels
from clvmodels.cli import build_parser
from clvmodels.datasets import load_cdnow_transactions
from clvmodels.evaluation import (
    CovariateModelMethod,
    Method,
    ModelMethod,
    available_methods,
    get_method,
)
from clvmodels.evaluation.base import prediction_frame
from clvmodels.evaluation.methods import covariate_model_keys, purchase_model_keys
from clvmodels.models.registry import get_spec, model_keys

CAL, OBS = "1997-09-30", "1998-06-30"


@pytest.mark.filterwarnings("ignore")  # a small summary: Hessian and exclusion warnings
def test_the_harness_model_methods_are_the_registrys_purchase_models():
    keys = model_keys(kind="purchase", covariates=False, engine="ml")  # not the MCMC model
    assert purchase_model_keys() == keys and set(keys) == {"bgnbd", "paretonbd", "mbgnbd",
                                                          "nbd", "bgcnbd", "mbgcnbd", "ggomnbd"}
    assert set(keys) <= set(available_methods())
    assert set(covariate_model_keys()) == {"bgnbd_covariates", "paretonbd_covariates"}
    for key in keys:
        method = get_method(key)
        assert method.name == key
        assert method.display_name == f"{get_spec(key).display_name} + Gamma-Gamma"
        assert type(method.fit(_summary()).purchase_model_) is get_spec(key).model_class()
    assert ModelMethod("paretonbd", spend_model=None).display_name == "Pareto/NBD (own mean spend)"
    assert CovariateModelMethod("paretonbd").display_name == (
        "Pareto/NBD with covariates + Gamma-Gamma")
    assert CovariateModelMethod("bgnbd", label="mine").display_name == "mine"
    with pytest.raises(clvmodels.errors.InvalidParameterError, match="no covariate version"):
        CovariateModelMethod("mbgnbd", covariates=pd.DataFrame()).fit(_summary())


def _summary():
    s = clvmodels.rfm_summary(load_cdnow_transactions().head(2000), amount="amount",
                              calibration_end="1997-03-31", time_unit="W")
    return s


class _Imitator(Method):
    """A user's method that claims a built-in's display name."""

    name = "imitator"
    display_name = "BG/NBD + Gamma-Gamma"

    def fit(self, summary, transactions=None):
        return self

    def predict(self, summary, horizon):
        one = pd.Series(1.0, index=summary.index)
        return prediction_frame(summary, one, one)


def test_result_display_names_are_distinct_and_files_keep_the_keys():
    log = load_cdnow_transactions()
    res = clvmodels.compare(log, ["bgnbd", "own_rate", "cohort", _Imitator()],
                            calibration_end=CAL, observation_end=OBS)
    assert res.display_names == {
        "bgnbd": "BG/NBD + Gamma-Gamma",
        "own_rate": "own_rate",  # a baseline without a display name of its own: its name
        "cohort": "cohort[cohort_average, geometric]",  # a formula: its label
        "imitator": "BG/NBD + Gamma-Gamma [imitator]",  # a clash is told apart
    }
    assert set(res.leaderboard["method"]) == {"bgnbd", "own_rate", "cohort", "imitator"}
    assert set(res.predictions["method"]) == set(res.leaderboard["method"])
    assert set(res.table().index) == set(res.display_names)
    assert res.display_name("not compared") == "not compared"


def test_a_method_registered_under_another_name_is_shown_under_that_name():
    import functools

    from clvmodels.evaluation import register_method, unregister_method
    from clvmodels.evaluation.baselines import OwnRate

    register_method(functools.partial(OwnRate), name="my_rate")
    try:
        res = clvmodels.compare(load_cdnow_transactions(), ["my_rate", "own_rate"],
                                calibration_end=CAL, observation_end=OBS)
    finally:
        unregister_method("my_rate")
    assert res.display_names == {"my_rate": "my_rate", "own_rate": "own_rate"}


def test_cli_model_choices_come_from_the_registry():
    parser = build_parser()
    base = ["fit", "log.csv", "--out", "m.json"]
    for key in model_keys(kind="purchase", covariates=False, engine="ml"):
        assert parser.parse_args([*base, "--model", key]).model == key
    for spelling in ("gamma-gamma", "gamma_gamma", "Gamma-Gamma"):
        assert parser.parse_args([*base, "--spend-model", spelling]).spend_model == "gamma-gamma"
    assert parser.parse_args([*base, "--spend-model", "none"]).spend_model == "none"
    for bad in (["--model", "bgbb"], ["--model", "bgnbd_covariates"], ["--model", "paretoggg"],
                ["--spend-model", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, *bad])


def test_model_file_errors_name_models_as_people_read_them(tmp_path):
    import json

    from clvmodels.bundle import ModelBundle, load_bundle
    from clvmodels.errors import ModelFileError
    from clvmodels.models import BGNBD, GammaGamma

    bg = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="W")
    gg = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    path = tmp_path / "m.json"
    ModelBundle(bg, gg, time_unit="W", calibration_end="1997-09-30").save(path)
    good = json.loads(path.read_text())
    swapped = dict(good, purchase_model=good["spend_model"])
    path.write_text(json.dumps(swapped))
    expected = (r"expected BG/NBD, MBG/NBD, Pareto/NBD, NBD, BG/CNBD-k, MBG/CNBD-k or "
                r"Gamma-Gompertz/NBD\.")
    with pytest.raises(ModelFileError, match=r"Gamma-Gamma is not a purchase model .*; "
                                             + expected):
        load_bundle(path)
    path.write_text(json.dumps(dict(good, spend_model=good["purchase_model"])))
    with pytest.raises(ModelFileError, match=r"spend_model is a BG/NBD model, which predicts "
                                             r"no spend \(expected Gamma-Gamma\)"):
        load_bundle(path)
