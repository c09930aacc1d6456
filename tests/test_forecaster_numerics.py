"""Forecasts that would be far off or not numbers are said so: a network that blew up, a
history far from the training values, values near float32's limit."""

import logging

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast.errors import DataError

SMALL = {"lookback": 16, "horizon": 4, "hidden_size": 8, "max_epochs": 1}


def hourly(y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range("2020", periods=len(y), freq="h"), "y": y})


def test_a_network_that_blew_up_without_overflowing_is_warned_of(caplog):
    sine = 50 * np.sin(2 * np.pi * np.arange(300) / 24)
    with caplog.at_level(logging.WARNING, logger="forecast"):
        forecast.Forecaster(**{**SMALL, "max_epochs": 2}, cell="rnn", nonlinearity="relu",
                            lr=10, gradient_clip_val=None, val_size=0).fit(hourly(sine))
    assert "training blew up: the train_loss_epoch kept is " in caplog.text
    assert "where forecasting each series' training mean scores about 1" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecast"):
        forecast.Forecaster(**SMALL).fit(hourly(sine))  # a sane fit: no word
    assert "blew up" not in caplog.text


def test_a_history_far_from_the_training_values_is_warned_of_and_the_cure_named(caplog):
    drift = np.cumsum(np.random.default_rng(0).normal(0.3, 1, 900))  # leaves its range
    frame = hourly(drift)
    plain = forecast.Forecaster(**SMALL).fit(frame.iloc[:400])
    with caplog.at_level(logging.WARNING, logger="forecast"):
        plain.predict(frame.iloc[:400])  # where it was trained: no word
        assert not caplog.records
        plain.predict(frame)
    assert "predict: the history of series 'series' lies " in caplog.text
    assert "fit with subtract_last=True or revin=True" in caplog.text
    caplog.clear()
    relative = forecast.Forecaster(**SMALL, subtract_last=True).fit(frame.iloc[:400])
    with caplog.at_level(logging.WARNING, logger="forecast"):
        ahead = relative.predict(frame)
    assert not caplog.records and abs(ahead.y.iloc[0] - drift[-1]) < 10


def test_a_forecast_that_is_no_number_is_an_error_naming_its_series():
    history = hourly(1e-3 * np.sin(np.arange(300) / 4))
    model = forecast.Forecaster(**SMALL).fit(history)
    far = history.copy()
    far.loc[far.index[-5:], "y"] = 3e38  # finite in float32, the spread of it is not
    far.loc[far.index[-4], "y"] = -3e38
    with pytest.raises(DataError, match=r"^predict: the forecast of series 'series' is not "
                                        r"finite \(its history reaches 3e\+38\); rescale"):
        model.predict(far, level=[80])
    for parameter in model.net_.parameters():  # as a network that blew up would be
        parameter.data.fill_(float("nan"))
    for steps in (None, 9):  # one horizon, and rolled past it
        with pytest.raises(DataError, match=r"forecast of series 'series' is not finite"):
            model.predict(history, n=steps)
