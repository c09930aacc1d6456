"""`Panel`: validated regular series stacked along time, with their time axis."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from forecast.data.timeaxis import (
    as_ticks,
    fixed_step,
    in_zone,
    naive,
    offset_grid,
    series_time,
    timestamp_tick,
    to_index,
)
from forecast.errors import ConfigError


@dataclass(frozen=True)
class Panel:
    """Validated regular series, stacked along time.

    Attributes:
        values: [T, C] float32, channels ordered targets first (None once a
            `WindowDataModule` has scaled them in place into its `values_`).
        bounds: [S + 1] first row of each series, then T.
        start: [S] first timestamp (or integer step) of each series.
        series_ids: one id per series.
        columns: C channel names.
        n_targets: how many leading channels are forecast targets.
        freq: pandas offset alias, or the integer step of an integer time axis.
        time_name: name of the time column (or index) in the input frame.
        id_col: the series id column of a long frame; None for a wide frame.
        static: the static features of each series, one row per series (indexed by id), or
            None.
        id_dtype: the dtype of the id column ("int64" ...), whose values `series_ids` hold as
            text; None for a wide frame.
        tz: the timezone of timezone-aware input times, which the panel holds as naive ones
            (`timeaxis.naive`: UTC below a day's step, else the wall clock); None if naive.
    """

    values: np.ndarray | None
    bounds: np.ndarray
    start: pd.Index
    series_ids: tuple[str, ...]
    columns: tuple[str, ...]
    n_targets: int
    freq: str | int
    time_name: str = "date"
    id_col: str | None = None
    static: pd.DataFrame | None = None
    id_dtype: str | None = None
    tz: str | None = None

    @property
    def n_series(self) -> int:
        return len(self.series_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.bounds)

    def series_time(self, s: int) -> pd.Index:
        """Timestamps of series `s`."""
        return series_time(self.start[s], int(self.lengths[s]), self.freq)

    def time_at(self, rows: np.ndarray) -> pd.Index:
        """Timestamps of the stacked rows `rows` (flattened) [N]."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        series = np.searchsorted(self.bounds, rows, side="right") - 1
        steps = rows - self.bounds[series]
        first, unit = as_ticks(self.start)
        step = fixed_step(self.freq, unit)
        if step is not None:
            return to_index(first[series] + steps * step, unit)
        if self._calendar_grid is None:  # series on different grids: a date range each
            ticks = np.empty(len(rows), dtype=np.int64)
            order = np.argsort(series, kind="stable")
            cuts = np.flatnonzero(np.diff(series[order])) + 1
            for at in np.split(order, cuts) if len(order) else []:
                ticks[at] = as_ticks(self.series_time(series[at[0]]))[0][steps[at]]
            return to_index(ticks, unit)
        grid, second = self._calendar_grid  # step k > 0 of series s: grid[second[s] + k - 1]
        later = grid[np.maximum(second[series] + steps - 1, 0)]
        return to_index(np.where(steps > 0, later, first[series]), unit)

    def on_axis(self, date, key: str):
        """`date` (of the setting `key`: a time, or an integer step) as the panel holds its
        times (see `timeaxis.naive`)."""
        number = isinstance(date, numbers.Real) and not isinstance(date, bool)
        if not isinstance(self.start, pd.DatetimeIndex):
            if not number or not float(date).is_integer():
                raise ConfigError(f"{key}: {date!r}; the time axis '{self.time_name}' holds "
                                  f"integer steps (from {self.start.min()}): give one of them.")
            return int(date)
        if number:
            raise ConfigError(f"{key}: {date!r} is a number, but the times of "
                              f"'{self.time_name}' are timestamps: give a time, such as "
                              f"'{self.start.min().date()}'.")
        return naive(pd.DatetimeIndex([in_zone(date, self.tz, key)]), self.freq)[0]

    def rows_before(self, stamp) -> np.ndarray:
        """[S] rows of each series that lie before `stamp` (a timestamp, or an integer step)."""
        first, unit = as_ticks(self.start)
        step = fixed_step(self.freq, unit)
        tick = timestamp_tick(stamp, unit)
        if step is not None:
            return np.clip(-((first - tick) // step), 0, self.lengths)  # ceil((tick-first)/step)
        if self._calendar_grid is None:
            return np.array([self.series_time(s).searchsorted(pd.Timestamp(stamp))
                             for s in range(self.n_series)], dtype=np.int64)
        grid, second = self._calendar_grid
        later = np.clip(np.searchsorted(grid, tick) - second, 0, self.lengths - 1)
        return np.where(first < tick, 1 + later, 0)

    @cached_property
    def _calendar_grid(self) -> tuple[np.ndarray, np.ndarray] | None:
        """`offset_grid` of the series of a calendar frequency (months ...)."""
        first, unit = as_ticks(self.start)
        return offset_grid(first, self.freq, unit, lengths=self.lengths)

    @cached_property
    def time(self) -> pd.Index:
        """[T] timestamps of every row (built on first use: T int64)."""
        return self.time_at(np.arange(self.bounds[-1]))
