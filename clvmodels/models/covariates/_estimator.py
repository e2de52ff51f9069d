"""The estimator shared by the covariate models, and what works on any of them.

:class:`_CovariateModel` holds everything that does not depend on the base
model: the covariate hyperparameters, the design matrices, the fit (the
model's parameters on the log scale and the coefficients on their own scale,
by :func:`~clvmodels.models._fit.fit_maximum_likelihood` with per-parameter
transforms), ``from_params``, the predictions at each customer's own
parameters and the interval hooks. The formulas come from hooks that each
base-model module (:mod:`.bgnbd`, :mod:`.paretonbd`) supplies; nothing here
asks which model it is. :func:`likelihood_ratio_test` and
:func:`simulate_summary` work for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from clvmodels.data._random import check_random_state
from clvmodels.errors import InvalidParameterError, InvalidSummaryError
from clvmodels.models import conditional_pmf as _cpmf
from clvmodels.models._checks import check_is_fitted, validate_data
from clvmodels.models._fit import IDENTITY, LOG, compress, fit_maximum_likelihood
from clvmodels.models.covariates.design import (
    _check_rank,
    _column_labels,
    _encode,
    _learn_encoding,
    _python,
    _sorted_levels,
)

__all__ = ["likelihood_ratio_test", "simulate_summary"]


def likelihood_ratio_test(restricted, full) -> pd.Series:
    """Likelihood-ratio test of a model against a larger one that nests it.

    ``statistic = 2 (LL_full - LL_restricted)``, asymptotically chi-square with
    ``df`` = the difference in the number of parameters under the restricted
    model (Wilks' theorem), ``p_value = P(chi2_df > statistic)``. Typical use:
    the model with covariates against the same model without them, fitted on
    the same customers.

    Parameters
    ----------
    restricted, full : fitted models
        ``restricted`` must have fewer parameters and be fitted on the same
        number of customers (without penalizer).

    Returns
    -------
    Series
        ``statistic``, ``df``, ``p_value``, ``log_likelihood_restricted``,
        ``log_likelihood_full``.
    """
    for m, what in ((restricted, "restricted"), (full, "full")):
        check_is_fitted(m, "likelihood_ratio_test")
        if not np.isfinite(m.log_likelihood_):
            raise InvalidParameterError(
                f"the {what} model has no log-likelihood (built with from_params?); fit it first."
            )
        if float(getattr(m, "penalizer", 0.0) or 0.0) > 0:
            raise InvalidParameterError(
                f"the {what} model was fitted with penalizer={m.penalizer}: a penalised fit is "
                "not a maximum-likelihood fit, so the test does not apply; refit with penalizer=0."
            )
    if restricted.n_customers_ != full.n_customers_:
        raise InvalidParameterError(
            f"the models were fitted on different data ({restricted.n_customers_} and "
            f"{full.n_customers_} customers); fit both on the same summary."
        )
    df = len(full.params_) - len(restricted.params_)
    if df <= 0:
        raise InvalidParameterError(
            f"the full model must have more parameters than the restricted one (got "
            f"{len(full.params_)} and {len(restricted.params_)}); pass (restricted, full)."
        )
    stat = 2.0 * (full.log_likelihood_ - restricted.log_likelihood_)
    return pd.Series(
        {
            "statistic": stat,
            "df": df,
            "p_value": float(chdtrc(df, max(stat, 0.0))),
            "log_likelihood_restricted": restricted.log_likelihood_,
            "log_likelihood_full": full.log_likelihood_,
        },
        name="likelihood_ratio_test",
    )




class _CovariateModel:
    """What :class:`BGNBDCovariates` and :class:`ParetoNBDCovariates` share (a mixin).

    It knows nothing of the base model's formulas: a per-model module
    (:mod:`.bgnbd`, :mod:`.paretonbd`) subclasses ``(_CovariateModel, BaseModelClass)``
    and supplies the hooks below, all pure functions of per-row parameters.
    The fitting engine does the rest: the model's own parameters are optimised
    on the log scale, the coefficients on their own (identity transform), so
    the covariance, the summary (Wald z and p for the coefficients), the
    parameter draws and the saved file come from
    :class:`~clvmodels.models._base.BaseModel`.

    Hooks (staticmethods of the concrete class)
    -------------------------------------------
    ``_base_class``
        The model without covariates (its start values, its fit as the restricted model).
    ``_individual(base, gamma_purchase, gamma_dropout, Zp, Zd)``
        Each row's parameters ``(r, alpha_i, ., .)`` in the base model's order.
    ``_build_rows(x, t_x, T, Zp, Zd)``
        Whatever the likelihood precomputes once per fit on the unique rows.
    ``_total(base, gamma_purchase, gamma_dropout, Zp, Zd, rows, weights)``
        Weighted log-likelihood and its gradient (natural scale, coefficients included).
    ``_quantities``
        ``{name: f(p, x, t_x, T, **kwargs)}``, the predictions at per-row parameters.
    ``_draws_at(quantity, params, x, t_x, T, Zp, Zd, **kwargs)``
        The vectorised evaluation over draws (``(n_draws, n_rows)``), or None to
        evaluate draw by draw.
    ``_log_conditional_pmf(p, n, x, t_x, T, t)``, ``_expected_new(p, t)``,
    ``_pmf_new(p, n, t)`` (log), ``_simulate(p, T, rng)``
        Conditional PMF, the new-customer quantities, and one draw of ``(x, t_x)``.
    """

    _base_class: ClassVar[type]
    _quantities: ClassVar[dict[str, Any]] = {}

    def __init__(self, purchase_covariates: Sequence[str] | None = None,
                 dropout_covariates: Sequence[str] | None = None,
                 reference: Mapping[str, Any] | None = None,
                 penalizer: float = 0.0, n_starts: int = 3):
        self.purchase_covariates = purchase_covariates
        self.dropout_covariates = dropout_covariates
        self.reference = reference
        self.penalizer = penalizer
        self.n_starts = n_starts

    # ------------------------------------------------------------ hyperparameters
    def _covariate_lists(self) -> tuple[list[str], list[str]]:
        out = []
        for arg in ("purchase_covariates", "dropout_covariates"):
            value = getattr(self, arg)
            if value is None:
                out.append([])
                continue
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise InvalidParameterError(
                    f"{arg} must be a list of column names, got {value!r} "
                    f"(e.g. {arg}=['channel'])."
                )
            value = list(value)
            dup = sorted({v for v in value if value.count(v) > 1})
            if dup:
                raise InvalidParameterError(f"{arg} names {dup} more than once.")
            out.append(value)
        return out[0], out[1]

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        purchase, dropout = self._covariate_lists()
        ref = self.reference
        if ref is not None:
            if not isinstance(ref, Mapping):
                raise InvalidParameterError(
                    f"reference must be a mapping column -> level, got {ref!r} "
                    "(e.g. reference={'channel': 'shop'})."
                )
            unknown = [c for c in ref if c not in purchase and c not in dropout]
            if unknown:
                raise InvalidParameterError(
                    f"reference names column(s) {unknown} that are not covariates of this model "
                    f"(purchase {purchase}, dropout {dropout})."
                )

    @classmethod
    def _transform_of(cls, name: str):
        """The model's own parameters are positive (log); the coefficients are real (identity)."""
        return LOG if name in cls._param_names else IDENTITY

    @property
    def covariate_columns(self) -> list[str]:
        """Every column the model reads besides frequency, recency and T (in order)."""
        purchase, dropout = self._covariate_lists()
        return list(dict.fromkeys(purchase + dropout))

    # ------------------------------------------------------------ data
    def _split_columns(self, summary, columns: dict) -> dict:
        """Take the covariate columns from the keyword arguments or the summary."""
        values = {}
        for name in self.covariate_columns:
            if name in columns:
                values[name] = columns.pop(name)
            elif isinstance(summary, pd.DataFrame) and name in summary.columns:
                values[name] = summary[name]
            elif isinstance(summary, Mapping) and name in summary:
                values[name] = summary[name]
        missing = [c for c in self.covariate_columns if c not in values]
        if missing:
            have = list(summary.columns) if isinstance(summary, pd.DataFrame) else sorted(columns)
            raise InvalidSummaryError(
                f"the summary lacks the covariate column(s) {missing} of this "
                f"{type(self).__name__} (it has {have}). Join the customer attributes to the "
                "summary by customer id (summary.join(attributes)), or pass them by keyword."
            )
        return values

    def _designs(self, values, index, context, encoding=None):
        purchase, dropout = self._covariate_lists()
        encoding = encoding if encoding is not None else self.covariate_encoding_
        Zp = _encode(values, purchase, encoding, index, context)
        Zd = _encode(values, dropout, encoding, index, context)
        return Zp, Zd

    def _labels(self, encoding) -> tuple[list[str], list[str]]:
        purchase, dropout = self._covariate_lists()
        lp = [f"purchase:{lab}" for c in purchase for lab in _column_labels(c, encoding[c])]
        ld = [f"dropout:{lab}" for c in dropout for lab in _column_labels(c, encoding[c])]
        return lp, ld

    # ------------------------------------------------------------ fit
    def fit(self, summary=None, *, weights=None, **columns):
        """Estimate the model's parameters and the covariate coefficients by maximum likelihood.

        Parameters
        ----------
        summary : DataFrame
            One row per customer: frequency, recency, T and the covariate
            columns (``purchase_covariates`` and ``dropout_covariates``).
        weights : array_like or str, optional
            Customers each row stands for (or a column name).
        **columns : array_like
            Any of these columns by keyword instead.

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        columns = dict(columns)
        values = self._split_columns(summary, columns)
        data, index = validate_data(self, summary, columns, context="fit")
        w = self._weights(summary, weights, len(index))
        purchase, dropout = self._covariate_lists()
        encoding = _learn_encoding(values, self.covariate_columns, self.reference, index)
        Zp, Zd = self._designs(values, index, "fit", encoding)
        lp, ld = self._labels(encoding)
        _check_rank(Zp, [lab.split(":", 1)[1] for lab in lp], "purchase")
        _check_rank(Zd, [lab.split(":", 1)[1] for lab in ld], "dropout")
        arrays = tuple(data[c] for c in self._data_columns)
        base_cls = self._base_class
        kp, kd = Zp.shape[1], Zd.shape[1]
        names = (*self._param_names, *lp, *ld)

        # start from the model without covariates (its optimum, coefficients 0)
        base_starts = [np.asarray(s, dtype=float) for s in base_cls._start_values(self, *arrays,
                                                                                   weights=w)]
        base_ll = float("nan")
        try:
            base = fit_maximum_likelihood(
                base_cls._loglik_and_gradient, arrays, self._param_names,
                base_starts[: max(1, int(self.n_starts))], weights=w,
                penalizer=float(self.penalizer), log_bounds=self._log_bounds,
                prepare=base_cls._prepare_data, warn=False,
            )
            base_starts[0] = base.params
            base_ll = base.log_likelihood
        except InvalidParameterError:
            pass
        starts = [np.concatenate([s, np.zeros(kp + kd)]) for s in base_starts]

        loglik_and_gradient, prepare = self._objective(kp)
        design = np.column_stack([Zp, Zd]) if kp + kd else np.zeros((len(index), 0))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            result = fit_maximum_likelihood(
                loglik_and_gradient, (*arrays, *design.T), names,
                starts[: max(1, int(self.n_starts))], weights=w,
                penalizer=float(self.penalizer), log_bounds=self._log_bounds, prepare=prepare,
                transforms=self._transforms(names), bound_message=self._bound_message,
            )
        result.extra["log_likelihood_without_covariates"] = base_ll
        self._set_fit_result(result)
        self.covariate_encoding_ = encoding
        unit = summary.attrs.get("time_unit") if isinstance(summary, pd.DataFrame) else None
        self.time_unit_ = None if unit is None else str(unit)
        return self

    def _bound_message(self, at_bound: dict[str, float]) -> str | None:
        """A coefficient at the edge of the search region gets its own diagnosis (separation)."""
        coefs = {n: round(v, 2) for n, v in at_bound.items() if n not in self._param_names}
        if not coefs:
            return None
        others = [n for n in at_bound if n in self._param_names]
        return (
            f"The fit did not converge: coefficient(s) {coefs} ran to the edge of the "
            "search region (|gamma| <= 18.4). The data push them to infinity, typically "
            "because a level's customers all behave alike (e.g. none made a repeat "
            "purchase: 'separation'), so their estimates and standard errors are not "
            "meaningful. Merge that level with another, drop the covariate, or refit "
            "with a small penalizer (which also shrinks the coefficients)."
            + (f" Parameters {others} are at a bound too." if others else "")
        )

    def _objective(self, kp: int):
        """``(loglik_and_gradient, prepare)`` for the fitting engine.

        The data columns are ``(x, t_x, T, *purchase design, *dropout design)``
        (``kp`` purchase columns); the parameters ``(base..., *gamma_p,
        *gamma_d)`` on the natural scale (the engine applies the transforms).
        """
        build_rows, total = self._build_rows, self._total

        def prepare(x, tx, T, *z):
            Z = np.column_stack(z) if z else np.zeros((x.size, 0))
            Zp, Zd = Z[:, :kp], Z[:, kp:]
            return ((Zp, Zd, build_rows(x, tx, T, Zp, Zd)),)

        def loglik_and_gradient(theta, prepared, weights):
            Zp, Zd, rows = prepared
            return total(theta[:4], theta[4:4 + kp], theta[4 + kp:], Zp, Zd, rows, weights)

        return loglik_and_gradient, prepare

    # ------------------------------------------------------------ results
    @property
    def coefficients_(self) -> pd.Series:
        """The covariate coefficients (purchase then dropout), by name."""
        check_is_fitted(self, "coefficients_")
        return self.params_.iloc[4:]

    def likelihood_ratio_test(self) -> pd.Series:
        """Test of all coefficients = 0 against the same model without covariates.

        Uses the fit of the model without covariates made on the same data by
        :meth:`fit` (``fit_result_.extra["log_likelihood_without_covariates"]``); see
        :func:`likelihood_ratio_test` for the statistic.

        Returns
        -------
        Series
            ``statistic``, ``df``, ``p_value``, ``log_likelihood_restricted``,
            ``log_likelihood_full``.
        """
        check_is_fitted(self, "likelihood_ratio_test")
        base_ll = self.fit_result_.extra.get("log_likelihood_without_covariates")
        restricted = self._base_class.from_params(
            **dict(zip(self._base_class._param_names, self.params_.iloc[:4], strict=True))
        )
        restricted.log_likelihood_ = float("nan") if base_ll is None else float(base_ll)
        restricted.n_customers_ = self.n_customers_
        return likelihood_ratio_test(restricted, self)

    # ------------------------------------------------------------ from_params
    @classmethod
    def from_params(cls, *, time_unit: str | None = None, purchase_covariates=None,
                    dropout_covariates=None, levels: Mapping[str, Sequence] | None = None,
                    reference: Mapping[str, Any] | None = None,
                    coefficients: Mapping[str, float] | None = None, **params: float):
        """A model with given parameters and coefficients, ready to predict (or to simulate from).

        Parameters
        ----------
        time_unit : str, optional
        purchase_covariates, dropout_covariates : list of str, optional
            Covariate columns, as in the constructor.
        levels : mapping column -> list, optional
            The levels of each categorical column (the others are numeric); the
            reference is the first in sorted order unless given in ``reference``.
        reference : mapping column -> level, optional
        coefficients : mapping name -> float
            One value per coefficient, named as in ``params_`` of a fitted model
            (``"purchase:channel[web]"``, ``"dropout:age"``); missing ones are 0.
        **params : float
            The model's parameters (``r, alpha0, a0, b0`` or ``r, alpha0, s, beta0``).

        Returns
        -------
        model
        """
        model = cls(purchase_covariates=purchase_covariates,
                    dropout_covariates=dropout_covariates, reference=reference)
        model._check_hyperparameters()
        base = cls._base_class.from_params(
            time_unit=time_unit,
            **{b: params.pop(m) for b, m in zip(cls._base_class._param_names, cls._param_names,
                                                 strict=True) if m in params},
        ) if all(m in params for m in cls._param_names) else None
        if base is None or params:
            raise InvalidParameterError(
                f"{cls.__name__}.from_params needs exactly the parameters "
                f"{list(cls._param_names)} (coefficients go in coefficients=...); got "
                f"unknown {sorted(params)}."
            )
        levels = dict(levels or {})
        encoding = {}
        ref = dict(reference or {})
        for name in model.covariate_columns:
            if name in levels:
                lv = [_python(v) for v in _sorted_levels(np.asarray(levels[name], dtype=object))]
                r0 = ref.get(name, lv[0])
                if r0 not in lv or len(lv) < 2:
                    raise InvalidParameterError(
                        f"levels[{name!r}] = {lv} must hold at least two levels including the "
                        f"reference {r0!r}."
                    )
                encoding[name] = {"kind": "categorical", "levels": lv, "reference": r0}
            else:
                encoding[name] = {"kind": "numeric", "levels": None, "reference": None}
        lp, ld = model._labels(encoding)
        coefficients = dict(coefficients or {})
        unknown = sorted(set(coefficients) - set(lp + ld))
        if unknown:
            raise InvalidParameterError(
                f"unknown coefficient(s) {unknown}; this model's coefficients are {lp + ld}."
            )
        gammas = [float(coefficients.get(k, 0.0)) for k in lp + ld]
        if not all(np.isfinite(gammas)):
            raise InvalidParameterError(f"coefficients must be finite, got {coefficients}.")
        names = [*cls._param_names, *lp, *ld]
        values = np.concatenate([base.params_.to_numpy(dtype=float), gammas])
        model._set_given_params(names, values, time_unit)
        model.covariate_encoding_ = encoding
        return model

    # ------------------------------------------------------------ save / load
    # The base class writes the model's parameters in the generic fields and the
    # coefficients, the full covariance matrices and this state in the "covariates"
    # section; these hooks give and restore the encoding of each column.
    _extra_params_section: ClassVar[str | None] = "covariates"

    def _extra_state(self) -> dict:
        return {"encoding": self.covariate_encoding_}

    def _load_extra_state(self, block: dict, fail) -> None:
        encoding = block.get("encoding")
        if not isinstance(encoding, dict) or sorted(encoding) != sorted(self.covariate_columns):
            fail(f"'encoding' must describe exactly the columns {self.covariate_columns}, got "
                 f"{encoding!r}.")
        for name, spec in encoding.items():
            ok = isinstance(spec, dict) and spec.get("kind") in ("numeric", "categorical")
            if ok and spec["kind"] == "categorical":
                lv = spec.get("levels")
                ok = isinstance(lv, list) and len(lv) >= 2 and spec.get("reference") in lv
            if not ok:
                fail(f"the encoding of column {name!r} is not valid: {spec!r}.")
        self.covariate_encoding_ = encoding

    def _expected_param_names(self) -> list[str]:
        lp, ld = self._labels(self.covariate_encoding_)
        return [*self._param_names, *lp, *ld]

    # ------------------------------------------------------------ prediction
    def _individual_data(self, summary, method: str, columns: dict):
        """Checked data, index and each customer's parameters ``(r, alpha_i, ., .)``."""
        check_is_fitted(self, method)
        columns = dict(columns)
        values = self._split_columns(summary, columns)
        data, index = self._prediction_data(summary, method, **columns)
        Zp, Zd = self._designs(values, index, method)
        return data, index, self._checked_individual(Zp, Zd, index, method)

    def _checked_individual(self, Zp, Zd, index, method):
        """Each row's parameters; an error when the coefficients push one out of (0, inf)."""
        p = self._individual_params(Zp, Zd)
        names = self._base_class._param_names
        for name, v in zip(names, p, strict=True):
            bad = np.flatnonzero(~(np.isfinite(v) & (np.asarray(v) > 0)).reshape(-1))
            if bad.size:
                raise InvalidParameterError(
                    f"{method}(): the coefficients give {name} = "
                    f"{float(np.ravel(v)[bad[0]])!r} (not a finite positive number) for "
                    f"{bad.size} customer(s), first "
                    f"{index[bad[0]]!r}: their covariate values times the coefficients overflow. "
                    "Check the covariate's scale (rescale large numeric columns) and the model's "
                    "coefficients."
                )
        return p

    def _individual_params(self, Zp, Zd, params=None):
        p = self._params_array() if params is None else np.asarray(params, dtype=float)
        kp = Zp.shape[1]
        return self._individual(p[:4], p[4:4 + kp], p[4 + kp:], Zp, Zd)

    def _covariate_frame(self, covariates, method: str):
        """Designs of a frame of covariates alone (for the new-customer quantities)."""
        check_is_fitted(self, method)
        if covariates is None and not self.covariate_columns:
            covariates = pd.DataFrame(index=pd.RangeIndex(1))
        if not isinstance(covariates, pd.DataFrame):
            raise InvalidSummaryError(
                f"{method}() of a model with covariates needs covariates=DataFrame with the "
                f"columns {self.covariate_columns} (one row per kind of new customer); got "
                f"{type(covariates).__name__}."
            )
        values = self._split_columns(covariates, {})
        index = covariates.index
        Zp, Zd = self._designs(values, index, method)
        return index, self._checked_individual(Zp, Zd, index, method)

    def individual_params(self, summary=None, **columns) -> pd.DataFrame:
        """Each customer's own model parameters implied by the covariates.

        Returns
        -------
        DataFrame
            Indexed like the summary; columns ``r, alpha, a, b`` (BG/NBD) or
            ``r, alpha, s, beta`` (Pareto/NBD).
        """
        _, index, p = self._individual_data(summary, "individual_params", columns)
        names = self._base_class._param_names
        return pd.DataFrame({n: np.broadcast_to(v, (len(index),)) for n, v in zip(names, p,
                                                                                  strict=True)},
                            index=index)

    def conditional_log_probability_of_purchases(self, summary, counts, t) -> np.ndarray:
        """log P(X(T, T + t) = counts[i] | history, covariates) per customer.

        See :mod:`clvmodels.models.conditional_pmf`; here at each customer's
        own parameters.
        """
        data, index, p = self._individual_data(
            summary, "conditional_log_probability_of_purchases", {})
        counts = _cpmf.counts_in_summary_order(counts, summary, index)
        bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
        if np.any(bad):
            raise InvalidParameterError(
                f"counts must hold whole numbers >= 0; position {int(np.flatnonzero(bad)[0])} "
                "is not."
            )
        if isinstance(t, pd.Series):
            t = t.reindex(index)
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidParameterError("the horizon t must be finite and >= 0.")
        return self._log_conditional_pmf(p, counts, data["frequency"], data["recency"],
                                         data["T"], t)

    def _quantity(self, quantity: str, p, x, tx, T, **kwargs) -> np.ndarray:
        """One prediction for every row at the rows' own parameters ``p``."""
        fn = self._quantities.get(quantity)
        if fn is None:
            raise InvalidParameterError(
                f"{type(self).__name__} has no interval for {quantity!r}; intervals are "
                f"available for {', '.join(self._quantities)}."
            )
        return fn(p, x, tx, T, **kwargs)

    def _predict(self, quantity, summary, columns, options, **kwargs):
        data, index, p = self._individual_data(summary, quantity, columns)
        values = self._quantity(quantity, p, data["frequency"], data["recency"], data["T"],
                                **kwargs)
        estimate = pd.Series(values, index=index, name=quantity)
        return self._with_interval(estimate, quantity, summary, columns, options, **kwargs)

    def expected_purchases(self, summary=None, t=1.0, *, interval=None, method="asymptotic",
                           n_draws=1000, n_boot=200, random_state=None, progress=False,
                           fit_summary=None, **columns):
        """Expected purchases of each customer in the next ``t`` time units (own parameters).

        Parameters
        ----------
        summary : DataFrame
            frequency, recency, T and the covariate columns.
        t : float or array_like, default 1
        interval : float in (0, 1), optional
            Also return a parameter-uncertainty interval at this level (the
            coefficients' uncertainty included); see
            :mod:`clvmodels.models.uncertainty` for what it covers.
        method, n_draws, n_boot, random_state, progress, fit_summary
            As for :meth:`clvmodels.models.bgnbd.BGNBD.expected_purchases`;
            ``fit_summary`` (bootstrap) needs the covariate columns too.
        **columns : array_like
            Columns by keyword instead.

        Returns
        -------
        Series named ``expected_purchases`` indexed like the summary; with
        ``interval``, a DataFrame with ``expected_purchases``,
        ``expected_purchases_lower`` and ``expected_purchases_upper``.
        """
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidParameterError(f"the horizon t must be finite and >= 0, got {t!r}.")
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._predict("expected_purchases", summary, columns, options, t=t)

    def probability_alive(self, summary=None, *, interval=None, method="asymptotic",
                          n_draws=1000, n_boot=200, random_state=None, progress=False,
                          fit_summary=None, **columns):
        """P(alive at T) of each customer, at their own parameters.

        Parameters
        ----------
        summary : DataFrame
            frequency, recency, T and the covariate columns.
        interval, method, n_draws, n_boot, random_state, progress, fit_summary
            Parameter-uncertainty interval, as in :meth:`expected_purchases`.

        Returns
        -------
        Series named ``probability_alive`` indexed like the summary (with
        ``interval``, a DataFrame with ``_lower``/``_upper`` columns).
        """
        options = dict(interval=interval, method=method, n_draws=n_draws, n_boot=n_boot,
                       random_state=random_state, progress=progress, fit_summary=fit_summary)
        return self._predict("probability_alive", summary, columns, options)

    # ------------------------------------------------------------ interval hooks
    def _interval_data(self, summary, method: str, **columns):
        """frequency, recency, T and the encoded design columns (``purchase_j``, ``dropout_j``)."""
        columns = dict(columns)
        values = self._split_columns(summary, columns)
        data, index = self._prediction_data(summary, method, **columns)
        Zp, Zd = self._designs(values, index, method)
        out = {c: np.asarray(data[c], dtype=float) for c in self._data_columns}
        out.update({f"purchase_{j}": Zp[:, j] for j in range(Zp.shape[1])})
        out.update({f"dropout_{j}": Zd[:, j] for j in range(Zd.shape[1])})
        return out, index

    def _predict_with_params(self, quantity: str, params: np.ndarray, data: dict, **kwargs):
        """``quantity`` at each parameter vector (natural scale) for each row of ``data``.

        The module's ``_draws_at`` evaluates all (draw, row) pairs at once where it
        can; otherwise one vectorised evaluation over the rows per parameter vector.
        """
        x, tx, T = data["frequency"], data["recency"], data["T"]
        n = x.shape[0]

        def design(prefix):
            cols = [data[k] for k in sorted((k for k in data if k.startswith(prefix)),
                                            key=lambda k: int(k.rsplit("_", 1)[1]))]
            return np.column_stack(cols) if cols else np.zeros((n, 0))

        Zp, Zd = design("purchase_"), design("dropout_")
        params = np.atleast_2d(np.asarray(params, dtype=float))
        with np.errstate(over="ignore"):
            values = self._draws_at(quantity, params, x, tx, T, Zp, Zd, **kwargs)
            if values is not None:
                return np.asarray(values, dtype=float).reshape(params.shape[0], n)
            out = np.empty((params.shape[0], n))
            for i, theta in enumerate(params):
                p = self._individual_params(Zp, Zd, params=theta)
                out[i] = self._quantity(quantity, p, x, tx, T, **kwargs)
        return out

    def _bootstrap_data(self, fit_summary):
        """Unique rows of ``(frequency, recency, T, design columns)`` of the fitting summary."""
        check_is_fitted(self, "bootstrap")
        columns: dict = {}
        values = self._split_columns(fit_summary, columns)
        data, index = validate_data(self, fit_summary, columns, context="bootstrap")
        Zp, Zd = self._designs(values, index, "bootstrap")
        packed = compress([data[c] for c in self._data_columns] + list(Zp.T) + list(Zd.T))
        return packed.columns, packed.weights

    def _refit_weighted(self, columns, weights, start):
        """Refit on the unique rows with new weights from ``start`` (natural scale)."""
        kp = len(self._labels(self.covariate_encoding_)[0])
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return self._refit(columns, weights, start, *self._objective(kp))

    def expected_purchases_new_customer(self, t, covariates=None) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` of new customers with given covariates.

        Parameters
        ----------
        t : float or array_like
            Horizon(s), broadcast with the rows of ``covariates``.
        covariates : DataFrame
            One row per kind of customer, with the covariate columns.

        Returns
        -------
        ndarray, one value per row
        """
        index, p = self._covariate_frame(covariates, "expected_purchases_new_customer")
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidParameterError(f"the horizon t must be finite and >= 0, got {t!r}.")
        return self._expected_new(p, t)

    def probability_of_purchases(self, n, t, covariates=None) -> np.ndarray:
        """``P(X(t) = n)`` for new customers with given covariates (one row each).

        Parameters
        ----------
        n : int or array_like of int
        t : float or array_like (> 0)
        covariates : DataFrame
            Broadcast with ``n`` and ``t`` as rows.

        Returns
        -------
        ndarray
        """
        index, p = self._covariate_frame(covariates, "probability_of_purchases")
        n = np.asarray(n, dtype=float)
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
            raise InvalidParameterError(f"n must hold whole numbers >= 0, got {n!r}.")
        if not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise InvalidParameterError("the horizon t must be finite and > 0.")
        return np.exp(self._pmf_new(p, n, t))


def simulate_summary(model, covariates: pd.DataFrame, T, random_state=None,
                     time_unit: str = "W") -> pd.DataFrame:
    """Draw ``(frequency, recency, T)`` for customers with given covariates from a covariate model.

    Each customer gets their own parameters (``alpha_i`` etc., from the model's
    parameters and coefficients) and then follows the model's story:

    (each base-model module's ``_simulate``):

    * BG/NBD: ``lambda ~ Gamma(r, alpha_i)``, ``p ~ Beta(a_i, b_i)``; the
      number of repeat purchases before dropping out is ``D ~ Geometric(p)``
      on {1, 2, ...}, the Poisson events in ``(0, T]`` number
      ``N ~ Poisson(lambda T)``, ``x = min(N, D)`` and the ``x``-th event time
      is ``T Beta(x, N - x + 1)`` (order statistics of uniforms);
    * Pareto/NBD: ``lambda ~ Gamma(r, alpha_i)``, ``mu ~ Gamma(s, beta_i)``,
      lifetime ``tau ~ Exponential(mu)``; ``x ~ Poisson(lambda min(tau, T))``
      and the last purchase at ``min(tau, T) Beta(x, 1)``.

    Parameters
    ----------
    model : BGNBDCovariates or ParetoNBDCovariates
        Fitted, or built with ``from_params``.
    covariates : DataFrame
        One row per customer with the covariate columns; its index becomes the
        summary's index.
    T : float or array_like
        Observation time of each customer since the first purchase.
    random_state : int, Generator or None

    Returns
    -------
    DataFrame
        frequency, recency, T and the covariate columns; ``attrs["time_unit"]``.
    """
    if not isinstance(model, _CovariateModel):
        raise InvalidParameterError(
            f"simulate_summary() takes a BGNBDCovariates or ParetoNBDCovariates, got "
            f"{type(model).__name__}."
        )
    rng = check_random_state(random_state)
    _, p = model._covariate_frame(covariates, "simulate_summary")
    n = len(covariates)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if not np.all(np.isfinite(T)) or np.any(T < 0):
        raise InvalidParameterError("T must be finite and >= 0 for every customer.")
    x, recency = model._simulate(p, T, rng)
    out = pd.DataFrame({"frequency": x.astype(np.int64), "recency": recency, "T": T},
                       index=covariates.index)
    for c in model.covariate_columns:
        out[c] = covariates[c].to_numpy()
    out.attrs = {"time_unit": time_unit}
    return out
