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


class EpochCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` without two per-batch costs (~40 us a batch for two such callbacks,
    over 1% of a step of the sine preset): the check after every batch is two attribute reads
    when it saves only at epoch ends (no `every_n_train_steps`, no `train_time_interval`), and
    `state_key`, which Lightning formats for each hook it calls, is built once per setting.

    Its step triggers suit ForecastModule's own optimiser steps, of which a Lightning step may
    take several (`steps_per_execution`): it saves after the Lightning step that passed a
    multiple of `every_n_train_steps`, or once `train_time_interval` has elapsed (Lightning's
    check for manual optimisation saves only on an exact multiple, and never on time)."""

    _state_key: tuple[tuple, str] = ((), "")

    @property
    def state_key(self) -> str:
        settings = (self.monitor, self.mode, self._every_n_train_steps, self._every_n_epochs,
                    self._train_time_interval)
        if self._state_key[0] != settings:
            self._state_key = (settings, super().state_key)
        return self._state_key[1]

    _step_checked = 0  # the optimiser step at which the step trigger was last due

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._step_checked = trainer.global_step  # resumed runs count on from their step

    def on_train_batch_end(self, trainer, pl_module, *args, **kwargs) -> None:
        if not self._step_due(trainer) or self._should_skip_saving_checkpoint(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def _step_due(self, trainer) -> bool:
        every, interval = self._every_n_train_steps, self._train_time_interval
        passed = every >= 1 and trainer.global_step // every > self._step_checked // every
        if passed:
            self._step_checked = trainer.global_step
        if interval is None:
            return passed
        now = time.monotonic()
        elapsed = (self._last_time_checked is not None
                   and now - self._last_time_checked >= interval.total_seconds())
        if trainer.strategy.broadcast(elapsed):  # rank 0's clock decides for every rank
            self._last_time_checked = now
            return True
        return passed


class DeferredCheckpoint(EpochCheckpoint):
    """`EpochCheckpoint` whose saves are copied in memory (`frozen_checkpoint`) and written to
    their file only when `write` is called."""

    _pending: tuple[dict, str] | None = None  # the latest save, not written yet

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        self._pending = (frozen_checkpoint(trainer, self.save_weights_only), filepath)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    def write(self, trainer, barrier: bool = True, notify: bool = True) -> None:
        """Write the latest save if it was not written yet (every rank calls it; the strategy
        writes on rank 0); `notify` tells the loggers (`after_save_checkpoint`)."""
        if self._pending is None:
            return
        checkpoint, filepath = self._pending
        self._pending = None
        trainer.strategy.save_checkpoint(checkpoint, filepath)
        if barrier:
            trainer.strategy.barrier(f"{type(self).__name__}.write")
        if notify and trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


class BestCheckpoint(DeferredCheckpoint):
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

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        self.write(trainer)


class ResumeCheckpoint(DeferredCheckpoint):
    """`ModelCheckpoint` (unmonitored: the latest epoch) of what `resume=` continues from.

    Each epoch end copies the trainer's state in memory (the weights and optimiser state,
    copied where they are). The copy is written once `min_interval_s` seconds have passed since
    the previous write, and after the last epoch (`max_epochs`, `max_steps` or early stopping):
    at the start of the next epoch or the end of training, when Lightning has logged all of
    the epoch's metrics (`train_loss_epoch` comes after the epoch-end hooks). The loggers are
    drained first (a `flush()` where they have one, else `save()`), so a run resumed after a
    crash holds every metric of the epochs its checkpoint holds; then the trainer's
    `BestCheckpoint`s write their pending best epoch, so `last.ckpt` never names a `best.ckpt`
    that holds other weights. (Saves within an epoch, `every_n_train_steps`, are copied too and
    written at the same moments.)

    When training stops on an error, Ctrl-C or SIGTERM, the latest copy is written (in a single
    process), so `resume=` loses only the epoch under way. A crash that runs no Python
    (SIGKILL, out of memory, power) loses at most `min_interval_s` plus one epoch; `resume=`
    trains those epochs again, and logs them again at the same steps.

    Each write costs a `torch.save` of the weights and optimiser state and a drain of MLflow's
    queue: ~15 ms, an eighth of an epoch of the sine preset, and 210 MB for an ECL-sized model.

    Args:
        min_interval_s: seconds between writes; 0 writes every epoch.
        **kwargs: `ModelCheckpoint`'s arguments.
    """

    def __init__(self, min_interval_s: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.min_interval_s = min_interval_s
        self._written_at = time.monotonic()
        self._drain_failed = False  # a logger's drain failed: its epoch's metrics are lost

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._written_at, self._drain_failed = time.monotonic(), False

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self._pending is not None and time.monotonic() - self._written_at >= self.min_interval_s:
            self._write(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        if self._pending is not None:
            self._write(trainer)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        super().on_exception(trainer, pl_module, exception)
        if self._pending is None or trainer.world_size > 1:  # other ranks may not be here
            return
        epoch, filepath = self._pending[0]["epoch"] + 1, self._pending[1]
        if self._drain_failed:  # the store lacks this epoch's metrics: last.ckpt must not claim it
            log.warning(f"training stopped: the tracking store did not take the metrics of epoch "
                        f"{epoch}; {filepath} keeps the last epoch whose metrics it holds.")
            return
        try:  # no drain: the logger may be what failed; the Tracker ends the run
            self._write(trainer, stopping=True)
            log.info(f"training stopped: saved epoch {epoch}, the last one completed, to "
                     f"{filepath}")
        except Exception as error:  # the error that stopped training is the one to report
            log.warning(f"training stopped; the last completed epoch could not be saved to "
                        f"{filepath}: {error}")

    def _write(self, trainer, stopping: bool = False) -> None:
        """Drain the loggers, write the pending best epochs, then this epoch."""
        if trainer.is_global_zero and not stopping:
            try:
                for logger in trainer.loggers:
                    getattr(logger, "flush", logger.save)()
            except Exception:
                self._drain_failed = True
                raise
        for callback in self._best_checkpoints(trainer):
            callback.write(trainer, barrier=not stopping)
        self.write(trainer, barrier=not stopping, notify=not stopping)
        self._written_at = time.monotonic()

    @staticmethod
    def _best_checkpoints(trainer) -> list[BestCheckpoint]:
        return [c for c in trainer.checkpoint_callbacks if isinstance(c, BestCheckpoint)]
