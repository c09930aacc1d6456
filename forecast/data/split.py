"""Chronological train/val/test borders, per series.

A split gives, for each series, the row borders `(train_end, val_end, test_end)`: train targets
lie in `[0, train_end)`, validation targets in `[train_end, val_end)`, test targets in
`[val_end, test_end)`. Windows of a later part start `lookback` rows before its border, so
their inputs may reach back into the previous part while every target stays inside its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.timeaxis import in_zone
from forecast.errors import ConfigError, DataError

PARTS = ("train", "val", "test")
DATES_KEY = "data.split.dates"

# TSLib's Dataset_ETT_hour / Dataset_ETT_minute: 12 months train, 4 val, 4 test, of 30 days.
PRESETS = {
    "ett_hour": (12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24),  # 8640, 11520, 14400
    "ett_minute": (12 * 30 * 96, 16 * 30 * 96, 20 * 30 * 96),  # 34560, 46080, 57600
}


@dataclass(frozen=True)
class Split:
    """How to cut each series: fractions/sizes (the default), `borders`, a `preset` or `dates`.

    Args:
        val: fraction (< 1) of each series, or a number of rows (>= 1), just before the test
            part.
        test: as `val`, taken from the series' end.
        borders: row borders `[train_end, val_end, test_end]` of every series.
        dates: the first timestamps of val, test and of the unused tail (or null for the end);
            a date without a UTC offset is read on the data's own clock, one with an offset is
            that instant.
        preset: named borders: "ett_hour" (8640, 11520, 14400) or "ett_minute" (x 4).

    Fractions follow TSLib: `n_train = int(0.7 n)`, `n_test = int(0.2 n)`, val gets the rest.

    Example:
        >>> Split(preset="ett_hour").borders_for(pd.RangeIndex(17420))
        (8640, 11520, 14400)
    """

    val: float = 0.1
    test: float = 0.2
    borders: Sequence[int] | None = None
    dates: Sequence[str | None] | None = None
    preset: str | None = None

    def __post_init__(self):
        for key in ("val", "test"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"data.split.{key}: expected a fraction (< 1) or a number of "
                                  f"rows, got {value!r}.")
        given = [k for k in ("borders", "dates", "preset") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ConfigError(f"data.split: give only one of borders, dates or preset (got "
                              f"{' and '.join(given)}).")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"data.split.preset: unknown preset '{self.preset}'; use one of "
                              f"{sorted(PRESETS)}.")
        if self.borders is not None and len(self.borders) != 3:
            raise ConfigError("data.split.borders: give three row numbers "
                              "[train_end, val_end, test_end].")
        if self.dates is not None and len(self.dates) not in (2, 3):
            raise ConfigError("data.split.dates: give [val_start, test_start] or "
                              "[val_start, test_start, test_end].")
        for name in ("val", "test"):
            if getattr(self, name) < 0:
                raise ConfigError(f"data.split.{name}: must be >= 0, got {getattr(self, name)}.")
        if self.val < 1 and self.test < 1 and self.val + self.test >= 1:
            raise ConfigError(f"data.split: val + test = {self.val} + {self.test} leaves no rows "
                              "to train on; make the two fractions sum to less than 1.")

    def table(self, lengths: np.ndarray,
              rows_before: Callable[[object], np.ndarray] | None = None) -> np.ndarray:
        """Borders [S, 3] of series with `lengths` [S] rows.

        Args:
            lengths: rows of each series.
            rows_before: for `dates`: maps a timestamp to [S], the rows of each series before it.
        """
        n = np.asarray(lengths, dtype=np.int64)
        borders = self.borders if self.preset is None else PRESETS[self.preset]
        if borders is not None:
            return np.tile(np.asarray(borders, dtype=np.int64), (len(n), 1))
        if self.dates is not None:
            ends = [n if d is None else rows_before(d) for d in self.dates] + [n]
            return np.stack(ends[:3], axis=1).astype(np.int64)
        n_test = _rows(self.test, n)
        if self.val < 1 and self.test < 1:  # TSLib: train and test are floored, val the rest
            n_val = n - (n * round(1 - self.val - self.test, 10)).astype(np.int64) - n_test
        else:
            n_val = _rows(self.val, n)
        return np.stack([n - n_test - n_val, n - n_test, n], axis=1)

    def borders_for(self, time: pd.Index) -> tuple[int, int, int]:
        """Row borders (train_end, val_end, test_end) of one series with timestamps `time`."""
        table = self.table(np.array([len(time)]), lambda d: np.array([time.searchsorted(
            in_zone(d, time.tz, DATES_KEY) if isinstance(time, pd.DatetimeIndex) else int(d))]))
        check_borders(table, np.array([len(time)]), ("series",), self)
        return tuple(int(b) for b in table[0])

    def asked_for(self) -> tuple[bool, bool]:
        """Whether the split asks for a validation and a test part at all."""
        if self.dates is not None:  # a null date ends the previous part with the data
            return self.dates[0] is not None, self.dates[1] is not None
        borders = self.borders if self.preset is None else PRESETS[self.preset]
        if borders is not None:
            return borders[1] > borders[0], borders[2] > borders[1]
        return self.val > 0, self.test > 0


def _rows(value: float, n: np.ndarray) -> np.ndarray:
    return (n * value).astype(np.int64) if value < 1 else np.full_like(n, int(value))


def check_borders(table: np.ndarray, lengths: np.ndarray, series_ids, split: Split) -> None:
    """Each series needs `0 < train_end <= val_end <= test_end <= rows`, and a part the split
    asks for must have rows in some series."""
    train_end, val_end, test_end = table.T
    ok = (0 < train_end) & (train_end <= val_end) & (val_end <= test_end) & (test_end <= lengths)
    if not ok.all():
        s = int(np.argmin(ok))
        where = "" if len(lengths) == 1 else f" series '{series_ids[s]}':"
        raise ConfigError(f"data.split:{where} borders {table[s].tolist()} must satisfy "
                          f"0 < train_end <= val_end <= test_end <= {lengths[s]} (rows in the "
                          "series); change data.split.")
    sizes = {"val": (val_end - train_end).sum(), "test": (test_end - val_end).sum()}
    for name, asked in zip(("val", "test"), split.asked_for(), strict=True):
        if asked and sizes[name] == 0:
            raise DataError(f"data.split: the {name} part is empty (0 rows in every series); "
                            f"move its border or date into the data, or set data.split.{name}=0 "
                            "if you want no such part.")


def split_borders(split: Split, panel) -> np.ndarray:
    """Borders of every series of a `Panel`: [S, 3] rows relative to each series' first row."""
    table = split.table(panel.lengths,
                        lambda d: panel.rows_before(panel.on_axis(d, DATES_KEY)))
    check_borders(table, panel.lengths, panel.series_ids, split)
    return table
