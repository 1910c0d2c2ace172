"""Service settings, the API's and the pages', read from `RISK_SERVE_*` environment variables (or
passed in by tests): one object, built once by `get_settings()`.

API keys are configured hashed: each entry is a name, a role and the sha256 of the key, e.g.

    RISK_SERVE_API_KEYS='[{"name": "j.smith", "role": "case_officer", "sha256": "9f86d0..."}]'

`python -m serve.keys ROLE NAME` makes a new key and prints the entry to add.
"""

from __future__ import annotations

import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from risk_model.config import TrackingConfig
from serve.internal.security import Role


class ApiKey(BaseModel):
    """One API key: who holds it, their role, and the key's sha256 (the key itself is never stored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex sha256 of the key.")


class Settings(BaseSettings):
    """Where the data, the models and the service's database are, and who may call it."""

    model_config = SettingsConfigDict(env_prefix="RISK_SERVE_", frozen=True, extra="forbid")

    data_dir: Path = Field(Path("data/sim"), description="Regulator data folder the review lists are scored from.")
    database_url: str = Field(
        "sqlite:///out/serve/service.db",
        description="SQLAlchemy URL of the service database: SQLite file by default, or postgresql://...",
    )
    tracking_uri: str | None = Field(None, description="MLflow tracking URI; None: $MLFLOW_TRACKING_URI, else "
                                                        "a SQLite store under store_dir.")
    store_dir: Path = Field(Path("mlruns"), description="Local MLflow store when no tracking URI is set.")
    registered_model: str = "charity-risk"
    champion_alias: str = "champion"
    as_of: date | None = Field(None, description="As-of date of the current list; None: the data's extract date.")
    n_reasons: int = Field(3, ge=1, le=10, description="Reasons given each way (raising and lowering a score).")
    max_batch_charities: int = Field(512, ge=1, description="Most charities scored together in one pass.")
    api_keys: tuple[ApiKey, ...] = ()
    # The pages (`RISK_SERVE_WEB_*`)
    web_session_secret: SecretStr | None = Field(
        None, description="Signs the pages' session cookie; None: a random secret per process (sign in again "
                          "after a restart). Set it when several workers serve the pages.")
    web_https_only: bool = Field(False, description="Send the session cookie over HTTPS only.")
    web_session_max_age_seconds: int = Field(8 * 3600, ge=60, description="How long a sign-in lasts.")
    web_mlflow_ui_url: str = Field("http://127.0.0.1:5000", description="Where `mlflow ui` (or the tracking "
                                                                       "server) shows runs, for the model page's links.")

    def session_secret(self) -> str:
        """The secret that signs the session cookie: the configured one, else a new random one."""
        return self.web_session_secret.get_secret_value() if self.web_session_secret else secrets.token_urlsafe(32)

    def tracking(self) -> TrackingConfig:
        """The MLflow settings as the library's tracking config."""
        return TrackingConfig(tracking_uri=self.tracking_uri,
                              registered_model=self.registered_model, champion_alias=self.champion_alias)


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once."""
    return Settings()
