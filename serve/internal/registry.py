"""The model registry in MLflow: the champion to serve, and every registered version with its metrics."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from risk_model.lists.explain import base_values, explainable, has_reasons
from risk_model.lists.membership import REVIEW_LISTS
from risk_model.lists.points import probability
from risk_model.models import ReviewLists
from risk_model.tracking import store
from serve.schemas import ModelInfo, ModelsOut, ModelVersionInfo
from serve.settings import Settings


class ChampionUnavailable(RuntimeError):
    """No version of the model carries the champion alias (or it cannot be loaded)."""


@dataclass(frozen=True, eq=False)
class Champion:
    """The review lists registered as champion (one fitted pipeline per list), and which version it is."""

    model: ReviewLists
    info: ModelInfo
    explainable: bool

    @property
    def capacities(self) -> dict[str, int]:
        return self.info.capacities

    @cached_property
    def base_rates(self) -> dict[str, float] | None:
        """Each list's base rate: the chance its model gives a typical charity, where a charity page's waterfall
        starts (worked out once per champion, not per page); None for a model without reasons."""
        if not has_reasons(self.model):
            return None
        return {name: float(probability(value)) for name, value in base_values(self.model).items()}


def capacities_of(model: ReviewLists, tags: dict[str, str]) -> dict[str, int] | None:
    """Reviews a year each list is sized to: the model's own, else its version's `capacities` tag."""
    try:
        given = model.capacities or json.loads(tags.get("capacities", "{}"))
        capacities = {name: int(given[name]) for name in REVIEW_LISTS}
    except (KeyError, TypeError, ValueError):
        return None
    return capacities if min(capacities.values()) >= 1 else None


def load_champion(settings: Settings) -> Champion:
    """Load the champion from MLflow, fully, ready to score."""
    config = settings.tracking()
    # Only the registry is read: the service logs no runs, so it names no experiment and creates none.
    mlflow.set_tracking_uri(store.resolve_tracking_uri(config, settings.store_dir))
    try:
        model, version = store.load_champion(config)
    except Exception as exc:
        # A missing or corrupt artifact fails inside the flavour's loader with whatever it raises;
        # only an alias that names no version means there is no champion at all.
        try:
            named = MlflowClient().get_model_version_by_alias(config.registered_model, config.champion_alias)
        except MlflowException:
            raise ChampionUnavailable(f"no {config.champion_alias!r} version of model {config.registered_model!r} in "
                                      f"{store.resolve_tracking_uri(config, settings.store_dir)}: run "
                                      f"`risk-model train` first ({exc})") from exc
        raise ChampionUnavailable(f"version {named.version} of model {config.registered_model!r} (the "
                                  f"{config.champion_alias!r}) cannot be loaded ({type(exc).__name__}: "
                                  f"{exc})") from exc
    if not isinstance(model, ReviewLists):
        raise ChampionUnavailable(f"version {version.version} of model {config.registered_model!r} (the "
                                  f"{config.champion_alias!r}) holds a {type(model).__name__}, not the review lists "
                                  "this service serves: train it again with `risk-model train`")
    capacities = capacities_of(model, version.tags)
    if capacities is None:
        raise ChampionUnavailable(f"version {version.version} of model {config.registered_model!r} (the "
                                  f"{config.champion_alias!r}) says nothing of the capacity of each review list")
    info = ModelInfo(registered_model=version.name, version=str(version.version),
                     model=version.tags.get("model", version.name), capacities=capacities)
    return Champion(model=model, info=info, explainable=explainable(model))


def champion_version(settings: Settings) -> str | None:
    """The version the registry's champion alias names now, without loading it (None: no such alias)."""
    config = settings.tracking()
    client = MlflowClient(tracking_uri=store.resolve_tracking_uri(config, settings.store_dir))
    try:
        return str(client.get_model_version_by_alias(config.registered_model, config.champion_alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def version_metrics(tags: dict[str, str], run_metrics: dict[str, float]) -> dict[str, float]:
    """A version's figures: its lists' champions' metrics (tagged `proactive.holdout_precision_at_k`, ...) and,
    from its training run on a simulated world, their figures against the truth (`truth.*`)."""
    metrics = {}
    for key, value in tags.items():
        if key.split(".", 1)[0] in REVIEW_LISTS:
            try:
                metrics[key] = float(value)
            except ValueError:
                continue
    metrics |= {k: v for k, v in run_metrics.items() if k.startswith("truth.")}
    return {k: v for k, v in sorted(metrics.items()) if math.isfinite(v)}


def training_run_id(client: MlflowClient, version) -> str | None:
    """The training (parent) run a registered version's review lists came from, if it can be found."""
    if version.tags.get("parent_run_id"):
        return version.tags["parent_run_id"]
    try:
        return client.get_run(version.run_id).data.tags.get("mlflow.parentRunId") if version.run_id else None
    except MlflowException:
        return None


def registered_versions(settings: Settings, serving_version: str) -> ModelsOut:
    """Every registered version of the model, its aliases and its run's metrics."""
    config = settings.tracking()
    client = MlflowClient(tracking_uri=store.resolve_tracking_uri(config, settings.store_dir))
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
        parent = training_run_id(client, version)
        try:
            run_metrics = dict(client.get_run(parent).data.metrics) if parent else {}
        except MlflowException:
            run_metrics = {}
        created = (datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)
                   if version.creation_timestamp else None)
        number = str(version.version)
        try:
            capacities = {str(k): int(v) for k, v in json.loads(version.tags.get("capacities", "{}")).items()}
        except (ValueError, TypeError, AttributeError):
            capacities = {}
        versions.append(ModelVersionInfo(
            version=number, model=version.tags.get("model"), run_id=version.run_id, training_run_id=parent,
            created_at=created, aliases=sorted(aliases_of.get(number, [])), is_champion=number == champion,
            is_serving=number == serving_version, capacities=capacities,
            metrics=version_metrics(version.tags, run_metrics),
        ))
    versions.sort(key=lambda v: int(v.version) if v.version.isdigit() else 0, reverse=True)
    return ModelsOut(registered_model=config.registered_model, champion_alias=config.champion_alias,
                     champion_version=champion, serving_version=serving_version, versions=versions)
