"""A zero-inflated lognormal revenue baseline, in the way of Google's ZILN model.

Wang, Liu & Miao (2019), "A deep probabilistic model for customer lifetime value
prediction", model a customer's future revenue as zero with probability ``1 - p`` and
lognormal otherwise, so that ``E[revenue] = p exp(mu + sigma^2 / 2)``; their network
predicts ``p``, ``mu`` and ``sigma`` from customer features. Practitioners pick it
beside the buy-till-you-die models, so the harness scores it like every other method.
Here both parts are scikit-learn gradient-boosted trees on the RFM features of
:mod:`clvmodels.evaluation.ml`, trained inside the calibration period exactly like
:class:`~clvmodels.evaluation.ml.GradientBoosting` (same inner cutoff, same window,
nothing after ``calibration_end`` is read):

* ``p``: a :class:`~sklearn.ensemble.HistGradientBoostingClassifier` of "any purchase
  in the window";
* ``mu``: a :class:`~sklearn.ensemble.HistGradientBoostingRegressor` (squared error) of
  ``log(revenue)`` on the buyers; ``sigma^2`` is the variance of its training
  residuals (one value: the trees model the location, not the spread);
* transactions: ``p`` times a Poisson-loss regressor of the buyers' transaction count.

Examples
--------
>>> import clvmodels
>>> from clvmodels.evaluation.base import calibration_only
>>> from clvmodels.evaluation.ziln import ZeroInflatedLognormal
>>> log = clvmodels.datasets.load_cdnow_transactions()
>>> cal = log[log["date"] <= "1997-09-30"]
>>> s = calibration_only(clvmodels.rfm_summary(cal, amount="amount",
...                                            calibration_end="1997-09-30"))
>>> pred = ZeroInflatedLognormal(random_state=0).fit(s, cal).predict(s, horizon=13)
>>> bool((pred >= 0).all().all()), list(pred.columns)
(True, ['transactions', 'revenue'])
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from clvmodels.errors import InvalidParameterError
from clvmodels.evaluation.ml import GradientBoosting
from clvmodels.evaluation.registry import register_method

__all__ = ["ZeroInflatedLognormal"]


class _Hurdle:
    """``P(any) x E[value | any]``: the fitted two-part model, with the regressors' API."""

    def __init__(self, classifier, regressor, sigma2: float | None, share: float):
        self.classifier = classifier
        self.regressor = regressor
        self.sigma2 = sigma2  # None: the regressor predicts the conditional mean itself
        self.share = share  # used when every training customer bought (no classifier)

    def probability(self, X) -> np.ndarray:
        if self.classifier is None:
            return np.full(len(X), self.share)
        return self.classifier.predict_proba(X)[:, 1]

    def conditional_mean(self, X) -> np.ndarray:
        location = self.regressor.predict(X)
        if self.sigma2 is None:
            return np.clip(location, 0.0, None)
        return np.exp(np.minimum(location + self.sigma2 / 2.0, 700.0))

    def predict(self, X) -> np.ndarray:
        return self.probability(X) * self.conditional_mean(X)


class ZeroInflatedLognormal(GradientBoosting):
    """Zero-inflated lognormal revenue (ZILN), trained at an earlier cutoff inside calibration.

    Parameters are those of :class:`~clvmodels.evaluation.ml.GradientBoosting` (tree
    settings, ``window``, ``random_state``, ``n_threads``, column names); ``loss`` is not
    used (the parts have their own losses, see the module docstring).

    Attributes (after ``predict``)
    ------------------------------
    models_ : dict
        horizon -> (transactions hurdle, revenue hurdle, window length); each hurdle has
        ``classifier``, ``regressor`` and (revenue) ``sigma2``.
    """

    name = "ziln"

    def _tree(self, kind: str, loss: str | None = None):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        common = dict(max_iter=self.max_iter, learning_rate=self.learning_rate,
                      max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
                      random_state=self.random_state)
        if kind == "classifier":
            return HistGradientBoostingClassifier(**common)
        return HistGradientBoostingRegressor(loss=loss, **common)

    def _train(self, horizon: float):
        X, y = self.training_data(horizon)
        X = X.to_numpy()
        revenue = y["revenue"].to_numpy()
        counts = y["transactions"].to_numpy()
        if np.any(revenue < 0):
            raise InvalidParameterError(
                f"method {self.name!r}: negative revenue in the training window (refunds?) has "
                "no lognormal part; clean the log or net the refunds per customer."
            )
        buyer = (revenue > 0) & (counts > 0)
        if buyer.sum() < 2:
            zero = _Hurdle(None, None, None, 0.0)
            zero.predict = lambda X: np.zeros(len(X))  # nobody bought: predict 0
            return zero, zero, self.training_window(horizon)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            classifier = None
            if not buyer.all():
                classifier = self._tree("classifier").fit(X, buyer.astype(int))
            log_revenue = np.log(revenue[buyer])
            location = self._tree("regressor", "squared_error").fit(X[buyer], log_revenue)
            residual = log_revenue - location.predict(X[buyer])
            sigma2 = float(np.var(residual, ddof=1)) if buyer.sum() > 1 else 0.0
            count_model = self._tree("regressor", "poisson").fit(X[buyer], counts[buyer])
        share = float(buyer.mean())
        return (_Hurdle(classifier, count_model, None, share),
                _Hurdle(classifier, location, sigma2, share),
                self.training_window(horizon))


register_method(ZeroInflatedLognormal, overwrite=True)
