"""Rolling-origin backtest: origins, same metrics for nets and baselines, refitting."""

import doctest

import numpy as np
import pandas as pd
import pytest
import torch

import forecast.backtest
import forecast.evaluate
from forecast import baselines, metrics
from forecast.backtest import backtest, origins
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError
from forecast.evaluate import predict_scaled, run_baselines
from forecast.models import ForecastModule, ManyToOne


@pytest.fixture(scope="module")
def panel():
    """Three stacked series (long form), 12-step horizon."""
    dm = WindowDataModule(frame=sine_frame(n_steps=300, n_series=3, long=True), lookback=24,
                          horizon=12)
    dm.setup()
    return dm


@pytest.fixture(scope="module")
def net(panel):
    torch.manual_seed(0)
    return ForecastModule(ManyToOne(**panel.dims, hidden_size=8))


def test_origins_every_stride_steps_in_each_series(panel):
    assert origins(panel, 1).tolist() == list(range(len(panel.starts_["test"])))
    for stride in (5, 7):  # 7 does not divide a series' test windows: origins restart in each
        picked = origins(panel, stride)
        starts, series = panel.starts_["test"][picked], panel.window_series("test")[picked]
        for s in range(3):
            mine = starts[series == s]
            first = panel.starts_["test"][panel.window_series("test") == s][0]
            assert mine[0] == first and set(np.diff(mine)) == {stride}
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="backtest.stride"):
            origins(panel, bad)


def test_stride_one_scores_every_window_as_before(panel):
    estimators = {"ridge": baselines.LinearBaseline(), "naive": baselines.RepeatLast()}
    expected = run_baselines(estimators, panel)
    results = backtest(panel, baselines=estimators)
    for got, want in zip(results, expected, strict=True):
        assert got.metrics == pytest.approx(want.metrics)
        assert len(got.forecast) == len(panel.starts_["test"])


def test_baselines_hold_a_bounded_share_of_the_windows_at_once(panel, monkeypatch, caplog):
    """Past `WINDOW_BYTES` of inputs, the baselines fit on windows drawn at random and forecast
    a chunk at a time: the same forecasts, chunk or not."""
    estimators = {"ridge": baselines.LinearBaseline(), "naive": baselines.RepeatLast()}
    whole = run_baselines(estimators, panel)
    size = 4 * 24 * 1 + 4 * 12 * 1  # float32 inputs [L, C] and targets [H, T] of a window
    monkeypatch.setattr(forecast.evaluate, "WINDOW_BYTES", size * 50)  # 50 windows
    every = panel.starts_["train"].starts()
    drawn = forecast.evaluate.training_sample(panel)
    assert len(drawn) == 50 < len(every) and set(drawn) <= set(every)
    assert np.all(np.diff(drawn) > 0) and np.ptp(drawn) > len(every) / 2  # spread, in order
    with caplog.at_level("INFO", logger="forecast.evaluate"):
        chunked = run_baselines(estimators, panel)
    assert f"fitted on 50 of the {len(every)} training windows" in caplog.text
    np.testing.assert_array_equal(chunked[1].forecast, whole[1].forecast)  # naive: no fit
    assert chunked[0].forecast.shape == whole[0].forecast.shape
    assert chunked[0].metrics["test_norm_mse"] == pytest.approx(
        whole[0].metrics["test_norm_mse"], rel=0.5)  # ridge on 50 windows: close, not equal


def test_strided_metrics_are_those_of_the_chosen_windows(panel, net):
    index = origins(panel, 7)
    results = backtest(panel, {"net": net}, {"naive": baselines.RepeatLast()}, stride=7,
                       fit_seconds={"net": 3.0})
    assert [r.name for r in results] == ["net", "naive"] and results[0].fit_seconds == 3.0
    X, y = panel.windows("test")
    np.testing.assert_allclose(results[0].forecast, predict_scaled(net, panel)[index], atol=1e-6)
    naive = np.repeat(X[index][:, -1:, :1], 12, axis=1)
    expected = metrics.score(y[index], naive, prefix="test_norm_")
    for name in ("test_norm_mse", "test_norm_rmse", "test_norm_mae"):
        assert results[1].metrics[name] == pytest.approx(expected[name], rel=1e-5)
    for r in results:
        assert np.array_equal(r.index, index) and r.per_step["norm_mse"].shape == (12,)
        # No percentage errors of scaled values (they cross zero), no second MASE.
        assert {"test_mape", "test_mase"} <= set(r.metrics)
        assert not {"test_norm_mape", "test_norm_smape", "test_norm_mase"} & set(r.metrics)
        assert "norm_smape" not in r.per_step


class CountingBaseline(baselines.RepeatLast):
    """RepeatLast that records how many windows each fit saw (class-level: clones share it)."""

    fits: list[int] = []

    def fit(self, X, y):
        CountingBaseline.fits.append(len(X))
        return super().fit(X, y)


def test_refit_fits_once_per_origin_time_on_more_and_more_windows(panel):
    CountingBaseline.fits = []
    (result,) = backtest(panel, baselines={"count": CountingBaseline()}, stride=20, refit=True)
    n_times = len(np.unique(panel.window_times("test")[origins(panel, 20), 0]))
    assert len(CountingBaseline.fits) == n_times  # the 3 series share their origin times
    assert CountingBaseline.fits == sorted(CountingBaseline.fits)
    assert CountingBaseline.fits[0] > len(panel.starts_["train"])  # train and val windows
    assert result.params["refit"] is True


def test_refit_never_sees_the_targets_it_forecasts():
    """A 1-nearest-neighbour baseline that had seen a test window would forecast it exactly."""
    walk = sine_frame(n_steps=600, noise=1.0, period=10_000)  # mostly noise, no repeats
    dm = WindowDataModule(frame=walk, lookback=8, horizon=4)
    memoriser = baselines.KNeighborsBaseline(n_neighbors=1, n_lags=8)
    (refitted,) = backtest(dm, baselines={"nn": memoriser}, stride=4, refit=True)
    assert refitted.metrics["test_norm_mse"] > 0.1
    _, y = dm.windows("test")
    assert not np.any(np.all(np.isclose(refitted.forecast, y[refitted.index]), axis=(1, 2)))


class RecordingBaseline(baselines.RepeatLast):
    """RepeatLast that records the largest target each fit saw and the last input of each
    window it then forecasts (class-level: clones share it)."""

    seen: list[tuple[str, float]] = []

    def fit(self, X, y):
        RecordingBaseline.seen.append(("fit", float(np.max(y))))
        return super().fit(X, y)

    def predict(self, X):
        RecordingBaseline.seen.append(("predict", float(np.min(X[:, -1]))))
        return super().predict(X)


def test_refit_fits_only_on_targets_before_the_origin():
    """On a ramp, the origin's first target is its last input + 1: no fit may have seen it."""
    ramp = pd.DataFrame({"date": pd.date_range("2020", periods=300, freq="h"),
                         "y": np.arange(300.0)})
    dm = WindowDataModule(frame=ramp, lookback=8, horizon=4, scaler="none")
    RecordingBaseline.seen = []
    backtest(dm, baselines={"recorder": RecordingBaseline()}, stride=10, refit=True)
    pairs = list(zip(RecordingBaseline.seen[::2], RecordingBaseline.seen[1::2], strict=True))
    assert len(pairs) > 3 and all(f == "fit" and p == "predict" for (f, _), (p, _) in pairs)
    for (_, largest_seen), (_, last_input) in pairs:
        assert largest_seen <= last_input


def test_predict_scaled_forecasts_in_eval_mode_and_leaves_the_mode_as_it_was(panel):
    """Test scores and the interval calibration must not be drawn with dropout on."""
    module = ForecastModule(ManyToOne(**panel.dims, hidden_size=8, dropout=0.5)).train()
    np.testing.assert_array_equal(predict_scaled(module, panel), predict_scaled(module, panel))
    assert module.training


def test_docstring_example_runs():
    assert doctest.testmod(forecast.backtest).failed == 0
