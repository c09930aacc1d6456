import numpy as np
import pytest

from forecast import metrics


def test_metrics_on_known_values():
    y = np.array([1.0, 2.0, 4.0]).reshape(1, 3, 1)
    yhat = np.array([2.0, 2.0, 2.0]).reshape(1, 3, 1)
    assert metrics.mse(y, yhat) == pytest.approx(5 / 3)
    assert metrics.mae(y, yhat) == pytest.approx(1.0)
    assert metrics.rmse(y, yhat) == pytest.approx(np.sqrt(5 / 3))
    assert metrics.mape(y, yhat) == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert metrics.smape(y, yhat) == pytest.approx(200 / 3 * (1 / 3 + 0 + 2 / 6))
    assert metrics.mase(y, yhat, np.full((1, 1, 1), 2.0)) == pytest.approx(0.5)
    np.testing.assert_allclose(metrics.per_step(metrics.mae, y, yhat), [1, 0, 2])


def test_naive_scale_is_in_sample_seasonal_mae():
    values = np.tile(np.array([0.0, 1.0, 0.0, 3.0]), 5)[:, None]
    scale = metrics.naive_scale(values, np.array([0, 20]), np.array([12]), season=2)
    assert scale[0, 0] == pytest.approx(np.mean(np.abs(values[2:12] - values[:10])))
