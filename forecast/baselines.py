"""Baselines as scikit-learn estimators on the same windows as the neural models.

Every baseline maps input windows X [N, L, C] (targets are the first T channels) to forecasts
[N, H, T]; `fit(X, y)` takes the targets y [N, H, T]. They are ordinary estimators:
`get_params`, `set_params` and `sklearn.base.clone` work.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

from forecast.errors import ConfigError


class WindowBaseline(RegressorMixin, BaseEstimator):
    """Shared fit bookkeeping: remembers the horizon H and the target count T."""

    def fit(self, X: np.ndarray, y: np.ndarray):
        X, y = _check(X, y)
        self.horizon_, self.n_targets_ = y.shape[1], y.shape[2]
        return self

    def _targets(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)[..., :self.n_targets_]  # [N, L, T]


class RepeatLast(WindowBaseline):
    """Repeat the last observed value over the horizon (optimal for a random walk)."""

    def predict(self, X):
        last = self._targets(X)[:, -1:]
        return np.repeat(last, self.horizon_, axis=1)


class SeasonalNaive(WindowBaseline):
    """Repeat the last observed season: yhat[t + h] = y[t + h - season * k].

    Args:
        season: season length in steps; None means "set from the data's frequency"
            (the training entry point fills it in).
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
    `subtract_last=True` learns the change from the last value (NLinear).

    Args:
        alpha: L2 penalty (0 = ordinary least squares).
        channel_independent: share one map across channels.
        subtract_last: predict relative to the last value.
        n_lags: use only the last n_lags steps (None = the whole lookback).
    """

    def __init__(self, alpha: float = 1.0, channel_independent: bool = True,
                 subtract_last: bool = True, n_lags: int | None = None):
        self.alpha, self.channel_independent = alpha, channel_independent
        self.subtract_last, self.n_lags = subtract_last, n_lags

    def _design(self, X):
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
        return rows, anchor[..., :self.n_targets_]

    def fit(self, X, y):
        super().fit(X, y)
        design, last = self._design(X)
        target = np.asarray(y, dtype=np.float64) - last  # [N, H, T]
        target = (target.transpose(0, 2, 1).reshape(-1, self.horizon_) if self.channel_independent
                  else target.reshape(len(target), -1))
        self.model_ = Ridge(alpha=self.alpha).fit(design, target)
        return self

    def predict(self, X):
        design, last = self._design(X)
        out = self.model_.predict(design)
        n = len(np.asarray(X))
        out = (out.reshape(n, self.n_targets_, self.horizon_).transpose(0, 2, 1)
               if self.channel_independent else out.reshape(n, self.horizon_, self.n_targets_))
        return out + last


class _LagRegressor(WindowBaseline):
    """Channel-independent regression on the last `n_lags` values, relative to the last one."""

    def _lags(self, X):
        targets = np.asarray(self._targets(X), dtype=np.float64)[:, -self.n_lags:]
        last = targets[:, -1:]
        return (targets - last).transpose(0, 2, 1).reshape(-1, targets.shape[1]), last

    def _subsample(self, n: int) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        return rng.choice(n, self.max_samples, replace=False) if n > self.max_samples else slice(None)


class GradientBoostingBaseline(_LagRegressor):
    """Histogram gradient boosting on lags, one model for every horizon step.

    Each training row is (lags of one channel, horizon step h) -> change from the last value
    at step h; `max_samples` rows are drawn at random to bound the fit time.
    """

    def __init__(self, n_lags: int = 48, max_iter: int = 200, learning_rate: float = 0.1,
                 max_samples: int = 50_000, random_state: int = 0):
        self.n_lags, self.max_iter, self.learning_rate = n_lags, max_iter, learning_rate
        self.max_samples, self.random_state = max_samples, random_state

    def _rows(self, lags):
        steps = np.tile(np.arange(self.horizon_), len(lags))[:, None]
        return np.hstack([np.repeat(lags, self.horizon_, axis=0), steps])  # [M*H, lags + 1]

    def fit(self, X, y):
        super().fit(X, y)
        lags, last = self._lags(X)
        target = (np.asarray(y, dtype=np.float64) - last).transpose(0, 2, 1).reshape(-1)
        rows = self._subsample(len(target))
        pick = np.arange(len(target))[rows]
        design = np.hstack([lags[pick // self.horizon_], (pick % self.horizon_)[:, None]])
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            random_state=self.random_state).fit(design, target[pick])
        return self

    def predict(self, X):
        lags, last = self._lags(X)
        out = self.model_.predict(self._rows(lags)).reshape(len(last), self.n_targets_,
                                                             self.horizon_)
        return out.transpose(0, 2, 1) + last


class KNeighborsBaseline(_LagRegressor):
    """k nearest lookback windows (per channel, relative to the last value); their futures averaged."""

    def __init__(self, n_neighbors: int = 10, n_lags: int = 48, max_samples: int = 50_000,
                 random_state: int = 0):
        self.n_neighbors, self.n_lags = n_neighbors, n_lags
        self.max_samples, self.random_state = max_samples, random_state

    def fit(self, X, y):
        super().fit(X, y)
        lags, last = self._lags(X)
        target = (np.asarray(y, dtype=np.float64) - last).transpose(0, 2, 1).reshape(len(lags), -1)
        rows = self._subsample(len(lags))
        self.model_ = KNeighborsRegressor(self.n_neighbors).fit(lags[rows], target[rows])
        return self

    def predict(self, X):
        lags, last = self._lags(X)
        out = self.model_.predict(lags).reshape(len(last), self.n_targets_, self.horizon_)
        return out.transpose(0, 2, 1) + last


def _check(X, y):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 3 or y.ndim != 3 or len(X) != len(y):
        raise ValueError(f"baselines take windows X [N, L, C] and y [N, H, T]; got {X.shape} "
                         f"and {y.shape}")
    return X, y
