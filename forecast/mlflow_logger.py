"""Lightning's MLflow logger, writing asynchronously into a run a `Tracker` opened and closes."""

from __future__ import annotations

import mlflow
from pytorch_lightning.loggers import MLFlowLogger


class CheckpointFlushingLogger(MLFlowLogger):
    """`MLFlowLogger(synchronous=False)` writing into an open run of a `Tracker`, which ends the
    run after the test scores are logged (with its final status; FAILED and the error when
    anything fails). So the end of `fit` only drains MLflow's queue, and only if something was
    logged since the last drain. (Lightning's own `finalize` reads the run back and ends it:
    ~12 ms of a short fit, and the run showed FINISHED while its test scores were to come.)

    `ResumeCheckpoint` drains the queue (`flush`) before it writes `last.ckpt`, so a run resumed
    after a crash holds every epoch its checkpoint holds. A drain takes ~10 ms (it restarts
    MLflow's logging threads), a tenth of an epoch of the sine preset.

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
        if experiment_id is not None and self._run_id is not None:
            mlflow.set_tracking_uri(self._tracking_uri)  # as MLFlowLogger.experiment does
            self._experiment_id, self._initialized = experiment_id, True

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        epoch = None if metrics.get("epoch") is None else int(metrics["epoch"])
        per_step = {k: v for k, v in metrics.items() if k.endswith("_step")}
        per_epoch = {k: v for k, v in metrics.items()
                     if k not in per_step and not (k == "epoch" and epoch == self._logged_epoch)}
        if per_step:
            super().log_metrics(per_step, step)
        if per_epoch:
            super().log_metrics(per_epoch, step if epoch is None else epoch)
            self._logged_epoch = epoch if "epoch" in per_epoch else self._logged_epoch
        self._unflushed = True

    def log_hyperparams(self, params) -> None:
        super().log_hyperparams(params)
        self._unflushed = True

    def finalize(self, status: str = "success") -> None:
        """Drain the queue; the `Tracker` ends the run."""
        if self._initialized:
            self.flush()

    def flush(self) -> None:
        """Write out what was logged since the last drain (`ResumeCheckpoint` calls it before
        it writes `last.ckpt`)."""
        if self._unflushed:
            mlflow.set_tracking_uri(self._tracking_uri)  # the queue drained is the global store's:
            mlflow.flush_async_logging()                 # a ddp_spawn worker starts without one
            self._unflushed = False
