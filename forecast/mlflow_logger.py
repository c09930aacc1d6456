"""Lightning's MLflow logger, writing asynchronously and flushed at every checkpoint."""

from __future__ import annotations

import mlflow
from pytorch_lightning.loggers import MLFlowLogger


class CheckpointFlushingLogger(MLFlowLogger):
    """`MLFlowLogger(synchronous=False)` that drains MLflow's queue whenever a checkpoint is
    saved: a run resumed after a crash then holds every epoch its checkpoint holds."""

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        super().after_save_checkpoint(checkpoint_callback)
        mlflow.flush_async_logging()
