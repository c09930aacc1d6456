"""Lightning's MLflow logger, writing asynchronously and flushed at every resume checkpoint."""

from __future__ import annotations

import mlflow
from pytorch_lightning.loggers import MLFlowLogger


class CheckpointFlushingLogger(MLFlowLogger):
    """`MLFlowLogger(synchronous=False)` that drains MLflow's queue whenever a checkpoint a run
    can resume from (`last.ckpt`) is saved: a run resumed after a crash then holds every epoch
    its checkpoint holds. Best-epoch checkpoints skip the flush: it takes ~10 ms (it restarts
    MLflow's logging threads), a tenth of an epoch of the sine preset.

    Epoch metrics (`val_loss`, `train_loss_epoch`, ...) are logged at step = epoch, so MLflow's
    charts count epochs; per-step ones (`*_step`) at the global step, as Lightning logs them."""

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        per_step = {k: v for k, v in metrics.items() if k.endswith("_step")}
        per_epoch = {k: v for k, v in metrics.items() if k not in per_step}
        if per_step:
            super().log_metrics(per_step, step)
        if per_epoch:
            epoch = metrics.get("epoch")
            super().log_metrics(per_epoch, step if epoch is None else int(epoch))

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        super().after_save_checkpoint(checkpoint_callback)
        if checkpoint_callback.monitor is None or checkpoint_callback.save_last:
            mlflow.flush_async_logging()
