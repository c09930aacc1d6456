"""MLflow "models from code" entry: logged as the model's code, so loading it runs this file
instead of unpickling a Python object."""

import mlflow

from forecast.mlflow_model import ForecasterModel

mlflow.models.set_model(ForecasterModel())
