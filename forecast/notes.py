"""What a fitted `Forecaster` says about what it is given and what it gives: new series,
histories far from the training values, forecasts that are no numbers, series a metric cannot
score."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecast.errors import DataError
from forecast.inference import History, Schema

log = logging.getLogger(__name__)


def note_new_series(ids: list[str], fitted: list[str]) -> None:
    """Warn about a series not in the fit whose id differs from a fitted one only in case or
    spaces ('h1 ' for 'H1'): it is scaled on its own lookback rows, so the typo changes the
    forecast."""
    new = set(ids).difference(fitted)
    if not new:
        return
    folded = {name.strip().casefold(): name for name in fitted}
    for name in sorted(new):
        close = folded.get(name.strip().casefold())  # not difflib's: 'store_13' is new
        if close is not None:
            log.warning(f"predict: series '{name}' was not in the fit, so it is scaled on its own "
                        f"lookback rows, not as '{close}' was; did you mean '{close}'?")
            return
    log.info(f"predict: {len(new)} series not in the fit (e.g. '{min(new)}'), each scaled on its "
             "own lookback rows.")


FAR = 6.0  # a history this many training standard deviations from its training mean


def note_far_histories(scaled: np.ndarray, ids: list) -> None:
    """Warn where a history's targets [S, L, T] (scaled) lie far from the values its series
    was trained on: a network without window normalisation forecasts near those."""
    levels = np.abs(scaled.mean(axis=1)).max(axis=1)  # [S]
    far = np.flatnonzero(levels > FAR)
    if len(far):
        first = far[np.argmax(levels[far])]
        others = f" and {len(far) - 1} other series" if len(far) > 1 else ""
        log.warning(f"predict: the history of series '{ids[first]}'{others} lies "
                    f"{levels[first]:.3g} training standard deviations from the values it was "
                    "trained on; this network forecasts near the levels it learnt, so the "
                    "forecast is likely off: fit with subtract_last=True or revin=True (window "
                    "normalisation), or refit on recent data.")


def check_finite_forecast(values: np.ndarray, history: History) -> None:
    """A forecast [S, H, ...] (with its interval bounds) that is not finite (a history near
    float32's limit, a network that blew up) is an error naming its series, not NaN or inf
    handed on."""
    bad = ~np.isfinite(values).all(axis=(1, 2))
    if bad.any():
        s = int(np.argmax(bad))
        largest = float(np.nanmax(np.abs(history.values[s]))) if history.values[s].size else 0
        raise DataError(f"predict: the forecast of series '{history.ids[s]}' is not finite "
                        f"(its history reaches {largest:.3g}); rescale values near float32's "
                        "limit (3.4e38), or refit if training blew up.")


def mean_over_series(scores: np.ndarray, names: list, metric: str) -> float:
    """The mean of the series' `scores`, leaving out those the metric cannot score (MAPE of a
    series whose actuals are all zero, a missing actual), by name."""
    undefined = np.flatnonzero(np.isnan(scores))
    why = "no actual it can score: zero for MAPE, or missing"
    if len(undefined) == len(scores):
        raise DataError(f"score: {metric} is undefined for every series scored (such as "
                        f"'{names[0]}', with {why}); score by another metric (metric='smape' or "
                        "'mae'), or drop the rows without actuals.")
    if len(undefined):
        log.warning(f"score: {metric} is undefined for {len(undefined)} of {len(scores)} series "
                    f"(such as '{names[undefined[0]]}', with {why}); they are left out of the "
                    "mean.")
    return float(np.nanmean(scores))


def note_unseen_series(ids: pd.Series, schema: Schema) -> None:
    """Warn when a long frame is scored on none of the series the model was fitted on: what
    scikit-learn's TimeSeriesSplit gives, as it cuts rows (series after series), not time."""
    scored = set(map(str, ids.unique()))
    if scored.isdisjoint(schema.series_ids):
        log.warning(f"score: none of the series scored ({sorted(scored)[:5]}) was in the fit; "
                    "if this is a cross-validation split of a long frame, TimeSeriesSplit cut it "
                    "between series, not in time: pass cv= (train, test) rows cut at a date.")
