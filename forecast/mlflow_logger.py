"""Lightning's MLflow logger, writing asynchronously into a run a `Tracker` opened and closes."""

from __future__ import annotations

import logging
import time

import mlflow
from mlflow.entities import Metric
from pytorch_lightning.loggers import MLFlowLogger

log = logging.getLogger(__name__)


class CheckpointFlushingLogger(MLFlowLogger):
    """`MLFlowLogger(synchronous=False)` writing into an open run of a `Tracker`, which ends the
    run after the test scores are logged (with its final status; FAILED and the error when
    anything fails). So the end of `fit` only drains MLflow's queue, and only if something was
    logged since the last drain. (Lightning's own `finalize` reads the run back and ends it:
    ~12 ms of a short fit, and the run showed FINISHED while its test scores were to come.)

    `ResumeCheckpoint` drains the queue (`flush`) before it writes `last.ckpt`, so a run resumed
    after a crash holds every epoch its checkpoint holds. A drain takes ~10 ms (it restarts
    MLflow's logging threads), a tenth of an epoch of the sine preset. A batch the store
    refused (a tracking server down past MLflow's retries) fails the drain, and so the run,
    before `last.ckpt` claims epochs whose metrics are not in MLflow: MLflow itself would only
    log an error and drop them.

    Epoch metrics (`val_loss`, `train_loss_epoch`, ...) are logged at step = epoch, so MLflow's
    charts count epochs; per-step ones (`*_step`) at the global step, as Lightning logs them.
    `epoch`, which Lightning adds to every call, is logged once an epoch.

    Args:
        experiment_id: the run's experiment, known to the `Tracker`; Lightning otherwise reads
            the run back to learn it when training starts (~7 ms).
        **kwargs: `MLFlowLogger`'s arguments; `run_id` is required.
    """

    def __init__(self, experiment_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self._unflushed = False
        self._logged_epoch = None
        self._writes = []  # MLflow's handles on the writes queued since the last drain
        if experiment_id is not None and self._run_id is not None:
            mlflow.set_tracking_uri(self._tracking_uri)  # as MLFlowLogger.experiment does
            self._experiment_id, self._initialized = experiment_id, True

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        epoch = None if metrics.get("epoch") is None else int(metrics["epoch"])
        per_step = {k: v for k, v in metrics.items() if k.endswith("_step")}
        per_epoch = {k: v for k, v in metrics.items()
                     if k not in per_step and not (k == "epoch" and epoch == self._logged_epoch)}
        if per_step:
            self._log_batch(per_step, step)
        if per_epoch:
            self._log_batch(per_epoch, step if epoch is None else epoch)
            self._logged_epoch = epoch if "epoch" in per_epoch else self._logged_epoch
        self._unflushed = True

    def _log_batch(self, metrics: dict, step: int | None) -> None:
        """Queue `metrics` (clean names: ours) as Lightning does, keeping MLflow's handle on
        the write to learn at the next drain whether it failed."""
        stamp = int(time.time() * 1000)
        batch = [Metric(key=k, value=float(v), timestamp=stamp, step=step or 0)
                 for k, v in metrics.items()]
        self._writes.append(self.experiment.log_batch(run_id=self.run_id, metrics=batch,
                                                      synchronous=False))

    def log_hyperparams(self, params) -> None:
        super().log_hyperparams(params)
        self._unflushed = True

    def finalize(self, status: str = "success") -> None:
        """Drain the queue; the `Tracker` ends the run. After a failure (or Ctrl-C) a store
        that fails too is not the error to report: it is named in a warning."""
        if not self._initialized:
            return
        if status == "success":
            self.flush()
            return
        try:
            self.flush()
        except Exception as error:  # noqa: BLE001 - any store error; the first one stands
            log.warning(f"MLflow: the last metrics of the run were not logged ({error}).")

    def flush(self) -> None:
        """Write out what was logged since the last drain (`ResumeCheckpoint` calls it before
        it writes `last.ckpt`)."""
        if self._unflushed:
            mlflow.set_tracking_uri(self._tracking_uri)  # the queue drained is the global store's:
            mlflow.flush_async_logging()                 # a ddp_spawn worker starts without one
            self._unflushed = False
            writes, self._writes = self._writes, []
            for write in writes:
                if write is not None:
                    write.wait()  # MlflowException if the store refused a batch
