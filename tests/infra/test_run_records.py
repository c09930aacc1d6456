"""What a failed, interrupted or resumed run tells in the MLflow store: its config from the
start, what stopped it, and once reopened no `error` any more (the real CLI's Ctrl-C and
resume=auto: tests/reliability/test_faults.py)."""

import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from forecast.tracking import Tracker


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


def test_a_run_whose_error_cannot_be_uploaded_still_ends_failed(store, tmp_path, caplog):
    # an artifact root MLflow cannot write (a file where its folder would be)
    (tmp_path / "file").write_text("")
    tracker = Tracker(store, "unwritable", "failing", artifact_location=str(tmp_path / "file/x"))
    neural = tracker.child("lstm", "neural")
    with pytest.raises(ValueError), tracker:
        raise ValueError("the upload that failed the run")
    for run_id in (tracker.parent_id, neural):
        assert tracker.client.get_run(run_id).info.status == "FAILED"  # not RUNNING for ever
    assert f"could not record the error in run {neural}" in caplog.text


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
