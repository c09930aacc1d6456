"""Forecast metrics on arrays [N, H, T] (windows, horizon steps, targets), shared by all models.

Every metric averages over all windows, steps and targets and returns a float; with
`by_step=True` it keeps the horizon axis and returns an array [H]; with `groups` (the group of
each window, 0 .. G-1: its series) it returns the mean of each group [G]. Entries a metric
cannot score (a zero target for MAPE, a series without a naive error for MASE) are left out of
the mean; a mean over nothing is NaN.
"""

from __future__ import annotations

import numpy as np

NAMES = ("mse", "rmse", "mae", "mape", "smape", "mase")


def _mean(values: np.ndarray, by_step: bool, mask: np.ndarray | None = None,
          groups: np.ndarray | None = None):
    """Mean of `values` [N, H, T] over the entries where `mask` holds (all by default)."""
    values = np.asarray(values, dtype=np.float64)
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    mask = np.broadcast_to(mask, values.shape)
    axes = (0, 2) if by_step else None
    if by_step and groups is not None:
        raise ValueError("metrics: by_step and groups do not combine; pass one of them")
    if groups is None:
        total, count = np.where(mask, values, 0.0).sum(axis=axes), mask.sum(axis=axes)
    else:  # each window's sum, then each group's
        total = np.bincount(groups, np.where(mask, values, 0.0).sum(axis=(1, 2)))
        count = np.bincount(groups, mask.sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean if by_step or groups is not None else float(mean)


def mse(y: np.ndarray, yhat: np.ndarray, by_step: bool = False, groups=None):
    return _mean((y - yhat) ** 2, by_step, groups=groups)


def rmse(y: np.ndarray, yhat: np.ndarray, by_step: bool = False, groups=None):
    """Square root of the MSE (per step: of each step's MSE; per group: of each group's)."""
    root = np.sqrt(mse(y, yhat, by_step, groups))
    return root if by_step or groups is not None else float(root)


def mae(y: np.ndarray, yhat: np.ndarray, by_step: bool = False, groups=None):
    return _mean(np.abs(y - yhat), by_step, groups=groups)


def mape(y: np.ndarray, yhat: np.ndarray, by_step: bool = False, groups=None):
    """Mean absolute percentage error (%), over the targets that are not zero."""
    nonzero = y != 0
    ratio = np.abs(y - yhat) / np.where(nonzero, np.abs(y), 1.0)
    return 100 * _mean(ratio, by_step, nonzero, groups)


def smape(y: np.ndarray, yhat: np.ndarray, by_step: bool = False, groups=None):
    """Symmetric MAPE (%) as in the M4 competition: 200 |y - yhat| / (|y| + |yhat|).

    A step where both the target and the forecast are zero is a perfect forecast (0).
    """
    denominator = np.abs(y) + np.abs(yhat)
    ratio = np.abs(y - yhat) / np.where(denominator > 0, denominator, 1.0)
    return 200 * _mean(ratio, by_step, groups=groups)


def r2(y: np.ndarray, yhat: np.ndarray, groups: np.ndarray | None = None):
    """Coefficient of determination, of all windows (a float) or of each group [G]: per target,
    1 - the squared error over the squares around the group's own mean, then averaged over
    the targets, as scikit-learn's `r2_score` of the group's rows (a constant target scores 1
    where forecast exactly, else 0; NaN values give NaN)."""
    y, yhat = np.asarray(y, dtype=np.float64), np.asarray(yhat, dtype=np.float64)
    whole = groups is None
    groups = np.zeros(len(y), dtype=np.int64) if whole else np.asarray(groups)
    n_groups, steps = int(groups.max()) + 1, y.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):  # a group id without windows: NaN
        count = np.bincount(groups, minlength=n_groups)[:, None] * steps  # [G, 1] rows
        mean = _group_sums(y.sum(axis=1), groups, n_groups) / count  # [G, T]
        total = _group_sums(((y - mean[groups][:, None]) ** 2).sum(axis=1), groups, n_groups)
        error = _group_sums(((y - yhat) ** 2).sum(axis=1), groups, n_groups)
        scores = np.where(total > 0, 1 - error / total, np.where(error == 0, 1.0, 0.0))
    scores = np.where(np.isnan(total) | np.isnan(error), np.nan, scores).mean(axis=1)
    return float(scores[0]) if whole else scores


def _group_sums(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """[N, T] -> [G, T] sums of each group's rows."""
    sums = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, groups, values)
    return sums


def mase(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray, by_step: bool = False,
         groups=None):
    """Mean absolute scaled error: |y - yhat| divided by each series' in-sample naive MAE.

    Args:
        scale: [N, 1, T] seasonal-naive MAE of each window's series (`naive_scale`); NaN for
            a series without one (constant training part), which is left out.
    """
    valid = np.isfinite(scale) & (scale > 0)
    ratio = np.abs(y - yhat) / np.where(valid, scale, 1.0)
    return _mean(ratio, by_step, valid, groups)


def naive_scale(values: np.ndarray, bounds: np.ndarray, train_ends: np.ndarray,
                season: int) -> np.ndarray:
    """[S, C] in-sample MAE of the seasonal naive forecast on each series' training rows.

    Falls back to season 1 when a training part is not longer than one season; NaN where the
    naive forecast is exact (a constant series), as MASE is undefined there.
    """
    scales = []
    for s, start in enumerate(bounds[:-1]):
        train = np.asarray(values[start:start + train_ends[s]], dtype=np.float64)
        m = season if len(train) > season else 1
        scales.append(np.mean(np.abs(train[m:] - train[:-m]), axis=0))
    scales = np.asarray(scales)
    return np.where(scales > 0, scales, np.nan)


def score(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray | None = None,
          prefix: str = "", by_step: bool = False) -> dict:
    """All metrics of one forecast, named `{prefix}mse`, `{prefix}mae` ... (MASE needs `scale`).

    Returns floats, or arrays [H] with `by_step=True`.
    """
    y, yhat = np.asarray(y), np.asarray(yhat)
    if y.shape != yhat.shape or y.ndim != 3:
        raise ValueError(f"metrics take a forecast and targets of one shape [N, H, T]; got "
                         f"{yhat.shape} and {y.shape}")
    result = {name: fn(y, yhat, by_step) for name, fn in
              (("mse", mse), ("rmse", rmse), ("mae", mae), ("mape", mape), ("smape", smape))}
    if scale is not None:
        result["mase"] = mase(y, yhat, scale, by_step)
    return {f"{prefix}{k}": v for k, v in result.items()}
