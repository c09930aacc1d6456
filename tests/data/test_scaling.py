import numpy as np

from forecast.data.scaling import Scaler


def test_standard_scaler_uses_training_rows_only():
    values = np.array([[1.0], [3.0], [100.0], [1000.0]], dtype=np.float32)
    scaler = Scaler("standard").fit(values, np.array([0, 4]), np.array([2]))
    assert scaler.center_[0, 0] == 2.0 and scaler.scale_[0, 0] == 1.0


def test_per_series_statistics_and_round_trip():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(5, 2, (50, 2)), rng.normal(-3, 0.5, (30, 2))]).astype(np.float32)
    bounds = np.array([0, 50, 80])
    scaler = Scaler("minmax").fit(values, bounds, np.array([40, 20]))
    assert scaler.center_.shape == (2, 2)
    scaled = scaler.transform(values, bounds)
    assert np.isclose(scaled[:40].min(0), 0).all() and np.isclose(scaled[:40].max(0), 1).all()
    restored = np.concatenate([scaler.inverse_transform(scaled[:50], 0),
                               scaler.inverse_transform(scaled[50:], 1)])
    np.testing.assert_allclose(restored, values, rtol=1e-5, atol=1e-5)


def test_constant_channel_does_not_divide_by_zero():
    values = np.ones((10, 1), dtype=np.float32)
    scaled = Scaler("standard").fit(values, np.array([0, 10]), np.array([10])).transform(
        values, np.array([0, 10]))
    assert np.isfinite(scaled).all()
