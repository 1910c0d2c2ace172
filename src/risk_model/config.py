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

CONFIG_VERSION = 2


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


LabelDefinition = Literal["substantiated", "regulatory_action", "substantiated_given_inquiry", "late_return"]


class LabelConfig(_Frozen):
    """The horizon outcomes are counted over after an as-of date, and how long they are followed."""

    horizon_months: int = Field(12, ge=1, le=60, description="Cases opened within this many months of the "
                                "as-of date belong to it.")
    follow_up_months: int = Field(
        12, ge=0, le=60,
        description="Test as-of dates leave this long after their window for the outcomes of the cases "
                    "opened in it to be known; training censors whatever is still open at the fold's test date.",
    )


class ListConfig(_Frozen):
    """One review list: how many charities a year it can take, and the labels its models may learn."""

    capacity: int | None = Field(
        None, ge=1,
        description="Reviews a year the list is sized to; None: as many as the regulator opened into the list's "
                    "charities in a window (the concern-triage list's own pace).",
    )
    labels: tuple[LabelDefinition, ...] = Field(
        description="Label definitions the list's models are trained on, each a candidate; the first is the "
                    "list's target, on which candidates are compared.", min_length=1)
    selection_metric: Literal["precision_at_k", "auc_pr"] = Field(
        "precision_at_k", description="How candidates are compared on the target label, on the earlier folds.")


class ListsConfig(_Frozen):
    """The two lists: charities nobody has complained about, and concerns waiting to be triaged."""

    proactive: ListConfig = ListConfig(capacity=175, labels=("substantiated", "substantiated_given_inquiry"))
    triage: ListConfig = ListConfig(capacity=100, labels=("substantiated_given_inquiry", "substantiated"))


class SplitConfig(_Frozen):
    """Rolling yearly as-of dates and temporal folds."""

    as_of_month_day: str | None = Field(
        None, pattern=r"^\d{2}-\d{2}$",
        description="Month and day of the yearly as-of dates; None: the extract date's, so that training "
                    "sees the filing cycle at the point where the list is scored.",
    )
    first_as_of_year: int = Field(2011, description="Earliest as-of year used for training.")
    n_folds: int = Field(5, ge=2, description="Test folds; the latest is held out from choosing the champion.")
    min_history_years: int = Field(3, ge=0)


class ModelSpec(_Frozen):
    """One entry in the model grid."""

    name: str
    kind: Literal["rule", "queue", "logistic", "lightgbm"]
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class SamplingConfig(_Frozen):
    """Which charity-years are kept: in the panel on registers of millions, and in each model's fit."""

    negative_rate: float = Field(
        1.0, gt=0, le=1,
        description="Share of proactive-list charity-years without a case in their window kept in the panel "
                    "(drawn at random, seeded); 1 keeps all. Below 1, evaluation too sees only the sample.",
    )
    fit_negative_rate: float = Field(
        0.15, gt=0, le=1,
        description="Share of the negative charity-years each model is fitted on (seeded), each weighted by "
                    "the inverse of the share so that scores keep the whole population's scale; every "
                    "positive is kept, and evaluation sees every charity-year.",
    )


class EvaluationConfig(_Frozen):
    """Metrics, references and the choice of champion."""

    k_percent: float = Field(1.0, gt=0, le=100)
    baseline_model: str = Field("rule_baseline", description="The grid model other lists are compared with.")
    n_boot: int = Field(1000, ge=100, description="Paired bootstrap resamples for differences between lists.")


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
    lists: ListsConfig = ListsConfig()
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
