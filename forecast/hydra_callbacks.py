"""The run folder Hydra makes: checked before Hydra writes it, removed when a refused run left
nothing in it but Hydra's own bookkeeping; an Optuna storage refused before a sweep; and the
failed jobs of a sweep, listed at its end."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import OmegaConf


class CheckOutputFolder(Callback):
    """Stop with one clear line when the run (or sweep) folder cannot be written, instead of
    Hydra's traceback when it fails to create it."""

    def on_run_start(self, config, **kwargs) -> None:
        _check_writable(Path(config.hydra.run.dir), "hydra.run.dir")

    def on_multirun_start(self, config, **kwargs) -> None:
        _check_writable(Path(config.hydra.sweep.dir), "hydra.sweep.dir")


class RefuseSweeperStorage(Callback):
    """`hydra.sweeper.storage` (an Optuna RDB storage) is refused in one line before the sweep,
    instead of Optuna's AssertionError once the study is created: hydra-optuna-sweeper 1.3 runs
    on Optuna 2.x, whose RDB storage does not work with SQLAlchemy 2 (which MLflow requires)."""

    def on_multirun_start(self, config, **kwargs) -> None:
        if config.hydra.sweeper.get("storage") is None:
            return
        print("error: hydra.sweeper.storage: not supported (Optuna 2.x, which "
              "hydra-optuna-sweeper 1.3 needs, cannot use an RDB storage next to MLflow's "
              "SQLAlchemy 2); the study is kept in memory: drop the key (every trial is an "
              "MLflow run; the best is in the sweep folder's optimization_results.yaml).",
              file=sys.stderr)
        sys.stderr.flush()
        sys.exit(2)


FAILED_FILE = "FAILED"  # in a sweep job's folder: the one-line error of a job that failed


class ReportFailedJobs(Callback):
    """A sweep goes on past a failed job; at its end, one line per failed job and exit code 2,
    instead of Hydra's traceback of the first failure."""

    def on_multirun_end(self, config, **kwargs) -> None:
        failed = sorted(Path(config.hydra.sweep.dir).glob(f"*/{FAILED_FILE}"),
                        key=lambda path: (len(path.parent.name), path.parent.name))
        if not failed:
            return
        lines = [f"error: {len(failed)} job(s) of the sweep failed:"]
        subdir = config.hydra.output_subdir  # Hydra's copies of each job's config, or None
        for path in failed:
            overrides = path.parent / subdir / "overrides.yaml" if subdir else None
            given = " ".join(OmegaConf.load(overrides)) if overrides and overrides.is_file() else ""
            lines.append(f"  job {path.parent.name} ({given}): {path.read_text().strip()}")
        print("\n".join(lines), file=sys.stderr)
        sys.stderr.flush()
        sys.exit(2)


def mark_failed_job(message: str) -> None:
    """Note the error of a sweep's job in its folder, for `ReportFailedJobs`."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FAILED_FILE).write_text(message + "\n")


def _check_writable(folder: Path, key: str) -> None:
    existing = folder.absolute()
    while not existing.exists():  # the folder is created later; probe its nearest ancestor
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "a file stands where a folder is needed", str(existing))
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".forecast-probe-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"error: cannot write the output folder {folder} ({reason} at {existing}). "
              f"Free disk space, fix the permissions, or choose another folder with "
              f"{key}=/writable/folder.", file=sys.stderr)
        sys.stderr.flush()
        sys.exit(2)


def discard_unused_run_folder(refused: bool) -> None:
    """Remove the run folder of a single run that stopped before it wrote anything, so
    `outputs/` lists only runs that ran. Only a folder that holds nothing but Hydra's copies of
    the config and the log goes, the log empty unless the run was `refused` (a bad config or
    data file: its notes were printed too); sweep folders stay, as they record every job."""
    hydra = HydraConfig.get()
    if str(hydra.mode) != "RunMode.RUN":
        return
    folder = Path(hydra.runtime.output_dir).absolute()
    written = [folder / f"{hydra.job.name}.log"]
    if hydra.output_subdir:
        written += [folder / hydra.output_subdir / name
                    for name in ("config.yaml", "hydra.yaml", "overrides.yaml")]
    if not _holds_only(folder, written) or (written[0].stat().st_size and not refused):
        return
    for path in written:
        path.unlink(missing_ok=True)
    if hydra.output_subdir:
        _remove_if_empty(folder / hydra.output_subdir)
    cwd = Path.cwd()
    for parent in [folder, *folder.parents]:  # and outputs/<experiment>/, outputs/
        if parent == cwd or not _remove_if_empty(parent) or cwd not in parent.parents:
            break


def _holds_only(folder: Path, files: list[Path]) -> bool:
    """Whether every file under `folder` is one of `files`, and the first of them is there."""
    found = {path for path in folder.rglob("*") if not path.is_dir()}
    return files[0] in found and found <= set(files)


def _remove_if_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
    except OSError:  # not empty, or already gone
        return False
    return True
