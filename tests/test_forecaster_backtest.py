"""`Forecaster.backtest`: rolling-origin forecasts of a fitted model beside what followed, the
same numbers as `predict` on each cutoff's history; and `score`, R^2 over such a backtest, as
scikit-learn's model selection uses it."""

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score

import forecast
from forecast import metrics
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def frame():
    return sine_frame(n_steps=600, n_series=2)


@pytest.fixture(scope="module")
def model(frame):
    return forecast.Forecaster(lookback=48, horizon=12, hidden_size=16, max_epochs=2,
                               calendar=True).fit(frame.iloc[:450])


def test_windows_inside_the_fitted_rows_are_named_as_in_sample(model, frame, caplog):
    """The model was fitted on rows up to 449: a cutoff before that scores rows it trained on."""
    with caplog.at_level(logging.WARNING, logger="forecast"):
        model.backtest(frame.iloc[:450], n_windows=2)  # cutoffs at rows 425 and 437
    (warned,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned.startswith("backtest: 2 of 2 windows forecast rows this model was fitted on "
                             f"(up to {frame.date.iloc[449]}): their errors are in-sample")
    assert "refit=True" in warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecast"):
        model.backtest(frame, n_windows=2, step=12)  # cutoffs at rows 575 and 587
        model.backtest(frame.iloc[:450], n_windows=1, step=12, refit=True)
        model.score(frame.iloc[402:])  # the first lookback rows are history: cutoffs from 449
    assert "in-sample" not in caplog.text


def test_the_in_sample_warning_names_the_series_and_its_own_fitted_end(caplog):
    long = sine_frame(n_steps=120, n_series=2, long=True)
    first = long.unique_id == long.unique_id.iloc[0]
    fitted = long[~first | (long.index < 80)]  # the first series' fit ends 40 rows earlier
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=1).fit(fitted)
    with caplog.at_level(logging.WARNING, logger="forecast"):
        model.backtest(long[first], n_windows=1, step=6)  # cutoff at row 113 of 120: not in it
        model.backtest(long[first].iloc[:80], n_windows=1)  # cutoff at row 73: fitted on 74-79
    (warned,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"(series '{long.unique_id.iloc[0]}' up to {long.ds.iloc[79]}):" in warned


def test_the_in_sample_warning_names_the_last_fitted_time_on_the_models_clock(caplog):
    frame = sine_frame(n_steps=120, n_series=1)
    frame["date"] = pd.date_range("2021-03-26", periods=120, freq="h", tz="Europe/Berlin")
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=1)
    model.fit(frame.iloc[:100])
    with caplog.at_level(logging.WARNING, logger="forecast"):
        model.backtest(frame.iloc[:100], n_windows=1)
    assert f"(up to {frame.date.iloc[99]}):" in caplog.text  # +02:00 local time, not naive UTC


def test_each_window_is_predict_on_the_history_up_to_its_cutoff(model, frame):
    out = model.backtest(frame, n_windows=3, step=5, level=[80])
    assert list(out.columns) == ["cutoff", "date", "y0", "y0-lo-80", "y0-hi-80",
                                 "y1", "y1-lo-80", "y1-hi-80", "y0-actual", "y1-actual"]
    assert len(out) == 3 * 12
    cutoffs = out.cutoff.unique()
    assert list(cutoffs) == list(frame.date.iloc[[-1 - 12 - 10, -1 - 12 - 5, -1 - 12]])
    truth = frame.set_index("date")
    for cutoff in cutoffs:
        window = out[out.cutoff == cutoff].set_index("date")
        expected = model.predict(frame[frame.date <= cutoff], level=[80])
        pd.testing.assert_frame_equal(window[expected.columns], expected, check_freq=False)
        np.testing.assert_allclose(window[["y0-actual", "y1-actual"]].to_numpy(),
                                   truth.loc[window.index, ["y0", "y1"]].to_numpy(), rtol=1e-6)
    assert out.date.iloc[-1] == frame.date.iloc[-1]  # the last horizon ends at the frame's end
    default = model.backtest(frame, n_windows=2)  # step = horizon: back-to-back horizons
    assert (default.cutoff.unique()[1] - default.cutoff.unique()[0]) == pd.Timedelta("12h")


def test_long_frames_new_series_and_known_future_columns():
    rng = np.random.default_rng(0)
    n = 400
    price = np.repeat(rng.choice([0.0, 1.0, 2.0], size=n // 4), 4)
    wide = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"),
                         "y": 2 * price + 0.1 * rng.standard_normal(n), "price": price})
    long = pd.concat([wide.assign(unique_id="a"), wide.assign(unique_id="b", y=wide.y * 3)])
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=1,
                                future_features=["price"]).fit(long[long.unique_id == "a"])
    out = model.backtest(long, n_windows=2, step=3)
    assert list(out.columns) == ["unique_id", "cutoff", "ds", "y", "y-actual"]
    assert out.unique_id.tolist() == ["a"] * 12 + ["b"] * 12  # "b" is new to the model
    cutoff = out.cutoff.iloc[-1]
    history = long[long.ds <= cutoff]
    future = long[long.ds > cutoff].groupby("unique_id").head(6)[["unique_id", "ds", "price"]]
    expected = model.predict(history, future=future)
    last = out[out.cutoff == cutoff].reset_index(drop=True)
    pd.testing.assert_frame_equal(last[["unique_id", "ds", "y"]], expected)


def test_integer_time_axes_and_series_of_different_lengths():
    long = sine_frame(n_steps=200, n_series=2, long=True)
    long["ds"] = long.groupby("unique_id").cumcount() * 5  # integer steps of 5
    ragged = long[(long.unique_id == "y0") | (long.ds >= 300)]  # y1: its last 140 rows
    model = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8,
                                time_col="ds").fit(long)
    out = model.backtest(ragged, n_windows=2, step=3)
    assert out.cutoff.dtype == out.ds.dtype == np.int64
    for series in ("y0", "y1"):
        rows = out[out.unique_id == series]
        assert rows.cutoff.unique().tolist() == [995 - 5 * (4 + 3), 995 - 5 * 4]
        assert rows.ds.tolist()[-1] == 995  # both end where their series ends
        expected = model.predict(ragged[(ragged.unique_id == series)
                                        & (ragged.ds <= rows.cutoff.iloc[0])])
        np.testing.assert_allclose(rows.y.to_numpy()[:4], expected.y.to_numpy(), rtol=1e-5)


def test_refit_forecasts_each_run_of_windows_with_a_clone_fitted_up_to_its_cutoff(frame):
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=2)
    model.fit(frame.iloc[:200])
    out = model.backtest(frame.iloc[:300], n_windows=3, step=6, refit=2, level=[80])
    cutoffs = out.cutoff.unique()
    for fitted_at, windows in ((cutoffs[0], cutoffs[:2]), (cutoffs[2], cutoffs[2:])):
        refitted = clone(model).fit(frame[frame.date <= fitted_at])  # nothing after its cutoff
        for cutoff in windows:
            expected = refitted.predict(frame[frame.date <= cutoff], level=[80])
            window = out[out.cutoff == cutoff].set_index("date")[expected.columns]
            np.testing.assert_allclose(window.to_numpy(), expected.to_numpy(), atol=1e-6)
    unrefitted = model.backtest(frame.iloc[:300], n_windows=3, step=6)
    assert np.abs(unrefitted.y0 - out.y0).max() > 1e-3  # the model fitted on rows 0..199 differs
    never_fitted = clone(model)  # refits need no fitted model: the frame is read as fit reads it
    pd.testing.assert_frame_equal(
        never_fitted.backtest(frame.iloc[:300], n_windows=3, step=6, refit=2, level=[80]), out)
    with pytest.raises(NotFittedError, match="call fit"):
        never_fitted.backtest(frame.iloc[:300], n_windows=3, step=6)


def test_refit_cuts_each_series_of_a_long_frame_at_its_own_cutoff():
    long = sine_frame(n_steps=150, n_series=2, long=True)
    long["ds"] = long.groupby("unique_id").cumcount()
    ragged = long[(long.unique_id == "y0") | (long.ds >= 40)]  # y1: its last 110 rows
    model = forecast.Forecaster(lookback=16, horizon=4, max_epochs=1, hidden_size=8,
                                time_col="ds").fit(ragged)
    out = model.backtest(ragged, n_windows=2, step=4, refit=True)
    assert out.cutoff.unique().tolist() == [141, 145]
    first = ragged[ragged.ds <= 141]
    expected = clone(model).fit(first).predict(first)
    window = out[out.cutoff == 141].reset_index(drop=True)
    np.testing.assert_allclose(window.y, expected.y, atol=1e-6)


def test_refits_of_a_ragged_panel_see_no_series_past_the_cutoff():
    """Where the series' windows fall at different times, each window is forecast by a clone
    fitted on every series' rows up to that window's cutoff, none later."""
    rng = np.random.default_rng(2)
    ragged = pd.concat([pd.DataFrame({"unique_id": name, "y": rng.normal(size=n).cumsum(),
                                      "ds": pd.date_range(end="2021-06-01", periods=n)})
                        for name, n in {"long": 150, "short": 60}.items()])
    model = forecast.Forecaster(lookback=12, horizon=6, hidden_size=8, max_epochs=1,
                                val_size=6)
    out = model.backtest(ragged, start="2021-04-01", step=6, n_windows=2, refit=True)
    cutoffs = out.groupby("unique_id").cutoff.unique()
    assert [list(map(str, cutoffs[k])) for k in ("long", "short")] == [
        ["2021-03-31 00:00:00", "2021-04-06 00:00:00"],
        ["2021-04-14 00:00:00", "2021-04-20 00:00:00"]]  # short: from its 13th row
    seen = ragged[ragged.ds <= "2021-03-31"]  # short has no rows yet
    expected = clone(model).fit(seen).predict(seen)
    first = out[out.cutoff == "2021-03-31"]
    np.testing.assert_allclose(first.y.to_numpy(), expected.y.to_numpy(), atol=1e-6)


def test_bad_arguments_get_one_clear_error(model, frame):
    for options, error, message in [
            (dict(n_windows=0), ConfigError, r"^backtest: n_windows=0; pass a positive integer"),
            (dict(step="5"), ConfigError, r"^backtest: step='5'; pass a positive integer"),
            (dict(refit="yes"), ConfigError, r"^backtest: refit='yes'; pass False, True"),
            (dict(refit=-2), ConfigError, r"^backtest: refit=-2; pass False, True"),
            (dict(n_windows=45, step=12, refit=45), DataError,
             r"^backtest: refitting at cutoff 2020-01-03 11:00:00 \(1 of 1\), on the rows up "
             r"to it: data: the train part .* is too short.*; start the backtest later"),
            (dict(n_windows=20, step=30), DataError, r"^backtest: 20 windows 30 rows apart need "
                                                     r"630 rows per series .*, and the frame has "
                                                     r"600; pass more")]:
        with pytest.raises(error, match=message):
            model.backtest(frame, **options)
    with pytest.raises(DataError, match=r"^backtest: the history misses column"):
        model.backtest(frame.drop(columns="y1"))
    clashing = frame.rename(columns={"y0": "cutoff"})
    named = forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8)
    with pytest.raises(DataError, match=r"\['cutoff'\] are taken by the backtest's own columns"):
        named.fit(clashing.iloc[:200]).backtest(clashing)
    long = sine_frame(n_steps=100, n_series=2, long=True)
    long_model = forecast.Forecaster(lookback=24, horizon=6, max_epochs=1).fit(long)
    with pytest.raises(DataError, match=r"need 42 rows per series .*, and these series have "
                                        r"fewer \(id: rows\): \{'y1': 40\}; pass more rows"):
        long_model.backtest(long.iloc[:140], n_windows=3)  # y0: 100 rows, y1: 40; need 42
    with pytest.raises(DataError, match=r"need 42 rows .* \{'y1': 10\}"):  # fewer than lookback
        long_model.backtest(long.iloc[:110], n_windows=3)  # too: the rows backtest needs


def test_score_is_the_r2_of_every_whole_horizon_after_the_lookback(model, frame):
    later = frame.iloc[400:]  # 200 rows: lookback 48, then 12 whole horizons of 12 (8 rows over)
    every = model.backtest(later, n_windows=12)
    expected = r2_score(every[["y0-actual", "y1-actual"]], every[["y0", "y1"]])
    assert model.score(later) == pytest.approx(expected)
    with pytest.raises(DataError, match="need 204 rows per series"):
        model.backtest(later, n_windows=13)  # 12 are all there are
    with pytest.raises(DataError, match=r"^score: no series has a whole horizon with lookback "
                       r"rows before it \(lookback \+ horizon = 60 rows\); pass more rows "
                       r"\(with TimeSeriesSplit: fewer splits, or test_size=60\)\.$"):
        model.score(frame.iloc[:50])
    with pytest.raises(NotFittedError):
        clone(model).score(frame)


def test_a_ragged_panel_is_backtested_from_a_start_as_each_series_allows(caplog):
    """From `start` on, each series gets the windows its rows allow, and a series with none is
    left out by name; score scores every series on its own whole horizons."""
    rng = np.random.default_rng(0)
    lengths = {"long": 150, "short": 60, "late": 100, "tiny": 20}
    ragged = pd.concat([pd.DataFrame({"unique_id": name, "y": rng.normal(size=n).cumsum(),
                                      "ds": pd.date_range(end="2021-06-01", periods=n)})
                        for name, n in lengths.items()])
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=1,
                                val_size=6).fit(ragged[ragged.unique_id != "tiny"])
    with caplog.at_level("WARNING", logger="forecast"):
        cv = model.backtest(ragged, start="2021-04-01", step=6)
    assert "1 of 4 series have no whole horizon after start='2021-04-01'" in caplog.text
    assert "such as 'tiny' (20 rows); they are left out" in caplog.text
    cutoffs = cv.groupby("unique_id").cutoff.agg(["min", "count"])
    # long and late forecast 2021-04-01 on (62 days: 10 whole horizons); short from its 25th day
    assert cutoffs.loc["long", "min"] == cutoffs.loc["late", "min"] == pd.Timestamp("2021-03-31")
    assert cutoffs.loc["short", "min"] == pd.Timestamp("2021-04-26")
    assert cutoffs["count"].to_dict() == {"late": 60, "long": 60, "short": 36}
    assert (cv.groupby("unique_id").ds.min() >= pd.Timestamp("2021-04-01")).all()
    first = model.backtest(ragged, start="2021-04-01", step=6, n_windows=2)
    assert first.groupby("unique_id").size().to_dict() == {"late": 12, "long": 12, "short": 12}
    earliest = model.backtest(ragged, start="earliest", step=6)  # ends at each series' end
    assert earliest.groupby("unique_id").size().to_dict() == {"late": 72, "long": 126,
                                                              "short": 36}
    assert (earliest.groupby("unique_id").ds.max() == pd.Timestamp("2021-06-01")).all()
    scored = [r2_score(rows["y-actual"], rows["y"]) for _, rows
              in earliest.groupby("unique_id", sort=False)]
    assert model.score(ragged) == pytest.approx(np.mean(scored))  # not just the shortest's
    refitted = model.backtest(ragged[ragged.unique_id != "tiny"], start="2021-05-20", step=6,
                              refit=True)  # one clone per cutoff time, for every series
    assert len(refitted) == 3 * 2 * 6 and refitted.cutoff.nunique() == 2
    with pytest.raises(ConfigError, match=r"^backtest: start: '2021-04-01 00:00\+02:00' has a "
                                          r"UTC offset, but the data's times have no timezone"):
        model.backtest(ragged, start="2021-04-01 00:00+02:00")
    for start, said in [(100, r"100 is a number, but the times of 'ds' are timestamps: give a "
                              r"time, such as '2021-01-03'"),
                        ("EARLIEST", r"'EARLIEST' is not a time")]:
        with pytest.raises(ConfigError, match=rf"^backtest: start: {said}"):
            model.backtest(ragged, start=start)


def test_a_series_a_metric_cannot_score_is_left_out_by_name(caplog):
    rng = np.random.default_rng(1)
    values = {"a": rng.normal(size=80).cumsum() + 50, "zeros": np.zeros(80),
              "b": rng.normal(size=80).cumsum() + 50}
    panel = pd.concat([pd.DataFrame({"unique_id": k, "y": v,
                                     "ds": pd.date_range("2021-01-01", periods=80, freq="D")})
                       for k, v in values.items()])
    model = forecast.Forecaster(lookback=12, horizon=4, hidden_size=8, max_epochs=1).fit(panel)
    with caplog.at_level("WARNING", logger="forecast"):
        mape = model.score(panel, metric="mape")
    assert ("score: mape is undefined for 1 of 3 series (such as 'zeros', with no actual it "
            "can score: zero for MAPE, or missing); they are left out of the mean") in caplog.text
    cv = model.backtest(panel, start="earliest")
    each = [metrics.mape(rows[["y-actual"]].to_numpy()[None], rows[["y"]].to_numpy()[None])
            for name, rows in cv.groupby("unique_id") if name != "zeros"]
    assert mape == pytest.approx(np.mean(each))
    with pytest.raises(DataError, match=r"^score: mape is undefined for every series scored "
                                        r"\(such as 'zeros'.*metric='smape' or 'mae'\)"):
        model.score(panel[panel.unique_id == "zeros"], metric="mape")


def test_score_of_a_long_frame_is_the_mean_over_its_series_not_pooled():
    rng = np.random.default_rng(0)
    walks = pd.DataFrame({"unique_id": np.repeat([1, 2, 3], 150),
                          "ds": np.tile(pd.date_range("2021-01-01", periods=150, freq="D"), 3),
                          "y": rng.normal(size=450).cumsum() + np.repeat([0, 100, 1000], 150)})
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=1).fit(walks)
    cv = model.backtest(walks, n_windows=21)  # every whole horizon: (150 - 24) // 6
    each = [r2_score(rows["y-actual"], rows["y"]) for _, rows in cv.groupby("unique_id")]
    assert model.score(walks) == pytest.approx(np.mean(each))
    assert r2_score(cv["y-actual"], cv["y"]) > 0.99  # pooled: the levels 0, 100, 1000 alone


def test_a_scorer_gives_the_backtest_error_negated(model, frame):
    later = frame.iloc[400:]
    every = model.backtest(later, n_windows=12)
    errors = every[["y0-actual", "y1-actual"]].to_numpy() - every[["y0", "y1"]].to_numpy()
    assert model.score(later, metric="mae") == pytest.approx(np.abs(errors).mean())
    assert model.score(later, metric="MAE") == model.score(later, metric="mae")  # as loss="MAE"
    assert forecast.scorer("RMSE").metric == "rmse"
    assert forecast.scorer("mse")(model, later) == pytest.approx(-np.square(errors).mean())
    assert forecast.scorer("r2")(model, later) == model.score(later)
    with pytest.raises(ConfigError, match=r"^scorer: unknown metric 'mean_absolute_error'"):
        forecast.scorer("mean_absolute_error")
    scores = cross_val_score(clone(model), frame, cv=TimeSeriesSplit(2),
                             scoring=forecast.scorer("mae"), error_score="raise")
    assert len(scores) == 2 and (scores < 0).all()


def test_scoring_only_series_the_fit_never_saw_is_named(caplog):
    # TimeSeriesSplit on a long frame cuts between series: fit on y0, score y1
    long = sine_frame(n_steps=200, n_series=2, long=True)
    model = forecast.Forecaster(lookback=24, horizon=4, hidden_size=8, max_epochs=1)
    with caplog.at_level(logging.WARNING, logger="forecast"):
        model.fit(long.iloc[:200]).score(long.iloc[200:])
    assert "score: none of the series scored (['y1']) was in the fit" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecast"):
        model.fit(long).score(long)  # the same series: no note
    assert "none of the series" not in caplog.text


def test_grid_search_with_time_series_splits_picks_the_setting_that_forecasts_better():
    search = GridSearchCV(forecast.Forecaster(lookback=24, horizon=6, hidden_size=16, lr=0.01,
                                              patience=100),
                          {"max_epochs": [1, 10]}, cv=TimeSeriesSplit(2), refit=False)
    search.fit(sine_frame(n_steps=600))  # each split: fit on the rows before, score the next
    one_epoch, ten_epochs = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"max_epochs": 10}
    assert ten_epochs > 0.6 and one_epoch < ten_epochs - 0.3
