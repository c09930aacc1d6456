"""Lookback -> horizon windows as start rows into the stacked series: the only windowing code.

A window starting at row t has inputs `values[t : t + lookback]` and targets
`values[t + lookback : t + lookback + horizon, :n_targets]`. Windows are never copied as a
whole: a `WindowIndex` computes the start rows of any batch of window numbers (no [N] array of
starts is kept), `window_view` is a zero-copy strided view, and batches are gathered by index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from forecast.errors import ConfigError, DataError, is_positive_int

log = logging.getLogger(__name__)
LEFT_OUT = {"train": "still scaled on their training rows and forecast, not trained on",
            "val": "not validated on", "test": "not tested on"}


@dataclass(frozen=True)
class WindowSpec:
    """Shape of the windows.

    Args:
        lookback: input steps L.
        horizon: forecast steps H.
        stride: rows between consecutive training window starts (validation and test windows
            always start at every row, so every target is scored).
    """

    lookback: int
    horizon: int
    stride: int = 1

    def __post_init__(self):
        for key in ("lookback", "horizon", "stride"):
            value = getattr(self, key)
            if not is_positive_int(value):
                raise ConfigError(f"data.{key}: must be a positive integer, got {value!r}.")

    @property
    def length(self) -> int:
        return self.lookback + self.horizon


@dataclass(frozen=True)
class WindowIndex:
    """The windows of one part: window k of series s starts at `first[s] + stride * k`.

    Attributes:
        first: [S'] global start row of the first window of each series that has windows.
        offsets: [S' + 1] number of the first window of each of those series, then N.
        series: [S'] index of those series in the panel.
        stride: rows between consecutive starts.
    """

    first: np.ndarray
    offsets: np.ndarray
    series: np.ndarray
    stride: int

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, number) -> np.ndarray:
        """Start rows of window numbers (ints, a slice or a boolean mask), like an array."""
        if isinstance(number, slice):
            number = np.arange(len(self))[number]
        number = np.asarray(number)
        if number.dtype == bool:  # a mask over the windows
            number = np.flatnonzero(number)
        return self.starts(number)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """All start rows [N] (materialised only when asked for as an array)."""
        starts = self.starts()
        return starts if dtype is None else starts.astype(dtype)

    def starts(self, number: np.ndarray | None = None) -> np.ndarray:
        """Start rows of window numbers `number` [B] (default all)."""
        number = np.arange(len(self)) if number is None else number
        s = np.searchsorted(self.offsets[1:], number, side="right")
        return self.first[s] + (number - self.offsets[s]) * self.stride

    def window_series(self) -> np.ndarray:
        """[N] panel series of every window."""
        return np.repeat(self.series, np.diff(self.offsets))

    def as_slice(self) -> slice | None:
        """The starts as one slice (when one series holds every window), else None."""
        if len(self.first) != 1:
            return None
        first = int(self.first[0])
        return slice(first, first + self.stride * (len(self) - 1) + 1, self.stride)


def window_index(bounds: np.ndarray, part_borders: np.ndarray, spec: WindowSpec,
                 stride: int | None = None) -> WindowIndex:
    """The windows whose targets lie in the given part of each series.

    Args:
        bounds: [S + 1] first row of each series in the stacked values.
        part_borders: [S, 2] target rows `[lo, hi)` of the part, relative to each series.
        spec: window shape.
        stride: rows between starts (default `spec.stride`).
    """
    stride = spec.stride if stride is None else stride
    lo, hi = np.asarray(part_borders, dtype=np.int64).T
    first = np.maximum(lo - spec.lookback, 0)  # inputs may reach back into the previous part
    last = hi - spec.length  # inclusive
    counts = np.where(last >= first, (last - first) // stride + 1, 0)
    has = counts > 0
    return WindowIndex(first=bounds[:-1][has] + first[has],
                       offsets=np.concatenate([[0], np.cumsum(counts[has])]).astype(np.int64),
                       series=np.flatnonzero(has), stride=int(stride))


def window_starts(bounds: np.ndarray, part_borders: np.ndarray, spec: WindowSpec,
                  stride: int | None = None) -> np.ndarray:
    """[N] int64 start rows of the part's windows, series by series (see `window_index`)."""
    return window_index(bounds, part_borders, spec, stride).starts()


def check_enough_rows(lengths: np.ndarray, borders: np.ndarray, spec: WindowSpec,
                      series_ids, id_col: str | None = None) -> None:
    """Raise a DataError naming the series shorter than one window, or the first part the
    split asks for that yields no window in any series (an empty part, as a test part of size
    0 when fitting for production, is allowed). A part too short in some series only leaves
    them without its windows, with a warning."""
    short = np.flatnonzero(lengths < spec.length)
    need = f"lookback + horizon = {spec.lookback} + {spec.horizon}"
    drop = ("" if id_col is None else
            f"df[df.groupby('{id_col}')['{id_col}'].transform('size') >= {spec.length}]")
    if len(short) == 1:
        s = int(short[0])
        who = _where(series_ids, s) or " the series"
        drop = (f"drop it ({drop or f'keep the series of {spec.length} rows or more'}), "
                if len(series_ids) > 1 else "")
        raise DataError(f"data:{who} has {lengths[s]} rows, fewer than {need}; {drop}use a "
                        "shorter data.lookback or data.horizon, or more data.")
    if len(short):
        listed = {str(series_ids[s]): int(lengths[s]) for s in short[:5]}
        raise DataError(f"data: {len(short)} of {len(series_ids)} series have fewer rows than "
                        f"{need} (id: rows, the first {len(listed)}) {listed}; drop them "
                        f"({drop or f'keep the series of {spec.length} rows or more'}), use a "
                        "shorter data.lookback or data.horizon, or give them more data.")
    starts = np.concatenate([np.zeros((len(borders), 1), np.int64), borders[:, :2]], axis=1)
    rows = borders - np.maximum(starts - spec.lookback, 0)  # rows a part's windows can use
    asked = borders > starts
    too_short = asked & (rows < spec.length)
    for p, name in enumerate(("train", "val", "test")):
        _note_empty_part(asked[:, p], name, series_ids)
        if not too_short[:, p].any():
            continue
        s = int(np.argmax(too_short[:, p]))
        where = f"{_where(series_ids, s)}:" if len(series_ids) > 1 else ""
        part, fix = _part_too_short(name, starts[s, p], borders[s, p], spec)
        if too_short[:, p].sum() == asked[:, p].sum():  # no window of the part anywhere
            raise DataError(f"data:{where} {part}; {fix}.")
        log.warning(f"data: {too_short[:, p].sum()} of {len(series_ids)} series give no {name} "
                    f"window, such as{where[:-1]}: {part}. They are left out of the {name} "
                    f"windows ({LEFT_OUT[name]}); a shorter lookback or horizon, or another "
                    "data.split, gives them some.")


def _note_empty_part(asked: np.ndarray, name: str, series_ids) -> None:
    """Warn where the split gives some series rows of part `name` and others none (dates past
    a series' end): those are silently missing from the part otherwise."""
    if asked.any() and not asked.all():
        s = int(np.argmin(asked))
        log.warning(f"data: {len(asked) - asked.sum()} of {len(asked)} series have no {name} "
                    f"rows, such as series '{series_ids[s]}' (the split's {name} part lies "
                    f"past its rows); they are left out of the {name} windows "
                    f"({LEFT_OUT[name]}).")


def _part_too_short(name: str, lo: int, hi: int, spec: WindowSpec) -> tuple[str, str]:
    """What is short of the part `name` of rows [lo, hi), and what to do. A val or test part
    takes its windows' lookback from the rows before it: where those are there, it lacks only
    rows for the horizon. (The Forecaster names data.split.val val_size: `python_terms`.)"""
    rows = f"the {name} part (rows {lo}..{hi} of the series)"
    if name != "train" and lo >= spec.lookback:
        return (f"{rows} holds {hi - lo} row(s), fewer than the horizon {spec.horizon}",
                f"give it at least {spec.horizon} rows (data.split.{name}={spec.horizon})")
    return (f"{rows} is too short for one window of {spec.length} rows (lookback + horizon)",
            "change data.split or use a shorter lookback/horizon")


def _where(series_ids, s: int) -> str:
    return "" if len(series_ids) == 1 else f" series '{series_ids[s]}'"


def window_view(values: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Zero-copy view [T - L - H + 1, L + H, C] of every window of `values` [T, C]."""
    view = np.lib.stride_tricks.sliding_window_view(values, spec.length, axis=0)
    return view.transpose(0, 2, 1)  # [T', C, L+H] -> [T', L+H, C], still a view


def gather_windows(values: np.ndarray, index: WindowIndex | np.ndarray, spec: WindowSpec,
                   n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [N, L, C] and targets [N, H, n_targets] of the windows of `index`.

    A zero-copy view when one series holds every window, else one index gather.
    """
    view = window_view(values, spec)
    if isinstance(index, WindowIndex):
        part = index.as_slice()
        index = index.starts() if part is None else part
    windows = view[index]
    return windows[:, :spec.lookback], windows[:, spec.lookback:, :n_targets]
