"""SIGTERM or Ctrl-C stops a parallel sweep (`hydra/launcher=parallel`) as it stops one run.

The joblib launcher runs the jobs in loky worker processes. The main process only waits for
them, so without a handler of its own a SIGTERM killed it at once and left the workers
training, their MLflow runs RUNNING. Now the main process passes the signal on to every worker,
each worker ends its job as a single run ends (MLflow runs KILLED, last.ckpt written) and exits,
a worker still there after `GRACE_S` is killed, and the main process exits 143 (130 for
SIGINT) with one line.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time

from hydra.experimental.callback import Callback

GRACE_S = 20.0  # how long the workers have to close their runs and write last.ckpt
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSweepOnSignal(Callback):
    """In the main process of a sweep whose jobs run in worker processes (the joblib
    launcher): SIGTERM and SIGINT stop the workers' jobs, then the sweep."""

    def on_multirun_start(self, config, **kwargs) -> None:
        if "JoblibLauncher" not in str(config.hydra.launcher.get("_target_", "")):
            return  # the basic launcher runs the jobs in this process: forecast.train's handler
        for signum in STOP_SIGNALS:
            signal.signal(signum, _stop_sweep)


def _stop_sweep(signum: int, frame) -> None:
    for other in STOP_SIGNALS:  # once: a worker passes the signal back (see stop_job_on_signals)
        signal.signal(other, signal.SIG_IGN)
    workers = multiprocessing.active_children()  # the loky workers (resource trackers aren't)
    for worker in workers:
        _send(worker.pid, signum)
    deadline = time.monotonic() + GRACE_S
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    killed = [worker for worker in workers if worker.is_alive()]
    for worker in killed:
        worker.kill()
        worker.join(5)
    late = (f"; {len(killed)} worker(s) still running after {GRACE_S:.0f} s were killed"
            if killed else "")
    print(f"interrupted: {signal.Signals(signum).name} stopped the sweep; its running jobs' "
          f"MLflow runs are marked KILLED{late}.", file=sys.stderr)
    raise SystemExit(128 + signum)


def in_sweep_worker() -> bool:
    """Whether this job runs in a launcher's worker process, not in the sweep's main process."""
    return multiprocessing.current_process().name != "MainProcess"


def stop_job_on_signals() -> None:
    """In a sweep's worker: SIGTERM and SIGINT end the job as in a single run (SystemExit(143),
    KeyboardInterrupt), once. A Ctrl-C at a terminal reaches the worker itself and, passed on,
    from the main process too; the second must not cut short the first one's clean-up. A signal
    sent to this worker alone goes to the main process as well, which stops the whole sweep
    instead of failing it on a lost worker."""
    parent = os.getppid()  # the sweep's main process, alive while it waits for this job

    def stop(signum, frame):
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        if os.getppid() == parent:  # not an orphan: never signal whoever adopted it
            _send(parent, signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)


def leave_worker(error: BaseException) -> None:
    """End a worker whose job was stopped by a signal, instead of going back to loky for the
    next job; its MLflow runs are closed and its checkpoint written by then."""
    code = error.code if isinstance(error, SystemExit) and isinstance(error.code, int) else 130
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _send(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # it ended meanwhile
        pass
