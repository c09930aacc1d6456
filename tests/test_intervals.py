"""Prediction intervals: normalised split conformal half-widths, calibrated on the validation
windows of `fit`, that cover held-out values about as often as their level says."""

import warnings

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError, DataError
from forecast.intervals import (
    Calibration,
    conformal_widths,
    coverage,
    coverage_metrics,
    spread,
)


@pytest.fixture(scope="module")
def frame():
    """Two noisy sines: 1500 steps to fit on, 500 held out."""
    return sine_frame(n_steps=2000, n_series=2, noise=0.2)


@pytest.fixture(scope="module")
def model(frame):
    return forecast.Forecaster(lookback=48, horizon=12, hidden_size=32, max_epochs=8,
                               lr=3e-3).fit(frame.iloc[:1500])


def test_the_half_width_is_the_conformal_rank_of_the_scores():
    widths = conformal_widths(np.arange(9.0, 0.0, -1)[:, None, None])  # nine windows: 9..1
    assert widths.shape == (99, 1, 1)
    assert widths[80 - 1, 0, 0] == 8  # ceil((9 + 1) * 0.8) = 8th smallest
    assert widths[50 - 1, 0, 0] == 5
    assert widths[90 - 1, 0, 0] == 9
    assert np.isinf(widths[95 - 1, 0, 0])  # ceil(10 * 0.95) = 10 > 9 errors: unbounded


def test_held_out_values_are_covered_at_about_the_level(model, frame):
    """Forecasts from 40 origins of the held-out part, each after the same `lookback` rows."""
    inside = {80: [], 95: []}
    for end in range(1500, 1980, 12):
        out = model.predict(frame.iloc[end - 48:end], level=[80, 95])
        actual = frame.iloc[end:end + 12].set_index("date")
        for level, hits in inside.items():
            for name in ("y0", "y1"):
                hits.append((actual[name] >= out[f"{name}-lo-{level}"])
                            & (actual[name] <= out[f"{name}-hi-{level}"]))
    cover = {level: pd.concat(hits).mean() for level, hits in inside.items()}
    assert 0.72 <= cover[80] <= 0.88, cover
    assert 0.90 <= cover[95] <= 0.99, cover
    out = model.predict(level=80)
    assert (out["y0-lo-80"] < out["y0"]).all() and (out["y0"] < out["y0-hi-80"]).all()


def test_columns_follow_each_target_and_levels_are_sorted(model):
    out = model.predict(level=[95, 80])
    assert list(out.columns) == ["y0", "y0-lo-80", "y0-hi-80", "y0-lo-95", "y0-hi-95",
                                 "y1", "y1-lo-80", "y1-hi-80", "y1-lo-95", "y1-hi-95"]
    pd.testing.assert_frame_equal(out[["y0", "y1"]], model.predict())  # the same point forecast
    assert (out["y1-hi-95"] - out["y1-lo-95"] > out["y1-hi-80"] - out["y1-lo-80"]).all()


def test_a_new_series_gets_intervals_in_its_own_units():
    long = sine_frame(n_steps=400, n_series=2, long=True)
    model = forecast.Forecaster(lookback=24, horizon=6, max_epochs=2, hidden_size=8).fit(long)
    tail = long[long.unique_id == "y0"].tail(24)
    new = pd.concat([tail.assign(unique_id="small"),
                     tail.assign(unique_id="large", y=tail.y * 100 + 7)])
    out = model.predict(new, level=90).set_index("unique_id")
    assert list(out.columns) == ["ds", "y", "y-lo-90", "y-hi-90"]
    width = out["y-hi-90"] - out["y-lo-90"]
    np.testing.assert_allclose(width["large"].to_numpy(), 100 * width["small"].to_numpy(),
                               rtol=1e-4)


def test_each_series_intervals_follow_its_own_windows_spread():
    long = sine_frame(n_steps=400, n_series=2, long=True)
    model = forecast.Forecaster(lookback=24, horizon=6, max_epochs=2, hidden_size=8).fit(long)
    history = model.history_frame()
    second = history.unique_id == "y1"
    calm = history.assign(y=history.y.where(~second, history.y[second].mean()))

    def widths(frame, series):
        out = model.predict(frame, level=80)
        out = out[out.unique_id == series]
        return (out["y-hi-80"] - out["y-lo-80"]).to_numpy()

    assert (widths(calm, "y1") < 0.5 * widths(history, "y1")).all()  # y1 calmed: narrower
    np.testing.assert_allclose(widths(calm, "y0"), widths(history, "y0"), rtol=1e-5)


def test_an_interval_column_named_like_a_column_of_the_model_is_refused():
    frame = sine_frame(n_steps=200, n_series=2).rename(columns={"y1": "y0-lo-80"})
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=4, max_epochs=1).fit(frame)
    assert len(set(model.predict(level=[90]).columns)) == 6  # no clash at 90%
    with pytest.raises(DataError, match=r"^level: the interval column name\(s\) \['y0-lo-80'\]"
                                        r" are taken by the model's own columns; rename"):
        model.predict(level=[80])


def test_intervals_survive_save_load(model, tmp_path):
    loaded = forecast.Forecaster.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.predict(level=[80, 95]), model.predict(level=[80, 95]))
    assert loaded.calibration_.windows == model.calibration_.windows > 0


def test_levels_the_model_cannot_answer_get_one_clear_error(model, frame):
    for level in (97.5, 0, 100, "80", True, [], [80, "x"]):
        with pytest.raises(ConfigError, match=r"^level=.*whole percentages between 1 and 99"):
            model.predict(level=level)
    unvalidated = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8,
                                      val_size=0).fit(frame.iloc[:300])
    assert unvalidated.calibration_ is None
    unvalidated.predict()  # point forecasts need no calibration
    with pytest.raises(ConfigError, match=r"no calibration for intervals.*val_size > 0"):
        unvalidated.predict(level=80)
    # 12 rows of validation: 12 - 4 + 1 = 9 windows answer 80% but not 95% (needs 19)
    few = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8,
                              val_size=12).fit(frame.iloc[:300])
    assert few.calibration_.windows == 9  # one wide frame: one series of two targets
    few.predict(level=90)  # needs 9
    with pytest.raises(ConfigError, match=r"^level=95: .* needs at least 19 validation windows "
                                          r"and the model was calibrated on 9"):
        few.predict(level=[80, 95])


def test_intervals_scale_with_the_spread_of_each_window():
    """Errors proportional to each window's spread: normalised, one calibration fits both the
    calm and the volatile windows; a plain (unnormalised) one would over-cover the calm ones
    and under-cover the volatile ones."""
    rng = np.random.default_rng(0)
    spreads_ = np.where(np.arange(4000) % 2, 0.2, 2.0)[:, None, None]  # calm, volatile, ...
    val, test = (rng.normal(size=(4000, 3, 1)) * spreads_ for _ in range(2))
    calibration = Calibration.fit(np.zeros_like(val), val, spreads_)
    for rows in (slice(0, None, 2), slice(1, None, 2)):  # the volatile windows, the calm ones
        scores = coverage_metrics(calibration, np.zeros_like(test[rows]), test[rows],
                                  spreads_[rows])
        assert set(scores) == {"test_coverage_80", "test_coverage_95"}
        assert abs(scores["test_coverage_80"] - 0.8) < 0.03
        assert abs(scores["test_coverage_95"] - 0.95) < 0.015
    plain = conformal_widths(np.abs(val))[80 - 1]
    assert coverage(test[0::2], -plain, plain) < 0.7 and coverage(test[1::2], -plain, plain) > 0.99
    # a constant window gets the floor, not a zero-width interval
    assert (calibration.half_width(80, np.zeros((1, 1, 1))) > 0).all()
    assert coverage_metrics(None, test, test, spreads_) == {}
    assert coverage(np.array([1.0, 2.0, 3.0]), np.array([0.0] * 3), np.array([2.5] * 3)) == 2 / 3


def test_spread_holds_for_large_unscaled_values():
    rng = np.random.default_rng(0)
    inputs = (1e6 + rng.normal(size=(50, 96, 3))).astype(np.float32)  # scaler='none'
    expected = inputs[..., :2].astype(np.float64).std(axis=1, keepdims=True)
    np.testing.assert_allclose(spread(inputs, 2), expected, rtol=1e-5)


def test_a_constant_target_gets_intervals_of_its_scale(frame):
    constant = frame.iloc[:600].assign(y1=3.0)
    model = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8,
                                features=["y1"], target=["y0"]).fit(constant)
    flat = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8,
                               target=["y1", "y0"]).fit(constant)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero
        out = flat.predict(level=80)
    assert np.isfinite(out.to_numpy()).all() and (out["y1-hi-80"] > out["y1-lo-80"]).all()
    assert flat.calibration_.floor[0] == 1.0  # the constant target: its level (its scale)
    assert 0 < flat.calibration_.floor[1] < 1.0
    model.predict(level=80)
