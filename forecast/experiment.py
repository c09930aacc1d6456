"""One experiment, from a composed config: instantiate -> fit -> evaluate -> log.

`forecast.train` (the CLI) composes the config with Hydra and calls `run`.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from forecast.backtest import backtest
from forecast.errors import unwrap
from forecast.evaluate import build_baselines
from forecast.forecaster import Forecaster
from forecast.models import ForecastModule
from forecast.models.lit import load_best
from forecast.progress import ProgressBar
from forecast.reports import results_table, summary
from forecast.resume import find_checkpoint, save_runs
from forecast.tracking import log_invocation, open_runs


def run(cfg: DictConfig) -> float:
    """Train, evaluate against the baselines, log; returns the best validation loss."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = build(cfg.data)
    dm.setup()  # bad data fails here, before any run is opened
    net = build(cfg.model, **dm.dims)
    module = ForecastModule(net, cfg.optim.loss, build(cfg.optim.optimizer),
                            build(cfg.optim.scheduler))
    baselines = build_baselines(cfg.baselines, dm.season)
    checkpoint = find_checkpoint(cfg.resume, Path(cfg.paths.output_dir).parent)
    model_name = HydraConfig.get().runtime.choices.get("model", "model")
    tracker, neural_run = open_runs(cfg, model_name, checkpoint)
    with tracker or nullcontext():
        callbacks = list(build(cfg.callbacks).values()) if cfg.callbacks else []
        if checkpoint is not None:  # keep best/last tracking where the checkpoint lives
            for callback in callbacks:
                if isinstance(callback, ModelCheckpoint):
                    callback.dirpath = os.path.realpath(checkpoint.parent)  # as Lightning keeps it
        if cfg.trainer.get("enable_progress_bar", True):
            callbacks.append(ProgressBar())  # Lightning's default redraws after every step
        trainer = build(cfg.trainer, callbacks=callbacks,
                        logger=tracker.lightning_logger(neural_run) if tracker else False)
        if tracker and trainer.checkpoint_callback:
            save_runs(trainer.checkpoint_callback.dirpath,
                      {"parent": tracker.parent_id, "neural": neural_run})
        start = time.perf_counter()
        trainer.fit(module, dm, ckpt_path=checkpoint, weights_only=True)
        fit_seconds = time.perf_counter() - start
        load_best(module, trainer)
        results = backtest(dm, {model_name: module}, baselines, cfg.backtest.stride,
                           cfg.backtest.refit, fit_seconds={model_name: fit_seconds})
        table = results_table(results)
        print(f"\n{summary(cfg.experiment_name, dm, results, table, **cfg.backtest)}\n")
        if tracker:
            forecaster = Forecaster.from_fitted(dm, net, _net_kwargs(cfg),
                                                lookback=dm.spec.lookback, horizon=dm.spec.horizon)
            log_invocation(tracker, cfg, neural_run, dm, results, table, forecaster)
            print(tracker.browse_hint())
    best = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    return float(best) if best is not None else float(results[0].metrics["test_norm_mse"])


def build(node, **kwargs):
    """`hydra.utils.instantiate`, letting our own errors through unwrapped."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        raise unwrap(error) from None


def _net_kwargs(cfg: DictConfig) -> dict:
    kwargs = OmegaConf.to_container(cfg.model, resolve=True)
    kwargs.pop("_target_", None)
    return kwargs
