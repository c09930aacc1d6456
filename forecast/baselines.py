"""Baselines as scikit-learn estimators on the same windows as the neural models.

Every baseline maps input windows X [N, L, C] (targets are the first T channels) to forecasts
[N, H, T]; `fit(X, y)` takes the targets y [N, H, T]. They are ordinary estimators:
`get_params`, `set_params` and `sklearn.base.clone` work, and `score` is the R^2 of the
flattened horizon. Estimators with a `calendar` option also take the target steps' known-future
inputs (calendar, static and future features) as an optional keyword, `fit(X, y, y_time=...)`
/ `predict(X, y_time=...)` with y_time [N, H, F] (see `takes_calendar`); without it, or with
`calendar=False`, they fall back to lags only.

Example:
    >>> import numpy as np
    >>> X, y = np.random.default_rng(0).normal(size=(2, 100, 24, 1)), np.zeros((100, 6, 1))
    >>> RepeatLast().fit(X[0], y).predict(X[1]).shape
    (100, 6, 1)
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils.validation import check_is_fitted

from forecast.errors import ConfigError

_PREDICT_CHUNK = 1 << 17  # rows per tree-model predict call: bounds memory on long test sets


def takes_calendar(estimator) -> bool:
    """Whether `estimator.fit` accepts the target steps' known-future inputs `y_time` (and its
    `calendar` option, if any, is not False)."""
    return bool("y_time" in inspect.signature(estimator.fit).parameters
                and getattr(estimator, "calendar", None) is not False)


class WindowBaseline(RegressorMixin, BaseEstimator):
    """Shared bookkeeping: remembers the window shape and checks it at predict time."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array, tags.input_tags.three_d_array = False, True
        tags.target_tags.multi_output, tags.target_tags.single_output = True, False
        return tags

    def fit(self, X: np.ndarray, y: np.ndarray):
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim != 3 or y.ndim != 3 or len(X) != len(y) or y.shape[2] > X.shape[2]:
            raise ValueError(f"baselines take windows X [N, L, C] and y [N, H, T] with T <= C; "
                             f"got {X.shape} and {y.shape}")
        self.lookback_, self.n_channels_ = X.shape[1], X.shape[2]
        self.horizon_, self.n_targets_ = y.shape[1], y.shape[2]
        return self

    def _fit_calendar(self, y_time, n: int) -> np.ndarray | None:
        """Sets `n_time_features_` (0 where the `calendar` option is False or `y_time` has no
        features) and returns y_time checked, or None."""
        use = (getattr(self, "calendar", None) is not False and y_time is not None
               and np.shape(y_time)[-1] > 0)
        self.n_time_features_ = int(np.shape(y_time)[-1]) if use else 0
        return self._check_calendar(y_time, n)

    def _check_calendar(self, y_time, n: int) -> np.ndarray | None:
        if not self.n_time_features_:
            return None
        expected = (n, self.horizon_, self.n_time_features_)
        if y_time is None or np.shape(y_time) != expected:
            raise ValueError(f"{type(self).__name__} was fitted with calendar features; pass "
                             f"y_time {list(expected)}, got "
                             f"{None if y_time is None else np.shape(y_time)}")
        return np.asarray(y_time, dtype=np.float64)

    def _check_windows(self, X) -> np.ndarray:
        check_is_fitted(self, "horizon_")
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1:] != (self.lookback_, self.n_channels_):
            raise ValueError(f"{type(self).__name__} was fitted on windows [N, {self.lookback_}, "
                             f"{self.n_channels_}]; got {X.shape}")
        return X

    def _targets(self, X: np.ndarray) -> np.ndarray:
        return self._check_windows(X)[..., :self.n_targets_]  # [N, L, T]

    def score(self, X, y, sample_weight=None) -> float:
        """R^2 of the forecast, every (step, target) pair an output."""
        forecast = self.predict(X)
        return r2_score(np.asarray(y).reshape(len(y), -1), forecast.reshape(len(forecast), -1),
                        sample_weight=sample_weight)


class RepeatLast(WindowBaseline):
    """Repeat the last observed value over the horizon (optimal for a random walk)."""

    def predict(self, X):
        last = self._targets(X)[:, -1:]
        return np.repeat(last, self.horizon_, axis=1)


class SeasonalNaive(WindowBaseline):
    """Repeat the last observed season: yhat[t + h] = y[t + h - season * k].

    Args:
        season: season length in steps; None means "from the data" (the training entry point
            fills in `data.season`, else the season of the data's frequency; 1 without either).
    """

    def __init__(self, season: int | None = None):
        self.season = season

    def predict(self, X):
        targets = self._targets(X)
        season, lookback = self.season or 1, targets.shape[1]
        if season > lookback:
            raise ConfigError(f"baselines.seasonal_naive.season: {season} is longer than the "
                              f"lookback {lookback}; raise data.lookback or lower the season.")
        steps = lookback - season + np.arange(self.horizon_) % season
        return targets[:, steps]


class WindowMean(WindowBaseline):
    """The mean of the lookback window, flat over the horizon."""

    def predict(self, X):
        mean = self._targets(X).mean(axis=1, keepdims=True)
        return np.repeat(mean, self.horizon_, axis=1)


class LinearBaseline(WindowBaseline):
    """Ridge regression from the lookback window to the whole horizon (direct multi-output).

    With `channel_independent=True` every target channel is its own sample with shared
    weights (as DLinear/NLinear's `Linear`); otherwise all channels of the window are inputs.
    `subtract_last=True` learns the change from the last value (NLinear). On ETTh1 `OT`,
    lookback 336, horizon 96 it scores the NLinear paper's 0.053 normalised MSE. The
    known-future inputs of every target step (`y_time`, flattened), where fit receives them,
    join each row.

    Args:
        alpha: L2 penalty (0 = ordinary least squares).
        channel_independent: share one map across channels.
        subtract_last: predict relative to the last value.
        n_lags: use only the last n_lags steps (None = the whole lookback).
        calendar: None or True: use the known-future inputs `y_time` that fit receives (the
            experiments give None those the network gets, True also calendar features the
            network does without); False: lags only.
    """

    def __init__(self, alpha: float = 1.0, channel_independent: bool = True,
                 subtract_last: bool = True, n_lags: int | None = None,
                 calendar: bool | None = None):
        self.alpha, self.channel_independent = alpha, channel_independent
        self.subtract_last, self.n_lags, self.calendar = subtract_last, n_lags, calendar

    def _design(self, X, y_time=None):
        """Regression rows and the per-window anchor [N, 1, T] added back to the forecast."""
        X = np.asarray(X, dtype=np.float64)
        if self.n_lags:
            X = X[:, -self.n_lags:]
        anchor = X[:, -1:] if self.subtract_last else np.zeros_like(X[:, -1:])  # [N, 1, C]
        X = X - anchor
        if self.channel_independent:
            rows = X[..., :self.n_targets_].transpose(0, 2, 1).reshape(-1, X.shape[1])  # [N*T, L]
        else:
            rows = X.reshape(len(X), -1)  # [N, L*C]
        if y_time is not None:  # [N, H, F] -> each window's row(s) + H*F columns
            known = y_time.reshape(len(X), -1)
            rows = np.hstack([rows, np.repeat(known, len(rows) // max(len(X), 1), axis=0)])
        return rows, anchor[..., :self.n_targets_]

    def fit(self, X, y, y_time: np.ndarray | None = None):
        super().fit(X, y)
        design, last = self._design(X, self._fit_calendar(y_time, len(y)))
        target = np.asarray(y, dtype=np.float64) - last  # [N, H, T]
        target = (target.transpose(0, 2, 1).reshape(-1, self.horizon_) if self.channel_independent
                  else target.reshape(len(target), -1))
        self.model_ = Ridge(alpha=self.alpha).fit(design, target)
        return self

    def predict(self, X, y_time: np.ndarray | None = None):
        X = self._check_windows(X)
        design, last = self._design(X, self._check_calendar(y_time, len(X)))
        out = self.model_.predict(design)
        n = len(last)
        out = (out.reshape(n, self.n_targets_, self.horizon_).transpose(0, 2, 1)
               if self.channel_independent else out.reshape(n, self.horizon_, self.n_targets_))
        return out + last


class _LagRegressor(WindowBaseline):
    """Channel-independent regression on the last `n_lags` values, relative to the last one."""

    def _lags(self, X):
        """Rows [N*T, n_lags] (row n*T + t: window n, target t) and the last values [N, 1, T]."""
        targets = np.asarray(self._targets(X), dtype=np.float64)[:, -self.n_lags:]
        last = targets[:, -1:]
        return (targets - last).transpose(0, 2, 1).reshape(-1, targets.shape[1]), last

    def _subsample(self, n: int) -> np.ndarray:
        if n <= self.max_samples:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.random_state).choice(n, self.max_samples,
                                                                       replace=False))

    def _unflatten(self, out: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Changes [N*T*H] or [N*T, H] back to a forecast [N, H, T]."""
        out = out.reshape(len(last), self.n_targets_, self.horizon_).transpose(0, 2, 1)
        return out + last


class GradientBoostingBaseline(_LagRegressor):
    """Histogram gradient boosting on lags (+ known-future inputs), one model for every
    horizon step.

    Each row is (lags of one channel, horizon step h, known-future inputs of the target step h
    when given) -> change from the last value at step h; `max_samples` rows are drawn at
    random to bound the fit time.

    Args:
        n_lags: last values used as features.
        max_iter, learning_rate: boosting iterations and shrinkage.
        calendar: None or True: use the known-future inputs `y_time` that fit receives (see
            `LinearBaseline`); False: lags and horizon step only.
        max_samples: training rows drawn at most.
        random_state: seed of the row sample and of the booster.
    """

    def __init__(self, n_lags: int = 48, max_iter: int = 200, learning_rate: float = 0.1,
                 calendar: bool | None = None, max_samples: int = 50_000,
                 random_state: int = 0):
        self.n_lags, self.max_iter, self.learning_rate = n_lags, max_iter, learning_rate
        self.calendar, self.max_samples, self.random_state = calendar, max_samples, random_state

    def _design(self, lags: np.ndarray, pick: np.ndarray, y_time: np.ndarray | None):
        """Feature rows of the flat (row, step) indices `pick` into the [N*T, H] grid."""
        rows, steps = np.divmod(pick, self.horizon_)
        columns = [lags[rows], steps[:, None]]
        if self.n_time_features_:
            columns.append(y_time[rows // self.n_targets_, steps])  # [M, F]
        return np.hstack(columns)

    def fit(self, X, y, y_time: np.ndarray | None = None):
        super().fit(X, y)
        y_time = self._fit_calendar(y_time, len(y))
        lags, last = self._lags(X)
        change = (np.asarray(y, dtype=np.float64) - last).transpose(0, 2, 1).reshape(-1)
        pick = self._subsample(len(change))
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            random_state=self.random_state).fit(self._design(lags, pick, y_time), change[pick])
        return self

    def predict(self, X, y_time: np.ndarray | None = None):
        lags, last = self._lags(X)
        y_time = self._check_calendar(y_time, len(last))
        out = np.empty(len(lags) * self.horizon_)
        for start in range(0, len(out), _PREDICT_CHUNK):
            pick = np.arange(start, min(start + _PREDICT_CHUNK, len(out)))
            out[pick] = self.model_.predict(self._design(lags, pick, y_time))
        return self._unflatten(out, last)


class KNeighborsBaseline(_LagRegressor):
    """k nearest lookback windows (per channel, relative to the last value); their futures
    averaged.

    Args:
        n_neighbors: windows averaged.
        n_lags: last values compared.
        max_samples: training windows (x channels) kept at most, drawn at random.
        random_state: seed of that draw.
    """

    def __init__(self, n_neighbors: int = 10, n_lags: int = 48, max_samples: int = 50_000,
                 random_state: int = 0):
        self.n_neighbors, self.n_lags = n_neighbors, n_lags
        self.max_samples, self.random_state = max_samples, random_state

    def fit(self, X, y):
        super().fit(X, y)
        lags, last = self._lags(X)
        change = (np.asarray(y, dtype=np.float64) - last).transpose(0, 2, 1).reshape(len(lags), -1)
        rows = self._subsample(len(lags))
        neighbours = min(self.n_neighbors, len(rows))  # a short training part still fits
        self.model_ = KNeighborsRegressor(neighbours).fit(lags[rows], change[rows])
        return self

    def predict(self, X):
        lags, last = self._lags(X)
        return self._unflatten(self.model_.predict(lags), last)
