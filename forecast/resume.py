"""Resuming a training run: find its checkpoint and the MLflow runs it wrote to."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from forecast.errors import ConfigError

log = logging.getLogger(__name__)
RUNS_FILE = "mlflow_runs.json"
FINISHED_FILE = "finished"  # beside the checkpoints of a run that ended normally


def find_checkpoint(resume: str | None, outputs: Path) -> Path | None:
    """The checkpoint to resume from: `resume` itself, or with `resume=auto` the newest
    `last.ckpt` under `outputs` (the experiment's output folders) of a run that did not finish;
    None to start afresh."""
    if resume in (None, ""):
        return None
    if resume == "auto":
        candidates = sorted((path for path in outputs.glob("*/checkpoints/last.ckpt")
                             if not finished(path)), key=lambda path: path.stat().st_mtime)
        if not candidates:
            log.info(f"resume=auto: no interrupted run with a last.ckpt under {outputs}; "
                  "starting a new run.")
        return candidates[-1] if candidates else None
    path = Path(resume).expanduser()
    if not path.is_file():
        raise ConfigError(f"resume: checkpoint '{path}' does not exist; give the path of a "
                          "last.ckpt (outputs/<experiment>/<time>/checkpoints/) or resume=auto.")
    return path


def finished(checkpoint: Path | None) -> bool:
    """Whether the run that wrote `checkpoint` ended normally (so it is not continued in place)."""
    return checkpoint is not None and (checkpoint.parent / FINISHED_FILE).is_file()


def mark_finished(checkpoint_dir: str | Path, done: bool = True) -> None:
    """Record that the run writing `checkpoint_dir` ended (done) or is training (not done)."""
    marker = Path(checkpoint_dir) / FINISHED_FILE
    if done:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def save_runs(checkpoint_dir: str | Path, runs: dict[str, str]) -> None:
    """Remember which MLflow runs the checkpoints of this folder belong to."""
    folder = Path(checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUNS_FILE).write_text(json.dumps(runs))


def load_runs(checkpoint: Path | None) -> dict[str, str] | None:
    """The MLflow runs saved beside `checkpoint`, to be continued; None if unknown."""
    if checkpoint is None or not (checkpoint.parent / RUNS_FILE).is_file():
        return None
    return json.loads((checkpoint.parent / RUNS_FILE).read_text())
