"""Resuming a training run: find its checkpoint and the MLflow runs it wrote to."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from forecast.errors import ConfigError

log = logging.getLogger(__name__)
RUNS_FILE = "mlflow_runs.json"
FINISHED_FILE = "finished"  # beside the checkpoints of a run that ended normally
# What a resumed run shares with the run it continues (trainer.max_epochs, callbacks and the
# logger may change), less what only changes the speed (the same steps on the same batches).
SETUP = ("data", "model", "optim", "seed", "baselines", "backtest")
SPEED_ONLY = frozenset({"data.steps_per_execution"})


def find_checkpoint(resume: str | None, outputs: Path, cfg=None) -> Path | None:
    """The checkpoint to resume from: `resume` itself, or with `resume=auto` the newest
    `last.ckpt` under `outputs` (the experiment's output folders) of a run that did not finish
    and was set up as `cfg` (same data, model, optimiser, seed); None to start afresh."""
    if resume in (None, ""):
        return None
    if not isinstance(resume, str):  # resume=true, resume=1
        raise ConfigError(f"resume: {resume!r}; give resume=auto (the newest interrupted run of "
                          "this setup) or the path of a last.ckpt.")
    if resume == "auto":
        unfinished = sorted((path for path in outputs.glob("*/checkpoints/last.ckpt")
                             if not finished(path)), key=lambda path: path.stat().st_mtime)
        changes = {path: changed_setup(path, cfg) if cfg is not None else []
                   for path in unfinished}
        same = [path for path in unfinished if not changes[path]]
        if not same:
            other = (f" ({len(unfinished)} set up otherwise, e.g. "
                     f"{changes[unfinished[-1]][:3]})" if unfinished else "")
            log.info(f"resume=auto: no interrupted run of this setup under {outputs}{other}; "
                     "starting a new run.")
        return same[-1] if same else None
    path = Path(resume).expanduser()
    if path.is_dir():
        inside = sorted(path.glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        hint = f" such as {inside[-1]}" if inside else ""
        raise ConfigError(f"resume: '{path}' is a folder; give the path of a last.ckpt{hint}, "
                          "or resume=auto.")
    if not path.is_file():
        raise ConfigError(f"resume: checkpoint '{path}' does not exist; give the path of a "
                          "last.ckpt (outputs/<experiment>/<time>/checkpoints/) or resume=auto.")
    return path


def check_resumable(checkpoint: Path, module, cfg) -> None:
    """ConfigError, before any MLflow run opens, where `checkpoint` holds another network than
    `module` (parameters of other names or shapes: `model=gru`, another `hidden_size` ...);
    otherwise a note of the settings that changed since it was written."""
    import torch

    saved = torch.load(checkpoint, weights_only=True, map_location="cpu")["state_dict"]
    changed = changed_setup(checkpoint, cfg)
    if _shapes(saved) == _shapes(module.state_dict()):
        if changed:
            log.info(f"resume: {checkpoint} was trained with other settings of {changed}; going "
                     "on with the new ones.")
        return
    changes = [key for key in changed
               if key.startswith(("model.", "data."))] or ["the network's parameters"]
    raise ConfigError(f"resume: {checkpoint} holds another network than this config builds "
                      f"(changed: {', '.join(changes)}); drop those overrides to resume it, or "
                      "start a new run without resume=.")


def _shapes(state_dict: dict) -> dict:
    return {name: tuple(value.shape) for name, value in state_dict.items()}


def changed_setup(checkpoint: Path, cfg) -> list[str]:
    """Keys of the run's setup (SETUP) whose values in `cfg` differ from those of the run that
    wrote `checkpoint` (its `.hydra/config.yaml`); [] when that config is not there."""
    saved = checkpoint.parent.parent / ".hydra" / "config.yaml"
    if not saved.is_file():
        return []
    old = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
    new = OmegaConf.to_container(cfg, resolve=False)  # `${trainer.max_epochs}` stays as it is
    return sorted(key for part in SETUP for key in _changed(old.get(part), new.get(part), part)
                  if key not in SPEED_ONLY)


def _changed(old, new, prefix: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [key for name in old.keys() | new.keys()
                for key in _changed(old.get(name), new.get(name), f"{prefix}.{name}")]
    return [] if old == new else [prefix]


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
