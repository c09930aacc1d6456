"""Rolling-origin backtest over the test part, for neural models and baselines alike.

A forecast origin is the first target step of a window. The backtest forecasts from an origin
every `stride` steps of each series' test part (stride 1: every test window) and scores all
models on exactly those windows with `forecast.metrics`. Nets are trained once; baselines are
fitted once on the training windows, or, with `refit=True`, again at every origin on all the
windows whose targets end before it (an expanding window: what a deployed baseline refitted
daily would have done).

Example:
    >>> from forecast.baselines import RepeatLast
    >>> from forecast.data import WindowDataModule
    >>> from forecast.data.synthetic import sine_frame
    >>> dm = WindowDataModule(frame=sine_frame(n_steps=600), lookback=48, horizon=12)
    >>> [r.name for r in backtest(dm, baselines={"naive": RepeatLast()}, stride=24)]
    ['naive']
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import clone

from forecast.data import WindowDataModule
from forecast.data.split import PARTS
from forecast.errors import ConfigError, DataError, is_positive_int
from forecast.evaluate import (
    BASELINE,
    NEURAL,
    Result,
    baseline_inputs,
    fit_baseline,
    predict_baseline,
    predict_scaled,
    run_baselines,
    score,
    windows_at,
)


def check_stride(stride) -> None:
    if not is_positive_int(stride):
        raise ConfigError(f"backtest.stride: must be a positive integer, got {stride!r}.")


def origins(dm: WindowDataModule, stride: int = 1, part: str = "test") -> np.ndarray:
    """[K] numbers of the part's windows whose origin is a multiple of `stride` steps after the
    part's first origin, in each series."""
    check_stride(stride)
    dm.setup()
    starts, series = np.asarray(dm.starts_[part]), dm.window_series(part)
    first = starts[np.searchsorted(series, series)]  # windows are grouped by series, ascending
    return np.flatnonzero((starts - first) % stride == 0)


def backtest(dm: WindowDataModule, nets: dict[str, torch.nn.Module] | None = None,
             baselines: dict | None = None, stride: int = 1, refit: bool = False,
             part: str = "test", fit_seconds: dict[str, float] | None = None) -> list[Result]:
    """Forecast and score every net and baseline from the part's origins every `stride` steps.

    Args:
        dm: the data (set up or not).
        nets: trained networks by name (`ForecastModule`s or anything mapping a batch to the
            scaled forecast [B, H, T]).
        baselines: unfitted estimators by name (`forecast.baselines`).
        stride: steps between forecast origins.
        refit: refit each baseline at every origin on the windows that end before it.
        part: the part to backtest ("test", or "val").
        fit_seconds: training time of each net, shown in the table.

    Returns:
        One `Result` per net, then per baseline, with `index` = the scored windows.
    """
    index = origins(dm, stride, part)
    results = [score(Result(name, NEURAL, predict_scaled(net, dm, part, index),
                            (fit_seconds or {}).get(name, float("nan")), index=index), dm, part)
               for name, net in (nets or {}).items()]
    if refit:
        return results + refitted_baselines(baselines or {}, dm, part, index)
    return results + run_baselines(baselines or {}, dm, part, index)


def refitted_baselines(baselines: dict, dm: WindowDataModule, part: str,
                       index: np.ndarray) -> list[Result]:
    """Each baseline cloned and refitted at every origin time, then scored (fit time summed)."""
    pool = np.unique(np.concatenate([dm.starts_[p] for p in PARTS]))  # every window there is
    pool_end = dm.target_times(pool)[:, -1]  # when each window's last target is known
    X_pool, y_pool = windows_at(dm, pool)
    calendar_pool = baseline_inputs(dm, pool, baselines)
    origin_starts = dm.starts_[part][index]
    origin_time = dm.target_times(origin_starts)[:, 0]
    X_origin, _ = windows_at(dm, origin_starts)
    calendar_origin = baseline_inputs(dm, origin_starts, baselines)
    forecasts = {name: np.zeros((len(index), dm.spec.horizon, dm.dims["n_targets"]), np.float32)
                 for name in baselines}
    seconds = dict.fromkeys(baselines, 0.0)
    for when in np.unique(origin_time):
        known, here = pool_end < when, origin_time == when
        if not known.any():
            raise DataError(f"backtest: no window ends before the origin {when}; "
                            "use backtest.refit=false or a longer training part.")
        for name, estimator in baselines.items():
            fitted = clone(estimator)
            seconds[name] += fit_baseline(fitted, X_pool[known], y_pool[known],
                                          _take(calendar_pool[name], known))
            forecasts[name][here] = predict_baseline(fitted, X_origin[here],
                                                     _take(calendar_origin[name], here))
    return [score(Result(name, BASELINE, forecasts[name], seconds[name],
                         params={**estimator.get_params(), "refit": True}, index=index), dm, part)
            for name, estimator in baselines.items()]


def _take(inputs: np.ndarray | None, which: np.ndarray) -> np.ndarray | None:
    return None if inputs is None else inputs[which]
