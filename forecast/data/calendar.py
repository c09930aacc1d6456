"""Calendar features of timestamps, known in advance and so usable as future inputs."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecast.data.checks import epoch_fix, epoch_unit

log = logging.getLogger(__name__)

# Each feature is scaled to [-0.5, 0.5], as TSLib's `timeF` encoding.
_FEATURES = {
    "minute": lambda t: t.minute / 59.0,
    "hour": lambda t: t.hour / 23.0,
    "weekday": lambda t: t.day_of_week / 6.0,
    "day": lambda t: (t.day - 1) / 30.0,
    "yearday": lambda t: (t.day_of_year - 1) / 365.0,
    "month": lambda t: (t.month - 1) / 11.0,
}


_DAY = 86400.0


def step_seconds(freq: str) -> float:
    """Length of one step in seconds; for calendar steps (months, weeks, business days) the
    mean of twelve steps from the first one after 2001-01-01."""
    step = pd.tseries.frequencies.to_offset(freq)
    if isinstance(step, pd.offsets.Tick):
        return pd.Timedelta(step).total_seconds()
    start = pd.Timestamp("2001-01-01") + step  # on the offset's anchor (a Sunday for W-SUN)
    return (start + 12 * step - start).total_seconds() / 12


def calendar_names(freq: str | int) -> list[str]:
    """The features that vary at this frequency (finer frequencies get more)."""
    if isinstance(freq, int):
        return []
    seconds = step_seconds(freq)
    if seconds < 3600:
        return list(_FEATURES)
    if seconds < _DAY:
        return ["hour", "weekday", "day", "yearday", "month"]
    if seconds < 7 * _DAY:
        return ["weekday", "day", "yearday", "month"]
    if seconds < 28 * _DAY:
        return ["yearday", "month"]
    if seconds < 365 * _DAY:
        return ["month"]
    return []


def calendar_features(time: pd.Index, freq: str | int) -> np.ndarray:
    """[T, F] float32 features of `time`; F = 0 for an integer time axis or yearly steps."""
    names = calendar_names(freq)
    if not names:
        return np.zeros((len(time), 0), dtype=np.float32)
    columns = [np.asarray(_FEATURES[name](time), dtype=np.float32) - 0.5 for name in names]
    return np.stack(columns, axis=1)


def note_empty_calendar(freq: str | int, time_name: str, start: pd.Index) -> None:
    """Warn that `calendar=True` adds no feature at this frequency: integer steps have no
    calendar (`start`: each series' first step, to tell epoch seconds), and no feature varies
    at a year's step."""
    if calendar_names(freq):
        return
    if isinstance(freq, (int, np.integer)):
        why = f"the time axis '{time_name}' holds integer steps (of {freq}), which have no calendar"
        unit = epoch_unit(np.asarray(start, dtype=np.int64))
        fix = (epoch_fix(unit, time_name) if unit else "To have calendar features, give the "
               "time as a datetime column (see pd.to_datetime); else set it to false.")
    else:
        why = f"no calendar feature (hour, weekday, day, month) varies at a step of {freq}"
        fix = "Set it to false."
    log.warning(f"data.calendar=true (calendar=True in Python) adds no feature: {why}. {fix}")


def season_length(freq: str | int) -> int:
    """The usual season of a frequency: 24 hourly, 96 at 15 min, 7 daily, 52 weekly, 12 monthly."""
    if isinstance(freq, int):
        return 1
    seconds = step_seconds(freq)
    if seconds >= 365 * _DAY:
        return 1
    if seconds >= 28 * _DAY:
        return max(1, round(360 * _DAY / seconds))  # 12 months, 4 quarters
    if seconds >= 7 * _DAY:
        return max(1, round(364 * _DAY / seconds))
    if pd.tseries.frequencies.to_offset(freq).rule_code.startswith("B"):
        return 5
    if seconds >= _DAY:
        return max(1, round(7 * _DAY / seconds))
    return max(1, round(_DAY / seconds))


def stack_known(calendar: np.ndarray | None, static: np.ndarray | None,
                future: np.ndarray | None) -> np.ndarray | None:
    """The known inputs a network reads beside the series (`x_time`, `y_time`) [..., F]:
    calendar features, then each series' static encoding, then the known-future columns.
    Training, prediction and the baselines all stack them here, so the order is one; None
    without any."""
    parts = [part for part in (calendar, static, future) if part is not None]
    return np.concatenate(parts, axis=-1, dtype=np.float32) if parts else None
