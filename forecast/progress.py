"""Training progress that costs nothing per step: a bar at a terminal, lines in a log file."""

from __future__ import annotations

import logging
import sys
import time

from pytorch_lightning.callbacks import TQDMProgressBar

log = logging.getLogger(__name__)


class ProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, redrawn at most every `interval` seconds instead of every step.

    Lightning's bars redraw and fetch the logged metrics (a host copy: a GPU sync) after every
    batch; on a small recurrent net that costs about a tenth of the step on a CPU and stalls the
    GPU queue. The last batch of each epoch is always drawn.

    When standard output is not a terminal (a log file, CI, `nohup`), redrawn bars would fill it
    with control characters (300 lines for the sine preset); one line per epoch is logged
    instead (logger `forecast.progress`, INFO), at most every `line_interval` seconds, and the
    last epoch's.

    Args:
        interval: seconds between redraws of the bar.
        line_interval: seconds between epoch lines when the output is not a terminal.
    """

    def __init__(self, interval: float = 0.5, line_interval: float = 10.0):
        super().__init__()
        self.interval, self._next_draw = interval, 0.0
        self.line_interval, self._next_line, self._lines = line_interval, 0.0, False

    def setup(self, trainer, pl_module, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self._lines = not sys.stdout.isatty()
        if self._lines:
            self.disable()
            if not log.hasHandlers():  # a ddp_spawn worker, or Python without logging set up
                handler = logging.StreamHandler(sys.stdout)
                log.addHandler(handler)
                log.setLevel(logging.INFO)

    def _should_update(self, current: int, total: int | float) -> bool:
        now = time.monotonic()
        if not self.is_enabled or (current != total and now < self._next_draw):
            return False
        self._next_draw = now + self.interval
        return True

    @property
    def total_train_batches(self) -> int | float:
        """Batches, also where a training item is a list of them (`steps_per_execution`)."""
        total, loader = super().total_train_batches, self.trainer.train_dataloader
        if getattr(loader, "group", 1) == 1 or total == float("inf"):
            return total
        batches = min(self.trainer.num_training_batches * loader.group, loader.n_batches())
        steps_left = self.trainer.max_steps - self.trainer.global_step  # max_steps -1: no limit
        return batches if steps_left < 0 else min(batches, steps_left)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        total = self.train_progress_bar.total  # the bar exists from on_train_start, disabled too
        if isinstance(batch, list) and total is not None:  # count the lists' batches so far
            group = getattr(trainer.train_dataloader, "group", len(batch))
            batch_idx = min(batch_idx * group + len(batch), total) - 1
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self._lines and trainer.current_epoch > 0 and time.monotonic() >= self._next_line:
            self._print_epoch(trainer, pl_module, trainer.current_epoch - 1)

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        if self._lines:
            self._print_epoch(trainer, pl_module, trainer.current_epoch - 1)

    def _print_epoch(self, trainer, pl_module, epoch: int) -> None:
        """`epoch 12/60  val_loss 0.0243  train_loss_epoch 0.0255` (the bar's metrics)."""
        if not trainer.is_global_zero:
            return
        metrics = {k: v for k, v in self.get_metrics(trainer, pl_module).items() if k != "v_num"}
        if not metrics:  # the epoch before a resume: its metrics are in the interrupted process
            return
        shown = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in metrics.items())
        total = "" if trainer.max_epochs in (None, -1) else f"/{trainer.max_epochs}"
        log.info(f"epoch {epoch + 1}{total}  {shown}")
        self._next_line = time.monotonic() + self.line_interval
