"""Chronological train/val/test borders, per series.

A split gives, for each series, the row borders `(train_end, val_end, test_end)`: train targets
lie in `[0, train_end)`, validation targets in `[train_end, val_end)`, test targets in
`[val_end, test_end)`. Windows of a later part start `lookback` rows before its border, so
their inputs may reach back into the previous part while every target stays inside its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.errors import ConfigError

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """How to cut each series. Give exactly one of: fractions/sizes, `borders` or `dates`.

    Args:
        val: fraction (< 1) of each series, or a number of rows (>= 1) taken from its end.
        test: as `val`; the test part is the last one.
        borders: row borders `[train_end, val_end, test_end]` (ETT: 8640, 11520, 14400).
        dates: the first timestamps of val, test and of the unused tail (or null for the end).

    Fractions follow TSLib: `n_train = int(0.7 n)`, `n_test = int(0.2 n)`, val gets the rest.
    """

    val: float = 0.1
    test: float = 0.2
    borders: Sequence[int] | None = None
    dates: Sequence[str | None] | None = None

    def __post_init__(self):
        for key in ("val", "test"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"data.split.{key}: expected a fraction (< 1) or a number of "
                                  f"rows, got {value!r}.")

    def borders_for(self, time: pd.Index) -> tuple[int, int, int]:
        """Row borders (train_end, val_end, test_end) of one series with timestamps `time`."""
        n = len(time)
        if self.borders is not None:
            if len(self.borders) != 3:
                raise ConfigError("data.split.borders: give three row numbers "
                                  "[train_end, val_end, test_end].")
            bounds = tuple(int(b) for b in self.borders)
        elif self.dates is not None:
            if len(self.dates) not in (2, 3):
                raise ConfigError("data.split.dates: give [val_start, test_start] or "
                                  "[val_start, test_start, test_end].")
            stamps = [None if d is None else _to_time(d, time) for d in self.dates]
            bounds = tuple(n if s is None else int(time.searchsorted(s)) for s in stamps)
            bounds = bounds + (n,) * (3 - len(bounds))
        else:
            n_test = _rows(self.test, n, "test")
            n_train = (int(n * round(1 - self.val - self.test, 10))
                       if self.val < 1 and self.test < 1 else None)
            n_val = _rows(self.val, n, "val")
            if n_train is not None:  # TSLib: train and test are floored, val takes the rest
                n_val = n - n_train - n_test
            bounds = (n - n_test - n_val, n - n_test, n)
        _check(bounds, n)
        return bounds


def _rows(value: float, n: int, name: str) -> int:
    if value < 0:
        raise ConfigError(f"data.split.{name}: must be >= 0, got {value}.")
    return int(n * value) if value < 1 else int(value)


def _to_time(value, time: pd.Index):
    return pd.Timestamp(value) if isinstance(time, pd.DatetimeIndex) else int(value)


def _check(bounds: tuple[int, int, int], n: int) -> None:
    train_end, val_end, test_end = bounds
    if not 0 < train_end <= val_end <= test_end <= n:
        raise ConfigError(f"data.split: borders {list(bounds)} must satisfy "
                          f"0 < train_end <= val_end <= test_end <= {n} (rows in the series).")


def split_borders(split: Split, time: pd.Index, bounds: np.ndarray) -> np.ndarray:
    """Borders of every series: [S, 3] rows relative to each series' first row."""
    return np.array([split.borders_for(time[bounds[s]:bounds[s + 1]])
                     for s in range(len(bounds) - 1)], dtype=np.int64)
