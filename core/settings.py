"""Typed settings: settings.toml defaults, an APP_ENV profile laid over them, then APP_* env vars."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "settings.toml"
# Published in earlier releases' settings.toml: refused everywhere, since anyone can sign with it.
PUBLISHED_SECRETS = frozenset({"dev-only-insecure-secret-key-change-me"})


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    threads: int = Field(8, ge=1, le=256)
    workers: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(1_048_576, ge=1)
    trusted_proxy_count: int = Field(0, ge=0)
    connection_limit: int = Field(1000, ge=1)
    # A connection with no request in progress is closed after this long (waitress's channel_timeout).
    idle_timeout_seconds: int = Field(30, ge=1, le=3600)
    # Connections one client address may hold at once; one more is closed as it is accepted (0: no cap).
    max_connections_per_address: int = Field(256, ge=0)
    cpu_affinity: bool = False
    graceful_timeout_seconds: int = Field(30, ge=0, le=3600)


class DatabaseSettings(BaseModel):
    url: str = "sqlite:///var/inkwell.db"
    echo: bool = False
    busy_timeout_ms: int = 10_000
    # SQLite reads up to this many bytes of the database file through a memory map, with no read()
    # call or copy per page (0: off). An I/O error on the file then stops the worker with SIGBUS
    # instead of failing one query; `serve` starts a new one.
    sqlite_mmap_bytes: int = Field(1 << 30, ge=0)
    # PostgreSQL, per worker process: pooled connections (0: one per server thread) and how many
    # more may open under a burst. Each worker of each host holds up to pool_size + max_overflow.
    pool_size: int = Field(0, ge=0, le=1000)
    max_overflow: int = Field(4, ge=0, le=1000)
    # psycopg prepares a statement server-side after this many runs on a connection; None (TOML:
    # "none") never does, which PgBouncer in transaction mode needs before 1.21 (or with
    # max_prepared_statements = 0).
    prepare_threshold: int | None = Field(5, ge=0)

    @field_validator("prepare_threshold", mode="before")
    @classmethod
    def _none_spelled_out(cls, value: Any) -> Any:
        # TOML and environment variables have no null: "none" (or "null", or "") stands for it.
        if isinstance(value, str) and value.strip().lower() in ("none", "null", ""):
            return None
        return value


class RedisSettings(BaseModel):
    url: str = ""
    socket_timeout_seconds: float = 0.25
    key_prefix: str = "inkwell"


class RateLimitSettings(BaseModel):
    enabled: bool = True
    anonymous: str = "60/minute"
    authenticated: str = "600/minute"
    login: str = "10/minute"
    tiers: dict[str, str] = Field(
        default_factory=lambda: {"standard": "600/minute", "elevated": "6000/minute", "unlimited": ""}
    )


class CacheSettings(BaseModel):
    enabled: bool = True
    default_ttl_seconds: int = Field(60, ge=1)


class AuthSettings(BaseModel):
    # Empty: outside production, the one kept in secret_key_file (generated on first use).
    secret_key: str = ""
    secret_key_file: str = "var/secret_key"  # noqa: S105 - a path, not a secret
    access_ttl_seconds: int = Field(900, ge=1)
    refresh_ttl_seconds: int = Field(1_209_600, ge=1)
    # Clock skew forgiven on exp, nbf and iat: a token lives at most this long past its exp.
    leeway_seconds: int = Field(5, ge=0, le=300)
    issuer: str = "inkwell"
    audience: str = "inkwell-api"


class ApiKeySettings(BaseModel):
    # Live (unrevoked, unexpired) keys one user may hold; each has its own budget (0: no cap).
    max_per_user: int = Field(20, ge=0, le=10_000)


class MetricsSettings(BaseModel):
    # Empty: /metrics is open outside production and not served in it. Set: a scrape must send
    # `Authorization: Bearer <token>`, in every profile.
    token: str = ""
    # A scrape within this long of the last one gets the same text (rendering reads every
    # worker's files).
    min_interval_seconds: float = Field(1.0, ge=0, le=60)


class SearchSettings(BaseModel):
    # A full-text search that takes longer answers with the best of what it found by then
    # (incomplete_results: true).
    timeout_ms: int = Field(1000, ge=1, le=60_000)


class CorsSettings(BaseModel):
    origins: list[str] = Field(default_factory=list)


class LogSettings(BaseModel):
    level: str = "INFO"
    json_lines: bool = Field(False, alias="json")

    model_config = {"populate_by_name": True}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _TomlProfileSource(PydanticBaseSettingsSource):
    """settings.toml sections, with [profiles.<APP_ENV>] laid over them."""

    def __init__(self, settings_cls: type[BaseSettings], env: str | None) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        raise NotImplementedError  # __call__ is used instead

    def __call__(self) -> dict[str, Any]:
        if not SETTINGS_FILE.exists():
            return {}
        data = tomllib.loads(SETTINGS_FILE.read_text())
        profiles = data.pop("profiles", {})
        env = self.env or os.environ.get("APP_ENV") or "development"
        merged = deep_merge(data, profiles.get(env, {}))
        # An APP_<SECTION>__<KEY> variable replaces the file's value, also for tables such as
        # rate_limit.tiers (pydantic-settings would otherwise merge the two dicts).
        overridden = {name.upper() for name in os.environ}
        for section, values in merged.items():
            if isinstance(values, dict):
                for key in [k for k in values if f"APP_{section}__{k}".upper() in overridden]:
                    del values[key]
        return merged


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env = init_settings.init_kwargs.get("env")  # type: ignore[attr-defined]
        return init_settings, env_settings, _TomlProfileSource(settings_cls, env)

    @model_validator(mode="after")
    def _refuse_a_weak_secret(self) -> Settings:
        secret = self.auth.secret_key
        if secret in PUBLISHED_SECRETS:
            raise ValueError(
                "auth.secret_key is the published example: anyone could sign tokens with it; "
                "set APP_AUTH__SECRET_KEY to a random secret of 32+ characters, or leave it empty "
                "outside production for a generated one"
            )
        if self.env == "production" and len(secret) < 32:
            raise ValueError("production needs APP_AUTH__SECRET_KEY: a secret of 32+ characters")
        if secret and len(secret) < 32:
            raise ValueError("auth.secret_key must be 32+ characters (or empty for a generated one)")
        return self
