"""The one settings object: defaults, overridden by VERBUND_* environment variables, then by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class Settings:
    data_dir: str = "./data"
    store_url: str = ""  # empty: sqlite:///<data_dir>/verbund.db
    host: str = "127.0.0.1"
    broker_port: int = 1026
    iota_north_port: int = 4041
    iota_south_port: int = 7896
    public_url: str = ""  # how clients reach the broker; empty: http://<host>:<broker_port>
    log_level: str = "info"
    log_format: str = "json"  # json or text
    sqlite_synchronous: str = "FULL"
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 32 * 1024 * 1024
    max_json_depth: int = 32
    max_batch_entities: int = 10_000
    context_fetch_timeout: float = 5.0
    context_max_bytes: int = 2 * 1024 * 1024
    default_limit: int = 20
    max_limit: int = 1000

    def __post_init__(self) -> None:
        if self.log_level not in _LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(_LOG_LEVELS)}, not {self.log_level!r}")
        if self.log_format not in ("json", "text"):
            raise ValueError(f"log format must be json or text, not {self.log_format!r}")
        for name in (
            "max_body_bytes",
            "max_batch_body_bytes",
            "max_json_depth",
            "max_batch_entities",
            "context_max_bytes",
            "default_limit",
            "max_limit",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit cannot exceed max_limit")

    @property
    def broker_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.broker_port}").rstrip("/")

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def env_name(field_name: str) -> str:
    return "VERBUND_" + field_name.upper()


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < VERBUND_* variables < explicit overrides (CLI flags)."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None or raw == "":
            continue
        kind = type(getattr(Settings, f.name))
        try:
            values[f.name] = kind(raw)
        except ValueError as exc:
            raise ValueError(f"{env_name(f.name)}={raw!r} is not a valid {kind.__name__}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
