"""Forecaster arguments: bad values are one ConfigError naming them before training, numpy
scalars and upper-case names train as Python values, messages use Python terms."""

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
from sklearn.base import clone

import forecast
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError, DataError, python_terms
from forecast.models.encoders import RecurrentEncoder

TINY = dict(lookback=12, horizon=3, hidden_size=4, max_epochs=1)


@pytest.fixture(scope="module")
def frame():
    return sine_frame(n_steps=200)


@pytest.fixture(scope="module")
def python_typed(frame):
    return forecast.Forecaster(**TINY).fit(frame)


@pytest.fixture(scope="module")
def numpy_typed(frame):
    params = {name: np.int64(value) for name, value in TINY.items()}
    return forecast.Forecaster(**params, cell="LSTM", dropout=np.float32(0.0),
                               bidirectional=np.False_, teacher_forcing=np.float64(0.5),
                               val_size=np.float64(0.2), seed=np.uint32(0)).fit(frame)


@pytest.fixture
def no_training(monkeypatch):
    def fit(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(pl.Trainer, "fit", fit)


BAD = [  # (arguments, the start of the message)
    (dict(hidden_size=8.5), r"hidden_size: must be a positive integer, got 8.5\."),
    (dict(hidden_size="16"), r"hidden_size: must be a positive integer, got '16'"),
    (dict(hidden_size=np.float64(8.5)), r"hidden_size: must be a positive integer, got 8.5\."),
    (dict(num_layers=0), r"num_layers: must be a positive integer, got 0"),
    (dict(lookback=0), r"lookback: must be a positive integer"),
    (dict(lookback=12.0), r"lookback: must be a positive integer, got 12.0"),
    (dict(horizon=-1), r"horizon: must be a positive integer"),
    (dict(batch_size=2.5), r"batch_size: must be a positive integer"),
    (dict(segment_length=0), r"segment_length: must be a positive integer"),
    (dict(max_epochs=0), r"max_epochs: must be a positive integer, got 0"),
    (dict(max_epochs=-1), r"max_epochs: must be a positive integer, got -1"),
    (dict(patience=-1), r"patience: must be an integer >= 0"),
    (dict(dropout=1.0), r"dropout: must be a number in \[0, 1\), got 1.0"),
    (dict(dropout=-0.1), r"dropout: must be a number in \[0, 1\)"),
    (dict(dropout="0.1"), r"dropout: must be a number in \[0, 1\)"),
    (dict(teacher_forcing=2.0), r"teacher_forcing: must be a number in \[0, 1\]"),
    (dict(val_size=1.5), r"val_size: must be a fraction in \[0, 1\) or a whole number of rows"),
    (dict(val_size=-0.1), r"val_size: must be a fraction"),
    (dict(val_size="0.2"), r"val_size: must be a fraction"),
    (dict(seed=None), r"seed: must be an integer in \[0, 2\*\*32\), got None"),
    (dict(seed=-1), r"seed: must be an integer"),
    (dict(precision="64-true"), r"precision: must be 32- or 16-bit .*got '64-true'"),
    (dict(precision=64), r"precision: must be 32- or 16-bit"),
    *[(dict([(name, "yes")]), rf"{name}: must be True or False, got 'yes'")
      for name in ("bidirectional", "revin", "channel_independent",
                   "channel_embedding", "calendar", "sort", "warm_start")],
    (dict(calendar=1), r"calendar: must be True or False, got 1"),
    (dict(subtract_last="yes"), r"subtract_last: must be True, False or None \(the mode's own\)"),
    # an option the mode's network does not take would be ignored
    (dict(teacher_forcing=0.9), r"teacher_forcing=0.9: mode='many_to_one' does not use it "
                                r"\(mode 'seq2seq' does\)"),
    (dict(segment_length=6), r"segment_length=6: mode='many_to_one' does not use it "
                             r"\(mode 'segment' does\)"),
    (dict(mode="seq2seq", channel_embedding=False), r"channel_embedding=False: mode='seq2seq'"),
    (dict(nonlinearity="relu"), r"nonlinearity: 'relu' is an option of cell='rnn'; the LSTM's "
                                r"gates fix their own activations"),
    # checked where they are used, before training, in the same terms
    (dict(cell="lstmm"), r"cell: unknown cell 'lstmm'; use one of \['gru', 'lstm', 'rnn'\]"),
    (dict(nonlinearity="sigmoid"), r"nonlinearity: use 'tanh' or 'relu', not 'sigmoid'"),
    (dict(loss="rmse"), r"loss: unknown loss 'rmse'"),
    (dict(mode="segment", segment_length=5), r"segment_length: 5 must divide lookback=12"),
    (dict(mode="bogus"), r"mode: unknown mode 'bogus'"),
    (dict(gradient_clip_val=-1), r"gradient_clip_val: must be a number >= 0 \(0 or None: no "),
    (dict(gradient_clip_val="1"), r"gradient_clip_val: must be a number >= 0"),
    (dict(lr=-1), r"lr=-1, weight_decay=0.0: Invalid learning rate"),
    (dict(lr=float("inf")), r"lr: must be a finite number >= 0, got inf"),  # torch takes it
    (dict(lr=np.float64("nan")), r"lr: must be a finite number >= 0, got nan"),
    (dict(weight_decay="0"), r"lr=0.001, weight_decay='0': .*pass numbers"),
]


@pytest.mark.parametrize("options, message", BAD, ids=[str(o) for o, _ in BAD])
def test_a_bad_argument_is_one_config_error_naming_it(frame, no_training, options, message):
    model = forecast.Forecaster(**{**TINY, **options})
    with pytest.raises(ConfigError, match=f"^{message}") as error:
        model.fit(frame)
    assert "\n" not in str(error.value)
    assert not hasattr(model, "net_")
    assert model.get_params()[next(iter(options))] is next(iter(options.values()))


def test_every_bad_argument_is_named_in_the_one_error(frame, no_training):
    with pytest.raises(ConfigError, match=r"^hidden_size: .* max_epochs: .* sort: "):
        forecast.Forecaster(**{**TINY, "hidden_size": 0, "max_epochs": 0, "sort": 1}).fit(frame)


def test_numpy_scalars_and_upper_case_names_train_as_python_values(python_typed, numpy_typed,
                                                                   frame):
    pd.testing.assert_frame_equal(numpy_typed.predict(), python_typed.predict())
    params = numpy_typed.get_params()  # what the user set, untouched
    assert type(params["hidden_size"]) is np.int64 and params["cell"] == "LSTM"
    assert type(params["dropout"]) is np.float32 and params["bidirectional"] is np.False_
    assert numpy_typed.net_spec_ == python_typed.net_spec_  # the net got Python values
    assert type(numpy_typed.net_spec_["kwargs"]["hidden_size"]) is int
    assert numpy_typed.best_epoch_ == python_typed.best_epoch_


def test_a_grid_search_clone_with_numpy_values_fits(numpy_typed, python_typed, frame):
    grid = {"hidden_size": np.arange(4, 9, 4)}  # as GridSearchCV's ParameterGrid hands it
    model = clone(forecast.Forecaster(**TINY)).set_params(hidden_size=grid["hidden_size"][0])
    assert model.fit(frame) is model
    assert type(model.get_params()["hidden_size"]) is np.int64
    pd.testing.assert_frame_equal(model.predict(), python_typed.predict())
    again = clone(model)  # clone's check: every parameter is the object that was set
    assert again.get_params()["hidden_size"] == 4
    assert type(again.get_params()["hidden_size"]) is np.int64


def test_warm_start_and_save_keep_working_with_numpy_values(numpy_typed, frame, tmp_path):
    tuned = clone(numpy_typed).fit(frame).set_params(warm_start=np.True_, max_epochs=np.int64(1))
    assert tuned.fit(frame.iloc[-100:]) is tuned and tuned.get_params()["warm_start"] is np.True_
    loaded = forecast.load(numpy_typed.save(tmp_path / "m"))
    assert loaded.hidden_size == 4 and type(loaded.hidden_size) is int
    pd.testing.assert_frame_equal(loaded.predict(), numpy_typed.predict())


@pytest.mark.parametrize("message, python", [
    ("model.cell: unknown cell 'LSTM'; use one of ['gru', 'lstm', 'rnn'].",
     "cell: unknown cell 'LSTM'; use one of ['gru', 'lstm', 'rnn']."),
    ("model.segment_length: 5 must divide lookback=24",
     "segment_length: 5 must divide lookback=24"),
    ("model.hidden_size and model.num_layers must be >= 1.",
     "hidden_size and num_layers must be >= 1."),
    ("set model.bidirectional=false.", "set bidirectional=False."),
    ("optim.loss: unknown loss 'rmse'", "loss: unknown loss 'rmse'"),
    ("optim.lr: 0.1; optim.gradient_clip_val: -1", "lr: 0.1; gradient_clip_val: -1"),
    ("data.fill: unknown policy 'x'; use one of ['ffill'] or null.",
     "fill: unknown policy 'x'; use one of ['ffill'] or None."),
    ("data.fill=ffill, data.split", "fill='ffill', val_size"),
    ("model: n_targets=3 must be between 1 and n_inputs=2.",  # no key: unchanged
     "model: n_targets=3 must be between 1 and n_inputs=2."),
])
def test_python_terms(message, python):
    assert python_terms(message) == python


def test_the_cli_keeps_config_keys_and_lower_case_cells():
    with pytest.raises(ConfigError, match=r"^model\.cell: unknown cell 'LSTM'"):
        RecurrentEncoder(1, cell="LSTM")  # as the CLI builds it: no python_terms, no lower()


def test_load_names_a_damaged_or_missing_file(python_typed, tmp_path):
    folder = python_typed.save(tmp_path / "m")
    (folder / "forecaster.json").write_text('{"format": 2, "params": ')  # cut short
    with pytest.raises(DataError, match=r"^load: cannot read '.*forecaster\.json' .*; save the "
                                        r"model again, or point load to the folder that save"):
        forecast.load(folder)
    (folder / "forecaster.json").write_text("[]")
    with pytest.raises(DataError, match=r"saved in format None"):
        forecast.load(folder)

    folder = python_typed.save(tmp_path / "n")
    (folder / "weights.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=r"^load: cannot read '.*weights\.pt' .*; save the model"):
        forecast.load(folder)
    (folder / "weights.pt").unlink()
    with pytest.raises(DataError, match=r"^load: '.*weights\.pt' is missing .*; save the model "
                                        r"again, or point load to the folder that save wrote"):
        forecast.load(folder)


def test_the_clipping_options_reach_the_trained_module(monkeypatch):
    import forecast.forecaster

    built = []

    class Recording(forecast.forecaster.ForecastModule):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append((self.gradient_clip_val, self.gradient_clip_algorithm))

    monkeypatch.setattr(forecast.forecaster, "ForecastModule", Recording)
    forecast.Forecaster(lookback=12, horizon=3, max_epochs=1, hidden_size=4,
                        gradient_clip_val=0.25, gradient_clip_algorithm="value"
                        ).fit(sine_frame(n_steps=200))
    assert built[0] == (0.25, "value")
