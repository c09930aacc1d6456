"""Settings refused before training, each in one line naming its key: a callback's `monitor`
no metric answers to, a teacher-forcing probability out of [0, 1], a CSV of another separator,
an MLflow server that is not there."""

import socket
import warnings

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from forecast.config_check import check_config, check_validation
from forecast.data import WindowDataModule
from forecast.data.frame import read_frame
from forecast.errors import ConfigError, DataError, explain, is_usage_error
from forecast.experiment import _model_name
from forecast.overrides import check_overrides
from forecast.tracking import check_logger, check_tracking_uri
from tests.conftest import REPO, cli_runs

# Excel's CSV in much of Europe: ';' between fields, ',' before decimals
SEMICOLON_CSV = "date;load\n" + "".join(f"2021-01-01 {h:02d}:00:00;{10 + h},5\n"
                                        for h in range(24))


def composed(*overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=["+experiment=sine", *overrides])


@pytest.mark.parametrize("callback", ["early_stopping", "checkpoint"])
def test_a_monitor_no_metric_answers_to_is_refused_with_the_valid_names(callback):
    with pytest.raises(ConfigError) as caught:
        check_config(composed(f"callbacks.{callback}.monitor=val_los"))
    assert str(caught.value).startswith(f"callbacks.{callback}.monitor: ")
    assert "'val_los'" in str(caught.value)
    for name in ("val_loss", "val_mse", "val_mae", "train_loss_epoch"):
        assert name in str(caught.value)


@pytest.mark.parametrize("metric", ["val_loss", "val_mse", "val_mae", "train_loss_epoch"])
def test_every_metric_logged_per_epoch_may_be_monitored(metric):
    check_config(composed(f"callbacks.early_stopping.monitor={metric}",
                          f"callbacks.checkpoint.monitor={metric}"))


def test_callbacks_none_and_the_unmonitored_last_checkpoint_pass():
    check_config(composed("callbacks=none"))  # a preset's leftovers have no _target_
    assert composed().callbacks.last_checkpoint.monitor is None
    check_config(composed())


@pytest.mark.parametrize("value", [1.5, -0.1])
def test_teacher_forcing_outside_0_1_is_refused(value):
    with pytest.raises(ConfigError, match=r"^model\.teacher_forcing: must be a number in "
                                          rf"\[0, 1\] \(a probability\), got {value}"):
        check_config(composed("model=seq2seq", f"model.teacher_forcing={value}"))


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, 0.3])
def test_teacher_forcing_inside_0_1_passes(value):
    check_config(composed("model=seq2seq", f"model.teacher_forcing={value}"))


@pytest.mark.parametrize("override, message", [
    ("model.dropout=1.0", r"^model\.dropout: must be a number in \[0, 1\), got 1\.0"),
    ("model.hidden_size=0", r"^model\.hidden_size: must be a positive integer, got 0"),
])
def test_other_network_values_are_checked_the_same_way(override, message):
    with pytest.raises(ConfigError, match=message):
        check_config(composed(override))


@pytest.mark.parametrize("overrides, message", [
    (["model=lstm", "model.teacher_forcing=0.3"],
     r"^model\.teacher_forcing: no such key in the config; teacher_forcing is an option of "
     r"model=seq2seq, not of this model: choose one\. \(.* lists the keys\)$"),
    (["trainer.gradient_clip_val=1"], r"^trainer\.gradient_clip_val: no such key in the config; "
                                      r"did you mean optim\.gradient_clip_val\? \(.*keys\)$"),
    (["trainer.max_epoch=1"], r"did you mean trainer\.max_epochs\? .*; \+trainer\.max_epoch=\.\.\. "
                              r"adds a new one\)$"),
    (["+experiment=sine", "data.targt=y"], r"^data\.targt: .*; did you mean data\.target\? \("),
])
def test_a_key_of_another_option_or_section_is_named_where_it_lives(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_overrides(overrides)


def test_a_new_model_key_names_the_model_that_has_it_and_only_settable_keys():
    with pytest.raises(ConfigError) as caught:
        check_config(composed("model=lstm", "+model.teacher_forcing=0.3"))
    message = str(caught.value)
    assert message.startswith("model.teacher_forcing: not an option of ManyToOne; it is an "
                              "option of model=seq2seq; valid keys: bidirectional, cell")
    for from_data in ("lookback", "horizon", "n_inputs", "n_targets", "n_time_features"):
        assert from_data not in message


def test_nonlinearity_relu_is_refused_for_gated_cells():
    from forecast.models import NETS
    with pytest.raises(ConfigError, match=r"^model\.nonlinearity: 'relu' is an option of "
                                          r"model\.cell=rnn; the GRU's gates"):
        NETS["ManyToOne"](n_inputs=1, n_targets=1, lookback=8, horizon=2, cell="gru",
                          nonlinearity="relu")


def test_every_model_preset_passes_the_value_checks():
    for model in ("lstm", "gru", "rnn", "many_to_many", "seq2seq", "segrnn"):
        check_config(composed(f"model={model}"))


def write_semicolon_csv(folder, text: str = SEMICOLON_CSV):
    path = folder / "load.csv"
    path.write_text(text)
    return path


def test_a_semicolon_csv_is_one_error_saying_how_to_read_it(tmp_path):
    path = write_semicolon_csv(tmp_path)
    with pytest.raises(DataError) as caught:
        read_frame(path)
    message = str(caught.value)
    assert message.startswith(f"data.path: '{path}' was read as one column 'date;load'")
    assert "separated by ';'" in message and "pd.read_csv(path, sep=';', decimal=',')" in message
    assert 'data.read_options="{sep: \';\', decimal: \',\'}"' in message  # the CLI's way
    # the advice works: the frame pandas reads so is a table of times and numbers
    frame = pd.read_csv(path, sep=";", decimal=",")
    assert list(frame.columns) == ["date", "load"] and frame.load.iloc[0] == 10.5
    dm = WindowDataModule(path=path, read_options=OmegaConf.create({"sep": ";", "decimal": ","}),
                          lookback=4, horizon=1)  # as the CLI builds it from data.read_options
    dm.setup()
    assert dm.panel_.columns == ("load",) and dm.unscaled(np.array([0]))[0, 0] == 10.5


def test_read_options_pandas_does_not_take_are_named(tmp_path):
    with pytest.raises(DataError, match=r"^data\.read_options: .*'sepp'.* of pd\.read_csv\.$"):
        read_frame(write_semicolon_csv(tmp_path), sepp=";")


def test_a_semicolon_csv_of_uneven_rows_gets_the_same_advice(tmp_path):
    """'10' and '10,5' split into one and two fields at the comma: pandas cannot read it."""
    path = write_semicolon_csv(tmp_path, "date;load\n2021-01-01 00:00;10\n2021-01-01 01:00;10,5\n")
    with pytest.raises(DataError, match=r"separated by ';' .* sep=';', decimal=','\)\)"):
        read_frame(path)


def test_a_tab_separated_csv_without_decimal_commas(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("date\tload\n2021-01-01 00:00\t10.5\n2021-01-01 01:00\t11.5\n")
    with pytest.raises(DataError) as caught:
        read_frame(path)
    assert r"separated by '\t'" in str(caught.value)
    assert r"pd.read_csv(path, sep='\t'))" in str(caught.value)  # no decimal=','


def test_the_tab_advice_works_as_typed_on_the_command_line(tmp_path):
    """Hydra hands `{sep: '\t'}` over as backslash-t: read as a tab, not as a slow regex."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = tmp_path / "load.csv"
    path.write_text("date\tload\n2021-01-01 00:00\t10.5\n2021-01-01 01:00\t11.5\n")
    typed = OverridesParser.create().parse_override(r"data.read_options={sep: '\t'}").value()
    assert typed == {"sep": "\\t"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' ParserWarning of a regex separator
        frame = read_frame(path, **typed)
    assert list(frame.columns) == ["date", "load"] and frame.load.tolist() == [10.5, 11.5]


def test_one_column_csvs_of_commas_still_read(tmp_path):
    (tmp_path / "one.csv").write_text("load\n1.5\n2.5\n")
    assert read_frame(tmp_path / "one.csv").load.tolist() == [1.5, 2.5]
    (tmp_path / "named.csv").write_text("load;kW\n1.5\n2.5\n")  # one column, ';' in its name
    with pytest.raises(DataError, match="separated by ';'"):  # the header is all we can go by
        read_frame(tmp_path / "named.csv")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_server_is_answered_with_its_own_host_and_port():
    port = free_port()  # nothing listens there once the probe is closed
    with pytest.raises(ConfigError) as caught:
        check_tracking_uri(f"http://127.0.0.1:{port}")
    assert str(caught.value).startswith("logger.tracking_uri: no MLflow tracking server answers")
    assert f"mlflow server --host 127.0.0.1 --port {port})" in str(caught.value)
    assert "5000" not in str(caught.value).replace(str(port), "")


def test_a_relative_sqlite_store_in_no_folder_says_it_is_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_tracking_uri("sqlite:///srv/runs/mlflow.db")  # meant: sqlite:////srv/...
    assert str(caught.value).startswith("logger.tracking_uri: cannot write the MLflow store in "
                                        "'srv/runs' (a relative path, from the directory you "
                                        f"run in: '{tmp_path / 'srv' / 'runs'}'; sqlite:////")
    with pytest.raises(ConfigError, match=r"in '/srv/runs'; point"):  # absolute: said as given
        check_tracking_uri("sqlite:////srv/runs/mlflow.db")


@pytest.mark.parametrize("key, value, message", [
    ("tracking_uri", "ftp://host/x", "is no MLflow store this logs to"),
    ("tracking_uri", "/srv/runs", "for a local store use sqlite:////srv/runs/mlflow.db"),
    ("tracking_uri", "file:///srv/runs", "for a local store use sqlite:////srv/runs/mlflow.db"),
    ("experiment_name", " ", "must be a non-empty name"),
    ("log_model", "maybe", "must be true or false, got 'maybe'"),
    ("register_as", "a:b", "'a:b' cannot name a registered model"),
    ("artifact_location", "s3://bucket/runs", "needs the package 'boto3'"),
    ("artifact_location", "FILE/runs", "cannot write artifacts in"),
    ("register_as", "sine_lstm", "logger.log_model=false logs none"),
])
def test_logger_settings_mlflow_rejects_late_are_refused_up_front(tmp_path, key, value, message):
    (tmp_path / "FILE").write_text("a file, where a folder would be")
    logger = {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment_name": "x",
              "log_model": True, "artifact_location": None, "register_as": None}
    check_logger(OmegaConf.create(logger))  # the defaults pass, and MLflow's other stores
    for uri in ("databricks", "databricks://profile", "postgresql+psycopg2://u@db/mlflow",
                "http://127.0.0.1:5000", "azureml://a-plugin-store"):
        check_logger(OmegaConf.create({**logger, "tracking_uri": uri}))
    logger[key] = value.replace("FILE", str(tmp_path / "FILE"))
    if key == "register_as" and value == "sine_lstm":
        logger["log_model"] = False
    with pytest.raises(ConfigError, match=f"^logger.{key}(=sine_lstm)?: (.* )?{message}"):
        check_logger(OmegaConf.create(logger))


# The real CLI, a few processes at a time: each stops before training, with exit code 2.
CLI = {
    "monitor": (["+experiment=sine", "callbacks.early_stopping.monitor=val_los"],
                "callbacks.early_stopping.monitor: the model logs no metric 'val_los'"),
    "teacher_forcing": (["+experiment=sine", "model=seq2seq", "model.teacher_forcing=1.5"],
                        "model.teacher_forcing: must be a number in [0, 1]"),
    "semicolon_csv": (["data=csv", "data.path=load.csv", "data.lookback=4", "data.horizon=1"],
                      "data.path: 'load.csv' was read as one column 'date;load'"),
    "own_run_folder": (["+experiment=sine", "data.lookback=-3", "hydra.run.dir=mine"],
                       "data.lookback: must be a positive integer, got -3"),
    "register_as": (["+experiment=sine", "logger.register_as=team/model"],
                    "logger.register_as: 'team/model' cannot name a registered model"),
    # a store MLflow knows but cannot open here (no Databricks credentials): the key, one line
    "databricks": (["+experiment=sine", "logger.tracking_uri=databricks"],
                   "logger.tracking_uri: cannot open runs in databricks: "),
    # a note in train.log (the text column left out), then the refusal: still no run folder
    "noted_then_refused": (["data=csv", "data.path=stores.csv", "data.time_col=day",
                            "data.lookback=4", "data.horizon=1"], "set data.id_col=store"),
}


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    def case(name):
        def prepare(folder):
            write_semicolon_csv(folder)
            (folder / "mine").mkdir()
            (folder / "mine" / "notes.txt").write_text("the user's own file")
            days = [f"2021-01-{d:02d}" for d in range(1, 21)]
            (folder / "stores.csv").write_text("day,store,sales\n" + "".join(
                f"{day},{store},{k}\n" for k, day in enumerate(days) for store in "ab"))
            return CLI[name][0]
        return prepare

    return cli_runs(tmp_path_factory, {name: case(name) for name in CLI}, workers=3)


@pytest.mark.parametrize("name", CLI)
def test_the_cli_refuses_in_one_line_before_any_run(cli_results, name):
    folder, result = cli_results[name]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Could not infer format" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and CLI[name][1] in ours[0], result.stderr[-2000:]
    assert not (folder / "mlflow.db").exists()  # no MLflow run was opened
    assert not (folder / "outputs").exists()  # nor a run folder left holding only Hydra's files


def test_a_refused_run_leaves_a_folder_holding_anything_else_as_it_is(cli_results):
    folder, result = cli_results["own_run_folder"]
    assert result.returncode == 2, result.stderr[-2000:]
    assert (folder / "mine" / "notes.txt").read_text() == "the user's own file"
    assert (folder / "mine" / ".hydra" / "config.yaml").is_file()


@pytest.mark.parametrize("override, message", [
    ("trainer.precision=64-true", r"^trainer\.precision: 64-true is not supported: .* float32"),
    ("data.split.test=0", r"^data\.split\.test: 0 leaves no test part"),
    ("callbacks.early_stopping.patience=-1",
     r"^callbacks\.early_stopping\.patience: must be an integer >= 0 .*, got -1\.$"),
])
def test_values_that_would_fail_after_training_are_refused_before(override, message):
    with pytest.raises(ConfigError, match=message):
        check_config(composed(override))
    check_config(composed("data.split.test=0", "data.split.borders=[3000,3500,4000]"))


def test_a_wrong_type_reached_through_an_interpolation_names_the_key_typed():
    with pytest.raises(ConfigError, match=r"^data\.seed \(from seed\): expected an integer"):
        check_config(composed("seed=abc"))  # data.seed is ${seed}
    with pytest.raises(ConfigError, match=r"^model\.hidden_size: expected an integer"):
        check_config(composed("model.hidden_size=abc"))  # typed where it is used: no source


def test_a_run_without_validation_has_nothing_watch_the_validation_loss():
    check_validation(composed(), n_val_windows=60)  # the preset validates
    check_validation(composed("callbacks=none"), n_val_windows=0)  # nothing watches
    with pytest.raises(ConfigError) as caught:
        check_validation(composed("optim=adam_plateau"), n_val_windows=0)
    message = str(caught.value)
    assert message.startswith("data.split.val leaves no validation windows, and callbacks.")
    assert "callbacks.early_stopping.monitor=val_loss" in message
    assert "optim.scheduler (ReduceLROnPlateau)" in message and "optim=adam" in message
    with pytest.raises(ConfigError, match=r"^trainer.limit_val_batches=0 skips validation.*"
                                          r"drop trainer.limit_val_batches=0"):
        check_validation(composed("+trainer.limit_val_batches=0"), n_val_windows=60)


@pytest.mark.parametrize("overrides, name", [
    ([], "lstm"), (["model=gru"], "gru"), (["model=lstm", "model.cell=gru"], "gru"),
    (["model=seq2seq", "model.cell=rnn"], "seq2seq_rnn"), (["model=seq2seq"], "seq2seq")])
def test_the_neural_run_is_named_after_the_network_it_trains(overrides, name):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["+experiment=sine", *overrides],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    assert _model_name(cfg) == name


def test_an_omegaconf_error_is_one_line_naming_its_key_and_a_usage_error():
    cfg = OmegaConf.create({"model": {"hidden_size": "${oops}"}})
    OmegaConf.set_struct(cfg, True)
    for read in (lambda: cfg.model.hidden_size, lambda: cfg.model.lookback):
        with pytest.raises(Exception) as caught:
            read()
        said = explain(caught.value)
        assert said.startswith("model.") and "--cfg job" in said and is_usage_error(caught.value)
    assert not is_usage_error(ValueError("deep inside torch"))
