"""`Forecaster.predict(n=)`: fewer steps than the horizon, or more, forecast a horizon at a time
with each forecast fed back as history."""

import pandas as pd
import pytest

import forecast
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError

LOOKBACK, HORIZON = 24, 6


@pytest.fixture(scope="module")
def sine_wide():
    return sine_frame(n_steps=600, n_series=2)


@pytest.fixture(scope="module")
def fitted(sine_wide):
    return forecast.Forecaster(lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, max_epochs=2,
                               seed=0).fit(sine_wide)


def extended(history: pd.DataFrame, forecast_rows: pd.DataFrame) -> pd.DataFrame:
    """The history with forecast rows appended, as a user would feed them back by hand."""
    return pd.concat([history, forecast_rows.reset_index()], ignore_index=True)


def test_fewer_steps_are_the_first_of_the_forecast(fitted, sine_wide):
    full = fitted.predict(sine_wide, level=[80])
    pd.testing.assert_frame_equal(fitted.predict(sine_wide, n=4, level=[80]), full.iloc[:4])


def test_more_steps_feed_each_forecast_back_as_history(fitted, sine_wide):
    steps = 2 * HORIZON + 2  # two whole runs, then one that starts inside the second
    out = fitted.predict(sine_wide, n=steps)
    assert len(out) == steps and out.index.is_monotonic_increasing
    assert out.index[0] == sine_wide.date.iloc[-1] + pd.Timedelta(hours=1)
    first = fitted.predict(sine_wide)
    second = fitted.predict(extended(sine_wide, first))
    last = fitted.predict(extended(extended(sine_wide, first), second.iloc[:2]))  # steps 8..13
    by_hand = pd.concat([first, second, last.iloc[-2:]])
    pd.testing.assert_frame_equal(out, by_hand, check_exact=False, atol=1e-5, rtol=1e-5)


def test_steps_that_cannot_be_forecast_are_refused_by_name(fitted, sine_wide):
    for n in (0, -1, 2.5, "12"):
        with pytest.raises(ConfigError, match=f"n={n!r}: pass a positive integer"):
            fitted.predict(n=n)
    with pytest.raises(ConfigError, match="calibrated for horizon=6 steps"):
        fitted.predict(n=HORIZON + 1, level=[80])
    with_features = forecast.Forecaster(lookback=LOOKBACK, horizon=HORIZON, hidden_size=4,
                                        max_epochs=1, target="y0", features=["y1"])
    with_features.fit(sine_wide)
    assert len(with_features.predict(n=HORIZON - 1)) == HORIZON - 1
    with pytest.raises(ConfigError, match=r"the past features \['y1'\] have none"):
        with_features.predict(n=HORIZON + 1)
