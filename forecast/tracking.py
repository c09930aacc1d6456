"""MLflow runs of one training invocation: the store (its URI checked, created under a lock) and
the `Tracker` that opens and ends a parent run, the neural run and one run per baseline.
`forecast.run_log` logs what goes into them."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from forecast.errors import ConfigError
from forecast.evaluate import Result
from forecast.logs import quiet

log = logging.getLogger(__name__)

SECRET_MARKERS = ("password", "token", "secret", "credential", "api_key")


def resolve_tracking_uri(uri: str | None) -> str:
    """`uri`, else $MLFLOW_TRACKING_URI, else the local store `sqlite:///<cwd>/mlflow.db`."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    return uri


def check_tracking_uri(uri: str) -> None:
    """Fail fast, before any training, when the store cannot be reached or written."""
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        import requests

        try:
            requests.get(uri.rstrip("/") + "/health", timeout=5).raise_for_status()
        except requests.RequestException as err:
            raise ConfigError(
                f"logger.tracking_uri: no MLflow tracking server answers at {redact(uri)} "
                f"({type(err).__name__}). Start it ({server_command(uri)}), "
                "or log to the local store ./mlflow.db with logger=mlflow and "
                "MLFLOW_TRACKING_URI unset."
            ) from None
    elif scheme == "sqlite":
        folder = Path(uri.split("sqlite:///", 1)[-1]).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            relative = ("" if folder.is_absolute() else f" (a relative path, from the directory "
                        f"you run in: '{folder.resolve()}'; sqlite://// starts an absolute one)")
            raise ConfigError(f"logger.tracking_uri: cannot write the MLflow store in "
                              f"'{folder}'{relative}; point logger.tracking_uri to a writable "
                              "place.")


# Schemes MLflow keeps no runs at (files, artifact stores); others (http, sqlite, postgresql,
# databricks, a plugin's) are MLflow's to judge.
NOT_STORES = ("", "file", "ftp", "sftp", "s3", "gs", "hdfs", "wasbs", "abfss")
# What an artifact root of each scheme needs installed (MLflow imports it on the first upload).
ARTIFACT_CLIENTS = {"s3": "boto3", "gs": "google.cloud.storage", "wasbs": "azure.storage.blob",
                    "abfss": "azure.storage.filedatalake"}


def check_logger(logger) -> None:
    """The `logger` settings MLflow would reject only when it logs, some after training: the
    store's scheme, the experiment's name, the artifact root, the registered model's name."""
    uri = resolve_tracking_uri(logger.get("tracking_uri"))
    parsed = urlparse(uri)
    file_store = parsed.scheme == "file" and os.environ.get("MLFLOW_ALLOW_FILE_STORE") == "true"
    if parsed.scheme in NOT_STORES and not uri.startswith("databricks") and not file_store:
        folder = Path(parsed.path if parsed.scheme == "file" else uri).resolve()
        hint = (f"; for a local store use sqlite:///{folder / 'mlflow.db'}"
                if parsed.scheme in ("", "file") else "")
        raise ConfigError(f"logger.tracking_uri: {redact(uri)} is no MLflow store this logs to; "
                          "give sqlite:///path/mlflow.db, the http(s):// address of an mlflow "
                          f"server, or a database URI (postgresql://...){hint}.")
    if not isinstance(logger.get("experiment_name"), str) or not logger.experiment_name.strip():
        raise ConfigError("logger.experiment_name: must be a non-empty name, got "
                          f"{logger.get('experiment_name')!r}; set experiment_name=NAME.")
    if not isinstance(logger.get("log_model", True), bool):
        raise ConfigError(f"logger.log_model: must be true or false, got {logger.log_model!r}.")
    _check_artifact_location(logger.get("artifact_location"))
    name = logger.get("register_as")
    if name is not None and (not isinstance(name, str) or not name.strip()
                             or any(c in name for c in "/:")):
        raise ConfigError(f"logger.register_as: {name!r} cannot name a registered model (a "
                          "non-empty name without '/' or ':'); fix it or drop the key.")
    if name is not None and not logger.get("log_model", True):
        raise ConfigError(f"logger.register_as={name}: registers the logged model, and "
                          "logger.log_model=false logs none; drop one of the two.")


def _check_artifact_location(location) -> None:
    if location is None:
        return
    scheme = urlparse(str(location)).scheme
    if scheme in ARTIFACT_CLIENTS:
        try:
            importlib.import_module(ARTIFACT_CLIENTS[scheme])
        except ImportError:
            package = ARTIFACT_CLIENTS[scheme].split(".")[0]
            raise ConfigError(f"logger.artifact_location: {location} needs the package "
                              f"'{package}' to upload artifacts; install it, or drop the key to "
                              "keep artifacts beside the store.") from None
    elif scheme in ("", "file"):
        folder = Path(urlparse(str(location)).path if scheme else str(location)).resolve()
        try:  # MLflow creates it on the first upload
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"logger.artifact_location: cannot write artifacts in '{folder}' "
                              f"({error.strerror}); point it to a writable folder.") from None
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"logger.artifact_location: cannot write artifacts in '{folder}'; "
                              "point it to a writable folder.")


def server_command(uri: str) -> str:
    """The `mlflow server` command that would answer at `uri` (its host and port; on another
    machine it listens on all interfaces)."""
    parsed = urlparse(uri)
    host = parsed.hostname or "127.0.0.1"
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:  # a port that is not a number: urlparse says so only when asked
        port = 5000
    if host not in ("127.0.0.1", "localhost", "::1"):
        return f"on {host}: mlflow server --host 0.0.0.0 --port {port}"
    return f"mlflow server --host {host} --port {port}"


def default_artifact_location(uri: str) -> str | None:
    """Artifacts next to a local sqlite store (`mlruns/` beside `mlflow.db`); servers decide."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.split("sqlite:///", 1)[1]).parent / "mlruns").resolve().as_uri()
    return None


def redact(text: str) -> str:
    """A URI without its password (http://user:pw@host -> http://user:***@host)."""
    parsed = urlparse(text)
    if parsed.password:
        return text.replace(f":{parsed.password}@", ":***@")
    return text


def looks_secret(key) -> bool:
    return any(marker in str(key).lower() for marker in SECRET_MARKERS)


def safe_params(params: dict) -> dict:
    """Drop values whose key looks secret, and redact credentials inside URIs."""
    return {k: redact(str(v)) for k, v in params.items() if not looks_secret(k)}


def _safe_tree(value):
    """`safe_params` through nested dicts and lists (the config as `config.yaml`)."""
    if isinstance(value, dict):
        return {k: _safe_tree(v) for k, v in value.items() if not looks_secret(k)}
    if isinstance(value, list):
        return [_safe_tree(v) for v in value]
    return redact(value) if isinstance(value, str) else value


class Tracker:
    """Opens the runs of one invocation in one experiment and closes them with their status.

    Use as a context manager: on an exception every open run is marked FAILED with the error as
    the tag `error` and the artifact `error.txt`; Ctrl-C (tag `error: KeyboardInterrupt ...`)
    and SIGTERM mark them KILLED. A run reopened to be resumed keeps that error as the tag
    `previous_error`.

    Args:
        tracking_uri: MLflow tracking URI (already resolved).
        experiment_name: experiment to log into (created if missing).
        run_name: name of the parent run.
        tags: tags set on every run (e.g. a sweep id that groups a multirun).
        artifact_location: where a new experiment stores artifacts.
    """

    def __init__(self, tracking_uri: str, experiment_name: str, run_name: str,
                 tags: dict[str, str] | None = None, artifact_location: str | None = None,
                 parent_id: str | None = None):
        mlflow.set_tracking_uri(tracking_uri)
        self.uri, self.tags = tracking_uri, dict(tags or {})
        with store_lock(tracking_uri):  # parallel runs creating one sqlite store's tables
            self.client = MlflowClient(tracking_uri)
            self.experiment_id = self._experiment(experiment_name, artifact_location)
        if parent_id is None:
            parent_id = self.client.create_run(self.experiment_id, run_name=run_name,
                                               tags={**self.tags, "role": "parent"}).info.run_id
        self.parent_id, self.open_runs = parent_id, []
        self.reopen(parent_id)

    def _experiment(self, name: str, artifact_location: str | None) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(
                name, artifact_location or default_artifact_location(self.uri))
        except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel run
            return self.client.get_experiment_by_name(name).experiment_id

    def child(self, name: str, family: str) -> str:
        """Start a run nested under the parent; returns its id."""
        run = self.client.create_run(self.experiment_id, run_name=name, tags={
            **self.tags, "mlflow.parentRunId": self.parent_id, "family": family, "model": name})
        self.open_runs.append(run.info.run_id)
        return run.info.run_id

    def browse_hint(self) -> str:
        """Where the runs of this invocation are, and how to open them in the MLflow UI."""
        if self.uri.startswith(("http://", "https://")):
            return (f"MLflow: {redact(self.uri)}/#/experiments/{self.experiment_id}/runs/"
                    f"{self.parent_id}")
        return (f"MLflow: parent run {self.parent_id} in {self.uri}; browse it with\n"
                f"  mlflow ui --backend-store-uri {self.uri}")

    def reopen(self, run_id: str) -> str:
        """Track an existing run. A resumed one is set RUNNING again, and the error that
        interrupted it becomes the tag `previous_error` (its `error.txt` says it was resumed):
        a run that then finishes carries no `error`."""
        run = self.client.get_run(run_id)
        if run.info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        error = run.data.tags.get("error")
        if error is not None:
            self.client.set_tag(run_id, "previous_error", error)
            self.client.delete_tag(run_id, "error")
            self._note_resumed(run_id, error)
        self.open_runs.append(run_id)
        return run_id

    def _note_resumed(self, run_id: str, error: str) -> None:
        """Overwrite the run's `error.txt` (MLflow deletes no artifact) with a line saying that
        the run was resumed after `error`, above the traceback it held."""
        try:
            with tempfile.TemporaryDirectory() as folder:
                trace = Path(self.client.download_artifacts(run_id, "error.txt", folder))
                old = trace.read_text()
        except Exception:  # no error.txt (the failure was in writing it): nothing to amend
            return
        self.log_text(run_id, f"Resumed on {time.strftime('%Y-%m-%d %H:%M:%S')} after: {error}\n"
                      "(the tag `previous_error`); the traceback of that interruption:\n\n"
                      f"{old}", "error.txt")

    def log_config(self, run_ids: list[str], cfg) -> None:
        """The composed config as the artifact `config.yaml` of `run_ids`, as soon as the runs
        open: a run that fails or is interrupted shows its settings (its params, which MLflow
        cannot change, are logged when it finishes). Overwritten when a run is resumed. Keys
        that look secret are left out and credentials in URIs masked, as in the params."""
        from omegaconf import OmegaConf

        text = OmegaConf.to_yaml(_safe_tree(OmegaConf.to_container(cfg, resolve=True)))
        for run_id in run_ids:
            self.log_text(run_id, text, "config.yaml")

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        if run_id in self.open_runs:
            self.client.set_terminated(run_id, status)
            self.open_runs.remove(run_id)

    def lightning_logger(self, run_id: str):
        """Lightning's MLFlowLogger writing the training curves into run `run_id`.

        Asynchronously: a synchronous write costs a round trip to the server or a commit of the
        sqlite store (10-60 ms) on the training thread. The queue is drained whenever `last.ckpt`
        is saved, so a run resumed after a crash holds every epoch its checkpoint holds, and at
        the end of `fit`; the run stays open until `finish` (or the end of the `with` block).
        """
        from forecast.mlflow_logger import CheckpointFlushingLogger

        # With a buffer the queue drains at once when the run ends; without, MLflow's worker
        # polls with a 1 s timeout and `fit` waits ~0.75 s for it.
        os.environ.setdefault("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "1")
        return CheckpointFlushingLogger(tracking_uri=self.uri, run_id=run_id, log_model=False,
                                        synchronous=False, experiment_id=self.experiment_id)

    def log_params(self, run_id: str, params: dict) -> None:
        params = safe_params(params)
        items = [mlflow.entities.Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i:i + 100])

    def log_result(self, run_id: str, result: Result) -> None:
        """Test metrics, fit time, and the per-horizon-step errors as stepped metrics (for a
        horizon of one step they would repeat the test metrics)."""
        metrics = [mlflow.entities.Metric(k, float(v), 0, 0) for k, v in result.metrics.items()
                   if np.isfinite(v)]
        metrics.append(mlflow.entities.Metric("fit_seconds", result.fit_seconds, 0, 0))
        for name, values in result.per_step.items():
            if len(values) == 1:
                continue
            metrics += [mlflow.entities.Metric(f"test_{name}_by_step", float(v), 0, h + 1)
                        for h, v in enumerate(values)]
        for i in range(0, len(metrics), 500):
            self.client.log_batch(run_id, metrics=metrics[i:i + 500])

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_figure(self, run_id: str, figure, path: str) -> None:
        self.client.log_figure(run_id, figure, path)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if error is None:
            status = "FINISHED"
        else:
            interrupted = isinstance(error, (KeyboardInterrupt, SystemExit))
            status = "KILLED" if interrupted else "FAILED"
            message = error_message(error)
            trace = "".join(traceback.format_exception(kind, error, tb))
            for run_id in list(self.open_runs):
                self._record_error(run_id, message, trace)
        for run_id in list(reversed(self.open_runs)):
            try:
                self.finish(run_id, status)
            except Exception as failure:
                if error is None:
                    raise
                name = type(failure).__name__
                log.warning(f"MLflow: could not end run {run_id} as {status} ({name}); the "
                            "store shows it running until it is resumed.")

    def _record_error(self, run_id: str, message: str, trace: str) -> None:
        """Tag run `run_id` with the error and upload its traceback as `error.txt`; a store
        that fails here (the artifact root that failed the run, say) is named in a warning,
        and the run is ended all the same."""
        try:
            self.client.set_tag(run_id, "error", message[:5000])
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "error.txt").write_text(trace)
                self.client.log_artifact(run_id, str(Path(folder) / "error.txt"))
        except Exception as failure:  # noqa: BLE001 - any store error; the run must still end
            log.warning(f"MLflow: could not record the error in run {run_id} "
                        f"({type(failure).__name__}: {failure}); it is ended as failed.")


def error_message(error: BaseException) -> str:
    """The tag `error` of a run `error` ended: Ctrl-C (which Lightning turns into SystemExit(1)
    during fit) and SIGTERM (SystemExit(143), forecast.train) say what they were."""
    if isinstance(error, KeyboardInterrupt) or (
            isinstance(error, SystemExit) and isinstance(error.__context__, KeyboardInterrupt)):
        return "KeyboardInterrupt: interrupted by the user (Ctrl-C)"
    if isinstance(error, SystemExit) and error.code == 143:
        return "SystemExit: 143 (SIGTERM: stopped by a signal, e.g. a scheduler or timeout)"
    return f"{type(error).__name__}: {error}"


@contextlib.contextmanager
def store_lock(uri: str):
    """An exclusive file lock beside a sqlite store while it may be created or migrated, so
    parallel runs (sweeps, pipelines) do not race on its tables."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    lock = Path(uri.split("sqlite:///", 1)[1]).with_suffix(".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


CHOICE_TAGS = ("data", "model", "optim", "trainer", "callbacks", "baselines", "logger")
MAX_TAG = 5000  # characters MLflow keeps of a tag's value


def safe_overrides(overrides) -> str:
    """The command line's overrides as one tag: those of keys that look secret without their
    value, credentials in URIs masked."""
    shown = [f"{arg.split('=', 1)[0]}=***" if looks_secret(arg.split("=", 1)[0]) else redact(arg)
             for arg in overrides]
    return " ".join(shown)[:MAX_TAG] or "none"


def open_tracker(cfg, uri: str, model_name: str, parent_id: str | None = None) -> Tracker:
    """The Tracker of one invocation of `forecast.train` (a multirun shares the `sweep` tag)."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    choices = hydra_cfg.runtime.choices
    # Provenance: the preset, each config group's choice and the command line's overrides.
    tags = {"experiment_preset": str(choices.get("experiment") or "none"),
            **{f"choice.{group}": str(choices[group]) for group in CHOICE_TAGS
               if choices.get(group) is not None},
            "overrides": safe_overrides(hydra_cfg.overrides.task)}
    if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
        tags["sweep"] = os.path.abspath(str(hydra_cfg.sweep.dir))  # the same from any folder
        tags["sweep_job"] = str(hydra_cfg.job.num)
    run_name = cfg.logger.run_name or f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Tracker(uri, cfg.logger.experiment_name, run_name, tags, cfg.logger.artifact_location,
                   parent_id)


def open_runs(cfg, model_name: str, checkpoint=None) -> tuple[Tracker | None, str | None]:
    """The Tracker and neural run of this invocation (None, None with `logger=none`); resuming
    from `checkpoint` continues the runs that wrote it if they were interrupted, and opens new
    runs tagged `resumed_from` if they finished. Fails fast on an unreachable store."""
    if not cfg.logger.enabled:
        return None, None
    # The CLI's: after MLflow's import, whose logging set-up resets the levels of its loggers
    # that `quiet()` set before (a joblib launcher's workers import it in that order).
    quiet()
    check_logger(cfg.logger)
    uri = resolve_tracking_uri(cfg.logger.get("tracking_uri"))
    check_tracking_uri(uri)
    try:
        return _open_runs(cfg, uri, model_name, checkpoint)
    except mlflow.exceptions.MlflowException as error:  # credentials, a plugin's store ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"logger.tracking_uri: cannot open runs in {redact(uri)}: "
                          f"{reason}") from None
    except ModuleNotFoundError as error:  # a database's driver (postgresql://: psycopg2)
        raise ConfigError(f"logger.tracking_uri: {redact(uri)} needs the Python package "
                          f"'{error.name}', which is not installed; pip install it (for "
                          "PostgreSQL: pip install psycopg2-binary), or log to another "
                          "store.") from None


def _open_runs(cfg, uri: str, model_name: str, checkpoint) -> tuple:
    from forecast.evaluate import NEURAL
    from forecast.resume import load_runs

    previous = load_runs(checkpoint)
    if previous and _unfinished(uri, previous["neural"], checkpoint):
        tracker = open_tracker(cfg, uri, model_name, previous["parent"])
        neural_run = tracker.reopen(previous["neural"])
    else:
        tracker = open_tracker(cfg, uri, model_name)
        neural_run = tracker.child(model_name, NEURAL)
        if previous:  # a finished run trained further: new runs, pointing at the ones continued
            tracker.client.set_tag(tracker.parent_id, "resumed_from", previous["parent"])
            tracker.client.set_tag(neural_run, "resumed_from", previous["neural"])
    try:
        tracker.log_config([tracker.parent_id, neural_run], cfg)
    except BaseException as error:  # the runs end FAILED, not RUNNING for ever
        tracker.__exit__(type(error), error, error.__traceback__)
        raise
    return tracker, neural_run


def _unfinished(uri: str, run_id: str, checkpoint) -> bool:
    """Whether the neural run that wrote `checkpoint` was interrupted before its results were
    logged, so resuming continues it. A finished run keeps its record (MLflow params cannot
    change, and `trainer.max_epochs` usually does); a run of another store cannot go on."""
    from forecast.resume import finished

    if finished(checkpoint):
        return False
    try:
        run = MlflowClient(uri).get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return False
    return run.info.status != "FINISHED" and not run.data.params
