"""Check a composed config against the constructors it will call, before anything runs.

Hydra already rejects unknown override keys; this catches the rest in one readable message:
a value of the wrong type (`model.hidden_size=abc`) or out of range (`model.teacher_forcing=1.5`),
a key the target does not take (`+model.hidden_sise=8`), or a callback's `monitor` that names no
metric the model logs per epoch (`callbacks.early_stopping.monitor=val_los`), naming the full
config key.
"""

from __future__ import annotations

import inspect
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from forecast.errors import ConfigError, check_accelerator
from forecast.overrides import options_with_key

_NONE = type(None)
# Network arguments the data gives (WindowDataModule.dims), not the model config.
FROM_DATA = {"n_inputs", "n_targets", "n_time_features", "lookback", "horizon"}


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first node whose values do not fit its `_target_`, or for a
    GPU trainer where torch sees no GPU; DataError for a `data.path` with no file there (before
    the checks below import torch and Lightning: ~10 s on a small machine)."""
    _check_data_file(cfg.get("data"))
    for path, node in _target_nodes(cfg, ""):
        _check_node(path, node)
    _check_model_values(cfg.get("model"))
    _check_monitors(cfg.get("callbacks"))
    if "trainer" in cfg:
        accelerator = cfg.trainer.get("accelerator")
        check_accelerator(accelerator, f"trainer.accelerator={accelerator}",
                          "train on the CPU with trainer=default")
        _check_optimisation_keys(cfg.trainer)
        _check_batch_counts(cfg.trainer, cfg.get("data"))
        _check_precision(cfg.trainer)
    _check_known_inputs(cfg.get("model"), cfg.get("data"))
    _check_test_part(cfg.get("data"))
    _check_kept_keys(cfg)


# Keys a run reads beyond the constructors (the logged model's training settings): one removed
# with `~key` would train on a class's default, then fail after training.
KEPT_KEYS = ("data.lookback", "data.horizon", "data.batch_size", "optim.loss",
             "trainer.max_epochs")


def _check_kept_keys(cfg: DictConfig) -> None:
    for key in KEPT_KEYS:
        group = key.split(".")[0]
        if group in cfg and OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
            raise ConfigError(f"{key}: removed, but the run needs it (the logged model records "
                              f"it); give {key}=<value> instead of ~{key}.")


_ABSENT = object()


def _check_data_file(data) -> None:
    if (not isinstance(data, DictConfig) or "path" not in data.keys()  # ("???" is not "in")
            or data.get("frame") is not None):
        return
    if OmegaConf.is_missing(data, "path"):
        raise ConfigError("data.path: no file given; add data.path=/path/to/file.csv (or "
                          ".parquet) to the command.")
    if data.path is not None:
        from forecast.data.frame import data_file

        data_file(data.path)


def _check_known_inputs(model, data) -> None:
    """The segment model (SegRNN) has no input for calendar, known-future or static features:
    refused, rather than trained without them."""
    if not isinstance(model, DictConfig) or not isinstance(data, DictConfig):
        return
    from forecast.models import SegmentRNN

    target = get_object(model._target_) if "_target_" in model else None
    if not (inspect.isclass(target) and issubclass(target, SegmentRNN)):
        return
    given = [f"data.{key}" for key in ("calendar", "future_features", "static_features")
             if data.get(key)]
    if given:
        raise ConfigError(f"{'/'.join(given)}: the segment model (SegRNN) uses no known-future "
                          "or static inputs; choose another model, or drop them.")


def _check_model_values(model) -> None:
    """The network's values in range (`model.teacher_forcing` a probability, `model.dropout` in
    [0, 1) ...), by the checks of the Forecaster's same-named arguments (forecast.arguments)."""
    if not isinstance(model, DictConfig):
        return
    from forecast.arguments import CHECKS

    for key in model.keys():
        value = _value(model, key) if key in CHECKS else _UNSET
        accepts, what = CHECKS.get(key, (None, ""))
        if value is not _UNSET and not accepts(value):
            raise ConfigError(f"model.{key}: must be {what}, got {value!r}; fix the value in "
                              "the override or in conf/model/.")


def _check_monitors(callbacks) -> None:
    """A callback's `monitor` (early stopping, the best checkpoint) names a metric the module
    logs per epoch: Lightning finds out otherwise only after the first epoch."""
    if not isinstance(callbacks, DictConfig):
        return
    from forecast.models.lit import SCORES

    # ForecastModule logs the training loss and the validation scores once an epoch
    # (`train_loss_step` goes to the loggers only, out of the callbacks' sight).
    epoch_metrics = [f"val_{name}" for name in SCORES] + ["train_loss_epoch"]
    for name in callbacks.keys():
        node = callbacks._get_node(name)
        if not isinstance(node, DictConfig) or "_target_" not in node or "monitor" not in node:
            continue
        monitor = _value(node, "monitor")
        if monitor is not _UNSET and monitor is not None and monitor not in epoch_metrics:
            raise ConfigError(f"callbacks.{name}.monitor: the model logs no metric {monitor!r} "
                              f"per epoch; use one of {', '.join(epoch_metrics)}.")
        patience = _value(node, "patience") if "patience" in node else None
        if isinstance(patience, int) and patience < 0:
            raise ConfigError(f"callbacks.{name}.patience: must be an integer >= 0 (epochs "
                              f"without improvement before stopping), got {patience}.")


def check_validation(cfg: DictConfig, n_val_windows: int) -> None:
    """A run without validation (no validation windows, or `trainer.limit_val_batches=0`) has
    nothing watch a validation metric: Lightning's early stopping fails after the first epoch."""
    limit = OmegaConf.select(cfg, "trainer.limit_val_batches", default=1.0)
    if n_val_windows and limit != 0:
        return
    callbacks = cfg.get("callbacks") or {}
    watchers = [f"callbacks.{name}.monitor={node.monitor}" for name, node in callbacks.items()
                if OmegaConf.is_dict(node) and "_target_" in node
                and str(node.get("monitor")).startswith("val_")]
    fixes = ["drop trainer.limit_val_batches=0" if n_val_windows
             else "give validation a part (e.g. data.split.val=0.1)"]
    if watchers:
        fixes.append("monitor train_loss_epoch, or drop the callbacks with callbacks=none")
    target = OmegaConf.select(cfg, "optim.scheduler._target_", default="") or ""
    if target.endswith(".ReduceLROnPlateau"):
        watchers.append("optim.scheduler (ReduceLROnPlateau)")
        fixes.append("use another optim (e.g. optim=adam)")
    if watchers:
        cause = ("trainer.limit_val_batches=0 skips validation" if n_val_windows
                 else "data.split.val leaves no validation windows")
        raise ConfigError(f"{cause}, and {', '.join(watchers)} watch(es) the validation loss; "
                          f"{'; or '.join(fixes)}.")


_UNSET = object()


def _value(node: DictConfig, key: str):
    """`node[key]`, or _UNSET where it is missing (???) or cannot be resolved here."""
    if node._get_node(key)._is_missing():
        return _UNSET
    try:
        return node[key]
    except InterpolationResolutionError:  # e.g. ${hydra:...} outside a Hydra run
        return _UNSET


def _check_optimisation_keys(trainer: DictConfig) -> None:
    """ForecastModule steps the optimiser itself: Lightning's clipping and accumulation, which
    it refuses then, have other keys or none."""
    if trainer.get("gradient_clip_val"):
        raise ConfigError("trainer.gradient_clip_val: the model clips its gradients itself; set "
                          "optim.gradient_clip_val (and optim.gradient_clip_algorithm) instead.")
    if trainer.get("accumulate_grad_batches", 1) != 1:
        raise ConfigError("trainer.accumulate_grad_batches: not supported (the model steps its "
                          "optimiser after every batch); raise data.batch_size instead.")


def _check_precision(trainer: DictConfig) -> None:
    from forecast.arguments import float32_precision

    precision = trainer.get("precision")
    if precision is not None and not float32_precision(precision):
        raise ConfigError(f"trainer.precision: {precision} is not supported: the data and the "
                          "network are float32; use 32-true (or bf16-mixed on a GPU, as "
                          "trainer=gpu).")


def _check_test_part(data: DictConfig | None) -> None:
    """Every run scores the network and the baselines on the test part: it must have one."""
    split = data.get("split") if isinstance(data, DictConfig) else None
    if not isinstance(split, DictConfig) or any(split.get(key) is not None
                                                for key in ("borders", "dates", "preset")):
        return
    if split.get("test") == 0:
        raise ConfigError("data.split.test: 0 leaves no test part, and every run scores the "
                          "network and the baselines on its test windows; give a fraction "
                          "(0.2) or a number of rows.")


def _check_batch_counts(trainer: DictConfig, data: DictConfig | None) -> None:
    """With `data.steps_per_execution` above 1 a Lightning step is a list of batches, which an
    integer `trainer.val_check_interval` would count."""
    interval = trainer.get("val_check_interval")
    steps = data.get("steps_per_execution", 1) if data is not None else 1
    if type(interval) is int and steps != 1:
        raise ConfigError(f"trainer.val_check_interval: an integer counts Lightning steps, here "
                          f"lists of data.steps_per_execution={steps} batches; give a fraction "
                          "of the epoch (0.5), or data.steps_per_execution=1 to count batches.")


def _target_nodes(node, path: str) -> Iterator[tuple[str, DictConfig]]:
    if isinstance(node, DictConfig):
        if "_target_" in node:
            yield path, node
        for key in node.keys():
            if key == "hydra":
                continue
            child = node._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)):
                yield from _target_nodes(child, f"{path}.{key}" if path else str(key))


def _check_node(path: str, node: DictConfig) -> None:
    try:
        target = get_object(node._target_)
    except Exception:  # hydra's message names the target; keep ours short
        raise ConfigError(f"{path}._target_: cannot import '{node._target_}'; check the "
                          "spelling of the class path.") from None
    parameters, hints, open_kwargs = _signature(target)
    for key in node.keys():
        if str(key).startswith("_"):
            continue
        if key not in parameters:
            if open_kwargs:
                continue
            valid = ", ".join(sorted(set(parameters) - FROM_DATA if path == "model"
                                     else parameters))
            elsewhere = options_with_key(path, key) if "." not in path else []
            hint = (f"it is an option of {' or '.join(f'{path}={name}' for name in elsewhere)}; "
                    if elsewhere else "")
            raise ConfigError(f"{path}.{key}: not an option of {target.__name__}; {hint}valid "
                              f"keys: {valid}.")
        value = node._get_node(key)
        if isinstance(value, (DictConfig, ListConfig)) or value._is_missing():
            continue
        try:
            value = node[key]
        except InterpolationResolutionError:  # e.g. ${hydra:...} outside a Hydra run
            continue
        expected = hints.get(key)
        if expected is not None and not _fits(value, expected):
            raw = node._get_node(key)._value()  # `${seed}`: name the key the value came from
            interpolated = isinstance(raw, str) and raw.startswith("${")
            source = f" (from {raw[2:-1]})" if interpolated else ""
            raise ConfigError(f"{path}.{key}{source}: expected {_describe(expected)}, got "
                              f"{value!r}; fix the value in the override or the config file.")


def _signature(target) -> tuple[set[str], dict, bool]:
    """Parameter names, their type hints and whether **kwargs stay open, following **base
    arguments up the class hierarchy (ManyToOne(**base) -> ForecastNet.__init__)."""
    names, hints, open_kwargs = set(), {}, False
    functions = ([cls.__init__ for cls in target.__mro__ if "__init__" in vars(cls)]
                 if inspect.isclass(target) else [target])
    for function in functions:
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            return names, hints, True
        try:
            hints = {**_hints(function), **hints}
        except Exception:  # unresolvable annotations: check names only
            pass
        variadic = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        names |= {n for n, p in parameters.items() if p.kind not in variadic}
        names.discard("self")
        if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            return names, hints, open_kwargs
    return names, hints, True


def _hints(function) -> dict:
    return typing.get_type_hints(function)


def _fits(value, expected) -> bool:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(expected))
    if expected is typing.Any or expected is inspect.Parameter.empty:
        return True
    if expected is _NONE:
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence) or expected in (list, tuple):
        return isinstance(value, (list, tuple)) and not isinstance(value, str)
    if origin in (dict, Mapping) or expected is dict:
        return isinstance(value, Mapping)
    if origin is Callable or expected is Callable:
        return callable(value)
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if inspect.isclass(expected):  # a config value is never a tensor or a module
        return isinstance(value, expected) or (issubclass(expected, os.PathLike)
                                               and isinstance(value, str))
    return True  # type variables and the like: leave to the constructor


def _describe(expected) -> str:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(expected))
    names = {int: "an integer", float: "a number", bool: "true/false", str: "a string",
             _NONE: "null"}
    if expected in names:
        return names[expected]
    if typing.get_origin(expected) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(expected)))
    return getattr(expected, "__name__", str(expected))
