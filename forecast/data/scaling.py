"""Per-series, per-channel scaling fitted on the training rows only."""

from __future__ import annotations

import numpy as np
import torch

from forecast.errors import ConfigError

METHODS = ("standard", "minmax", "none")
_EPS32, _TINY32 = float(np.finfo(np.float32).eps), float(np.finfo(np.float32).tiny)
_BLOCK_ROWS = 1 << 16  # rows per block of short series: vectorised, with small temporaries


class Scaler:
    """Affine scaler `(x - center) / scale` with one (center, scale) per series and channel.

    Args:
        method: "standard" (mean, population std: sklearn's StandardScaler), "minmax" (to [0, 1])
            or "none". A series constant over its training rows is scaled by its level, up to 1.

    Example:
        >>> values = np.array([[1.0], [2.0], [3.0], [10.0]], dtype=np.float32)
        >>> bounds = np.array([0, 4])
        >>> scaler = Scaler("standard").fit(values, bounds, train_ends=np.array([3]))
        >>> scaled = scaler.transform(values, bounds)
        >>> np.allclose(scaler.inverse_transform(scaled), values)
        True
    """

    def __init__(self, method: str = "standard"):
        if method not in METHODS:
            raise ConfigError(f"data.scaler: unknown method '{method}'; use one of {METHODS}.")
        self.method = method

    def fit(self, values: np.ndarray, bounds: np.ndarray, train_ends: np.ndarray) -> Scaler:
        """Fit on rows `[bounds[s], bounds[s] + train_ends[s])` of each series s of `values`
        [T, C]."""
        centers = np.zeros((len(bounds) - 1, values.shape[1]))
        scales = np.ones_like(centers)
        if self.method != "none":
            statistics = _mean_std if self.method == "standard" else _min_range
            for lo, hi, series, rows in _blocks(bounds):
                starts = bounds[series] - lo
                centers[series], scales[series] = statistics(values[lo:hi], starts,
                                                             starts + train_ends[series], rows)
        self.center_ = centers.astype(np.float32)  # [S, C]
        self.scale_ = _constant_as_level(centers, scales).astype(np.float32)
        return self

    def transform(self, values: np.ndarray, bounds: np.ndarray,
                  out: np.ndarray | None = None) -> np.ndarray:
        """Scaled stacked series `values` [T, C]; pass `out=values` to scale in place."""
        return self._apply(values, bounds, out, inverse=False)

    def inverse_transform_series(self, scaled: np.ndarray, bounds: np.ndarray,
                                 out: np.ndarray | None = None) -> np.ndarray:
        """Stacked series `scaled` [T, C] back in original units (`out=scaled`: in place)."""
        return self._apply(scaled, bounds, out, inverse=True)

    def _apply(self, values, bounds, out, inverse: bool) -> np.ndarray:
        out = np.empty(values.shape, dtype=np.float32) if out is None else out
        for lo, hi, series, rows in _blocks(bounds):
            center, scale, block = self.center_[series][rows], self.scale_[series][rows], out[lo:hi]
            if inverse:
                np.multiply(values[lo:hi], scale, out=block)
                block += center
            else:
                np.subtract(values[lo:hi], center, out=block)
                block /= scale
        return out

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

    def state_dict(self, tensors: bool = False) -> dict:
        """The fitted statistics as lists (JSON), or as tensors (a checkpoint: one object per
        statistic instead of one per series and channel, which Lightning walks and copies at
        every save)."""
        form = torch.from_numpy if tensors else np.ndarray.tolist
        return {"method": self.method, "center": form(self.center_),
                "scale": form(self.scale_)}

    @classmethod
    def from_state_dict(cls, state: dict) -> Scaler:
        scaler = cls(state["method"])
        scaler.center_, scaler.scale_ = (
            np.asarray(torch.as_tensor(state[key]).cpu(), dtype=np.float32)  # cuda: map_location
            for key in ("center", "scale"))
        return scaler


def _constant_as_level(centers: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    """The spreads [S, C] as scales, but a constant series (spread nil, or below float32's
    resolution at its level) is scaled by its level |center| up to 1 (1 when all zero): its
    forecast errors are then relative to a small level (not ~1e-4 off a series at 1e-6) and
    absolute at a large one (not 30% off a series at 1e6). The test is relative, so a series of
    tiny values (1e-13 sin) is scaled as any other."""
    level = np.abs(centers)
    constant = spreads <= np.maximum(_EPS32 * level, _TINY32)
    return np.where(constant, np.where(level > _TINY32, np.minimum(level, 1.0), 1.0), spreads)


def _blocks(bounds: np.ndarray):
    """Blocks of the stacked series, so that every operation is vectorised over many short
    series at once yet needs temporaries of one block only.

    Yields:
        (lo, hi, series, rows): rows [lo, hi) hold the series numbers `series` [k]; `rows` maps
        each row of the block to its place in `series` ([hi - lo], or a slice(None) broadcast
        when the block is one series).
    """
    lengths = np.diff(bounds)
    page = bounds[:-1] // _BLOCK_ROWS
    # A new block at a page change and around every long series.
    long = lengths > _BLOCK_ROWS
    cut = np.flatnonzero((np.diff(page) != 0) | long[1:] | long[:-1]) + 1
    for first, last in zip(np.concatenate([[0], cut]), np.concatenate([cut, [len(page)]]),
                           strict=True):
        series = np.arange(first, last)
        if last - first == 1:
            yield bounds[first], bounds[last], series, slice(0, 1)
        else:
            yield bounds[first], bounds[last], series, np.repeat(np.arange(last - first),
                                                                 lengths[first:last])


def _segments(block: np.ndarray, starts: np.ndarray, ends: np.ndarray, reduce, dtype=None):
    """`reduce` over the row segments [starts[i], ends[i]) of `block` -> [k, C]."""
    if len(starts) == 1:  # one (maybe long) series: a plain reduction, no copy
        return reduce.reduce(block[starts[0]:ends[0]], axis=0, dtype=dtype)[None]
    cuts = np.stack([starts, ends], axis=1).ravel()
    cuts = cuts[:-1] if cuts[-1] == len(block) else cuts  # the last segment then runs to the end
    return reduce.reduceat(block, cuts, axis=0, dtype=dtype)[::2]


def _mean_std(block, starts, ends, rows):
    """Mean and population std of the segments, in float64 (two passes)."""
    if len(starts) == 1:  # one long series: pass over row chunks instead of the whole block
        train = block[starts[0]:ends[0]]
        chunks = [train[i:i + _BLOCK_ROWS] for i in range(0, len(train), _BLOCK_ROWS)]
        mean = sum(chunk.sum(axis=0, dtype=np.float64) for chunk in chunks) / len(train)
        squares = sum(np.square(chunk - mean).sum(axis=0) for chunk in chunks)
        return mean[None], np.sqrt(squares / len(train))[None]
    counts = (ends - starts)[:, None]
    mean = _segments(block, starts, ends, np.add, np.float64) / counts
    deviations = np.square(block - mean[rows], dtype=np.float64)  # one block of temporaries
    return mean, np.sqrt(_segments(deviations, starts, ends, np.add) / counts)


def _min_range(block, starts, ends, rows):
    low = _segments(block, starts, ends, np.minimum).astype(np.float64)
    return low, _segments(block, starts, ends, np.maximum) - low
