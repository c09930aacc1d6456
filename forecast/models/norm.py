"""Reversible instance normalisation (RevIN, Kim et al., ICLR 2022)."""

from __future__ import annotations

import torch
from torch import nn


class RevIN(nn.Module):
    """Normalise each window by its own mean and std, and undo it on the forecast.

    Removes the level shift between training and test windows (distribution shift), which is
    what makes recurrent models competitive with linear ones on long horizons.

    Args:
        n_channels: input channels C.
        affine: learn a per-channel scale and bias applied after normalising.
        eps: added to the variance.

    Shapes:
        normalize: x [B, L, C] -> ([B, L, C], stats); denormalize: y [B, T, C'] with C' <= C
        (the first C' channels are the targets).
    """

    def __init__(self, n_channels: int, affine: bool = True, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_channels)) if affine else None

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        mean = x.mean(dim=1, keepdim=True).detach()  # [B, 1, C]
        std = (x.var(dim=1, keepdim=True, unbiased=False) + self.eps).sqrt().detach()
        x = (x - mean) / std
        if self.weight is not None:
            x = x * self.weight + self.bias
        return x, (mean, std)

    def normalize_targets(self, y: torch.Tensor, stats) -> torch.Tensor:
        """Normalise target-channel values `y` [B, T, C'] with the inputs' statistics."""
        mean, std = stats
        n = y.shape[-1]
        y = (y - mean[..., :n]) / std[..., :n]
        return y * self.weight[:n] + self.bias[:n] if self.weight is not None else y

    def denormalize(self, y: torch.Tensor, stats) -> torch.Tensor:
        mean, std = stats
        n = y.shape[-1]
        if self.weight is not None:
            y = (y - self.bias[:n]) / (self.weight[:n] + self.eps * self.eps)
        return y * std[..., :n] + mean[..., :n]
