"""The checkpoint a run resumes from (`last.ckpt`), written at most every few seconds."""

from __future__ import annotations

import time

from pytorch_lightning.callbacks import ModelCheckpoint


class ResumeCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` (unmonitored: the latest epoch) that writes at the end of an epoch only
    once `min_interval_s` seconds have passed since its previous write, and always at the end of
    the last epoch (`max_epochs`, `max_steps` or early stopping).

    Each write costs a `torch.save` of the weights and optimiser state and a drain of MLflow's
    queue (`CheckpointFlushingLogger`): ~15 ms, an eighth of an epoch of the sine preset, and
    210 MB for an ECL-sized model. Epochs longer than the interval are all written, as before. A
    crash loses at most `min_interval_s` plus one epoch; `resume=` trains those epochs again, and
    logs them again at the same steps.

    Args:
        min_interval_s: seconds between writes; 0 writes every epoch.
        **kwargs: `ModelCheckpoint`'s arguments.
    """

    def __init__(self, min_interval_s: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.min_interval_s = min_interval_s
        self._written_at = time.monotonic()

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._written_at = time.monotonic()

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._due(trainer):
            super().on_validation_end(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._due(trainer):
            super().on_train_epoch_end(trainer, pl_module)

    def _due(self, trainer) -> bool:
        if time.monotonic() - self._written_at >= self.min_interval_s or trainer.should_stop:
            return True
        max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
        return ((max_epochs is not None and 0 <= max_epochs <= trainer.current_epoch + 1)
                or 0 <= max_steps <= trainer.global_step)

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        self._written_at = time.monotonic()
