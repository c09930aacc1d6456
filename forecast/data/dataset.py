"""Torch side of the windows: a dataset that gathers batches by index, and its loader."""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import islice

import numpy as np
import torch
from torch.utils.data import Dataset

from forecast.data.shuffle import Permutation
from forecast.data.windows import WindowIndex, WindowSpec, window_view

_CHUNK = 1 << 12  # positions of the shuffled order computed at once (32 KiB of int64)


class WindowDataset(Dataset):
    """Windows of one split, gathered from the whole scaled series on demand.

    Only `values` [T, C] (and optional calendar features [T, F]) are stored, plus the
    per-series `WindowIndex`; a batch of windows is one index gather. With numpy arrays (the
    CPU default) the gather reads the zero-copy `window_view`, the same code the baselines use;
    with tensors (`to(device)`, the GPU-resident option) it is one
    `values[starts[:, None] + arange(L + H)]` on that device.

    Args:
        values: [T, C] scaled series, stacked; targets are the first `n_targets` channels.
        index: the windows of this split.
        spec: window shape.
        n_targets: leading channels that are forecast.
        calendar: [T, F] known-future features, or None.

    Shapes of a batch (dict of tensors):
        x: [B, L, C] inputs. y: [B, H, n_targets] targets.
        x_time: [B, L, F], y_time: [B, H, F] calendar features (only with `calendar`).
    """

    def __init__(self, values: np.ndarray | torch.Tensor, index: WindowIndex, spec: WindowSpec,
                 n_targets: int, calendar: np.ndarray | torch.Tensor | None = None):
        self.values, self.index, self.spec = values, index, spec
        self.n_targets, self.calendar = n_targets, calendar
        if self.on_torch:
            self._offsets = torch.arange(spec.length, device=values.device)
        else:  # zero-copy [T', L+H, C] views, built once
            self._views = [None if a is None else window_view(a, spec) for a in (values, calendar)]

    @property
    def on_torch(self) -> bool:
        """Whether the series are tensors (gathered by torch on their device)."""
        return isinstance(self.values, torch.Tensor)

    @property
    def device(self) -> torch.device:
        return self.values.device if self.on_torch else torch.device("cpu")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, number: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= number < len(self):
            raise IndexError(f"window {number} out of range for {len(self)} windows")
        return {k: v[0] for k, v in self.gather(np.array([number % len(self)])).items()}

    def to(self, device: torch.device | str) -> WindowDataset:
        """The same windows with the series as tensors on `device` (the GPU-resident option)."""
        calendar = None if self.calendar is None else torch.as_tensor(self.calendar).to(device)
        return WindowDataset(torch.as_tensor(self.values).to(device), self.index, self.spec,
                             self.n_targets, calendar)

    def gather(self, number: np.ndarray) -> dict[str, torch.Tensor]:
        """The batch of windows number `number` [B]."""
        return self.gather_rows(self.index.starts(np.asarray(number)))

    def send(self, starts: np.ndarray) -> torch.Tensor:
        """Start rows [B] as a tensor on the series' device, copied without waiting for the
        GPU (pinned memory): the index maths stays on the host, where it needs no sync."""
        starts = torch.from_numpy(np.ascontiguousarray(starts))
        if self.device.type == "cuda":
            return starts.pin_memory().to(self.device, non_blocking=True)
        return starts.to(self.device)

    def gather_rows(self, starts: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch of windows starting at rows `starts` [B] (numpy, or a tensor on `device`)."""
        if self.on_torch:
            if isinstance(starts, np.ndarray):
                starts = self.send(starts)
            rows = starts[:, None] + self._offsets  # [B, L+H]
            windows = self.values[rows]  # [B, L+H, C]
            marks = None if self.calendar is None else self.calendar[rows]  # [B, L+H, F]
        else:
            windows, marks = (None if view is None else torch.from_numpy(view[starts])
                              for view in self._views)
        lookback = self.spec.lookback
        batch = {"x": windows[:, :lookback], "y": windows[:, lookback:, :self.n_targets]}
        if marks is not None:
            batch["x_time"], batch["y_time"] = marks[:, :lookback], marks[:, lookback:]
        return batch


class WindowLoader:
    """Iterates over a `WindowDataset` in batches, one gather per batch and no worker processes.

    Shuffling draws a `Permutation` seeded by `seed + epoch`, so the order does not depend on
    the global RNG (a resumed run sees the same batches) and no [N] index array is built. With
    `world_size > 1` each rank takes every `world_size`-th position of the (shared) order,
    padded to equal length like torch's DistributedSampler (Lightning wants the same number of
    batches on every rank). An unshuffled (evaluation) batch that holds padding says how many
    of its rows are real, first, as `batch["n_real"]`, so that each window is scored once.
    Without `drop_last` every window
    is served: the last batch may be smaller. With `group > 1` it yields lists of `group`
    consecutive batches (the last list may be shorter), one item per Lightning training step.
    `max_batches` serves only the first batches of each epoch (Lightning's integer
    `limit_train_batches`, in batches where an item is a list of them).
    """

    def __init__(self, dataset: WindowDataset, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, rank: int = 0, world_size: int = 1,
                 group: int = 1, max_batches: int | None = None):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.drop_last, self.seed, self.epoch = drop_last, seed, 0
        self.rank, self.world_size, self.group = rank, world_size, group
        self.max_batches = max_batches

    batch_sampler = None  # read by Lightning's shuffle check; batches are formed here

    @property
    def sampler(self) -> WindowLoader:
        """Lightning calls `loader.sampler.set_epoch(epoch)` at each epoch start."""
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _per_rank(self) -> int:
        return math.ceil(len(self.dataset) / self.world_size)

    def n_batches(self) -> int:
        """Batches an epoch serves (to this rank), in lists of `group` or not."""
        n = self._per_rank()
        n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return n if self.max_batches is None else min(n, self.max_batches)

    def __len__(self) -> int:
        return math.ceil(self.n_batches() / self.group)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]] | Iterator[list[dict]]:
        batches = self._batches()
        return batches if self.group == 1 else _in_groups(batches, self.group)

    def _batches(self) -> Iterator[dict[str, torch.Tensor]]:
        # A generator: the order is drawn at the first batch, after Lightning's set_epoch.
        n = len(self.dataset)
        order = Permutation(n, self.seed + self.epoch) if self.shuffle and n else None
        served = min(self.n_batches() * self.batch_size, self._per_rank())
        chunk = max(self.batch_size, _CHUNK // self.batch_size * self.batch_size)
        real = len(range(self.rank, n, self.world_size))  # this rank's positions before padding
        for lo in range(0, served, chunk):
            starts = self.dataset.index.starts(self._numbers(lo, min(lo + chunk, served), order))
            if self.dataset.on_torch:  # one host-to-device copy per chunk, no sync
                starts = self.dataset.send(starts)
            for start in range(0, len(starts), self.batch_size):
                batch = self.dataset.gather_rows(starts[start:start + self.batch_size])
                first = lo + start  # this batch's first position
                if not self.shuffle and first + len(batch["x"]) > real:  # holds padding
                    batch["n_real"] = max(real - first, 0)
                yield batch
        if self.shuffle:
            self.epoch += 1

    def _numbers(self, lo: int, hi: int, order: Permutation | None) -> np.ndarray:
        """Window numbers [hi - lo] at positions [lo, hi) of this rank's share of the order.
        Computed with numpy on the host also for GPU-resident series: integer maths there
        costs no device sync (cycle walking and searchsorted would sync on every batch)."""
        # Position p of this rank is position rank + p * world_size of the shared order;
        # positions past n wrap around (the padding of the last, shorter, rank).
        number = (self.rank + np.arange(lo, hi) * self.world_size) % len(self.dataset)
        return number if order is None else order(number)


def _in_groups(items: Iterator, size: int) -> Iterator[list]:
    while group := list(islice(items, size)):
        yield group
