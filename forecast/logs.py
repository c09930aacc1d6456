"""Quiet third-party chatter that says nothing to a forecasting user."""

import contextlib
import logging
import os
import warnings

QUIETED = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
           "pytorch_lightning.accelerators.cuda", "mlflow.pyfunc", "mlflow.store.db.utils",
           "alembic")


def quiet() -> None:
    """Hide Lightning's hardware banner and tips, known deprecation noise of dependencies,
    MLflow's model-validation notes, artifact download bar, per-run links and store set-up
    lines, and the plugin list alembic (MLflow's and Optuna's schema tool) logs when imported.
    For the whole process: the CLI's; a library call uses `quieted`."""
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Every run has its own output folder; what is in it already is ours (the MLflow run ids
    # written before fit, or the checkpoints a resumed run continues from).
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty")
    # A finished run trained further writes its checkpoints into its own folder.
    warnings.filterwarnings("ignore", message=r".*The dirpath has changed from")
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
    # Lightning warns where an epoch has fewer training items than log_every_n_steps (the sine
    # preset: 6 lists of 8 batches); train_loss_step counts optimiser steps across epochs and
    # is logged every 50 all the same.
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    # MLflow reloads a model it has just logged to check the input example, behind a bar; and
    # with a tracking server it prints two links per run (16 lines for the sine preset):
    # forecast.train prints one, to the parent run.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


@contextlib.contextmanager
def quieted():
    """`quiet()` for the length of a library call (`Forecaster.fit`, logging a model): the
    user's logger levels and warning filters are as they were afterwards."""
    levels = {name: logging.getLogger(name).level for name in QUIETED}
    with warnings.catch_warnings():
        quiet()
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
