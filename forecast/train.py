"""Hydra entry point: compose the config, then run the experiment (forecast.experiment).

    python -m forecast.train +experiment=sine [key=value ...]

Only Hydra is imported before the config is composed, so `--help`, a mistyped override and a
`data.path` with no file answer in about a second; torch, Lightning and MLflow (~10 s to
import) load after that.
"""

from __future__ import annotations

import os
import signal
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from forecast.config_check import check_config
from forecast.errors import ConfigError, DataError, explain, is_usage_error, unwrap
from forecast.hydra_callbacks import discard_unused_run_folder, mark_failed_job
from forecast.logs import quiet
from forecast.overrides import CONF, check_overrides
from forecast.sweep_stop import in_sweep_worker, leave_worker, stop_job_on_signals

# At import, not in main(): the workers of `trainer=ddp` (ddp_spawn) import this module too, and
# they inherit none of the main process's filters.
quiet()


@hydra.main(version_base="1.3", config_path=str(CONF), config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the best validation loss (the objective of sweeps)."""
    _stop_on_sigterm()
    try:
        _check_working_folder()
        check_config(cfg)
        from forecast.experiment import run  # the heavy imports, once the config is sound

        return run(cfg)
    except (KeyboardInterrupt, SystemExit) as stop:  # Lightning: Ctrl-C in fit is exit(1)
        print("interrupted: open MLflow runs are marked KILLED; resume=auto continues from the "
              "run's last.ckpt, if one was written.", file=sys.stderr)
        if in_sweep_worker():  # the sweep is being stopped (forecast.sweep_stop)
            leave_worker(stop)
        if isinstance(stop, KeyboardInterrupt) or isinstance(stop.__context__, KeyboardInterrupt):
            raise SystemExit(130) from None  # Ctrl-C's code
        raise
    except Exception as error:
        # One readable line instead of a traceback from deep inside torch; the MLflow run (if
        # any) already holds the full traceback in error.txt.
        cause = unwrap(error)
        discard_unused_run_folder(refused=isinstance(cause, (ConfigError, DataError)))
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {explain(error)}", file=sys.stderr)
        if str(HydraConfig.get().mode) == "RunMode.MULTIRUN":
            mark_failed_job(explain(error))  # the sweep goes on, and lists it at its end
            return float("inf")  # no finite loss: the worst objective (Optuna takes no nan)
        sys.exit(2 if is_usage_error(cause) else 1)


def _check_working_folder() -> None:
    """Refuse `hydra.job.chdir=true`: the MLflow store, relative data paths and the sweep's tag
    are read from the folder the command runs in; each job in its own folder would split them."""
    hydra = HydraConfig.get()
    if hydra.job.chdir:
        os.chdir(hydra.runtime.cwd)  # out of the run folder, which is then removed unused
        raise ConfigError("hydra.job.chdir: forecast runs in the folder you start it from (the "
                          "MLflow store and relative data paths are read there) and writes each "
                          "run's files to its own output folder anyway; drop "
                          "hydra.job.chdir=true.")


def _stop_on_sigterm() -> None:
    """SIGTERM (a scheduler, `timeout`, `docker stop`) ends a run as Ctrl-C does: its MLflow
    runs are marked KILLED, and the exit code is 143."""
    if in_sweep_worker():
        stop_job_on_signals()
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (a launcher's worker): keep the default
        pass


def cli() -> None:
    """`python -m forecast.train`: a mistyped key or option is one line (exit code 2) before
    Hydra composes the config."""
    try:
        check_overrides(sys.argv[1:])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
