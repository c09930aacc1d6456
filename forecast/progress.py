"""A training progress bar that costs nothing per step."""

from __future__ import annotations

import time

from pytorch_lightning.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, redrawn at most every `interval` seconds instead of every step.

    Lightning's bars redraw and fetch the logged metrics (a host copy: a GPU sync) after every
    batch; on a small recurrent net that costs about a tenth of the step on a CPU and stalls the
    GPU queue. The last batch of each epoch is always drawn.

    Args:
        interval: seconds between redraws.
    """

    def __init__(self, interval: float = 0.5):
        super().__init__()
        self.interval, self._next_draw = interval, 0.0

    def _should_update(self, current: int, total: int | float) -> bool:
        now = time.monotonic()
        if not self.is_enabled or (current != total and now < self._next_draw):
            return False
        self._next_draw = now + self.interval
        return True
