"""Seeding a fit without taking over the caller's random streams."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python's, numpy's and torch's global generators for the block (Lightning's
    `seed_everything`), then give them back the state they had, and Lightning's seed variables
    their values: a scikit-learn estimator's `fit` leaves the process's random numbers as it
    found them. CUDA's generators are given back where CUDA was in use before the block (a
    CUDA seed still queued, as torch keeps one until CUDA starts, is the block's after it)."""
    state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    variables = {name: os.environ.get(name) for name in _VARIABLES}
    pl.seed_everything(seed, verbose=False)
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_VARIABLES = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")  # what `seed_everything` sets
