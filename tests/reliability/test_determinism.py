"""The same seed gives the same forecast, run after run (CPU); the CLI twice with one seed, and
resumed, is checked in tests/models/test_training.py."""

import pandas as pd

import forecast
from forecast.data.synthetic import sine_frame


def test_forecaster_with_one_seed_predicts_identically():
    frame = sine_frame(n_steps=500)
    forecasts = [forecast.Forecaster(lookback=24, horizon=6, max_epochs=2, dropout=0.3,
                                     num_layers=2, seed=7).fit(frame).predict()
                 for _ in range(2)]
    pd.testing.assert_frame_equal(*forecasts)
    other = forecast.Forecaster(lookback=24, horizon=6, max_epochs=2, dropout=0.3, num_layers=2,
                                seed=8).fit(frame).predict()
    assert not other.equals(forecasts[0])
