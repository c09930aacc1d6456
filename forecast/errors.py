"""Errors a user can act on: each message names what is wrong and how to fix it."""

import numbers
import re


class ForecastError(ValueError):
    """Base class for errors caused by user input (data, configuration, environment)."""


class DataError(ForecastError):
    """The input data cannot be used as given (missing column, NaN, gaps, too short ...)."""


class ConfigError(ForecastError):
    """A configuration value is out of range or inconsistent with the data."""


class TrainingError(ForecastError):
    """Training gave no model to keep: the loss diverged (NaN or inf) from the first epoch."""


def is_positive_int(value) -> bool:
    """An integer (numpy's too) of at least 1, not a bool: what counts and sizes take."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def check_accelerator(accelerator: str, setting: str, fix: str) -> None:
    """ConfigError starting with `setting` (`trainer.accelerator=gpu`) where `accelerator` asks
    for a CUDA GPU torch does not see."""
    import torch

    if str(accelerator) in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{setting}: torch {torch.__version__} sees no CUDA GPU on this "
                          f"machine; {fix} (or install a CUDA build of torch).")


def unwrap(error: BaseException) -> BaseException:
    """Our own error inside Hydra's InstantiationException, else the error itself."""
    from hydra.errors import InstantiationException

    if isinstance(error, InstantiationException) and isinstance(error.__cause__, ForecastError):
        return error.__cause__
    return error


def is_usage_error(error: BaseException) -> bool:
    """Whether `error` (unwrapped) is the user's to fix: ours, or OmegaConf's about a key."""
    return isinstance(error, ForecastError) or _omegaconf_key(error) is not None


def _omegaconf_key(error: BaseException) -> str | None:
    """The config key an OmegaConf error names, or None (not OmegaConf's, or no key)."""
    key = getattr(error, "full_key", None)
    return key if key and type(error).__module__.startswith("omegaconf") else None


def explain(error: BaseException) -> str:
    """One line for the user: the message of our own errors, the file and the fix for disk
    errors, and the type and message of anything else."""
    error = unwrap(error)
    if isinstance(error, ForecastError):
        return str(error)
    if isinstance(error, OSError) and error.errno in _DISK_ERRORS:
        where = error.filename or "the output folder"
        return (f"cannot write {where}: {error.strerror}. Free disk space, fix the permissions, "
                "or write elsewhere with hydra.run.dir=/writable/folder.")
    key = _omegaconf_key(error)  # a key removed, an interpolation ...
    if key is not None:
        reason = str(getattr(error, "msg", "") or error).strip().splitlines()[0]
        return (f"{key}: {reason}; fix the override of {key} (python -m forecast.train --cfg "
                "job lists every key and its value).")
    text = str(error).strip().splitlines()
    return (f"{type(error).__name__}: {text[0] if text else ''} "
            "(set HYDRA_FULL_ERROR=1 to see the full traceback)")


_DISK_ERRORS = {28, 30, 13, 27, 122, 1}  # ENOSPC, EROFS, EACCES, EFBIG, EDQUOT, EPERM


def python_terms(message: str) -> str:
    """A message of the shared data checks, networks and callbacks, which name config keys
    (`data.fill=ffill`, `model.cell`, `optim.loss`, `callbacks.ema.decay`, `or null`), in the
    terms of Python keyword arguments (`fill='ffill'`, `cell`, `loss`, `ema_decay`, `or None`).
    The CLI keeps the config keys: only the Python API calls this."""
    literals = {"true": "True", "false": "False", "null": "None"}

    def argument(match: re.Match) -> str:
        name, value = match[1], match[2]
        if value in literals:
            return f"{name}={literals[value]}"
        return f"{name}={value}" if re.fullmatch(r"-?[\d.]+", value) else f"{name}='{value}'"

    message = re.sub(r"\bdata\.split(\.val)?\b(?!\.)", "val_size", message)
    message = re.sub(r"\bcallbacks\.ema\.decay\b", "ema_decay", message)
    message = re.sub(r"\boptim\.(gradient_clip_\w+|loss\b|lr\b)", r"\1", message)
    message = re.sub(r"\b(?:data|model)\.(\w+)=([\w.-]*\w)", argument, message)
    message = re.sub(r"\b(?:data|model)\.(\w+)", r"\1", message)
    return re.sub(r"\bor null\b", "or None", message)
