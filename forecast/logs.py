"""Quiet third-party chatter that says nothing to a forecasting user."""

import logging
import warnings


def quiet() -> None:
    """Hide Lightning's hardware banner and tips, and known deprecation noise of dependencies."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                 "pytorch_lightning.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Every run has its own output folder; what is in it already is ours (the MLflow run ids
    # written before fit, or the checkpoints a resumed run continues from).
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
