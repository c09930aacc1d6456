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
    `seed_everything`), then give them back the state they had: a scikit-learn estimator's
    `fit` leaves the process's random numbers as it found them."""
    state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    variable = os.environ.get("PL_GLOBAL_SEED")
    pl.seed_everything(seed, verbose=False)
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        if variable is None:
            os.environ.pop("PL_GLOBAL_SEED", None)
        else:
            os.environ["PL_GLOBAL_SEED"] = variable
