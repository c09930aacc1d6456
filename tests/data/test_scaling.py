import numpy as np
import pytest

from forecast.data import scaling
from forecast.data.scaling import Scaler
from forecast.errors import ConfigError


def test_standard_scaler_uses_training_rows_only():
    values = np.array([[1.0], [3.0], [100.0], [1000.0]], dtype=np.float32)
    scaler = Scaler("standard").fit(values, np.array([0, 4]), np.array([2]))
    assert scaler.center_[0, 0] == 2.0 and scaler.scale_[0, 0] == 1.0


def test_per_series_statistics_and_round_trip():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(5, 2, (50, 2)),
                             rng.normal(-3, 0.5, (30, 2))]).astype(np.float32)
    bounds = np.array([0, 50, 80])
    scaler = Scaler("minmax").fit(values, bounds, np.array([40, 20]))
    assert scaler.center_.shape == (2, 2)
    scaled = scaler.transform(values, bounds)
    assert np.isclose(scaled[:40].min(0), 0).all() and np.isclose(scaled[:40].max(0), 1).all()
    assert np.isclose(scaled[50:70].min(0), 0).all() and np.isclose(scaled[50:70].max(0), 1).all()
    restored = np.concatenate([scaler.inverse_transform(scaled[:50], 0),
                               scaler.inverse_transform(scaled[50:], 1)])
    np.testing.assert_allclose(restored, values, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_blocks_of_short_series_and_chunks_of_long_ones_match_numpy(method, monkeypatch):
    monkeypatch.setattr(scaling, "_BLOCK_ROWS", 64)  # many blocks on a small array
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 40, 30).tolist() + [300, 7] + rng.integers(1, 9, 20).tolist()
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    train_ends = np.maximum(1, (np.array(lengths) * 0.7).astype(int))
    values = (rng.normal(size=(bounds[-1], 3)) * rng.uniform(0.1, 100, 3)
              + rng.uniform(-1e3, 1e3, 3)).astype(np.float32)
    scaler = Scaler(method).fit(values, bounds, train_ends)
    for s, lo in enumerate(bounds[:-1]):
        train = values[lo:lo + train_ends[s]].astype(np.float64)
        if method == "standard":
            center, scale = train.mean(0), train.std(0)
        else:
            center, scale = train.min(0), np.ptp(train, axis=0)
        scale = np.where(scale > 0, scale, np.minimum(np.abs(center), 1))  # one row: level
        np.testing.assert_allclose(scaler.center_[s], center, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(scaler.scale_[s], scale, rtol=1e-4)
    expected = np.concatenate([(values[lo:lo + n] - scaler.center_[s]) / scaler.scale_[s]
                               for s, (lo, n) in enumerate(zip(bounds, lengths, strict=False))])
    in_place = values.copy()
    assert scaler.transform(in_place, bounds, out=in_place) is in_place
    np.testing.assert_allclose(in_place, expected, rtol=1e-6, atol=1e-6)
    scaler.inverse_transform_series(in_place, bounds, out=in_place)
    np.testing.assert_allclose(in_place, values, rtol=1e-5, atol=1e-3)


def test_constant_channel_does_not_divide_by_zero():
    values = np.ones((10, 1), dtype=np.float32)
    scaled = Scaler("standard").fit(values, np.array([0, 10]), np.array([10])).transform(
        values, np.array([0, 10]))
    assert np.isfinite(scaled).all()


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_a_tiny_series_is_scaled_and_a_constant_one_by_its_level(method):
    """Constant means no spread at float32's resolution at the series' level, not an absolute
    cut-off: 1e-13 sin is scaled; a constant series is scaled by its level up to 1 (1 if all
    zero)."""
    tiny = 1e-13 * np.sin(np.arange(50) / 3)
    values = np.stack([tiny, np.full(50, 1e-6), np.zeros(50), np.full(50, -4.0),
                       1e9 + np.r_[64.0, np.zeros(49)]], axis=1).astype(np.float32)
    bounds = np.array([0, 50])
    scaler = Scaler(method).fit(values, bounds, np.array([50]))
    spread = tiny.std() if method == "standard" else np.ptp(tiny)
    np.testing.assert_allclose(scaler.scale_[0], [spread, 1e-6, 1.0, 1.0, 1.0], rtol=1e-4)
    scaled = scaler.transform(values, bounds)
    assert np.isfinite(scaled).all() and abs(scaled[:, 0]).max() > 0.5
    np.testing.assert_allclose(scaler.inverse_transform(scaled), values, rtol=1e-6, atol=1e-19)


def test_none_keeps_values_and_state_round_trips():
    values = np.arange(12, dtype=np.float32).reshape(6, 2)
    bounds = np.array([0, 6])
    scaler = Scaler("none").fit(values, bounds, np.array([4]))
    np.testing.assert_array_equal(scaler.transform(values, bounds), values)
    copy = Scaler.from_state_dict(Scaler("standard").fit(values, bounds, np.array([4]))
                                  .state_dict())
    assert copy.method == "standard" and copy.center_.tolist() == [[3.0, 4.0]]


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="data.scaler.*robust"):
        Scaler("robust")
