"""Torch side of the windows: a dataset that gathers batches by index, and its loader."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Dataset

from forecast.data.windows import WindowSpec


class WindowDataset(Dataset):
    """Windows of one split, gathered from the whole scaled series on demand.

    Only `values` [T, C] (and optional calendar features [T, F]) are stored; a batch of windows
    is one `values[starts[:, None] + arange(L + H)]` gather, on whichever device `values` is.

    Args:
        values: [T, C] scaled series, stacked; targets are the first `n_targets` channels.
        starts: [N] start row of every window of this split.
        spec: window shape.
        n_targets: leading channels that are forecast.
        calendar: [T, F] known-future features, or None.

    Shapes of a batch (dict):
        x: [B, L, C] inputs. y: [B, H, n_targets] targets.
        x_time: [B, L, F], y_time: [B, H, F] calendar features (only with `calendar`).
    """

    def __init__(self, values: torch.Tensor, starts: torch.Tensor, spec: WindowSpec,
                 n_targets: int, calendar: torch.Tensor | None = None):
        self.values, self.starts, self.spec = values, starts, spec
        self.n_targets, self.calendar = n_targets, calendar
        self._offsets = torch.arange(spec.length, device=values.device)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.gather(torch.tensor([index])).items()}

    def to(self, device: torch.device | str) -> WindowDataset:
        """The same windows with the series on `device` (the GPU-resident option)."""
        calendar = None if self.calendar is None else self.calendar.to(device)
        return WindowDataset(self.values.to(device), self.starts.to(device), self.spec,
                             self.n_targets, calendar)

    def gather(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch of windows number `index` [B]."""
        rows = self.starts[index.to(self.starts.device)][:, None] + self._offsets  # [B, L+H]
        windows = self.values[rows]  # [B, L+H, C]
        lookback = self.spec.lookback
        batch = {"x": windows[:, :lookback], "y": windows[:, lookback:, :self.n_targets]}
        if self.calendar is not None:
            marks = self.calendar[rows]  # [B, L+H, F]
            batch["x_time"], batch["y_time"] = marks[:, :lookback], marks[:, lookback:]
        return batch


class WindowLoader:
    """Iterates over a `WindowDataset` in batches, one gather per batch and no worker processes.

    Shuffling uses its own generator seeded by `seed + epoch`, so the order does not depend on
    the global RNG (a resumed run sees the same batches). With `world_size > 1` each rank takes
    every `world_size`-th window of the (shared) permutation, padded to equal length like
    torch's DistributedSampler.
    """

    def __init__(self, dataset: WindowDataset, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.drop_last, self.seed, self.epoch = drop_last, seed, 0
        self.rank, self.world_size = rank, world_size

    batch_sampler = None  # read by Lightning's shuffle check; batches are formed here

    @property
    def sampler(self) -> WindowLoader:
        """Lightning calls `loader.sampler.set_epoch(epoch)` at each epoch start."""
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> torch.Tensor:
        n, device = len(self.dataset), self.dataset.starts.device
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=generator).to(device)
        else:
            order = torch.arange(n, device=device)
        if self.world_size > 1:
            per_rank = math.ceil(n / self.world_size)
            order = torch.cat([order, order[: per_rank * self.world_size - n]])
            order = order[self.rank::self.world_size]
        return order

    def __len__(self) -> int:
        n = math.ceil(len(self.dataset) / self.world_size)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        # A generator: the order is drawn at the first batch, after Lightning's set_epoch.
        order = self._indices()
        for i in range(len(self)):
            yield self.dataset.gather(order[i * self.batch_size:(i + 1) * self.batch_size])
        if self.shuffle:
            self.epoch += 1
