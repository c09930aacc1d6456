"""Loaders for the benchmark files that are not plain wide CSVs.

ETT, exchange_rate and national_illness are wide CSVs with a `date` column and load through
`WindowDataModule(path=...)` directly. These functions turn the other layouts into frames that
`forecast.data.frame.build_panel` accepts, for use as `data.frame` in a config:

    frame:
      _target_: forecast.data.datasets.m4_frame
      train_path: ${paths.data_dir}/m4_hourly/Hourly-train.csv
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.frame import read_frame
from forecast.errors import DataError


def m4_frame(train_path: str | Path, test_path: str | Path | None = None) -> pd.DataFrame:
    """M4's padded wide layout (one row per series: id, then values padded with empty cells)
    -> a long frame `unique_id, ds, y` with an integer step `ds` (M4 publishes no dates).

    Args:
        train_path: e.g. `Hourly-train.csv`.
        test_path: e.g. `Hourly-test.csv`; its values are appended to each series, so a
            split with `test: 48` (rows) scores exactly the competition's hold-out.

    Example:
        >>> m4_frame("Hourly-train.csv", "Hourly-test.csv").head(2)  # doctest: +SKIP
          unique_id  ds      y
        0        H1   0  605.0
        1        H1   1  586.0
    """
    series = _m4_rows(read_frame(train_path))
    if test_path is not None:
        test = _m4_rows(read_frame(test_path))
        missing = sorted(set(test) - set(series))
        if missing:
            raise DataError(f"data.frame.test_path: series {missing[:5]} are not in the train file "
                            f"'{train_path}'; pass the matching train and test files.")
        series = {sid: np.concatenate([values, test.get(sid, [])])
                  for sid, values in series.items()}
    lengths = [len(values) for values in series.values()]
    return pd.DataFrame({"unique_id": np.repeat(list(series), lengths),
                         "ds": np.concatenate([np.arange(n) for n in lengths]).astype(np.int64),
                         "y": np.concatenate(list(series.values()))})


def _m4_rows(wide: pd.DataFrame) -> dict[str, np.ndarray]:
    """Padded rows [series, 1 + steps] -> {series id: values without the padding}."""
    values = wide.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    rows = {}
    for sid, row in zip(wide.iloc[:, 0].astype(str), values, strict=True):
        n = int((~np.isnan(row)).sum())
        if np.isnan(row[:n]).any():
            raise DataError(f"data: M4 series '{sid}' has an empty cell before its last value; "
                            "M4 files are padded only at the end of each row.")
        rows[sid] = row[:n]
    return rows


def classic_frame(path: str | Path) -> pd.DataFrame:
    """One of the classic small series in `classic/` as a wide frame `date, <value>`.

    Each file has its own time column: `Date` as YYYY-MM (airline), a year (lynx, sunspots,
    nile), `date` as YYYYMMDD (co2), or a year x month table (elnino). Years become year-start
    timestamps, so every frame has a DatetimeIndex-able `date` column and a regular frequency.
    Missing values stay NaN (co2 has 59): set `data.fill` to fill them.
    """
    path = Path(path)
    readers: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
        "airline": lambda f: _dated(f, "Date", "%Y-%m"),
        "lynx": lambda f: _dated(f.rename(columns={f.columns[0]: "year", "0": "lynx"}), "year"),
        "sunspots": lambda f: _dated(f, "YEAR"),
        "nile": lambda f: _dated(f, "year"),
        "co2": lambda f: _dated(f, "date", "%Y%m%d"),
        "elnino": _elnino,
    }
    if path.stem not in readers:
        raise DataError(f"data.frame.path: '{path.name}' is not a known classic series; use one "
                        f"of {sorted(readers)} (or data=csv for a plain wide CSV).")
    return readers[path.stem](read_frame(path))


def _dated(frame: pd.DataFrame, column: str, fmt: str = "%Y") -> pd.DataFrame:
    """`column` parsed with `fmt` into `date`, first; the value columns follow."""
    date = pd.to_datetime(frame[column].astype(str), format=fmt)
    return frame.drop(columns=column).assign(date=date)[["date", *frame.columns.drop(column)]]


def _elnino(frame: pd.DataFrame) -> pd.DataFrame:
    """Year x month table -> one monthly series `sst`."""
    months = frame.columns.drop("YEAR")
    long = frame.melt(id_vars="YEAR", value_vars=list(months), var_name="month", value_name="sst")
    long["date"] = pd.to_datetime(long.YEAR.astype(str) + "-" + long.month, format="%Y-%b")
    return long.sort_values("date")[["date", "sst"]].reset_index(drop=True)
