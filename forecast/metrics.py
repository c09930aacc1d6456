"""Forecast metrics on arrays [N, H, T] (windows, horizon steps, targets), shared by all models.

Every function averages over all windows, steps and targets; `per_step` keeps the horizon axis.
"""

from __future__ import annotations

import numpy as np


def mse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean((y - yhat) ** 2))


def rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.sqrt(mse(y, yhat)))


def mae(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean(np.abs(y - yhat)))


def mape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute percentage error (%), over the targets that are not zero."""
    nonzero = y != 0
    if not nonzero.any():
        return float("nan")
    return float(100 * np.mean(np.abs((y - yhat)[nonzero] / y[nonzero])))


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE (%) as in the M4 competition: 200 |y - yhat| / (|y| + |yhat|)."""
    denominator = np.abs(y) + np.abs(yhat)
    ratio = np.divide(np.abs(y - yhat), denominator, out=np.zeros_like(denominator, dtype=float),
                      where=denominator > 0)
    return float(200 * np.mean(ratio))


def mase(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray) -> float:
    """Mean absolute scaled error; `scale` [N, 1, T] is each series' in-sample seasonal-naive MAE."""
    return float(np.mean(np.abs(y - yhat) / scale))


def per_step(metric, y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """[H] metric of each horizon step."""
    return np.array([metric(y[:, h], yhat[:, h]) for h in range(y.shape[1])])


def naive_scale(values: np.ndarray, bounds: np.ndarray, train_ends: np.ndarray,
                season: int) -> np.ndarray:
    """[S, C] in-sample MAE of the seasonal naive forecast on each series' training rows."""
    scales = []
    for s, start in enumerate(bounds[:-1]):
        train = values[start:start + train_ends[s]]
        m = season if len(train) > season else 1
        scales.append(np.mean(np.abs(train[m:] - train[:-m]), axis=0))
    scales = np.asarray(scales)
    return np.where(scales > 0, scales, 1.0)


def score(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray | None = None,
          prefix: str = "") -> dict[str, float]:
    """All metrics of one forecast, named `{prefix}mse`, `{prefix}mae` ..."""
    if y.shape != yhat.shape:
        raise ValueError(f"forecast shape {yhat.shape} differs from target shape {y.shape}")
    result = {"mse": mse(y, yhat), "rmse": rmse(y, yhat), "mae": mae(y, yhat),
              "mape": mape(y, yhat), "smape": smape(y, yhat)}
    if scale is not None:
        result["mase"] = mase(y, yhat, scale)
    return {f"{prefix}{k}": v for k, v in result.items()}
