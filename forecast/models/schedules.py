"""A resumed LR schedule under the settings of the run that resumes it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)
# What a scheduler's state holds of its position, not of its settings.
POSITION = frozenset({"last_epoch", "base_lrs", "verbose"})


def reschedule(state: dict, optimizer_state: dict, make_scheduler: Callable) -> list[str]:
    """Give a checkpoint's scheduler `state` the settings `make_scheduler` now builds with (the
    cosine's `T_max` of a larger `trainer.max_epochs`) at the epoch it reached, and the
    learning rates of `optimizer_state` the schedule's values there: the rest of the run follows
    the new schedule as if it had been planned from the start. Returns the settings changed.
    Schedules without a closed form (plateau, lambdas) keep their state."""
    lrs = state.get("base_lrs") or []
    if not lrs:
        return []
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    scheduler = make_scheduler(torch.optim.SGD(groups))
    if not hasattr(scheduler, "_get_closed_form_lr"):
        return []
    settings = {key: value for key, value in scheduler.state_dict().items()
                if key not in POSITION and not key.startswith("_")}
    changed = sorted(key for key, value in settings.items() if state.get(key) != value)
    if not changed:
        return []
    before = {key: state.get(key) for key in changed}
    state.update({key: settings[key] for key in changed})
    scheduler.load_state_dict(state)
    rates = [float(rate) for rate in scheduler._get_closed_form_lr()]
    state["_last_lr"] = rates
    for group, rate in zip(optimizer_state["param_groups"], rates, strict=True):
        group["lr"] = rate
    log.info(f"resume: the LR schedule continues under this run's settings "
             f"({', '.join(f'{key} {before[key]} -> {settings[key]}' for key in changed)}) from "
             f"epoch {state['last_epoch']}, at lr {', '.join(f'{rate:.3g}' for rate in rates)}.")
    return changed
