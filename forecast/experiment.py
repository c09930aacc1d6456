"""One experiment, from a composed config: assemble -> train -> evaluate -> report.

`forecast.train` (the CLI) composes the config with Hydra and calls `run`; `assemble` shows
which config group builds which object.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from forecast.backtest import backtest, check_stride
from forecast.building import build, build_module
from forecast.config_check import check_validation
from forecast.data import WindowDataModule
from forecast.evaluate import build_baselines, check_baselines, windows
from forecast.forecaster import Forecaster
from forecast.intervals import coverage_metrics, spread
from forecast.models import ForecastModule
from forecast.models.ema import WeightAverage
from forecast.models.lit import check_converged, load_best
from forecast.progress import ProgressBar
from forecast.reports import results_table, summary
from forecast.resume import check_resumable, find_checkpoint, finished, mark_finished, save_runs
from forecast.run_log import log_invocation
from forecast.tracking import open_runs

log = logging.getLogger(__name__)

BAND = 80  # the level of the prediction interval drawn around the neural forecast
DIVERGED_FIX = ("lower optim.optimizer.lr, keep the gradients clipped (optim.gradient_clip_val="
                "1.0), and keep the data scaled (data.scaler=standard).")


@dataclass
class Parts:
    """What a config builds: the data, the network and its LightningModule, the baselines, the
    Trainer (and the checkpoint it resumes from, if any)."""

    dm: WindowDataModule
    net: torch.nn.Module
    module: ForecastModule
    baselines: dict
    trainer: pl.Trainer
    checkpoint: Path | None
    name: str  # the network's name in runs and tables


def run(cfg: DictConfig) -> float:
    """Train, evaluate against the baselines, log; returns the best validation loss.

    The stages: `assemble` (config -> objects), `train`, `evaluate`, `report`."""
    parts = assemble(cfg)
    trainer = parts.trainer
    tracker, neural_run = open_runs(cfg, parts.name, parts.checkpoint)
    with tracker or nullcontext():
        checkpoints = trainer.checkpoint_callback.dirpath if trainer.checkpoint_callback else None
        if checkpoints:
            mark_finished(checkpoints, done=False)
        if tracker:
            trainer.logger = tracker.lightning_logger(neural_run)
            if checkpoints:
                save_runs(checkpoints, {"parent": tracker.parent_id, "neural": neural_run})
        fit_seconds, best_epoch = train(parts)
        results, forecaster = evaluate(cfg, parts, fit_seconds, best_epoch)
        report(cfg, parts, results, forecaster, tracker, neural_run, checkpoints)
    if checkpoints:
        mark_finished(checkpoints)  # resume=auto passes over this run from now on
    return _objective(trainer)


def assemble(cfg: DictConfig) -> Parts:
    """Build everything from `cfg`: all that a config value can break fails here, before any
    MLflow run is opened."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = build(cfg.data, "data")  # conf/data: a WindowDataModule
    dm.setup()
    check_validation(cfg, len(dm.starts_["val"]))
    net = build(cfg.model, "model", **dm.dims)  # conf/model, sized by the data
    module = build_module(cfg.optim, net)  # conf/optim: loss, optimiser, schedule, clipping
    module.check_optimization()  # lr=-1 or T_max=0 fail here, not after the first epoch
    check_stride(cfg.backtest.stride)
    baselines = build_baselines(cfg.baselines, dm.season, dm.spec.lookback)
    check_baselines(baselines, dm)
    checkpoint = find_checkpoint(cfg.resume, Path(cfg.paths.output_dir).parent, cfg)
    if checkpoint is not None:
        check_resumable(checkpoint, module, cfg)
    trainer = build_trainer(cfg, checkpoint)  # conf/trainer and conf/callbacks
    return Parts(dm, net, module, baselines, trainer, checkpoint, _model_name(cfg))


def train(parts: Parts) -> tuple[float, int | None]:
    """Fit the network (resuming from `parts.checkpoint`) and load its best epoch's weights;
    (seconds the fit took, the best epoch)."""
    start = time.perf_counter()
    parts.trainer.fit(parts.module, parts.dm, ckpt_path=parts.checkpoint, weights_only=True)
    # a resumed run counts the training time of the epochs its checkpoint holds too
    fit_seconds = time.perf_counter() - start + parts.module.fit_seconds_before
    check_converged(parts.trainer, DIVERGED_FIX, scaled=parts.dm.scaler.method != "none")
    best_epoch = load_best(parts.module, parts.trainer)
    _note_early_stop(parts.trainer, best_epoch)
    return fit_seconds, best_epoch


def evaluate(cfg: DictConfig, parts: Parts, fit_seconds: float, best_epoch: int | None):
    """Backtest the network and the baselines on the test windows, with the network's
    prediction intervals; (results, best first, and the network as a Forecaster)."""
    dm, name = parts.dm, parts.name
    results = backtest(dm, {name: parts.module}, parts.baselines, cfg.backtest.stride,
                       cfg.backtest.refit, fit_seconds={name: fit_seconds})
    forecaster = Forecaster.from_fitted(dm, parts.net, _net_kwargs(cfg), best_epoch,
                                        **_training_params(cfg))
    neural, calibration = results[0], forecaster.calibration_
    inputs, actual = windows(dm, "test", neural.index)
    test_spreads = spread(inputs, actual.shape[-1])
    neural.metrics.update(coverage_metrics(calibration, neural.forecast, actual, test_spreads))
    if calibration is not None and calibration.answers(BAND):
        neural.band = BAND, calibration.half_width(BAND, test_spreads)
    return results, forecaster


def report(cfg: DictConfig, parts: Parts, results: list, forecaster: Forecaster, tracker,
           neural_run: str | None, checkpoints: str | None) -> None:
    """Print the comparison table; log everything to MLflow, or without a logger save the
    model in the run folder."""
    table = results_table(results)
    log.info(f"\n{summary(cfg.experiment_name, parts.dm, results, table, **cfg.backtest)}\n")
    if tracker:
        log_invocation(tracker, cfg, neural_run, parts.dm, results, table, forecaster)
        log.info(tracker.browse_hint())
    else:  # the model to deploy, as an MLflow run would hold it
        saved = forecaster.save(Path(cfg.paths.output_dir) / "model")
        where = f"the checkpoints are in {checkpoints}, " if checkpoints else ""
        log.info(f"logger=none: nothing was tracked; {where}the model is in {saved} "
                 "(forecast.load(path))")


def _model_name(cfg: DictConfig) -> str:
    """The name of the neural model in run names and tables: the model config chosen, or the
    cell when an override changed it (`model=lstm model.cell=gru` is "gru", `model=seq2seq
    model.cell=gru` "seq2seq_gru"), so a sweep over `model.cell` tells its runs apart."""
    hydra = HydraConfig.get()
    choice = hydra.runtime.choices.get("model", "model")
    if not any(override.lstrip("+").startswith("model.cell=") for override in hydra.overrides.task):
        return choice
    cell = cfg.model.cell
    return cell if choice in ("rnn", "lstm", "gru") else f"{choice}_{cell}"


def _note_early_stop(trainer: pl.Trainer, best_epoch: int | None) -> None:
    """Say where early stopping ended training, and which epoch's weights are scored."""
    stopper = trainer.early_stopping_callback
    if stopper is None or not stopper.stopped_epoch:
        return
    best = f"the weights of epoch {best_epoch}" if best_epoch else "the best epoch's weights"
    log.info(f"early stopping after epoch {stopper.stopped_epoch + 1} of "
             f"{trainer.max_epochs}: {stopper.monitor} did not improve for {stopper.patience} "
             f"epochs; the test scores use {best}.")


def _objective(trainer: pl.Trainer) -> float:
    """What sweeps minimise: the best validation loss, else the last one; NaN (a failed trial)
    without a validation part, never a test score."""
    best = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    if best is None:
        best = trainer.callback_metrics.get("val_loss")
    return float("nan") if best is None else float(best)


def build_trainer(cfg: DictConfig, checkpoint: Path | None) -> pl.Trainer:
    """The Trainer of `cfg`, with its callbacks and the progress bar, without a logger yet;
    resuming an interrupted run from `checkpoint`, the checkpoints go on being written beside
    it (a finished run trained further writes its own, keeping the finished run's)."""
    # A preset's settings (callbacks.early_stopping.patience) outlive `callbacks=none` as nodes
    # without a `_target_`: nothing to build.
    callbacks = [build(node, f"callbacks.{name}") for name, node in (cfg.callbacks or {}).items()
                 if OmegaConf.is_dict(node) and "_target_" in node]
    if checkpoint is not None:
        log.info(f"resuming from {checkpoint}")
        for callback in callbacks if not finished(checkpoint) else []:
            if isinstance(callback, ModelCheckpoint):
                callback.dirpath = os.path.realpath(checkpoint.parent)  # as Lightning keeps it
    if cfg.trainer.get("enable_progress_bar", True):
        callbacks.append(ProgressBar())  # Lightning's default redraws after every step
    return build(cfg.trainer, "trainer", callbacks=callbacks, logger=False)


def _training_params(cfg: DictConfig) -> dict:
    """The run's training settings under the Forecaster's names, so that `get_params` of the
    logged model says how it was trained and `clone(model).fit(df)` trains the same way (with
    Adam: another optimiser's weight decay is not carried over)."""
    adam = OmegaConf.select(cfg, "optim.optimizer._target_") == "torch.optim.Adam"
    weight_decay = OmegaConf.select(cfg, "optim.optimizer.weight_decay", default=0.0)
    early_stopping, ema = _built_callback(cfg, "early_stopping"), _built_callback(cfg, "ema")
    return {"lookback": cfg.data.lookback, "horizon": cfg.data.horizon,
            "batch_size": cfg.data.batch_size, "loss": cfg.optim.loss,
            "lr": OmegaConf.select(cfg, "optim.optimizer.lr", default=1e-3),
            "weight_decay": weight_decay if adam else 0.0, **_scheduler_params(cfg),
            "ema_decay": None if ema is None else ema.get("decay", WeightAverage().decay),
            "max_epochs": cfg.trainer.max_epochs,
            "patience": cfg.trainer.max_epochs if early_stopping is None else early_stopping.get(
                "patience", EarlyStopping(monitor="val_loss").patience),
            "gradient_clip_val": cfg.optim.get("gradient_clip_val") or 0.0,
            "gradient_clip_algorithm": cfg.optim.get("gradient_clip_algorithm", "norm"),
            "seed": cfg.seed}


def _scheduler_params(cfg: DictConfig) -> dict:
    """`optim.scheduler` as the Forecaster's `lr_scheduler` and `lr_scheduler_kwargs`; a
    scheduler from outside torch.optim.lr_scheduler has no Forecaster equivalent."""
    node = cfg.optim.get("scheduler")
    package, _, name = (node.get("_target_", "") if node else "").rpartition(".")
    if package != "torch.optim.lr_scheduler":
        return {}
    kwargs = {key: value for key, value in OmegaConf.to_container(node, resolve=True).items()
              if not key.startswith("_")}
    if name == "CosineAnnealingLR" and kwargs.get("T_max") == cfg.trainer.max_epochs:
        del kwargs["T_max"]  # the Forecaster's default: T_max follows max_epochs
    return {"lr_scheduler": name, "lr_scheduler_kwargs": kwargs}


def _built_callback(cfg: DictConfig, name: str) -> DictConfig | None:
    """The node of callback `name` if the run built it (it has a `_target_`), else None."""
    node = OmegaConf.select(cfg, f"callbacks.{name}")
    return node if OmegaConf.is_dict(node) and "_target_" in node else None


def _net_kwargs(cfg: DictConfig) -> dict:
    kwargs = OmegaConf.to_container(cfg.model, resolve=True)
    kwargs.pop("_target_", None)
    return kwargs
