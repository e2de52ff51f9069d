"""The simulators reproduce the models' closed-form moments (independent truth: mpmath)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import clvmodels
from clvmodels.data.simulate import (
    simulate_bgnbd_summary,
    simulate_gamma_gamma_spend,
    simulate_transactions,
)
from clvmodels.errors import InvalidParameterError


def bgnbd_mean(r, alpha, a, b, t):
    """E[X(t)] of BG/NBD, Fader, Hardie & Lee (2005) eq. 9, in mpmath."""
    r, alpha, a, b, t = map(mp.mpf, (r, alpha, a, b, t))
    return float((a + b - 1) / (a - 1) * (
        1 - (alpha / (alpha + t)) ** r * mp.hyp2f1(r, b, a + b - 1, t / (alpha + t))))


def bgnbd_p0(r, alpha, a, b, t):
    """P(X(t) = 0) of BG/NBD (eq. 8 with x = 0)."""
    return float((mp.mpf(alpha) / (alpha + t)) ** r)


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (1.5, 10.0, 2.0, 5.0),
                                    (0.5, 2.0, 3.0, 1.5)])
def test_bgnbd_summary_moments(params):
    r, alpha, a, b = params
    t = 39.0
    s = simulate_bgnbd_summary(200_000, r, alpha, a, b, T=t, random_state=42)
    x = s["frequency"].to_numpy()
    mean = bgnbd_mean(r, alpha, a, b, t)
    se = x.std() / np.sqrt(len(x))
    assert abs(x.mean() - mean) < 4 * se
    p0 = bgnbd_p0(r, alpha, a, b, t)
    assert abs((x == 0).mean() - p0) < 4 * np.sqrt(p0 * (1 - p0) / len(x))
    assert (s["recency"] <= s["T"]).all() and (s.loc[x == 0, "recency"] == 0).all()


def test_bgnbd_summary_reproducible_and_array_T():
    T = np.linspace(1, 50, 100)
    a = simulate_bgnbd_summary(100, 0.5, 3.0, 1.0, 2.0, T=T, random_state=7)
    b = simulate_bgnbd_summary(100, 0.5, 3.0, 1.0, 2.0, T=T, random_state=7)
    assert a.equals(b)
    np.testing.assert_array_equal(a["T"], T)


def test_gamma_gamma_spend_mean():
    p, q, g = 6.25, 3.74, 15.44
    x = np.full(300_000, 3)
    z = simulate_gamma_gamma_spend(x, p, q, g, random_state=1)
    # E[zbar] = p * E[1/nu] = p * gamma / (q - 1)
    assert z.mean() == pytest.approx(p * g / (q - 1), rel=0.01)
    assert (simulate_gamma_gamma_spend([0, 0], p, q, g, random_state=1) == 0).all()


def test_transactions_log_summarises_like_the_process():
    log = simulate_transactions(20_000, random_state=3)
    assert list(log.columns) == ["customer_id", "date", "amount"]
    assert (log["amount"] > 0).all()
    s = clvmodels.rfm_summary(log, amount="amount", calibration_end="1997-09-30",
                              observation_end="1998-06-30", time_unit="W")
    assert len(s) == 20_000
    # E[X(T)] averaged over the cohort's T (day granularity merges a few same-day events)
    expected = np.mean([bgnbd_mean(0.243, 4.414, 0.793, 2.426, t) for t in s["T"][:2000]])
    assert s["frequency"].mean() == pytest.approx(expected, rel=0.06)


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="alpha"):
        simulate_bgnbd_summary(10, 1.0, -1.0, 1.0, 1.0, T=10)
    with pytest.raises(InvalidParameterError, match="random_state"):
        simulate_bgnbd_summary(10, 1.0, 1.0, 1.0, 1.0, T=10, random_state="x")
