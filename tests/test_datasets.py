"""The bundled data sets are complete and match their published descriptions."""

import numpy as np

from clvmodels.datasets import load_cdnow_transactions, load_donations, load_sbg_retention


def test_cdnow_shape_and_types():
    log = load_cdnow_transactions()
    assert list(log.columns) == ["customer_id", "date", "quantity", "amount"]
    assert len(log) == 6919
    assert log["customer_id"].nunique() == 2357
    assert log["customer_id"].min() == 1 and log["customer_id"].max() == 2357
    assert np.issubdtype(log["date"].dtype, np.datetime64)
    assert str(log["date"].min().date()) == "1997-01-01"
    assert log["date"].max() <= np.datetime64("1998-06-30")
    # cohort: first purchase in the first quarter of 1997
    assert log.groupby("customer_id")["date"].min().max() <= np.datetime64("1997-03-31")


def test_donations_cover_the_cohort():
    d = load_donations()
    assert list(d.columns) == ["frequency", "recency", "n_periods", "weights"]
    assert d["weights"].sum() == 11104
    assert (d["n_periods"] == 6).all()
    assert ((d["frequency"] == 0) == (d["recency"] == 0)).all()
    assert (d["recency"] >= d["frequency"]).all()


def test_sbg_retention_counts():
    r = load_sbg_retention()
    assert list(r.columns) == ["year", "regular", "high_end"]
    assert r["year"].tolist() == list(range(13))
    assert r.loc[0, "regular"] == 1000 and r.loc[0, "high_end"] == 1000
    assert (np.diff(r["regular"]) <= 0).all() and (np.diff(r["high_end"]) <= 0).all()
