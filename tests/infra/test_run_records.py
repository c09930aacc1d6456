"""What a failed, interrupted or resumed run tells in the MLflow store: its config from the
start, what stopped it, and once resumed and finished no `error` any more."""

import signal
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from forecast.tracking import Tracker
from tests.conftest import run_train
from tests.reliability.test_faults import RUN, neural_run, start, wait_for_checkpoint


def artifact_text(client: MlflowClient, run_id: str, path: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        return Path(client.download_artifacts(run_id, path, folder)).read_text()


def test_a_failed_run_keeps_the_config_logged_when_it_opened(store):
    tracker = Tracker(store, "records", "failing")
    neural = tracker.child("lstm", "neural")
    cfg = OmegaConf.create({"model": {"hidden_size": 8}, "lr": "${model.hidden_size}",
                            "logger": {"tracking_uri": "http://me:pw@host:5000", "api_token": "x"}})
    with pytest.raises(ValueError), tracker:
        tracker.log_config([tracker.parent_id, neural], cfg)
        raise ValueError("the loss diverged")
    for run_id in (tracker.parent_id, neural):
        run = tracker.client.get_run(run_id)
        assert run.info.status == "FAILED" and not run.data.params
        assert run.data.tags["error"] == "ValueError: the loss diverged"
        config = yaml.safe_load(artifact_text(tracker.client, run_id, "config.yaml"))
        assert config == {"model": {"hidden_size": 8}, "lr": 8,  # resolved, no secrets
                          "logger": {"tracking_uri": "http://me:***@host:5000"}}


def interrupted(tracker: Tracker, error: BaseException) -> None:
    """End `tracker`'s runs as `error` ends them during training."""
    try:
        with tracker:
            raise error
    except BaseException:
        pass


def test_ctrl_c_during_fit_is_tagged_as_the_users_interruption(store):
    """Lightning answers Ctrl-C during fit with sys.exit(1) in its `except KeyboardInterrupt`."""
    tracker = Tracker(store, "records", "ctrl-c")
    try:
        with tracker:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                sys.exit(1)
    except SystemExit as error:
        assert error.code == 1
    run = tracker.client.get_run(tracker.parent_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["error"] == "KeyboardInterrupt: interrupted by the user (Ctrl-C)"


def test_sigterm_and_other_exits_say_what_they_were(store):
    sigterm, other = Tracker(store, "records", "sigterm"), Tracker(store, "records", "exit")
    interrupted(sigterm, SystemExit(143))
    interrupted(other, SystemExit(3))
    assert sigterm.client.get_run(sigterm.parent_id).data.tags["error"].startswith(
        "SystemExit: 143 (SIGTERM")
    assert other.client.get_run(other.parent_id).data.tags["error"] == "SystemExit: 3"


def test_reopening_an_interrupted_run_keeps_its_error_as_previous_error(store):
    first = Tracker(store, "records", "resumable")
    neural = first.child("lstm", "neural")
    interrupted(first, SystemExit(143))
    client = first.client
    assert client.get_run(neural).data.tags["error"].startswith("SystemExit: 143")
    old_trace = artifact_text(client, neural, "error.txt")

    with Tracker(store, "records", "resumable", parent_id=first.parent_id) as again:
        again.reopen(neural)
        for run_id in (again.parent_id, neural):
            run = client.get_run(run_id)
            assert run.info.status == "RUNNING" and "error" not in run.data.tags
            assert run.data.tags["previous_error"].startswith("SystemExit: 143 (SIGTERM")
            note = artifact_text(client, run_id, "error.txt")
            assert note.startswith("Resumed on ") and "after: SystemExit: 143" in note
            assert note.endswith(old_trace)
    for run_id in (first.parent_id, neural):
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED" and "error" not in run.data.tags


@pytest.fixture(scope="module")
def ctrl_c_then_resume(tmp_path_factory):
    """The real CLI interrupted by Ctrl-C after its first checkpoint, then `resume=auto`: the
    records of the runs at each stage."""
    folder = tmp_path_factory.mktemp("ctrl_c")
    process = start(folder)
    wait_for_checkpoint(folder, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "interrupted" in stderr, stderr[-2000:]
    client, (killed,) = neural_run(folder)
    parent_id = killed.data.tags["mlflow.parentRunId"]
    before = SimpleNamespace(neural=killed, parent=client.get_run(parent_id),
                             config=artifact_text(client, killed.info.run_id, "config.yaml"),
                             parent_config=artifact_text(client, parent_id, "config.yaml"))
    resumed = run_train(*RUN, "resume=auto", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _, runs = neural_run(folder)
    return client, before, runs


def test_an_interrupted_run_shows_its_settings_and_why_it_stopped(ctrl_c_then_resume):
    _, before, _ = ctrl_c_then_resume
    for run in (before.neural, before.parent):
        assert run.info.status == "KILLED"
        assert not run.data.params  # logged when it finishes: what makes it resumable
        assert run.data.tags["error"] == "KeyboardInterrupt: interrupted by the user (Ctrl-C)"
    for text in (before.config, before.parent_config):
        config = yaml.safe_load(text)
        assert config["trainer"]["max_epochs"] == 4 and config["data"]["batch_size"] == 16
        assert config["model"]["_target_"] == "forecast.models.ManyToOne"


def test_the_resumed_run_finishes_without_the_old_error(ctrl_c_then_resume):
    client, before, runs = ctrl_c_then_resume
    (run,) = runs
    assert run.info.run_id == before.neural.info.run_id  # the same run went on
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    for record in (run, parent):
        assert record.info.status == "FINISHED"
        assert "error" not in record.data.tags
        assert record.data.tags["previous_error"] == (
            "KeyboardInterrupt: interrupted by the user (Ctrl-C)")
        assert record.data.params["trainer.max_epochs"] == "4"
        assert "Resumed on " in artifact_text(client, record.info.run_id, "error.txt")
    assert yaml.safe_load(artifact_text(client, run.info.run_id, "config.yaml"))["resume"] == "auto"
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 4
