"""Prediction intervals by normalised split conformal prediction, for any point forecaster.

Each held-out validation window's absolute errors, per horizon step and target on the scaled
axis, are divided by the window's spread (the standard deviation of its target over the
lookback: a volatile or grown series gets wider intervals than a calm one), series pooled. At
level p the interval's half-width is the ceil((n + 1) p)-th smallest of these n normalised
errors times the new window's spread. Where windows are exchangeable this covers each forecast
value with probability >= p; in practice the windows overlap, the same windows also picked the
best epoch (so the errors are a little optimistic), and a series that behaves differently
after validation is covered less or more: experiments/intervals.py measures it on real data.
Coverage is per value and pooled over series, not for a whole horizon nor for each series.
A `Calibration` keeps one half-width per whole percentage, so a saved model answers any level
1..99 without keeping its errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.errors import ConfigError

LEVELS = np.arange(1, 100)  # the whole percentages a calibration answers
REPORTED = (80, 95)  # the levels an experiment scores on its test windows
FLOOR = 0.1  # the least spread of a window, as a share of the calibration windows' mean spread


def conformal_widths(scores: np.ndarray) -> np.ndarray:
    """[99, ...] the ceil((n + 1) p)-th smallest of the n `scores` [N, ...] at each level p of
    `LEVELS`; inf where that rank exceeds n (too few windows for the level)."""
    scores = np.sort(scores, axis=0)
    n = len(scores)
    rank = np.ceil((n + 1) * LEVELS / 100).astype(int)
    widths = np.full((len(LEVELS), *scores.shape[1:]), np.inf, dtype=np.float32)
    known = rank <= n
    widths[known] = scores[rank[known] - 1]
    return widths


@dataclass
class Calibration:
    """Normalised half-widths [99, H, T] at `LEVELS`, the least spread [T] a window is given,
    and the number of windows they came from."""

    widths: np.ndarray
    floor: np.ndarray
    windows: int

    @classmethod
    def fit(cls, forecast: np.ndarray, actual: np.ndarray, spreads: np.ndarray) -> Calibration:
        """From the scaled forecasts and actuals [N, H, T] of N windows and their spreads
        [N, 1, T] (`spread`)."""
        mean = spreads.mean(axis=(0, 1))
        floor = np.where(mean > 0, FLOOR * mean, 1.0)  # a constant target: its scale
        scores = np.abs(actual - forecast) / np.maximum(spreads, floor)
        return cls(conformal_widths(scores), floor.astype(np.float32), len(actual))

    def half_width(self, level: int, spreads: np.ndarray) -> np.ndarray:
        """[N, H, T] scaled half-widths at `level` for windows of spreads [N, 1, T]."""
        return self.widths[level - 1] * np.maximum(spreads, self.floor)

    def answers(self, level: int) -> bool:
        return bool(np.isfinite(self.widths[level - 1]).all())


def spread(inputs: np.ndarray, n_targets: int) -> np.ndarray:
    """[N, 1, T] the standard deviation over the lookback of each window's targets, from the
    inputs [N, L, C] (targets first)."""
    return inputs[..., :n_targets].std(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)


def check_levels(level, calibration: Calibration | None) -> list[int]:
    """`level` (a number or numbers in 1..99) as a sorted list; one ConfigError where a level is
    not a whole percentage, or `calibration` cannot answer it."""
    levels = _as_list(level)
    level = level.tolist() if hasattr(level, "tolist") else level  # as the message shows it
    if not levels or not all(isinstance(value, (int, float, np.number))
                             and not isinstance(value, bool) and value in LEVELS
                             for value in levels):
        raise ConfigError(f"level={level!r}: give whole percentages between 1 and 99, e.g. "
                          "level=[80, 95].")
    if calibration is None:
        raise ConfigError(f"level={level!r}: this model has no calibration for intervals; it "
                          "was fitted without validation windows (val_size=0) or saved by an "
                          "older version; refit it with val_size > 0.")
    levels = sorted({int(value) for value in levels})
    too_high = [value for value in levels if not calibration.answers(value)]
    if too_high:
        need = int(np.ceil(too_high[-1] / (100 - too_high[-1])))  # (n + 1) p <= n
        raise ConfigError(f"level={too_high[-1]}: a {too_high[-1]}% interval needs at least "
                          f"{need} validation windows and the model was calibrated on "
                          f"{calibration.windows}; ask for a lower level or raise val_size.")
    return levels


def _as_list(level) -> list | None:
    """A number (or 0-d array) as [number]; a list, tuple, array or Series as a list; None
    for any other shape."""
    try:
        dims = np.ndim(level)
    except ValueError:  # ragged nesting
        return None
    return np.asarray(level, dtype=object).reshape(-1).tolist() if dims <= 1 else None


def interval_names(targets: list[str], levels: list[int]) -> list[str]:
    """`y`, `y-lo-80`, `y-hi-80`, ... for each target: the point forecast, then each level's
    bounds (NeuralForecast's naming)."""
    return [name for target in targets for name in [target, *bound_names([target], levels)]]


def bound_names(targets: list[str], levels: list[int]) -> list[str]:
    """`y-lo-80`, `y-hi-80`, ...: the columns of the interval bounds of each target."""
    return [f"{target}-{side}-{level}" for target in targets for level in levels
            for side in ("lo", "hi")]


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside [lower, upper]."""
    return float(np.mean((actual >= lower) & (actual <= upper)))


def coverage_prefix(part: str) -> str:
    """The start of the coverage metrics' names of a part: `test_coverage_` (+ the level)."""
    return f"{part}_coverage_"


def coverage_metrics(calibration: Calibration | None, forecast: np.ndarray, actual: np.ndarray,
                     spreads: np.ndarray, part: str = "test") -> dict[str, float]:
    """`{part}_coverage_80`, `..._95`: the share of the actual values [K, H, T] inside the
    intervals around the forecasts [K, H, T] of windows of spreads [K, 1, T] (all scaled), for
    the `REPORTED` levels the calibration answers."""
    if calibration is None:
        return {}
    metrics = {}
    for level in REPORTED:
        if calibration.answers(level):
            half = calibration.half_width(level, spreads)
            metrics[f"{coverage_prefix(part)}{level}"] = coverage(actual, forecast - half,
                                                            forecast + half)
    return metrics
