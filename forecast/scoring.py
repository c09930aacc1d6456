"""`scoring=` for scikit-learn's model selection: a Forecaster's backtest error.

scikit-learn's own scorers (`"neg_mean_absolute_error"`) compare `predict(X)` with `y`; a
forecaster's targets are X's future, so they cannot score it. `forecast.scorer("mae")` scores
as `Forecaster.score` does, with an error metric in its place.
"""

from __future__ import annotations

from dataclasses import dataclass

from forecast.errors import ConfigError

ERRORS = ("mae", "mse", "rmse", "mape", "smape")  # what `Forecaster.score(metric=)` also gives


def check_metric(metric: str, caller: str) -> str:
    """`metric` in lower case ("MAE" is "mae", as `loss="MAE"` is); ConfigError if unknown."""
    name = metric.lower() if isinstance(metric, str) else metric
    if name != "r2" and name not in ERRORS:
        raise ConfigError(f"{caller}: unknown metric {metric!r}; use 'r2' or one of "
                          f"{list(ERRORS)} (in any case).")
    return name


@dataclass(frozen=True)
class BacktestScorer:
    """Scores a fitted Forecaster on X (`y` is ignored) by `Forecaster.score(X, metric=...)`,
    errors negated so that higher is better, as scikit-learn's `neg_*` scorers."""

    metric: str

    def __call__(self, estimator, X, y=None) -> float:
        value = estimator.score(X, metric=self.metric)
        return value if self.metric == "r2" else -value


def scorer(metric: str = "mae") -> BacktestScorer:
    """`GridSearchCV(model, grid, cv=TimeSeriesSplit(3), scoring=forecast.scorer("mae"))`:
    `metric` is "mae", "mse", "rmse", "mape", "smape" (negated) or "r2", in any case."""
    return BacktestScorer(check_metric(metric, "scorer"))
