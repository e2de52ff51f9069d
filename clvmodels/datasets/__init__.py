"""Real public data sets of the customer-base-analysis literature, shipped with clvmodels.

The files live inside the package (``clvmodels/datasets/files``), so an installed
user has them without a network connection.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["load_cdnow_transactions", "load_donations", "load_sbg_retention", "dataset_path"]


def dataset_path(name: str):
    """Path (a ``Traversable``) of a bundled data file, e.g. ``"cdnow_sample.txt"``."""
    return resources.files(__package__).joinpath("files", name)


def load_cdnow_transactions() -> pd.DataFrame:
    """CDNOW sample transaction log (2,357 customers, 6,919 purchases, 1997-01 to 1998-06).

    A 1/10 systematic sample of the 23,570 customers who made their first purchase
    at the online music retailer CDNOW in the first quarter of 1997, with every
    purchase they made up to the end of June 1998. This is the data set of Fader,
    Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
    the Pareto/NBD model", Marketing Science 24(2), and of Fader & Hardie (2013),
    "The Gamma-Gamma model of monetary value".

    Several rows can share a customer and a day; the literature (and
    :func:`clvmodels.rfm_summary`) merges them into one transaction.

    Returns
    -------
    DataFrame
        One row per purchase record, columns ``customer_id`` (int, the sample id
        1..2357), ``date`` (datetime64), ``quantity`` (int, number of CDs) and
        ``amount`` (float, dollars).

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> log = load_cdnow_transactions()
    >>> log.shape, log["customer_id"].nunique()
    ((6919, 4), 2357)
    """
    with dataset_path("cdnow_sample.txt").open("r") as fh:
        raw = pd.read_csv(
            fh,
            sep=r"\s+",
            header=None,
            names=["full_id", "customer_id", "date", "quantity", "amount"],
            dtype={"full_id": np.int64, "customer_id": np.int64, "date": str,
                   "quantity": np.int64, "amount": np.float64},
        )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw[["customer_id", "date", "quantity", "amount"]]


def load_donations() -> pd.DataFrame:
    """Repeat donations of the 1995 cohort of a non-profit (BG/BB paper data).

    The 11,104 people who first donated in 1995, followed over the six following
    annual opportunities (1996-2001), summarised as the number of donors with
    each (frequency, recency) pattern. Fader, Hardie & Shang (2010),
    "Customer-base analysis in a discrete-time noncontractual setting",
    Marketing Science 29(6). Published BG/BB estimates: alpha = 1.204,
    beta = 0.750, gamma = 0.657, delta = 2.783, log-likelihood -33,225.6.

    Returns
    -------
    DataFrame
        Columns ``frequency`` (repeat donations, 0..6), ``recency`` (the
        opportunity of the last donation, 0 if none), ``n_periods`` (6) and
        ``weights`` (number of donors with that pattern).
    """
    with dataset_path("donations_bgbb.csv").open("r") as fh:
        df = pd.read_csv(fh)
    return df.rename(columns={"periods": "n_periods"})[
        ["frequency", "recency", "n_periods", "weights"]
    ].astype(np.int64)


def load_sbg_retention() -> pd.DataFrame:
    """Survivors of two subscription cohorts (shifted-beta-geometric paper data).

    Number of customers still active at the start of each year, out of two
    cohorts of 1,000 customers ("regular" and "high end"). Fader & Hardie (2007),
    "How to project customer retention", Journal of Interactive Marketing 21(1).
    The paper fits years 0-7 and projects years 8-12. Published estimates on
    years 0-7: regular alpha = 0.704, beta = 1.182 (log-likelihood -1680.3);
    high end alpha = 0.668, beta = 3.806 (log-likelihood -1611.2).

    Returns
    -------
    DataFrame
        Columns ``year`` (0..12), ``regular`` and ``high_end``.
    """
    with dataset_path("sbg_retention.csv").open("r") as fh:
        return pd.read_csv(fh).astype(np.int64)
