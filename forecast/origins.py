"""The windows of a backtest (`Forecaster.backtest`, `score`): cutoffs in each series of a
history, what followed them, and the forecasts beside the actuals as rows."""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.panel import Panel
from forecast.data.timeaxis import localized
from forecast.errors import ConfigError, DataError, is_positive_int
from forecast.inference import History, Schema, as_index, id_values, read_panel

log = logging.getLogger(__name__)


@dataclass
class Origins:
    """The windows of a backtest: forecast from each cutoff, compare with what followed.

    Attributes:
        history: [N, L, C] the lookback rows before each cutoff; `ends` the cutoffs (the last
            timestamp of each window's history); `ids` each window's series.
        ahead: [N, H, F] the known-future columns over each horizon, or None.
        actual: [N, H, T] the targets over each horizon.
    """

    history: History
    ahead: np.ndarray | None
    actual: np.ndarray


EARLIEST = "earliest"  # `backtest(start=)`: every window each series' length allows


def read_origins(frame: pd.DataFrame, schema: Schema, n_windows: int | None, step: int,
                 start=None, caller: str = "backtest") -> Origins:
    """`frame` validated as `read_history` validates it, cut into windows per series whose
    forecasts begin `step` rows apart. Without `start`: `n_windows` (default 1) per series, the
    last horizon at the series' end. From `start` (a time or integer step): every whole one
    (at most `n_windows`), the first forecasting the first row at or after `start` that has
    `lookback` rows before it; "earliest": as many as fit after each series' first `lookback`
    rows, the last horizon at its end. Series without one are left out, with a warning."""
    if n_windows is not None and not is_positive_int(n_windows):
        raise ConfigError(f"{caller}: n_windows={n_windows!r}; pass a positive integer.")
    if not is_positive_int(step):
        raise ConfigError(f"{caller}: step={step!r}; pass a positive integer.")
    taken = {"cutoff", *(f"{target}-actual" for target in schema.targets)}
    clash = taken & {schema.time_name, schema.id_col, *schema.columns}
    if clash:
        raise DataError(f"{caller}: the column name(s) {sorted(clash)} are taken by the "
                        "backtest's own columns; rename them and refit.")
    panel = read_panel(frame, schema, caller, lookback_rows=False)
    lookback, horizon = schema.lookback, schema.horizon
    if start is None:
        counts = np.full(panel.n_series, n_windows or 1)
        first = panel.lengths - horizon - (counts - 1) * step  # [S] first forecast row
        _check_long_enough(panel, schema, counts[0], step)
    else:
        before = (np.zeros(panel.n_series, dtype=np.int64) if start == EARLIEST else
                  panel.rows_before(panel.on_axis(start, f"{caller}: start")))
        first = np.maximum(lookback, before)  # [S] first forecast row
        counts = np.maximum((panel.lengths - first - horizon) // step + 1, 0)
        if n_windows is not None:
            counts = np.minimum(counts, n_windows)
        if start == EARLIEST:  # the last horizon at the series' end
            first = panel.lengths - horizon - (np.maximum(counts, 1) - 1) * step
        _note_without_windows(panel, schema, counts, start, caller)
    series = np.repeat(np.arange(panel.n_series), counts)  # [N] of each window
    number = np.arange(len(series)) - np.repeat(np.cumsum(counts) - counts, counts)
    first_ahead = panel.bounds[series] + first[series] + number * step  # [N] first forecast row
    past = panel.values[first_ahead[:, None] - lookback + np.arange(lookback)]  # [N, L, C]
    coming = panel.values[first_ahead[:, None] + np.arange(horizon)]  # [N, H, C]
    ids = np.asarray(panel.series_ids, dtype=object)[series].tolist()
    n_past = len(schema.columns) - schema.n_future
    static = None if panel.static is None else panel.static.iloc[series]
    return Origins(History(past, panel.time_at(first_ahead - 1), ids, static),
                   coming[..., n_past:] if schema.n_future else None,
                   coming[..., :schema.n_targets])


def _check_long_enough(panel: Panel, schema: Schema, n_windows: int, step: int) -> None:
    need = schema.lookback + schema.horizon + (n_windows - 1) * step
    short = np.flatnonzero(panel.lengths < need)
    if len(short):
        rows = {panel.series_ids[s]: int(panel.lengths[s]) for s in short[:5]}
        which = (f"the frame has {rows.popitem()[1]}" if schema.id_col is None
                 else f"these series have fewer (id: rows): {rows}")
        raise DataError(f"backtest: {n_windows} windows {step} rows apart need {need} rows per "
                        f"series (lookback + horizon + (n_windows - 1) * step), and {which}; "
                        "pass more rows, lower n_windows or step, or pass start= to forecast "
                        "each series from a time on, as its length allows.")


def _note_without_windows(panel: Panel, schema: Schema, counts: np.ndarray, start,
                          caller: str) -> None:
    """Refuse a `start` that leaves no window, and name the series it leaves without one."""
    need = schema.lookback + schema.horizon
    after = "" if start == EARLIEST else f" after start={start!r}"
    if not counts.any():
        hint = (f" (with TimeSeriesSplit: fewer splits, or test_size={need})"
                if caller == "score" else "")
        raise DataError(f"{caller}: no series has a whole horizon{after} with lookback rows "
                        f"before it (lookback + horizon = {need} rows); pass more rows"
                        f"{', or an earlier start' if after else ''}{hint}.")
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        log.warning(f"{caller}: {len(empty)} of {panel.n_series} series have no whole horizon"
                    f"{after} with lookback rows before it (lookback + horizon = {need} rows), "
                    f"such as '{panel.series_ids[empty[0]]}' ({int(panel.lengths[empty[0]])} "
                    "rows); they are left out.")


def refit_every(refit) -> int:
    """`backtest(refit=)` as windows per refit: 0 never, 1 before every window, k before every
    k-th (the earliest first)."""
    if isinstance(refit, numbers.Integral) and refit >= 0:  # bools too: False 0, True 1
        return int(refit)
    raise ConfigError(f"backtest: refit={refit!r}; pass False, True (refit before every window) "
                      "or a positive integer k (refit before every k-th window).")


def backtest_frame(values: np.ndarray, origins: Origins, times: np.ndarray, schema: Schema,
                   names: list[str]) -> pd.DataFrame:
    """The forecasts [N, H, len(names)] of the backtest windows at `times` [N, H] as rows:
    `[id,] cutoff, time, *names, *{target}-actual`, `horizon` rows per window."""
    horizon = times.shape[1]
    time = as_index(times)
    cutoff = origins.history.ends.repeat(horizon).astype(time.dtype)
    columns = {"cutoff": localized(cutoff, schema.tz, schema.freq),
               schema.time_name: localized(time, schema.tz, schema.freq)}
    if schema.id_col is not None:
        columns = {schema.id_col: id_values(origins.history.ids, schema).repeat(horizon),
                   **columns}
    columns.update({name: values[..., i].ravel().astype(np.float64)
                    for i, name in enumerate(names)})
    columns.update({f"{target}-actual": origins.actual[..., i].ravel().astype(np.float64)
                    for i, target in enumerate(schema.targets)})
    return pd.DataFrame(columns)
