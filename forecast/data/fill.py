"""Fill policies for missing values and missing time steps, applied within each series.

Everything is vectorised over the stacked series (a fill never reaches across a series
border), so a long frame of thousands of series is repaired without a Python loop per series.
"""

from __future__ import annotations

import numpy as np

FILL_POLICIES = ("ffill", "interpolate", "zero")


def insert_missing_steps(values: np.ndarray, positions: np.ndarray,
                         bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put each row at its grid position, with NaN rows for the missing steps.

    Args:
        values: [N, C] rows of the stacked series.
        positions: [N] position of each row on its series' regular grid (first row 0).
        bounds: [S + 1] first row of each series in `values`, then N.

    Returns:
        values [T, C] (T >= N) and their bounds [S + 1]; the inputs when nothing is missing.
    """
    lengths = positions[bounds[1:] - 1] + 1
    grid_bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if grid_bounds[-1] == len(values):
        return values, bounds
    out = np.full((grid_bounds[-1], values.shape[1]), np.nan, dtype=values.dtype)
    out[np.repeat(grid_bounds[:-1], np.diff(bounds)) + positions] = values
    return out, grid_bounds


def fill_missing(values: np.ndarray, bounds: np.ndarray, policy: str) -> tuple[int, int] | None:
    """Replace NaN and inf in `values` [T, C] in place, within each series.

    "zero" writes 0; "ffill" carries the last value forward; "interpolate" draws a straight
    line between the neighbours. Leading gaps take the first value after them (as pandas'
    `ffill().bfill()`).

    Returns:
        None, or (series, channel) of the first series with no value at all in a channel.
    """
    missing = ~np.isfinite(values)
    if not missing.any():
        return None
    if policy == "zero":
        values[missing] = 0.0
        return None
    rows, lengths = np.arange(len(values)), np.diff(bounds)
    start, end = np.repeat(bounds[:-1], lengths), np.repeat(bounds[1:], lengths)
    for channel in np.flatnonzero(missing.any(axis=0)):
        valid = ~missing[:, channel]
        prev = np.maximum.accumulate(np.where(valid, rows, -1))  # last valid row <= t
        after = np.minimum.accumulate(np.where(valid, rows, len(rows))[::-1])[::-1]  # next >= t
        has_prev, has_next = prev >= start, after < end
        if not (has_prev | has_next).all():
            row = int(np.argmin(has_prev | has_next))
            return int(np.searchsorted(bounds, row, side="right") - 1), int(channel)
        column = values[:, channel]
        left = column[np.where(has_prev, prev, after)]
        if policy == "interpolate":
            right = column[np.where(has_next, after, prev)]
            both = has_prev & has_next
            weight = np.where(both, (rows - prev) / np.maximum(after - prev, 1), 0.0)
            left = left + (right - left) * weight
        values[:, channel] = np.where(valid, column, left)
    return None
