"""Score the neural model and the baselines on the same test windows with the same metrics.

Every function takes an optional `index` [K]: the windows of the part that are scored (the
forecast origins of a rolling-origin backtest, see `forecast.backtest`); None scores all.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from forecast import metrics
from forecast.baselines import takes_calendar
from forecast.data import WindowDataModule
from forecast.data.calendar import calendar_features, calendar_names
from forecast.data.timeaxis import wall_clock
from forecast.data.windows import gather_windows
from forecast.errors import ConfigError, ForecastError

log = logging.getLogger(__name__)
NEURAL, BASELINE = "neural", "baseline"
SCALED_METRICS = ("mse", "rmse", "mae")  # `{part}_norm_*`: the literature's errors
# The baselines' inputs held at once: the training windows they are fitted on (drawn at random
# beyond it), and each chunk of the windows they forecast. Ridge needs ~8x this while fitting.
WINDOW_BYTES = 512 << 20


@dataclass
class Result:
    """One model's forecast of a part, with its scores.

    Attributes:
        name: model name shown in tables and MLflow.
        family: "neural" or "baseline".
        forecast: [K, H, T] forecast on the scaled (normalised) axis.
        fit_seconds: training time (summed over refits in a refitting backtest).
        metrics: `{part}_mse` ... in original units, `{part}_norm_mse` ... on the scaled axis.
        params: the estimator's parameters (baselines).
        per_step: `mse`, `mae` ... (original units) and `norm_mse` ... (scaled), arrays [H].
        index: [K] the part's windows that were forecast; None = all of them.
        band: None, or (level, half-widths [K, H, T] on the scaled axis) of the forecast's
            prediction interval, drawn around it in the forecast figure.
    """

    name: str
    family: str
    forecast: np.ndarray
    fit_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    per_step: dict[str, np.ndarray] = field(default_factory=dict)
    index: np.ndarray | None = None
    band: tuple[int, np.ndarray] | None = None


def all_windows(dm: WindowDataModule, part: str, index: np.ndarray | None = None) -> np.ndarray:
    """[K] window numbers of a part: `index`, or every window."""
    return np.arange(len(dm.starts_[part])) if index is None else np.asarray(index)


def windows(dm: WindowDataModule, part: str, index: np.ndarray | None = None):
    """Scaled inputs [K, L, C] and targets [K, H, T] of a part's windows `index` (default all)."""
    if index is None:
        return dm.windows(part)
    return windows_at(dm, dm.starts_[part][index])


def windows_at(dm: WindowDataModule, starts: np.ndarray):
    """Scaled inputs [K, L, C] and targets [K, H, T] of the windows at global rows `starts`."""
    return gather_windows(dm.values_, starts, dm.spec, dm.dims["n_targets"])


def target_calendar(dm: WindowDataModule, starts: np.ndarray,
                    with_calendar: bool = True) -> np.ndarray:
    """[K, H, F] known-future inputs of the target steps of the windows at rows `starts`, for
    the baselines: calendar features (`with_calendar`, whether or not the nets use a calendar),
    then the static and future features the nets get.

    Only calendar features that cycle at least `MIN_CYCLES` times in the training part are
    kept: with one year of training data, day of year, month or day of month can only be
    memorised, not learned (on ETTh1 OT they took gradient boosting from 0.058 to 0.16
    normalised MSE).
    """
    rows = np.asarray(starts)[:, None] + dm.spec.lookback + np.arange(dm.spec.horizon)
    parts = []
    if with_calendar:
        times = dm.target_times(starts)
        panel = dm.panel_
        features = calendar_features(wall_clock(pd.Index(times.ravel()), panel.tz, panel.freq),
                                     panel.freq)  # [K * H, F]
        parts.append(features.reshape(*times.shape, -1)[..., learnable_calendar(dm)])
    if dm.calendar_ is not None:  # static, then future features: [K, H, F']
        parts.append(dm.calendar_[rows][..., dm.n_calendar_:])
    if not parts:
        return np.zeros((*rows.shape, 0), dtype=np.float32)
    return np.concatenate(parts, axis=-1, dtype=np.float32)


def baseline_inputs(dm: WindowDataModule, starts: np.ndarray, baselines: dict) -> dict:
    """The y_time each baseline gets for the windows at rows `starts` (None: lags only): with
    `calendar=None` what the nets get (the calendar if `data.calendar`, static and future
    features), with True also the calendar features the nets do without."""
    variants, inputs = {}, {}
    for name, estimator in baselines.items():
        if not takes_calendar(estimator):
            inputs[name] = None
            continue
        marks = getattr(estimator, "calendar", None) is True or bool(dm.calendar)
        if marks not in variants:
            variants[marks] = target_calendar(dm, starts, marks)
        inputs[name] = variants[marks]
    return inputs


MIN_CYCLES = 20
_CYCLE_DAYS = {"minute": 1 / 24, "hour": 1, "weekday": 7, "day": 31, "yearday": 366,
               "month": 366}


def learnable_calendar(dm: WindowDataModule) -> list[int]:
    """Positions of the calendar features that repeat `MIN_CYCLES` times in training."""
    names = calendar_names(dm.panel_.freq)
    if not names:
        return []
    time, bounds, train_ends = dm.panel_.time, dm.panel_.bounds, dm.borders_[:, 0]
    span = max(time[start + end - 1] - time[start]
               for start, end in zip(bounds[:-1], train_ends, strict=True))
    days = pd.Timedelta(span).total_seconds() / 86400
    return [i for i, name in enumerate(names) if days >= MIN_CYCLES * _CYCLE_DAYS.get(name, 0)]


@torch.inference_mode()
def predict_scaled(module: torch.nn.Module, dm: WindowDataModule, part: str = "test",
                   index: np.ndarray | None = None) -> np.ndarray:
    """[K, H, T] scaled forecasts of a part's windows `index` (default all; none dropped)."""
    was_training = module.training
    module.eval()
    device = next(module.parameters()).device
    dataset, index = dm.dataset(part), np.asarray(all_windows(dm, part, index))
    outputs = [torch.zeros(0, dm.spec.horizon, dm.dims["n_targets"])]
    for start in range(0, len(index), dm.eval_batch_size):
        chunk = index[start:start + dm.eval_batch_size]
        batch = {k: v.to(device) for k, v in dataset.gather(chunk).items()}
        outputs.append(module(batch).float().cpu())
    module.train(was_training)
    return torch.cat(outputs).numpy()


def score(result: Result, dm: WindowDataModule, part: str = "test") -> Result:
    """Fill `result.metrics` and `result.per_step` against the true targets of the part's
    windows `result.index`."""
    index = all_windows(dm, part, result.index)
    _, y_scaled = windows(dm, part, result.index)
    y = dm.inverse_transform(y_scaled, part, index)
    yhat = dm.inverse_transform(result.forecast, part, index)
    scale = dm.mase_scale(part)[index]
    result.metrics = {**metrics.score(y, yhat, scale, prefix=f"{part}_"),
                      **_scaled_scores(y_scaled, result.forecast, f"{part}_norm_")}
    result.per_step = {**metrics.score(y, yhat, scale, by_step=True),
                       **_scaled_scores(y_scaled, result.forecast, "norm_", True)}
    return result


def _scaled_scores(y_scaled, forecast, prefix: str, by_step: bool = False) -> dict:
    """The errors on the scaled axis (`SCALED_METRICS`): values there cross zero, so MAPE and
    sMAPE mean nothing, and MASE, scale-free, would repeat the original units' one."""
    scores = metrics.score(y_scaled, forecast, prefix=prefix, by_step=by_step)
    return {f"{prefix}{name}": scores[f"{prefix}{name}"] for name in SCALED_METRICS}


def fit_baseline(estimator, X: np.ndarray, y: np.ndarray, y_time: np.ndarray) -> float:
    """Fit one baseline (with the calendar if it takes one); returns the seconds it took."""
    start = time.perf_counter()
    estimator.fit(X, y, y_time=y_time) if takes_calendar(estimator) else estimator.fit(X, y)
    return time.perf_counter() - start


def predict_baseline(estimator, X: np.ndarray, y_time: np.ndarray) -> np.ndarray:
    """[N, H, T] float32 forecast of a fitted baseline."""
    forecast = (estimator.predict(X, y_time=y_time) if takes_calendar(estimator)
                else estimator.predict(X))
    return np.asarray(forecast, dtype=np.float32)


def build_baselines(spec, season: int, lookback: int | None = None) -> dict:
    """Instantiate the configured baselines (`conf/baselines`); `season: null` takes the data's.

    A baseline whose season does not fit in `lookback` cannot see one season back: with the
    data's season it is left out (a sweep over the lookback goes on), with a configured one it
    is a ConfigError, before anything trains.
    """
    from hydra.utils import instantiate  # configs only; keeps this module free of Hydra

    baselines = {}
    for name, options in (spec or {}).items():
        from_data = "season" in options and options.season is None
        estimator = instantiate(options, **({"season": season} if from_data else {}))
        if lookback is not None and (getattr(estimator, "season", None) or 0) > lookback:
            if not from_data:
                raise ConfigError(f"baselines.{name}.season: {estimator.season} is longer than "
                                  f"the lookback {lookback}; raise data.lookback or lower the "
                                  "season.")
            log.info(f"baselines: {name} left out, the data's season {season} is longer than "
                     f"the lookback {lookback}.")
            continue
        baselines[name] = estimator
    return baselines


TRIAL_WINDOWS = 256  # enough for every baseline's own minimum (neighbours, leaves)


def check_baselines(baselines: dict, dm: WindowDataModule) -> None:
    """Fit each baseline on the first training windows, so that a setting its estimator
    rejects (`baselines.ridge.alpha=-1`) is one ConfigError naming it before the network
    trains, not an error after it."""
    every = dm.starts_["train"].starts()
    starts = every[np.linspace(0, len(every) - 1, min(len(every), TRIAL_WINDOWS)).astype(int)]
    X, y = gather_windows(dm.values_, starts, dm.spec, dm.panel_.n_targets)
    inputs = baseline_inputs(dm, starts, baselines)
    for name, estimator in baselines.items():
        try:
            fit_baseline(clone(estimator), X, y, inputs[name])
        except ForecastError:
            raise
        except (ValueError, TypeError) as error:  # scikit-learn's parameter checks
            message = (str(error).splitlines() or [type(error).__name__])[0].rstrip(".")
            raise ConfigError(f"baselines.{name}: {message}; fix its setting, or leave it out "
                              f"with ~baselines.{name}.") from None


def run_baselines(baselines: dict, dm: WindowDataModule, part: str = "test",
                  index: np.ndarray | None = None) -> list[Result]:
    """Fit each baseline on the training windows (at most `WINDOW_BYTES` of them, drawn at
    random) and score it on the part's windows `index` (default all), gathered a chunk of
    `WINDOW_BYTES` at a time."""
    if not baselines:
        return []
    dm.setup()
    train_starts = training_sample(dm)
    X_train, y_train = windows_at(dm, train_starts)
    train_time = baseline_inputs(dm, train_starts, baselines)
    fit_seconds = {name: fit_baseline(estimator, X_train, y_train, train_time[name])
                   for name, estimator in baselines.items()}
    del X_train, y_train, train_time
    test_starts = dm.starts_[part][all_windows(dm, part, index)]
    forecasts = {name: [np.zeros((0, dm.spec.horizon, dm.dims["n_targets"]), np.float32)]
                 for name in baselines}
    for chunk in np.array_split(test_starts,
                                max(1, -(-len(test_starts) // _windows_in_budget(dm)))):
        X_test, _ = windows_at(dm, chunk)
        test_time = baseline_inputs(dm, chunk, baselines)
        for name, estimator in baselines.items():
            forecasts[name].append(predict_baseline(estimator, X_test, test_time[name]))
    return [score(Result(name, BASELINE, np.concatenate(forecasts[name]), fit_seconds[name],
                         params=estimator.get_params(), index=index), dm, part)
            for name, estimator in baselines.items()]


def training_sample(dm: WindowDataModule) -> np.ndarray:
    """Rows at which the baselines' training windows start: every training window, or, where
    they would take more than `WINDOW_BYTES`, as many drawn at random (in order; `dm.seed`)."""
    every = dm.starts_["train"].starts()
    most = _windows_in_budget(dm)
    if len(every) <= most:
        return every
    log.info(f"baselines: fitted on {most} of the {len(every)} training windows, drawn at "
             f"random (all would take {len(every) / most:.1f}x the "
             f"{WINDOW_BYTES / 2**20:g} MiB the baselines hold); raise data.stride to thin them "
             "evenly instead.")
    return np.sort(np.random.default_rng(dm.seed).choice(every, most, replace=False))


def _windows_in_budget(dm: WindowDataModule) -> int:
    """How many windows fit in `WINDOW_BYTES`: their inputs [L, C] and targets [H, T] in
    float32, and the known-future inputs of their steps [H, F] in float64."""
    known = 0 if dm.calendar_ is None else dm.calendar_.shape[1]
    size = (4 * dm.spec.lookback * dm.values_.shape[1]
            + dm.spec.horizon * (4 * dm.dims["n_targets"] + 8 * known))
    return max(1, WINDOW_BYTES // size)
