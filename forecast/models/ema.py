"""Exponential moving average of the weights, as a Lightning callback."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class WeightAverage(pl.Callback):
    """Validate, checkpoint and forecast with an exponential moving average of the weights.

    On small, noisy benchmarks (ETTh1's validation loss jumps by several per cent between
    epochs) the average of the last few hundred steps generalises better than the last step,
    and early stopping then picks a smoother curve. Training itself still updates the live
    weights; they are swapped out for the average during validation and swapped back before
    the next training epoch, so checkpoints (best and last) hold the averaged weights and the
    live ones travel in this callback's state (resume continues exactly). Training ends with
    the average swapped in, also where no validation followed the last epoch.

    Args:
        decay: weight of the old average per optimiser step; 0.995 averages ~200 steps. The
            first steps use min(decay, (1 + t) / (10 + t)) so the start is not biased towards
            the initial weights.

    Example (a preset):
        callbacks:
          ema:
            _target_: forecast.models.ema.WeightAverage
            decay: 0.995
    """

    def __init__(self, decay: float = 0.995):
        if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 < decay < 1:
            from forecast.errors import ConfigError

            raise ConfigError(f"callbacks.ema.decay: must be a number in (0, 1), got {decay!r}.")
        self.decay = decay
        self.steps = 0
        self.average: dict[str, torch.Tensor] | None = None
        self.live: dict[str, torch.Tensor] | None = None  # set while the average is swapped in

    def on_fit_start(self, trainer, pl_module) -> None:
        current = _floats(pl_module)
        if self.average is None:
            self.average = {k: v.detach().clone() for k, v in current.items()}
        else:  # resumed: the state was loaded on the CPU
            self.average = {k: v.to(current[k].device) for k, v in self.average.items()}

    def on_train_start(self, trainer, pl_module) -> None:
        # After every optimiser step, also those of one Lightning step over several batches
        # (`steps_per_execution`); a step a mixed-precision scaler skips is not averaged.
        self._hook = trainer.optimizers[0].register_step_post_hook(
            lambda optimizer, args, kwargs: self.update(pl_module))

    @torch.no_grad()
    def update(self, pl_module) -> None:
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for name, value in _floats(pl_module).items():
            self.average[name].lerp_(value.detach(), 1.0 - decay)

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if self.average is not None and self.live is None:
            self.live = _swap(pl_module, self.average)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.live is not None:
            _swap(pl_module, self.live)
            self.live = None

    def on_train_end(self, trainer, pl_module) -> None:
        self._unhook()
        if self.average is not None and self.live is None:  # no validation after the last epoch
            self.live = _swap(pl_module, self.average)

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._unhook()

    def _unhook(self) -> None:
        if (hook := getattr(self, "_hook", None)) is not None:
            hook.remove()
            self._hook = None

    def state_dict(self) -> dict:
        return {"steps": self.steps, "average": self.average, "live": self.live}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.average, self.live = state["steps"], state["average"], state["live"]


def _floats(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in module.state_dict(keep_vars=True).items() if v.is_floating_point()}


@torch.no_grad()
def _swap(module: torch.nn.Module, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copy `weights` into the module in place (the optimiser keeps its parameters); return
    what was there."""
    current = _floats(module)
    previous = {k: v.detach().clone() for k, v in current.items()}
    for name, value in current.items():
        value.copy_(weights[name].to(value.device))
    return previous
