"""The checkpoints of a run: the best epoch (`best.ckpt`) and the one it resumes from
(`last.ckpt`), written only when they are needed."""

from __future__ import annotations

import logging
import time
from weakref import proxy

import torch
from lightning_utilities.core.apply_func import apply_to_collection
from pytorch_lightning.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


def frozen_checkpoint(trainer, weights_only: bool) -> dict:
    """What `trainer.save_checkpoint` would write now, with every tensor copied where it is
    (the optimizer changes weights and moments in place) and every container new."""
    checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=weights_only)
    return apply_to_collection(checkpoint, torch.Tensor, lambda t: t.detach().clone())


class BestCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` of the best epoch whose file is written only when it is read: after
    the last epoch, and just before a `ResumeCheckpoint` is written (so `last.ckpt` never names
    a `best.ckpt` that holds other weights). An improving epoch copies the weights where they
    are (GPU memory on a GPU), as a hand-written loop keeps its best state, instead of writing
    a file: ~5 ms an epoch for the sine preset, 70 MB an epoch for an ECL-sized model.

    The file holds the weights only (no optimiser state: test scores and the logged model need
    none; resuming reads `last.ckpt`). A crash before the first resume checkpoint leaves no
    `best.ckpt`, as it leaves no `last.ckpt`.

    Args:
        **kwargs: `ModelCheckpoint`'s arguments (`save_weights_only` is always true).
    """

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "save_weights_only": True})
        self._pending: tuple[dict, str] | None = None

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        self._pending = (frozen_checkpoint(trainer, weights_only=True), filepath)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    def write(self, trainer, barrier: bool = True) -> None:
        """Write the best epoch's weights if they changed since the last write (every rank
        calls it; the strategy writes on rank 0)."""
        if self._pending is None:
            return
        checkpoint, filepath = self._pending
        self._pending = None
        trainer.strategy.save_checkpoint(checkpoint, filepath)
        if barrier:
            trainer.strategy.barrier("BestCheckpoint.write")
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        self.write(trainer)


class ResumeCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` (unmonitored: the latest epoch) that writes at the end of an epoch only
    once `min_interval_s` seconds have passed since its previous write, and always at the end of
    the last epoch (`max_epochs`, `max_steps` or early stopping). The `BestCheckpoint`s of the
    trainer write their pending best epoch first.

    An epoch that is not written is copied in memory instead; when training stops on an error,
    Ctrl-C or SIGTERM, that copy is written (in a single process), so `resume=` loses only the
    epoch under way. A crash that runs no Python (SIGKILL, out of memory, power) loses at most
    `min_interval_s` plus one epoch; `resume=` trains those epochs again, and logs them again at
    the same steps.

    Each write costs a `torch.save` of the weights and optimiser state and a drain of MLflow's
    queue (`CheckpointFlushingLogger`): ~15 ms, an eighth of an epoch of the sine preset, and
    210 MB for an ECL-sized model; the copy in memory, a copy of those tensors where they are.

    Args:
        min_interval_s: seconds between writes; 0 writes every epoch.
        **kwargs: `ModelCheckpoint`'s arguments.
    """

    def __init__(self, min_interval_s: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.min_interval_s = min_interval_s
        self._written_at = time.monotonic()
        self._writes = True  # whether this epoch end writes, or keeps a copy in memory
        self._pending: tuple[dict, str] | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._written_at = time.monotonic()

    def on_validation_end(self, trainer, pl_module) -> None:
        self._writes = self._due(trainer)
        super().on_validation_end(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._writes = self._due(trainer)
        super().on_train_epoch_end(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        super().on_exception(trainer, pl_module, exception)
        if self._pending is None or trainer.world_size > 1:  # other ranks may not be here
            return
        checkpoint, filepath = self._pending
        try:
            for callback in self._best_checkpoints(trainer):
                callback.write(trainer, barrier=False)
            trainer.strategy.save_checkpoint(checkpoint, filepath)
            log.info(f"training stopped: saved epoch {checkpoint['epoch'] + 1}, the last one "
                     f"completed, to {filepath}")
        except Exception as error:  # the error that stopped training is the one to report
            log.warning(f"training stopped; the last completed epoch could not be saved to "
                        f"{filepath}: {error}")

    def _due(self, trainer) -> bool:
        if time.monotonic() - self._written_at >= self.min_interval_s or trainer.should_stop:
            return True
        max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
        return ((max_epochs is not None and 0 <= max_epochs <= trainer.current_epoch + 1)
                or 0 <= max_steps <= trainer.global_step)

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        if not self._writes:
            self._pending = (frozen_checkpoint(trainer, weights_only=False), filepath)
            self._last_global_step_saved = trainer.global_step
            return
        for callback in self._best_checkpoints(trainer):
            callback.write(trainer)
        super()._save_checkpoint(trainer, filepath)
        self._written_at, self._pending = time.monotonic(), None

    @staticmethod
    def _best_checkpoints(trainer) -> list[BestCheckpoint]:
        return [c for c in trainer.checkpoint_callbacks if isinstance(c, BestCheckpoint)]
