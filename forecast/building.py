"""Objects from config nodes: one clear error naming the key for a value the constructor rejects."""

from __future__ import annotations

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from forecast.errors import ConfigError, unwrap
from forecast.models import ForecastModule

# What constructors raise for a value they reject (torch, Lightning).
REJECTED_VALUE = (ValueError, TypeError, MisconfigurationException)


def build(node, key: str, **kwargs):
    """`hydra.utils.instantiate`, letting our own errors through unwrapped; a value the
    constructor rejects becomes one message naming the config key."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = unwrap(error)
        if cause is error and isinstance(error.__cause__, REJECTED_VALUE):
            reason = str(error.__cause__).rstrip(".")
            raise ConfigError(f"{key}: {reason}; fix the value in the override or in "
                              f"conf/{key.split('.')[0]}/.") from None
        raise cause from None


def build_module(optim: DictConfig, net) -> ForecastModule:
    """The ForecastModule training `net` with the settings of the `optim` group."""
    return ForecastModule(net, optim.loss, build(optim.optimizer, "optim.optimizer"),
                          build(optim.scheduler, "optim.scheduler"),
                          optim.get("gradient_clip_val"),
                          optim.get("gradient_clip_algorithm", "norm"))
