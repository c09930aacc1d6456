"""Baselines: the estimator contract, known values, the calendar option, config and CLI."""

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

import forecast
from forecast import baselines
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError
from forecast.evaluate import build_baselines, run_baselines
from tests.conftest import FAST, REPO, SHARED_DATA, run_train

ALL = [baselines.RepeatLast(), baselines.SeasonalNaive(season=50), baselines.WindowMean(),
       baselines.LinearBaseline(), baselines.GradientBoostingBaseline(max_iter=20),
       baselines.KNeighborsBaseline()]

# sklearn's checks that need no data. The others build 2-D X [n_samples, n_features]; our
# estimators take windows [N, L, C] and forecast [N, H, T] (tags: three_d_array, no
# two_d_array), so `test_window_estimator_contract` re-checks those properties on windows.
API_CHECKS = ["check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types",
              "check_estimator_repr", "check_no_attributes_set_in_init",
              "check_parameters_default_constructible", "check_get_params_invariance",
              "check_set_params", "check_do_not_raise_errors_in_init_or_set_params",
              "check_mixin_order", "check_estimators_unfitted"]


def _name(estimator):
    return type(estimator).__name__


@pytest.fixture(scope="module")
def windows():
    dm = WindowDataModule(frame=sine_frame(n_steps=1500), lookback=60, horizon=5)
    dm.setup()
    return dm.windows("train"), dm.windows("test")


@pytest.mark.parametrize("check", API_CHECKS)
@pytest.mark.parametrize("estimator", ALL, ids=_name)
def test_sklearn_api_checks(estimator, check):
    getattr(estimator_checks, check)(_name(estimator), estimator)


@pytest.mark.parametrize("estimator", ALL, ids=_name)
def test_window_estimator_contract(estimator, windows):
    (X, y), (X_test, y_test) = windows
    params = estimator.get_params()
    with pytest.raises(NotFittedError):
        clone(estimator).predict(X_test)
    fitted = clone(estimator)
    assert fitted.fit(X, y) is fitted
    assert fitted.get_params() == params  # fit changes no parameter
    assert not {k for k in vars(fitted) if not k.endswith("_")} - set(params)
    forecast = fitted.predict(X_test)
    assert forecast.shape == y_test.shape and np.isfinite(forecast).all()
    assert isinstance(fitted.score(X_test, y_test), float)
    with pytest.raises(ValueError, match="fitted on windows"):
        fitted.predict(X_test[:, 1:])
    with pytest.raises(ValueError, match=r"X \[N, L, C\]"):
        clone(estimator).fit(X[:, :, 0], y)


@pytest.mark.parametrize("estimator", [
    baselines.LinearBaseline(), baselines.KNeighborsBaseline(n_lags=12),
    baselines.GradientBoostingBaseline(n_lags=12, max_iter=10)], ids=_name)
def test_targets_and_steps_stay_apart_with_several_targets(estimator, windows):
    """A second target 100 above the first is forecast 100 above it at every step (a wrong
    reshape of [N, H, T] mixes steps and targets)."""
    (X, y), _ = windows
    X, y = X.astype(np.float64), y.astype(np.float64)
    both_X, both_y = np.concatenate([X, X + 100], -1), np.concatenate([y, y + 100], -1)
    forecast_ = estimator.fit(both_X, both_y).predict(both_X[:50])
    np.testing.assert_allclose(forecast_[..., 1] - forecast_[..., 0], 100, atol=1e-3)


def test_ridge_on_n_lags_reads_the_last_lags():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 24, 1)), rng.normal(size=(200, 3, 1))
    ridge = baselines.LinearBaseline(n_lags=4).fit(X, y)
    older = X.copy()
    older[:, :-4] += 5  # only the lags before the last 4 change
    np.testing.assert_allclose(ridge.predict(older), ridge.predict(X))


def test_repeat_last_and_seasonal_naive_values():
    X = np.arange(12, dtype=float).reshape(1, 12, 1)
    y = np.zeros((1, 5, 1))
    assert baselines.RepeatLast().fit(X, y).predict(X).ravel().tolist() == [11] * 5
    assert baselines.SeasonalNaive(4).fit(X, y).predict(X).ravel().tolist() == [8, 9, 10, 11, 8]
    assert baselines.WindowMean().fit(X, y).predict(X).ravel().tolist() == [5.5] * 5


def test_ridge_learns_the_sine_better_than_repeat_last(windows):
    (X, y), (X_test, y_test) = windows
    ridge = baselines.LinearBaseline().fit(X, y).predict(X_test)
    naive = baselines.RepeatLast().fit(X, y).predict(X_test)
    assert np.mean((ridge - y_test) ** 2) < 0.5 * np.mean((naive - y_test) ** 2)


def test_ridge_reproduces_nlinear_on_etth1_ot_336_96():
    """NLinear reports 0.053 (normalised MSE) on ETTh1, univariate OT, 336 -> 96."""
    dm = WindowDataModule(path=SHARED_DATA / "ett" / "ETTh1.csv", target="OT", lookback=336,
                          horizon=96, split={"borders": [8640, 11520, 14400]})
    (result,) = run_baselines({"ridge": baselines.LinearBaseline()}, dm)
    assert len(result.forecast) == 2785  # every test window of the standard protocol
    assert result.metrics["test_norm_mse"] == pytest.approx(0.053, abs=0.001)


def _weekday_frame(n_days=1200, seed=0):
    """Daily data whose level depends on the weekday; 3 lags cannot see the weekly cycle."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2020-01-01", periods=n_days, freq="D")
    effect = np.array([0, 0, 0, 0, 0, 3, 3])[time.dayofweek]
    return pd.DataFrame({"date": time, "y": effect + 0.3 * rng.normal(size=n_days)})


def test_gradient_boosting_uses_the_target_steps_calendar():
    dm = WindowDataModule(frame=_weekday_frame(), lookback=14, horizon=7)
    plain = baselines.GradientBoostingBaseline(n_lags=3, max_iter=50, calendar=False)
    as_net = baselines.GradientBoostingBaseline(n_lags=3, max_iter=50)  # the net has no calendar
    with_calendar = baselines.GradientBoostingBaseline(n_lags=3, max_iter=50, calendar=True)
    assert baselines.takes_calendar(with_calendar) and not baselines.takes_calendar(plain)
    scores = {r.name: r.metrics["test_norm_mse"] for r in run_baselines(
        {"plain": plain, "as_net": as_net, "calendar": with_calendar}, dm)}
    assert with_calendar.n_time_features_ > 0 and plain.n_time_features_ == 0
    assert as_net.n_time_features_ == 0 and scores["as_net"] == scores["plain"]
    assert scores["calendar"] < 0.5 * scores["plain"]
    X, _ = dm.windows("test")
    with pytest.raises(ValueError, match="y_time"):
        with_calendar.predict(X)  # fitted with a calendar, so predict needs one too


@pytest.fixture(scope="module")
def baseline_config():
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("train").baselines


def test_build_baselines_fills_in_the_season_of_the_data(baseline_config):
    hourly = WindowDataModule(frame=sine_frame(n_steps=600), lookback=48, horizon=4)
    assert hourly.season == 24  # inferred from the hourly frequency
    built = build_baselines(baseline_config, hourly.season)
    assert set(built) == {"repeat_last", "seasonal_naive", "mean", "ridge", "gbm", "knn"}
    assert built["seasonal_naive"].season == 24
    assert all(type(e).__module__ == "forecast.baselines" for e in built.values())
    daily = WindowDataModule(frame=_weekday_frame(100), lookback=14, horizon=7)
    assert daily.season == 7
    configured = WindowDataModule(frame=_weekday_frame(100), lookback=14, horizon=7, season=30)
    assert configured.season == 30
    fixed = OmegaConf.merge(baseline_config, {"seasonal_naive": {"season": 12}})
    assert build_baselines(fixed, 24)["seasonal_naive"].season == 12  # the config wins


def test_a_season_longer_than_the_lookback_is_settled_before_training(baseline_config):
    """The data's season: the seasonal naive is left out (a sweep over data.lookback goes on);
    a configured one: a ConfigError naming the key."""
    built = build_baselines(baseline_config, season=50, lookback=25)
    assert "seasonal_naive" not in built and "ridge" in built
    assert build_baselines(baseline_config, 50, lookback=50)["seasonal_naive"].season == 50
    fixed = OmegaConf.merge(baseline_config, {"seasonal_naive": {"season": 60}})
    with pytest.raises(ConfigError, match="baselines.seasonal_naive.season: 60 is longer"):
        build_baselines(fixed, 24, lookback=48)


@pytest.mark.slow
def test_cli_removes_one_baseline_and_backtests_with_a_stride(tmp_path):
    result = run_train("+experiment=sine", *FAST, "trainer.max_epochs=1", "logger=none",
                       "~baselines.knn", "~baselines.gbm", "backtest.stride=10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout[result.stdout.index("test windows"):]
    assert "origins every 10 steps" in table
    for name in ("lstm", "repeat_last", "seasonal_naive", "mean", "ridge"):
        assert f" {name} " in table
    assert " knn " not in table and " gbm " not in table
    assert all(len(line) <= 100 for line in table.splitlines()[:8])


@pytest.mark.slow
def test_cli_without_baselines(tmp_path):
    result = run_train("+experiment=sine", *FAST, "trainer.max_epochs=1", "logger=none",
                       "baselines=none", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if " neural " in line or " baseline "
            in line]
    assert len(rows) == 1 and rows[0].startswith("* lstm") and rows[0].rstrip().endswith("-")
    (checkpoints,) = tmp_path.glob("outputs/sine/*/checkpoints")  # where the weights went
    model = checkpoints.parent / "model"
    assert result.stdout.rstrip().endswith(f"logger=none: nothing was tracked; the checkpoints "
                                           f"are in {checkpoints}, the model is in {model} "
                                           "(forecast.load(path))")
    assert len(forecast.load(model).predict()) == 1  # a model to deploy without MLflow


def test_ridge_uses_the_known_future_inputs_of_each_target_step():
    """Load = 2 x a price plan known in advance: with the plan's future values ridge is exact
    up to the noise; from lags alone it cannot be. By default it gets what the net gets."""
    rng = np.random.default_rng(0)
    price = np.repeat(rng.choice([0.0, 1.0, 2.0], size=200), 4)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=800, freq="h"),
                          "load": 2 * price + 0.1 * rng.normal(size=800), "plan": price})
    dm = WindowDataModule(frame=frame, target="load", future_features=["plan"], calendar=True,
                          lookback=24, horizon=6)
    for independent in (True, False):
        options = {"channel_independent": independent, "subtract_last": False}
        plain = baselines.LinearBaseline(**options, calendar=False)
        known = baselines.LinearBaseline(**options)
        scores = {r.name: r.metrics["test_norm_mse"]
                  for r in run_baselines({"plain": plain, "known": known}, dm)}
        assert known.n_time_features_ == 1 + 1  # the hour (33 days: 33 cycles), the plan
        assert plain.n_time_features_ == 0
        assert scores["known"] < 0.05 < 0.3 < scores["plain"], scores
    X, _ = dm.windows("test")
    with pytest.raises(ValueError, match="LinearBaseline was fitted with calendar features"):
        known.predict(X)
