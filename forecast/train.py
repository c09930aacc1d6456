"""Hydra entry point: compose -> instantiate -> fit -> evaluate -> log.

    python -m forecast.train +experiment=sine [key=value ...]
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from forecast.errors import ForecastError
from forecast.evaluate import NEURAL, Result, build_baselines, predict_scaled, run_baselines, score
from forecast.forecaster import Forecaster
from forecast.logs import quiet
from forecast.models import ForecastModule
from forecast.models.lit import load_best
from forecast.reports import format_table, results_table
from forecast.tracking import check_tracking_uri, log_invocation, open_tracker, resolve_tracking_uri


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the best validation loss (the objective of sweeps)."""
    quiet()
    try:
        return train(cfg)
    except ForecastError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def train(cfg: DictConfig) -> float:
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = instantiate(cfg.data)
    dm.setup()  # bad data fails here, before any run is opened
    net = instantiate(cfg.model, **dm.dims)
    module = ForecastModule(net, cfg.optim.loss, instantiate(cfg.optim.optimizer),
                            instantiate(cfg.optim.scheduler))
    baselines = build_baselines(cfg.baselines, dm.season)
    uri = resolve_tracking_uri(cfg.logger.get("tracking_uri"))
    if cfg.logger.enabled:
        check_tracking_uri(uri)
    model_name = HydraConfig.get().runtime.choices.get("model", "model")
    tracker = open_tracker(cfg, uri, model_name) if cfg.logger.enabled else None
    with tracker or nullcontext():
        neural_run = tracker.child(model_name, NEURAL) if tracker else None
        callbacks = list(instantiate(cfg.callbacks).values()) if cfg.callbacks else []
        trainer = instantiate(cfg.trainer, callbacks=callbacks,
                              logger=tracker.lightning_logger(neural_run) if tracker else False)
        start = time.perf_counter()
        trainer.fit(module, dm, ckpt_path=cfg.resume, weights_only=True)
        fit_seconds = time.perf_counter() - start
        load_best(module, trainer)
        results = [score(Result(model_name, NEURAL, predict_scaled(module, dm), fit_seconds), dm)]
        results += run_baselines(baselines, dm)
        table = results_table(results)
        print(f"\n{cfg.experiment_name}: test windows = {len(dm.starts_['test'])}, "
              f"horizon = {dm.spec.horizon}\n{format_table(table)}\n")
        if tracker:
            forecaster = Forecaster.from_fitted(dm, net, _net_kwargs(cfg),
                                                lookback=dm.spec.lookback, horizon=dm.spec.horizon)
            log_invocation(tracker, cfg, neural_run, dm, results, table, forecaster)
    best = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    return float(best) if best is not None else float(results[0].metrics["test_norm_mse"])


def _net_kwargs(cfg: DictConfig) -> dict:
    kwargs = OmegaConf.to_container(cfg.model, resolve=True)
    kwargs.pop("_target_", None)
    return kwargs


if __name__ == "__main__":
    main()
