import numpy as np
import pytest
from sklearn.base import clone

from forecast import baselines
from forecast.data import WindowDataModule

ALL = [baselines.RepeatLast(), baselines.SeasonalNaive(season=50), baselines.WindowMean(),
       baselines.LinearBaseline(), baselines.GradientBoostingBaseline(max_iter=20),
       baselines.KNeighborsBaseline()]


@pytest.fixture(scope="module")
def windows():
    from forecast.data.synthetic import sine_frame

    dm = WindowDataModule(frame=sine_frame(n_steps=1500), lookback=60, horizon=5)
    dm.setup()
    return dm.windows("train"), dm.windows("test")


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_baselines_are_clonable_estimators_with_forecast_shapes(estimator, windows):
    (X, y), (X_test, y_test) = windows
    fitted = clone(estimator).fit(X, y)
    assert fitted.get_params() == estimator.get_params()
    assert fitted.predict(X_test).shape == y_test.shape


def test_repeat_last_and_seasonal_naive_values():
    X = np.arange(12, dtype=float).reshape(1, 12, 1)
    y = np.zeros((1, 5, 1))
    assert baselines.RepeatLast().fit(X, y).predict(X).ravel().tolist() == [11] * 5
    assert baselines.SeasonalNaive(4).fit(X, y).predict(X).ravel().tolist() == [8, 9, 10, 11, 8]


def test_ridge_learns_the_sine_better_than_repeat_last(windows):
    (X, y), (X_test, y_test) = windows
    ridge = baselines.LinearBaseline().fit(X, y).predict(X_test)
    naive = baselines.RepeatLast().fit(X, y).predict(X_test)
    assert np.mean((ridge - y_test) ** 2) < 0.5 * np.mean((naive - y_test) ** 2)
