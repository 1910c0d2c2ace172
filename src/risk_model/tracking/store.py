"""Where runs go and how they are read back: the tracking URI, checked before any work (a store that
cannot be used, or lacks the model or run a command reads, is a `TrackingStoreError` naming the URI
and what was looked for), the experiment, the champion model loaded from the registry (with the
types skops may trust), a run's tables and its model card refreshed from them. Logging a training
run is `tracking.runs`.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from risk_model.config import ExperimentConfig, TrackingConfig
from risk_model.tracking.model_card import RunRecords, bias_summary, markdown_to_html, render_markdown

DEFAULT_STORE_DIR = Path("mlruns")
# Types the project's pipelines contain, trusted when a model is loaded back with skops.
TRUSTED_TYPES: list[str] = [
    "risk_model.estimators.RiskIndicatorRule",
    "risk_model.estimators.ConcernQueue",
    "risk_model.models.ReviewLists",
    "sklearn.model_selection._split.KFold",
    "risk_model.models.signed_log1p",
    "risk_model.estimators.SafeColumnNames",
    "risk_model.estimators.CentredLogisticRegression",
    "risk_model.estimators.MonotoneLGBMClassifier",
    "risk_model.estimators.ExplainedLGBMClassifier",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.slice",
    "numpy.ndarray",
    "numpy.dtype",
]


class TrackingStoreError(ValueError):
    """A tracking store that cannot be used, or that lacks the model or run a command reads: the message
    names the URI (and the local path) looked in, and what was looked for."""


def _default_uri(store_dir: Path) -> str:
    return f"sqlite:///{Path(store_dir).resolve() / 'mlflow.db'}"


def resolve_tracking_uri(config: TrackingConfig, store_dir: Path = DEFAULT_STORE_DIR) -> str:
    """Config first, then $MLFLOW_TRACKING_URI, else a SQLite store under `store_dir`. Creates nothing."""
    if config.tracking_uri:
        return config.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return _default_uri(store_dir)


def _local_store(uri: str) -> tuple[str, Path] | None:
    """("database", path) of a `sqlite:///` URI, ("folder", path) of a local store folder, None for a server."""
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///").split("?", 1)[0]
        return None if path in ("", ":memory:") else ("database", Path(path))
    scheme = urlparse(uri).scheme
    if scheme == "file":
        return "folder", Path(url2pathname(urlparse(uri).path))
    return ("folder", Path(uri)) if len(scheme) <= 1 else None  # a bare path (or a Windows drive letter)


def check_tracking_store(config: TrackingConfig, store_dir: Path = DEFAULT_STORE_DIR, *, reading: bool = False,
                         trained_by: str = "risk-model train") -> str:
    """The tracking URI `config` and `store_dir` resolve to, refused with a TrackingStoreError before any work
    if its local store cannot be used: a database whose folder does not exist (MLflow would create it), a
    store folder that is a file; with `reading`, a local store that is not there at all (the message names
    `trained_by`, the command that would make one). Writes nothing."""
    uri = resolve_tracking_uri(config, store_dir)
    local = _local_store(uri)
    if local is None:
        return uri
    kind, path = local
    path = path.resolve()
    default = uri == _default_uri(store_dir)  # the store under --store, created when first written
    where = f"the tracking store {uri} (--store {store_dir})" if default else f"tracking URI {uri}"
    nearest_existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if nearest_existing not in (None, path) and not nearest_existing.is_dir():
        raise TrackingStoreError(f"{where}: {nearest_existing} is a file, not a folder")
    if path.exists() and path.is_dir() == (kind == "database"):
        what = "a folder, not a database file" if kind == "database" else "a file, not a store folder"
        raise TrackingStoreError(f"{where}: {path} is {what}")
    if kind == "database" and not default and not path.parent.is_dir():
        raise TrackingStoreError(f"{where}: the folder {path.parent} does not exist (it is not created for you): "
                                 "create it, or pass the --tracking-uri you meant")
    if reading and not path.exists():
        raise TrackingStoreError(f"{where}: there is no tracking store at {path}. Train there with `{trained_by}`, "
                                 "or pass the --tracking-uri the training used")
    return uri


def use_tracking(config: TrackingConfig, store_dir: Path = DEFAULT_STORE_DIR) -> str:
    """Point MLflow at the configured store (checked first, see `check_tracking_store`) and experiment;
    returns the experiment id."""
    uri = check_tracking_store(config, store_dir)
    if uri == _default_uri(store_dir):
        Path(store_dir).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.get_experiment_by_name(config.experiment)
        if experiment is not None:
            mlflow.set_experiment(config.experiment)
            return experiment.experiment_id
        artifact_location = None
        if uri.startswith("sqlite:///"):
            artifact_location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
        experiment_id = mlflow.create_experiment(config.experiment, artifact_location=artifact_location)
    except MlflowException as exc:
        raise TrackingStoreError(f"tracking URI {uri}: the store cannot be used ({_first_sentence(exc)})") from exc
    mlflow.set_experiment(config.experiment)
    return experiment_id


def read_tracking(config: TrackingConfig, store_dir: Path = DEFAULT_STORE_DIR,
                  trained_by: str = "risk-model train") -> str:
    """Point MLflow at the configured store to read from it (checked first, with `reading`); returns its URI."""
    uri = check_tracking_store(config, store_dir, reading=True, trained_by=trained_by)
    mlflow.set_tracking_uri(uri)
    return uri


def _first_sentence(exc: Exception) -> str:
    message = " ".join(str(getattr(exc, "message", exc)).split())
    return message.split(". ")[0].rstrip(".")


def _no_model(client: MlflowClient, name: str, alias: str, exc: MlflowException, trained_by: str) -> str:
    """Why no version of `name` has `alias` in the current store, in words naming both and the store."""
    uri = mlflow.get_tracking_uri()
    if exc.error_code == "INVALID_PARAMETER_VALUE":  # the model is there, the alias is not
        found, held = f"registered model {name!r} has no version with alias {alias!r}", ""
    elif exc.error_code == "RESOURCE_DOES_NOT_EXIST":
        try:
            others = [m.name for m in client.search_registered_models(max_results=5)]
        except MlflowException:
            others = []
        found = f"no registered model {name!r} (alias {alias!r})"
        held = f"; it holds {', '.join(repr(o) for o in others)}" if others else ""
    else:
        return f"tracking URI {uri}: the model registry cannot be read ({_first_sentence(exc)})"
    return (f"{found} in the tracking store {uri}{held}. Train one there with `{trained_by}`, or pass the "
            "--tracking-uri (or --config) the training used")


def champion_version(config: TrackingConfig, alias: str | None = None, trained_by: str = "risk-model train"):
    """The registered version that `alias` (default: the champion alias) names in the current store; a
    TrackingStoreError naming the model, the alias and the store when there is none (and `trained_by`, the
    command that would register one)."""
    client = MlflowClient()
    alias = alias or config.champion_alias
    try:
        return client.get_model_version_by_alias(config.registered_model, alias)
    except MlflowException as exc:
        raise TrackingStoreError(_no_model(client, config.registered_model, alias, exc, trained_by)) from exc


def load_champion(config: TrackingConfig):
    """The champion Pipeline and its model version, from the registry."""
    version = champion_version(config)
    # Load the version the alias named a moment ago, so model and version cannot disagree.
    pipeline = mlflow.sklearn.load_model(f"models:/{config.registered_model}/{version.version}")
    return pipeline, version


def training_run(run_id: str):
    """A run of the current store, by id; a TrackingStoreError naming the run and the store when it is not there."""
    try:
        return MlflowClient().get_run(run_id)
    except MlflowException as exc:
        raise TrackingStoreError(f"no run {run_id!r} in the tracking store {mlflow.get_tracking_uri()} "
                                 f"({_first_sentence(exc)}); pass the --tracking-uri the training used") from exc


def read_run_records(run_id: str) -> RunRecords:
    """A training run's tables, read back from its artifacts (what its model card is made from)."""
    run = MlflowClient().get_run(run_id)

    def frame(path: str) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")))

    def optional(path: str) -> pd.DataFrame | None:
        try:
            return frame(path)
        except Exception:  # a run on a real regulator's data has no truth
            return None

    config = ExperimentConfig.model_validate(mlflow.artifacts.load_dict(f"runs:/{run_id}/experiment.json"))
    lists = mlflow.artifacts.load_dict(f"runs:/{run_id}/review_lists.json")
    predictions = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id,
                                                                      artifact_path="predictions.parquet"))
    return RunRecords(
        config=config, champions=lists["champions"], capacities=lists["capacities"],
        calibration={k: tuple(v) for k, v in lists["calibration"].items()},
        fold_metrics=frame("fold_metrics.csv"), summary=frame("model_comparison.csv").set_index(["review_list", "model"]),
        predictions=predictions, panel_counts=frame("panel_counts.csv").assign(as_of=lambda f: pd.to_datetime(f["as_of"])),
        extract_date=pd.Timestamp(run.data.tags["extract_date"]), findings=optional("truth/findings.csv"),
        differences=optional("truth/differences.csv"),
        truth_source=None if run.data.tags.get("truth", "none").startswith("none") else run.data.tags["truth"])


def refresh_model_card(run_id: str, bias: pd.DataFrame | None) -> str | None:
    """Re-render a training run's model card from its own artifacts, adding a bias-audit summary,
    and log it over the old one (and as the registered version's description)."""
    client = MlflowClient()
    run = client.get_run(run_id)
    version = run.data.tags.get("registered_version")
    if version is None:
        return None
    records = read_run_records(run_id)
    try:
        manifest = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    except Exception:  # runs from before manifests were recorded
        manifest = None
    card = render_markdown(model_name=records.config.tracking.registered_model, version=version, run_id=run_id,
                           records=records, manifest=manifest,
                           bias_summary=bias_summary(bias) if bias is not None else None)
    with tempfile.TemporaryDirectory() as td:
        (Path(td) / "model_card.md").write_text(card)
        (Path(td) / "model_card.html").write_text(markdown_to_html(card, f"{records.config.tracking.registered_model} v{version}"))
        client.log_artifact(run_id, str(Path(td) / "model_card.md"))
        client.log_artifact(run_id, str(Path(td) / "model_card.html"))
    client.update_model_version(records.config.tracking.registered_model, version,
                                description=card.split("## Intended use")[0].strip())
    return card
