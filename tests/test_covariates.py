"""Time-invariant covariates for BG/NBD and Pareto/NBD (clvmodels.models.covariates).

Independent truths used here:

* the models without covariates (``bgnbd``, ``paretonbd``, themselves checked
  against published values and mpmath): with zero coefficients the likelihood
  must equal theirs to 1e-12, and with any coefficients each customer's
  likelihood and predictions must equal theirs evaluated at that customer's
  own ``(alpha_i, a_i, b_i)`` / ``(alpha_i, beta_i)``;
* mpmath at 50 digits: the likelihood from its defining expressions (FHL 2005
  eq. 6 with beta/gamma functions; the Pareto/NBD integral over the death time
  by ``mp.quad``) and its derivatives by ``mp.diff``, with the covariates;
* simulation from the models' stories with known coefficients (recovery
  within 3 standard errors);
* scipy's chi-square distribution for the likelihood-ratio test.
"""

from __future__ import annotations

import json

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    ModelFileError,
    NotFittedError,
)
from clvmodels.models import bgnbd, paretonbd
from clvmodels.models import covariates as cv
from clvmodels.models.bgnbd import BGNBD
from clvmodels.models.io import load_model
from clvmodels.models.paretonbd import ParetoNBD

BG = (0.243, 4.414, 0.793, 2.426)
PNBD = (0.553, 10.578, 0.606, 11.669)


def _data(n=300, seed=0):
    """Varied histories (including t_x = T, x = 0, large x) and a design with both kinds."""
    rng = np.random.default_rng(seed)
    x = rng.negative_binomial(0.5, 0.1, n).astype(float)
    x[:5] = [0, 1, 40, 300, 2]
    T = rng.uniform(1, 80, n)
    tx = np.where(x > 0, T * rng.uniform(0, 1, n) ** 0.5, 0.0)
    tx[4] = T[4]
    level = rng.integers(0, 3, n)
    Z = np.column_stack([level == 1, level == 2, rng.normal(size=n)]).astype(float)
    return x, tx, T, Z


# ---------------------------------------------------------------------------
# the likelihood
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_zero_coefficients_equal_the_model_without_covariates(kind):
    x, tx, T, Z = _data()
    base_params, base_mod = (BG, bgnbd) if kind == "bgnbd" else (PNBD, paretonbd)
    rows_fn = getattr(cv, f"{kind}_log_likelihood_rows")
    total_fn = getattr(cv, f"{kind}_loglik_and_gradient")
    params = (*base_params, 0.0, 0.0, 0.0, 0.0, 0.0)
    ours = rows_fn(params, x, tx, T, Z, Z[:, :2])
    theirs = base_mod.log_likelihood_rows(base_params, x, tx, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    w = np.arange(1.0, x.size + 1)
    ll, grad = total_fn(params, x, tx, T, Z, Z[:, :2], w)
    reference = base_mod.log_likelihood(base_params, x, tx, T, w)
    assert abs(ll - reference) <= 1e-12 * abs(reference)
    np.testing.assert_allclose(grad[:4], base_mod.gradient(base_params, x, tx, T, w),
                               rtol=1e-10, atol=1e-9)


def _individual(kind, params, Zp, Zd):
    base, gp, gd = np.asarray(params[:4]), np.asarray(params[4:4 + Zp.shape[1]]), np.asarray(
        params[4 + Zp.shape[1]:])
    alpha = base[1] * np.exp(-(Zp @ gp))
    if kind == "bgnbd":
        return alpha, base[2] * np.exp(Zd @ gd), base[3] * np.exp(Zd @ gd)
    return alpha, base[3] * np.exp(-(Zd @ gd))


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_each_customer_has_the_base_likelihood_at_their_own_parameters(kind):
    x, tx, T, Z = _data(seed=1)
    Zp, Zd = Z[:, :2], Z[:, :2]  # categorical: three patterns
    base_params, base_mod = (BG, bgnbd) if kind == "bgnbd" else (PNBD, paretonbd)
    params = (*base_params, 0.7, -0.4, 0.9, -1.3)
    ours = getattr(cv, f"{kind}_log_likelihood_rows")(params, x, tx, T, Zp, Zd)
    ind = _individual(kind, params, Zp, Zd)
    for level in range(3):
        rows = Zp[:, 0] + 2 * Zp[:, 1] == level
        i = np.flatnonzero(rows)[0]
        if kind == "bgnbd":
            p = (base_params[0], ind[0][i], ind[1][i], ind[2][i])
        else:
            p = (base_params[0], ind[0][i], base_params[2], ind[1][i])
        theirs = base_mod.log_likelihood_rows(p, x[rows], tx[rows], T[rows])
        np.testing.assert_allclose(ours[rows], theirs, rtol=1e-12, atol=1e-12)


def _numerical_gradient(f, p, h=1e-6):
    p = np.asarray(p, dtype=float)
    out = np.empty(p.size)
    for j in range(p.size):
        e = np.zeros(p.size)
        e[j] = h * max(1.0, abs(p[j]))
        out[j] = (f(p + e) - f(p - e)) / (2 * e[j])
    return out


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_gradient_matches_finite_differences(kind):
    x, tx, T, Z = _data(n=120, seed=2)
    base_params = BG if kind == "bgnbd" else PNBD
    params = (*base_params, 0.3, -0.2, 0.25, 0.4, -0.5)
    f = getattr(cv, f"{kind}_loglik_and_gradient")
    w = np.linspace(0.5, 2.0, x.size)
    _, grad = f(params, x, tx, T, Z, Z[:, 1:], w)
    numeric = _numerical_gradient(lambda p: f(p, x, tx, T, Z, Z[:, 1:], w)[0], params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


# --- mpmath at 50 digits, from the defining expressions -------------------------------------
def _mp_bgnbd_total(params, rows, Zp, Zd):
    r, alpha0, a0, b0, *g = params
    gp, gd = g[: len(Zp[0])], g[len(Zp[0]):]
    total = mp.mpf(0)
    for (x, tx, T), zp, zd in zip(rows, Zp, Zd, strict=True):
        alpha = alpha0 * mp.exp(-mp.fsum(c * v for c, v in zip(gp, zp, strict=True)))
        k = mp.exp(mp.fsum(c * v for c, v in zip(gd, zd, strict=True)))
        a, b = a0 * k, b0 * k
        common = mp.gamma(r + x) * alpha**r / mp.gamma(r)
        L = mp.beta(a, b + x) / mp.beta(a, b) * common / (alpha + T) ** (r + x)
        if x > 0:
            L += mp.beta(a + 1, b + x - 1) / mp.beta(a, b) * common / (alpha + tx) ** (r + x)
        total += mp.log(L)
    return total


def _mp_paretonbd_total(params, rows, Zp, Zd):
    r, alpha0, s, beta0, *g = params
    gp, gd = g[: len(Zp[0])], g[len(Zp[0]):]
    total = mp.mpf(0)
    for (x, tx, T), zp, zd in zip(rows, Zp, Zd, strict=True):
        alpha = alpha0 * mp.exp(-mp.fsum(c * v for c, v in zip(gp, zp, strict=True)))
        beta = beta0 * mp.exp(-mp.fsum(c * v for c, v in zip(gd, zd, strict=True)))
        # alive at T, or dead at tau in (t_x, T] (Gamma mixtures of the Poisson/exponential story)
        alive = (alpha + T) ** (-(r + x)) * (beta + T) ** (-s)
        def density(u, alpha=alpha, beta=beta, x=x):
            return (alpha + u) ** (-(r + x)) * (beta + u) ** (-(s + 1))

        dead = s * mp.quad(density, [tx, T]) if T > tx else 0
        L = mp.gamma(r + x) / mp.gamma(r) * alpha**r * beta**s * (alive + dead)
        total += mp.log(L)
    return total


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_likelihood_and_gradient_against_mpmath(kind):
    rows = [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 20.0, 20.0), (1, 3.5, 52.0)]
    Zp = [[1.0, 0.3], [0.0, -1.2], [1.0, 0.8], [0.0, 2.0]]
    Zd = [[0.0], [1.0], [1.0], [0.0]]
    base_params = BG if kind == "bgnbd" else PNBD
    params = (*base_params, 0.4, -0.3, 0.6)
    mp_total = _mp_bgnbd_total if kind == "bgnbd" else _mp_paretonbd_total
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    ll, grad = getattr(cv, f"{kind}_loglik_and_gradient")(params, x, tx, T, Zp, Zd)
    with mp.workdps(50):
        mp_params = [mp.mpf(v) for v in params]
        reference = mp_total(mp_params, rows, Zp, Zd)
        assert abs(ll - float(reference)) <= 1e-12 * abs(float(reference))
        for j in range(len(params)):
            def f(v, j=j):
                q = list(mp_params)
                q[j] = v
                return mp_total(q, rows, Zp, Zd)

            d = float(mp.diff(f, mp_params[j]))
            assert abs(grad[j] - d) <= 1e-9 * max(1.0, abs(d)), (j, grad[j], d)


# ---------------------------------------------------------------------------
# predictions at each customer's own parameters
# ---------------------------------------------------------------------------
def _two_level_model(kind):
    if kind == "bgnbd":
        return cv.BGNBDCovariates.from_params(
            r=BG[0], alpha0=BG[1], a0=BG[2], b0=BG[3], purchase_covariates=["channel"],
            dropout_covariates=["channel"], levels={"channel": ["shop", "web"]},
            coefficients={"purchase:channel[web]": 0.6, "dropout:channel[web]": -0.8},
            time_unit="W")
    return cv.ParetoNBDCovariates.from_params(
        r=PNBD[0], alpha0=PNBD[1], s=PNBD[2], beta0=PNBD[3], purchase_covariates=["channel"],
        dropout_covariates=["channel"], levels={"channel": ["shop", "web"]},
        coefficients={"purchase:channel[web]": 0.6, "dropout:channel[web]": -0.8},
        time_unit="W")


def _base_at(model, level):
    """The model without covariates at the parameters of customers with this channel."""
    p = model.params_
    on = 1.0 if level == "web" else 0.0
    gp, gd = p["purchase:channel[web]"] * on, p["dropout:channel[web]"] * on
    if isinstance(model, cv.BGNBDCovariates):
        k = np.exp(gd)
        return BGNBD.from_params(r=p["r"], alpha=p["alpha0"] * np.exp(-gp), a=p["a0"] * k,
                                 b=p["b0"] * k)
    return ParetoNBD.from_params(r=p["r"], alpha=p["alpha0"] * np.exp(-gp), s=p["s"],
                                 beta=p["beta0"] * np.exp(-gd))


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_predictions_equal_the_base_model_at_each_customers_parameters(kind):
    model = _two_level_model(kind)
    x, tx, T, _ = _data(n=200, seed=3)
    channel = np.where(np.arange(x.size) % 3 == 0, "web", "shop")
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T, "channel": channel},
                           index=pd.Index(np.arange(x.size) + 100, name="customer_id"))
    counts = np.arange(x.size) % 4
    ep = model.expected_purchases(summary, t=26.0)
    pa = model.probability_alive(summary)
    lp = model.conditional_log_probability_of_purchases(summary, counts, 26.0)
    kinds = pd.DataFrame({"channel": ["shop", "web"]})
    new = model.expected_purchases_new_customer([39.0, 39.0], covariates=kinds)
    pmf = model.probability_of_purchases(
        [0, 3], 39.0, covariates=pd.DataFrame({"channel": ["web", "web"]}))
    assert ep.index.equals(summary.index) and pa.index.equals(summary.index)
    for j, level in enumerate(["shop", "web"]):
        base = _base_at(model, level)
        rows = channel == level
        part = summary.loc[rows, ["frequency", "recency", "T"]]
        np.testing.assert_allclose(ep[rows], base.expected_purchases(part, t=26.0), rtol=1e-11)
        np.testing.assert_allclose(pa[rows], base.probability_alive(part), rtol=1e-12)
        np.testing.assert_allclose(
            lp[rows], base.conditional_log_probability_of_purchases(part, counts[rows], 26.0),
            rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(new[j], base.expected_purchases_new_customer(39.0),
                                   rtol=1e-12)
        if level == "web":
            np.testing.assert_allclose(pmf, base.probability_of_purchases([0, 3], 39.0),
                                       rtol=1e-11)
        if kind == "paretonbd":
            delta = np.log(1.15) / 52
            np.testing.assert_allclose(
                model.expected_residual_transactions(summary, discount_rate=delta)[rows],
                base.expected_residual_transactions(part, discount_rate=delta), rtol=1e-11)


# ---------------------------------------------------------------------------
# fitting: recovery, compression, the estimator contract
# ---------------------------------------------------------------------------
def _truth(kind):
    coefficients = {"purchase:channel[shop]": -0.4, "purchase:channel[web]": 0.5,
                    "purchase:tenure": 0.3, "dropout:channel[web]": 0.9}
    common = dict(purchase_covariates=["channel", "tenure"], dropout_covariates=["channel"],
                  levels={"channel": ["app", "shop", "web"]}, coefficients=coefficients)
    if kind == "bgnbd":
        return cv.BGNBDCovariates.from_params(r=0.6, alpha0=5.0, a0=0.9, b0=3.0, **common)
    return cv.ParetoNBDCovariates.from_params(r=0.6, alpha0=5.0, s=0.8, beta0=15.0, **common)


def _attributes(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "channel": rng.choice(["app", "shop", "web"], n),
        "tenure": rng.integers(-2, 3, n).astype(float),  # numeric, five values
    }, index=pd.Index(np.arange(n), name="customer_id"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_recovers_simulated_coefficients_within_three_standard_errors(kind):
    truth = _truth(kind)
    attributes = _attributes(6000, seed=11)
    T = np.random.default_rng(12).uniform(26, 78, len(attributes)).round(1)
    summary = cv.simulate_summary(truth, attributes, T=T, random_state=13)
    cls = type(truth)
    model = cls(purchase_covariates=["channel", "tenure"], dropout_covariates=["channel"])
    model.fit(summary)
    assert model.converged_ and model.fit_info_["hessian_ok"]
    assert list(model.params_.index) == list(truth.params_.index)
    table = model.summary()
    z = (table["estimate"] - truth.params_) / table["std_error"]
    assert np.all(np.abs(z) < 3), z
    # the categorical and five-valued numeric covariates make 15 patterns: rows compress
    assert model.fit_info_["n_unique_rows"] < len(summary)


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_compressed_rows_with_weights_fit_like_the_expanded_customers(kind):
    truth = _two_level_model(kind)
    attributes = pd.DataFrame({"channel": np.repeat(["shop", "web"], 400)})
    summary = cv.simulate_summary(truth, attributes, T=np.round(np.linspace(10, 40, 800)),
                                  random_state=5)
    cls = type(truth)
    kwargs = dict(purchase_covariates=["channel"], dropout_covariates=["channel"], n_starts=1)
    full = cls(**kwargs).fit(summary)
    counts = summary.groupby(list(summary.columns)).size().rename("n").reset_index()
    weighted = cls(**kwargs).fit(counts, weights="n")
    np.testing.assert_allclose(weighted.params_, full.params_, rtol=1e-6, atol=1e-7)
    assert weighted.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-10)
    assert full.fit_info_["n_unique_rows"] == len(counts)


def _cdnow_like(kind="bgnbd", n=1500, seed=7):
    truth = _two_level_model(kind)
    rng = np.random.default_rng(seed)
    attributes = pd.DataFrame({"channel": rng.choice(["shop", "web"], n),
                               "age": rng.normal(40, 10, n).round()},
                              index=pd.Index(np.arange(n) + 1000, name="customer_id"))
    summary = cv.simulate_summary(truth, attributes, T=rng.uniform(20, 39, n).round(2),
                                  random_state=seed)
    summary["age"] = attributes["age"]
    return summary


def test_estimator_contract_clone_refit_and_unfitted_use():
    summary = _cdnow_like()
    model = cv.BGNBDCovariates(purchase_covariates=["channel"], dropout_covariates=["channel"])
    with pytest.raises(NotFittedError):
        model.expected_purchases(summary, t=4.0)
    params = model.get_params()
    twin = clone(model)
    assert twin.get_params() == params
    model.fit(summary)
    assert model.get_params() == params  # fit leaves hyperparameters alone
    first = model.params_.copy()
    model.fit(summary)
    np.testing.assert_allclose(model.params_, first, rtol=1e-9)
    assert model.time_unit_ == "W"
    # AIC counts the coefficients
    assert model.aic == pytest.approx(2 * 6 - 2 * model.log_likelihood_)


def test_summary_shows_coefficients_with_standard_errors_and_wald_tests():
    summary = _cdnow_like()
    model = cv.BGNBDCovariates(purchase_covariates=["channel", "age"],
                               dropout_covariates=["channel"]).fit(summary)
    table = model.summary(alpha=0.1)
    assert list(table.index) == ["r", "alpha0", "a0", "b0", "purchase:channel[web]",
                                 "purchase:age", "dropout:channel[web]"]
    coef = table.iloc[4:]
    z = 1.6448536269514722
    np.testing.assert_allclose(coef["ci_lower"], coef["estimate"] - z * coef["std_error"])
    np.testing.assert_allclose(coef["z_value"], coef["estimate"] / coef["std_error"])
    from scipy import stats

    np.testing.assert_allclose(coef["p_value"], 2 * stats.norm.sf(np.abs(coef["z_value"])),
                               rtol=1e-10)
    assert table.iloc[:4]["z_value"].isna().all()
    assert np.all(table["std_error"] > 0)
    # the base parameters' standard errors are the delta-method ones (J V J)
    cov_log = model._covariance_log
    np.testing.assert_allclose(table["std_error"].iloc[:4],
                               model.params_.iloc[:4] * np.sqrt(np.diag(cov_log)[:4]))
    assert table.attrs["log_likelihood"] == model.log_likelihood_
    assert model.coefficients_.index.tolist() == list(table.index[4:])


def test_likelihood_ratio_test_against_the_fit_without_covariates():
    from scipy import stats

    summary = _cdnow_like("bgnbd", n=1200)
    model = cv.BGNBDCovariates(purchase_covariates=["channel"],
                               dropout_covariates=["channel"]).fit(summary)
    base = BGNBD().fit(summary)
    test = cv.likelihood_ratio_test(base, model)
    assert test["df"] == 2
    assert test["statistic"] == pytest.approx(2 * (model.log_likelihood_
                                                   - base.log_likelihood_))
    assert test["p_value"] == pytest.approx(stats.chi2.sf(test["statistic"], 2), rel=1e-10)
    assert test["statistic"] >= 0
    own = model.likelihood_ratio_test()
    assert own["statistic"] == pytest.approx(test["statistic"], rel=1e-7, abs=1e-6)
    with pytest.raises(InvalidParameterError, match="more parameters"):
        cv.likelihood_ratio_test(model, base)


# ---------------------------------------------------------------------------
# encoding and error messages
# ---------------------------------------------------------------------------
def test_reference_level_is_the_first_sorted_or_the_one_given():
    summary = _cdnow_like()
    model = cv.BGNBDCovariates(purchase_covariates=["channel"], n_starts=1).fit(summary)
    assert model.covariate_encoding_["channel"] == {
        "kind": "categorical", "levels": ["shop", "web"], "reference": "shop"}
    flipped = cv.BGNBDCovariates(purchase_covariates=["channel"], reference={"channel": "web"},
                                 n_starts=1).fit(summary)
    assert list(flipped.coefficients_.index) == ["purchase:channel[shop]"]
    # the same model: the coefficient changes sign, the likelihood does not move
    assert flipped.coefficients_.iloc[0] == pytest.approx(-model.coefficients_.iloc[0], rel=1e-5)
    assert flipped.log_likelihood_ == pytest.approx(model.log_likelihood_, rel=1e-10)
    # category dtype: the order of its categories
    cat = summary.assign(channel=pd.Categorical(summary["channel"], ["web", "shop"]))
    model = cv.BGNBDCovariates(purchase_covariates=["channel"], n_starts=1).fit(cat)
    assert model.covariate_encoding_["channel"]["reference"] == "web"
    with pytest.raises(InvalidParameterError, match="does not occur"):
        cv.BGNBDCovariates(purchase_covariates=["channel"],
                           reference={"channel": "phone"}).fit(summary)
    with pytest.raises(InvalidParameterError, match="numeric"):
        cv.BGNBDCovariates(purchase_covariates=["age"], reference={"age": 40}).fit(summary)


def test_unknown_level_at_prediction_names_column_rows_and_level():
    summary = _cdnow_like()
    model = cv.BGNBDCovariates(purchase_covariates=["channel"], n_starts=1).fit(summary)
    new = summary.copy()
    new.loc[[1003, 1007], "channel"] = "phone"
    with pytest.raises(InvalidSummaryError, match=r"'channel'.*\['phone'\].*1003.*1007"):
        model.expected_purchases(new, t=4.0)


def test_missing_values_are_refused_naming_column_and_customers():
    summary = _cdnow_like()
    bad = summary.copy()
    bad["channel"] = bad["channel"].astype(object)
    bad.loc[1005, "channel"] = None
    bad.loc[1010, "age"] = np.nan
    with pytest.raises(InvalidSummaryError, match=r"'channel' is missing.*1005"):
        cv.BGNBDCovariates(purchase_covariates=["channel"]).fit(bad)
    with pytest.raises(InvalidSummaryError, match=r"'age' is missing.*1010"):
        cv.ParetoNBDCovariates(dropout_covariates=["age"]).fit(bad)
    model = cv.BGNBDCovariates(purchase_covariates=["channel"], n_starts=1).fit(summary)
    with pytest.raises(InvalidSummaryError, match=r"'channel' is missing.*1005"):
        model.probability_alive(bad)
    with pytest.raises(InvalidSummaryError, match=r"lacks the covariate column\(s\) \['channel'\]"):
        model.probability_alive(summary[["frequency", "recency", "T"]])


def test_unidentified_designs_are_refused():
    summary = _cdnow_like()
    with pytest.raises(InvalidSummaryError, match="same value"):
        cv.BGNBDCovariates(purchase_covariates=["const"]).fit(summary.assign(const=2.0))
    with pytest.raises(InvalidSummaryError, match="single level"):
        cv.BGNBDCovariates(purchase_covariates=["one"]).fit(summary.assign(one="x"))
    twin = summary.assign(web=(summary["channel"] == "web").astype(float))
    with pytest.raises(InvalidSummaryError, match=r"linearly dependent.*channel\[web\].*web"):
        cv.BGNBDCovariates(purchase_covariates=["channel", "web"]).fit(twin)
    with pytest.raises(InvalidParameterError, match="list of column names"):
        cv.BGNBDCovariates(purchase_covariates="channel").fit(summary)


# ---------------------------------------------------------------------------
# saving, the harness
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_save_and_load_round_trip(tmp_path, kind):
    summary = _cdnow_like(kind, n=800)
    cls = cv.BGNBDCovariates if kind == "bgnbd" else cv.ParetoNBDCovariates
    model = cls(purchase_covariates=["channel", "age"], dropout_covariates=["channel"],
                reference={"channel": "web"}, n_starts=1).fit(summary)
    path = tmp_path / "model.json"
    model.save(path)
    back = load_model(path)
    assert type(back) is cls and back.get_params() == model.get_params()
    pd.testing.assert_series_equal(back.params_, model.params_)
    pd.testing.assert_frame_equal(back.covariance_, model.covariance_)
    np.testing.assert_array_equal(back._covariance_log, model._covariance_log)
    assert back.covariate_encoding_ == model.covariate_encoding_
    pd.testing.assert_series_equal(back.expected_purchases(summary, t=10.0),
                                   model.expected_purchases(summary, t=10.0))
    pd.testing.assert_frame_equal(back.summary(), model.summary())
    # a file whose coefficients do not match its encoding is refused
    d = json.loads(path.read_text())
    d["covariates"]["coefficients"].pop(next(iter(d["covariates"]["coefficients"])))
    path.write_text(json.dumps(d))
    with pytest.raises(ModelFileError, match="coefficient names"):
        load_model(path)


def test_harness_compares_a_model_with_and_without_covariates():
    import clvmodels
    from clvmodels.evaluation.methods import CovariateModelMethod

    log = clvmodels.datasets.load_cdnow_transactions()

    def high_first_purchase(calibration_log):  # derived from the calibration log only
        first = calibration_log.groupby("customer_id")["date"].transform("min")
        value = calibration_log[calibration_log["date"] == first].groupby("customer_id")[
            "amount"].sum()
        return pd.DataFrame({"high_first": value > value.median()})

    method = CovariateModelMethod("bgnbd", covariates=high_first_purchase,
                                  purchase_covariates=["high_first"],
                                  dropout_covariates=["high_first"])
    res = clvmodels.compare(log, ["bgnbd", method], calibration_end="1997-09-30",
                            observation_end="1998-06-30", errors="raise")
    table = res.table()
    assert list(table.index) == ["bgnbd", "bgnbd+covariates"]
    assert np.all(np.isfinite(table["holdout_log_likelihood"]))
    fitted = res.methods["bgnbd+covariates"].purchase_model_
    assert list(fitted.coefficients_.index) == ["purchase:high_first[True]",
                                                "dropout:high_first[True]"]
    # the restricted fit made inside is the published CDNOW BG/NBD (FHL 2005: LL = -9582.4)
    assert fitted.fit_info_["log_likelihood_without_covariates"] == pytest.approx(
        res.methods["bgnbd"].purchase_model_.log_likelihood_, rel=1e-9)
    assert fitted.fit_info_["log_likelihood_without_covariates"] == pytest.approx(-9582.4, abs=0.05)
    test = fitted.likelihood_ratio_test()
    assert test["df"] == 2 and test["statistic"] == pytest.approx(
        2 * (fitted.log_likelihood_ + 9582.43), abs=0.02)


def test_from_params_refuses_unknown_names():
    with pytest.raises(InvalidParameterError, match="unknown coefficient"):
        cv.BGNBDCovariates.from_params(r=1, alpha0=1, a0=1, b0=1, purchase_covariates=["c"],
                                       levels={"c": ["a", "b"]},
                                       coefficients={"purchase:c[z]": 1.0})
    with pytest.raises(InvalidParameterError, match="needs exactly the parameters"):
        cv.ParetoNBDCovariates.from_params(r=1, alpha0=1, s=1, beta=1)


def test_conditional_pmf_sums_to_one_with_covariates():
    model = _two_level_model("paretonbd")
    summary = pd.DataFrame({"frequency": [0, 3], "recency": [0.0, 20.0], "T": [30.0, 30.0],
                            "channel": ["web", "shop"]})
    n = np.arange(200)
    rows = summary.iloc[np.repeat([0, 1], n.size)]
    lp = model.conditional_log_probability_of_purchases(rows, np.tile(n, 2), 39.0)
    np.testing.assert_allclose(np.exp(lp).reshape(2, -1).sum(axis=1), 1.0, rtol=1e-10)


def test_separation_is_diagnosed_naming_the_coefficient():
    from clvmodels.errors import ConvergenceWarning

    truth = _two_level_model("bgnbd")
    summary = cv.simulate_summary(truth, pd.DataFrame({"channel": np.repeat(["shop", "web"], 500)}),
                                  T=39.0, random_state=2)
    summary.loc[summary["channel"] == "web", ["frequency", "recency"]] = 0  # web never returns
    with pytest.warns(ConvergenceWarning, match=r"purchase:channel\[web\]': -18\.4.*separation"):
        model = cv.BGNBDCovariates(purchase_covariates=["channel"], n_starts=1).fit(summary)
    assert not model.converged_


# ---------------------------------------------------------------------------
# intervals (the parameter-uncertainty machinery of clvmodels.models.uncertainty)
# ---------------------------------------------------------------------------
def test_parameter_draws_have_raw_scale_coefficients_and_the_fit_covariance():
    from clvmodels.models.uncertainty import draw_parameters

    summary = _cdnow_like(n=1000)
    model = cv.BGNBDCovariates(purchase_covariates=["channel"], reference={"channel": "web"},
                               dropout_covariates=["channel"]).fit(summary)
    assert model.params_["purchase:channel[shop]"] < 0  # a negative coefficient
    draws = draw_parameters(model, 8000, random_state=3)
    assert np.all(np.isfinite(draws))
    z = np.column_stack([np.log(draws[:, :4]), draws[:, 4:]])
    cov = model._covariance_log
    se = np.sqrt(np.diag(cov))
    # mean within 4 Monte Carlo standard errors, variances within 10% (8000 draws: ~1.6%)
    target = np.concatenate([np.log(model.params_.iloc[:4]), model.params_.iloc[4:]])
    assert np.all(np.abs(z.mean(axis=0) - target) < 4 * se / np.sqrt(len(z)))
    np.testing.assert_allclose(np.diag(np.cov(z.T)), np.diag(cov), rtol=0.1)


def _interval_fixture(kind):
    """A fit on 2,000 simulated customers in three weekly cohorts (few unique rows: fast)."""
    truth = _two_level_model(kind)
    attributes = pd.DataFrame({"channel": np.repeat(["shop", "web"], 1000)})
    summary = cv.simulate_summary(truth, attributes, T=np.repeat([26.0, 39.0, 52.0],
                                                                [700, 700, 600]), random_state=8)
    summary["recency"] = np.floor(summary["recency"] * 7) / 7
    model = type(truth)(purchase_covariates=["channel"], dropout_covariates=["channel"])
    return model.fit(summary), summary


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_asymptotic_interval_agrees_with_the_delta_method(kind):
    model, summary = _interval_fixture(kind)
    repeat = summary[summary["frequency"] > 0]
    rows = pd.concat([repeat[repeat["channel"] == c].iloc[:3] for c in ("shop", "web")])
    out = model.probability_alive(rows, interval=0.9, n_draws=4000, random_state=4)
    pd.testing.assert_series_equal(out["probability_alive"], model.probability_alive(rows))
    assert np.all(out["probability_alive_lower"] <= out["probability_alive"])
    assert np.all(out["probability_alive"] <= out["probability_alive_upper"])
    # delta method on the optimizer's scale: log of the model's parameters, raw coefficients
    data, _ = model._interval_data(rows, "probability_alive")
    theta = model.params_.to_numpy()
    z0 = np.r_[np.log(theta[:4]), theta[4:]]

    def f(z):
        natural = np.r_[np.exp(z[:4]), z[4:]]
        return model._predict_with_params("probability_alive", natural[None, :], data)[0]

    h = 1e-5
    jac = np.column_stack([(f(z0 + h * e) - f(z0 - h * e)) / (2 * h) for e in np.eye(len(z0))])
    sd = np.sqrt(np.einsum("ij,jk,ik->i", jac, model._covariance_log, jac))
    width = (out["probability_alive_upper"] - out["probability_alive_lower"]).to_numpy()
    # percentile and delta-method widths agree while the prediction is near-linear in the
    # parameters over their uncertainty (and up to the Monte Carlo error of 4,000 draws)
    np.testing.assert_allclose(width, 2 * 1.6448536 * sd, rtol=0.15)


def test_bootstrap_hooks_refit_on_reweighted_unique_rows():
    summary = _cdnow_like(n=800)
    model = cv.BGNBDCovariates(purchase_covariates=["channel", "age"],
                               dropout_covariates=["channel"]).fit(summary)
    columns, weights = model._bootstrap_data(summary)
    assert weights.sum() == len(summary) and len(columns) == 3 + 3
    # the original counts give back the estimate
    again = model._refit_weighted(columns, weights, model.params_.to_numpy())
    np.testing.assert_allclose(again, model.params_.to_numpy(), rtol=1e-5, atol=1e-6)
    out = model.expected_purchases(summary.iloc[:20], t=8.0, interval=0.8, method="bootstrap",
                                   n_boot=12, fit_summary=summary, random_state=5)
    assert out.attrs["method"] == "bootstrap"
    assert np.all(out["expected_purchases_lower"] <= out["expected_purchases_upper"])


def test_without_covariates_the_classes_are_the_base_models():
    summary = _cdnow_like(n=600)
    model = cv.BGNBDCovariates(n_starts=1).fit(summary)
    base = BGNBD(n_starts=1).fit(summary)
    np.testing.assert_allclose(model.params_.to_numpy(), base.params_.to_numpy(), rtol=1e-6)
    assert list(model.params_.index) == ["r", "alpha0", "a0", "b0"]
    np.testing.assert_allclose(model.expected_purchases_new_customer([10.0, 39.0]),
                               base.expected_purchases_new_customer([10.0, 39.0]), rtol=1e-5)


@pytest.mark.parametrize("kind", ["bgnbd", "paretonbd"])
def test_vectorised_draws_equal_one_model_per_draw(kind):
    from clvmodels.models.uncertainty import draw_parameters

    model, summary = _interval_fixture(kind)
    rows = summary.iloc[::97]
    draws = draw_parameters(model, 25, random_state=6)
    data, _ = model._interval_data(rows, "expected_purchases")
    for quantity, kwargs in (("expected_purchases", {"t": 13.0}), ("probability_alive", {})):
        fast = model._predict_with_params(quantity, draws, data, **kwargs)
        for i in (0, 11, 24):  # the public method of a model holding that draw
            one = model._with_params(draws[i])
            np.testing.assert_allclose(fast[i], getattr(one, quantity)(rows, **kwargs),
                                       rtol=1e-9)


def test_overflowing_individual_parameters_are_refused_not_nan():
    model = cv.ParetoNBDCovariates.from_params(
        r=0.5, alpha0=10.0, s=0.6, beta0=12.0, purchase_covariates=["spend"],
        coefficients={"purchase:spend": -2.0})
    summary = pd.DataFrame({"frequency": [1, 2], "recency": [3.0, 4.0], "T": [10.0, 10.0],
                            "spend": [1.0, 1e4]}, index=pd.Index(["a", "b"], name="id"))
    with pytest.raises(InvalidParameterError, match=r"alpha = inf.*'b'.*rescale"):
        model.expected_purchases(summary, t=5.0)


def test_clv_with_covariates_equals_the_base_model_per_level_and_has_intervals():
    """customer_lifetime_value reads the covariate columns: each customer's CLV is the base
    model's at that customer's own parameters; its interval draws the coefficients on their
    own scale (the dropout coefficient is negative), so the bounds are finite and ordered."""
    from clvmodels.models.clv import customer_lifetime_value
    from clvmodels.models.uncertainty import draw_parameters

    summary = _cdnow_like("bgnbd", n=800, seed=11)
    summary.attrs = {"time_unit": "W"}
    model = cv.BGNBDCovariates(purchase_covariates=["channel"],
                               dropout_covariates=["channel"]).fit(summary)
    assert model.params_["dropout:channel[web]"] < 0
    spend_of = pd.Series(20.0, index=summary.index)
    clv = customer_lifetime_value(model, None, summary, horizon=26, discount_rate=0.01,
                                  spend=spend_of)
    for level in ("shop", "web"):
        rows = summary["channel"] == level
        base = _base_at(model, level)
        expected = customer_lifetime_value(base, None, summary.loc[rows, ["frequency",
                                           "recency", "T"]], horizon=26, discount_rate=0.01,
                                           spend=spend_of[rows])
        np.testing.assert_allclose(clv[rows], expected, rtol=1e-10)

    draws = draw_parameters(model, n_draws=4000, random_state=1)
    se = np.sqrt(np.diag(model._covariance_log))
    coef = model.params_.to_numpy()[4:]
    assert np.all(np.abs(draws[:, 4:].mean(axis=0) - coef) <= 4 * se[4:] / np.sqrt(4000))
    np.testing.assert_allclose(draws[:, 4:].std(axis=0), se[4:], rtol=0.06)

    first = summary.iloc[:300]
    iv = customer_lifetime_value(model, None, first, horizon=26, discount_rate=0.01,
                                 spend=spend_of.iloc[:300], interval=0.9, n_draws=60,
                                 random_state=0)
    point = customer_lifetime_value(model, None, first, horizon=26, discount_rate=0.01,
                                    spend=spend_of.iloc[:300])
    est, low, high = (iv[c].to_numpy() for c in iv.columns[:3])
    np.testing.assert_array_equal(est, point.to_numpy())
    assert np.isfinite(iv.to_numpy()).all()
    assert np.all(low <= est + 1e-12) and np.all(est <= high + 1e-12) and np.all(high > low)
