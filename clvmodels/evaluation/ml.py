"""A machine-learning baseline: gradient boosting on RFM features, trained within calibration.

How it avoids looking at the future
-----------------------------------
The method receives only the calibration transactions (dated up to
``calibration_end``; a later row raises). To predict ``horizon`` time units
ahead it builds a supervised problem *inside* the calibration period:

1. a training window of length ``w`` and an inner cutoff
   ``c = calibration_end - w`` (whole days). By default (``window="auto"``)
   ``w`` is the horizon, unless the horizon exceeds half of the calibration
   span (first transaction of the log to ``calibration_end``): then ``w`` is
   half the span, so that the customers have a history before ``c``;
2. features of every customer who had bought by ``c``, computed from the log
   truncated at ``c`` (:func:`rfm_features`);
3. targets: the customer's transaction days and revenue in ``(c, calibration_end]``;
4. two :class:`sklearn.ensemble.HistGradientBoostingRegressor` (Poisson loss:
   non-negative targets, log link), one per target;
5. prediction: features computed from the whole calibration log at
   ``calibration_end``, fed to the trained models, times ``horizon / w``
   (1 unless the window had to be shorter than the horizon; the linear
   scaling then ignores any decline of activity beyond ``w``, a documented
   approximation).

With an explicit ``window`` (a number of time units), a calibration period
too short for it (fewer than ten customers bought before ``c``) raises a
clear error instead. CDNOW's calibration (1997-01-01 to 1997-09-30, 38.9
weeks) is shorter than its 39-week holdout, so the default trains on a
19.4-week window there and doubles the predictions. Trees do not
extrapolate: a customer older than any training customer is treated like
the oldest ones.

Examples
--------
>>> import clvmodels
>>> from clvmodels.evaluation.base import calibration_only
>>> from clvmodels.evaluation.ml import GradientBoosting
>>> log = clvmodels.datasets.load_cdnow_transactions()
>>> cal = log[log["date"] <= "1997-09-30"]
>>> s = calibration_only(clvmodels.rfm_summary(cal, amount="amount",
...                                            calibration_end="1997-09-30"))
>>> pred = GradientBoosting(random_state=0).fit(s, cal).predict(s, horizon=13)
>>> list(pred.columns), len(pred) == len(s)
(['transactions', 'revenue'], True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from clvmodels.data.summary import rfm_summary, time_unit_days
from clvmodels.errors import InvalidParameterError, InvalidSummaryError, NotFittedError
from clvmodels.evaluation.base import (
    Method,
    check_calibration_summary,
    check_calibration_transactions,
    check_horizon,
    prediction_frame,
)
from clvmodels.evaluation.registry import register_method

__all__ = ["GradientBoosting", "rfm_features", "FEATURES"]

#: Feature columns of :func:`rfm_features`, in model order.
FEATURES = ("frequency", "recency", "T", "time_since_last", "rate", "monetary_value",
            "mean_spend", "total_spend")

#: Fewest customers that must have bought by the inner cutoff to train on.
MIN_TRAINING_CUSTOMERS = 10


def rfm_features(transactions: pd.DataFrame, cutoff, time_unit: str = "W", *,
                 customer_id: str = "customer_id", date: str = "date",
                 amount: str = "amount") -> pd.DataFrame:
    """RFM features of every customer who bought by ``cutoff``, from transactions up to ``cutoff``.

    Rows dated after ``cutoff`` are ignored (the caller decides the cutoff;
    nothing later is read). Columns (times in ``time_unit``):

    ``frequency``, ``recency``, ``T``, ``monetary_value``
        as in :func:`clvmodels.rfm_summary` (repeat transaction days, first to
        last purchase, first purchase to cutoff, mean repeat spend);
    ``time_since_last`` = ``T - recency`` (time since the last purchase);
    ``rate`` = ``frequency / T`` (0 when ``T`` is 0);
    ``mean_spend``: mean spend of all transaction days, the first included;
    ``total_spend``: total spend up to the cutoff.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                     "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-29",
    ...                                             "2024-01-15"]),
    ...                     "amount": [10.0, 20.0, 30.0, 5.0]})
    >>> rfm_features(log, "2024-01-29")[["frequency", "T", "rate", "mean_spend"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                 frequency    T  rate  mean_spend
    customer_id
    1                    2  4.0   0.5        20.0
    2                    0  2.0   0.0         5.0
    """
    cutoff = pd.Timestamp(cutoff)
    dates = transactions[date]
    if not pd.api.types.is_datetime64_dtype(dates):  # the reading layer's date policy
        from clvmodels.data.reading import parse_dates

        dates = parse_dates(dates)[0]
        if dates.isna().any():
            from clvmodels.errors import InvalidTransactionsError

            raise InvalidTransactionsError(
                f"column {date!r}: {int(dates.isna().sum())} value(s) are not full dates; use "
                "ISO dates (YYYY-MM-DD) or YYYYMMDD.")
    keep = (dates.dt.normalize() <= cutoff.normalize()).to_numpy()
    log = transactions.loc[keep, [customer_id, date, amount]]
    if len(log) == 0:
        raise InvalidParameterError(f"no transaction on or before {cutoff.date()}: no features.")
    repeat = rfm_summary(log, customer_id, date, amount, calibration_end=cutoff,
                         time_unit=time_unit, monetary="repeat")
    every = rfm_summary(log, customer_id, date, amount, calibration_end=cutoff,
                        time_unit=time_unit, monetary="all")
    f = repeat[["frequency", "recency", "T", "monetary_value"]].copy()
    T = f["T"].to_numpy(dtype=float)
    x = f["frequency"].to_numpy(dtype=float)
    f["time_since_last"] = T - f["recency"].to_numpy(dtype=float)
    f["rate"] = np.divide(x, T, out=np.zeros_like(x), where=T > 0)
    f["mean_spend"] = every["monetary_value"].to_numpy(dtype=float)
    f["total_spend"] = f["mean_spend"].to_numpy() * (x + 1.0)
    f.attrs = {}
    return f[list(FEATURES)]


class GradientBoosting(Method):
    """Gradient boosting on RFM features, trained at an earlier cutoff inside calibration.

    See the module docstring for the procedure. Hyperparameters go to
    :class:`sklearn.ensemble.HistGradientBoostingRegressor`; ``random_state``
    seeds it (its early stopping, used above 10,000 training customers, draws
    a validation split). ``window`` is the length of the training window in
    time units, or ``"auto"`` (the horizon, capped at half the calibration
    span; see the module docstring). ``n_threads`` caps the OpenMP threads
    scikit-learn uses (default 1: predictable run times, and a backtest
    parallelises over cutoffs instead; None uses every core, which is faster
    on an idle machine but can be ten times slower when other processes load
    the cores, as OpenMP threads then wait on each other). The calibration
    log must have the
    columns named by ``customer_id``, ``date`` and ``amount``.

    Attributes (after ``fit``/``predict``)
    --------------------------------------
    models_ : dict
        horizon -> (transactions model, revenue model, window length) trained
        for it; a model is trained the first time a horizon is asked for
        (None stands for a target that was 0 for every training customer,
        predicted as 0).
    """

    name = "gradient_boosting"
    needs_transactions = True

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.05, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 20, loss: str = "poisson", window="auto",
                 random_state=0, n_threads: int | None = 1,
                 customer_id: str = "customer_id", date: str = "date", amount: str = "amount"):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.loss = loss
        self.window = window
        self.random_state = random_state
        self.n_threads = n_threads
        self.customer_id = customer_id
        self.date = date
        self.amount = amount

    def _columns(self):
        return (self.customer_id, self.date, self.amount)

    def fit(self, summary: pd.DataFrame,
            transactions: pd.DataFrame | None = None) -> GradientBoosting:
        """Store the calibration log (checked: nothing after ``calibration_end``).

        Training happens per horizon, the first time :meth:`predict` asks for it.
        """
        check_calibration_summary(summary, self.name, required=())
        cal_end = pd.Timestamp(summary.attrs["calibration_end"])
        log = check_calibration_transactions(transactions, cal_end, self.name, self._columns())
        self.transactions_ = log[list(self._columns())].copy()
        self.calibration_end_ = cal_end
        self.time_unit_ = str(summary.attrs["time_unit"])
        self.models_ = {}
        return self

    def _check_fitted(self):
        if not hasattr(self, "transactions_"):
            raise NotFittedError(
                f"method {self.name!r}: call fit(summary, transactions) before predict."
            )

    def training_window(self, horizon: float) -> float:
        """Length of the training window for ``horizon``, in time units (whole days)."""
        self._check_fitted()
        h = check_horizon(horizon, self.name)
        unit_days = time_unit_days(self.time_unit_)
        if isinstance(self.window, str):
            if self.window != "auto":
                raise InvalidParameterError(
                    f"method {self.name!r}: window must be 'auto' or a number of "
                    f"{self.time_unit_} units, got {self.window!r}."
                )
            first = self.transactions_[self.date].min().normalize()
            span_days = (self.calibration_end_.normalize() - first).days
            days = min(int(round(h * unit_days)), span_days // 2)
        else:
            w = check_horizon(self.window, self.name)
            days = int(round(w * unit_days))
        if days < 1:
            raise InvalidParameterError(
                f"method {self.name!r}: the training window for horizon={horizon!r} "
                f"{self.time_unit_} is shorter than a day (window={self.window!r}; the calibration "
                "log may span less than two days)."
            )
        return days / unit_days

    def inner_cutoff(self, horizon: float) -> pd.Timestamp:
        """``calibration_end - training_window(horizon)``: the cutoff the models are trained at."""
        days = int(round(self.training_window(horizon) * time_unit_days(self.time_unit_)))
        return self.calibration_end_.normalize() - pd.Timedelta(days=days)

    def training_data(self, horizon: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Features at the inner cutoff and targets in ``(inner cutoff, calibration_end]``.

        Returns ``(X, y)``: X from :func:`clvmodels.evaluation.ml.rfm_features` on the log
        truncated at
        the inner cutoff; y with columns ``transactions`` (transaction days in
        the window) and ``revenue`` (spend in it), 0 for customers who did not
        buy. Raises :class:`~clvmodels.errors.InvalidParameterError` when the
        calibration period is too short for the horizon.
        """
        inner = self.inner_cutoff(horizon)
        cid, date, amount = self._columns()
        log = self.transactions_
        day = log[date].dt.normalize()
        first = day.min()
        n_before = log.loc[(day <= inner).to_numpy(), cid].nunique()
        if n_before < MIN_TRAINING_CUSTOMERS:
            span_days = (self.calibration_end_.normalize() - first).days
            span = span_days / time_unit_days(self.time_unit_)
            raise InvalidParameterError(
                f"method {self.name!r}: the calibration period is too short for horizon="
                f"{horizon!r} {self.time_unit_} (window={self.window!r}): training needs customers "
                f"who bought by the inner cutoff calibration_end - window = {inner.date()}, "
                f"and {n_before} did (at least "
                f"{MIN_TRAINING_CUSTOMERS} needed; the log starts {first.date()}, "
                f"{span:.1f} {self.time_unit_} before calibration_end). Use a shorter window "
                "(or window='auto') or an earlier calibration start."
            )
        X = rfm_features(log, inner, self.time_unit_, customer_id=cid, date=date, amount=amount)
        in_window = ((day > inner) & (day <= self.calibration_end_.normalize())).to_numpy()
        window = pd.DataFrame({"customer": log[cid].to_numpy()[in_window],
                               "day": day.to_numpy()[in_window],
                               "amount": log[amount].to_numpy(dtype=float)[in_window]})
        grouped = window.groupby("customer")
        y = pd.DataFrame({
            "transactions": grouped["day"].nunique().reindex(X.index, fill_value=0).astype(float),
            "revenue": grouped["amount"].sum().reindex(X.index, fill_value=0.0).astype(float),
        })
        return X, y

    def _regressor(self):
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            loss=self.loss, max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state,
        )

    def _train(self, horizon: float):
        X, y = self.training_data(horizon)
        models = []
        for target in ("transactions", "revenue"):
            values = y[target].to_numpy()
            if np.any(values < 0):
                raise InvalidParameterError(
                    f"method {self.name!r}: negative {target} targets (refunds?) cannot be fitted "
                    f"with loss={self.loss!r}; clean the log or use loss='squared_error'."
                )
            if values.sum() == 0:
                models.append(None)  # nobody bought in the window: predict 0
            else:
                with threadpool_limits(limits=self.n_threads, user_api="openmp"):
                    models.append(self._regressor().fit(X.to_numpy(), values))
        models.append(self.training_window(horizon))
        return tuple(models)

    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        """Expected transactions and revenue in the ``horizon`` units after ``calibration_end``."""
        self._check_fitted()
        check_calibration_summary(summary, self.name, required=())
        h = check_horizon(horizon, self.name)
        if pd.Timestamp(summary.attrs["calibration_end"]) != self.calibration_end_:
            raise InvalidSummaryError(
                f"method {self.name!r} was fitted with calibration_end "
                f"{self.calibration_end_.date()} but asked to predict from "
                f"{pd.Timestamp(summary.attrs['calibration_end']).date()}; refit it."
            )
        if str(summary.attrs["time_unit"]) != self.time_unit_:
            raise InvalidSummaryError(
                f"method {self.name!r} was fitted in time unit {self.time_unit_!r} but the summary "
                f"is in {summary.attrs['time_unit']!r}."
            )
        if h not in self.models_:
            self.models_[h] = self._train(h)
        cid, date, amount = self._columns()
        X = rfm_features(self.transactions_, self.calibration_end_, self.time_unit_,
                         customer_id=cid, date=date, amount=amount)
        missing = summary.index.difference(X.index)
        if len(missing):
            raise InvalidSummaryError(
                f"method {self.name!r}: {len(missing)} customer(s) of the summary have no "
                f"transaction in the calibration log (e.g. {missing[:5].tolist()}); pass the log "
                "the summary was built from."
            )
        X = X.reindex(summary.index).to_numpy()
        *models, window = self.models_[h]
        scale = h / window
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            out = [np.zeros(len(X)) if model is None
                   else scale * np.clip(model.predict(X), 0.0, None) for model in models]
        return prediction_frame(summary, out[0], out[1])


register_method(GradientBoosting, overwrite=True)
