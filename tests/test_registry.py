"""The registry of models is the one list every layer reads: complete and exported."""

from __future__ import annotations

import pytest

import clvmodels
import clvmodels.models
from clvmodels.errors import InvalidParameterError
from clvmodels.models.registry import (
    KINDS,
    display_name,
    get_spec,
    model_keys,
    model_specs,
    spec_for,
)


def test_keys_class_names_and_display_names_are_unique():
    specs = model_specs()
    for attribute in ("key", "class_name", "display_name"):
        values = [getattr(s, attribute) for s in specs]
        assert len(values) == len(set(values)), attribute
    assert all(s.kind in KINDS for s in specs)


@pytest.mark.parametrize("spec", model_specs(), ids=lambda s: s.key)
def test_every_model_is_exported_and_found_back(spec):
    cls = spec.model_class()
    assert getattr(clvmodels.models, spec.class_name) is cls
    assert spec.class_name in clvmodels.models.__all__
    assert getattr(clvmodels, spec.class_name) is cls
    assert spec_for(cls) is spec and spec_for(cls()) is spec
    assert get_spec(spec.key) is spec
    for legacy in spec.legacy_names:
        assert get_spec(legacy) is spec
    assert display_name(cls()) == display_name(spec.key) == spec.display_name


def test_the_names_people_read():
    assert [display_name(k) for k in ("bgnbd", "paretonbd", "mbgnbd", "gamma_gamma")] == [
        "BG/NBD", "Pareto/NBD", "MBG/NBD", "Gamma-Gamma"]


def test_capability_queries():
    assert set(model_keys(kind="purchase", covariates=False)) == {"bgnbd", "mbgnbd",
                                                                  "paretonbd", "nbd", "bgcnbd",
                                                                  "mbgcnbd", "ggomnbd", "paretoggg"}
    assert model_keys(engine="mcmc") == ("paretoggg",)
    assert display_name("ggomnbd") == "Gamma-Gompertz/NBD"
    assert model_keys(kind="spend") == ("gamma_gamma",)
    with pytest.raises(InvalidParameterError, match="unknown capability"):
        model_keys(colour="red")
    with pytest.raises(InvalidParameterError, match="unknown model 'nope'"):
        get_spec("nope")
    with pytest.raises(InvalidParameterError, match="not a registered model"):
        spec_for(int)
