"""Per-series, per-channel scaling fitted on the training rows only."""

from __future__ import annotations

import numpy as np

from forecast.errors import ConfigError

METHODS = ("standard", "minmax", "none")


class Scaler:
    """Affine scaler `(x - center) / scale` with one (center, scale) per series and channel.

    Args:
        method: "standard" (mean, population std: sklearn's StandardScaler), "minmax" (to [0, 1])
            or "none".

    Example:
        >>> values = np.array([[1.0], [2.0], [3.0], [10.0]], dtype=np.float32)
        >>> scaler = Scaler("standard").fit(values, bounds=np.array([0, 4]), train_ends=np.array([3]))
        >>> np.allclose(scaler.inverse_transform(scaler.transform(values, np.array([0, 4]))), values)
        True
    """

    def __init__(self, method: str = "standard"):
        if method not in METHODS:
            raise ConfigError(f"data.scaler: unknown method '{method}'; use one of {METHODS}.")
        self.method = method

    def fit(self, values: np.ndarray, bounds: np.ndarray, train_ends: np.ndarray) -> Scaler:
        """Fit on rows `[bounds[s], bounds[s] + train_ends[s])` of each series s."""
        centers, scales = [], []
        for s, start in enumerate(bounds[:-1]):
            train = values[start:start + train_ends[s]].astype(np.float64)
            if self.method == "standard":
                center, scale = train.mean(0), train.std(0)
            elif self.method == "minmax":
                center, scale = train.min(0), train.max(0) - train.min(0)
            else:
                center, scale = np.zeros(train.shape[1]), np.ones(train.shape[1])
            centers.append(center)
            scales.append(np.where(scale > 1e-12, scale, 1.0))  # constant channel: shift only
        self.center_ = np.stack(centers).astype(np.float32)  # [S, C]
        self.scale_ = np.stack(scales).astype(np.float32)  # [S, C]
        return self

    def transform(self, values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Scaled copy of the stacked series `values` [T, C]."""
        series = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
        return ((values - self.center_[series]) / self.scale_[series]).astype(np.float32)

    def inverse_transform(self, scaled: np.ndarray, series: np.ndarray | int = 0,
                          channels: slice = slice(None)) -> np.ndarray:
        """Original units of `scaled` [..., C'] for series index (per leading row) and channels."""
        series = np.asarray(series)
        center, scale = self.center_[series][..., channels], self.scale_[series][..., channels]
        # Broadcast [N, C'] statistics over any middle (time) axes of [N, ..., C'].
        extra = scaled.ndim - center.ndim
        if series.ndim == 1 and extra > 0:
            shape = (center.shape[0],) + (1,) * extra + center.shape[1:]
            center, scale = center.reshape(shape), scale.reshape(shape)
        return scaled * scale + center

    def state_dict(self) -> dict:
        return {"method": self.method, "center": self.center_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict) -> Scaler:
        scaler = cls(state["method"])
        scaler.center_ = np.asarray(state["center"], dtype=np.float32)
        scaler.scale_ = np.asarray(state["scale"], dtype=np.float32)
        return scaler
