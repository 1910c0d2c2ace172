"""Typed experiment configuration, loaded from one YAML file that carries a `config_version`."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from risk_model.domain.names import nearest

CONFIG_VERSION = 2
# The one default seed: of the experiment, the simulated world, the audit's draws and the CCNI benchmark.
DEFAULT_SEED = 20_260_101


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


class _ModelParams(_Frozen):
    """Hyperparameters of one kind of model: every key named and typed, an unknown one refused."""

    def estimator_kwargs(self) -> dict:
        """The keyword arguments of the estimator, as set (unset optional ones left to its defaults)."""
        return self.model_dump(exclude_none=True)


class RuleParams(_ModelParams):
    """The indicator rule and the concern queue: the rate of each points total is shrunk towards the
    overall rate with this weight, so a rare total does not get an extreme rate."""

    prior_weight: float = Field(1.0, ge=0)


class LogisticParams(_ModelParams):
    """Logistic regression. No `class_weight`: a re-weighted fit would no longer give calibrated scores."""

    C: float = Field(1.0, gt=0, description="Inverse strength of the L2 penalty.")
    solver: Literal["lbfgs", "newton-cholesky", "newton-cg", "liblinear", "sag", "saga"] = "lbfgs"
    max_iter: int = Field(100, ge=1)
    tol: float | None = Field(None, gt=0)


class LightGBMParams(_ModelParams):
    """LightGBM's sklearn estimator; unset values keep LightGBM's defaults."""

    n_estimators: int = Field(100, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    num_leaves: int = Field(31, ge=2)
    max_depth: int = Field(-1, ge=-1, description="-1: no limit.")
    min_child_samples: int = Field(20, ge=1)
    subsample: float = Field(1.0, gt=0, le=1)
    subsample_freq: int = Field(0, ge=0)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    reg_alpha: float = Field(0.0, ge=0)
    reg_lambda: float = Field(0.0, ge=0)
    min_split_gain: float = Field(0.0, ge=0)
    max_bin: int | None = Field(None, ge=2, description="None: LightGBM's 255.")
    n_jobs: int | None = Field(None, description="Threads; None: the pipeline's default.")
    monotone_risk_indicators: bool = Field(
        True,
        description="Constrain the score never to fall as a risk indicator grows (estimators.MONOTONE_INCREASING).",
    )

    def estimator_kwargs(self) -> dict:
        return self.model_dump(exclude_none=True, exclude={"monotone_risk_indicators"})


MODEL_PARAMS: dict[str, type[_ModelParams]] = {
    "rule": RuleParams, "queue": RuleParams, "logistic": LogisticParams, "lightgbm": LightGBMParams,
}


class ModelSpec(_Frozen):
    """One entry in the model grid: a name, a kind, and that kind's typed hyperparameters."""

    name: str
    kind: Literal["rule", "queue", "logistic", "lightgbm"]
    params: RuleParams | LogisticParams | LightGBMParams

    @model_validator(mode="before")
    @classmethod
    def _typed_params(cls, data):
        """Read `params` as the hyperparameters of the spec's kind; name the model and key that fail."""
        if not isinstance(data, dict) or data.get("kind") not in MODEL_PARAMS:
            return data
        given = data.get("params") or {}
        if isinstance(given, _ModelParams):
            given = given.model_dump(exclude_unset=True)
        kind = MODEL_PARAMS[data["kind"]]
        try:
            params = kind.model_validate(given)
        except ValidationError as exc:
            raise ValueError(f"model {data.get('name')!r} ({data['kind']}): " + "; ".join(
                _param_problem(error, kind) for error in exc.errors())) from None
        return {**data, "params": params}


def _param_problem(error: dict, kind: type[BaseModel]) -> str:
    """One hyperparameter's problem in words, with the nearest known name for a misspelt key."""
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        near = nearest(key, kind.model_fields)
        hint = f" (did you mean {near!r}?)" if near else f" (known: {', '.join(kind.model_fields)})"
        return f"unknown parameter {key!r}{hint}"
    return f"parameter {key!r}: {error['msg']}"


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
    seed: int = DEFAULT_SEED
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


class ConfigError(ValueError):
    """A configuration file that cannot be used: missing, not YAML, or not a valid configuration."""


def validation_problems(exc: ValidationError) -> str:
    """A pydantic ValidationError on one line: each field's location and problem."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}" for e in exc.errors())


def read_config_mapping(text: str | None, source: str, what: str = "experiment file") -> dict:
    """A configuration's top-level mapping, from `text` or, when None, the file `source`; ConfigError names it."""
    if text is None:
        if not Path(source).is_file():
            raise ConfigError(f"{source}: {what} not found")
        text = Path(source).read_text()
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    return raw


def load_config(path: Path | None = None) -> ExperimentConfig:
    """Load an experiment file; without a path, the packaged default. ConfigError names the file."""
    if path is None:
        text = resources.files("risk_model").joinpath("defaults/experiment.yaml").read_text()
        raw = read_config_mapping(text, "the packaged default experiment")
    else:
        raw = read_config_mapping(None, str(path))
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path or 'the packaged default experiment'}: invalid experiment configuration: "
                          f"{validation_problems(exc)}") from exc
