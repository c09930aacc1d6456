"""Resuming an interrupted training run: find its checkpoint and the MLflow runs it wrote to."""

from __future__ import annotations

import json
from pathlib import Path

from forecast.errors import ConfigError

RUNS_FILE = "mlflow_runs.json"


def find_checkpoint(resume: str | None, outputs: Path) -> Path | None:
    """The checkpoint to resume from: `resume` itself, or with `resume=auto` the newest
    `last.ckpt` under `outputs` (the experiment's output folders); None to start afresh."""
    if resume in (None, ""):
        return None
    if resume == "auto":
        candidates = sorted(outputs.glob("*/checkpoints/last.ckpt"),
                            key=lambda path: path.stat().st_mtime)
        return candidates[-1] if candidates else None
    path = Path(resume).expanduser()
    if not path.is_file():
        raise ConfigError(f"resume: checkpoint '{path}' does not exist; give the path of a "
                          "last.ckpt (outputs/<experiment>/<time>/checkpoints/) or resume=auto.")
    return path


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
