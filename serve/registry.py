"""The model registry in MLflow: the champion to serve, and every registered version with its metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from risk_model import tracking
from risk_model.scoring import explainable
from serve.schemas import ModelInfo, ModelsOut, ModelVersionInfo
from serve.settings import Settings


class ChampionUnavailable(RuntimeError):
    """No version of the model carries the champion alias (or it cannot be loaded)."""


@dataclass(frozen=True, eq=False)
class Champion:
    """The fitted pipeline registered as champion, and which version it is."""

    pipeline: Pipeline
    info: ModelInfo
    explainable: bool


def load_champion(settings: Settings) -> Champion:
    """Load the champion from MLflow, fully, ready to score."""
    config = settings.tracking()
    tracking.use_tracking(config, settings.store_dir)
    try:
        pipeline, version = tracking.load_champion(config)
    except Exception as exc:
        # A missing or corrupt artifact fails inside the flavour's loader with whatever it raises;
        # only an alias that names no version means there is no champion at all.
        try:
            named = MlflowClient().get_model_version_by_alias(config.registered_model, config.champion_alias)
        except MlflowException:
            raise ChampionUnavailable(f"no {config.champion_alias!r} version of model {config.registered_model!r} in "
                                      f"{tracking.resolve_tracking_uri(config, settings.store_dir)}: run "
                                      f"`risk-model train` first ({exc})") from exc
        raise ChampionUnavailable(f"version {named.version} of model {config.registered_model!r} (the "
                                  f"{config.champion_alias!r}) cannot be loaded ({type(exc).__name__}: "
                                  f"{exc})") from exc
    info = ModelInfo(registered_model=version.name, version=str(version.version),
                     model=version.tags.get("model", version.name))
    return Champion(pipeline=pipeline, info=info, explainable=explainable(pipeline))


def registered_versions(settings: Settings, serving_version: str) -> ModelsOut:
    """Every registered version of the model, its aliases and its run's metrics."""
    config = settings.tracking()
    client = MlflowClient(tracking_uri=tracking.resolve_tracking_uri(config, settings.store_dir))
    try:
        aliases = dict(client.get_registered_model(config.registered_model).aliases or {})
    except MlflowException:
        aliases = {}
    champion = None if config.champion_alias not in aliases else str(aliases[config.champion_alias])
    aliases_of: dict[str, list[str]] = {}
    for alias, number in aliases.items():
        aliases_of.setdefault(str(number), []).append(alias)
    versions = []
    for version in client.search_model_versions(f"name = '{config.registered_model}'"):
        try:
            metrics = dict(client.get_run(version.run_id).data.metrics) if version.run_id else {}
        except MlflowException:
            metrics = {}
        created = (datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)
                   if version.creation_timestamp else None)
        number = str(version.version)
        versions.append(ModelVersionInfo(
            version=number, model=version.tags.get("model"), run_id=version.run_id, created_at=created,
            aliases=sorted(aliases_of.get(number, [])), is_champion=number == champion,
            is_serving=number == serving_version, metrics=metrics,
        ))
    versions.sort(key=lambda v: int(v.version) if v.version.isdigit() else 0, reverse=True)
    return ModelsOut(registered_model=config.registered_model, champion_alias=config.champion_alias,
                     champion_version=champion, serving_version=serving_version, versions=versions)
