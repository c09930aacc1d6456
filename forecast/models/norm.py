"""Per-window normalisation: RevIN (Kim et al., ICLR 2022) and subtract-last (NLinear, SegRNN)."""

from __future__ import annotations

import torch
from torch import nn

Stats = tuple[torch.Tensor, torch.Tensor]  # (center [B, 1, C], scale [B, 1, C])


class RevIN(nn.Module):
    """Normalise each window by its own statistics, and undo it on the forecast.

    Removes the level shift between training and test windows (distribution shift), which is
    what makes recurrent models competitive with linear ones on long horizons.

    Args:
        n_channels: input channels C.
        affine: learn a per-channel scale and bias applied after normalising.
        subtract_last: center on the window's last value instead of its mean (NLinear,
            SegRNN); the forecast is then a change from the last observation.
        scale: also divide by the window's standard deviation. `scale=False, affine=False,
            subtract_last=True` is SegRNN's default normalisation.
        eps: added to the variance.

    Shapes:
        normalize: x [B, L, C] -> ([B, L, C], stats); denormalize: y [B, T, C'] with C' <= C
        (the first C' channels are the targets).
    """

    def __init__(self, n_channels: int, affine: bool = True, subtract_last: bool = False,
                 scale: bool = True, eps: float = 1e-5):
        super().__init__()
        self.eps, self.subtract_last, self.scale = eps, subtract_last, scale
        self.weight = nn.Parameter(torch.ones(n_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_channels)) if affine else None

    def statistics(self, x: torch.Tensor) -> Stats:
        """Center and scale of each window and channel, [B, 1, C] each, without gradient."""
        center = x[:, -1:] if self.subtract_last else x.mean(dim=1, keepdim=True)
        if self.scale:
            scale = (x.var(dim=1, keepdim=True, unbiased=False) + self.eps).sqrt()
        else:
            scale = torch.ones_like(center)
        return center.detach(), scale.detach()

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        stats = self.statistics(x)
        return self.normalize_targets(x, stats), stats

    def normalize_targets(self, y: torch.Tensor, stats: Stats) -> torch.Tensor:
        """Normalise values `y` [B, T, C'] of the first C' channels with the inputs' statistics."""
        center, scale = stats
        n = y.shape[-1]
        y = (y - center[..., :n]) / scale[..., :n]
        return y * self.weight[:n] + self.bias[:n] if self.weight is not None else y

    def denormalize(self, y: torch.Tensor, stats: Stats) -> torch.Tensor:
        center, scale = stats
        n = y.shape[-1]
        if self.weight is not None:
            y = (y - self.bias[:n]) / (self.weight[:n] + self.eps * self.eps)
        return y * scale[..., :n] + center[..., :n]
