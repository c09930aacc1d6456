"""Validate a wide or long DataFrame into a `Panel`: float32 values [T, C] plus timestamps.

Wide form: a time column (or DatetimeIndex) and one column per channel; this is one
(possibly multivariate) series. Long form: `id`, time and value columns, as Nixtla's
`unique_id/ds/y`; each id becomes one series and the series are stacked along time.
Channels are ordered targets first, then past features, then known-future features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import DataError

TIME_COLUMNS = ("date", "ds", "timestamp", "time", "datetime")
FILL_POLICIES = ("ffill", "interpolate", "zero")


@dataclass(frozen=True)
class Panel:
    """Validated series, stacked along time.

    Attributes:
        values: [T, C] float32, channels ordered targets first.
        time: [T] timestamps (DatetimeIndex) or integer steps.
        bounds: [S + 1] first row of each series, then T.
        series_ids: one id per series.
        columns: C channel names.
        n_targets: how many leading channels are forecast targets.
        freq: pandas offset alias, or the integer step of an integer time axis.
        time_name: name of the time column (or index) in the input frame.
        id_col: the series id column of a long frame; None for a wide frame.
    """

    values: np.ndarray
    time: pd.Index
    bounds: np.ndarray
    series_ids: tuple[str, ...]
    columns: tuple[str, ...]
    n_targets: int
    freq: str | int
    time_name: str = "date"
    id_col: str | None = None

    @property
    def n_series(self) -> int:
        return len(self.series_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.bounds)


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with one clear error when it is missing or unreadable."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data.path: file '{path}' does not exist; check the path (relative "
                        "paths are resolved from the directory you run in).")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as err:  # pandas raises many types; all mean "not a table we can read"
        raise DataError(f"data.path: cannot read '{path}' as "
                        f"{'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'}: "
                        f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}. "
                        "Check that the file is a valid table.") from None


def build_panel(
    frame: pd.DataFrame,
    target: str | Sequence[str] | None = None,
    features: str | Sequence[str] | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    fill: str | None = None,
    sort: bool = False,
    future_features: Sequence[str] = (),
) -> Panel:
    """Validate `frame` and return its `Panel`.

    Args:
        frame: wide or long DataFrame.
        target: column(s) to forecast; None takes every numeric column (wide) or `y` (long).
        features: extra past-input columns; "all" takes every other numeric column.
        time_col: timestamp column; None uses a DatetimeIndex or a column named like a date.
        id_col: series id column; its presence makes the frame long form.
        fill: fill policy for NaN and gaps: "ffill", "interpolate", "zero" or None (error).
        sort: sort by time instead of rejecting unsorted rows.
        future_features: columns known in advance (a price plan ...); they come last and are
            never taken by `target=None` or `features="all"`.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"data: expected a pandas DataFrame or a file path, got {type(frame).__name__}.")
    if frame.empty or len(frame.columns) == 0:
        raise DataError("data: the DataFrame is empty (no rows or no columns); pass a frame with "
                        "a time column and at least one numeric column.")
    if fill is not None and fill not in FILL_POLICIES:
        raise DataError(f"data.fill: unknown policy '{fill}'; use one of {FILL_POLICIES} or null.")
    if id_col is None and "unique_id" in frame.columns:
        id_col = "unique_id"
    if id_col is not None and id_col not in frame.columns:
        raise DataError(_unknown("data.id_col", [id_col], frame.columns))
    time_col = _find_time_column(frame, time_col)
    target, features = _select_columns(frame, target, features, time_col, id_col,
                                       list(future_features))

    if id_col is None:
        groups = [("series", frame)]
    else:
        groups = [(str(key), part) for key, part in frame.groupby(id_col, sort=False)]
    parts, times, freqs = [], [], set()
    for sid, part in groups:
        time, values, freq = _validate_series(part, sid, time_col, target + features, fill, sort)
        parts.append(values)
        times.append(time)
        freqs.add(freq)
    if len(freqs) > 1:
        raise DataError(f"data: the series have different frequencies {sorted(map(str, freqs))}; "
                        "resample them to one frequency first.")
    lengths = [len(p) for p in parts]
    return Panel(
        values=np.ascontiguousarray(np.concatenate(parts), dtype=np.float32),
        time=times[0].append(times[1:]) if len(times) > 1 else times[0],
        bounds=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        series_ids=tuple(sid for sid, _ in groups),
        columns=tuple(target + features),
        n_targets=len(target),
        freq=freqs.pop(),
        time_name=str(time_col or frame.index.name or (
            "date" if isinstance(times[0], pd.DatetimeIndex) else "step")),
        id_col=id_col,
    )


def _unknown(key: str, names: Sequence[str], columns) -> str:
    available = ", ".join(map(str, columns))
    return f"{key}: unknown column(s) {list(names)}; the data has columns [{available}]."


def _find_time_column(frame: pd.DataFrame, time_col: str | None) -> str | None:
    """Name of the time column, or None when the index holds the time."""
    if time_col is not None:
        if time_col not in frame.columns:
            if frame.index.name == time_col:
                return None
            raise DataError(_unknown("data.time_col", [time_col], frame.columns))
        return time_col
    if isinstance(frame.index, pd.DatetimeIndex):
        return None
    for name in frame.columns:
        if str(name).lower() in TIME_COLUMNS:
            return name
    return None  # integer index as time


def _select_columns(frame, target, features, time_col, id_col, future) -> tuple[list, list]:
    reserved = {time_col, id_col, *future}
    candidates = [c for c in frame.columns if c not in reserved]
    if target is None:
        target = ["y"] if id_col is not None and "y" in frame.columns else candidates
        if not target:
            raise DataError("data.target: no numeric column to forecast; name one with data.target.")
    target = [target] if isinstance(target, str) else list(target)
    if features is None:
        features = []
    elif isinstance(features, str):
        features = [c for c in candidates if c not in target] if features == "all" else [features]
    features = [f for f in features if f not in target and f not in future] + future
    missing = [c for c in target + features if c not in frame.columns]
    if missing:
        raise DataError(_unknown("data.target/data.features", missing, frame.columns))
    return target, features


def _validate_series(part, sid, time_col, columns, fill, sort):
    """Checks one series; returns (time index, float64 values [T, C], frequency)."""
    where = "" if sid == "series" else f" (series '{sid}')"
    time = _parse_time(part, time_col, where)
    part = part.set_axis(time, axis=0)[columns]
    duplicated = time.duplicated()
    if duplicated.any():
        row = int(np.argmax(duplicated))
        raise DataError(f"data{where}: duplicate timestamp {time[row]} at row {row}; "
                        "aggregate duplicates first (e.g. df.groupby(time).mean()).")
    if not time.is_monotonic_increasing:
        if not sort:
            row = int(np.argmax(np.asarray(time[1:] < time[:-1]))) + 1
            raise DataError(f"data{where}: timestamps are not sorted (row {row}: {time[row]} comes "
                            f"after {time[row - 1]}); sort the frame or set data.sort=true.")
        part = part.sort_index()
        time = part.index
    freq = _infer_freq(time, where)
    if fill is not None:
        part = part.reindex(_regular_range(time, freq))
    elif freq is not None and len(time) > 1 and len(_regular_range(time, freq)) != len(time):
        row = _first_gap(time, freq)
        raise DataError(f"data{where}: irregular time steps: expected one step of {freq}, but row "
                        f"{row} ({time[row]}) follows {time[row - 1]}. Resample to a regular "
                        "grid, or set data.fill=interpolate (or ffill) to fill the gaps.")
    values = _numeric(part, where)
    values = _check_finite(values, part, where, fill)
    return part.index, values, freq


def _parse_time(part, time_col, where) -> pd.Index:
    raw = part.index if time_col is None else part[time_col]
    if pd.api.types.is_integer_dtype(raw.dtype) and not isinstance(raw, pd.DatetimeIndex):
        return pd.Index(np.asarray(raw, dtype=np.int64))
    if isinstance(raw, pd.DatetimeIndex):
        return raw.tz_localize(None) if raw.tz is not None else raw
    try:
        parsed = pd.to_datetime(raw)
    except (ValueError, TypeError):
        parsed = pd.to_datetime(raw, errors="coerce")
        row = int(np.argmax(pd.isna(parsed).to_numpy()))
        raise DataError(f"data{where}: column '{time_col}' row {row} value {raw.iloc[row]!r} is "
                        "not a timestamp; fix it or set data.time_col to the right column.") from None
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy()))
        raise DataError(f"data{where}: column '{time_col}' row {row} has no timestamp; "
                        "drop or fix that row.")
    index = pd.DatetimeIndex(parsed)
    return index.tz_localize(None) if index.tz is not None else index


def _infer_freq(time: pd.Index, where: str) -> str | int:
    if len(time) < 2:
        return 1 if not isinstance(time, pd.DatetimeIndex) else "D"
    if not isinstance(time, pd.DatetimeIndex):
        return int(np.min(np.diff(time.to_numpy())))
    if len(time) >= 3 and (freq := pd.infer_freq(time)) is not None:
        return freq
    # The most common step; a gap is then reported (or filled) against it.
    steps = pd.Series(time[1:] - time[:-1])
    return pd.tseries.frequencies.to_offset(steps.mode()[0]).freqstr


def _regular_range(time: pd.Index, freq: str | int) -> pd.Index:
    if isinstance(time, pd.DatetimeIndex):
        return pd.date_range(time[0], time[-1], freq=freq)
    return pd.Index(np.arange(time[0], time[-1] + 1, freq, dtype=np.int64))


def _first_gap(time: pd.Index, freq) -> int:
    expected = _regular_range(time, freq)
    mismatch = np.asarray(time[: len(expected)] != expected[: len(time)])
    return int(np.argmax(mismatch)) if mismatch.any() else min(len(time), len(expected)) - 1


def _numeric(part: pd.DataFrame, where: str) -> np.ndarray:
    for name in part.columns:
        column = part[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            coerced = pd.to_numeric(column, errors="coerce")
            bad = coerced.isna() & column.notna()
            row = int(np.argmax(bad.to_numpy())) if bad.any() else 0
            raise DataError(f"data{where}: column '{name}' is not numeric (row {row}: "
                            f"{column.iloc[row]!r}); convert it to numbers, or choose the columns to use "
                            "with data.target/data.features.")
    return part.to_numpy(dtype=np.float64, copy=True)


def _check_finite(values: np.ndarray, part: pd.DataFrame, where: str, fill: str | None):
    finite = np.isfinite(values)
    if finite.all():
        return values
    if fill is None:
        row, col = np.argwhere(~finite)[0]
        raise DataError(f"data{where}: column '{part.columns[col]}' has {int((~finite).sum())} "
                        f"missing or infinite value(s), the first at row {row} ({part.index[row]}); "
                        "clean them or set data.fill=ffill (or interpolate, zero).")
    frame = pd.DataFrame(np.where(finite, values, np.nan))
    if fill == "zero":
        frame = frame.fillna(0.0)
    elif fill == "interpolate":
        frame = frame.interpolate(limit_direction="both")
    frame = frame.ffill().bfill()
    if frame.isna().any().any():
        col = int(np.argmax(frame.isna().any().to_numpy()))
        raise DataError(f"data{where}: column '{part.columns[col]}' has no value at all to fill from.")
    return frame.to_numpy()
