"""Service settings, the API's and the pages', read from `RISK_SERVE_*` environment variables (or
passed in by tests): one object, built once by `get_settings()`.

API keys are configured hashed: each entry is a name, a role and the sha256 of the key, e.g.

    RISK_SERVE_API_KEYS='[{"name": "j.smith", "role": "case_officer", "sha256": "9f86d0..."}]'

`python -m serve.keys ROLE NAME` makes a new key and prints the entry to add.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from risk_model.config import TrackingConfig
from serve.internal.security import Role
from serve.schemas import MAX_CHARITIES_PER_REQUEST
from serve.values import KeyName


class ApiKey(BaseModel):
    """One API key: who holds it, their role, and the key's sha256 (the key itself is never stored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: KeyName
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex sha256 of the key.")


class CharitiesPerRequest(BaseModel):
    """Most charities one POST /score may carry, for each role (at most the API's own limit); e.g.
    `RISK_SERVE_MAX_CHARITIES='{"case_officer": 20}'` (the roles left out keep their defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    analyst: int = Field(MAX_CHARITIES_PER_REQUEST, ge=1, le=MAX_CHARITIES_PER_REQUEST)
    case_officer: int = Field(100, ge=1, le=MAX_CHARITIES_PER_REQUEST,
                              description="Case officers work a charity at a time: their keys score no batches.")
    auditor: int = Field(MAX_CHARITIES_PER_REQUEST, ge=1, le=MAX_CHARITIES_PER_REQUEST)
    admin: int = Field(MAX_CHARITIES_PER_REQUEST, ge=1, le=MAX_CHARITIES_PER_REQUEST)

    def of(self, role: Role) -> int:
        return getattr(self, str(role))


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
    # Lists of other dates, built by jobs, and the registry's alias
    stored_lists: int = Field(5, ge=2, description="Most as-of dates whose lists are kept: storing another "
                                                   "evicts the oldest, never the current lists.")
    max_list_jobs: int = Field(4, ge=1, description="Most list jobs waiting or building at once; more are "
                                                    "refused (503) until one is done.")
    check_alias_seconds: float = Field(60, ge=0, description="How often the registry's champion alias is read, "
                                                             "to say when it names another version (0: never).")
    follow_alias_seconds: float = Field(0, ge=0, description="When above 0, the alias is read this often and the "
                                                             "service reloads when it names another version.")
    version_reads_alias_seconds: float = Field(5, ge=0, description="Least time between two reads of the alias "
                                                                    "by GET /version (0: on every request); "
                                                                    "between them it says what was read last, "
                                                                    "and when, so a poller cannot load MLflow.")
    # What one request may carry: a full POST /score of typical records (about 5 kB a charity) is some 5 MB.
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body, in bytes; a larger "
                                                                       "one is refused (413) before it is read.")
    max_charities: CharitiesPerRequest = CharitiesPerRequest()
    api_keys: tuple[ApiKey, ...] = ()
    # Unknown keys (`RISK_SERVE_FAILED_KEY_*`), from the X-API-Key header and the sign-in form alike
    failed_key_limit: int = Field(10, ge=1, description="Unknown keys a client (address) may send within the "
                                                        "window; after that its requests get 429, keys unchecked.")
    failed_key_window_seconds: int = Field(60, ge=1, description="The moving window the failed keys are counted "
                                                                 "over, and the longest a client waits.")
    # The pages (`RISK_SERVE_WEB_*`)
    web_https_only: bool = Field(True, description="Mark the session cookie Secure: browsers send it back over "
                                                   "HTTPS only (Chromium also to http://localhost and 127.0.0.1). "
                                                   "Turn off only to try the pages over plain HTTP elsewhere.")
    web_session_idle_timeout_seconds: int = Field(30 * 60, ge=60, description="A session unused this long ends.")
    web_session_max_age_seconds: int = Field(8 * 3600, ge=60, description="A session ends this long after "
                                                                           "signing in, however much it is used.")
    web_mlflow_ui_url: str | None = Field(None, description="Where `mlflow ui` (or the tracking server) shows "
                                                            "runs, e.g. http://127.0.0.1:5000: the models page links "
                                                            "each run there. Unset: it gives the runs' ids, unlinked.")

    def tracking(self) -> TrackingConfig:
        """The MLflow settings as the library's tracking config."""
        return TrackingConfig(tracking_uri=self.tracking_uri,
                              registered_model=self.registered_model, champion_alias=self.champion_alias)


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once."""
    return Settings()
