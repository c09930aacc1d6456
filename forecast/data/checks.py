"""Checks of the stacked rows of a frame, each one numpy expression over all series at once.

`ticks` are int64 timestamps in the panel's row order (series after series), `bounds` [S + 1]
the first row of each series; a `RowNames` turns a position back into the words of an error
message (series id, 0-based row of the input frame, timestamp).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.timeaxis import to_index
from forecast.errors import DataError


@dataclass(frozen=True)
class RowNames:
    """Names a row of the stacked panel in an error message.

    Args:
        order: [N] input-frame row of each panel row, or None when they are the same.
        bounds: [S + 1] first panel row of each series.
        series_ids: the S series ids.
        ticks: [N] timestamps as int64.
        unit: the ticks' unit ("ns" ...), None for an integer time axis.
        tz: the timezone to show times in, where the ticks hold them in UTC (timezone-aware
            times below a day's step); None to show them as they are.
    """

    order: np.ndarray | None
    bounds: np.ndarray
    series_ids: tuple[str, ...]
    ticks: np.ndarray
    unit: str | None
    tz: str | None = None

    def series(self, k: int) -> int:
        return int(np.searchsorted(self.bounds, k, side="right") - 1)

    def where(self, k: int) -> str:
        """" (series 'id')" for a long frame, "" for a single series."""
        return "" if len(self.series_ids) == 1 else f" (series '{self.series_ids[self.series(k)]}')"

    def row(self, k: int) -> int:
        return int(k if self.order is None else self.order[k])

    def time(self, k: int) -> str:
        time = to_index(self.ticks[[k]], self.unit)
        return str((time.tz_localize("UTC").tz_convert(self.tz) if self.tz else time)[0])


def row_order(codes: np.ndarray | None, ticks: np.ndarray, sort: bool) -> np.ndarray | None:
    """Input rows in panel order (series after series; by time if `sort`), or None when the
    frame already is in that order."""
    step_up = ticks[1:] >= ticks[:-1] if sort else True
    if codes is None:
        return None if np.all(step_up) else np.argsort(ticks, kind="stable")
    same = codes[1:] == codes[:-1]
    if np.all((codes[1:] > codes[:-1]) | (same & step_up)):
        return None
    if not sort:  # small ints (see _series_codes): numpy's radix sort
        return np.argsort(codes, kind="stable")
    by_time = np.argsort(ticks, kind="stable")  # two stable sorts: much faster than lexsort
    return by_time[np.argsort(codes[by_time], kind="stable")]


def within_series(bounds: np.ndarray) -> np.ndarray:
    """[N - 1] True for each step between two rows of the same series."""
    within = np.ones(bounds[-1] - 1, dtype=bool)
    within[bounds[1:-1] - 1] = False
    return within


def check_order(ticks: np.ndarray, bounds: np.ndarray, rows: RowNames) -> None:
    """Timestamps must increase strictly within each series."""
    within = within_series(bounds)
    backwards = (ticks[1:] < ticks[:-1]) & within
    if backwards.any():
        k = int(np.argmax(backwards)) + 1
        raise DataError(f"data{rows.where(k)}: timestamps are not sorted (row {rows.row(k)}: "
                        f"{rows.time(k)} comes after {rows.time(k - 1)}); sort the frame or set "
                        "data.sort=true.")
    repeated = (ticks[1:] == ticks[:-1]) & within
    if repeated.any():
        k = int(np.argmax(repeated)) + 1
        raise DataError(f"data{rows.where(k)}: duplicate timestamp {rows.time(k)} at row "
                        f"{rows.row(k)} (also at row {rows.row(k - 1)}); aggregate duplicates "
                        "first (e.g. df.groupby([id, time]).mean()).")


def check_frequencies(regular: np.ndarray, bounds: np.ndarray, freq, rows: RowNames,
                      reference: int) -> None:
    """Every series with two rows or more must take at least one step of `freq` (the
    frequency of series `reference`); otherwise it runs at another frequency.

    Args:
        regular: [N - 1] whether each row is one `freq` after the row before it.
    """
    if not len(regular):
        return
    regular = regular & within_series(bounds)
    ticks = rows.ticks
    firsts = bounds[:-1][np.diff(bounds) >= 2]
    if not len(firsts):
        return
    any_regular = np.logical_or.reduceat(regular, firsts)
    if any_regular.all():
        return
    k = int(firsts[np.argmin(any_regular)])
    step = to_index(ticks[[k, k + 1]], rows.unit)
    raise DataError(f"data: series '{rows.series_ids[rows.series(k)]}' steps from {step[0]} to "
                    f"{step[1]} and never by {freq}, the frequency of series "
                    f"'{rows.series_ids[reference]}': the series have different frequencies. "
                    "Resample every series to one frequency first.")


def check_regular(regular: np.ndarray, bounds: np.ndarray, freq, rows: RowNames) -> None:
    """Every step within a series must be exactly one `freq` (`regular`: as above)."""
    irregular = ~regular & within_series(bounds)
    if irregular.any():
        k = int(np.argmax(irregular)) + 1
        fix = ("Resample to a regular grid, or set data.fill=interpolate (or ffill, zero) to "
               "fill the gaps.")
        if rows.unit is None and _dates_as_numbers(rows.ticks[[k - 1, k]]):
            fix = ("These integers look like dates written as YYYYMMDD: read the column as dates "
                   "(pd.to_datetime(df[col].astype(str), format='%Y%m%d')).")
        elif rows.unit is None and (unit := epoch_unit(rows.ticks[[k - 1, k]])):
            fix = f"{epoch_fix(unit, 'col')} {fix}"
        elif _about_a_month(freq):
            fix = ("The steps look monthly on a fixed day of the month, which has no pandas "
                   "frequency: put the dates on month starts first "
                   "(df[time] = df[time].dt.to_period('M').dt.to_timestamp()).")
        raise DataError(f"data{rows.where(k)}: irregular time steps: expected one step of "
                        f"{freq}, but row {rows.row(k)} ({rows.time(k)}) follows "
                        f"{rows.time(k - 1)}. {fix}")


def _about_a_month(freq) -> bool:
    """Whether `freq` is a fixed step of 28 to 31 days (as inferred from monthly dates on the
    15th), not a calendar month."""
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (TypeError, ValueError):
        return False
    return pd.Timedelta(days=28) <= step <= pd.Timedelta(days=31)


def _dates_as_numbers(ticks: np.ndarray) -> bool:
    """Whether integer times read as dates YYYYMMDD (19580329: 29 March 1958)."""
    year, month, day = ticks // 10_000, ticks // 100 % 100, ticks % 100
    return bool(np.all((year >= 1000) & (year <= 9999) & (month >= 1) & (month <= 12)
                       & (day >= 1) & (day <= 31)))


_EPOCH_SECONDS = (315_532_800, 4_102_444_800)  # 1980-01-01 .. 2100-01-01


def epoch_unit(ticks: np.ndarray) -> str | None:
    """"s" or "ms" where integer times read as Unix epoch seconds or milliseconds (1609459200:
    2021-01-01), else None."""
    for unit, scale in (("s", 1), ("ms", 1000)):
        lo, hi = (bound * scale for bound in _EPOCH_SECONDS)
        if np.all((ticks >= lo) & (ticks < hi)):
            return unit
    return None


def epoch_fix(unit: str, column) -> str:
    """What to do with a time column of Unix epoch `unit`s."""
    name = "seconds" if unit == "s" else "milliseconds"
    return (f"These integers look like Unix epoch {name}: read the column as timestamps "
            f"(pd.to_datetime(df['{column}'], unit='{unit}')).")


def check_finite(values: np.ndarray, columns: list, rows: RowNames) -> None:
    """No NaN or inf anywhere (when no fill policy is set)."""
    # A float64 sum is finite exactly when every value is (float32 values cannot overflow it),
    # and costs no [T, C] temporary.
    with np.errstate(invalid="ignore"):  # inf - inf
        sums = values.sum(axis=0, dtype=np.float64)
    if np.isfinite(sums).all():
        return
    channel = int(np.argmin(np.isfinite(sums)))
    bad = ~np.isfinite(values[:, channel])
    k = int(np.argmax(bad))
    series = rows.series(k)
    here = int(bad[rows.bounds[series]:rows.bounds[series + 1]].sum())
    hit = np.add.reduceat(bad, rows.bounds[:-1]) > 0 if len(rows.series_ids) > 1 else [True]
    more = (f" ({int(bad.sum())} in {int(np.sum(hit))} series)" if here < bad.sum() else "")
    raise DataError(f"data{rows.where(k)}: column '{columns[channel]}' has {here} "
                    f"missing or infinite value(s){more}, the first at row {rows.row(k)} "
                    f"({rows.time(k)}); clean them or set data.fill=ffill (or interpolate, "
                    "zero).")
