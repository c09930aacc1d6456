import numpy as np
import pytest
from sklearn.metrics import r2_score

from forecast import metrics


def _arrays(y, yhat):
    return (np.asarray(y, dtype=float).reshape(1, -1, 1),
            np.asarray(yhat, dtype=float).reshape(1, -1, 1))


def test_metrics_on_known_values():
    y, yhat = _arrays([1.0, 2.0, 4.0], [2.0, 2.0, 2.0])
    assert metrics.mse(y, yhat) == pytest.approx(5 / 3)
    assert metrics.mae(y, yhat) == pytest.approx(1.0)
    assert metrics.rmse(y, yhat) == pytest.approx(np.sqrt(5 / 3))
    assert metrics.mape(y, yhat) == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert metrics.smape(y, yhat) == pytest.approx(200 / 3 * (1 / 3 + 0 + 2 / 6))
    assert metrics.mase(y, yhat, np.full((1, 1, 1), 2.0)) == pytest.approx(0.5)


def test_by_step_equals_the_metric_of_each_step_slice():
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(size=(50, 4, 3)), rng.normal(size=(50, 4, 3))
    scale = rng.uniform(0.5, 2, size=(50, 1, 3))
    by_step = metrics.score(y, yhat, scale, by_step=True)
    overall = metrics.score(y, yhat, scale)
    assert set(by_step) == set(overall) == set(metrics.NAMES)
    for name, values in by_step.items():
        assert values.shape == (4,)
        for h in range(4):
            sliced = metrics.score(y[:, h:h + 1], yhat[:, h:h + 1], scale)[name]
            assert values[h] == pytest.approx(sliced), (name, h)
    # Every step has as many entries, so the mean of the per-step MSE is the MSE.
    assert by_step["mse"].mean() == pytest.approx(overall["mse"])
    assert overall["rmse"] == pytest.approx(np.sqrt(overall["mse"]))


def test_mape_leaves_out_zero_targets_and_is_nan_when_all_are_zero():
    y, yhat = _arrays([0.0, 2.0, 0.0, 4.0], [1.0, 1.0, 1.0, 5.0])
    assert metrics.mape(y, yhat) == pytest.approx(100 * (0.5 + 0.25) / 2)
    per_step = metrics.mape(y, yhat, by_step=True)
    assert np.isnan(per_step[[0, 2]]).all() and per_step[1] == pytest.approx(50)
    assert np.isnan(metrics.mape(*_arrays([0.0, 0.0], [1.0, 1.0])))


def test_smape_counts_a_zero_forecast_of_a_zero_target_as_perfect():
    y, yhat = _arrays([0.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    assert metrics.smape(y, yhat) == pytest.approx(200 * (0 + 1 + 0) / 3)
    assert np.isfinite(metrics.smape(*_arrays([0.0], [0.0])))


def test_naive_scale_is_in_sample_seasonal_mae():
    values = np.tile(np.array([0.0, 1.0, 0.0, 3.0]), 5)[:, None]
    scale = metrics.naive_scale(values, np.array([0, 20]), np.array([12]), season=2)
    assert scale[0, 0] == pytest.approx(np.mean(np.abs(values[2:12] - values[:10])))
    # A training part shorter than a season falls back to the one-step naive forecast.
    short = metrics.naive_scale(values, np.array([0, 20]), np.array([4]), season=8)
    assert short[0, 0] == pytest.approx(np.mean(np.abs(np.diff(values[:4, 0]))))


def test_a_constant_series_has_no_mase_and_is_left_out():
    # Two series stacked: the first constant over its training rows, the second not.
    values = np.r_[np.full(10, 5.0), np.arange(10.0)][:, None]
    scale = metrics.naive_scale(values, np.array([0, 10, 20]), np.array([8, 8]), season=1)
    assert np.isnan(scale[0, 0]) and scale[1, 0] == pytest.approx(1.0)
    y, yhat = np.ones((2, 3, 1)), np.zeros((2, 3, 1))
    per_window = scale[[0, 1]][:, None, :]  # window 0 from the constant series
    assert metrics.mase(y, yhat, per_window) == pytest.approx(1.0)  # window 1 only
    assert np.isnan(metrics.mase(y[:1], yhat[:1], per_window[:1]))
    assert np.isfinite(metrics.mse(y, yhat)) and np.isfinite(metrics.smape(y, yhat))


def test_score_names_and_shape_check():
    y = np.zeros((2, 3, 1))
    assert set(metrics.score(y, y, prefix="test_")) == {
        "test_mse", "test_rmse", "test_mae", "test_mape", "test_smape"}
    with pytest.raises(ValueError, match=r"\[N, H, T\]"):
        metrics.score(y, np.zeros((2, 4, 1)))


def test_the_naive_scale_of_a_training_part_one_season_long():
    """One season of training rows gives one seasonal difference at lag m: none. The scale
    falls back to the one-step naive MAE, not NaN."""
    values = np.arange(20.0)[:, None] ** 2
    scale = metrics.naive_scale(values, np.array([0, 20]), np.array([4]), season=4)
    assert scale[0, 0] == pytest.approx(np.mean(np.diff(values[:4, 0])))


def test_metrics_per_group_equal_each_groups_own_and_r2_equals_scikit_learns():
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(size=(7, 4, 2)), rng.normal(size=(7, 4, 2))
    y[5:, :, 1] = 3.0  # group 2: a constant target, forecast exactly once
    yhat[5:, :, 1] = 3.0
    yhat[6, 0, 1] = 4.0
    y[0, 0, 0] = 0.0  # left out of the MAPE
    groups = np.array([0, 0, 1, 1, 1, 2, 2])
    for name in ("mse", "rmse", "mae", "mape", "smape"):
        each = [getattr(metrics, name)(y[groups == g], yhat[groups == g]) for g in range(3)]
        np.testing.assert_allclose(getattr(metrics, name)(y, yhat, groups=groups), each)
    rows = [(y[groups == g].reshape(-1, 2), yhat[groups == g].reshape(-1, 2)) for g in range(3)]
    np.testing.assert_allclose(metrics.r2(y, yhat, groups), [r2_score(*r) for r in rows])
    assert metrics.r2(y[:1], y[:1], np.zeros(1, dtype=int))[0] == 1.0
    assert metrics.r2(y, yhat) == pytest.approx(r2_score(y.reshape(-1, 2), yhat.reshape(-1, 2)))
    scale = np.full((7, 1, 2), 2.0)
    each = [metrics.mase(y[groups == g], yhat[groups == g], scale[groups == g]) for g in range(3)]
    np.testing.assert_allclose(metrics.mase(y, yhat, scale, groups=groups), each)
    y[0, 0, 0] = np.nan  # a missing actual: no score, as mse's
    assert np.isnan(metrics.r2(y, yhat, groups)[0])
    assert np.isnan(metrics.mse(y, yhat, groups=groups)[0])
    with pytest.raises(ValueError, match="by_step and groups"):
        metrics.mae(y, yhat, by_step=True, groups=groups)
