"""Forecaster as a user meets it: fit/predict on DataFrames, save/load, scikit-learn rules."""

import json
import logging
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator

import forecast
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError, DataError
from forecast.sklearn_checks import NOT_APPLICABLE
from tests.conftest import untrained_from_config

SMALL = dict(lookback=48, horizon=12, max_epochs=2, hidden_size=16)


@pytest.fixture(scope="module")
def frame():
    return sine_frame(n_steps=600, n_series=2)


@pytest.fixture(scope="module")
def fitted(frame):
    return forecast.Forecaster(**SMALL).fit(frame)


@pytest.fixture(scope="module")
def long_fitted():
    long = sine_frame(n_steps=300, n_series=3, long=True)
    return forecast.Forecaster(lookback=24, horizon=4, max_epochs=1, hidden_size=8).fit(long), long


# -- fit / predict ----------------------------------------------------------------------------
def test_predict_returns_future_timestamps(fitted, frame):
    out = fitted.predict()
    assert list(out.columns) == ["y0", "y1"] and len(out) == 12 and out.index.name == "date"
    assert out.index[0] == frame.date.iloc[-1] + pd.Timedelta("1h")
    assert out.index.freq == "h" and len(out.asfreq("h")) == 12  # as pd.date_range gives it
    later = fitted.predict(frame.iloc[:300])
    assert later.index[0] == frame.date.iloc[299] + pd.Timedelta("1h")
    assert not np.allclose(later.to_numpy(), out.to_numpy())  # the history matters
    pd.testing.assert_frame_equal(fitted.predict(frame), out)  # default = after training data
    pd.testing.assert_frame_equal(fitted.predict(fitted.history_frame()), out)


def test_long_in_long_out_and_unknown_series(long_fitted):
    model, long = long_fitted
    out = model.predict(long)
    assert list(out.columns) == ["unique_id", "ds", "y"] and len(out) == 12
    assert list(out.unique_id) == ["y0"] * 4 + ["y1"] * 4 + ["y2"] * 4
    assert (out.ds.iloc[:4] == pd.date_range(long.ds.max(), periods=5, freq="h")[1:]).all()
    pd.testing.assert_frame_equal(out, model.predict())
    # a subset of the series, in another row order, answers for those series only
    subset = long[long.unique_id.isin(["y2", "y0"])].iloc[::-1].sort_values(
        ["unique_id", "ds"], kind="stable")
    sub = model.predict(subset)
    pd.testing.assert_frame_equal(sub.reset_index(drop=True),
                                  out[out.unique_id.isin(["y0", "y2"])].reset_index(drop=True))
    # a series the model never saw is scaled by its own history (documented in predict)
    new = long[long.unique_id == "y1"].assign(unique_id="new", y=lambda d: 10 + 3 * d.y)
    forecast_new = model.predict(new)
    assert list(forecast_new.unique_id.unique()) == ["new"]
    assert 5 < forecast_new.y.mean() < 15  # back in the new series' units


def test_a_new_series_named_like_a_fitted_one_is_warned_of(long_fitted, caplog):
    model, long = long_fitted
    with caplog.at_level(logging.INFO, logger="forecast"):
        model.predict(long[long.unique_id == "y1"].assign(unique_id="new"))
        model.predict(long[long.unique_id == "y1"].assign(unique_id="y11"))  # new, not a typo
    assert [r.levelno for r in caplog.records] == [logging.INFO] * 2  # new series: documented
    assert "1 series not in the fit (e.g. 'new')" in caplog.text
    for typo in ("Y1", " y1"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="forecast"):
            model.predict(long[long.unique_id == "y1"].assign(unique_id=typo))
        assert caplog.records[0].getMessage() == (
            f"predict: series '{typo}' was not in the fit, so it is scaled on its own lookback "
            "rows, not as 'y1' was; did you mean 'y1'?")
    caplog.clear()
    typo = long[long.unique_id == "y1"].assign(unique_id="Y1")
    with caplog.at_level(logging.WARNING, logger="forecast"):
        rows = model.future_frame(typo)  # the rows predict reads: predict says it, once
        model.predict(typo)
    assert len(rows) == model.horizon and len(caplog.records) == 1


def test_integer_time_axis_forecasts_the_next_steps():
    frame = pd.DataFrame({"step": np.arange(200, 800, 2),
                          "load": np.sin(np.arange(300) / 5.0)})
    model = forecast.Forecaster(lookback=20, horizon=5, max_epochs=1, hidden_size=8,
                                time_col="step").fit(frame)
    out = model.predict(frame.iloc[:100])
    assert out.index.name == "step" and list(out.index) == [400, 402, 404, 406, 408]
    assert list(model.predict().index) == [800, 802, 804, 806, 808]
    pd.testing.assert_frame_equal(model.predict(model.history_frame()), model.predict())


def test_predict_checks_the_history(fitted, frame, long_fitted):
    cases = [
        (frame.drop(columns="y1"), r"misses column\(s\) \['y1'\]"),
        (frame.iloc[:20], "history has 20 rows, fewer than lookback=48"),
        (frame.iloc[::2], "frequency is 2h, but the model was trained on h"),
        (frame.drop(columns="date"), "no time column 'date'"),
        (frame.assign(y0=frame.y0.astype(str)), "column 'y0' is not numeric"),
        (frame.assign(y1=np.where(frame.index == 590, np.nan, frame.y1)), "'y1' has 1 missing"),
        (frame.drop(index=[580]), "irregular time steps"),
        (long_fitted[1], "trained on a wide frame"),
        (frame.to_numpy(), "expected a pandas DataFrame"),
    ]
    for bad, message in cases:
        with pytest.raises(DataError, match=message):
            fitted.predict(bad)
    with pytest.raises(DataError, match="needs its series id column 'unique_id'"):
        long_fitted[0].predict(frame)
    model, long = long_fitted
    one_short = long[(long.unique_id != long.unique_id.iloc[0]) | (long.ds >= long.ds.iloc[290])]
    with pytest.raises(DataError, match=r"fewer than lookback=24 rows \(id: rows\) \{.*: 10\}"):
        model.predict(one_short)


def test_fit_leaves_the_users_logging_as_it_was(frame):
    """Lightning's banners and a few dependency warnings are hidden during fit, not after: a
    library call does not change the process's logging."""
    def ours():  # the filters quiet() adds (imports during fit may add their own)
        return [f for f in warnings.filters if f[1] is not None
                and "smaller than the logging interval" in f[1].pattern]

    banner = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    banner.setLevel(logging.INFO)
    before = ours()
    forecast.Forecaster(**{**SMALL, "max_epochs": 1}).fit(frame)
    assert banner.level == logging.INFO and ours() == before


def test_predict_minds_only_the_rows_it_reads(fitted, frame, long_fitted):
    """A gap or a NaN long before the last `lookback` rows is no reason to refuse a history;
    one among them is named by its row in the frame given."""
    expected = fitted.predict(frame)
    early_gap = frame.drop(index=[10, 11]).assign(y1=lambda f: f.y1.where(f.index != 5))
    pd.testing.assert_frame_equal(fitted.predict(early_gap), expected)
    with pytest.raises(DataError, match=r"row 580 \(.*\) follows"):
        fitted.predict(frame.drop(index=[580]))
    model, long = long_fitted
    pd.testing.assert_frame_equal(model.predict(long.drop(index=[3, 4])), model.predict(long))


def test_long_history_with_interleaved_series(long_fitted):
    model, long = long_fitted
    interleaved = long.sort_values(["ds", "unique_id"])  # sorted in time, series interleaved
    by_series = ["unique_id", "ds"]
    pd.testing.assert_frame_equal(
        model.predict(interleaved).sort_values(by_series).reset_index(drop=True),
        model.predict(long).sort_values(by_series).reset_index(drop=True))
    with pytest.raises(DataError, match="not sorted"):
        model.predict(long.sample(frac=1.0, random_state=0))


def test_predict_accepts_other_numeric_dtypes(fitted, frame):
    as_float32 = frame.astype({"y0": np.float32, "y1": np.float32})
    pd.testing.assert_frame_equal(fitted.predict(as_float32), fitted.predict(frame))
    strings = frame.assign(date=frame.date.astype(str))  # timestamps as text (JSON, CSV)
    pd.testing.assert_frame_equal(fitted.predict(strings), fitted.predict(frame))


def test_bad_frames_get_one_clear_error(frame):
    model = forecast.Forecaster(**SMALL)
    cases = [
        (frame.to_numpy(), "expected a pandas DataFrame"),
        (frame.iloc[:0], "empty"),
        (frame.iloc[:50], "fewer than lookback"),
        (frame.assign(y0=np.where(frame.index == 7, np.inf, frame.y0)), "'y0' has 1 missing"),
        (frame.assign(y1=frame.y1.astype(object).where(frame.index != 3, "x")),
         "'y1' is not numeric.*row 3"),
    ]
    for bad, message in cases:
        with pytest.raises(DataError, match=message):
            model.fit(bad)
    assert not hasattr(model, "net_")


def test_fit_keeps_the_weights_of_the_best_validation_epoch(frame, tmp_path):
    """An LR growing tenfold an epoch makes the later epochs worse: the model keeps the best
    one, and equals a fit stopped there."""
    options = {**SMALL, "lr": 0.003, "patience": 10, "lr_scheduler": "ExponentialLR",
               "lr_scheduler_kwargs": {"gamma": 10.0}}
    model = forecast.Forecaster(**{**options, "max_epochs": 6}).fit(frame)
    assert 1 <= model.best_epoch_ < 6
    stopped = forecast.Forecaster(**{**options, "max_epochs": model.best_epoch_}).fit(frame)
    pd.testing.assert_frame_equal(model.predict(), stopped.predict())
    assert forecast.load(model.save(tmp_path / "m")).best_epoch_ == model.best_epoch_
    unvalidated = forecast.Forecaster(**{**SMALL, "max_epochs": 1, "val_size": 0}).fit(frame)
    assert unvalidated.best_epoch_ is None


@pytest.mark.parametrize("val_size", [0.2, 0])
def test_ema_decay_forecasts_with_the_weight_average(frame, val_size):
    """A decay of ~0 averages nothing (the plain fit); a real one changes the kept weights."""
    options = {**SMALL, "val_size": val_size}
    plain = forecast.Forecaster(**options).fit(frame).predict()
    pd.testing.assert_frame_equal(
        forecast.Forecaster(**options, ema_decay=1e-9).fit(frame).predict(), plain)
    averaged = forecast.Forecaster(**options, ema_decay=0.9).fit(frame).predict()
    assert not np.allclose(averaged.to_numpy(), plain.to_numpy())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_options_on_a_machine_without_a_gpu(frame):
    """"auto" trains as "cpu" here; bf16 autocast changes the numbers a little; "gpu" is one
    error."""
    options = {**SMALL, "max_epochs": 1}
    cpu = forecast.Forecaster(**options).fit(frame).predict()
    pd.testing.assert_frame_equal(forecast.Forecaster(**options, accelerator="auto").fit(frame)
                                  .predict(), cpu)
    bf16 = forecast.Forecaster(**options, precision="bf16-mixed").fit(frame).predict()
    assert not bf16.equals(cpu) and np.allclose(bf16, cpu, atol=0.1)
    with pytest.raises(ConfigError, match=r"^accelerator='gpu': torch .* sees no CUDA GPU"):
        forecast.Forecaster(**options, accelerator="gpu").fit(frame)


def test_bad_training_options_get_one_clear_error(frame):
    cases = [
        (dict(lr=-1), r"^lr=-1, weight_decay=0.0: Invalid learning rate: -1; pass numbers"),
        (dict(lr="0.1"), r"^lr='0.1', weight_decay=0.0: .*pass numbers"),
        (dict(weight_decay=-0.1), r"^lr=0.001, weight_decay=-0.1: Invalid weight_decay"),
        (dict(lr_scheduler="Cosine"), r"^lr_scheduler: 'Cosine' is not a schedule of torch"),
        (dict(lr_scheduler="LRScheduler"), r"'LRScheduler' is not a schedule"),
        (dict(lr_scheduler="SequentialLR"), r"'SequentialLR' is not a schedule"),
        (dict(lr_scheduler="ExponentialLR", lr_scheduler_kwargs={"gama": 0.9}),
         r"^lr_scheduler_kwargs=\{'gama': 0.9\}: ExponentialLR\(gama=0.9\) rejects its"),
        (dict(lr_scheduler="CosineAnnealingLR", lr_scheduler_kwargs={"T_max": 0}),
         r"^lr_scheduler_kwargs=\{'T_max': 0\}: CosineAnnealingLR\(T_max=0\) rejects"),  # on step
        (dict(max_epochs=0), r"^max_epochs: must be a positive integer, got 0"),
        (dict(lr_scheduler="ReduceLROnPlateau", val_size=0), r"no validation windows; raise"),
        (dict(ema_decay=1.5), r"^ema_decay: must be a number in \(0, 1\), got 1.5"),
        (dict(ema_decay="0.9"), r"^ema_decay: must be a number in \(0, 1\), got '0.9'"),
        (dict(accelerator="banana"), r"accelerator='banana', precision='32-true': .*banana"),
        (dict(precision="bf17"), r"precision='bf17': Precision 'bf17' is invalid"),
    ]
    for options, message in cases:
        model = forecast.Forecaster(**{**SMALL, **options})
        with pytest.raises(ConfigError, match=message):
            model.fit(frame)
        assert not hasattr(model, "net_")
    # validation windows take their lookback from the training rows: the horizon is short
    with pytest.raises(DataError, match=r"^data: the val part \(rows 595..600 of the series\) "
                                        r"holds 5 row\(s\), fewer than the horizon 12; give it "
                                        r"at least 12 rows \(val_size=12\)\.$"):
        forecast.Forecaster(**SMALL, val_size=5).fit(frame)  # the CLI says data.split.val=12


def test_the_lr_schedule_is_stepped_every_epoch(frame, tmp_path):
    """With the LR multiplied by 0 after the first epoch, three epochs train exactly as one."""
    one = forecast.Forecaster(**{**SMALL, "max_epochs": 1}).fit(frame).predict()
    frozen = forecast.Forecaster(**{**SMALL, "max_epochs": 3}, lr_scheduler="ExponentialLR",
                                 lr_scheduler_kwargs={"gamma": 0.0}).fit(frame)
    pd.testing.assert_frame_equal(frozen.predict(), one)
    unscheduled = forecast.Forecaster(**{**SMALL, "max_epochs": 3}).fit(frame).predict()
    assert not np.allclose(unscheduled.to_numpy(), one.to_numpy())
    loaded = forecast.load(frozen.save(tmp_path / "m"))
    assert loaded.get_params() == frozen.get_params()
    assert loaded.lr_scheduler_kwargs == {"gamma": 0.0}
    cosine = forecast.Forecaster(max_epochs=7, lr_scheduler="CosineAnnealingLR")
    assert cosine._optimization(validate=True)[1].keywords == {"T_max": 7}  # over the fit


# -- scikit-learn -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode, extra", [
    ("many_to_one", {}), ("many_to_many", dict(revin=False, subtract_last=False)),
    ("seq2seq", dict(teacher_forcing=0.3)),
    ("segment", dict(segment_length=12, channel_embedding=False))])
def test_every_network_option_reaches_the_network(frame, mode, extra):
    """The options of the ForecastNet base (revin, subtract_last, channel_independent) too, and
    a clone, or a Forecaster wrapping a CLI network, carries them."""
    options = {"cell": "rnn", "nonlinearity": "relu", "num_layers": 2, "dropout": 0.1,
               "revin": True, "subtract_last": True, "channel_independent": mode != "segment",
               **extra}
    model = forecast.Forecaster(**{**SMALL, "max_epochs": 1}, mode=mode, **options).fit(frame)
    kwargs = model.net_spec_["kwargs"]
    assert {key: kwargs[key] for key in options} == options
    if options["revin"]:  # many-to-many refuses it
        assert model.net_.norm.weight is not None and model.net_.norm.subtract_last  # affine
    assert model.net_.channel_independent == (mode != "segment")  # segment: channel-wise anyway
    assert clone(model).fit(frame).net_spec_["kwargs"] == kwargs
    dm = forecast.data.WindowDataModule(frame=frame, lookback=48, horizon=12)
    wrapped = forecast.Forecaster.from_fitted(dm, model.net_, kwargs)  # as the CLI does
    assert {key: wrapped.get_params()[key] for key in options} == options
    val_rows = dm.borders_[0, 1] - dm.borders_[0, 0]  # the split's validation part, as rows
    assert wrapped.get_params()["val_size"] == val_rows > 0


def test_subtract_last_defaults_to_each_modes_own(frame):
    """SegRNN's normalisation is subtract-last, as the CLI's model=segrnn sets it; the other
    networks see the scaled window as it is."""
    small = {**SMALL, "max_epochs": 1}
    segment = forecast.Forecaster(**small, mode="segment", segment_length=12).fit(frame)
    assert segment.get_params()["subtract_last"] is None
    assert segment.net_spec_["kwargs"]["subtract_last"] and segment.net_.norm.subtract_last
    plain = forecast.Forecaster(**small).fit(frame)
    assert plain.net_spec_["kwargs"]["subtract_last"] is False and plain.net_.norm is None
    off = forecast.Forecaster(**small, mode="segment", segment_length=12, subtract_last=False)
    assert off.fit(frame).net_.norm is None


def test_fit_returns_self_and_keeps_params(frame):
    model = forecast.Forecaster(**{**SMALL, "max_epochs": 1})
    with pytest.raises(NotFittedError):
        model.predict()
    params, attributes = model.get_params(), set(vars(model))
    assert model.fit(frame) is model
    assert model.get_params() == params
    added = set(vars(model)) - attributes
    assert added and all(name.endswith("_") for name in added), added


def test_refit_with_the_same_seed_is_identical(fitted, frame):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "net_")
    pd.testing.assert_frame_equal(copy.fit(frame).predict(), fitted.predict())


def test_fit_leaves_the_callers_random_numbers_as_they_were(fitted, frame, monkeypatch):
    """Seeded inside, as scikit-learn estimators are: the process's streams are not reset."""
    import random

    def draws():
        return random.random(), np.random.rand(), torch.rand(1).item()

    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    expected = draws()
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    monkeypatch.setenv("PL_SEED_WORKERS", "1")  # a caller's seed_everything(7, workers=True)
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    again = clone(fitted).fit(frame)
    assert draws() == expected
    assert (os.environ["PL_GLOBAL_SEED"], os.environ["PL_SEED_WORKERS"]) == ("7", "1")
    pd.testing.assert_frame_equal(again.predict(), fitted.predict())  # still the seed's own


def test_predict_leaves_the_estimator_unchanged(fitted, frame):
    before = pickle.dumps(fitted)
    fitted.predict(frame.iloc[:400])
    assert pickle.dumps(fitted) == before


def test_pickle_round_trip_is_identical(fitted, frame):
    copy = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(copy.predict(frame.iloc[:500]), fitted.predict(frame.iloc[:500]))


def _clean(raw: pd.DataFrame) -> pd.DataFrame:
    """A user's cleaning step: parse text timestamps, rename columns, drop a notes column."""
    return (raw.drop(columns="notes").rename(columns={"when": "date", "a": "y0", "b": "y1"})
            .assign(date=lambda d: pd.to_datetime(d.date)))


def test_pipeline_fits_and_predicts_like_the_estimator(fitted, frame):
    raw = frame.rename(columns={"date": "when", "y0": "a", "y1": "b"}).assign(
        when=lambda d: d.when.astype(str), notes="ok")
    pipe = Pipeline([("clean", FunctionTransformer(_clean)), ("model", clone(fitted))])
    assert pipe.fit(raw) is pipe
    pd.testing.assert_frame_equal(pipe.predict(raw.iloc[:400]), fitted.predict(frame.iloc[:400]))
    pd.testing.assert_frame_equal(pipe.predict(raw.iloc[:400], level=[80]),  # to the last step
                                  fitted.predict(frame.iloc[:400], level=[80]))
    pipe.set_params(model__hidden_size=8, model__cell="gru").fit(raw)
    net = pipe.named_steps["model"].net_
    assert net.encoder.rnn.hidden_size == 8 and isinstance(net.encoder.rnn, torch.nn.GRU)
    assert pipe.predict(raw).shape == (12, 2)


def test_applicable_sklearn_checks_pass_and_the_rest_do_not_apply():
    model = forecast.Forecaster(lookback=4, horizon=2, max_epochs=1, hidden_size=4)
    results = check_estimator(model, expected_failed_checks=NOT_APPLICABLE, on_fail=None,
                              on_skip=None)
    status = {r["check_name"]: r["status"] for r in results}
    applicable = {name for name in status if name not in NOT_APPLICABLE}
    assert {"check_estimator_cloneable", "check_get_params_invariance", "check_set_params",
            "check_estimators_unfitted", "check_parameters_default_constructible",
            "check_no_attributes_set_in_init", "check_fit1d"} <= applicable
    assert all(status[name] == "passed" for name in applicable), status
    # the list stays honest: each listed check still fails (or is skipped) on this estimator
    assert all(status[name] != "passed" for name in NOT_APPLICABLE if name in status), status


# -- persistence ------------------------------------------------------------------------------
def test_save_load_round_trip_is_identical_and_pickle_free(fitted, frame, tmp_path):
    fitted.save(tmp_path / "m")
    tensors = torch.load(tmp_path / "m" / "weights.pt", weights_only=True)  # no pickled objects
    assert set(tensors) == {"state_dict", "history", "interval_widths", "interval_floor"}
    loaded = forecast.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict(frame), fitted.predict(frame))
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())
    assert loaded.get_params() == fitted.get_params()
    with pytest.raises(DataError, match="holds no saved forecaster"):
        forecast.load(tmp_path / "nothing")


def _fitted_as(fitted, **params):
    """A copy of `fitted` with other parameters, its fitted state kept (no refit)."""
    copy = clone(fitted).set_params(**params)
    copy.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    return copy


def test_saves_of_format_1_load_and_parameters_json_cannot_hold_are_refused(fitted, tmp_path):
    meta_file = fitted.save(tmp_path / "m") / "forecaster.json"
    meta = json.loads(meta_file.read_text())
    new = ("weight_decay", "lr_scheduler", "lr_scheduler_kwargs", "ema_decay", "precision")
    meta_file.write_text(json.dumps({**meta, "format": 1, "best_epoch": None, "params": {
        k: v for k, v in meta["params"].items() if k not in new}}))  # as format 1 wrote it
    tensors = torch.load(tmp_path / "m" / "weights.pt", weights_only=True)
    torch.save({k: tensors[k] for k in ("state_dict", "history")}, tmp_path / "m" / "weights.pt")
    old = forecast.load(tmp_path / "m")
    pd.testing.assert_frame_equal(old.predict(), fitted.predict())
    with pytest.raises(ConfigError, match="no calibration for intervals"):  # saved without
        old.predict(level=80)
    meta_file.write_text(json.dumps({**meta, "format": 3}))
    with pytest.raises(DataError, match=r"saved in format 3; .* reads formats \[1, 2\]"):
        forecast.load(tmp_path / "m")
    numpy_params = _fitted_as(fitted, lookback=np.int64(48), lr=np.float32(1e-3))
    loaded = forecast.load(numpy_params.save(tmp_path / "n"))
    assert loaded.lookback == 48 and type(loaded.lookback) is int
    unsaveable = _fitted_as(fitted, lr_scheduler="LambdaLR", lr_scheduler_kwargs={"lr_lambda": abs})
    with pytest.raises(ConfigError, match=r"^save: lr_scheduler_kwargs=.* cannot be written"):
        unsaveable.save(tmp_path / "u")


def test_warm_start_fine_tunes_the_fitted_weights(sine_wide):
    """A warm fit starts from the fitted weights (with lr=0 it keeps them exactly); a cold one
    starts anew; a frame that changes the network's shape is refused by name."""
    model = forecast.Forecaster(lookback=24, horizon=6, hidden_size=8, max_epochs=2,
                                seed=1).fit(sine_wide)
    fitted = {k: v.clone() for k, v in model.net_.state_dict().items()}

    def unchanged() -> bool:
        return all(torch.equal(fitted[k], v) for k, v in model.net_.state_dict().items())

    model.set_params(warm_start=True, lr=0.0, seed=2, max_epochs=1).fit(sine_wide.iloc[100:])
    assert unchanged()
    model.set_params(lr=1e-2, dropout=0.3).fit(sine_wide.iloc[100:])  # no change of shape
    assert not unchanged()
    fitted = {k: v.clone() for k, v in model.net_.state_dict().items()}
    model.set_params(warm_start=False, lr=0.0).fit(sine_wide.iloc[100:])
    assert not unchanged()  # a new start: seed 2's initial weights
    with pytest.raises(ConfigError, match=r"warm_start: this fit needs another network than the "
                                          r"fitted one \(n_inputs 2 -> 3, n_targets 2 -> 3\)"):
        model.set_params(warm_start=True).fit(sine_wide.assign(extra=1.0))


def test_a_model_of_the_cli_fine_tunes_from_its_weights(sine_wide, tmp_path):
    _, model = untrained_from_config(sine_wide, tmp_path, "data=csv", "data.lookback=24",
                                     "data.horizon=6", "model=gru", "model.hidden_size=16")
    weights = {k: v.clone() for k, v in model.net_.state_dict().items()}
    model.set_params(warm_start=True, max_epochs=1, lr=0.0).fit(sine_wide)
    assert all(torch.equal(weights[k], v) for k, v in model.net_.state_dict().items())
