"""Score the neural model and the baselines on the same test windows with the same metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from forecast import metrics
from forecast.data import WindowDataModule

NEURAL, BASELINE = "neural", "baseline"


@dataclass
class Result:
    """One model's forecast of a part, with its scores.

    Attributes:
        name: model name shown in tables and MLflow.
        family: "neural" or "baseline".
        forecast: [N, H, T] forecast on the scaled (normalised) axis.
        fit_seconds: training time.
        metrics: `{part}_mse` ... in original units, `{part}_norm_mse` ... on the scaled axis.
        params: the estimator's parameters (baselines).
        per_step: per horizon step MSE/MAE in original units, arrays [H].
    """

    name: str
    family: str
    forecast: np.ndarray
    fit_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    per_step: dict[str, np.ndarray] = field(default_factory=dict)


@torch.inference_mode()
def predict_scaled(module: torch.nn.Module, dm: WindowDataModule, part: str = "test") -> np.ndarray:
    """[N, H, T] scaled forecasts of every window of a part (no window dropped)."""
    was_training = module.training
    module.eval()
    device = next(module.parameters()).device
    outputs = []
    for batch in dm.loader(part):
        batch = {k: v.to(device) for k, v in batch.items()}
        outputs.append(module(batch).float().cpu())
    module.train(was_training)
    return torch.cat(outputs).numpy()


def score(result: Result, dm: WindowDataModule, part: str = "test") -> Result:
    """Fill `result.metrics` and `result.per_step` against the part's true targets."""
    _, y_scaled = dm.windows(part)
    y, yhat = dm.inverse_transform(y_scaled, part), dm.inverse_transform(result.forecast, part)
    scale = dm.mase_scale(part)
    result.metrics = {
        **metrics.score(y, yhat, scale, prefix=f"{part}_"),
        **metrics.score(y_scaled, result.forecast, scale / _target_scale(dm, part),
                        prefix=f"{part}_norm_"),
    }
    result.per_step = {"mse": metrics.per_step(metrics.mse, y, yhat),
                       "mae": metrics.per_step(metrics.mae, y, yhat)}
    return result


def _target_scale(dm: WindowDataModule, part: str) -> np.ndarray:
    n_targets = dm.dims["n_targets"]
    return dm.scaler.scale_[dm.window_series(part)][:, None, :n_targets]


def build_baselines(spec, season: int) -> dict:
    """Instantiate the configured baselines (`conf/baselines`); `season: null` takes the data's."""
    from hydra.utils import instantiate  # configs only; keeps this module free of Hydra

    baselines = {}
    for name, options in (spec or {}).items():
        extra = {"season": season} if "season" in options and options.season is None else {}
        baselines[name] = instantiate(options, **extra)
    return baselines


def run_baselines(baselines: dict, dm: WindowDataModule, part: str = "test") -> list[Result]:
    """Fit each baseline on the training windows and score it on the part's windows."""
    X_train, y_train = dm.windows("train")
    X_test, _ = dm.windows(part)
    results = []
    for name, estimator in baselines.items():
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        forecast = np.asarray(estimator.predict(X_test), dtype=np.float32)
        result = Result(name, BASELINE, forecast, seconds, params=estimator.get_params())
        results.append(score(result, dm, part))
    return results
