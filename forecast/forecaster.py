"""Forecaster: a recurrent forecaster as a scikit-learn estimator on DataFrames."""

from __future__ import annotations

import functools
import inspect
import logging
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from sklearn.base import BaseEstimator, clone
from torch.optim import lr_scheduler as schedulers

from forecast import metrics, saving
from forecast.arguments import fit_converted
from forecast.checkpoints import BestCheckpoint
from forecast.data import Split, WindowDataModule
from forecast.data.calendar import calendar_features, stack_known
from forecast.data.frame import flat_frame
from forecast.data.scaling import Scaler
from forecast.data.timeaxis import localized, wall_clock
from forecast.errors import (
    ConfigError,
    DataError,
    ForecastError,
    check_accelerator,
    is_positive_int,
    python_terms,
)
from forecast.evaluate import predict_scaled
from forecast.inference import (
    History,
    Schema,
    as_index,
    forecast_frame,
    forecast_grid,
    read_future,
    read_history,
    rows_through,
    series_frame,
)
from forecast.intervals import (
    Calibration,
    bound_names,
    check_levels,
    interval_names,
    spread,
)
from forecast.logs import quieted
from forecast.models import NETS, ForecastModule, ForecastNet
from forecast.models.ema import WeightAverage
from forecast.models.lit import Rejected, call_text, check_converged, first_steps, load_best
from forecast.notes import (
    check_finite_forecast,
    mean_over_series,
    note_far_histories,
    note_new_series,
    note_unseen_series,
)
from forecast.origins import EARLIEST, Origins, backtest_frame, read_origins, refit_every
from forecast.scoring import check_metric
from forecast.seeding import seeded

log = logging.getLogger(__name__)
MODES = {"many_to_one": "ManyToOne", "many_to_many": "ManyToMany", "seq2seq": "Seq2Seq",
         "segment": "SegmentRNN"}
# Training batches per Lightning step: the same optimiser steps, Lightning's own cost per step
# paid once per 8 (as the CLI's default data.steps_per_execution).
STEPS_PER_EXECUTION = 8
# Classes of torch.optim.lr_scheduler that are no schedule of their own: bases, and schedules of
# schedules, which keyword arguments cannot build.
NOT_BUILDABLE = frozenset({"LRScheduler", "_LRScheduler", "ChainedScheduler", "SequentialLR"})


def _python_terms(method):
    """Errors of `method` name keyword arguments (`fill='ffill'`), not config keys."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except ForecastError as error:
            raise type(error)(python_terms(str(error))) from None
    return wrapper


class Forecaster(BaseEstimator):
    """Fit a recurrent forecaster on a DataFrame and forecast the next `horizon` steps.

    Wide frames (a time column or index, one column per series) and long frames
    (`unique_id, ds, y`) are accepted; `predict` answers in the same form. Training holds out
    the last `val_size` of each series for early stopping, and keeps the weights of the epoch
    with the lowest validation loss (`best_epoch_`), as the CLI does. The errors on those
    validation windows calibrate the prediction intervals of `predict(level=...)`.

    Args:
        mode: "many_to_one", "many_to_many", "seq2seq" or "segment".
        cell: "rnn", "lstm" or "gru".
        lookback, horizon: input and forecast steps.
        hidden_size, num_layers, dropout, bidirectional, nonlinearity, revin, subtract_last,
            channel_independent, teacher_forcing, segment_length, channel_embedding: network
            options, as the CLI's `model.*` (see `forecast.models`); an option the mode does not
            use is refused unless it keeps its default. `subtract_last=None` is the mode's own:
            True for "segment" (SegRNN's normalisation), else False.
        target, features, time_col, id_col, calendar, fill, sort, scaler: data options (see
            `WindowDataModule`).
        future_features: columns known in advance (a price plan ...): inputs over the lookback
            and, given to `predict(..., future=)`, over the horizon.
        static_features: columns of a long frame with one value per series (a region, a
            capacity), read from X in `fit`, `predict` and `backtest`: text is one-hot encoded
            (a region unseen in `fit` gets zeros), numbers standardised; every step of the
            series' windows carries them.
        val_size: fraction (< 1) or rows (>= 1) of each series held out for validation.
        loss, lr, weight_decay, batch_size, max_epochs, patience, gradient_clip_val,
            gradient_clip_algorithm: training options (Adam's learning rate and L2 penalty;
            clipping of the global norm, or with "value" of each gradient, before each step).
        lr_scheduler: None, or the name of a `torch.optim.lr_scheduler` class, stepped once an
            epoch ("CosineAnnealingLR", "ExponentialLR", "ReduceLROnPlateau" on the validation
            loss ...); the CLI's `optim=adam_cosine` is `"CosineAnnealingLR"`.
        lr_scheduler_kwargs: its arguments (`{"gamma": 0.9}`); CosineAnnealingLR's `T_max`
            defaults to `max_epochs`.
        ema_decay: None, or validate and forecast with an exponential moving average of the
            weights, this much of the old average kept per step (0.995 averages ~200 steps; the
            CLI's `callbacks.ema`).
        accelerator: Lightning accelerator ("cpu", "gpu", "auto"); off the CPU, the series are
            kept on the device and each batch is gathered there, as the CLI's `trainer=gpu`.
        precision: Lightning precision ("32-true"; "bf16-mixed" on a GPU, as `trainer=gpu`).
        seed: seed of weights, shuffling and dropout.
        warm_start: a `fit` of a fitted estimator starts from its weights (fine-tuning on new
            data, as scikit-learn's `warm_start` and NeuralForecast's repeated `fit`); the
            scaler and calibration are fitted anew. The network's shape must not change.

    scikit-learn: `get_params/set_params`, `clone`, pickling, `score` (R^2 of a backtest, for
    `GridSearchCV` with `TimeSeriesSplit`), and use as the last step of a `Pipeline` work
    (`pipe.predict(history, future=...)` passes `future` to this step). X is a
    DataFrame with a time axis, not an [n_samples, n_features] matrix, and `predict` returns the
    next `horizon` rows rather than one row per input row, so `check_estimator`'s checks that
    feed numpy matrices do not apply; `forecast.sklearn_checks.NOT_APPLICABLE` lists each with
    the reason, and tests/test_forecaster.py checks the same properties on DataFrames.

    Example:
        >>> from forecast.data.synthetic import sine_frame
        >>> model = Forecaster(lookback=48, horizon=12, max_epochs=1).fit(sine_frame(n_steps=600))
        >>> model.predict().shape
        (12, 1)
    """

    def __init__(self, mode: str = "many_to_one", cell: str = "lstm", lookback: int = 96,
                 horizon: int = 24, hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, revin: bool = False,
                 channel_independent: bool = False, teacher_forcing: float = 0.5,
                 segment_length: int = 24, nonlinearity: str = "tanh",
                 subtract_last: bool | None = None, channel_embedding: bool = True,
                 target=None, features=None, future_features=None, static_features=None,
                 time_col=None, id_col=None, calendar: bool = False, fill=None,
                 sort: bool = False, scaler: str = "standard", val_size: float = 0.2,
                 loss: str = "mse", lr: float = 1e-3, weight_decay: float = 0.0,
                 lr_scheduler: str | None = None, lr_scheduler_kwargs: dict | None = None,
                 ema_decay: float | None = None,
                 batch_size: int = 64, max_epochs: int = 20, patience: int = 5,
                 gradient_clip_val: float = 1.0, gradient_clip_algorithm: str = "norm",
                 accelerator: str = "cpu", precision: str = "32-true", seed: int = 0,
                 warm_start: bool = False):
        self.mode, self.cell, self.lookback, self.horizon = mode, cell, lookback, horizon
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.bidirectional, self.revin = bidirectional, revin
        self.channel_independent, self.teacher_forcing = channel_independent, teacher_forcing
        self.segment_length, self.target, self.features = segment_length, target, features
        self.nonlinearity, self.subtract_last = nonlinearity, subtract_last
        self.channel_embedding = channel_embedding
        self.future_features, self.time_col, self.id_col = future_features, time_col, id_col
        self.static_features = static_features
        self.calendar, self.fill, self.sort, self.scaler = calendar, fill, sort, scaler
        self.val_size, self.loss, self.lr, self.batch_size = val_size, loss, lr, batch_size
        self.weight_decay, self.lr_scheduler = weight_decay, lr_scheduler
        self.lr_scheduler_kwargs, self.ema_decay = lr_scheduler_kwargs, ema_decay
        self.max_epochs, self.patience = max_epochs, patience
        self.gradient_clip_val, self.accelerator, self.seed = gradient_clip_val, accelerator, seed
        self.precision, self.gradient_clip_algorithm = precision, gradient_clip_algorithm
        self.warm_start = warm_start

    def __setstate__(self, state: dict) -> None:
        """Unpickle; parameters and fitted state added since the pickle was made take their
        defaults (no interval calibration)."""
        defaults = {name: parameter.default for name, parameter
                    in inspect.signature(type(self)).parameters.items()}
        fitted = {"calibration_": None, "static_": None} if "net_" in state else {}
        super().__setstate__({**defaults, **fitted, **state})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # the targets are columns of X
        tags.input_tags.allow_nan = self.fill is not None
        return tags

    # -- fitting ----------------------------------------------------------------------------
    @_python_terms
    def fit(self, X: pd.DataFrame, y=None) -> Forecaster:
        """Train on the DataFrame `X` (`y` is ignored: the targets are columns of X)."""
        if fit_converted(self, X, y):  # numpy scalars, 'LSTM': a copy with Python values fitted
            return self
        if self.mode not in MODES:
            raise ConfigError(f"mode: unknown mode '{self.mode}'; use one of {sorted(MODES)}.")
        if self.mode == "segment" and (self.future_features or self.calendar
                                       or self.static_features):
            raise ConfigError("future_features/static_features/calendar: the segment model uses "
                              "no known-future inputs; choose another mode or drop them.")
        with seeded(self.seed):
            return self._fit(X)

    def _fit(self, X: pd.DataFrame) -> Forecaster:
        dm = self._datamodule(X)
        net_class = NETS[MODES[self.mode]]
        dims = dm.dims  # the frame is validated here
        taken = _net_options(net_class)
        self._check_mode_options(taken)
        accepted = taken - set(dims)
        options = {k: v for k, v in self.get_params().items() if k in accepted}
        if options.get("subtract_last", False) is None:  # the mode's own
            options["subtract_last"] = _option_default(net_class, "subtract_last")
        net = net_class(**options, **dims)
        if self.warm_start and hasattr(self, "net_"):
            self._start_from_fitted(net, {**options, **dims})
        validate = len(dm.starts_["val"]) > 0
        module = ForecastModule(net, self.loss, *self._optimization(validate),
                                self.gradient_clip_val, self.gradient_clip_algorithm)
        with tempfile.TemporaryDirectory(prefix="forecast-") as checkpoints, quieted():
            trainer = self._trainer(validate, checkpoints)
            dm.on_device = trainer.strategy.root_device.type != "cpu"  # batches gathered there
            trainer.fit(module, dm)
            check_converged(trainer, "lower lr, keep the gradients clipped (gradient_clip_val="
                            "1.0), and keep the data scaled (scaler='standard').",
                            scaled=self.scaler != "none")
            best_epoch = load_best(module, trainer)
        return self._set_fitted(dm, net, {"class": type(net).__name__,
                                          "kwargs": {**options, **dims}}, best_epoch)

    def _check_mode_options(self, taken: set[str]) -> None:
        """Refuse a network option set away from its default that this mode's network does
        not take (`taken`: teacher_forcing of a many-to-one model), which would be silently
        ignored."""
        defaults = {name: parameter.default for name, parameter
                    in inspect.signature(type(self)).parameters.items()}
        unused = [name for name in sorted(NET_OPTIONS - taken)
                  if name in defaults and getattr(self, name) != defaults[name]]
        if unused:
            name = unused[0]
            users = [mode for mode, net in MODES.items() if name in _net_options(NETS[net])]
            raise ConfigError(f"{name}={getattr(self, name)!r}: mode={self.mode!r} does not use "
                              f"it (mode {' or '.join(map(repr, users))} does); leave it at its "
                              "default, or choose such a mode.")

    def _start_from_fitted(self, net: torch.nn.Module, kwargs: dict) -> None:
        """Copy the fitted network's weights into `net`, whose parameters must have their
        shapes (options that change no shape, such as dropout, may change)."""
        fitted = self.net_.state_dict()
        if {k: v.shape for k, v in fitted.items()} != {k: v.shape for k, v
                                                         in net.state_dict().items()}:
            before = {"class": self.net_spec_["class"], **self.net_spec_["kwargs"]}
            after = {"class": type(net).__name__, **kwargs}
            what = ", ".join(f"{k} {before[k]!r} -> {v!r}" for k, v in after.items()
                             if k in before and before[k] != v) or "its parameters' shapes"
            raise ConfigError(f"warm_start: this fit needs another network than the fitted one "
                              f"({what}); keep the frame's columns and the network's sizes, or "
                              "set warm_start=False to train from scratch.")
        net.load_state_dict(fitted)

    def _datamodule(self, X: pd.DataFrame) -> WindowDataModule:
        """The windows of `X` as this estimator's data options cut them (not yet validated)."""
        return WindowDataModule(
            frame=X, target=self.target, features=self.features, time_col=self.time_col,
            id_col=self.id_col, fill=self.fill, sort=self.sort, lookback=self.lookback,
            horizon=self.horizon, split=Split(val=self.val_size, test=0), scaler=self.scaler,
            calendar=self.calendar, future_features=self.future_features,
            static_features=self.static_features, batch_size=self.batch_size,
            steps_per_execution=STEPS_PER_EXECUTION, seed=self.seed)

    def _optimization(self, validate: bool) -> tuple[partial, partial | None]:
        """The partial Adam and LR scheduler, tried on a probe parameter (the scheduler stepped
        once): a value torch rejects is one error naming the argument, before training starts."""
        optimizer = partial(torch.optim.Adam, lr=self.lr, weight_decay=self.weight_decay)
        scheduler = self._scheduler(validate)
        try:
            first_steps(optimizer, scheduler)
        except Rejected as rejected:
            if rejected.part == "optimizer":
                raise ConfigError(f"lr={self.lr!r}, weight_decay={self.weight_decay!r}: "
                                  f"{rejected.reason}; pass numbers, lr >= 0 and "
                                  "weight_decay >= 0.") from None
            raise ConfigError(f"lr_scheduler_kwargs={self.lr_scheduler_kwargs!r}: "
                              f"{call_text(scheduler)} rejects its settings: {rejected.reason}; "
                              "pass the arguments of torch.optim.lr_scheduler."
                              f"{self.lr_scheduler}.") from None
        return optimizer, scheduler

    def _scheduler(self, validate: bool) -> partial | None:
        """The partial `lr_scheduler` with its kwargs (Cosine's T_max over the fit); a name
        outside torch's schedules, or a plateau schedule without validation, is refused."""
        if self.lr_scheduler is None:
            return None
        name = self.lr_scheduler
        scheduler_class = getattr(schedulers, name, None) if isinstance(name, str) else None
        if (not isinstance(scheduler_class, type) or name in NOT_BUILDABLE
                or not issubclass(scheduler_class, schedulers.LRScheduler)):
            raise ConfigError(f"lr_scheduler: {name!r} is not a schedule of "
                              "torch.optim.lr_scheduler; use e.g. 'CosineAnnealingLR', "
                              "'ExponentialLR' or 'ReduceLROnPlateau', or None.")
        if scheduler_class is schedulers.ReduceLROnPlateau and not validate:
            raise ConfigError("lr_scheduler: ReduceLROnPlateau watches the validation loss, and "
                              "there are no validation windows; raise val_size or use another "
                              "schedule.")
        kwargs = dict(self.lr_scheduler_kwargs or {})
        if scheduler_class is schedulers.CosineAnnealingLR:
            kwargs.setdefault("T_max", self.max_epochs)
        return partial(scheduler_class, **kwargs)

    def _trainer(self, validate: bool, checkpoints: str) -> pl.Trainer:
        """Early stopping on the validation loss, its best epoch kept in `checkpoints`; the
        weight average of `ema_decay`."""
        callbacks = [pl.callbacks.EarlyStopping("val_loss", patience=self.patience),
                     BestCheckpoint(dirpath=checkpoints, filename="best",
                                    monitor="val_loss")] if validate else []
        if self.ema_decay is not None:
            callbacks.append(WeightAverage(self.ema_decay))
        check_accelerator(self.accelerator, f"accelerator={self.accelerator!r}",
                          "use accelerator='cpu'")
        try:
            return pl.Trainer(max_epochs=self.max_epochs, accelerator=self.accelerator,
                              devices=1, precision=self.precision, logger=False,
                              callbacks=callbacks, enable_checkpointing=validate,
                              enable_progress_bar=False, enable_model_summary=False,
                              limit_val_batches=1.0 if validate else 0)
        except (ValueError, ImportError, MisconfigurationException) as error:
            raise ConfigError(f"accelerator={self.accelerator!r}, precision={self.precision!r}: "
                              f"{error}") from None

    @classmethod
    def from_fitted(cls, dm: WindowDataModule, net: torch.nn.Module, net_kwargs: dict,
                    best_epoch: int | None = None, **params) -> Forecaster:
        """Wrap a network trained elsewhere (the CLI) on `dm`'s data as a Forecaster;
        `best_epoch`: the epochs trained for its weights."""
        dm.setup()
        mode = {name: mode for mode, name in MODES.items()}.get(type(net).__name__, "many_to_one")
        data = {**dm.columns, "calendar": bool(dm.calendar), "scaler": dm.scaler.method,
                "lookback": dm.spec.lookback, "horizon": dm.spec.horizon,
                "val_size": _val_size(dm.borders_)}
        known = inspect.signature(cls).parameters
        merged = {"mode": mode, **net_kwargs, **data, **params}
        forecaster = cls(**{k: v for k, v in merged.items() if k in known})
        return forecaster._set_fitted(dm, net, {"class": type(net).__name__,
                                                "kwargs": {**net_kwargs, **dm.dims}}, best_epoch)

    def _set_fitted(self, dm: WindowDataModule, net, net_spec: dict,
                    best_epoch: int | None) -> Forecaster:
        panel, lookback = dm.panel_, dm.spec.lookback
        self.calibration_ = None
        if len(dm.starts_["val"]):  # the held-out windows calibrate predict(level=...)
            forecast = predict_scaled(ForecastModule(net), dm, "val")  # on the net's device
            inputs, actual = dm.windows("val")
            self.calibration_ = Calibration.fit(forecast, actual, spread(inputs, actual.shape[-1]))
        self.net_, self.net_spec_, self.scaler_ = net.cpu().eval(), net_spec, dm.scaler
        self.best_epoch_, self.schema_ = best_epoch, _schema(dm)
        self.static_ = panel.static  # each training series' static features, or None
        ends = panel.bounds[1:]
        self.history_ = dm.unscaled(ends[:, None] - lookback + np.arange(lookback))  # [S, L, C]
        self.history_end_ = panel.time_at(ends - 1)
        return self

    # -- forecasting ------------------------------------------------------------------------
    @_python_terms
    def predict(self, X: pd.DataFrame | None = None, future: pd.DataFrame | None = None,
                level=None, n: int | None = None) -> pd.DataFrame:
        """Forecast the `horizon` (or `n`) steps after the end of `X` (default: after the
        training data).

        X is checked like the training frame (same columns, frequency and form, at least
        `lookback` rows a series; extra columns are ignored). A series the model was not
        trained on is scaled by the statistics of its own `lookback` rows.

        Args:
            X: the history, wide or long as in training.
            future: with `future_features`: their values at the next `horizon` (or `n`, if
                more) timestamps of every series, columns `[id,] time, *future_features`.
            level: None, or whole percentages (`[80, 95]`): also the bounds of those
                prediction intervals, calibrated on the validation windows of `fit`
                (`forecast.intervals`).
            n: steps to forecast (default `horizon`). Fewer are the first steps of the
                forecast; more are forecast `horizon` steps at a time, each run's forecast
                fed back as history (every input must then be a target or known-future;
                no `level`, which is calibrated for `horizon` steps).

        Returns:
            Wide input: a DataFrame indexed by the future timestamps, one column per target.
            Long input: columns `[id, time, *targets]`, `horizon` rows per series.
            With `level`, each target `y` is followed by `y-lo-80`, `y-hi-80`, ...
        """
        self._check_fitted()
        schema, history = self.schema_, self._history(X)
        steps = self._check_steps(n, level)
        times = forecast_grid(history.ends, schema.freq, schema.lookback,
                             max(steps, schema.horizon))
        ahead = read_future(future, schema, times[:, schema.lookback:], history.ids)
        if steps > schema.horizon:
            values, names = self._rolled(history, times, ahead), schema.targets
            check_finite_forecast(values, history)
        else:
            values, names = self._columns(history, times, ahead, level)
        return forecast_frame(values[:, :steps], times[:, schema.lookback:][:, :steps],
                              history.ids, schema, names)

    def future_frame(self, X: pd.DataFrame | None = None, n: int | None = None) -> pd.DataFrame:
        """The `[id,] time` rows that `predict(X, n=n)` reads from `future=`, one per series
        and step (the horizon, or `n` where more): add the known-future columns and pass it as
        `future=` (NeuralForecast's `make_future_dataframe`)."""
        self._check_fitted()
        schema, history = self.schema_, self._history(X, notes=False)  # predict's to give
        steps = max(self._check_steps(n, None), schema.horizon)
        times = forecast_grid(history.ends, schema.freq, 1, steps)[:, 1:]  # after each end
        empty = np.zeros((len(history.ids), steps, 0), dtype=np.float32)
        frame = forecast_frame(empty, times, history.ids, schema, [])
        return frame if schema.id_col is not None else frame.reset_index()

    def _history(self, X: pd.DataFrame | None, notes: bool = True) -> History:
        """The history to forecast from: X checked (`notes`: warning about its rows and new
        series), or the end of the training data."""
        if X is None:
            return History(self.history_, self.history_end_, self.schema_.series_ids,
                           self.static_)
        history = read_history(self._flat(X), self.schema_, notes)
        if notes:
            note_new_series(history.ids, self.schema_.series_ids)
        return history

    def _flat(self, X):
        """X with the (id, time) levels of a MultiIndex as columns (see `flat_frame`)."""
        if hasattr(self, "schema_"):
            return flat_frame(X, self.schema_.id_col, self.schema_.time_name)
        return flat_frame(X, self.id_col, self.time_col)

    def _check_steps(self, n, level) -> int:
        """`predict(n=)` as a number of steps; forecasting past the horizon is refused where
        it cannot feed its forecasts back."""
        schema = self.schema_
        if n is None:
            return schema.horizon
        if not is_positive_int(n):
            raise ConfigError(f"n={n!r}: pass a positive integer (the steps to forecast).")
        if n <= schema.horizon:
            return int(n)
        past = schema.columns[schema.n_targets:len(schema.columns) - schema.n_future]
        if past:
            raise ConfigError(f"n={n}: forecasting past horizon={schema.horizon} feeds the "
                              f"forecasts back as history, and the past features {past} have "
                              "none; predict at most horizon steps, or fit without them.")
        if level is not None:
            raise ConfigError(f"n={n}, level={level!r}: the intervals are calibrated for "
                              f"horizon={schema.horizon} steps; ask for at most that many with "
                              "level, or drop level.")
        return int(n)

    def _rolled(self, history: History, times: np.ndarray, ahead: np.ndarray | None):
        """The forecast [S, N, T] of N = times.shape[1] - lookback steps, `horizon` at a time,
        each forecast appended to the history of the next (the last run ends at step N)."""
        schema, lookback, horizon = self.schema_, self.schema_.lookback, self.schema_.horizon
        steps = times.shape[1] - lookback
        rows = np.zeros((len(history.ids), lookback + steps, history.values.shape[-1]),
                        dtype=history.values.dtype)  # the history, then what is forecast
        rows[:, :lookback] = history.values
        if ahead is not None:
            rows[:, lookback:, schema.n_targets:] = ahead  # the known-future columns
        statistics = self._statistics(history)  # a new series keeps its history's scale
        targets, filled = slice(0, schema.n_targets), 0  # steps forecast so far
        for start in [*range(0, steps - horizon, horizon), steps - horizon]:
            window = History(rows[:, start:start + lookback], history.ends, history.ids,
                             history.static)
            future = None if ahead is None else ahead[:, start:start + horizon]
            forecast, _ = self._forecast(window, times[:, start:start + lookback + horizon],
                                         future, statistics)
            # the last run may start inside the one before: those steps keep their forecasts
            rows[:, lookback + filled:lookback + start + horizon, targets] = \
                forecast[:, filled - start:]
            filled = start + horizon
        return rows[:, lookback:, targets]

    @_python_terms
    def backtest(self, X: pd.DataFrame, n_windows: int | None = None, step: int | None = None,
                 level=None, refit: bool | int = False, start=None) -> pd.DataFrame:
        """Forecast from cutoffs of each series of `X`, `step` rows apart (default `horizon`),
        and put each beside what followed: rolling-origin evaluation. Without `start`,
        `n_windows` (default 1) cutoffs per series, the last horizon ending at X's end. With
        `start` (a timestamp or an integer step), every whole horizon from it on (at most
        `n_windows`): the first forecasts the first row at or after `start` that has `lookback`
        rows before it, so each series gets as many windows as its length allows; with
        `start="earliest"`, as many as fit after each series' first `lookback` rows, the last
        ending at its end. A series without a window is left out, with a warning.

        X is checked as `predict` checks it, and needs lookback + horizon +
        (n_windows - 1) * step rows per series (without `start`); known-future columns are
        read from X itself. `level` adds interval bounds, as in `predict`. Each window is
        `predict` on the history up to its cutoff, except that with `fill=` X is filled once,
        as a whole: a gap is then filled from both sides, and a filled row's actual is the
        filled value.

        `refit=False` forecasts every window with this fitted model: cutoffs inside the rows it
        was fitted on score it on data it has seen. `refit=True` forecasts each window with a
        clone of this estimator (the same parameters and seed) fitted on X's rows up to the
        window's cutoff time, every series' rows up to that time (one fit per distinct cutoff;
        series with too few rows by then to train on are left out of that fit);
        `refit=k` refits at every k-th distinct cutoff, the earliest first, and forecasts the
        windows between with the latest clone. With a refit, this estimator need not be fitted:
        X is then read as `fit` reads it.

        Returns:
            `horizon` rows per window: `[id,] cutoff, time`, the forecast columns of `predict`
            and `{target}-actual`; `cutoff` is the last timestamp of the window's history.
        """
        return self._backtest(X, n_windows, step, level, refit, start, "backtest")

    def _backtest(self, X, n_windows, step, level, refit, start, caller: str) -> pd.DataFrame:
        every, X = refit_every(refit), self._flat(X)
        if every and not hasattr(self, "net_"):  # every forecast comes from a refitted clone
            dm = self._datamodule(X)
            dm.setup()  # validates the frame as fit does
            schema = _schema(dm)
        else:
            self._check_fitted()
            schema = self.schema_
        origins = read_origins(X, schema, n_windows, schema.horizon if step is None else step,
                               start, caller)
        times = forecast_grid(origins.history.ends, schema.freq, schema.lookback, schema.horizon)
        if every:
            values, names = self._refitted_columns(X, schema, origins, times, every, level)
        else:
            self._note_in_sample(origins.history, caller)
            values, names = self._columns(origins.history, times, origins.ahead, level)
        return backtest_frame(values, origins, times[:, schema.lookback:], schema, names)

    def _rows_to_fit(self) -> int:
        """The rows a series needs to give a training window beside its validation part."""
        validation = self.val_size if self.val_size >= 1 else 0
        return self.lookback + self.horizon + int(validation)

    def _note_in_sample(self, history: History, caller: str) -> None:
        """Warn where backtest windows (`history`: their cutoffs) forecast rows of the data
        this model was fitted on: scores there flatter it."""
        fitted_end = dict(zip(self.schema_.series_ids, self.history_end_, strict=True))
        inside = [id_ for id_, end in zip(history.ids, history.ends, strict=True)
                  if id_ in fitted_end and end < fitted_end[id_]]
        if inside:
            schema, first = self.schema_, inside[0]
            end = localized(pd.Index([fitted_end[first]]), schema.tz, schema.freq)[0]
            which = "" if schema.id_col is None else f"series '{first}' "
            log.warning(f"{caller}: {len(inside)} of {len(history.ids)} windows forecast rows "
                        f"this model was fitted on ({which}up to {end}): their errors are "
                        "in-sample; backtest on rows after those, or pass refit=True to fit "
                        "before each window.")

    def score(self, X: pd.DataFrame, y=None, metric: str = "r2") -> float:
        """R^2 of this model's forecasts of X against what followed (1 is perfect, 0 no better
        than the mean), each series and target against its own mean, then averaged: the
        `backtest` of every whole horizon after each series' first `lookback` rows, `horizon`
        rows apart (`start="earliest"`; a series too short for one is left out).
        scikit-learn's `GridSearchCV` and `cross_val_score` use it; with `TimeSeriesSplit`
        they score each setting on the rows after those it was fitted on. `y` is ignored.
        `metric` "mae", "mse", "rmse", "mape" or "smape" gives that error instead, in original
        units, per series then averaged (`forecast.scorer` makes it a `scoring=`)."""
        self._check_fitted()
        metric = check_metric(metric, "score")
        schema = self.schema_
        cv = self._backtest(X, None, None, None, False, EARLIEST, "score")
        if schema.id_col is not None:
            note_unseen_series(cv[schema.id_col], schema)
        # [N, H, T] windows, each scored with its series' (pooled, the levels of the series
        # would be the score)
        shape = (-1, schema.horizon, len(schema.targets))
        actual = cv[[f"{target}-actual" for target in schema.targets]].to_numpy().reshape(shape)
        forecast = cv[schema.targets].to_numpy().reshape(shape)
        series, names = ((np.zeros(len(actual), dtype=np.int64), ["the series"])
                         if schema.id_col is None else
                         pd.factorize(cv[schema.id_col].to_numpy()[::schema.horizon]))
        return mean_over_series(getattr(metrics, metric)(actual, forecast, groups=series),
                                 list(names), metric)

    def _refitted_columns(self, X: pd.DataFrame, schema: Schema, origins: Origins,
                          times: np.ndarray, every: int, level) -> tuple[np.ndarray, list[str]]:
        """`_columns` of the backtest windows, forecast by clones each fitted on X's rows up to
        a cutoff time (of every series: a panel's series may not see past it): one at every
        `every`-th distinct cutoff, the earliest first, forecasting the windows from its
        cutoff to the next clone's."""
        history = origins.history
        refits = np.unique(history.ends)[::every]
        clone_of = np.searchsorted(refits, history.ends, side="right") - 1  # [N]
        values = None
        for j, cutoff in enumerate(refits):
            try:
                model = clone(self).fit(rows_through(X, schema, cutoff, self._rows_to_fit()))
            except ForecastError as error:
                shown = localized(pd.Index([cutoff]), schema.tz, schema.freq)[0]
                later = ("; start the backtest later (start=, or fewer n_windows) so that the "
                         "first refit has rows to learn from" if j == 0 else "")
                raise type(error)(f"backtest: refitting at cutoff {shown} ({j + 1} of "
                                  f"{len(refits)}), on the rows up to it: {error}{later}") from None
            run = np.flatnonzero(clone_of == j)
            part = history.take(run)
            ahead = None if origins.ahead is None else origins.ahead[run]
            forecast, names = model._columns(part, times[run], ahead, level)
            if values is None:
                values = np.empty((len(history.ids), *forecast.shape[1:]), forecast.dtype)
            values[run] = forecast
        return values, names

    def _columns(self, history: History, times: np.ndarray, ahead: np.ndarray | None,
                 level) -> tuple[np.ndarray, list[str]]:
        """The forecast [S, H, T] (`_forecast`) and the target names; with `level`, each target
        followed by the bounds of each level's interval: [S, H, T * (1 + 2 * levels)]."""
        values, scale = self._forecast(history, times, ahead)
        if level is None:
            check_finite_forecast(values, history)
            return values, self.schema_.targets
        calibration, schema = self.calibration_, self.schema_
        levels = check_levels(level, calibration)
        clash = sorted(set(bound_names(schema.targets, levels))
                       & {*schema.columns, schema.time_name, schema.id_col})
        if clash:
            raise DataError(f"level: the interval column name(s) {clash} are taken by the "
                            "model's own columns; rename those columns and refit.")
        with np.errstate(over="ignore", invalid="ignore"):  # checked below
            history_spreads = spread(history.values, values.shape[-1]) / scale  # scaled
            columns = [values]
            for each in levels:
                half = calibration.half_width(each, history_spreads) * scale
                columns += [values - half, values + half]
        names = interval_names(schema.targets, levels)
        bounded = np.stack(columns, axis=-1).reshape(*values.shape[:2], len(names))
        check_finite_forecast(bounded, history)
        return bounded, names

    def _forecast(self, history: History, times: np.ndarray, ahead: np.ndarray | None,
                  statistics: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Forecast [S, H, T] in original units from the history [S, L, C], the window times
        [S, L + H] and the known-future values [S, H, F] (or None): scale -> net -> unscale;
        and the targets' scale [S, 1, T]."""
        schema, lookback = self.schema_, self.schema_.lookback
        center, scale = statistics or self._statistics(history)  # [S, 1, C] each
        scaled = (history.values - center) / scale  # [S, L, C]
        n_past = len(schema.columns) - schema.n_future
        calendar = static = future = None  # known inputs over lookback + horizon
        if schema.calendar:
            marks = calendar_features(wall_clock(as_index(times), schema.tz, schema.freq),
                                      schema.freq)
            calendar = marks.reshape(*times.shape, marks.shape[-1])
        if history.static is not None:  # [S, F] at every step
            encoded = schema.encode_static(history.static)
            static = np.repeat(encoded[:, None], times.shape[1], axis=1)
        if schema.n_future:
            ahead = (ahead - center[..., n_past:]) / scale[..., n_past:]  # [S, H, F]
            future = np.concatenate([scaled[..., n_past:], ahead], axis=1)
        x = torch.from_numpy(np.ascontiguousarray(scaled[..., :n_past]))
        x_time = y_time = None
        known = stack_known(calendar, static, future)
        if known is not None:
            marks = torch.from_numpy(known)
            x_time, y_time = marks[:, :lookback], marks[:, lookback:]
        if self.net_.norm is None and self.scaler_.method != "none":
            note_far_histories(scaled[..., :schema.n_targets], history.ids)
        with torch.inference_mode():
            out = self.net_.predict(x, x_time, y_time).numpy()  # [S, H, T]
        targets = slice(0, schema.n_targets)
        return out * scale[..., targets] + center[..., targets], scale[..., targets]

    def _statistics(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """Scaler center and scale [S, 1, C]: the fitted ones of known series; a series new to
        the model gets those of its own history."""
        known = {sid: i for i, sid in enumerate(self.schema_.series_ids)}
        rows = np.array([known.get(sid, -1) for sid in history.ids])
        center, scale = self.scaler_.center_[rows], self.scaler_.scale_[rows]  # [S, C] copies
        new = rows < 0
        if new.any():
            values = history.values[new]  # [S', L, C]
            n, lookback, channels = values.shape
            own = Scaler(self.scaler_.method).fit(values.reshape(-1, channels),
                                                  np.arange(n + 1) * lookback,
                                                  np.full(n, lookback))
            center[new], scale[new] = own.center_, own.scale_
        return center[:, None], scale[:, None]

    def history_frame(self) -> pd.DataFrame:
        """The last `lookback` training rows with a time column: a valid `predict` input."""
        self._check_fitted()
        schema = self.schema_
        times = forecast_grid(self.history_end_, schema.freq, schema.lookback, 0)  # [S, L]
        return series_frame(self.history_, times, schema.series_ids, schema, self.static_)

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This Forecaster is not fitted yet; call fit(df) first.")

    # -- persistence (forecast.saving) -------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted forecaster to directory `path` (JSON + tensors, no pickle)."""
        self._check_fitted()
        return saving.save(self, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Read a forecaster written by `save` (weights loaded with `weights_only=True`)."""
        return saving.load(cls, Path(path))


def _schema(dm: WindowDataModule) -> Schema:
    """How `dm`'s (validated) frame looked: what reading a new frame like it needs."""
    panel = dm.panel_
    return Schema(
        columns=list(panel.columns), n_targets=panel.n_targets,
        n_future=len(dm.columns["future_features"]), freq=panel.freq,
        series_ids=list(panel.series_ids), lookback=dm.spec.lookback, horizon=dm.spec.horizon,
        calendar=bool(dm.calendar), time_name=panel.time_name, id_col=panel.id_col,
        fill=dm.columns["fill"], sort=dm.columns["sort"],
        static_features=dm.columns["static_features"],
        static=None if dm.static_encoder_ is None else dm.static_encoder_.state_dict(),
        id_dtype=panel.id_dtype, tz=panel.tz)


def _net_options(net_class: type) -> set[str]:
    """The constructor options of `net_class`, those of its `ForecastNet` base (revin,
    subtract_last, channel_independent) included."""
    return {name for cls in (net_class, ForecastNet) for name, parameter
            in inspect.signature(cls).parameters.items()
            if parameter.kind is not parameter.VAR_KEYWORD}


def _val_size(borders: np.ndarray):
    """The `val_size` that holds out of a series' training and validation rows what the split
    `borders` [S, 3] held out: the rows where every series has as many, else the mean share."""
    val = borders[:, 1] - borders[:, 0]
    if (val == val[0]).all():
        return int(val[0])
    return round(float(np.mean(val / borders[:, 1])), 4)


def _option_default(net_class: type, name: str):
    """The default of option `name` of `net_class`, or of its `ForecastNet` base."""
    for cls in (net_class, ForecastNet):
        parameter = inspect.signature(cls).parameters.get(name)
        if parameter is not None:
            return parameter.default
    raise KeyError(name)


# Options of some network: a Forecaster refuses those its mode's network does not take.
NET_OPTIONS = set().union(*(_net_options(NETS[name]) for name in MODES.values()))
