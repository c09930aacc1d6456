"""Lookback -> horizon windows as start rows into the stacked series: the only windowing code.

A window starting at row t has inputs `values[t : t + lookback]` and targets
`values[t + lookback : t + lookback + horizon, :n_targets]`. Windows are never copied as a
whole: `window_view` is a zero-copy strided view, and batches are gathered by index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.errors import ConfigError, DataError


@dataclass(frozen=True)
class WindowSpec:
    """Shape of the windows.

    Args:
        lookback: input steps L.
        horizon: forecast steps H.
        stride: rows between consecutive training window starts (evaluation always uses every
            window unless `eval_stride` says otherwise).
    """

    lookback: int
    horizon: int
    stride: int = 1

    def __post_init__(self):
        for key in ("lookback", "horizon", "stride"):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"data.{key}: must be a positive integer, got {value!r}.")

    @property
    def length(self) -> int:
        return self.lookback + self.horizon


def window_starts(bounds: np.ndarray, part_borders: np.ndarray, spec: WindowSpec,
                  stride: int | None = None) -> np.ndarray:
    """Global start rows of every window whose targets lie in the given part of each series.

    Args:
        bounds: [S + 1] first row of each series in the stacked values.
        part_borders: [S, 2] target rows `[lo, hi)` of the part, relative to each series.
        spec: window shape.
        stride: rows between starts (default `spec.stride`).

    Returns:
        [N] int64 start rows, series by series, ascending.
    """
    stride = spec.stride if stride is None else stride
    starts = []
    for s, (lo, hi) in enumerate(part_borders):
        first = max(int(lo) - spec.lookback, 0)
        last = int(hi) - spec.length  # inclusive
        if last >= first:
            starts.append(bounds[s] + np.arange(first, last + 1, stride, dtype=np.int64))
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def check_enough_rows(lengths: np.ndarray, borders: np.ndarray, spec: WindowSpec,
                      series_ids) -> None:
    """Raise a DataError naming the first series/part that yields no window (an empty part,
    as a test part of size 0 when fitting for production, is allowed)."""
    for s, (n, (train_end, val_end, test_end)) in enumerate(zip(lengths, borders)):
        where = "" if len(lengths) == 1 else f" series '{series_ids[s]}'"
        if n < spec.length:
            raise DataError(f"data:{where} has {n} rows, fewer than lookback + horizon = "
                            f"{spec.lookback} + {spec.horizon}; use a shorter data.lookback "
                            "or data.horizon, or more data.")
        for name, lo, hi in (("train", 0, train_end), ("val", train_end, val_end),
                             ("test", val_end, test_end)):
            if hi > lo and hi - max(lo - spec.lookback, 0) < spec.length:
                raise DataError(f"data:{where} the {name} part (rows {lo}..{hi}) is too short "
                                f"for one window of {spec.length} rows (lookback + horizon); "
                                "change data.split or use a shorter lookback/horizon.")


def window_series(starts: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """[N] index of the series each window belongs to."""
    return np.searchsorted(bounds, starts, side="right") - 1


def window_view(values: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Zero-copy view [T - L - H + 1, L + H, C] of every window of `values` [T, C]."""
    view = np.lib.stride_tricks.sliding_window_view(values, spec.length, axis=0)
    return view.transpose(0, 2, 1)  # [T', C, L+H] -> [T', L+H, C], still a view


def gather_windows(values: np.ndarray, starts: np.ndarray, spec: WindowSpec,
                   n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [N, L, C] and targets [N, H, n_targets] of the windows at `starts` (an index gather)."""
    windows = window_view(values, spec)[starts]
    return windows[:, :spec.lookback], windows[:, spec.lookback:, :n_targets]
