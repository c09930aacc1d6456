"""The Forecaster's arguments, checked and converted before `fit` trains.

A value torch or Lightning would reject deep inside training, or silently misread
(`max_epochs=-1` trains without a limit, `val_size=1.5` holds out one row), is one `ConfigError`
naming the argument. numpy scalars (a `GridSearchCV` grid of `np.arange(...)`) become Python
numbers and the names of choices (`cell="LSTM"`) lower case, in a copy: `get_params()` keeps
what the user set, as scikit-learn's `clone` requires. Choices (mode, cell, nonlinearity, loss,
scaler, fill ...), `lr` (here only that it is finite), `weight_decay`, gradient clipping and
`ema_decay` are checked where they are used, also before training.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from forecast.errors import ConfigError, is_positive_int

LOWER_CASE = ("mode", "cell", "nonlinearity", "loss")  # names of choices, read in any case


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _rows_or_fraction(value) -> bool:
    """A fraction below 1, or a whole number of rows (2.0 too): Split reads 1.5 as 1 row."""
    return _number(value) and (0 <= value < 1 or (value >= 1 and float(value).is_integer()))


def float32_precision(value) -> bool:
    """Whether a Lightning precision keeps the float32 data and network (no 64-bit)."""
    return not (str(value).startswith("64") or value == "double")


POSITIVE_INT = (is_positive_int, "a positive integer")
BOOL = (lambda value: isinstance(value, bool), "True or False")
# argument -> (accepts its value, what it must be)
CHECKS = {
    **dict.fromkeys(("lookback", "horizon", "hidden_size", "num_layers", "segment_length",
                     "batch_size", "max_epochs"), POSITIVE_INT),
    "patience": (lambda v: _integer(v) and v >= 0,
                 "an integer >= 0 (epochs without improvement before stopping)"),
    "dropout": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "teacher_forcing": (lambda v: _number(v) and 0 <= v <= 1,
                        "a number in [0, 1] (a probability)"),
    "val_size": (_rows_or_fraction, "a fraction in [0, 1) or a whole number of rows >= 1"),
    "seed": (lambda v: _integer(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"),
    # torch refuses lr < 0 and NaN itself, but trains on inf until the loss is NaN
    "lr": (lambda v: not _number(v) or math.isfinite(v), "a finite number >= 0"),
    "precision": (float32_precision, "32- or 16-bit ('32-true', 'bf16-mixed', '16-mixed': the data "
                               "and the network are float32)"),
    **dict.fromkeys(("bidirectional", "revin", "channel_independent",
                     "channel_embedding", "calendar", "sort", "warm_start"), BOOL),
    "subtract_last": (lambda value: value is None or isinstance(value, bool),
                      "True, False or None (the mode's own)"),
}


def python_value(name: str, value):
    """`value` as training uses it: a numpy scalar as a Python one, a choice in lower case;
    the same object where nothing changes."""
    if isinstance(value, np.generic):
        value = value.item()
    if name in LOWER_CASE and isinstance(value, str) and value != value.lower():
        value = value.lower()
    return value


def check_arguments(params: dict) -> dict:
    """`params` (`get_params()`) with `python_value`s; ConfigError naming every argument whose
    value cannot train, and what to pass."""
    python = {name: python_value(name, value) for name, value in params.items()}
    problems = [f"{name}: must be {what}, got {python[name]!r}."
                for name, (accepts, what) in CHECKS.items()
                if name in python and not accepts(python[name])]
    if problems:
        raise ConfigError(" ".join(problems))
    return python


def fit_converted(estimator, X, y=None) -> bool:
    """Check `estimator`'s arguments (ConfigError, see `check_arguments`); where some need
    converting, fit a copy holding the converted values and give `estimator` its fitted state.

    Returns:
        True when `estimator` was fitted so, False when its own values train as they are.
    """
    params = estimator.get_params(deep=False)
    python = check_arguments(params)
    converted = {name: value for name, value in python.items() if value is not params[name]}
    if not converted:
        return False
    typed = object.__new__(type(estimator))  # not copy.copy: no pickling state to sort out
    vars(typed).update({**vars(estimator), **converted})
    typed.fit(X, y)
    vars(estimator).update({k: v for k, v in vars(typed).items() if k not in params})
    return True
