"""Typed experiment configuration, loaded from one YAML file that carries a `config_version`."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

CONFIG_VERSION = 1


def version_field(supported: int):
    """The type of a configuration file's `config_version`: refused unless it is `supported`."""
    def known(value: int) -> int:
        if value != supported:
            raise ValueError(f"config_version {value} is not supported (expected {supported})")
        return value

    return Annotated[int, AfterValidator(known)]


ConfigVersion = version_field(CONFIG_VERSION)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelConfig(_Frozen):
    """What counts as a positive outcome after an as-of date."""

    definition: Literal["regulatory_action", "late_return"] = Field(
        "regulatory_action",
        description="regulatory_action: an inquiry closed with regulatory action within the horizon; "
        "late_return: the next return due within the horizon was not received by its due date.",
    )
    horizon_months: int = Field(12, ge=1, le=60)
    exclude_open_inquiries: bool = Field(
        True, description="Leave out charities already under inquiry at the as-of date: they need no list."
    )


class SplitConfig(_Frozen):
    """Rolling yearly as-of dates and temporal folds."""

    as_of_month_day: str = Field("04-01", pattern=r"^\d{2}-\d{2}$")
    first_as_of_year: int = Field(2011, description="Earliest as-of year used for training.")
    n_folds: int = Field(5, ge=1)
    min_history_years: int = Field(3, ge=0)


class ModelSpec(_Frozen):
    """One entry in the model grid."""

    name: str
    kind: Literal["rule", "logistic", "lightgbm"]
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class SamplingConfig(_Frozen):
    """Which charity-years the training panel keeps: on registers of millions, a share of the negatives."""

    negative_rate: float = Field(
        1.0, gt=0, le=1,
        description="Share of charity-years without a positive label kept for training and validation "
                    "(drawn at random, seeded); 1 keeps all. Positives are always kept.",
    )


class EvaluationConfig(_Frozen):
    """Metrics and the choice of champion."""

    capacity_k: int = Field(175, ge=1, description="Yearly inquiry capacity, in charities.")
    k_percent: float = Field(1.0, gt=0, le=100)
    selection_metric: str = "precision_at_k"
    baseline_model: str = "rule_baseline"


class TrackingConfig(_Frozen):
    """Where runs go in MLflow."""

    tracking_uri: str | None = Field(None, description="None: $MLFLOW_TRACKING_URI, else a local store under mlruns/.")
    experiment: str = "charity-risk"
    registered_model: str = "charity-risk"
    champion_alias: str = "champion"


class ExperimentConfig(_Frozen):
    """A whole training run: data, labels, splits, models, evaluation and tracking."""

    config_version: ConfigVersion = CONFIG_VERSION
    seed: int = 20_260_101
    extract_date: date | None = Field(None, description="Date the data were extracted; None: latest date in the data.")
    label: LabelConfig = LabelConfig()
    splits: SplitConfig = SplitConfig()
    sampling: SamplingConfig = SamplingConfig()
    models: tuple[ModelSpec, ...] = ()
    evaluation: EvaluationConfig = EvaluationConfig()
    tracking: TrackingConfig = TrackingConfig()

    @field_validator("models")
    @classmethod
    def _unique_names(cls, value: tuple[ModelSpec, ...]) -> tuple[ModelSpec, ...]:
        names = [m.name for m in value]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}")
        return value

    def config_hash(self) -> str:
        """Stable sha256 of the configuration's content."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()


def load_config(path: Path | None = None) -> ExperimentConfig:
    """Load an experiment file; without a path, the packaged default."""
    if path is None:
        text = resources.files("risk_model").joinpath("defaults/experiment.yaml").read_text()
        source = "the packaged default experiment"
    else:
        text = Path(path).read_text()
        source = str(path)
    raw = yaml.safe_load(text) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    try:
        return ExperimentConfig.model_validate(raw)
    except Exception as exc:
        raise ValueError(f"{source}: invalid experiment configuration:\n{exc}") from exc
