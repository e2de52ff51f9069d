r"""The formulas' inputs computed from a transaction log, month by month.

The practitioners' formulas take counts and averages (revenue, orders, customers
at the start and end of a period, new customers, gross margin) that a user would
otherwise compute by hand. :func:`monthly_inputs` computes them for every
calendar month of a log; :func:`formula_inputs` pools them over the complete
months into the inputs of each calculator.

**Who is a customer at a given moment?** A purchase log has no contracts, so
"customers at the start (end) of a month" needs a definition. Here a customer is
*active at the end of month m* if they bought in one of the ``active_window``
months ending with m (default 1: they bought during month m). Then, for each
month::

    customers_start    active at the end of the previous month
    customers_end      active at the end of this month
    new_customers      first purchase (in the log) this month
    reactivated        active at the end, not at the start, bought before
    retained           active at the start and at the end
    lost               customers_start - retained
    customers_end = retained + new + reactivated

so that the retention formula ``(E - N) / S`` with ``N = new + reactivated``
gives exactly ``retained / S`` (a returning lapsed customer is won, not kept).
The choice of ``active_window`` drives retention, churn and lifetime: one month
measures "bought again the next month", twelve months "bought again within a
year". Report it with any figure computed from it.

**Orders.** All purchases of a customer on one day are one order (as in
:func:`clvmodels.rfm_summary`), unless ``order_id`` names an order column, in
which case distinct order ids are counted.

**Gross margin.** From a cost-of-sales column (``cost=``) or a constant margin
rate (``margin_rate=``); without either, margin figures are absent (``None``/NaN).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from clvmodels._typing import DateLike
from clvmodels.data.transactions import to_timestamp
from clvmodels.errors import InvalidParameterError, InvalidTransactionsError
from clvmodels.formulas import _log
from clvmodels.formulas.historical import historical_clv as _historical_clv
from clvmodels.formulas.predictive import predictive_clv as _predictive_clv
from clvmodels.formulas.traditional import traditional_clv as _traditional_clv

__all__ = ["monthly_inputs", "formula_inputs", "FormulaInputs", "activity_spells"]


def _check_window(active_window: int) -> int:
    if (
        isinstance(active_window, bool)
        or not isinstance(active_window, (int, np.integer))
        or active_window < 1
    ):
        raise InvalidParameterError(
            f"active_window={active_window!r} must be a whole number of months >= 1 (a "
            "customer is active at the end of a month if they bought in the last "
            "active_window months)."
        )
    return int(active_window)


def activity_spells(months: np.ndarray, codes: np.ndarray, active_window: int) -> pd.DataFrame:
    """Spells of activity from (customer code, purchase month) pairs.

    A customer who buys in month p is active at the end of months p, ...,
    p + active_window - 1. Purchases whose activity overlaps or touches merge
    into one spell.

    Parameters
    ----------
    months, codes : arrays of int
        Purchase month numbers and customer codes (any order, duplicates allowed).
    active_window : int

    Returns
    -------
    DataFrame
        One row per spell: ``code``, ``start`` (first month active), ``end``
        (last month active, inclusive), ``first`` (True for a customer's first spell).
    """
    code, month = _log.unique_pairs(codes, months)
    new_customer = np.r_[True, code[1:] != code[:-1]]
    gap = np.r_[True, month[1:] > month[:-1] + active_window]
    starts = new_customer | gap
    idx = np.flatnonzero(starts)
    last_idx = np.r_[idx[1:] - 1, len(month) - 1]
    return pd.DataFrame({
        "code": code[idx],
        "start": month[idx],
        "end": month[last_idx] + active_window - 1,
        "first": new_customer[idx],
    })


def _month_of(period: pd.Period) -> int:
    """Months since 1970-01 of a monthly Period."""
    return (period.year - 1970) * 12 + period.month - 1


def _flow_attrs(cost: str | None, margin_rate: float | None, order_id: str | None) -> dict:
    return {
        "margin": "cost column" if cost is not None else (
            f"margin rate {margin_rate}" if margin_rate is not None else None),
        "orders": f"distinct {order_id}" if order_id is not None else "customer-days",
    }


def _monthly_table(
    cd: _log.CustomerDays, window: int, observation_start: DateLike | None,
) -> pd.DataFrame:
    """The monthly table of :func:`monthly_inputs` from validated customer-days."""
    if "amount" not in cd.frame.columns:
        raise InvalidParameterError(
            "the monthly inputs need revenue: pass the amount column (amount=)."
        )
    start_ts = to_timestamp(observation_start, "observation_start")
    start_day = _log.day_number(start_ts) if start_ts is not None else cd.first_day
    end_day = cd.observation_end
    if start_day > end_day:
        raise InvalidTransactionsError(
            f"observation_start ({pd.Timestamp(np.datetime64(start_day, 'D')).date()}) is "
            f"after observation_end ({pd.Timestamp(np.datetime64(end_day, 'D')).date()})."
        )
    f = cd.frame
    m0 = int(_log.month_number(start_day))
    m1 = int(_log.month_number(end_day))
    months = np.arange(m0, m1 + 1)
    n = len(months)

    # Flows of the month: purchases inside the observation window only.
    inside = f[(f["day"] >= start_day) & (f["day"] <= end_day)]
    pos = (inside["month"].to_numpy() - m0).astype(np.int64)
    revenue = np.bincount(pos, weights=inside["amount"].to_numpy(), minlength=n)
    orders = np.bincount(pos, weights=inside["orders"].to_numpy(), minlength=n).astype(np.int64)
    _, buying_pos = _log.unique_pairs(inside["code"].to_numpy(), pos)
    purchasing = np.bincount(buying_pos, minlength=n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "revenue": revenue,
            "orders": orders,
            "average_order_value": np.where(orders > 0, revenue / np.maximum(orders, 1), np.nan),
            "purchasing_customers": purchasing,
        })
        if "cost" in f.columns:
            cost_of_sales = np.bincount(pos, weights=inside["cost"].to_numpy(), minlength=n)
            margin = revenue - cost_of_sales
            out["cost_of_sales"] = cost_of_sales
            out["gross_margin"] = margin
            out["gross_margin_rate"] = np.where(
                revenue > 0, margin / np.where(revenue > 0, revenue, 1.0), np.nan
            )

    # Stocks: spells of activity from every purchase up to observation_end.
    spells = activity_spells(f["month"].to_numpy(), f["code"].to_numpy(), window)
    a = spells["start"].to_numpy()
    b = spells["end"].to_numpy()
    first = spells["first"].to_numpy()

    def covering(month_values: np.ndarray) -> np.ndarray:
        # number of spells with a <= t <= b, for each t
        sa = np.sort(a)
        sb = np.sort(b)
        return (np.searchsorted(sa, month_values, side="right")
                - np.searchsorted(sb, month_values, side="left"))

    end_count = covering(months)
    start_count = covering(months - 1)
    lost = np.bincount((b + 1 - m0)[(b + 1 >= m0) & (b + 1 <= m1)], minlength=n)
    in_range = (a >= m0) & (a <= m1)
    new = np.bincount((a - m0)[in_range & first], minlength=n)
    reactivated = np.bincount((a - m0)[in_range & ~first], minlength=n)
    retained = start_count - lost
    out["customers_start"] = start_count.astype(np.int64)
    out["customers_end"] = end_count.astype(np.int64)
    out["new_customers"] = new.astype(np.int64)
    out["reactivated_customers"] = reactivated.astype(np.int64)
    out["retained_customers"] = retained.astype(np.int64)
    out["lost_customers"] = lost.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rr = np.where(start_count > 0, retained / np.maximum(start_count, 1), np.nan)
    out["retention_rate"] = rr
    out["churn_rate"] = 1.0 - rr
    first_days = _log.month_first_day(months)
    last_days = _log.month_first_day(months + 1) - 1
    out["complete"] = (first_days >= start_day) & (last_days <= end_day)
    out.index = _log.month_period(months)
    out.index.name = "month"
    out.attrs = {
        "observation_start": pd.Timestamp(np.datetime64(start_day, "D")),
        "observation_end": pd.Timestamp(np.datetime64(end_day, "D")),
        "active_window": window,
        "n_rows_after_observation_end": cd.n_rows_after_observation_end,
    }
    return out


def monthly_inputs(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    *,
    cost: str | None = None,
    margin_rate: float | None = None,
    order_id: str | None = None,
    active_window: int = 1,
    observation_start: DateLike | None = None,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> pd.DataFrame:
    """Revenue, orders, margin and customer counts for every calendar month of a log.

    Parameters
    ----------
    transactions : DataFrame
        The log, one row per purchase (several per customer and day allowed).
    customer_id, date, amount : str
        Column names.
    cost : str, optional
        Column with the cost of sales of each row.
    margin_rate : float, optional
        Constant gross margin rate in [0, 1] (instead of ``cost``).
    order_id : str, optional
        Column with an order id (default: one order per customer-day).
    active_window : int, default 1
        Months of activity a purchase gives (see the module docstring).
    observation_start, observation_end : date-like, optional
        First and last day observed (default: the log's first and last dates).
        Purchases before ``observation_start`` still count for who is active
        and who is new; purchases after ``observation_end`` are left out (it
        is an as-of date; ``attrs["n_rows_after_observation_end"]`` counts them).
    refunds : {"error", "net"}
        What a negative amount means (see :func:`clvmodels.rfm_summary`).

    Returns
    -------
    DataFrame
        Indexed by ``month`` (monthly Period), columns ``revenue``, ``orders``,
        ``average_order_value``, ``purchasing_customers``, [``cost_of_sales``,
        ``gross_margin``, ``gross_margin_rate``], ``customers_start``,
        ``customers_end``, ``new_customers``, ``reactivated_customers``,
        ``retained_customers``, ``lost_customers``, ``retention_rate``,
        ``churn_rate`` and ``complete`` (the month lies wholly inside the
        observation window). Ratios are NaN where their denominator is 0
        (``retention_rate`` in a month that starts with no customer, say).
        ``attrs`` records the window and ``active_window``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 2, 3],
    ...     "date": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-01-20",
    ...                             "2024-03-02", "2024-02-14"]),
    ...     "amount": [10.0, 20.0, 30.0, 40.0, 50.0]})
    >>> m = monthly_inputs(log)
    >>> m[["customers_start", "customers_end", "new_customers", "retained_customers"]]
             customers_start  customers_end  new_customers  retained_customers
    month
    2024-01                0              2              2                   0
    2024-02                2              2              1                   1
    2024-03                2              1              0                   0
    """
    window = _check_window(active_window)
    cd = _log.customer_days(
        transactions, customer_id, date, amount, cost=cost, margin_rate=margin_rate,
        order_id=order_id, observation_end=observation_end, refunds=refunds,
    )
    out = _monthly_table(cd, window, observation_start)
    out.attrs.update(_flow_attrs(cost, margin_rate, order_id))
    return out


@dataclass(frozen=True)
class FormulaInputs:
    """The formulas' inputs pooled over the complete months of a log.

    Attributes
    ----------
    months : int
        Complete months pooled.
    period_start, period_end : Timestamp
        First and last day of those months.
    revenue, orders : float
        Totals over the months.
    customers : int
        Distinct customers who bought in the months.
    transactions_per_month : float
        T of the predictive formula: orders / months.
    average_order_value : float
        AOV = revenue / orders (S of S x C x P x T).
    average_revenue_per_customer : float
        revenue / customers over the whole period (ARPU of the period).
    revenue_per_active_customer_month : float
        Revenue per customer per month of activity (sum of revenue over the
        sum of ``customers_end``): the per-period revenue of the traditional
        formula.
    purchases_per_active_customer_month : float
        Orders per customer per month of activity (C of S x C x P x T).
    customers_start : int
        Active at the start of the first month.
    customers_end : int
        Active at the end of the last month.
    new_customers, reactivated_customers : int
        Summed over the months.
    retention_rate : float or None
        Monthly retention pooled over the months that start with customers:
        sum of retained / sum of customers at the start (None if no month
        starts with a customer).
    churn_rate : float or None
        1 - retention_rate.
    average_lifetime_months : float or None
        1 / churn_rate (``inf`` if nobody churned).
    cost_of_sales : float or None
    gross_margin : float or None
        (revenue - cost) / revenue over the whole period (GM).
    average_gross_margin : float or None
        Plain mean of the monthly gross margins (AGM), over months with revenue.
    active_window : int
    monthly : DataFrame
        The :func:`monthly_inputs` table the figures come from.
    """

    months: int
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    revenue: float
    orders: float
    customers: int
    transactions_per_month: float
    average_order_value: float
    average_revenue_per_customer: float
    revenue_per_active_customer_month: float
    purchases_per_active_customer_month: float
    customers_start: int
    customers_end: int
    new_customers: int
    reactivated_customers: int
    retention_rate: float | None
    churn_rate: float | None
    average_lifetime_months: float | None
    cost_of_sales: float | None
    gross_margin: float | None
    average_gross_margin: float | None
    active_window: int
    monthly: pd.DataFrame = field(repr=False)

    def to_series(self) -> pd.Series:
        """Every figure but the monthly table, as a Series."""
        d = asdict(self)
        d.pop("monthly")
        return pd.Series(d, name="formula_inputs", dtype=object)

    def historical_clv(self, *, lifetime_years: float = 1.0) -> float:
        """:func:`~clvmodels.formulas.historical.historical_clv` on these inputs."""
        return _historical_clv(
            self.revenue, self.customers, self.months, lifetime_years=lifetime_years
        )

    def predictive_clv(self, *, per_customer: bool = True) -> float:
        """:func:`~clvmodels.formulas.predictive.predictive_clv` (T x AOV x AGM x ALT).

        Per customer, the base's CLV is divided by ``customers_end`` as in the article.
        """
        agm = self._need("average_gross_margin", "pass cost= or margin_rate=")
        alt = self._need("average_lifetime_months", "no month started with customers")
        return _predictive_clv(
            self.transactions_per_month, self.average_order_value, agm, alt,
            customers=self.customers_end if per_customer else None,
        )

    def traditional_clv(self, discount_rate: float, *, periods: float | None = None) -> float:
        """:func:`~clvmodels.formulas.traditional.traditional_clv` with monthly periods.

        GML = gross margin (GM) x revenue per active customer-month; R = the
        pooled monthly retention; ``discount_rate`` is per month.
        """
        gm = self._need("gross_margin", "pass cost= or margin_rate=")
        retention = self._need("retention_rate", "no month started with customers")
        return _traditional_clv(
            gm * self.revenue_per_active_customer_month,
            retention, discount_rate, periods=periods,
        )

    def _need(self, name: str, why: str) -> float:
        """The figure ``name``; raise, saying why, when this log could not give it."""
        value = getattr(self, name)
        if value is None:
            raise InvalidParameterError(f"{name} is not available from this log: {why}.")
        return float(value)


def formula_inputs(
    transactions: pd.DataFrame,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    *,
    cost: str | None = None,
    margin_rate: float | None = None,
    order_id: str | None = None,
    active_window: int = 1,
    observation_start: DateLike | None = None,
    observation_end: DateLike | None = None,
    refunds: str = "error",
) -> FormulaInputs:
    """Every calculator's inputs from a transaction log, pooled over its complete months.

    Takes the arguments of :func:`monthly_inputs` and pools its complete
    months (a month cut by the observation window is left out, so a partial
    month does not bias the averages).

    Returns
    -------
    FormulaInputs
        With methods ``historical_clv()``, ``predictive_clv()`` and
        ``traditional_clv(discount_rate)`` that feed the figures to the
        calculators.

    Raises
    ------
    InvalidTransactionsError
        If the observation window holds no complete month.

    Examples
    --------
    >>> from clvmodels.datasets import load_cdnow_transactions
    >>> fi = formula_inputs(load_cdnow_transactions(), observation_end="1997-09-30",
    ...                     margin_rate=0.3)
    >>> fi.months, fi.customers, round(fi.average_order_value, 2)
    (9, 2357, 35.96)
    """
    window = _check_window(active_window)
    cd = _log.customer_days(
        transactions, customer_id, date, amount, cost=cost, margin_rate=margin_rate,
        order_id=order_id, observation_end=observation_end, refunds=refunds,
    )
    return _pooled_inputs(cd, window, observation_start, _flow_attrs(cost, margin_rate, order_id))


def _pooled_inputs(cd: _log.CustomerDays, window: int, observation_start: DateLike | None = None,
                   attrs: dict | None = None) -> FormulaInputs:
    """:func:`formula_inputs` from validated customer-days."""
    monthly = _monthly_table(cd, window, observation_start)
    monthly.attrs.update(attrs or _flow_attrs(None, None, None))
    full = monthly[monthly["complete"]]
    if full.empty:
        raise InvalidTransactionsError(
            f"the observation window {monthly.attrs['observation_start'].date()} to "
            f"{monthly.attrs['observation_end'].date()} holds no complete calendar month; "
            "the monthly formulas need at least one."
        )
    # Distinct customers who bought in the complete months.
    first_day = int(_log.month_first_day(_month_of(full.index[0])))
    last_day = int(_log.month_first_day(_month_of(full.index[-1]) + 1)) - 1
    in_period = (cd.frame["day"] >= first_day) & (cd.frame["day"] <= last_day)
    customers = int(cd.frame.loc[in_period, "code"].nunique())

    revenue = float(full["revenue"].sum())
    orders = float(full["orders"].sum())
    months = len(full)
    active_months = float(full["customers_end"].sum())
    starts = full["customers_start"].to_numpy()
    retention: float | None
    churn: float | None
    lifetime: float | None
    cost_total: float | None
    gm: float | None
    agm: float | None
    if starts.sum() > 0:
        retention = float(full["retained_customers"].sum() / starts.sum())
        churn = 1.0 - retention
        lifetime = math.inf if churn == 0 else 1.0 / churn
    else:
        retention = churn = lifetime = None
    if "cost_of_sales" in full.columns:
        cost_total = float(full["cost_of_sales"].sum())
        gm = (revenue - cost_total) / revenue if revenue > 0 else None
        rates = full["gross_margin_rate"].dropna()
        agm = float(rates.mean()) if len(rates) else None
    else:
        cost_total = gm = agm = None

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else math.nan

    return FormulaInputs(
        months=months,
        period_start=pd.Timestamp(np.datetime64(int(first_day), "D")),
        period_end=pd.Timestamp(np.datetime64(int(last_day), "D")),
        revenue=revenue,
        orders=orders,
        customers=customers,
        transactions_per_month=orders / months,
        average_order_value=ratio(revenue, orders),
        average_revenue_per_customer=ratio(revenue, customers),
        revenue_per_active_customer_month=ratio(revenue, active_months),
        purchases_per_active_customer_month=ratio(orders, active_months),
        customers_start=int(full["customers_start"].iloc[0]),
        customers_end=int(full["customers_end"].iloc[-1]),
        new_customers=int(full["new_customers"].sum()),
        reactivated_customers=int(full["reactivated_customers"].sum()),
        retention_rate=retention,
        churn_rate=churn,
        average_lifetime_months=lifetime,
        cost_of_sales=cost_total,
        gross_margin=gm,
        average_gross_margin=agm,
        active_window=int(monthly.attrs["active_window"]),
        monthly=monthly,
    )
