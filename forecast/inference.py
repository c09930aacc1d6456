"""What `Forecaster.predict` reads and writes: a history (and the future values of known-future
columns) checked like the training frame, and the forecast in the input's form."""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecast.data.frame import (
    BEYOND_FLOAT32,
    build_panel,
    check_real,
    flat_frame,
    numbers_held_otherwise,
)
from forecast.data.panel import Panel
from forecast.data.static import StaticEncoder
from forecast.data.timeaxis import fixed_step, localized, naive, parse_times
from forecast.errors import DataError


@dataclass
class Schema:
    """How the training frame looked: everything needed to read a new frame like it.

    Attributes:
        columns: C channel names: targets, past features, then known-future features.
        n_targets, n_future: how many leading / trailing channels are targets / known-future.
        freq: pandas offset alias, or the integer step of an integer time axis.
        series_ids: the training series, in the order of the fitted scaler's rows.
        lookback, horizon: window shape.
        calendar: whether calendar features are known-future inputs.
        time_name: the time column (or index) name; id_col: the id column of a long frame.
        fill, sort: the cleaning options of training, applied to new histories too.
        static_features: columns with one value per series; `static` the state of their
            fitted `StaticEncoder` (None without them).
        id_dtype: the dtype of the id column; forecasts give integer (or float) ids back as
            such, others as text.
        tz: the timezone of the training times (see `Panel.tz`): new times are read in it and
            forecasts written in it; None for naive times.
    """

    columns: list[str]
    n_targets: int
    n_future: int
    freq: str | int
    series_ids: list[str]
    lookback: int
    horizon: int
    calendar: bool
    time_name: str
    id_col: str | None = None
    fill: str | None = None
    sort: bool = False
    static_features: list[str] = field(default_factory=list)
    static: dict | None = None
    id_dtype: str | None = None
    tz: str | None = None

    @property
    def targets(self) -> list[str]:
        return self.columns[:self.n_targets]

    @property
    def future_features(self) -> list[str]:
        return self.columns[len(self.columns) - self.n_future:]

    def encode_static(self, table: pd.DataFrame | None) -> np.ndarray | None:
        """[S, F] encoding of the static features `table` (one row per series), or None."""
        if table is None:
            return None
        return StaticEncoder.from_state_dict(self.static).transform(table)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> Schema:
        return cls(**state)


@dataclass
class History:
    """The last `lookback` rows of each series of a predict input.

    Attributes:
        values: [S, L, C] float32 channels in the schema's order.
        ends: [S] timestamp (or integer step) of each series' last row.
        ids: S series ids.
        static: the static features of each series, S rows (None without them).
    """

    values: np.ndarray
    ends: pd.Index
    ids: list[str]
    static: pd.DataFrame | None = None

    def take(self, which: np.ndarray) -> History:
        """The series (or backtest windows) `which` [K]."""
        static = None if self.static is None else self.static.iloc[which]
        return History(self.values[which], self.ends[which], [self.ids[i] for i in which],
                       static)


# -- reading a history ---------------------------------------------------------------------------
def read_history(frame: pd.DataFrame, schema: Schema, notes: bool = True) -> History:
    """Validate `frame` as the training frame was validated, and take each series' tail
    (`notes`: with the warnings about its rows, which `predict` gives and `future_frame`, read
    before it, leaves to it).

    Raises DataError for a frame of the other form (wide vs long), missing columns, too few rows
    per series, a different frequency, and everything `build_panel` rejects in training.
    """
    try:
        panel = read_panel(frame, schema, notes=notes)
    except DataError as error:  # perhaps in rows before those the forecast reads
        rows = _rows_read(frame, schema)
        if rows is frame:
            raise
        try:
            panel = read_panel(rows, schema, notes=notes)
        except DataError:
            raise error from None  # it names the row of the frame given
    lookback, ends = schema.lookback, panel.bounds[1:]
    rows = ends[:, None] - lookback + np.arange(lookback)  # [S, L]
    return History(panel.values[rows], panel.time_at(ends - 1), list(panel.series_ids),
                   panel.static)


def _rows_read(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The last `lookback` rows of each series of a sorted history without a fill policy, read
    when the whole history was refused: a gap or a NaN before them, which the forecast does not
    read, is no reason to refuse it. Anything less plain (unsorted, text times, a fill that
    reads back) is `frame` itself."""
    if (schema.fill is not None or not isinstance(frame, pd.DataFrame)
            or len(frame) <= schema.lookback):
        return frame
    column = _time_col(frame, schema)
    times = pd.Index(frame[column] if column is not None else frame.index)
    if isinstance(times, pd.DatetimeIndex):
        ticks = times.asi8
    elif pd.api.types.is_integer_dtype(times.dtype):
        ticks = times.to_numpy(dtype=np.int64)
    else:
        return frame
    if schema.id_col is None:
        return frame.iloc[-schema.lookback:] if (np.diff(ticks) > 0).all() else frame
    if schema.id_col not in frame.columns or frame[schema.id_col].isna().any():
        return frame
    ids = frame[schema.id_col].to_numpy()
    steps = pd.Series(ticks).groupby(ids, sort=False).diff().to_numpy()  # NaN at each start
    if (steps <= 0).any():
        return frame
    return frame.groupby(ids, sort=False).tail(schema.lookback)


def read_panel(frame: pd.DataFrame, schema: Schema, caller: str = "predict",
               lookback_rows: bool = True, notes: bool = True) -> Panel:
    """`frame` validated as `read_history` validates it, every row kept; messages start with
    `caller`. Without `lookback_rows` a series may be shorter than the lookback (a caller that
    needs more rows says how many); without `notes`, no warning about its filled end (a caller
    that reads it again)."""
    _check_form(frame, schema, caller)
    frame = _in_model_timezone(frame, schema, caller)
    n_past = len(schema.columns) - schema.n_future
    try:
        panel = build_panel(frame, target=schema.targets,
                            features=schema.columns[schema.n_targets:n_past],
                            time_col=_time_col(frame, schema), id_col=schema.id_col,
                            fill=schema.fill, sort=schema.sort,
                            future_features=schema.future_features,
                            static_features=schema.static_features, freq=schema.freq,
                            forecast_from_end=caller if notes else None)
    except DataError as error:  # the cleaning options are the fit's: set them there
        raise DataError(re.sub(r"\bset (data\.(fill|sort)=)", r"refit with \1", str(error))
                        ) from None
    if panel.tz is not None and schema.tz is None:  # text times with offsets
        _refuse_timezone(panel.tz, schema, caller, _time_col(frame, schema))
    if panel.tz is None and schema.tz is not None and isinstance(panel.freq, str):
        _refuse_naive(schema, caller, _time_col(frame, schema))
    ids, freq, lookback = list(panel.series_ids), panel.freq, schema.lookback
    counts = panel.lengths
    short = np.flatnonzero(counts < lookback) if lookback_rows else []
    if len(short) and schema.id_col is None:
        raise DataError(f"{caller}: the history has {counts[0]} rows, fewer than "
                        f"lookback={lookback}; pass at least {lookback} rows.")
    if len(short):
        too_short = {ids[s]: int(counts[s]) for s in short[:5]}
        raise DataError(f"{caller}: series with fewer than lookback={lookback} rows (id: rows) "
                        f"{too_short}; pass at least {lookback} rows of history per series.")
    if not same_freq(freq, schema.freq):
        if isinstance(freq, (int, np.integer)) and not isinstance(schema.freq, (int, np.integer)):
            raise DataError(f"{caller}: the history has no time column '{schema.time_name}' (the "
                            "model was trained on timestamps); pass it as a column or as a "
                            "DatetimeIndex.")
        if isinstance(schema.freq, (int, np.integer)) and not isinstance(freq, (int, np.integer)):
            raise DataError(f"{caller}: the history's times are timestamps (frequency {freq}), "
                            f"but the model was trained on {_freq_text(schema.freq)}; pass "
                            f"'{schema.time_name}' as those integer steps.")
        raise DataError(f"{caller}: the history's frequency is {_freq_text(freq)}, but the "
                        f"model was trained on {_freq_text(schema.freq)}; resample it to "
                        f"{_freq_text(schema.freq)}.")
    return panel


def rows_through(frame: pd.DataFrame, schema: Schema, cutoff, min_rows: int = 0) -> pd.DataFrame:
    """The rows of `frame` at or before the time `cutoff` (as the model holds times): what a
    model refitted at that cutoff may see; of a long frame, only the series with `min_rows`
    such rows (fewer cannot train)."""
    raw = frame[schema.time_name] if schema.time_name in frame.columns else frame.index
    times = _parse_times(pd.Series(raw), schema, "backtest")
    if times is None:
        raise DataError(f"backtest: the times of '{schema.time_name}' cannot be compared with "
                        "the cutoffs; pass timestamps or integer steps.")
    seen = pd.Series(times.to_numpy() <= cutoff, index=frame.index)
    if schema.id_col is not None and min_rows:
        seen &= seen.groupby(frame[schema.id_col].to_numpy()).transform("sum") >= min_rows
    return frame[seen.to_numpy()]


def _check_form(frame, schema: Schema, caller: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        fix = " (series.to_frame() for a Series)" if isinstance(frame, pd.Series) else ""
        raise DataError(f"{caller}: expected a pandas DataFrame, got {type(frame).__name__}; pass "
                        f"a frame like the training one (columns {schema.columns}){fix}.")
    if schema.id_col is None and "unique_id" in frame.columns:
        raise DataError(f"{caller}: the model was trained on a wide frame (one column per series), "
                        "but this frame has the id column 'unique_id'; pass the wide form, or "
                        "drop the column.")
    if schema.id_col is not None and schema.id_col not in frame.columns:
        raise DataError(f"{caller}: the model was trained on a long frame; the history needs its "
                        f"series id column '{schema.id_col}'.")
    needed = schema.columns + schema.static_features
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"{caller}: the history misses column(s) {missing} the model was "
                        f"trained on; pass a frame with columns {needed}.")


def _time_col(frame: pd.DataFrame, schema: Schema) -> str | None:
    return schema.time_name if schema.time_name in frame.columns else None


def _in_model_timezone(frame: pd.DataFrame, schema: Schema, caller: str) -> pd.DataFrame:
    """`frame` with timezone-aware times in the training data's timezone: the same instants,
    on the clock (local midnights of daily steps) the model was trained on."""
    column = _time_col(frame, schema)
    times = frame[column] if column is not None else frame.index
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        if schema.tz is not None and pd.api.types.is_datetime64_dtype(times.dtype):
            _refuse_naive(schema, caller, column)  # before their clock changes read as gaps
        return frame
    if schema.tz is None:
        _refuse_timezone(times.dtype.tz, schema, caller, column)
    if column is None:
        return frame.set_axis(frame.index.tz_convert(schema.tz))
    return frame.assign(**{column: times.dt.tz_convert(schema.tz)})


def _refuse_timezone(tz, schema: Schema, caller: str, column: str | None) -> None:
    """A model of naive times takes no times with a timezone: read as UTC, they would shift
    the forecast by the offset."""
    where, dt = (f"frame['{column}']", ".dt") if column is not None else ("frame.index", "")
    raise DataError(f"{caller}: the times are in the timezone {tz}, and the model was trained "
                    "on naive times; pass naive times on the clock of the training data, e.g. "
                    f"{where} = pd.to_datetime({where}, utc=True){dt}.tz_convert(ZONE)"
                    f"{dt}.tz_localize(None) with that data's ZONE.")


def _refuse_naive(schema: Schema, caller: str, column: str | None) -> None:
    """A model of timezone-aware times takes no naive ones: which clock they show is unknown."""
    where, dt = (f"frame['{column}']", ".dt") if column is not None else ("frame.index", "")
    raise DataError(f"{caller}: the times have no timezone, and the model was trained on times "
                    f"in {schema.tz}; pass them with theirs, e.g. {where} = pd.to_datetime("
                    f"{where}){dt}.tz_localize('{schema.tz}') for that clock (the MLflow model "
                    "takes naive times: UTC below a day's step, the local clock from a day up).")


def _parse_times(raw: pd.Series, schema: Schema, caller: str = "predict") -> pd.Index | None:
    """Integer steps or timestamps (naive, as `build_panel` reads those of the model, in its
    timezone) of a whole column; None when not that simple."""
    if pd.api.types.is_integer_dtype(raw.dtype):
        return pd.Index(raw.to_numpy(dtype=np.int64))
    try:
        with warnings.catch_warnings():  # "could not infer format": text that is no timestamp
            warnings.simplefilter("ignore", UserWarning)
            parsed = parse_times(raw, schema.freq)
    except (ValueError, TypeError):
        return None
    if parsed.tz is not None and schema.tz is None:
        _refuse_timezone(parsed.tz, schema, caller, raw.name)
    if parsed.tz is None and schema.tz is not None:
        _refuse_naive(schema, caller, raw.name)
    if parsed.tz is not None:
        parsed = parsed.tz_convert(schema.tz)
    return None if parsed.hasnans else naive(parsed, schema.freq)


def _freq_text(freq: str | int) -> str:
    """A frequency in words: a pandas alias, or "integer steps of 10"."""
    return f"integer steps of {freq}" if isinstance(freq, (int, np.integer)) else str(freq)


def same_freq(a: str | int, b: str | int) -> bool:
    if isinstance(a, (int, np.integer)) or isinstance(b, (int, np.integer)):
        return a == b
    return to_offset(a) == to_offset(b)


# -- time grids ----------------------------------------------------------------------------------
def forecast_grid(ends: pd.Index, freq: str | int, lookback: int, horizon: int) -> np.ndarray:
    """[S, L + H] times of each series' window: its last `lookback` rows, then the horizon,
    in the unit of `ends` (pandas 3 reads timestamps as microseconds)."""
    ends = np.asarray(ends)
    unit = np.datetime_data(ends.dtype)[0] if ends.dtype.kind == "M" else None
    step = fixed_step(freq, unit)
    if step is not None:
        offsets = np.arange(1 - lookback, horizon + 1) * step
        grid = ends[:, None] + (offsets.astype(f"m8[{unit}]") if unit else offsets)
    else:  # months, weekdays ...: a calendar per distinct end (usually one for all series)
        unique, inverse = np.unique(ends, return_inverse=True)
        grid = np.stack([_calendar_grid(end, freq, lookback, horizon) for end in unique])[inverse]
    return grid.astype(ends.dtype) if grid.dtype.kind == "M" else grid


def _calendar_grid(end, freq: str, lookback: int, horizon: int) -> np.ndarray:
    first = pd.date_range(end=end, periods=lookback, freq=freq)[0]
    return pd.date_range(first, periods=lookback + horizon, freq=freq).to_numpy()


def as_index(times: np.ndarray, name: str | None = None) -> pd.Index:
    """Flat pandas index (DatetimeIndex for timestamps) of a time array."""
    flat = np.asarray(times).ravel()
    index = pd.DatetimeIndex(flat) if flat.dtype.kind == "M" else pd.Index(flat.astype(np.int64))
    return index.rename(name)


def output_times(times: np.ndarray, schema: Schema) -> pd.Index:
    """`as_index` of times in the training frame's timezone (if it had one)."""
    return localized(as_index(times, schema.time_name), schema.tz, schema.freq)


def _with_freq(index: pd.Index, freq) -> pd.Index:
    """A DatetimeIndex carrying the model's frequency (as `pd.date_range` gives), so that
    `asfreq`, `shift` and Darts' `TimeSeries.from_dataframe` read it; else `index` as it is."""
    if isinstance(index, pd.DatetimeIndex) and isinstance(freq, str):
        try:
            return pd.DatetimeIndex(index, freq=freq)
        except ValueError:  # times that do not follow it on this clock (days across DST)
            return index
    return index


# -- future values of known-future columns ---------------------------------------------------
def read_future(future, schema: Schema, times: np.ndarray, ids: list[str]) -> np.ndarray | None:
    """[S, N, F] values of the known-future columns at the forecast times `times` [S, N] (N:
    the horizon, or more where `predict(n=)` forecasts past it)."""
    names, steps = schema.future_features, times.shape[1]
    if not names:
        if future is not None:
            raise DataError("predict: `future` was given, but the model was trained without "
                            "future_features; drop the argument or refit with future_features.")
        return None
    where = f"columns [{schema.id_col + ', ' if schema.id_col else ''}{schema.time_name}, " \
            f"{', '.join(names)}]"
    if not isinstance(future, pd.DataFrame):
        raise DataError(f"predict: the model uses future_features {names}; pass future=, a "
                        f"DataFrame with {where} holding the next {steps} steps of "
                        "each series.")
    if schema.time_name not in future.columns and future.index.name == schema.time_name:
        future = future.reset_index()
    future = flat_frame(future, schema.id_col, schema.time_name)  # indexed by (id, time)
    keys = [schema.time_name] if schema.id_col is None else [schema.id_col, schema.time_name]
    missing = [c for c in keys + names if c not in future.columns]
    if missing:
        raise DataError(f"predict: `future` misses column(s) {missing}; it needs {where}.")
    given = _future_index(future, schema)
    expected = _expected_index(times, ids, schema)
    read = given.isin(expected)  # rows past them (a calendar, other series) are not read
    doubled = given[given.duplicated() & read]
    if len(doubled):
        raise DataError(f"predict: `future` has a duplicate row for "
                        f"{_row_text(doubled[0], schema)}; give one row per series and "
                        "timestamp.")
    absent = expected.difference(given, sort=False)
    if len(absent):
        raise DataError(f"predict: `future` has no row for {_row_text(absent[0], schema)}; it "
                        f"must hold the next {steps} timestamps after the end of the history"
                        f"{_span(times, ids, schema, absent[0])} (it may hold other rows too).")
    block = future.loc[read, names].set_axis(given[read], axis=0).reindex(expected)
    return _finite_values(block, schema).reshape(len(ids), steps, len(names))


def _future_index(future: pd.DataFrame, schema: Schema) -> pd.Index:
    raw = future[schema.time_name]
    time = _parse_times(raw, schema)
    if time is None:
        raise DataError(f"predict: `future` column '{schema.time_name}' holds values that are not "
                        "timestamps (or integer steps); fix them.")
    if schema.id_col is None:
        return time
    return pd.MultiIndex.from_arrays([future[schema.id_col].astype(str).to_numpy(), time])


def _expected_index(times: np.ndarray, ids: list[str], schema: Schema) -> pd.Index:
    flat = as_index(times)
    if schema.id_col is None:
        return flat
    return pd.MultiIndex.from_arrays([np.repeat(np.asarray(ids, dtype=object), times.shape[1]),
                                      flat])


def _span(times: np.ndarray, ids: list[str], schema: Schema, row) -> str:
    """The times `future` must hold for the series of its missing row `row` (a key of
    `_expected_index`), as the user's data shows them."""
    s = 0 if schema.id_col is None else ids.index(row[0])
    span = output_times(times[s, [0, -1]], schema)
    which = "" if schema.id_col is None else f" of each series (for '{ids[s]}'"
    return f"{which}: {span[0]} .. {span[-1]}{')' if which else ''}"


def _row_text(row, schema: Schema) -> str:
    """A row key of `future` (a time, or an (id, time) pair), with the time as the user's data
    shows it (in its timezone, with its offset), not as the model holds it."""
    series, time = (None, row) if schema.id_col is None else row
    shown = localized(pd.Index([time]), schema.tz, schema.freq)[0]
    return str(shown) if series is None else f"series '{series}' at {shown}"


def _finite_values(block: pd.DataFrame, schema: Schema) -> np.ndarray:
    """[N, F] float32 of the known-future columns (numbers held as objects read as numbers, as
    in the history), refusing text, NaN and inf."""
    for name, dtype in block.dtypes.items():
        check_real(block[name], name, "predict: `future`")
        if not pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numbers = numbers_held_otherwise(block[name])
            if numbers is None:
                raise DataError(f"predict: `future` column '{name}' is not numeric; convert "
                                "it.")
            block = block.assign(**{name: numbers})
    with np.errstate(over="ignore"):  # a value beyond float32: inf, refused below
        values = block.to_numpy(dtype=np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        given = block.iat[row, col]
        if pd.notna(given) and np.isfinite(float(given)):
            raise DataError(f"predict: `future` column '{block.columns[col]}' holds {given:.4g} "
                            f"at {_row_text(block.index[row], schema)}, {BEYOND_FLOAT32}")
        raise DataError(f"predict: `future` column '{block.columns[col]}' has a missing or "
                        f"infinite value at {_row_text(block.index[row], schema)}; future "
                        "values must be known.")
    return values


# -- writing frames ------------------------------------------------------------------------------
def forecast_frame(values: np.ndarray, times: np.ndarray, ids: list[str], schema: Schema,
                   names: list[str] | None = None) -> pd.DataFrame:
    """The forecast [S, H, N] at `times` [S, H] in the training frame's form, its N columns
    named `names` (default the targets), as float64 (pandas' own numbers).

    Wide: indexed by the future timestamps, one column per name. Long: columns
    `[id, time, *names]`, `horizon` rows per series in the order of `ids`.
    """
    names = schema.targets if names is None else names
    if schema.id_col is None:
        return pd.DataFrame(values[0].astype(np.float64), index=_with_freq(
            output_times(times[0], schema), schema.freq), columns=names)
    return _stacked_frame(values, times, ids, names, schema)


def series_frame(values: np.ndarray, times: np.ndarray, ids: list[str], schema: Schema,
                 static: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows [S, L, C] of every channel at their times [S, L], as columns, and each series'
    static features (`static`, S rows) on each of its rows: a `predict` input."""
    frame = _stacked_frame(values, times, ids, schema.columns, schema)
    for name in [] if static is None else static.columns:
        frame[name] = static[name].to_numpy().repeat(values.shape[1])
    return frame


def _stacked_frame(values, times, ids, names, schema: Schema) -> pd.DataFrame:
    """[S, N, len(names)] values -> S * N rows: (id,) time, *names."""
    columns = {schema.time_name: output_times(times, schema)}
    if schema.id_col is not None:
        rows = np.repeat(np.arange(len(ids)), values.shape[1])
        columns = {schema.id_col: id_values(ids, schema).take(rows), **columns}
    columns.update({name: values[..., i].ravel().astype(np.float64)
                    for i, name in enumerate(names)})
    return pd.DataFrame(columns)


def id_values(ids: list[str], schema: Schema) -> pd.api.extensions.ExtensionArray:
    """The series ids in the training frame's type where it is a number (1, not "1"), so that
    a forecast merges with the frame it came from; text otherwise."""
    text = pd.array(ids, dtype="str")
    dtype = pd.api.types.pandas_dtype(schema.id_dtype) if schema.id_dtype else None
    if dtype is None or dtype.kind not in "iuf":
        return text
    return pd.array(text.astype(dtype), dtype=dtype)
