r"""Each practitioners' formula as a per-customer predictor, for the comparison harness.

The protocol
------------
Every predictor is a scikit-learn style estimator (hyperparameters in
``__init__``, which does no work; ``get_params``/``set_params``/``clone`` work;
learned attributes end in ``_``) with this small interface::

    name: str                          class attribute, e.g. "historical_arpu"
    label: str                         name and variant, e.g. "historical_arpu[proportional]"
    needs_transactions: bool           True: the harness passes the calibration log to fit
    fit(summary, transactions=None) -> self
    predict(summary, horizon) -> DataFrame

``fit`` takes calibration data only:

* ``summary``: a calibration summary from :func:`clvmodels.rfm_summary`, indexed by
  customer, with ``frequency``, ``recency``, ``T`` (and ``monetary_value``) and
  ``attrs["time_unit"]`` and ``attrs["calibration_end"]``. Only those four
  columns are read; holdout columns, if present, are never touched.
* ``transactions``: the calibration-period log, columns ``customer_id``,
  ``date``, ``amount``. A row dated after ``summary.attrs["calibration_end"]``
  is refused (:class:`~clvmodels.errors.InvalidTransactionsError`), so a
  predictor can never see the holdout. The cohort, predictive and traditional
  formulas need it (they use monthly customer counts); the historical and
  S x C x P x T formulas fall back on the summary's repeat purchases without it.

``predict(summary, horizon)`` returns a DataFrame indexed like ``summary``
with columns ``transactions`` and ``revenue``: each customer's expected number
of transactions (purchase days) and revenue in the ``horizon`` time units
(the summary's unit) after ``calibration_end``. The summary must have the
time unit and calibration end of the fit.

Translating base-level formulas to customers
--------------------------------------------
The formulas predict revenue (the harness compares revenue): margins
(AGM, P, GM) are set to 1, and the discount rate of the traditional formula
defaults to 0. Months are 30.4375 days; a horizon of ``h`` time units is
``h x unit days / 30.4375`` months. The monthly figures (revenue, orders,
customers at the start and end of each month, retention) come from
:func:`clvmodels.formulas.inputs.formula_inputs` on the calibration log, with
``active_window`` months of activity per purchase.

Where a formula describes the whole base, named ``allocation`` variants spread
it over customers, each "the most faithful way" we found:

``historical_arpu``
    ARPU per month = calibration revenue / customers / months of the
    calibration window (first transaction of the log to ``calibration_end``),
    the article's ARPU scaled to the horizon instead of to a year.
    ``"equal"``: every customer gets ARPU x horizon. ``"proportional"``: every
    customer gets their own revenue over the window, scaled to the horizon
    (base total x their share of calibration revenue). Transactions alike.
``cohort``
    The size-weighted average cohort curve of revenue (and transactions) per
    customer by month of age, from complete calibration months; ages beyond the
    oldest cohort follow a geometric tail fitted to the curve from age 1
    (``tail="geometric"``) or its last value (``"constant"``). A customer of
    cohort c gets the curve integrated over their ages in the horizon.
    ``"cohort_average"``: that; ``"proportional"``: the cohort's total split by
    the customers' shares of the cohort's calibration revenue (transactions).
``predictive_clv``
    Base forecast = T x AOV x L(h) with L(h) = sum_{k<h} R^k (``lifetime=
    "geometric"``: the base's activity decays by the monthly retention R, so
    that L(infinity) = ALT = 1 / churn, the formula's own factor) or min(h, ALT)
    (``"fixed"``). ``"equal"``: divided equally among the log's customers;
    ``"proportional"``: by the customers' shares of calibration transactions
    (revenue).
``traditional_clv``
    A customer brings m per month while retained, retained with probability R
    per month: m x sum_{t=1}^{h} (R / (1 + D))^t, the finite-horizon
    traditional formula. m = revenue (orders) per active customer-month.
    ``"equal"``: every customer gets it; ``"active_only"``: only customers
    active at ``calibration_end`` (a purchase in the last ``active_window``
    months), others 0 (the formula is about retained customers);
    ``"own_history"``: m is the customer's own revenue (orders) per month since
    their first purchase.
``scpt_ltv``
    S x C x T, with S the average check, C purchases per customer per month
    (calibration orders / customers / months) and T the lifetime in months
    (``lifetime_months``, or ALT = 1 / churn). ``lifetime="remaining"``: a
    customer buys for T months after their first purchase, so the horizon
    holds min(h, max(T - age, 0)) of them; ``"geometric"``: L(h) as above with
    R = 1 - 1 / T. ``"equal"``: base S and C; ``"own_history"``: the
    customer's own average check and purchases per month.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from clvmodels.data.summary import TIME_UNITS
from clvmodels.errors import (
    InvalidParameterError,
    InvalidSummaryError,
    InvalidTransactionsError,
    NotFittedError,
    UnitMismatchError,
)
from clvmodels.formulas import _checks, _log
from clvmodels.formulas.historical import historical_clv
from clvmodels.formulas.inputs import FormulaInputs, _check_window, _pooled_inputs
from clvmodels.formulas.traditional import _discounted_sum

__all__ = [
    "HistoricalARPUPredictor",
    "CohortPredictor",
    "PredictiveCLVPredictor",
    "TraditionalCLVPredictor",
    "SCPTPredictor",
    "FORMULA_PREDICTORS",
    "formula_predictor_variants",
]

DAYS_PER_MONTH = 365.25 / 12.0
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
LOG_COLUMNS = ("customer_id", "date", "amount")


# ---------------------------------------------------------------------------
# Shared machinery


def _check_summary(summary: pd.DataFrame, need_monetary: bool = False) -> pd.DataFrame:
    """Validated calibration columns of a summary (a copy holding only them)."""
    if not isinstance(summary, pd.DataFrame):
        raise InvalidSummaryError(
            f"summary must be a DataFrame from clvmodels.rfm_summary, not "
            f"{type(summary).__name__}."
        )
    needed = ["frequency", "recency", "T"] + (["monetary_value"] if need_monetary else [])
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise InvalidSummaryError(
            f"summary lacks column(s) {missing} (it has {list(summary.columns)}); build it "
            "with clvmodels.rfm_summary(..., amount='amount')."
        )
    attrs = summary.attrs
    unit = attrs.get("time_unit")
    if unit not in TIME_UNITS or attrs.get("calibration_end") is None:
        raise InvalidSummaryError(
            "summary.attrs must record 'time_unit' (one of "
            f"{list(TIME_UNITS)}) and 'calibration_end', as clvmodels.rfm_summary does; "
            f"got time_unit={unit!r}, calibration_end={attrs.get('calibration_end')!r}."
        )
    if len(summary) == 0:
        raise InvalidSummaryError("summary has no customers.")
    if not summary.index.is_unique:
        raise InvalidSummaryError("summary has duplicate customer ids in its index.")
    cols = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    data = summary[cols].astype(float)
    bad = ~np.isfinite(data.to_numpy()) | (data.to_numpy() < 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InvalidSummaryError(
            f"summary column {cols[col]!r} has {int(bad[:, col].sum())} missing, infinite or "
            f"negative value(s), e.g. customer {summary.index[row]!r}: "
            f"{data.iat[row, col]!r}."
        )
    if (data["recency"] > data["T"] + 1e-9).any():
        who = summary.index[(data["recency"] > data["T"] + 1e-9).to_numpy()][0]
        raise InvalidSummaryError(
            f"summary has recency > T (customer {who!r}): recency is measured from the "
            "first purchase to the last, T from the first purchase to calibration_end."
        )
    data.attrs = {}
    return data


def _summary_days(data: pd.DataFrame, unit_days: float, cal_day: int) -> tuple:
    """First and last purchase days of each customer, from T and recency."""
    first = cal_day - np.rint(data["T"].to_numpy() * unit_days).astype(np.int64)
    last = first + np.rint(data["recency"].to_numpy() * unit_days).astype(np.int64)
    return first, last


def _calendar_months(first_day: ArrayLike, cal_day: int) -> np.ndarray:
    """Calendar months from each first purchase month to calibration_end's month, inclusive."""
    return int(_log.month_number(cal_day)) - _log.month_number(first_day) + 1


def _geometric_months(retention: float, months: ArrayLike) -> np.ndarray:
    """sum_{k=0}^{h-1} R^k = (1 - R^h) / (1 - R), h may be fractional."""
    months = np.asarray(months, dtype=float)
    if retention >= 1.0:
        return months
    if retention <= 0.0:
        return np.minimum(months, 1.0)
    return -np.expm1(months * math.log(retention)) / (1.0 - retention)


class _FormulaPredictor(BaseEstimator):
    """Base of the formula predictors: input checks, history, the predict frame."""

    name = "formula"
    #: The harness passes the calibration log to ``fit`` when this is True (the
    #: evaluation protocol's flag); every formula uses it when given.
    needs_transactions = True
    #: Whether ``fit`` refuses to work without the log.
    _log_required = True
    _variant_params: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The name with the variant hyperparameters, e.g. ``cohort[proportional, geometric]``."""
        parts = [str(getattr(self, p)) for p in self._variant_params]
        return f"{self.name}[{', '.join(parts)}]" if parts else self.name

    @property
    def display_name(self) -> str:
        """The name people read in reports and leaderboards: the :attr:`label`."""
        return self.label

    # -- fitting -----------------------------------------------------------
    def fit(self, summary: pd.DataFrame, transactions: pd.DataFrame | None = None) -> Self:
        """Learn the formula's inputs from calibration data (see the module docstring).

        Parameters
        ----------
        summary : DataFrame
            Calibration summary (``frequency``, ``recency``, ``T``,
            ``monetary_value``; attrs ``time_unit``, ``calibration_end``).
        transactions : DataFrame, optional
            Calibration log with columns ``customer_id``, ``date``, ``amount``;
            nothing after ``calibration_end``.

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        data = _check_summary(summary, need_monetary=transactions is None)
        unit = summary.attrs["time_unit"]
        unit_days = TIME_UNITS[unit]
        cal_end = pd.Timestamp(summary.attrs["calibration_end"]).normalize()
        cal_day = _log.day_number(cal_end)
        if transactions is None and self._log_required:
            raise InvalidTransactionsError(
                f"{self.name} needs the calibration transactions (monthly customer counts "
                "come from them): call fit(summary, transactions) with the log of columns "
                "customer_id, date, amount up to calibration_end."
            )
        cd = None
        if transactions is not None:
            cd = self._check_log(transactions, cal_end, cal_day, summary.index)
        self.time_unit_ = unit
        self.unit_days_ = unit_days
        self.calibration_end_ = cal_end
        if cd is not None:
            f = cd.frame
            codes = f["code"].to_numpy()
            n = len(cd.customers)
            hist = pd.DataFrame({
                "purchases": np.bincount(codes, minlength=n).astype(float),
                "revenue": np.bincount(codes, weights=f["amount"].to_numpy(), minlength=n),
                "first_day": f.groupby("code")["day"].min().reindex(range(n)).to_numpy(),
            }, index=cd.customers)
            self.basis_ = "all purchases"
            self.window_days_ = float(cal_day - cd.first_day + 1)
        else:
            first, _ = _summary_days(data, unit_days, cal_day)
            hist = pd.DataFrame({
                "purchases": data["frequency"].to_numpy(),
                "revenue": (data["frequency"] * data["monetary_value"]).to_numpy(),
                "first_day": first,
            }, index=summary.index)
            self.basis_ = "repeat purchases"
            self.window_days_ = float(cal_day - first.min() + 1)
        self.customer_history_ = hist
        self.n_customers_ = len(hist)
        self._fit(data, transactions, cd)
        return self

    def _check_log(
        self, transactions: object, cal_end: pd.Timestamp, cal_day: int, customers: pd.Index,
    ) -> _log.CustomerDays:
        if not isinstance(transactions, pd.DataFrame):
            raise InvalidTransactionsError(
                f"transactions must be a DataFrame, not {type(transactions).__name__}."
            )
        missing = [c for c in LOG_COLUMNS if c not in transactions.columns]
        if missing:
            raise InvalidTransactionsError(
                f"transactions lack column(s) {missing} (they have "
                f"{list(transactions.columns)}); the predictors read customer_id, date, amount."
            )
        cd = _log.customer_days(transactions, "customer_id", "date", "amount",
                                observation_end=cal_end)
        if cd.n_rows_after_observation_end:
            raise InvalidTransactionsError(
                f"transactions hold {cd.n_rows_after_observation_end} row(s) dated after "
                f"calibration_end ({cal_end.date()}): a predictor may only see calibration "
                "data. Pass transactions[transactions['date'] <= "
                "summary.attrs['calibration_end']]."
            )
        absent = customers.difference(cd.customers)
        if len(absent):
            raise InvalidTransactionsError(
                f"{len(absent)} customer(s) of the summary have no transaction in the log "
                f"(e.g. {list(absent[:3])}); pass the calibration log the summary was built from."
            )
        return cd

    def _check_hyperparameters(self) -> None:  # overridden where there are choices
        return None

    def _fit(
        self, data: pd.DataFrame, transactions: pd.DataFrame | None, cd: _log.CustomerDays | None,
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- predicting --------------------------------------------------------
    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        """Expected transactions and revenue of each customer in the next ``horizon`` time units.

        Parameters
        ----------
        summary : DataFrame
            Summary with the fit's time unit and calibration end (holdout
            columns are ignored).
        horizon : float
            Length of the prediction window, in the summary's time unit, > 0.

        Returns
        -------
        DataFrame
            Indexed like ``summary``: ``transactions`` and ``revenue``
            (finite, >= 0).
        """
        if not hasattr(self, "customer_history_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(summary, "
                "transactions) first."
            )
        data = _check_summary(summary, need_monetary=self.basis_ == "repeat purchases")
        unit = summary.attrs["time_unit"]
        if unit != self.time_unit_:
            raise UnitMismatchError(
                f"the predictor was fitted on a summary in unit {self.time_unit_!r}, this one "
                f"is in {unit!r}; rebuild the summary with time_unit={self.time_unit_!r}."
            )
        cal_end = pd.Timestamp(summary.attrs["calibration_end"]).normalize()
        if cal_end != self.calibration_end_:
            raise InvalidSummaryError(
                f"the summary's calibration_end ({cal_end.date()}) differs from the fit's "
                f"({self.calibration_end_.date()}); predictions start at the fit's "
                "calibration_end."
            )
        h = _checks.positive("horizon", horizon, f"the prediction window in {unit} units")
        months = h * self.unit_days_ / DAYS_PER_MONTH
        if self.basis_ == "all purchases":
            absent = summary.index.difference(self.customer_history_.index)
            if len(absent):
                raise InvalidSummaryError(
                    f"{len(absent)} customer(s) of the summary were not in the transactions "
                    f"given to fit (e.g. {list(absent[:3])}); fit on their calibration log."
                )
            hist = self.customer_history_.reindex(summary.index)
        else:
            first, _ = _summary_days(data, self.unit_days_,
                                     _log.day_number(self.calibration_end_))
            hist = pd.DataFrame({
                "purchases": data["frequency"].to_numpy(),
                "revenue": (data["frequency"] * data["monetary_value"]).to_numpy(),
                "first_day": first,
            }, index=summary.index)
        tx, rev = self._predict(data, hist, months)
        out = pd.DataFrame(
            {"transactions": np.asarray(tx, dtype=float), "revenue": np.asarray(rev, dtype=float)},
            index=summary.index,
        )
        values = out.to_numpy()
        if not np.isfinite(values).all() or (values < 0).any():  # pragma: no cover - guard
            raise InvalidSummaryError(
                f"{self.label} produced non-finite or negative predictions; please report "
                "this with the summary that caused it."
            )
        out.attrs = {"method": self.label, "horizon": h, "time_unit": unit,
                     "calibration_end": self.calibration_end_}
        return out

    def _predict(
        self, data: pd.DataFrame, hist: pd.DataFrame, months: float,
    ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _choice(self, param: str, choices: Sequence[str]) -> None:
        value = getattr(self, param)
        if value not in choices:
            raise InvalidParameterError(
                f"{type(self).__name__}({param}={value!r}): choose one of {choices}."
            )

    def _shares(self, hist: pd.DataFrame, column: str) -> np.ndarray:
        total = float(self.customer_history_[column].sum())
        if total <= 0:
            return np.zeros(len(hist))
        return hist[column].to_numpy(dtype=float) / total


# ---------------------------------------------------------------------------
# Historical ARPU


class HistoricalARPUPredictor(_FormulaPredictor):
    """Historical CLV (ARPU) as a per-customer predictor.

    ARPU per month over the calibration window, scaled to the horizon; see the
    module docstring for the allocations.

    Parameters
    ----------
    allocation : {"equal", "proportional"}, default "equal"

    Attributes
    ----------
    arpu_per_month_, transactions_per_customer_month_ : float
    historical_clv_ : float
        The article's figure: ARPU over the window scaled to twelve months.
    window_months_ : float
    inputs_ : Series
        The figures used.

    Examples
    --------
    >>> import clvmodels
    >>> log = clvmodels.datasets.load_cdnow_transactions()
    >>> cal = log[log["date"] <= "1997-09-30"]
    >>> s = clvmodels.rfm_summary(log, amount="amount", calibration_end="1997-09-30",
    ...                           observation_end="1998-06-30")
    >>> p = HistoricalARPUPredictor().fit(s, cal)
    >>> round(p.historical_clv_, 2)
    98.27
    """

    name = "historical_arpu"
    _log_required = False
    _variant_params = ("allocation",)

    def __init__(self, allocation: str = "equal") -> None:
        self.allocation = allocation

    def _check_hyperparameters(self) -> None:
        self._choice("allocation", ("equal", "proportional"))

    def _fit(
        self, data: pd.DataFrame, transactions: pd.DataFrame | None, cd: _log.CustomerDays | None,
    ) -> None:
        hist = self.customer_history_
        self.window_months_ = self.window_days_ / DAYS_PER_MONTH
        n = len(hist)
        revenue = float(hist["revenue"].sum())
        purchases = float(hist["purchases"].sum())
        self.arpu_per_month_ = revenue / n / self.window_months_
        self.transactions_per_customer_month_ = purchases / n / self.window_months_
        self.historical_clv_ = historical_clv(revenue, n, self.window_months_)
        self.inputs_ = pd.Series({
            "revenue": revenue, "transactions": purchases, "customers": n,
            "window_months": self.window_months_, "arpu_per_month": self.arpu_per_month_,
            "historical_clv": self.historical_clv_, "basis": self.basis_,
        }, dtype=object)

    def _predict(
        self, data: pd.DataFrame, hist: pd.DataFrame, months: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.allocation == "equal":
            tx = np.full(len(hist), self.transactions_per_customer_month_ * months)
            rev = np.full(len(hist), self.arpu_per_month_ * months)
        else:
            scale = months / self.window_months_
            tx = hist["purchases"].to_numpy() * scale
            rev = hist["revenue"].to_numpy() * scale
        return tx, rev


# ---------------------------------------------------------------------------
# Cohort


def _tail(curve: np.ndarray, weights: np.ndarray, kind: str) -> float:
    """Monthly decay factor of the curve beyond its last age (1 = constant)."""
    if kind == "constant":
        return 1.0
    ages = np.arange(len(curve))
    ok = (ages >= 1) & (curve > 0) & (weights > 0)
    if ok.sum() < 2:
        return 1.0
    slope = np.polyfit(ages[ok], np.log(curve[ok]), 1, w=np.sqrt(weights[ok]))[0]
    return float(min(math.exp(slope), 1.0))


def _integrate_curve(
    curve: np.ndarray, decay: float, start: ArrayLike, length: ArrayLike,
) -> np.ndarray:
    """Integral over [start, start + length] of the step function curve[floor(x)].

    Beyond its last age the curve continues geometrically by ``decay`` per month.
    """
    start = np.asarray(start, dtype=float)
    stop = start + length
    top = int(math.ceil(stop.max())) + 1
    last = len(curve) - 1
    extra = np.arange(last + 1, top + 1)
    full = np.concatenate([curve, curve[last] * decay ** (extra - last)]) if top > last else curve
    cum = np.concatenate([[0.0], np.cumsum(full)])

    def primitive(x: np.ndarray) -> np.ndarray:
        k = np.floor(x).astype(np.int64)
        return cum[k] + (x - k) * full[k]

    return primitive(stop) - primitive(start)


class CohortPredictor(_FormulaPredictor):
    """Cohort CLV as a per-customer predictor (needs the calibration log).

    Parameters
    ----------
    allocation : {"cohort_average", "proportional"}, default "cohort_average"
    tail : {"geometric", "constant"}, default "geometric"
        How the average cohort curve continues beyond the oldest observed age.

    Attributes
    ----------
    revenue_curve_, transactions_curve_ : Series
        Average revenue (transactions) per cohort customer in each month of
        age, weighted by cohort size over the cohorts observed at that age.
    revenue_decay_, transactions_decay_ : float
        Monthly factor of the tail.
    curve_customers_ : Series
        Customers behind each age of the curves (the sizes of the cohorts
        observed at that age).
    last_month_ : Period
        Last complete calibration month.
    """

    name = "cohort"
    _variant_params = ("allocation", "tail")

    def __init__(self, allocation: str = "cohort_average", tail: str = "geometric") -> None:
        self.allocation = allocation
        self.tail = tail

    def _check_hyperparameters(self) -> None:
        self._choice("allocation", ("cohort_average", "proportional"))
        self._choice("tail", ("geometric", "constant"))

    def _fit(
        self, data: pd.DataFrame, transactions: pd.DataFrame | None, cd: _log.CustomerDays | None,
    ) -> None:
        from clvmodels.formulas.cohort import _cohort_cells

        assert cd is not None  # fit() reads the log of every predictor with _log_required
        agg, sizes, last = _cohort_cells(cd)
        cohorts = sizes.index.to_numpy()
        if last < cohorts.min():
            raise InvalidTransactionsError(
                "the calibration log holds no complete calendar month after the first "
                "cohort's month starts; the cohort curve needs at least one."
            )
        ages = np.arange(last - cohorts.min() + 1)
        observed = cohorts[:, None] + ages[None, :] <= last
        w = (observed * sizes.to_numpy()[:, None]).sum(axis=0).astype(float)
        curves = {}
        for col in ("revenue", "transactions"):
            cell = agg[col].unstack("age").reindex(index=cohorts, columns=ages).fillna(0.0)
            tot = np.where(observed, cell.to_numpy(), 0.0).sum(axis=0)
            curves[col] = tot / w
        self.revenue_curve_ = pd.Series(curves["revenue"], index=pd.Index(ages, name="age"))
        self.transactions_curve_ = pd.Series(curves["transactions"],
                                             index=pd.Index(ages, name="age"))
        self.revenue_decay_ = _tail(curves["revenue"], w, self.tail)
        self.transactions_decay_ = _tail(curves["transactions"], w, self.tail)
        self.last_month_ = _log.month_period(last)[0]
        self.curve_customers_ = pd.Series(w, index=pd.Index(ages, name="age"))
        # cohort means of own history, for the proportional allocation
        hist = self.customer_history_
        cohort_of = _log.month_number(hist["first_day"].to_numpy())
        self._cohort_means = pd.DataFrame({
            "purchases": hist["purchases"].to_numpy(), "revenue": hist["revenue"].to_numpy(),
            "cohort": cohort_of,
        }).groupby("cohort")[["purchases", "revenue"]].mean()
        self.inputs_ = pd.Series({
            "cohorts": len(cohorts), "ages_observed": len(ages),
            "revenue_decay": self.revenue_decay_,
            "transactions_decay": self.transactions_decay_,
        }, dtype=object)

    def _predict(
        self, data: pd.DataFrame, hist: pd.DataFrame, months: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        cal_day = _log.day_number(self.calibration_end_)
        cohort = _log.month_number(hist["first_day"].to_numpy())
        cal_month = int(_log.month_number(cal_day))
        month_start = int(_log.month_first_day(cal_month))
        month_len = int(_log.month_first_day(cal_month + 1)) - month_start
        elapsed = (cal_day - month_start + 1) / month_len
        start = (cal_month - cohort) + elapsed
        tx = _integrate_curve(self.transactions_curve_.to_numpy(), self.transactions_decay_,
                              start, months)
        rev = _integrate_curve(self.revenue_curve_.to_numpy(), self.revenue_decay_, start,
                               months)
        if self.allocation == "proportional":
            means = self._cohort_means.reindex(cohort)
            with np.errstate(invalid="ignore", divide="ignore"):
                ftx = np.where(means["purchases"].to_numpy() > 0,
                               hist["purchases"].to_numpy() / means["purchases"].to_numpy(), 0.0)
                frev = np.where(means["revenue"].to_numpy() > 0,
                                hist["revenue"].to_numpy() / means["revenue"].to_numpy(), 0.0)
            tx, rev = tx * np.nan_to_num(ftx), rev * np.nan_to_num(frev)
        return tx, rev


# ---------------------------------------------------------------------------
# Monthly-count formulas


class _MonthlyFormula(_FormulaPredictor):
    """Predictors whose inputs come from formula_inputs on the calibration log."""

    def _monthly_inputs(self, cd: _log.CustomerDays) -> FormulaInputs:
        self._check_window()
        fi = _pooled_inputs(cd, self.active_window)
        if fi.retention_rate is None:
            raise InvalidTransactionsError(
                "no complete calibration month starts with active customers, so there is no "
                "retention rate; use a longer calibration period or a larger active_window."
            )
        return fi

    def _check_window(self) -> None:
        try:
            _check_window(self.active_window)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{type(self).__name__}: {exc}") from None


class PredictiveCLVPredictor(_MonthlyFormula):
    """Predictive CLV (T x AOV x AGM x ALT) as a per-customer predictor (needs the log).

    Parameters
    ----------
    allocation : {"equal", "proportional"}, default "equal"
    lifetime : {"geometric", "fixed"}, default "geometric"
        How ALT is spread over the horizon (see the module docstring).
    active_window : int, default 1
        Months of activity per purchase for the customer counts.

    Attributes
    ----------
    transactions_per_month_, average_order_value_, retention_rate_,
    average_lifetime_months_ : float
        The formula's inputs (T, AOV, R = 1 - churn, ALT).
    base_clv_ : float
        The formula's base revenue over the lifetime, T x AOV x ALT (AGM = 1).
    inputs_ : FormulaInputs
    """

    name = "predictive_clv"
    _variant_params = ("allocation", "lifetime")

    def __init__(
        self, allocation: str = "equal", lifetime: str = "geometric", active_window: int = 1,
    ) -> None:
        self.allocation = allocation
        self.lifetime = lifetime
        self.active_window = active_window

    def _check_hyperparameters(self) -> None:
        self._choice("allocation", ("equal", "proportional"))
        self._choice("lifetime", ("geometric", "fixed"))
        self._check_window()

    def _fit(
        self, data: pd.DataFrame, transactions: pd.DataFrame | None, cd: _log.CustomerDays | None,
    ) -> None:
        assert cd is not None  # fit() reads the log of every predictor with _log_required
        fi = self._monthly_inputs(cd)
        self.inputs_ = fi
        self.transactions_per_month_ = fi.transactions_per_month
        self.average_order_value_ = fi.average_order_value
        self.retention_rate_ = fi._need("retention_rate", "no month starts with customers")
        self.average_lifetime_months_ = fi._need("average_lifetime_months",
                                                 "no month starts with customers")
        self.base_clv_ = (fi.transactions_per_month * fi.average_order_value
                          * self.average_lifetime_months_)

    def _predict(
        self, data: pd.DataFrame, hist: pd.DataFrame, months: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.lifetime == "geometric":
            factor = float(_geometric_months(self.retention_rate_, months))
        else:
            factor = min(months, self.average_lifetime_months_)
        base_tx = self.transactions_per_month_ * factor
        base_rev = base_tx * self.average_order_value_
        if self.allocation == "equal":
            n = self.n_customers_
            return np.full(len(hist), base_tx / n), np.full(len(hist), base_rev / n)
        return base_tx * self._shares(hist, "purchases"), base_rev * self._shares(hist, "revenue")


class TraditionalCLVPredictor(_MonthlyFormula):
    """Traditional CLV (margin x retention, discounted) as a per-customer predictor.

    Parameters
    ----------
    allocation : {"equal", "active_only", "own_history"}, default "equal"
    discount_rate : float, default 0
        Monthly discount rate D (0: the harness compares undiscounted revenue).
    active_window : int, default 1
        Months of activity per purchase for the customer counts.

    Attributes
    ----------
    retention_rate_ : float
        Pooled monthly retention R.
    revenue_per_month_, transactions_per_month_ : float
        Per active customer-month (the formula's margin with a margin of 1).
    inputs_ : FormulaInputs
    """

    name = "traditional_clv"
    _variant_params = ("allocation",)

    def __init__(
        self, allocation: str = "equal", discount_rate: float = 0.0, active_window: int = 1,
    ) -> None:
        self.allocation = allocation
        self.discount_rate = discount_rate
        self.active_window = active_window

    def _check_hyperparameters(self) -> None:
        self._choice("allocation", ("equal", "active_only", "own_history"))
        _checks.rate_above_minus_one("discount_rate", self.discount_rate)
        self._check_window()

    def _fit(
        self, data: pd.DataFrame, transactions: pd.DataFrame | None, cd: _log.CustomerDays | None,
    ) -> None:
        assert cd is not None  # fit() reads the log of every predictor with _log_required
        fi = self._monthly_inputs(cd)
        self.inputs_ = fi
        self.retention_rate_ = fi._need("retention_rate", "no month starts with customers")
        self.revenue_per_month_ = fi.revenue_per_active_customer_month
        self.transactions_per_month_ = fi.purchases_per_active_customer_month

    def _predict(
        self, data: pd.DataFrame, hist: pd.DataFrame, months: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        q = self.retention_rate_ / (1.0 + float(self.discount_rate))
        factor = _discounted_sum(q, months)
        n = len(hist)
        if self.allocation == "own_history":
            cal_day = _log.day_number(self.calibration_end_)
            span = _calendar_months(hist["first_day"].to_numpy(), cal_day)
            return (hist["purchases"].to_numpy() / span * factor,
                    hist["revenue"].to_numpy() / span * factor)
        tx = np.full(n, self.transactions_per_month_ * factor)
        rev = np.full(n, self.revenue_per_month_ * factor)
        if self.allocation == "active_only":
            cal_day = _log.day_number(self.calibration_end_)
            _, last = _summary_days(data, self.unit_days_, cal_day)
            active = _log.month_number(last) >= int(_log.month_number(cal_day)) - (
                self.active_window - 1)
            tx, rev = tx * active, rev * active
        return tx, rev


class SCPTPredictor(_FormulaPredictor):
    """LTV = S x C x P x T as a per-customer predictor (P = 1: revenue).

    Parameters
    ----------
    allocation : {"equal", "own_history"}, default "equal"
    lifetime : {"geometric", "remaining"}, default "geometric"
    lifetime_months : float, optional
        T in months; default ALT = 1 / monthly churn from the calibration log
        (which is then required).
    active_window : int, default 1
        Months of activity per purchase, for the churn behind ALT.

    Attributes
    ----------
    average_check_, purchases_per_month_, lifetime_months_ : float
        S, C and T.
    ltv_ : float
        S x C x T, the formula's lifetime revenue of an average customer.
    """

    name = "scpt_ltv"
    _log_required = False  # with lifetime_months; otherwise _fit asks for the log
    _variant_params = ("allocation", "lifetime")

    def __init__(
        self, allocation: str = "equal", lifetime: str = "geometric",
        lifetime_months: float | None = None, active_window: int = 1,
    ) -> None:
        self.allocation = allocation
        self.lifetime = lifetime
        self.lifetime_months = lifetime_months
        self.active_window = active_window

    def _check_hyperparameters(self) -> None:
        self._choice("allocation", ("equal", "own_history"))
        self._choice("lifetime", ("geometric", "remaining"))
        _check_window(self.active_window)
        if self.lifetime_months is not None:
            t = _checks.positive("lifetime_months", self.lifetime_months,
                                 "T, the average lifetime in months")
            if self.lifetime == "geometric" and t < 1:
                raise InvalidParameterError(
                    f"lifetime_months={t:g} < 1 month cannot be the mean of a geometric "
                    "lifetime counted in whole months; use lifetime='remaining'."
                )

    def _fit(
        self, data: pd.DataFrame, transactions: pd.DataFrame | None, cd: _log.CustomerDays | None,
    ) -> None:
        hist = self.customer_history_
        if self.lifetime_months is not None:
            t = float(self.lifetime_months)
        elif transactions is None:
            raise InvalidTransactionsError(
                "scpt_ltv needs the calibration transactions to measure churn (T = 1 / churn); "
                "pass them to fit, or set lifetime_months."
            )
        else:
            assert cd is not None  # fit() reads the log whenever it is given
            fi = _pooled_inputs(cd, self.active_window)
            if fi.average_lifetime_months is None:
                raise InvalidTransactionsError(
                    "no complete calibration month starts with active customers, so churn "
                    "and T are unknown; set lifetime_months."
                )
            t = fi.average_lifetime_months
        if not math.isfinite(t):
            raise InvalidParameterError(
                "nobody churned in the calibration months, so T = 1 / churn is infinite; "
                "set lifetime_months."
            )
        purchases = float(hist["purchases"].sum())
        self.lifetime_months_ = t
        self.average_check_ = float(hist["revenue"].sum()) / purchases if purchases else 0.0
        self.purchases_per_month_ = purchases / len(hist) / (self.window_days_ / DAYS_PER_MONTH)
        self.ltv_ = self.average_check_ * self.purchases_per_month_ * t
        self.inputs_ = pd.Series({
            "average_check": self.average_check_, "purchases_per_month": self.purchases_per_month_,
            "lifetime_months": t, "ltv": self.ltv_, "basis": self.basis_,
        }, dtype=object)

    def _predict(
        self, data: pd.DataFrame, hist: pd.DataFrame, months: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        t = self.lifetime_months_
        if self.lifetime == "geometric":
            active_months = np.full(len(hist), float(_geometric_months(1.0 - 1.0 / t, months)))
        else:
            age = data["T"].to_numpy() * self.unit_days_ / DAYS_PER_MONTH
            active_months = np.minimum(months, np.maximum(t - age, 0.0))
        if self.allocation == "equal":
            c = np.full(len(hist), self.purchases_per_month_)
            s = np.full(len(hist), self.average_check_)
        else:
            cal_day = _log.day_number(self.calibration_end_)
            span = (cal_day - hist["first_day"].to_numpy() + 1) / DAYS_PER_MONTH
            p = hist["purchases"].to_numpy()
            c = p / np.maximum(span, 1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                s = np.where(p > 0, hist["revenue"].to_numpy() / np.maximum(p, 1), 0.0)
        tx = c * active_months
        return tx, tx * s


# ---------------------------------------------------------------------------
# Registry

#: Every formula predictor class by its ``name``.
FORMULA_PREDICTORS: dict[str, type[_FormulaPredictor]] = {
    cls.name: cls for cls in (
        HistoricalARPUPredictor, CohortPredictor, PredictiveCLVPredictor,
        TraditionalCLVPredictor, SCPTPredictor,
    )
}


def formula_predictor_variants() -> list[_FormulaPredictor]:
    """One unfitted instance of every named variant of every formula predictor.

    Returns
    -------
    list
        Predictors with distinct ``label`` s, ready for ``fit(summary, transactions)``.

    Examples
    --------
    >>> [p.label for p in formula_predictor_variants()][:2]
    ['historical_arpu[equal]', 'historical_arpu[proportional]']
    """
    return [
        HistoricalARPUPredictor("equal"),
        HistoricalARPUPredictor("proportional"),
        CohortPredictor("cohort_average", "geometric"),
        CohortPredictor("cohort_average", "constant"),
        CohortPredictor("proportional", "geometric"),
        PredictiveCLVPredictor("equal", "geometric"),
        PredictiveCLVPredictor("equal", "fixed"),
        PredictiveCLVPredictor("proportional", "geometric"),
        TraditionalCLVPredictor("equal"),
        TraditionalCLVPredictor("active_only"),
        TraditionalCLVPredictor("own_history"),
        SCPTPredictor("equal", "geometric"),
        SCPTPredictor("equal", "remaining"),
        SCPTPredictor("own_history", "geometric"),
    ]
