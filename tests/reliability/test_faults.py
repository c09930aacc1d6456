"""Faults during training: SIGKILL then resume, Ctrl-C, unwritable output, unreachable server."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from forecast.checkpoint_io import BackgroundCheckpointIO, FileCheckpointIO
from tests.conftest import run_train, sqlite_store

# Long enough epochs (~1 s) that a kill lands mid-epoch; no baselines, no early stop; last.ckpt
# after every epoch.
RUN = ("+experiment=sine", "baselines=none", "trainer.max_epochs=4", "data.batch_size=16",
       "data.frame.n_steps=2000", "callbacks.early_stopping.patience=100",
       "callbacks.last_checkpoint.min_interval_s=0", "trainer.enable_progress_bar=false",
       "logger.log_model=false")


def neural_run(folder: Path):
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("sine").experiment_id],
                              "tags.family = 'neural'")
    return client, runs


def start(folder: Path, *overrides: str) -> subprocess.Popen:
    """A run of RUN in the background, into the store `folder/mlflow.db`."""
    sqlite_store(folder / "mlflow.db")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen([sys.executable, "-m", "forecast.train", *RUN, *overrides], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def default_sigint() -> None:
    """Ctrl-C as at a terminal: a shell starts background jobs with SIGINT ignored, which every
    child inherits (Python then never raises KeyboardInterrupt), e.g. `nohup pytest &`."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_checkpoint(folder: Path, process: subprocess.Popen, timeout: float = 180) -> Path:
    """The first last.ckpt, once fully written (its size stops changing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(folder.glob("outputs/sine/*/checkpoints/last.ckpt"))
        if found:
            size = found[0].stat().st_size
            time.sleep(0.3)
            if found[0].stat().st_size == size:
                return found[0]
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.1)
    process.kill()
    raise AssertionError("no checkpoint appeared")


def test_sigkill_then_resume_gives_the_same_result(tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    straight.mkdir(), broken.mkdir()
    reference = run_train(*RUN, cwd=straight)
    assert reference.returncode == 0, reference.stderr[-2000:]

    process = start(broken)
    wait_for_checkpoint(broken, process)
    process.send_signal(signal.SIGKILL)  # mid-epoch 2: epoch 1 ended with the checkpoint
    process.wait(timeout=30)
    _, killed = neural_run(broken)
    assert killed[0].info.status == "RUNNING"  # a SIGKILL cannot close anything

    resumed = run_train(*RUN, "resume=auto", cwd=broken)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    client, runs = neural_run(broken)
    assert len(runs) == 1 and runs[0].info.run_id == killed[0].info.run_id  # the same run goes on
    assert runs[0].info.status == "FINISHED"
    _, expected = neural_run(straight)
    assert runs[0].data.metrics["test_mse"] == expected[0].data.metrics["test_mse"]
    epochs = {m.step for m in client.get_metric_history(runs[0].info.run_id, "val_loss")}
    assert len(epochs) == 4  # every epoch's validation is in the one run


def test_a_finished_run_is_trained_further_into_new_runs(tmp_path):
    """The README's `resume=.../last.ckpt trainer.max_epochs=60`: MLflow params cannot change,
    so the finished run keeps its record and the longer training gets runs of its own."""
    short = ("+experiment=sine", "baselines=none", "data.frame.n_steps=600",
             "trainer.enable_progress_bar=false", "logger.log_model=false")
    first = run_train(*short, "trainer.max_epochs=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    client, (finished,) = neural_run(tmp_path)
    checkpoint = next(tmp_path.glob("outputs/sine/*/checkpoints/last.ckpt"))

    fresh = run_train(*short, "trainer.max_epochs=3", "resume=auto", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "no interrupted run" in fresh.stdout  # resume=auto passes over finished runs

    kept_bytes = checkpoint.read_bytes()
    longer = run_train(*short, "trainer.max_epochs=3", f"resume={checkpoint}", cwd=tmp_path)
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert f"resuming from {checkpoint}" in longer.stdout
    # the finished run's checkpoints stay as they were; the new epochs have a folder of their own
    assert checkpoint.read_bytes() == kept_bytes
    assert len(list(tmp_path.glob("outputs/sine/*/checkpoints/last.ckpt"))) == 3
    # the sine preset's cosine over trainer.max_epochs: now T_max=3, from epoch 2 on
    assert "LR schedule continues under this run's settings (T_max 2 -> 3)" in longer.stdout
    _, runs = neural_run(tmp_path)
    by_id = {run.info.run_id: run for run in runs}
    kept = by_id[finished.info.run_id]
    assert kept.info.status == "FINISHED" and kept.data.params["trainer.max_epochs"] == "2"
    assert kept.data.metrics["test_mse"] == finished.data.metrics["test_mse"]
    (continued,) = [run for run in runs if run.data.tags.get("resumed_from")]
    assert continued.data.tags["resumed_from"] == finished.info.run_id
    assert continued.info.status == "FINISHED"
    assert continued.data.params["trainer.max_epochs"] == "3"
    assert len(client.get_metric_history(continued.info.run_id, "val_loss")) == 1  # epoch 3


def test_sigterm_marks_the_run_killed_and_keeps_the_checkpoint(tmp_path):
    """A scheduler's SIGTERM (Ctrl-C: the next test)."""
    process = start(tmp_path)
    checkpoint = wait_for_checkpoint(tmp_path, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143
    assert "Traceback" not in stderr and "interrupted" in stderr
    _, runs = neural_run(tmp_path)
    assert runs[0].info.status == "KILLED"
    assert checkpoint.exists()


def test_ctrl_c_saves_the_last_completed_epoch_and_resume_finishes_the_run(tmp_path):
    """With no last.ckpt written yet (the default: at most one per 10 s), Ctrl-C writes the
    epoch that last ended, and `resume=auto` goes on from there."""
    process = start(tmp_path, "callbacks.last_checkpoint.min_interval_s=3600",
                    "trainer.enable_progress_bar=true")  # one line per epoch on the pipe
    for line in process.stdout:
        if line.startswith("epoch 1/4"):  # printed as epoch 2 starts
            break
    checkpoints = next(tmp_path.glob("outputs/sine/*/checkpoints"))
    assert not (checkpoints / "last.ckpt").exists()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted" in stderr, stderr[-2000:]  # as Ctrl-C
    saved = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert saved["epoch"] in (0, 1) and f"saved epoch {saved['epoch'] + 1}" in stdout
    best = torch.load(checkpoints / "best.ckpt", weights_only=True)
    assert best["epoch"] <= saved["epoch"]
    client, (killed,) = neural_run(tmp_path)
    records = (killed, client.get_run(killed.data.tags["mlflow.parentRunId"]))
    for run in records:  # what stopped it, and its settings from the start: no params yet
        assert run.info.status == "KILLED" and not run.data.params
        assert run.data.tags["error"] == "KeyboardInterrupt: interrupted by the user (Ctrl-C)"
        config = yaml.safe_load(artifact_text(client, run.info.run_id, "config.yaml"))
        assert config["trainer"]["max_epochs"] == 4 and config["data"]["batch_size"] == 16

    resumed = run_train(*RUN, "resume=auto", "trainer.enable_progress_bar=true", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = [line for line in resumed.stdout.splitlines() if line.startswith("epoch ")]
    assert lines and all("val_loss" in line for line in lines), lines  # none left empty
    client, runs = neural_run(tmp_path)
    assert len(runs) == 1 and runs[0].info.run_id == killed.info.run_id  # the same run went on
    epochs = {m.step for m in client.get_metric_history(runs[0].info.run_id, "val_loss")}
    assert len(epochs) == 4  # every epoch's validation is in the one run
    for run in (client.get_run(record.info.run_id) for record in records):
        assert run.info.status == "FINISHED" and "error" not in run.data.tags
        assert run.data.tags["previous_error"] == (
            "KeyboardInterrupt: interrupted by the user (Ctrl-C)")
        assert run.data.params["trainer.max_epochs"] == "4"
        assert "Resumed on " in artifact_text(client, run.info.run_id, "error.txt")
    config = yaml.safe_load(artifact_text(client, killed.info.run_id, "config.yaml"))
    assert config["resume"] == "auto"


SWEEP = ("-m", "+experiment=sine", "trainer=fast", "model=rnn,gru", "hydra/launcher=parallel",
         "model.hidden_size=8", "baselines=none", "data.lookback=24", "data.horizon=4",
         "trainer.max_epochs=1000", "callbacks.early_stopping.patience=1000",
         "callbacks.last_checkpoint.min_interval_s=0", "logger.log_model=false",
         "hydra.sweep.dir=sweep")


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_a_parallel_sweep_stops_its_workers_and_closes_their_runs(
        tmp_path, signum, code):
    """`docker stop` or `timeout` signal the main process only; it passes the signal on to the
    loky workers, which close their runs as a single run does, then exit."""
    sqlite_store(tmp_path / "mlflow.db")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    process = subprocess.Popen([sys.executable, "-m", "forecast.train", *SWEEP], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=default_sigint, start_new_session=True)
    try:
        checkpoints = [tmp_path / "sweep" / job / "checkpoints" / "last.ckpt" for job in "01"]
        deadline = time.monotonic() + 120
        while not all(path.exists() for path in checkpoints):  # both jobs are training
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the jobs wrote no checkpoint"
            time.sleep(0.2)
        workers = set(session_processes(process.pid)) - {process.pid}
        assert len(workers) >= 2  # the two loky workers (and loky's resource trackers)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == code, stderr[-2000:]
        assert "Traceback" not in stderr and "leaked" not in stderr, stderr[-2000:]
        stopped = [line for line in stderr.splitlines() if "stopped the sweep" in line]
        assert stopped == [f"interrupted: {signal.Signals(signum).name} stopped the sweep; its "
                           f"running jobs' MLflow runs are marked KILLED."], stderr[-2000:]
        deadline = time.monotonic() + 10  # the resource trackers end once their pipes close
        while session_processes(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not session_processes(process.pid)
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("sine").experiment_id])
        assert len(runs) == 4 and {run.info.status for run in runs} == {"KILLED"}
        for path in checkpoints:
            assert torch.load(path, weights_only=True)["epoch"] >= 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever a failed test left


def session_processes(session: int) -> list[int]:
    """The live (not zombie) processes of the session `session` leads."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # it ended meanwhile
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(stat.parent.name))
    return found


def artifact_text(client: MlflowClient, run_id: str, path: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        return Path(client.download_artifacts(run_id, path, folder)).read_text()


@contextlib.contextmanager
def tiny_filesystem(folder: Path, options: str):
    """A real tmpfs mounted at `folder` (read-only or nearly full), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_read_only_output_folder_is_a_clear_error(tmp_path):
    with tiny_filesystem(tmp_path / "ro", "ro,size=64k") as folder:
        result = run_train(*RUN, f"hydra.run.dir={folder}/run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Read-only file system" in result.stderr and "hydra.run.dir" in result.stderr


def test_full_disk_while_checkpointing_is_a_clear_error(tmp_path):
    with tiny_filesystem(tmp_path / "full", "size=96k") as folder:
        result = run_train(*RUN[:-1], "logger=none", "model.hidden_size=64",
                           f"hydra.run.dir={folder}/run", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr and "cannot write" in result.stderr


def test_a_file_in_place_of_the_output_folder(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    result = run_train(*RUN, f"hydra.run.dir={blocker}/run", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(blocker) in result.stderr


def test_unreachable_tracking_server_stops_before_training(tmp_path):
    result = run_train(*RUN, "logger.tracking_uri=http://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode != 0
    assert "logger.tracking_uri" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("outputs/sine/*/checkpoints/*.ckpt"))


def test_a_checkpoint_too_big_for_the_disk_names_it_and_leaves_the_old_file(tmp_path):
    """Both writers of trainer presets (the GPU one in its thread): the error is the disk's,
    not torch's "[enforce fail ...] unexpected pos", and the last good checkpoint survives."""
    with tiny_filesystem(tmp_path / "full", "size=96k") as folder:
        small, big = {"w": torch.zeros(10)}, {"w": torch.zeros(100_000)}  # 400 KB
        for writer in (FileCheckpointIO(), BackgroundCheckpointIO()):
            path = folder / f"{type(writer).__name__}.ckpt"
            writer.save_checkpoint(small, path)
            with pytest.raises(OSError, match="No space left on device"):
                writer.save_checkpoint(big, path)
                writer.teardown()  # the background writer re-raises its thread's error here
            assert torch.equal(torch.load(path, weights_only=True)["w"], small["w"])
            path.unlink()
        assert not list(folder.iterdir())  # no partial file left


# Saves `{"epoch": 9}` to argv[1] with a torch.save that writes a few bytes, then dies by SIGKILL
# ("kill") or says "writing" and waits ("wait"): a write cut short, or one under way.
WRITER = """
import os, signal, sys, time
import torch
from forecast.checkpoint_io import FileCheckpointIO

def save(checkpoint, file):
    file.write(b"the first bytes of a checkpoint")
    file.flush()
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("writing", flush=True)
    time.sleep(120)

torch.save = save
FileCheckpointIO().save_checkpoint({"epoch": 9}, sys.argv[1])
"""


def test_a_write_cut_by_sigkill_leaves_a_file_that_a_later_save_removes(tmp_path):
    """A later save of the same checkpoint removes what a killed writer left (up to a whole
    checkpoint, hidden) once it is a minute old, and not the file of a write under way."""
    path = tmp_path / "last.ckpt"
    killed = subprocess.run([sys.executable, "-c", WRITER, str(path), "kill"])
    assert killed.returncode == -signal.SIGKILL
    (abandoned,) = tmp_path.iterdir()
    assert abandoned.name.endswith(".partial") and abandoned.stat().st_size > 0
    FileCheckpointIO().save_checkpoint({"epoch": 1}, path)
    assert abandoned.exists()  # too new: its writer may have only just created it
    writing = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "wait"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert writing.stdout.readline() == "writing\n"
        (under_way,) = (p for p in tmp_path.iterdir() if p not in (path, abandoned))
        an_hour_ago = time.time() - 3600
        for file in (abandoned, under_way):
            os.utime(file, (an_hour_ago, an_hour_ago))
        FileCheckpointIO().save_checkpoint({"epoch": 2}, path)
        assert sorted(tmp_path.iterdir()) == sorted([path, under_way])
        assert torch.load(path, weights_only=True) == {"epoch": 2}
    finally:
        writing.kill()
        writing.wait()
