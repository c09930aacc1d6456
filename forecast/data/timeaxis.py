"""The time axis: timestamps as int64 ticks, the step between them, and timestamps rebuilt from
each series' first one.

Datetimes are handled as int64 ticks in their own resolution (`unit`: "s", "ms", "us" or
"ns"; None for an integer time axis), so that every check on millions of rows is one numpy
expression on the frame's own memory. A validated series is regular, so a `Panel` keeps only
the first timestamp of each series and rebuilds the others on demand (`series_time`).
"""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pandas as pd

from forecast.errors import ConfigError

_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}  # nanoseconds per tick of each unit
_NS_PER_DAY = 86_400 * 10**9
_UNDER_A_DAY = pd.Timedelta(hours=23)  # a local day may last 23 hours
_INFER_ROWS = 10_000  # enough rows to name the frequency; the full series is checked against it
_BLOCK_ROWS = 1 << 20


def as_ticks(time: pd.Index) -> tuple[np.ndarray, str | None]:
    """int64 ticks [N] and their unit (None: the values of an integer axis)."""
    if isinstance(time, pd.DatetimeIndex):
        time = naive(time)
        return np.asarray(time.asi8), time.unit
    return np.asarray(time, dtype=np.int64), None


def zone_name(tz: datetime.tzinfo) -> str | None:
    """A name of the timezone `tz` that reads back as that zone (also in another process, as a
    saved model's): the IANA key of a zoneinfo, pytz or dateutil zone, or a fixed offset
    ("UTC", "UTC+01:00"); None for a zone that has none (a POSIX rule string, say)."""
    name = getattr(tz, "key", None) or getattr(tz, "zone", None)  # zoneinfo, pytz
    filename = getattr(tz, "_filename", None)  # dateutil: '/usr/share/zoneinfo/Europe/Berlin'
    if name is None and isinstance(filename, str):
        name = filename.rpartition("zoneinfo/")[2]
    if name is None and tz.utcoffset(None) is not None:  # the same offset all year
        name = str(datetime.timezone(tz.utcoffset(None)))
    try:
        pd.Timestamp(0, tz=name)
    except Exception:  # pandas raises several types for a name it cannot read
        return None
    return name


def utc_axis(freq: str | int | None) -> bool:
    """Whether timezone-aware times of `freq` are handled in UTC (steps under a day, as the
    hours a clock change skips or repeats are no gap and no duplicate there) rather than on the
    wall clock (days and longer: local midnights, whatever their UTC offset)."""
    if freq is None or isinstance(freq, (int, np.integer)):
        return False
    step = fixed_step(freq)
    return step is not None and step < _NS_PER_DAY


def naive(time: pd.DatetimeIndex, freq: str | int | None = None) -> pd.DatetimeIndex:
    """Timezone-aware times as naive ones, in UTC or on the wall clock as `utc_axis(freq)`
    says (`freq` None: as the times' median step says); naive times as they are."""
    if time.tz is None:
        return time
    return (time.tz_convert("UTC") if on_utc_axis(time, freq) else time).tz_localize(None)


def on_utc_axis(time: pd.DatetimeIndex, freq: str | int | None) -> bool:
    """Whether `naive` holds timezone-aware `time` in UTC (see `utc_axis`)."""
    if freq is not None:
        return utc_axis(freq)
    steps = np.diff(time.asi8[:_INFER_ROWS])
    return len(steps) > 0 and pd.Timedelta(np.median(steps), unit=time.unit) < _UNDER_A_DAY


def parse_times(raw: pd.Series, freq: str | int | None = None) -> pd.DatetimeIndex:
    """`pd.to_datetime(raw)`, and times written with UTC offsets that change and no zone name
    (pandas writes a zone's times so across a clock change): the instants in UTC below a
    day's step, else the local clock each was written on. Raises pandas' ValueError/TypeError
    for values that are no timestamps."""
    try:
        return pd.DatetimeIndex(pd.to_datetime(raw))
    except ValueError as error:
        if "Mixed timezones" not in str(error):
            raise
    instants = pd.DatetimeIndex(pd.to_datetime(raw, utc=True))
    if on_utc_axis(instants, freq):
        return instants
    local = pd.Series(np.asarray(raw, dtype=object)).astype(str).str.replace(
        r"\s*(Z|[+-]\d\d:?\d\d)$", "", regex=True)  # the clock each time was written on
    return pd.DatetimeIndex(pd.to_datetime(local))


def localized(time: pd.Index, tz: str | None, freq: str | int) -> pd.Index:
    """Naive times (of `naive`) back in the timezone `tz` (None: as they are)."""
    if tz is None or not isinstance(time, pd.DatetimeIndex):
        return time
    if utc_axis(freq):
        return time.tz_localize("UTC").tz_convert(tz)
    return time.tz_localize(tz, ambiguous=np.zeros(len(time), dtype=bool),
                            nonexistent="shift_forward")


def in_zone(date, tz: str | None, key: str) -> pd.Timestamp:
    """`date` (of the setting `key`) in the data's timezone `tz` (None: naive data): a date
    without a UTC offset is read on the data's own clock, one with an offset is that instant."""
    try:
        stamp = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise ConfigError(f"{key}: {date!r} is not a time; give one such as "
                          "'2021-04-01' or '2021-04-01 06:00'.") from None
    if stamp.tz is None:
        return stamp if tz is None else stamp.tz_localize(tz, ambiguous=True,
                                                          nonexistent="shift_forward")
    if tz is None:
        raise ConfigError(f"{key}: '{date}' has a UTC offset, but the data's times have no "
                          "timezone; give the date without its offset, on the data's clock.")
    return stamp.tz_convert(tz)


def wall_clock(time: pd.Index, tz: str | None, freq: str | int) -> pd.Index:
    """Naive times (of `naive`) as the clock in `tz` shows them: what calendar features
    (hour of day ...) describe."""
    if tz is None or not utc_axis(freq) or not isinstance(time, pd.DatetimeIndex):
        return time
    return time.tz_localize("UTC").tz_convert(tz).tz_localize(None)


def to_index(ticks: np.ndarray, unit: str | None) -> pd.Index:
    """Ticks back to a DatetimeIndex (or an integer Index)."""
    ticks = np.asarray(ticks, dtype=np.int64)
    return pd.Index(ticks) if unit is None else pd.DatetimeIndex(ticks.view(f"M8[{unit}]"))


def timestamp_tick(stamp, unit: str | None) -> int:
    """One timestamp (or integer step) as a tick."""
    if unit is None:
        return int(stamp)
    return int(pd.Timestamp(stamp).as_unit(unit).asm8.view(np.int64))


def infer_freq(ticks: np.ndarray, unit: str | None) -> str | int:
    """Frequency of one sorted series: a pandas alias, or the integer step of an integer axis.

    Irregular series get their most common step, so that a gap is then reported (or filled)
    against it.
    """
    if len(ticks) < 2:
        return 1 if unit is None else "D"
    head = ticks[:_INFER_ROWS]
    if unit is None:
        return int(np.min(np.diff(head)))
    if (freq := _pandas_freq(head, unit)) is not None:
        return freq
    # A gap hides the frequency from pandas: ask again on pieces (long enough to show a
    # weekend of business days) and take the most common answer.
    size = max(12, len(head) // 8)
    votes = [f for i in range(0, len(head), size) if (f := _pandas_freq(head[i:i + size], unit))]
    if votes:
        return max(set(votes), key=votes.count)
    steps, counts = np.unique(np.diff(head), return_counts=True)
    step = pd.Timedelta(int(steps[np.argmax(counts)]), unit=unit)
    return pd.tseries.frequencies.to_offset(step).freqstr


def fixed_step(freq: str | int, unit: str | None = "ns") -> int | None:
    """The step in ticks of `unit` when it never varies (integer axis, days and finer), else
    None (months, business days, weeks anchored to a weekday ...)."""
    if unit is None or isinstance(freq, (int, np.integer)):
        return int(freq)
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick):
        return int(pd.Timedelta(offset).value) // _NS[unit]
    if type(offset) is pd.offsets.Day:  # a Tick before pandas 3; 24 h on a naive axis
        return offset.n * _NS_PER_DAY // _NS[unit]
    return None


def next_ticks(ticks: np.ndarray, freq: str | int, unit: str | None) -> np.ndarray:
    """The tick one step after each of `ticks` [N]."""
    step = fixed_step(freq, unit)
    if step is not None:
        return ticks + step
    with warnings.catch_warnings():  # a few calendar offsets warn that they are not vectorised
        warnings.simplefilter("ignore")
        return (to_index(ticks, unit) + pd.tseries.frequencies.to_offset(freq)).asi8


def regular_steps(ticks: np.ndarray, freq: str | int, unit: str | None) -> np.ndarray:
    """[N - 1] whether each row lies exactly one `freq` after the row before it (computed in
    blocks, so that millions of rows need no full-size int64 temporaries)."""
    regular = np.empty(max(len(ticks) - 1, 0), dtype=bool)
    for lo in range(0, len(regular), _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, len(regular))
        regular[lo:hi] = ticks[lo + 1:hi + 1] == next_ticks(ticks[lo:hi], freq, unit)
    return regular


def series_time(first, length: int, freq: str | int) -> pd.Index:
    """The `length` timestamps of a regular series starting at `first` (in its unit)."""
    if not isinstance(first, pd.Timestamp):
        return pd.Index(int(first) + int(freq) * np.arange(length, dtype=np.int64))
    step = fixed_step(freq, first.unit)
    if step is not None:
        tick = timestamp_tick(first, first.unit)
        return to_index(tick + step * np.arange(length, dtype=np.int64), first.unit)
    # `first` may lie off the offset (a month end series starting mid-month): keep it as is.
    offset = pd.tseries.frequencies.to_offset(freq)
    rest = pd.date_range(first + offset, periods=length - 1, freq=freq) if length > 1 else []
    return pd.DatetimeIndex([first]).append(pd.DatetimeIndex(rest)).as_unit(first.unit)


def offset_grid(first: np.ndarray, freq: str, unit: str, lengths: np.ndarray | None = None,
                last: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """One grid for series of a calendar frequency (months, business days ...) starting at
    ticks `first` [S], instead of a date range each: the offset's dates [G] as ticks, from the
    earliest series' second step on, through each series' `lengths` steps or its `last`
    tick, and the position there of each series' second step [S] (a first step may lie off
    the offset, see `series_time`). None where the series' steps lie on different grids
    (every other month, from odd and even months)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    with warnings.catch_warnings():  # a few calendar offsets warn that they are not vectorised
        warnings.simplefilter("ignore")
        second = to_index(first, unit) + offset
    end = second.max() if last is None else max(to_index(last, unit).max(), second.max())
    grid = pd.date_range(second.min(), end, freq=freq)
    if lengths is not None:  # long enough for the longest reach
        reach = int(np.max(np.searchsorted(grid.asi8, second.asi8) + lengths - 1))
        if reach > len(grid):
            grid = pd.date_range(second.min(), periods=reach, freq=freq)
    ticks, seconds = as_ticks(grid.as_unit(unit))[0], as_ticks(second.as_unit(unit))[0]
    at = np.searchsorted(ticks, seconds)
    on_grid = ticks[np.minimum(at, len(ticks) - 1)] == seconds
    return (ticks, at) if on_grid.all() else None


def grid_positions(ticks: np.ndarray, bounds: np.ndarray, freq: str | int,
                   unit: str | None) -> np.ndarray:
    """Position of every row on its series' regular grid [N] (the first row is 0), or -1 for a
    row that lies off the grid."""
    step, lengths = fixed_step(freq, unit), np.diff(bounds)
    if step is not None:
        offset = ticks - np.repeat(ticks[bounds[:-1]], lengths)
        return np.where(offset % step == 0, offset // step, -1)
    first, last = ticks[bounds[:-1]], ticks[bounds[1:] - 1]
    shared = offset_grid(first, freq, unit, last=last)
    if shared is None:
        return _positions_each(ticks, bounds, freq, unit)
    grid, second = shared
    at = np.searchsorted(grid, ticks)
    on_grid = grid[np.minimum(at, len(grid) - 1)] == ticks
    positions = np.where(on_grid, at - np.repeat(second, lengths) + 1, -1)
    positions[bounds[:-1]] = 0
    return np.maximum(positions, -1)


def _positions_each(ticks: np.ndarray, bounds: np.ndarray, freq: str,
                    unit: str) -> np.ndarray:
    """`grid_positions` with a date range per series (series on different grids)."""
    positions = np.empty(len(ticks), dtype=np.int64)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = ticks[lo:hi]
        first, last = to_index(part[[0, -1]], unit)
        offset = pd.tseries.frequencies.to_offset(freq)
        length = 1 + len(pd.date_range(first + offset, last, freq=freq)) if last > first else 1
        grid, _ = as_ticks(series_time(first, length, freq))
        at = np.minimum(np.searchsorted(grid, part), len(grid) - 1)
        positions[lo:hi] = np.where(grid[at] == part, at, -1)
    return positions


def _pandas_freq(ticks: np.ndarray, unit: str) -> str | None:
    """pandas' name for the step of a regular run of datetimes, or None."""
    if len(ticks) < 3:
        return None
    with warnings.catch_warnings():  # pandas 3.1 warns that infer_freq will return an offset
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(to_index(ticks, unit))
    return freq if freq is None or isinstance(freq, str) else freq.freqstr
