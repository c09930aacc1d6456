"""Lightning's MLflow logger, writing asynchronously and flushed at every resume checkpoint."""

from __future__ import annotations

import mlflow
from pytorch_lightning.loggers import MLFlowLogger


class CheckpointFlushingLogger(MLFlowLogger):
    """`MLFlowLogger(synchronous=False)` that drains MLflow's queue whenever a checkpoint a run
    can resume from (`last.ckpt`) is saved: a run resumed after a crash then holds every epoch
    its checkpoint holds. Best-epoch checkpoints skip the flush: it takes ~10 ms (it restarts
    MLflow's logging threads), a tenth of an epoch of the sine preset."""

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        super().after_save_checkpoint(checkpoint_callback)
        if checkpoint_callback.monitor is None or checkpoint_callback.save_last:
            mlflow.flush_async_logging()
