"""Every kind of bad input: one readable line, a non-zero exit, no traceback, nothing
half-written."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir

import forecast
from forecast.building import build_module
from forecast.config_check import check_config
from forecast.data import WindowDataModule
from forecast.data.synthetic import sine_frame
from forecast.errors import ConfigError, DataError, ForecastError, explain, python_terms
from forecast.models import ManyToOne
from tests.conftest import REPO, cli_runs, run_train


def frame() -> pd.DataFrame:
    return sine_frame(n_steps=400, n_series=2)


def with_value(column: str, row: int, value) -> pd.DataFrame:
    broken = frame()
    if isinstance(value, str):
        broken = broken.astype({column: object})
    broken.loc[row, column] = value
    return broken


# name -> (frame to write or raw file text, extra overrides, words the message must contain)
CASES = {
    "missing_file": (None, ["data.path=missing.csv"], ["data.path", "does not exist"]),
    "unreadable_csv": (b"\x00\x01\x02garbage\xff\n\x00,,,\n", [], ["cannot read", "CSV"]),
    "empty_frame": ("date,y0,y1\n", [], ["empty"]),
    "nan": (with_value("y0", 17, np.nan), [], ["y0", "row 17", "data.fill"]),
    "inf": (with_value("y1", 5, np.inf), [], ["y1", "row 5"]),
    "non_numeric": (with_value("y1", 9, "abc"), [], ["y1", "not numeric", "row 9"]),
    "unknown_target": (frame(), ["data.target=price"], ["price", "unknown column"]),
    "duplicate_time": (pd.concat([frame().iloc[:10], frame().iloc[9:]]), [], ["duplicate"]),
    "unsorted_time": (frame().iloc[[1, 0, *range(2, 400)]], [], ["not sorted", "data.sort=true"]),
    "irregular_gaps": (frame().drop(index=[50, 51]), [], ["irregular", "row 50", "data.fill"]),
    "too_short": (frame().iloc[:25], [], ["25 rows", "lookback"]),
    "horizon_zero": (frame(), ["data.horizon=0"], ["data.horizon", "positive"]),
    "wrong_key": (frame(), ["model.hidden_sise=8"],
                  ["model.hidden_sise: no such key", "did you mean model.hidden_size?"]),
    "wrong_option": (frame(), ["model=gruu"], ["model=gruu", "did you mean model=gru?", "lstm"]),
    "wrong_type": (frame(), ["model.hidden_size=abc"], ["model.hidden_size", "integer"]),
    # values only Lightning's and torch's constructors check
    "trainer_rejects": (frame(), ["trainer.max_epochs=-3"], ["trainer:", "max_epochs", "-3"]),
    "optimizer_rejects": (frame(), ["optim.optimizer.lr=-1"], ["optim.optimizer:", "-1"]),
    # a value torch rejects only on the first scheduler step, after an epoch of training
    "scheduler_rejects": (frame(), ["optim=adam_cosine", "optim.scheduler.T_max=0"],
                          ["optim.scheduler:", "CosineAnnealingLR(T_max=0", "by zero"]),
    # values only evaluation uses, checked before training all the same
    "season_too_long": (frame(), ["baselines.seasonal_naive.season=500"],
                        ["baselines.seasonal_naive.season", "longer than the lookback"]),
    "backtest_stride": (frame(), ["backtest.stride=0"], ["backtest.stride", "positive"]),
    "steps_per_execution": (frame(), ["data.steps_per_execution=0"],
                            ["data.steps_per_execution", "positive integer"]),
    # Lightning's clipping key, which ForecastModule's own optimiser steps replace
    "clipping_on_the_trainer": (frame(), ["+trainer.gradient_clip_val=0.5"],
                                ["trainer.gradient_clip_val", "set optim.gradient_clip_val"]),
    # a key the run reads beyond the constructors, removed
    "removed_key": (frame(), ["~data.lookback"], ["data.lookback: removed", "~data.lookback"]),
    # a run in its own working folder, which would split the store and the data paths
    "job_chdir": (frame(), ["hydra.job.chdir=true"], ["hydra.job.chdir: ", "drop"]),
    # a tracking store whose database driver is missing
    "store_driver": (frame(), ["logger.tracking_uri=postgresql://me:pw@127.0.0.1:9/db"],
                     ["logger.tracking_uri: postgresql://me:***@", "pip install"]),
}


def write(case_dir, content) -> None:
    path = case_dir / "data.csv"
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)


# One case of each way an error reaches the CLI (reading, validating the data, composing the
# config, our config checks, the constructors of Lightning and torch); the data cases are also
# checked in-process below.
CLI_CASES = ["missing_file", "nan", "wrong_key", "wrong_option", "wrong_type", "trainer_rejects",
             "optimizer_rejects", "scheduler_rejects", "season_too_long", "backtest_stride",
             "clipping_on_the_trainer", "removed_key", "job_chdir", "store_driver"]


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Run the CLI cases through the real CLI, a few processes at a time."""
    def case(name):
        def prepare(folder):
            content, overrides, _ = CASES[name]
            write(folder, content)
            return ["data=csv", "data.path=data.csv", "data.lookback=24", "data.horizon=6",
                    *overrides]
        return prepare

    return cli_runs(tmp_path_factory, {name: case(name) for name in CLI_CASES})


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_reports_bad_input_in_one_line(cli_results, name):
    folder, result = cli_results[name]
    _, _, words = CASES[name]
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(ours) == 1, result.stderr[-2000:]
    for word in words:
        assert word in ours[0], (word, result.stderr[-2000:])
    assert not (folder / "mlflow.db").exists()  # rejected before any run was opened


def test_full_traceback_on_request(tmp_path):
    result = run_train("data=csv", "data.path=missing.csv", cwd=tmp_path,
                       env={"HYDRA_FULL_ERROR": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.parametrize("name", [n for n, (c, o, _) in CASES.items()
                                  if isinstance(c, pd.DataFrame) and not o])
def test_forecaster_fit_rejects_the_same_frames(name):
    content, _, words = CASES[name]
    with pytest.raises(DataError) as error:
        model = forecast.Forecaster(lookback=24, horizon=6, max_epochs=1)
        model.fit(content.reset_index(drop=True))
    # the same message, with keyword arguments for config keys (fill='ffill', not data.fill=ffill)
    assert not re.search(r"\bdata\.\w", str(error.value))
    for word in words:
        assert python_terms(word) in str(error.value), (word, str(error.value))


def test_forecaster_rejects_bad_sizes_and_columns():
    with pytest.raises(ConfigError, match="^horizon: must be a positive integer"):
        forecast.Forecaster(lookback=24, horizon=0).fit(frame())
    with pytest.raises(DataError, match=r"set sort=True"):
        forecast.Forecaster(lookback=24, horizon=6).fit(frame().iloc[::-1])
    with pytest.raises(DataError, match=r"unknown column\(s\) \['price'\]"):
        forecast.Forecaster(lookback=24, horizon=6, target="price").fit(frame())


def test_predict_with_a_history_missing_columns():
    model = forecast.Forecaster(lookback=24, horizon=6, max_epochs=1).fit(frame())
    with pytest.raises(DataError, match=r"misses column\(s\) \['y1'\]"):
        model.predict(frame().drop(columns="y1"))
    with pytest.raises(DataError, match="duplicate"):
        model.predict(pd.concat([frame().iloc[:100], frame().iloc[99:200]]))


DATA_CASES = [name for name, (_, overrides, _) in CASES.items()
              if all(o.startswith("data.") for o in overrides)]


@pytest.mark.parametrize("name", DATA_CASES)
def test_datamodule_reports_bad_input_in_one_line(tmp_path, name):
    """The same messages the CLI prints, from `setup()` of the datamodule it builds."""
    content, overrides, words = CASES[name]
    write(tmp_path, content)
    options = {"path": str(tmp_path / "data.csv"), "lookback": 24, "horizon": 6}
    for override in overrides:
        key, value = override.removeprefix("data.").split("=")
        options[key] = str(tmp_path / value) if key == "path" else yaml.safe_load(value)
    with pytest.raises(ForecastError) as error:
        WindowDataModule(**options).setup()
    message = explain(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize("override, message", [
    ("+trainer.gradient_clip_val=0.5", r"^trainer\.gradient_clip_val: .* optim\.gradient_clip"),
    ("+trainer.accumulate_grad_batches=2", r"^trainer\.accumulate_grad_batches: .* data\.batch"),
    ("optim.gradient_clip_val=-1", r"^optim\.gradient_clip_val: must be a number >= 0"),
    ("optim.gradient_clip_algorithm=l2", r"^optim\.gradient_clip_algorithm: must be 'norm' or"),
    ("+trainer.val_check_interval=10", r"^trainer\.val_check_interval: an integer counts "
                                       r"Lightning steps, here lists of data\.steps_per_exec"),
])
def test_clipping_and_accumulation_settings_name_their_keys(override, message):
    def composed(*overrides: str):
        with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
            return compose("train", overrides=list(overrides))

    net = ManyToOne(n_inputs=1, n_targets=1, lookback=4, horizon=1)
    default = composed()
    check_config(default)  # the control: the defaults pass
    build_module(default.optim, net)
    cfg = composed(override)
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)
        build_module(cfg.optim, net)


def test_an_integer_validation_interval_counts_batches_one_per_step():
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        check_config(compose("train", overrides=["+trainer.val_check_interval=10",
                                                 "data.steps_per_execution=1"]))
        check_config(compose("train", overrides=["+trainer.val_check_interval=0.5"]))


def test_the_key_check_names_the_nearest_keys_and_leaves_the_rest_to_hydra():
    from forecast.overrides import check_overrides

    check_overrides(["+experiment=sine", "model=gru", "+model.extra=1", "trainer.max_epochs=2"])
    check_overrides(["-m", "model=gruu"])  # a sweep: Hydra composes each job itself
    check_overrides(["model.hidden_size=8,16"])  # Hydra's message explains list/sweep/quote
    check_overrides(["-m", "model=gru,lstm", "-cn", "train"])  # flags that go together
    with pytest.raises(ConfigError, match=r"^-m and --cfg cannot go together: .* drop -m "):
        check_overrides(["-m", "hparams_search=sine_optuna", "--cfg", "hydra"])
    with pytest.raises(ConfigError, match=r"did you mean \+experiment=sine\?"):
        check_overrides(["+experiment=sinee"])
    with pytest.raises(ConfigError, match=r"did you mean model\.hidden_size\?"):
        check_overrides(["modle.hidden_size=8"])
    with pytest.raises(ConfigError, match=r"did you mean model\.teacher_forcing\?"):  # 2 typos
        check_overrides(["model=seq2seq", "model.teacher_forcin=0.5", "data.lookbak=3"])
