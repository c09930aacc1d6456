"""Hydra callbacks: checks that must run before Hydra itself touches the disk."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hydra.experimental.callback import Callback


class CheckOutputFolder(Callback):
    """Stop with one clear line when the run (or sweep) folder cannot be written, instead of
    Hydra's traceback when it fails to create it."""

    def on_run_start(self, config, **kwargs) -> None:
        _check_writable(Path(config.hydra.run.dir), "hydra.run.dir")

    def on_multirun_start(self, config, **kwargs) -> None:
        _check_writable(Path(config.hydra.sweep.dir), "hydra.sweep.dir")


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
