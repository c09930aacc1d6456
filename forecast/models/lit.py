"""ForecastModule: a ForecastNet trained by Lightning (loss, optimiser, logging)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from functools import partial

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import (
    DoublePrecision,
    HalfPrecision,
    MixedPrecision,
    Precision,
)
from pytorch_lightning.strategies import SingleDeviceStrategy
from pytorch_lightning.utilities.enums import GradClipAlgorithmType
from torch import nn

from forecast.errors import ConfigError, TrainingError
from forecast.models.base import ForecastNet, net_from_spec
from forecast.models.schedules import reschedule

log = logging.getLogger(__name__)
# What torch raises for a setting it rejects, at construction or on the first step (T_max=0).
REJECTIONS = (TypeError, ValueError, ArithmeticError, NotImplementedError)
LOSSES = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}
# Plain attributes written many times a step: Lightning sets `_current_fx_name` around each of
# its ~20 hook calls a step. They skip nn.Module.__setattr__ (which checks for parameters,
# buffers and submodules): 55 us a step, a sixth of Lightning's own cost per step on a CPU.
PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "_loss_count", "_step_loss", "_scores",
                              "_scored"})
# The hooks Lightning calls around each backward pass and optimiser step, and the precisions
# whose backward and step are torch's own where they have no loss scaler (32, 64, bf16): where
# no callback overrides those hooks, on one device, a step can skip Lightning's wrappers.
BACKWARD_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
PLAIN_PRECISIONS = (Precision, DoublePrecision, HalfPrecision, MixedPrecision)
# Hooks Lightning calls at every training step (of manual optimisation) on the module and on
# each callback, each inside a profiler context, also where they are the base class's no-ops;
# it skips an attribute of None.
STEP_HOOKS = ("on_train_batch_start", "on_train_batch_end", *BACKWARD_HOOKS)
# The validation (and test) scores, each logged as the epoch's mean over all windows.
SCORES = ("loss", "mse", "mae")
# A loss on scaled data (unit variance per series) above this: the network blew up.
BLOWN_UP = 100.0


def _real_rows(batch: dict, rows: torch.Tensor) -> torch.Tensor:
    """`rows` of an evaluation batch without the padding of a rank's share under DDP (the
    rows past `batch["n_real"]`; see `WindowLoader`)."""
    return rows[:batch["n_real"]] if "n_real" in batch else rows


class ForecastModule(pl.LightningModule):
    """Trains any `ForecastNet` on the batches of a `WindowDataModule`.

    The optimisation is written out in `training_step` (Lightning's manual optimisation): for
    each batch, `optimizer.step(closure)`, whose closure computes the loss, zeroes the gradients
    and runs backward (called again by optimisers that re-evaluate, LBFGS); the gradients are
    clipped in `on_before_optimizer_step`, after the callbacks' hooks saw them and a 16-bit
    scaler unscaled them, as in automatic optimisation. Where nothing needs Lightning's
    wrappers around a step (`steps_directly`: one device, no loss scaler, no callback hooked
    to the backward pass), the step is torch's own and counted as Lightning counts it. A
    training item may be a list of batches (`WindowDataModule(steps_per_execution=K)`): one
    optimiser step each (up to `max_steps`), in one Lightning step, whose own cost (fetching,
    hooks, progress tracking) then falls on K steps. The LR scheduler steps after every epoch
    (a ReduceLROnPlateau on `val_loss`). Clipping is the module's: `Trainer(gradient_clip_val=)`
    replaces its setting (`configure_callbacks`), and `Trainer(accumulate_grad_batches=)` is
    refused.

    Logs `train_loss_epoch` and `val_loss`, `val_mse`, `val_mae` per epoch on the scaled horizon
    forecast (the quantity early stopping watches; means over all windows), and
    `train_loss_step` every `trainer.log_every_n_steps` optimiser steps; the loggers' step axis
    counts optimiser steps also where a Lightning step takes several. `predict_step` returns
    the scaled forecast [B, H, T]; `forecast.evaluate` calls the module on test windows and
    turns its forecasts into metrics in both scales.
    At `setup`, the per-step hooks that it and the trainer's callbacks inherit as no-ops
    become None (`skip_noop_hooks`), so Lightning does not dispatch them.

    Args:
        net: the network, or its `spec` (how `load_from_checkpoint` rebuilds it).
        loss: "mse", "mae" or "huber".
        optimizer: a partial optimiser taking the parameters (default Adam, lr 1e-3).
        scheduler: a partial LR scheduler taking the optimiser, or None. A ReduceLROnPlateau
            scheduler watches `val_loss`.
        gradient_clip_val: clip the gradients to this global norm (or, with
            `gradient_clip_algorithm="value"`, each to [-v, v]) before every step; None or 0:
            no clipping. 1.0 as in conf/optim/adam.yaml and `Forecaster`.

    Example:
        >>> from forecast.models import ManyToOne
        >>> module = ForecastModule(ManyToOne(n_inputs=1, n_targets=1, lookback=24, horizon=1))
    """

    def __init__(self, net: ForecastNet | Mapping | None = None, loss: str = "mse",
                 optimizer: Callable[..., torch.optim.Optimizer] | None = None,
                 scheduler: Callable[..., object] | None = None,
                 gradient_clip_val: float | None = 1.0, gradient_clip_algorithm: str = "norm"):
        super().__init__()
        if loss not in LOSSES:
            raise ConfigError(f"optim.loss: unknown loss '{loss}'; use one of {sorted(LOSSES)}.")
        check_clipping(gradient_clip_val, gradient_clip_algorithm)
        if net is None:
            raise ConfigError("ForecastModule: no net given (nor saved in the checkpoint, whose "
                              "network has an argument that is not plain data); pass "
                              "net=YourNet(...), also to load_from_checkpoint.")
        if isinstance(net, Mapping):  # a network's spec, as a checkpoint saves it
            net = net_from_spec(net)
        if not isinstance(net, ForecastNet):
            raise ConfigError(f"ForecastModule: net must be a forecast.models.ForecastNet (its "
                              f"predict and target are what training and forecasting call), got "
                              f"{type(net).__name__}; subclass ForecastNet and write its _forward "
                              "(see forecast/models/base.py).")
        net.check_trainable()
        self.automatic_optimization = False
        # What `load_from_checkpoint` rebuilds the module from (the optimiser and scheduler
        # are code: a resumed fit takes them from its caller).
        self.save_hyperparameters({"net": net.spec, "loss": loss,
                                   "gradient_clip_val": gradient_clip_val,
                                   "gradient_clip_algorithm": gradient_clip_algorithm},
                                  logger=False)
        self.net, self.loss_fn = net, LOSSES[loss]()
        self.optimizer = optimizer or partial(torch.optim.Adam, lr=1e-3)
        self.scheduler = scheduler
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        # Set again in `on_fit_start`; here for loops that run before it (Lightning's Tuner).
        self._base_seed, self._clip_by = None, GradClipAlgorithmType(gradient_clip_algorithm)

    def __setattr__(self, name: str, value) -> None:
        if name in PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def setup(self, stage: str) -> None:
        if stage == "fit":  # before Lightning builds them, for users of trainer.fit
            self.check_optimization()
            if any(isinstance(callback, pl.callbacks.LearningRateFinder)
                   for callback in self.trainer.callbacks):
                raise ConfigError(
                    "Tuner.lr_find / LearningRateFinder: Lightning's learning-rate finder needs "
                    "automatic optimisation, and ForecastModule steps its optimiser itself, so "
                    "the finder would try one rate only. Compare a few rates instead: a sweep of "
                    "optim.optimizer.lr (hparams_search=sine_optuna), or fits with "
                    "optimizer=partial(torch.optim.Adam, lr=...), with a new Trainer (the "
                    "finder stays among this one's callbacks).")
        skip_noop_hooks(self, pl.LightningModule)
        for callback in self.trainer.callbacks:
            skip_noop_hooks(callback, pl.Callback)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net.predict(batch["x"], batch.get("x_time"), batch.get("y_time"))

    _direct = False  # whether a step skips Lightning's wrappers (`steps_directly`)

    # Training time of the epochs a resumed checkpoint holds, so that a run's fit time counts
    # every epoch it trained, before and after the interruption.
    fit_seconds_before = 0.0
    _fit_started = None

    def fit_seconds(self) -> float:
        """Seconds of training so far, over every run this one resumed."""
        if self._fit_started is None:
            return self.fit_seconds_before
        return self.fit_seconds_before + time.perf_counter() - self._fit_started

    def configure_callbacks(self):
        """No callbacks: the earliest hook, before Lightning refuses `Trainer(gradient_clip_val=)`
        for manual optimisation, takes the Trainer's clipping over as the module's own (it
        replaces the module's), and refuses `accumulate_grad_batches` in one line."""
        trainer = self.trainer
        if trainer.gradient_clip_val is not None:
            value, algorithm = trainer.gradient_clip_val, trainer.gradient_clip_algorithm
            algorithm = GradClipAlgorithmType(algorithm or "norm").value
            check_clipping(value, algorithm)
            log.info(f"ForecastModule clips the gradients itself: Trainer(gradient_clip_val="
                     f"{value}, gradient_clip_algorithm={algorithm!r}) replaces its "
                     f"gradient_clip_val={self.gradient_clip_val}.")
            self.gradient_clip_val, self.gradient_clip_algorithm = value, algorithm
            self.hparams.update(gradient_clip_val=value, gradient_clip_algorithm=algorithm)
            trainer.gradient_clip_val = trainer.gradient_clip_algorithm = None
        if trainer.accumulate_grad_batches != 1:
            raise ConfigError(f"Trainer(accumulate_grad_batches={trainer.accumulate_grad_batches}"
                              "): ForecastModule steps its optimiser itself, once per batch; "
                              "raise the batch size instead (WindowDataModule(batch_size=), "
                              "data.batch_size), with the learning rate if need be.")
        return []

    def on_fit_start(self) -> None:
        self._fit_started = time.perf_counter()
        self._base_seed = torch.initial_seed()  # set by seed_everything, also when resuming
        self._direct = steps_directly(self)
        self._clip_by = GradClipAlgorithmType(self.gradient_clip_algorithm)

    def on_train_start(self) -> None:
        # A checkpoint written before the loggers' step axis counted optimiser steps (a list of
        # batches counted once) resumes on the axis of its optimiser steps. (The axis of one
        # written within an epoch is one step short; Lightning adds that step at restart.)
        loop = self.trainer.fit_loop.epoch_loop
        if loop._batches_that_stepped < self.trainer.global_step - 1:
            loop._batches_that_stepped = self.trainer.global_step

    def on_train_epoch_start(self) -> None:
        # Dropout and teacher forcing draw from the global RNG; reseeding per epoch makes a run
        # resumed from an epoch checkpoint continue exactly as the uninterrupted one.
        if self._base_seed is None:  # a loop started before on_fit_start (the Tuner's)
            self._base_seed = torch.initial_seed()
        torch.manual_seed(self._base_seed + self.current_epoch)
        self._loss_sum, self._loss_count = torch.zeros((), device=self.device), 0
        self._validated = False

    def training_step(self, batch, batch_idx):
        optimizer, trainer = self.optimizers(), self.trainer
        parts = batch if isinstance(batch, list) else [batch]
        steps_left = trainer.max_steps - trainer.global_step  # max_steps -1: no limit
        if 0 < steps_left < len(parts):  # a list that would pass max_steps stops at it
            parts = parts[:steps_left]
        loop, every = trainer.fit_loop.epoch_loop, trainer.log_every_n_steps
        step = loop._batches_that_stepped  # the loggers' step axis: optimiser steps so far
        for part in parts:
            if self._direct:  # what optimizer.step does, less the calls of no use here
                optimizer._on_before_step()  # Lightning's step count (global_step)
                optimizer.optimizer.step(partial(self._backward, part, optimizer.optimizer, True))
                optimizer._on_after_step()
            else:
                optimizer.step(closure=partial(self._backward, part, optimizer))
            # The epoch mean is summed here, on the device: a `self.log` per step costs
            # Lightning about as much as a small LSTM step on a CPU, and showing a step value
            # in the progress bar would copy it to the host (a GPU sync) every step.
            size = len(part["x"])
            self._loss_sum.add_(self._step_loss.detach(), alpha=size)
            self._loss_count += size
            if every and (step + 1) % every == 0:
                self._log_step_loss(step)
            step += 1
        # Lightning counts one step per training item, after it: the others of a list count
        # here, so the loggers' step axis and `log_every_n_steps` count optimiser steps.
        loop._batches_that_stepped = step - 1

    def _log_step_loss(self, step: int) -> None:
        """Write `train_loss_step` of optimiser step `step` (from 0) to the loggers, as Lightning
        writes a step's logs (a host read; every `log_every_n_steps` steps). Not through
        `self.log`, whose writes come once per training item, which may be a list of batches."""
        if self.trainer.loggers:
            self.trainer._logger_connector.log_metrics(
                {"train_loss_step": self._step_loss.detach(), "epoch": self.current_epoch},
                step=step)

    def _backward(self, batch: dict[str, torch.Tensor], optimizer,
                  direct: bool = False) -> torch.Tensor:
        """The step's closure: the loss of `batch`, its gradients in place of the previous ones
        (`direct`: by torch, then clipped; else by Lightning, which clips after its hooks)."""
        x, y = batch["x"], batch["y"]
        output = self.net(x, batch.get("x_time"), batch.get("y_time"), y)
        loss = self.loss_fn(output, self.net.target(x, y))
        optimizer.zero_grad(set_to_none=True)
        if direct:
            loss.backward()
            self.on_before_optimizer_step(optimizer)
        else:
            self.manual_backward(loss)
        self._step_loss = loss.detach()  # kept without its graph: the module stays copyable
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        # The precision plugin clips (the unscaled gradients, under a 16-bit loss scaler), as
        # `self.clip_gradients` ends by doing; its checks of the Trainer's clipping settings,
        # which Lightning refuses under manual optimisation, cost ~70 us a step on a CPU.
        if self.gradient_clip_val:
            self.trainer.precision_plugin.clip_gradients(optimizer, self.gradient_clip_val,
                                                         self._clip_by)

    def on_train_epoch_end(self) -> None:
        if self._loss_count:
            self.log("train_loss_epoch", self._loss_sum / self._loss_count, prog_bar=True,
                     sync_dist=True)
        scheduler = self.lr_schedulers()
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if not sum(self.trainer.num_val_batches):
                raise ConfigError("optim.scheduler: ReduceLROnPlateau watches val_loss, and this "
                                  "run has no validation; use another schedule or a val part.")
            if self._validated:  # not after epochs that skip validation (check_val_every_n_epoch)
                scheduler.step(self.trainer.callback_metrics["val_loss"])
        elif scheduler is not None:
            scheduler.step()

    def on_validation_epoch_start(self) -> None:
        self._scores, self._scored = None, 0

    on_test_epoch_start = on_validation_epoch_start

    def _score(self, batch) -> None:
        """Adds the batch's scores, each times its size, to the epoch's sums, on the device;
        the padding of a rank's share under DDP (rows past `n_real`) is not scored."""
        forecast, y = _real_rows(batch, self(batch)), _real_rows(batch, batch["y"])
        if not len(y):
            return
        scores = torch.stack([self.loss_fn(forecast, y), nn.functional.mse_loss(forecast, y),
                              nn.functional.l1_loss(forecast, y)])
        scores = scores.to(torch.promote_types(scores.dtype, torch.float32)) * len(y)  # bf16 up
        self._scores = scores if self._scores is None else self._scores + scores
        self._scored += len(y)

    def _log_scores(self, prefix: str) -> None:
        """Logs the epoch's mean scores over its windows, once: a `self.log` costs Lightning
        ~0.35 ms, three a batch as much as a sine batch's forecast. Across processes the sums
        and window counts of every rank are added first (each window is in one rank's share):
        the mean over all windows, not a mean of the ranks' means. Logged in the module's
        `on_*_epoch_end`, which Lightning calls after the callbacks': callbacks read them from
        `on_validation_end` on, as early stopping and checkpoints do."""
        sums = torch.zeros(len(SCORES), device=self.device) if self._scores is None else \
            self._scores
        count = torch.tensor(float(self._scored), device=sums.device)
        if self.trainer.world_size > 1:  # every rank, also one without windows, reduces
            sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
            count = self.trainer.strategy.reduce(count, reduce_op="sum")
        if count > 0:
            for name, mean in zip(SCORES, sums / count, strict=True):
                self.log(f"{prefix}_{name}", mean, prog_bar=name == "loss",
                         batch_size=int(count), sync_dist=True)  # one value on every rank

    def validation_step(self, batch, batch_idx):
        self._score(batch)

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")
        self._validated = not self.trainer.sanity_checking

    def test_step(self, batch, batch_idx):
        self._score(batch)

    def on_test_epoch_end(self) -> None:
        self._log_scores("test_scaled")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0) -> torch.Tensor:
        return _real_rows(batch, self(batch))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["fit_seconds"] = self.fit_seconds()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Resuming: the schedule takes this run's settings (`reschedule`); the fit time goes
        on from the checkpoint's."""
        schedulers, optimizers = checkpoint.get("lr_schedulers"), checkpoint.get("optimizer_states")
        if self.scheduler is not None and schedulers and optimizers:
            reschedule(schedulers[0], optimizers[0], self.scheduler)
        self.fit_seconds_before = float(checkpoint.get("fit_seconds", 0.0))

    def configure_optimizers(self):
        optimizer = self.optimizer(self.parameters())
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler(optimizer)}

    def check_optimization(self) -> None:
        """A value torch rejects, when building the optimiser and scheduler (lr=-1) or on their
        first step (CosineAnnealingLR's T_max=0), is one ConfigError naming `optim.*`, raised
        before training."""
        try:
            first_steps(self.optimizer, self.scheduler)
        except Rejected as rejected:
            make = self.optimizer if rejected.part == "optimizer" else self.scheduler
            raise ConfigError(f"optim.{rejected.part}: {call_text(make)} rejects its settings: "
                              f"{rejected.reason}; fix the value in the override or in "
                              "conf/optim/.") from None


def check_clipping(value, algorithm: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not value >= 0):  # NaN too
        raise ConfigError(f"optim.gradient_clip_val: must be a number >= 0 (0 or null: no "
                          f"clipping), got {value!r}.")
    if algorithm not in ("norm", "value"):
        raise ConfigError(f"optim.gradient_clip_algorithm: must be 'norm' or 'value', got "
                          f"{algorithm!r}.")


def steps_directly(module: ForecastModule) -> bool:
    """Whether `module`'s optimiser steps may skip Lightning's wrappers around them (~0.07 ms a
    step on a CPU): on one device, in a precision without a loss scaler, where no callback has
    a `BACKWARD_HOOKS` hook and the module none but its clipping, nor its own backward (after
    `skip_noop_hooks`, which sets the no-op hooks to None). They still count steps and time
    them (the profiler's `optimizer_step`), as `optimizer.step` does; the profiler then sees no
    `on_before_optimizer_step`. Elsewhere (DDP, 16-mixed) Lightning steps."""
    trainer = module.trainer
    precision = trainer.precision_plugin
    clipping = getattr(module.on_before_optimizer_step, "__func__", None)
    return (type(trainer.strategy) is SingleDeviceStrategy
            and type(precision) in PLAIN_PRECISIONS and getattr(precision, "scaler", None) is None
            and type(module).backward is pl.LightningModule.backward
            and type(module).manual_backward is pl.LightningModule.manual_backward
            and module.on_before_backward is None and module.on_after_backward is None
            and clipping is ForecastModule.on_before_optimizer_step
            and not any(getattr(callback, hook) for callback in trainer.callbacks
                        for hook in BACKWARD_HOOKS))


def skip_noop_hooks(hooked: object, base: type) -> None:
    """Set to None the per-step hooks (`STEP_HOOKS`) that `hooked` inherits unchanged from
    `base`, the no-ops, so Lightning skips them. Each call costs it a few microseconds; with
    six a step on the module and on each of five callbacks (under automatic optimisation, five
    now), that was ~0.4 ms of a 3 ms step of the sine preset."""
    for name in STEP_HOOKS:
        if name not in vars(hooked) and getattr(type(hooked), name) is getattr(base, name):
            object.__setattr__(hooked, name, None)


class Rejected(Exception):
    """The optimiser or the scheduler (`part`) rejected its settings; `reason` says why."""

    def __init__(self, part: str, error: Exception):
        self.part, self.reason = part, str(error).rstrip(".") or type(error).__name__
        super().__init__(f"{part}: {self.reason}")


def call_text(make: Callable) -> str:
    """`Adam(lr=-1)` for a partial, else the callable's name."""
    if isinstance(make, partial):
        arguments = ", ".join(f"{key}={value!r}" for key, value in make.keywords.items())
        return f"{make.func.__name__}({arguments})"
    return getattr(make, "__name__", repr(make))


def first_steps(make_optimizer: Callable, make_scheduler: Callable | None) -> None:
    """Build the optimiser and scheduler on a probe parameter and step each once (a plateau
    schedule with a loss of 1): raises `Rejected` for a value torch refuses then."""
    probe = torch.zeros(1, requires_grad=True)
    with _rejected_as("optimizer"):
        optimizer = make_optimizer([probe])
    with _rejected_as("scheduler"):
        scheduler = make_scheduler(optimizer) if make_scheduler else None
    with _rejected_as("optimizer"):
        optimizer.step(lambda: torch.zeros(()))  # a closure, as LBFGS requires
    if scheduler is not None:
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        with _rejected_as("scheduler"):
            scheduler.step(*([1.0] if plateau else []))


@contextmanager
def _rejected_as(part: str):
    """A setting torch rejects inside the block becomes `Rejected(part, ...)`."""
    try:
        yield
    except REJECTIONS as error:
        raise Rejected(part, error) from None


def check_converged(trainer: pl.Trainer, fix: str, scaled: bool = False) -> None:
    """TrainingError where no epoch left a finite loss to keep (NaN or inf from the start:
    the loss diverged; early stopping ended training there), with `fix`, what to change; a
    warning where it diverged after a best epoch, whose weights are kept, or where the loss
    kept is finite but huge on `scaled` data (the network blew up without overflowing)."""
    callback = trainer.checkpoint_callback
    best = None if callback is None else callback.best_model_score
    metrics = trainer.callback_metrics
    name = next((name for name in ("val_loss", "train_loss_epoch") if name in metrics), None)
    if name is None:
        return
    kept = best if best is not None and torch.isfinite(best).item() else metrics[name]
    if torch.isfinite(metrics[name]).item():
        if scaled and float(kept) > BLOWN_UP:
            log.warning(f"training blew up: the {name} kept is {float(kept):.3g} on the scaled "
                        "axis, where forecasting each series' training mean scores about 1, so "
                        f"the forecasts are far off; {fix}")
        return
    where = f"{name} is {float(metrics[name])} after epoch {trainer.current_epoch}"
    if best is not None and torch.isfinite(best).item():
        log.warning(f"training diverged: {where}; the weights of the best epoch are kept.")
        return
    raise TrainingError(f"training diverged: {where}, and no epoch gave a finite loss; {fix}")


def load_best(module: ForecastModule, trainer: pl.Trainer) -> int | None:
    """Restore the weights of the best validation epoch (weights only, no pickle); returns how
    many epochs had trained for them, or None where there is no best checkpoint."""
    callback = trainer.checkpoint_callback
    if callback is None or not callback.best_model_path:
        return None
    checkpoint = torch.load(callback.best_model_path, weights_only=True, map_location="cpu")
    module.load_state_dict(checkpoint["state_dict"])
    return checkpoint["epoch"] + 1
