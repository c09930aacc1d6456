"""Prediction intervals by split conformal prediction, for any point forecaster.

The absolute errors of the forecasts of the held-out validation windows, per horizon step and
target on the scaled axis (series pooled), calibrate a symmetric interval around each point
forecast: at level p the interval's half-width is the ceil((n + 1) p)-th smallest of the n
errors, which covers a new window's value with probability >= p where the windows are
exchangeable (a stationary series; a series that drifts between validation and use covers
less). `calibrate` keeps one half-width per whole percentage, [99, H, T], so a saved model
answers any level 1..99 without keeping its errors.
"""

from __future__ import annotations

import numpy as np

from forecast.errors import ConfigError

LEVELS = np.arange(1, 100)  # the whole percentages a calibration answers


def calibrate(forecast: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Half-widths [99, H, T] at `LEVELS` from forecasts and actuals [N, H, T] of N windows;
    inf where a level needs more windows than N (ceil((n + 1) p) > n)."""
    errors = np.sort(np.abs(np.asarray(actual) - np.asarray(forecast)), axis=0)  # [N, H, T]
    n = len(errors)
    rank = np.ceil((n + 1) * LEVELS / 100).astype(int)  # 1-based rank of each level's error
    widths = np.full((len(LEVELS), *errors.shape[1:]), np.inf, dtype=np.float32)
    known = rank <= n
    widths[known] = errors[rank[known] - 1]
    return widths


def check_levels(level, widths: np.ndarray | None, n_windows: int) -> list[int]:
    """`level` (a number or numbers in 1..99) as a sorted list; one ConfigError where a level is
    not a whole percentage, or the calibration (`widths`, from `n_windows` windows) cannot
    answer it."""
    levels = list(level) if isinstance(level, (list, tuple, np.ndarray)) else [level]
    whole = [isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
             and value in LEVELS for value in levels]
    if not levels or not all(whole):
        raise ConfigError(f"level={level!r}: give whole percentages between 1 and 99, e.g. "
                          "level=[80, 95].")
    if widths is None:
        raise ConfigError(f"level={level!r}: this model has no calibration for intervals; it "
                          "was fitted without validation windows (val_size=0) or saved by an "
                          "older version; refit it with val_size > 0.")
    levels = sorted({int(value) for value in levels})
    too_high = [value for value in levels if not np.isfinite(widths[value - 1]).all()]
    if too_high:
        need = int(np.ceil(too_high[-1] / (100 - too_high[-1])))  # (n + 1) p <= n
        raise ConfigError(f"level={too_high[-1]}: a {too_high[-1]}% interval needs at least "
                          f"{need} validation windows and the model was calibrated on "
                          f"{n_windows}; ask for a lower level or raise val_size.")
    return levels


def bounds(forecast: np.ndarray, widths: np.ndarray, scale: np.ndarray, level: int):
    """(lower, upper) [S, H, T] around the forecast [S, H, T] in original units, from scaled
    half-widths [99, H, T] and the scale [S, 1, T] of each series."""
    half = widths[level - 1] * scale
    return forecast - half, forecast + half


def interval_names(targets: list[str], levels: list[int]) -> list[str]:
    """`y`, `y-lo-80`, `y-hi-80`, ... for each target: the point forecast, then each level's
    bounds (NeuralForecast's naming)."""
    return [name for target in targets for name in
            [target, *(f"{target}-{side}-{level}" for level in levels for side in ("lo", "hi"))]]


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside [lower, upper]."""
    return float(np.mean((actual >= lower) & (actual <= upper)))


REPORTED = (80, 95)  # the levels an experiment scores


def coverage_metrics(widths: np.ndarray | None, forecast: np.ndarray, actual: np.ndarray,
                     prefix: str = "test_") -> dict[str, float]:
    """`{prefix}coverage_80`, `..._95`: the share of the actual values [K, H, T] inside the
    intervals around the forecasts [K, H, T] (both scaled), for the `REPORTED` levels the
    calibration answers."""
    if widths is None:
        return {}
    return {f"{prefix}coverage_{level}": coverage(actual, *bounds(forecast, widths, 1.0, level))
            for level in REPORTED if np.isfinite(widths[level - 1]).all()}
