"""The time axis: timestamps as int64 ticks, the step between them, and timestamps rebuilt from
each series' first one.

Datetimes are handled as nanoseconds since the epoch so that every check on millions of rows
is one numpy expression. A validated series is regular, so a `Panel` keeps only the first
timestamp of each series and rebuilds the others on demand (`series_time`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9
_INFER_ROWS = 10_000  # enough rows to name the frequency; the full series is checked against it


def as_ticks(time: pd.Index) -> tuple[np.ndarray, bool]:
    """int64 ticks [N] (ns for datetimes, the values of an integer axis) and `is_datetime`."""
    if isinstance(time, pd.DatetimeIndex):
        time = time.tz_localize(None) if time.tz is not None else time
        return np.asarray(time.as_unit("ns").asi8), True
    return np.asarray(time, dtype=np.int64), False


def to_index(ticks: np.ndarray, is_datetime: bool) -> pd.Index:
    """Ticks back to a DatetimeIndex (or an integer Index)."""
    ticks = np.asarray(ticks, dtype=np.int64)
    return pd.DatetimeIndex(ticks.view("M8[ns]")) if is_datetime else pd.Index(ticks)


def infer_freq(ticks: np.ndarray, is_datetime: bool) -> str | int:
    """Frequency of one sorted series: a pandas alias, or the integer step of an integer axis.

    Irregular series get their most common step, so that a gap is then reported (or filled)
    against it.
    """
    if len(ticks) < 2:
        return "D" if is_datetime else 1
    head = ticks[:_INFER_ROWS]
    if not is_datetime:
        return int(np.min(np.diff(head)))
    if (freq := _pandas_freq(head)) is not None:
        return freq
    # A gap hides the frequency from pandas: ask again on pieces (long enough to show a
    # weekend of business days) and take the most common answer.
    size = max(12, len(head) // 8)
    votes = [f for i in range(0, len(head), size) if (f := _pandas_freq(head[i:i + size]))]
    if votes:
        return max(set(votes), key=votes.count)
    steps, counts = np.unique(np.diff(head), return_counts=True)
    return pd.tseries.frequencies.to_offset(pd.Timedelta(int(steps[np.argmax(counts)]))).freqstr


def fixed_step(freq: str | int) -> int | None:
    """The step in ticks when it never varies (integer axis, days and finer), else None
    (months, business days, weeks anchored to a weekday ...)."""
    if isinstance(freq, (int, np.integer)):
        return int(freq)
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick):
        return int(pd.Timedelta(offset).value)
    if type(offset) is pd.offsets.Day:  # a Tick before pandas 3; 24 h on a naive axis
        return offset.n * NS_PER_DAY
    return None


def next_ticks(ticks: np.ndarray, freq: str | int) -> np.ndarray:
    """The tick one step after each of `ticks` [N]."""
    step = fixed_step(freq)
    if step is not None:
        return ticks + step
    with warnings.catch_warnings():  # a few calendar offsets warn that they are not vectorised
        warnings.simplefilter("ignore")
        return (to_index(ticks, True) + pd.tseries.frequencies.to_offset(freq)).asi8


def first_irregular(ticks: np.ndarray, bounds: np.ndarray, freq: str | int) -> int | None:
    """Row (in `ticks`) of the first step that is not exactly one `freq` after the previous
    row of the same series; None when every series is regular."""
    regular = ticks[1:] == next_ticks(ticks[:-1], freq)
    regular[bounds[1:-1] - 1] = True  # the step from one series into the next is no step
    return None if regular.all() else int(np.argmin(regular)) + 1


def series_time(first, length: int, freq: str | int) -> pd.Index:
    """The `length` timestamps of a regular series starting at `first`."""
    step = fixed_step(freq)
    if not isinstance(first, pd.Timestamp):
        return pd.Index(int(first) + step * np.arange(length, dtype=np.int64))
    if step is not None:
        return to_index(first.value + step * np.arange(length, dtype=np.int64), True)
    # `first` may lie off the offset (a month end series starting mid-month): keep it as is.
    offset = pd.tseries.frequencies.to_offset(freq)
    rest = pd.date_range(first + offset, periods=length - 1, freq=freq) if length > 1 else []
    return pd.DatetimeIndex([first]).append(pd.DatetimeIndex(rest)).as_unit("ns")


def grid_positions(ticks: np.ndarray, bounds: np.ndarray, freq: str | int) -> np.ndarray:
    """Position of every row on its series' regular grid [N] (the first row is 0), or -1 for a
    row that lies off the grid."""
    step, lengths = fixed_step(freq), np.diff(bounds)
    if step is not None:
        offset = ticks - np.repeat(ticks[bounds[:-1]], lengths)
        return np.where(offset % step == 0, offset // step, -1)
    positions = np.empty(len(ticks), dtype=np.int64)
    # Calendar offsets (months ...): one date_range per series.
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = ticks[lo:hi]
        grid, _ = as_ticks(series_time(to_index(part[:1], True)[0],
                                       _grid_length(part, freq), freq))
        at = np.minimum(np.searchsorted(grid, part), len(grid) - 1)
        positions[lo:hi] = np.where(grid[at] == part, at, -1)
    return positions


def _grid_length(part: np.ndarray, freq: str) -> int:
    """Grid points from the first to the last tick of a calendar-offset series."""
    first, last = to_index(part[[0, -1]], True)
    offset = pd.tseries.frequencies.to_offset(freq)
    return 1 + len(pd.date_range(first + offset, last, freq=freq)) if last > first else 1


def _pandas_freq(ticks: np.ndarray) -> str | None:
    """pandas' name for the step of a regular run of datetimes, or None."""
    if len(ticks) < 3:
        return None
    with warnings.catch_warnings():  # pandas 3.1 warns that infer_freq will return an offset
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(to_index(ticks, True))
    return freq if freq is None or isinstance(freq, str) else freq.freqstr
