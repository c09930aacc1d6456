"""Validate a wide or long DataFrame into a `Panel`: float32 values [T, C] plus its time axis.

Wide form: a time column (or DatetimeIndex) and one column per channel; this is one
(possibly multivariate) series. Long form: `id`, time and value columns, as Nixtla's
`unique_id/ds/y`; each id becomes one series and the series are stacked along time.
Channels are ordered targets first, then past features, then known-future features.

Every check runs on the whole stacked frame at once (no loop over series, except to fill gaps
of month-like frequencies), so a long frame of thousands of series validates in about the
time pandas takes to read it. Each failure raises
one `DataError` naming the column, series and row (0-based position in the input frame).
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.checks import (
    RowNames,
    check_finite,
    check_frequencies,
    check_order,
    check_regular,
    row_order,
    within_series,
)
from forecast.data.fill import FILL_POLICIES, fill_missing, insert_missing_steps
from forecast.data.panel import Panel
from forecast.data.static import static_table
from forecast.data.timeaxis import (
    as_ticks,
    grid_positions,
    infer_freq,
    naive,
    on_utc_axis,
    parse_times,
    regular_steps,
    to_index,
    zone_name,
)
from forecast.errors import DataError

log = logging.getLogger(__name__)
BEYOND_FLOAT32 = (f"beyond float32's range (±{np.finfo(np.float32).max:.3g}) that the model "
                  "computes in; rescale the column (divide it by a power of ten) first.")
TIME_COLUMNS = ("date", "ds", "timestamp", "time", "datetime")


def data_file(path: str | Path) -> Path:
    """`path` as a Path, after checking that the file is there (one clear error if not)."""
    path = Path(path).expanduser()
    if not path.is_file():
        empty = (" FORECAST_DATA_DIR is set, but empty." if os.environ.get("FORECAST_DATA_DIR")
                 == "" else "")
        raise DataError(f"data.path: file '{path}' does not exist; check the path (relative "
                        "paths are resolved from the directory you run in; the presets read "
                        "theirs from paths.data_dir: set FORECAST_DATA_DIR=<folder of the data "
                        f"sets>, default ../shared/data).{empty}")
    return path


def read_frame(path: str | Path, **options) -> pd.DataFrame:
    """Read a CSV or Parquet file (`options`: keyword arguments of `pd.read_csv` or
    `pd.read_parquet`), with one clear error when it is missing or unreadable, or a CSV
    separated by ';' or a tab (which reads as one column) with what to do instead."""
    import re

    path = data_file(path)
    kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
    for key in ("sep", "delimiter"):  # `\t` as typed in YAML or on the command line: a tab
        if options.get(key) == "\\t":
            options[key] = "\t"

    def other_separator() -> DataError | None:
        """Excel's CSV (';', decimal commas) or a tab-separated file, by its header."""
        try:
            header = pd.read_csv(path, nrows=0).columns
            separator = next((sep for sep in (";", "\t") if len(header) == 1
                              and sep in str(header[0])), None)
            cells = ([] if separator is None else
                     pd.read_csv(path, sep=separator, nrows=20, dtype=str).to_numpy().ravel())
        except Exception:  # the table's own error is the one to show
            return None
        if separator is None:
            return None
        decimal = (", decimal=','" if any(re.fullmatch(r"[-+]?\d*,\d+", str(cell).strip())
                                          for cell in cells) else "")
        shown = "'\\t'" if separator == "\t" else f"'{separator}'"
        cli = f"sep: {shown}" + (", decimal: ','" if decimal else "")
        return DataError(f"data.path: '{path}' was read as one column {str(header[0])!r}; it "
                         f"looks separated by {shown} — add {cli} to data.read_options (alone: "
                         f"data.read_options=\"{{{cli}}}\"; in Python pd.read_csv(path, "
                         f"sep={shown}{decimal})), or save it comma-separated.")

    try:
        frame = pd.read_parquet(path, **options) if kind == "Parquet" else pd.read_csv(path,
                                                                                     **options)
    except Exception as err:  # pandas raises many types; all mean "not a table we can read"
        if options and isinstance(err, TypeError):
            raise DataError(f"data.read_options: {err}; give keyword arguments of "
                            f"pd.read_{kind.lower()}.") from None
        hint = other_separator() if kind == "CSV" and "sep" not in options else None
        if hint is not None:  # rows of decimal commas split unevenly at the commas
            raise hint from None
        first_line = str(err).splitlines()[0] if str(err) else ""
        raise DataError(f"data.path: cannot read '{path}' as {kind}: {type(err).__name__}: "
                        f"{first_line}. Check that the file is a valid table.") from None
    hint = (other_separator() if kind == "CSV" and len(frame.columns) == 1
            and "sep" not in options else None)
    if hint is not None:  # else the one column fails later as a time column without times
        raise hint
    if kind == "CSV" and not options:
        _check_header(path)
    return frame


def _check_header(path: Path) -> None:
    """pandas reads a header `load,load` as `load, load.1`: name the repeated column instead."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as file:
        header = next(csv.reader(file), [])
    repeated = sorted({name for name in header if name.strip() and header.count(name) > 1})
    if repeated:
        raise DataError(f"data.path: the header of '{path}' names the column(s) {repeated} more "
                        "than once; rename them so that each name is unique.")


def build_panel(
    frame: pd.DataFrame,
    target: str | Sequence[str] | None = None,
    features: str | Sequence[str] | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    fill: str | None = None,
    sort: bool = False,
    future_features: Sequence[str] = (),
    static_features: Sequence[str] = (),
    freq: str | int | None = None,
    forecast_from_end: str | None = None,
) -> Panel:
    """Validate `frame` and return its `Panel`.

    Args:
        frame: wide or long DataFrame.
        target: column(s) to forecast; None takes every numeric column (wide) or `y` (long).
        features: extra past-input columns; "all" takes every other column.
        time_col: timestamp column; None uses a DatetimeIndex or a column named like a date.
        id_col: series id column; its presence makes the frame long form.
        fill: fill policy for NaN, inf and gaps: "ffill", "interpolate", "zero" or None (error).
        sort: sort by time instead of rejecting unsorted rows.
        future_features: columns known in advance (a price plan ...); they come last and are
            never taken by `target=None` or `features="all"`.
        static_features: columns of a long frame that hold one value per series (a region, a
            capacity); kept as the panel's `static` table, not as channels.
        freq: the frequency where it is known (a model's history): taken when every step
            follows it (or every series has one row), else inferred from the data.
        forecast_from_end: the caller ("predict" ...) where the frame is a history to forecast
            from (or to backtest on): it warns where `fill` makes up a target's last rows
            (future rows with empty targets, say).
    """
    training = freq is None  # a forecast's history comes with the model's frequency
    _check_frame(frame, fill)
    frame = flat_frame(frame, id_col, time_col)
    if id_col is None and "unique_id" in frame.columns:
        id_col = "unique_id"
    if id_col is not None and id_col not in frame.columns:
        raise DataError(_unknown("data.id_col", [id_col], frame.columns))
    time_col = _find_time_column(frame, time_col, id_col)
    static_features = list(static_features)
    _check_static(frame, static_features, id_col)
    ticks, unit, tz, shown_in = _parse_time(frame, time_col, freq)
    named = _names(target) + _names(features) + list(future_features) + static_features
    with _unnamed_ids_named(frame, ticks, time_col, id_col, named):
        target, features = _select_columns(frame, target, features, time_col, id_col,
                                           list(future_features), static_features)
        frame = _as_numbers(frame, target + features)
        codes, series_ids = _series_codes(frame, id_col)
        order = row_order(codes, ticks, sort)  # None: the frame's row order is already right
        if order is not None:
            ticks = ticks[order]
        counts = np.array([len(ticks)]) if codes is None else np.bincount(codes)
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rows = RowNames(order, bounds, series_ids, ticks, unit, shown_in)
        check_order(ticks, bounds, rows)
    static = static_table(frame, static_features, rows) if static_features else None

    longest = int(np.argmax(counts))
    # A known frequency (a model's history) stands where every step follows it: a few rows
    # of business days or months may read as another frequency to pandas.
    steps = isinstance(freq, (int, np.integer))  # a frequency of integer steps, not times
    known = freq is not None and steps == (unit is None)
    regular = regular_steps(ticks, freq, unit) if known else None  # [N - 1]
    if regular is None or (counts[longest] > 1 and not regular[within_series(bounds)].all()):
        freq = infer_freq(ticks[bounds[longest]:bounds[longest + 1]], unit)
        regular = regular_steps(ticks, freq, unit)
    check_frequencies(regular, bounds, freq, rows, longest)
    columns = target + features
    values = _values(frame, columns, rows)
    if training:  # a history read for a forecast was judged as its training frame was
        _note_lost_precision(frame, columns, codes, series_ids)
    start = to_index(ticks[bounds[:-1]], unit)
    if fill is None:
        check_regular(regular, bounds, freq, rows)
        check_finite(values, columns, rows)
    else:
        if forecast_from_end:
            _note_filled_end(values[:, :len(target)], bounds, rows, target, fill,
                             forecast_from_end)
        values, bounds = _fill(values, ticks, bounds, freq, fill, rows, columns, unit)
    time_name = time_col or frame.index.name or ("step" if unit is None else "date")
    return Panel(values=values, bounds=bounds, start=start, series_ids=series_ids,
                 columns=tuple(columns), n_targets=len(target), freq=freq,
                 time_name=str(time_name), id_col=id_col, static=static,
                 id_dtype=None if id_col is None else _id_dtype(frame[id_col]), tz=tz)


def _unknown(key: str, names: Sequence[str], columns) -> str:
    available = ", ".join(map(str, columns))
    message = f"{key}: unknown column(s) {list(names)}; the data has columns [{available}]."
    by_folded = {str(c).casefold(): c for c in columns}
    for name in names:  # `Load` for `load`, `tmp` for `temp`
        close = difflib.get_close_matches(str(name).casefold(), list(by_folded), n=1)
        if close and str(by_folded[close[0]]) != str(name):
            message += f" Did you mean '{by_folded[close[0]]}' for '{name}'?"
    by_text = {str(c): c for c in columns}
    for name in names:  # 0 for the column '0' of a CSV, or the other way round
        if str(name) in by_text and type(by_text[str(name)]) is not type(name):
            column = by_text[str(name)]
            message += f" Pass {column!r}: the name is {type(column).__name__}, not {name!r}."
    return message


def _check_frame(frame, fill) -> None:
    if not isinstance(frame, pd.DataFrame):
        fix = (" (a file: read it first, e.g. forecast.data.frame.read_frame(path), or pass "
               "it as WindowDataModule(path=...))" if isinstance(frame, (str, os.PathLike)) else
               "; pass series.to_frame() (one column named by the series)"
               if isinstance(frame, pd.Series) else "")
        raise DataError(f"data: expected a pandas DataFrame, got {type(frame).__name__}{fix}.")
    if frame.empty or len(frame.columns) == 0:
        raise DataError("data: the DataFrame is empty (no rows or no columns); pass a frame with "
                        "a time column and at least one numeric column.")
    if fill is not None and fill not in FILL_POLICIES:
        raise DataError(f"data.fill: unknown policy '{fill}'; use one of {FILL_POLICIES} or null.")


def flat_frame(frame, id_col: str | None, time_col: str | None):
    """A long frame indexed by its (id, time) levels, as NeuralForecast's `unique_id, ds`, with
    the levels as columns; any other frame as it is. The levels must be named as `id_col`
    (default unique_id) and `time_col` (default: timestamps, or a name like a time column)."""
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.MultiIndex):
        return frame
    names = list(frame.index.names)
    id_name = id_col or "unique_id"
    others = [name for name in names if name != id_name]
    if len(names) == 2 and len(others) == 1 and not set(names) & set(frame.columns):
        level = frame.index.get_level_values(others[0])
        if (others[0] == time_col if time_col is not None else
                pd.api.types.is_datetime64_any_dtype(level.dtype)
                or str(others[0]).lower() in TIME_COLUMNS):
            return frame.reset_index()
    raise DataError(f"data: the frame is indexed by a MultiIndex of levels {names}; move them to "
                    "columns with df.reset_index() (and name them with data.id_col and "
                    "data.time_col).")


def _find_time_column(frame: pd.DataFrame, time_col: str | None,
                      id_col: str | None = None) -> str | None:
    """Name of the time column, or None when the index holds the time: `time_col`, else a
    DatetimeIndex, a column named like a date, or the one datetime column."""
    if time_col is not None:
        if time_col not in frame.columns:
            if frame.index.name == time_col:
                return None
            raise DataError(_unknown("data.time_col", [time_col], frame.columns))
        return time_col
    if isinstance(frame.index, (pd.DatetimeIndex, pd.PeriodIndex)):
        # `df.set_index("date", drop=False)`: the time as the index and as a column
        return frame.index.name if frame.index.name in frame.columns else None
    for name in frame.columns:
        if str(name).lower() in TIME_COLUMNS:
            return name
    others = [c for c in frame.columns if c != id_col]
    stamps = [c for c in others if pd.api.types.is_datetime64_any_dtype(frame[c])
              or isinstance(frame[c].dtype, pd.PeriodDtype)]
    if len(stamps) == 1:
        return stamps[0]
    years = [c for c in others if str(c).lower() == "year"
             and pd.api.types.is_integer_dtype(frame[c])]
    if years and not stamps:  # yearly data (1871, 1872 ...): integer steps, not a target
        return years[0]
    stamps = stamps or [c for c in others if _holds_timestamps(frame[c])]
    if stamps:  # do not fall back to row numbers when the data has a time axis
        name = stamps[0]
        raise DataError(f"data.time_col: column '{name}' holds timestamps, but no column is "
                        f"named like a time column ({', '.join(sorted(TIME_COLUMNS))}); set "
                        f"data.time_col={name}.")
    return None  # integer index as time


def note_row_numbers(frame: pd.DataFrame, panel: Panel, time_col) -> None:
    """Say so when no time column was found and the rows are numbered as time steps (the
    unnamed axis of integer steps that `build_panel` calls "step")."""
    if time_col is None and frame.index.name is None and panel.time_name == "step":
        log.info(f"data: no time column (a DatetimeIndex, or a column named "
                 f"{', '.join(TIME_COLUMNS)}): the rows are numbered 0, 1, 2 ... as time steps; "
                 "name the time column with data.time_col, and the season of the seasonal "
                 "baselines with data.season.")
        for name in _counting_columns(frame, panel):
            log.warning(f"data: column '{name}' counts up by the same step every row, as a time "
                        f"axis does, and is read as a series to forecast; if it is the time, set "
                        f"data.time_col={name} (time_col='{name}' in Python).")


def _counting_columns(frame: pd.DataFrame, panel: Panel) -> list:
    """The channels of a wide frame whose whole integer column rises by one fixed step (1, 2,
    3 ... or 2000, 2005, 2010 ...): a time axis under a name that is not recognised."""
    if panel.id_col is not None or len(frame) < 3:
        return []
    counting = []
    for name in panel.columns:
        column = frame[name] if name in frame.columns else None
        if column is None or not pd.api.types.is_integer_dtype(column):
            continue
        steps = np.diff(column.to_numpy())
        if steps[0] > 0 and (steps == steps[0]).all():
            counting.append(name)
    return counting


def _is_text(column: pd.Series) -> bool:
    """No value of the column reads as a number (a label such as a region, not a numeric column
    with a few bad entries, which is reported by row)."""
    if isinstance(column, pd.DataFrame):  # a doubled name: reported by _select_columns
        return False
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    return not pd.to_numeric(column, errors="coerce").notna().any()


def _holds_timestamps(column: pd.Series) -> bool:
    """Whether a text column reads as dates (its first values parse and look like dates)."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    sample = column.dropna().head(5).astype(str)
    if sample.empty or not sample.str.contains(r"\d[-/:]\d").all():
        return False
    try:
        pd.to_datetime(sample, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _check_static(frame: pd.DataFrame, static: list, id_col) -> None:
    if static and id_col is None:
        raise DataError(f"data.static_features: {static}: static features describe the series of "
                        "a long frame (one row per series and time, with data.id_col); this frame "
                        "is one series. Drop data.static_features, or pass the long form.")
    missing = [c for c in static if c not in frame.columns]
    if missing:
        raise DataError(_unknown("data.static_features", missing, frame.columns))


def _select_columns(frame, target, features, time_col, id_col, future,
                    static=()) -> tuple[list, list]:
    reserved = {time_col, id_col, *future, *static}
    candidates = [c for c in frame.columns if c not in reserved]
    if target is None or features == "all":  # "every numeric column": text columns are not
        text = [c for c in candidates if _is_text(frame[c])]
        if text:
            log.info(f"data: leaving out the text column(s) {text}; name the columns to use "
                     "with data.target / data.features.")
        candidates = [c for c in candidates if c not in text]
    if target is None:
        target = ["y"] if id_col is not None and "y" in frame.columns else candidates
        if not target:
            raise DataError("data.target: no numeric column to forecast; name one with "
                            "data.target.")
    target = list(target) if pd.api.types.is_list_like(target) else [target]
    if features is None:
        features = []
    elif features == "all":
        features = [c for c in candidates if c not in target]
    elif not pd.api.types.is_list_like(features):
        features = [features]
    features = [f for f in features if f not in target and f not in future] + future
    if also := [c for c in static if c in target + features]:
        raise DataError(f"data.static_features: {also} are also targets or features; a column is "
                        "one of them, so drop it from one list.")
    missing = [c for c in target + features if c not in frame.columns]
    if missing:
        raise DataError(_unknown("data.target/data.features", missing, frame.columns))
    doubled = [c for c in target + features if (frame.columns == c).sum() > 1]
    if doubled:
        raise DataError(f"data: column(s) {doubled} appear more than once in the frame; "
                        "rename them so that each name is unique.")
    return target, features


def _names(selection) -> list:
    """The columns a `target`/`features` argument names itself (none for None or "all")."""
    if selection is None or isinstance(selection, str) and selection == "all":
        return []
    return [selection] if np.ndim(selection) == 0 else list(selection)  # a name, or names


@contextlib.contextmanager
def _unnamed_ids_named(frame: pd.DataFrame, ticks: np.ndarray, time_col, id_col, named: list):
    """Where a frame without an id column fails its column or time-order checks, and a
    column (or the index) tells apart the rows of each repeated time, it is a long frame
    whose id column was not named: say so, rather than "sort" or "aggregate the duplicates"
    (whose mean would mix the series) or "not numeric"."""
    try:
        yield
    except DataError:
        name = None if id_col is not None else _id_like(frame, ticks, time_col, named)
        if name is None:
            raise
        if name is _INDEX:
            raise DataError(f"data: timestamps repeat and the index tells the rows apart: this "
                            "looks like a long frame (one row per series and time) with its "
                            "series ids as the index; move them to a column (df.reset_index()) "
                            f"and set data.id_col={frame.index.name or 'id'}.") from None
        raise DataError(f"data: timestamps repeat and column '{name}' tells the rows apart: "
                        "this looks like a long frame (one row per series and time); set "
                        f"data.id_col={name}, or drop the column if the frame is one series."
                        ) from None


_INDEX = object()  # `_id_like`'s answer where the index holds the ids


def _id_like(frame: pd.DataFrame, ticks: np.ndarray, time_col, named: list):
    """The column (or `_INDEX`) of fewest values that looks like series ids: most times
    repeat (series side by side, not one re-sent row), and the column holds text or integers,
    repeats, and takes a different value at each repeat of a time. None if there is none."""
    n = len(ticks)
    if n < 4 or pd.Index(ticks).duplicated(keep=False).mean() < 0.5:
        return None
    candidates = {}
    if time_col is not None and not isinstance(frame.index, pd.RangeIndex):
        candidates[_INDEX] = frame.index.to_series()
    candidates.update((c, frame[c]) for c in frame.columns if c != time_col and c not in named
                      and not isinstance(frame[c], pd.DataFrame))  # a doubled name: reported
    sizes = {}
    for name, column in candidates.items():
        if pd.api.types.is_float_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue  # measurements, flags
        count = column.nunique(dropna=False)
        if 2 <= count <= n // 2:
            sizes[name] = count
    for name in sorted(sizes, key=sizes.get):
        values = candidates[name].to_numpy()
        if pd.MultiIndex.from_arrays([values, ticks]).is_unique:
            return name
    return None


def _as_numbers(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    """`frame` with its columns of numbers held as Python objects (JSON or SQL reads with None
    in them) or as categories converted to floats; a column of text is refused."""
    converted = {}
    for name in columns:
        column = frame[name]
        check_real(column, name, "data")
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            continue  # a flag (a holiday) is a feature of 0 and 1
        numbers = numbers_held_otherwise(column)
        if numbers is not None:
            converted[name] = numbers
            continue
        bad = pd.to_numeric(column.astype(object), errors="coerce").isna() & column.notna()
        row = int(np.argmax(bad.to_numpy())) if bad.any() else 0
        raise DataError(f"data: column '{name}' is not numeric (row {row}: "
                        f"{column.iloc[row]!r}); convert it to numbers, or choose the "
                        "columns to use with data.target/data.features.")
    if not converted:
        return frame
    frame = frame.copy(deep=False)  # names need not be text (0, 1 of a headerless read)
    for name, numbers in converted.items():
        frame[name] = numbers
    return frame


def check_real(column: pd.Series, name, key: str) -> None:
    """Refuse a column of complex numbers, which a cast to float32 would cut to their real part
    (with only numpy's ComplexWarning)."""
    if pd.api.types.is_complex_dtype(column.dtype):
        raise DataError(f"{key}: column '{name}' holds complex numbers ({column.dtype}); the "
                        f"model takes real ones: keep their real part (df['{name}'] = "
                        f"np.real(df['{name}'])) or their magnitude (np.abs), or split them "
                        "into two columns.")


def numbers_held_otherwise(column: pd.Series) -> pd.Series | None:
    """A column of numbers held as Python objects or as categories, as float64; None for
    anything else (text, digits in strings included: a column of them is refused)."""
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    if pd.api.types.infer_dtype(values, skipna=True) not in _NUMBER_KINDS:
        return None
    return pd.to_numeric(column.astype(object)).astype(np.float64)


_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "empty"}


def _day_first(value) -> bool:
    """Whether a date that failed to parse reads as day/month/year with a day above 12."""
    import re

    match = re.match(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b", str(value))
    return bool(match) and 12 < int(match[1]) <= 31 and int(match[2]) <= 12


def _day_first_fix(time_col) -> str:
    name = time_col or "date"
    return (f"for a CSV add parse_dates: [{name}], dayfirst: true to data.read_options (alone: "
            f"data.read_options=\"{{parse_dates: [{name}], dayfirst: true}}\"; in Python "
            f"pd.read_csv(path, parse_dates=['{name}'], dayfirst=True)), else convert them "
            f"with pd.to_datetime(df['{name}'], dayfirst=True)")


def _day_month(texts: np.ndarray) -> pd.DataFrame | None:
    """The first two numbers of dates written d/m/y or m/d/y, when every text is such a date
    and both numbers are at most 12 (either could be the month); else None."""
    parts = pd.Series(texts).astype(str).str.extract(
        r"^\s*(\d{1,2})[/.](\d{1,2})[/.]\d{2,4}\b").astype(float)
    if len(parts) and parts.notna().all(axis=None) and (parts <= 12).all(axis=None):
        return parts
    return None


def _note_ambiguous_dates(raw, label: str, time_col) -> None:
    """Warn when every date reads as well day-first as month-first (01/02/2020: 2 January or
    1 February?): pandas reads them month-first, which a day-first file turns into nonsense."""
    if not (pd.api.types.is_object_dtype(raw.dtype) or pd.api.types.is_string_dtype(raw.dtype)):
        return
    values = np.asarray(raw)
    # a sample first: ISO dates, or a day above 12 early on, end it without reading every row
    if _day_month(values[:1000]) is None:
        return
    parts = _day_month(pd.unique(values))
    if parts is not None and (parts[0] != parts[1]).any():
        log.warning(f"data: {label} holds dates such as {str(np.asarray(raw)[0])!r} that read "
                    "either way (month/day or day/month); they are read month first. If they are "
                    f"day first, {_day_first_fix(time_col)}, or write ISO dates (2020-02-01).")


def _parse_time(frame: pd.DataFrame, time_col, freq=None) -> tuple:
    """int64 ticks of every row, their unit (None for integer steps, see `as_ticks`), the
    timezone of timezone-aware times (`naive`, for the known frequency `freq`) or None, and
    that timezone again where the ticks hold the times in UTC (for messages), else None."""
    raw = frame.index if time_col is None else frame[time_col]
    label = "the index" if time_col is None else f"column '{time_col}'"
    if isinstance(raw.dtype, pd.PeriodDtype):  # periods (2015-01 ...) at their start
        raw = raw.to_timestamp() if time_col is None else raw.dt.to_timestamp()
    if pd.api.types.is_float_dtype(raw.dtype):
        whole = np.isfinite(raw) & (np.mod(raw, 1) == 0)
        if not whole.all():
            row = int(np.argmin(np.asarray(whole)))
            value = float(np.asarray(raw)[row])
            raise DataError(f"data: {label} row {row} holds {value!r}; a time axis holds "
                            "timestamps or whole-number steps (0, 1, 2 ...); convert it or set "
                            "data.time_col to the right column.")
        raw = pd.Index(np.asarray(raw, dtype=np.int64))
    if pd.api.types.is_integer_dtype(raw.dtype):
        return (*as_ticks(pd.Index(raw)), None, None)
    if not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        _note_ambiguous_dates(raw, label, time_col)
        try:
            raw = parse_times(raw, freq)
        except (ValueError, TypeError):
            _check_one_zone(raw, label, time_col)
            row = int(np.argmax(pd.isna(pd.to_datetime(raw, errors="coerce", utc=True))))
            value = raw[row] if time_col is None else raw.iloc[row]
            fix = "fix it or set data.time_col to the right column."
            if _day_first(value):
                fix = ("the dates look day-first (day/month/year), read month-first up to this "
                       f"row; {_day_first_fix(time_col)}, or write ISO dates (2021-01-13).")
            raise DataError(f"data: {label} row {row} value {value!r} is not a timestamp; "
                            f"{fix}") from None
    index = pd.DatetimeIndex(raw)
    if index.hasnans:
        row = int(np.argmax(index.isna()))
        raise DataError(f"data: {label} row {row} has no timestamp; drop or fix that row.")
    tz = _zone_name(index, time_col)
    return (*as_ticks(naive(index, freq)), tz, tz if tz and on_utc_axis(index, freq) else None)


def _check_one_zone(raw, label: str, time_col) -> None:
    """Times of different timezones in one column (pandas holds them as objects) are refused
    by name, rather than as values that are "not a timestamp"."""
    values = pd.Series(np.asarray(raw, dtype=object))
    zones = values.map(lambda v: str(getattr(v, "tzinfo", None) or "no timezone"))
    first = zones.iloc[0]
    if (zones == first).all() or (zones == "no timezone").all():
        return
    row = int(np.argmax((zones != first).to_numpy()))
    where, dt = _time_code(time_col)
    raise DataError(f"data: {label} mixes timezones (row 0: {first}, row {row}: "
                    f"{zones.iloc[row]}); convert the times to one timezone, e.g. {where} = "
                    f"pd.to_datetime({where}, utc=True){dt}.tz_convert(ZONE).")


def _zone_name(index: pd.DatetimeIndex, time_col) -> str | None:
    """The name of the times' timezone (None for naive times), which a saved model keeps; a zone
    without a name that reads back is refused."""
    if index.tz is None:
        return None
    name = zone_name(index.tz)
    if name is None:
        where, dt = _time_code(time_col)
        raise DataError(f"data: the times of {where} are in the timezone {index.tz!r}, which "
                        "has no name that reads back (such as 'Europe/Berlin', 'UTC' or "
                        f"'UTC+01:00'); convert them to a named zone first, e.g. {where} = "
                        f"{where}{dt}.tz_convert('Europe/Berlin').")
    return name


def _time_code(time_col) -> tuple[str, str]:
    """How a fix writes the times in pandas: the index or the column, and its `.dt`."""
    if time_col is None:
        return "frame.index", ""
    return f"frame['{time_col}']", ".dt"


def _id_dtype(ids: pd.Series) -> str:
    """The dtype of the id values (those of its categories for a categorical column)."""
    dtype = ids.dtype
    return str(dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype)


def _series_codes(frame: pd.DataFrame, id_col) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """[N] series number of each row (in order of first appearance) and the series ids."""
    if id_col is None:
        return None, ("series",)
    codes, ids = pd.factorize(frame[id_col])
    if (codes < 0).any():
        row = int(np.argmax(codes < 0))
        raise DataError(f"data: column '{id_col}' row {row} has no series id; drop or fix "
                        "that row.")
    names = pd.Index(ids).astype(str)
    if names.has_duplicates:  # 1 and "1": two series of one name
        name = names[names.duplicated()][0]
        raise DataError(f"data: column '{id_col}' holds the series id '{name}' as two values of "
                        f"different types ({', '.join(repr(i) for i in ids[names == name])}); "
                        "give each series one id of one type.")
    # The smallest integer type: a tenth of the memory of int64 codes, and a radix sort.
    return codes.astype(np.min_scalar_type(max(len(ids) - 1, 0))), tuple(str(i) for i in ids)


def _values(frame: pd.DataFrame, columns: list, rows: RowNames) -> np.ndarray:
    """[N, C] float32 values in the panel's row order: one new array, owned by the panel. A
    value finite but beyond float32's range is refused (the cast would make it inf, which
    reads as missing)."""
    data = frame[columns]
    with np.errstate(over="ignore"):
        if rows.order is None:
            values = data.to_numpy(dtype=np.float32, copy=True)
        else:
            values = data.to_numpy(dtype=np.float32)[rows.order]
    _check_float32_range(values, data, rows)
    return values


def _check_float32_range(values: np.ndarray, data: pd.DataFrame, rows: RowNames) -> None:
    """DataError naming the first value of `data` that is finite but inf in float32 `values`."""
    with np.errstate(invalid="ignore"):  # inf - inf
        sums = values.sum(axis=0, dtype=np.float64)  # finite where every value is
    for channel in np.flatnonzero(~np.isfinite(sums)):
        inf = np.flatnonzero(np.isinf(values[:, channel]))
        given = data.iloc[inf if rows.order is None else rows.order[inf], channel]
        large = np.isfinite(given.to_numpy(dtype=np.float64, na_value=np.nan))
        if not large.any():
            continue
        k, value = int(inf[np.argmax(large)]), given.iloc[int(np.argmax(large))]
        more = f" ({int(large.sum())} such values)" if large.sum() > 1 else ""
        raise DataError(f"data{rows.where(k)}: column '{data.columns[channel]}' holds {value:.4g}"
                        f" at row {rows.row(k)} ({rows.time(k)}){more}, {BEYOND_FLOAT32}")


def _note_lost_precision(frame: pd.DataFrame, columns: list, codes: np.ndarray | None,
                         series_ids: tuple[str, ...]) -> None:
    """Warn about a column whose spread in a series is a few float32 steps at the series' level
    (a meter reading near 1e9 that moves by 10: float32 holds it in steps of 64), as its changes
    are lost. Judged per series (`codes`: [N] series of each row of `frame`) on up to 100,000
    rows spread over the frame: a level, not an outlier, is the matter."""
    every = max(1, len(frame) // 100_000)
    groups = (np.zeros(len(frame), np.intp) if codes is None else codes.astype(np.intp))[::every]
    for name in columns:
        values = frame[name].iloc[::every].to_numpy(dtype=np.float64, na_value=np.nan)
        level, spread = _level_and_spread(values, groups, len(series_ids))
        lost = np.flatnonzero((spread > 0)
                              & (spread < 100 * np.spacing(level.astype(np.float32))))
        if not len(lost):
            continue
        s = int(lost[0])
        where = "" if len(series_ids) == 1 else f" of series '{series_ids[s]}'" + (
            f" (and {len(lost) - 1} other series)" if len(lost) > 1 else "")
        log.warning(f"data: column '{name}'{where} varies little against its level (values "
                    f"near {level[s]:.3g}, std {spread[s]:.3g}): in float32 its changes lose "
                    "most of their digits; subtract the level (or difference the series) first.")


def _level_and_spread(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple:
    """[n_groups] largest |value| and std of the finite `values` of each group; the std is 0
    where the values differ by float64 rounding only (a constant series, whose computed mean
    is a rounding off its values)."""
    finite = np.isfinite(values)
    values, groups = values[finite], groups[finite]
    count = np.maximum(np.bincount(groups, minlength=n_groups), 1)
    mean = np.bincount(groups, values, n_groups) / count
    spread = np.sqrt(np.bincount(groups, np.square(values - mean[groups]), n_groups) / count)
    level, low, high = (np.full(n_groups, start) for start in (0.0, np.inf, -np.inf))
    np.maximum.at(level, groups, np.abs(values))
    np.minimum.at(low, groups, values)
    np.maximum.at(high, groups, values)
    rounding = high - low <= 64 * np.finfo(np.float64).eps * level
    return level, np.where(rounding, 0.0, spread)


def _note_filled(values: np.ndarray, n_rows: int, columns: list, fill: str, freq) -> None:
    """Say how much `fill` makes up: the steps it inserts and the values it fills; a warning
    when that is more than a tenth of the rows (a time column read wrongly, say)."""
    inserted = len(values) - n_rows
    missing = (~np.isfinite(values)).sum(axis=0) - inserted  # NaN and inf in the given rows
    if not inserted and not missing.any():
        return
    worst = int(np.argmax(missing))
    parts = [f"{inserted:,} missing {freq} steps inserted" if inserted else "",
             f"{int(missing.sum()):,} missing values filled, most in '{columns[worst]}' "
             f"({int(missing[worst]):,})" if missing.any() else ""]
    made_up = (inserted + int(missing[worst])) / len(values)
    level = logging.WARNING if made_up > 0.1 else logging.INFO
    note = "; check the time column and the frequency" if inserted > n_rows else ""
    log.log(level, f"data.fill={fill}: {made_up:.0%} of the {len(values):,} rows are made up "
                   f"({', '.join(p for p in parts if p)}){note}.")


def _note_filled_end(targets: np.ndarray, bounds: np.ndarray, rows: RowNames, columns: list,
                     fill: str, caller: str) -> None:
    """Warn where a target ends in rows without a value: `fill` makes them up, a forecast from
    that history starts after them (future rows left in it, as NeuralForecast takes them), and
    a backtest scores them as actuals."""
    empty_last = ~np.isfinite(targets[bounds[1:] - 1])  # [S, T]
    hit = np.flatnonzero(empty_last.any(axis=1))
    if not len(hit):
        return
    first = int(hit[0])
    channel = int(np.argmax(empty_last[first]))
    lo, hi = bounds[first], bounds[first + 1]
    known = np.flatnonzero(np.isfinite(targets[lo:hi, channel]))
    if not len(known):
        return  # nothing to fill from: `fill_missing` refuses the series
    k = lo + int(known[-1]) + 1
    where = "" if len(rows.series_ids) == 1 else f" of series '{rows.series_ids[first]}'"
    more = f" (and {len(hit) - 1} other series)" if len(hit) > 1 else ""
    log.warning(f"{caller}: column '{columns[channel]}'{where}{more} ends in {hi - k} row(s) "
                f"without a value, from row {rows.row(k)} ({rows.time(k)}); fill={fill} makes "
                "them up as if observed: a forecast starts after them, a backtest scores them "
                "as actuals. If they are future rows, drop them (known future inputs go in "
                "future=).")


def _fill(values, ticks, bounds, freq, fill, rows, columns, unit):
    """Insert the missing steps, then fill NaN/inf with the policy `fill`."""
    positions = grid_positions(ticks, bounds, freq, unit)
    if (positions < 0).any():
        k = int(np.argmin(positions >= 0))
        raise DataError(f"data{rows.where(k)}: row {rows.row(k)} ({rows.time(k)}) is not a "
                        f"whole number of {freq} steps after the series' first timestamp, so "
                        "it cannot be placed on a regular grid; resample the series to "
                        f"{freq} first.")
    n_rows = len(values)
    values, bounds = insert_missing_steps(values, positions, bounds)
    _note_filled(values, n_rows, columns, fill, freq)
    empty = fill_missing(values, bounds, fill)
    if empty is not None:
        series, channel = empty
        where = "" if len(rows.series_ids) == 1 else f" (series '{rows.series_ids[series]}')"
        raise DataError(f"data{where}: column '{columns[channel]}' has no value at all to fill "
                        "from; drop that column (or series) or provide values.")
    return values, bounds
