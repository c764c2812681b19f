"""Open the store a URL names: `sqlite:///path/file.db`, `mongodb://host/prefix` (or `mongodb+srv://`),
and for tests `mongomock://name` (an in-process stand-in for MongoDB, gone with the process)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from broker_adapter.storage.port import Store

if TYPE_CHECKING:
    from broker_adapter.storage.mongo.connection import MongoOptions
    from verbund.settings import Settings


def open_store(
    url: str | None, data_dir: str | Path, *, synchronous: str = "FULL", mongo: MongoOptions | None = None
) -> Store:
    if not url:
        url = f"sqlite:///{Path(data_dir) / 'verbund.db'}"
    if url.startswith("sqlite:///"):
        from broker_adapter.storage.sqlite.store import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"), synchronous=synchronous)
    if url.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
        from broker_adapter.storage.mongo.store import MongoStore

        return MongoStore(url, mongo)
    raise ValueError(f"unsupported store URL {url!r}; use sqlite:///PATH or mongodb://HOST/DATABASE")


def open_configured_store(settings: Settings) -> Store:
    """The store the settings name, with their SQLite and MongoDB options."""
    return open_store(
        settings.store_url,
        settings.data_dir,
        synchronous=settings.sqlite_synchronous,
        mongo=settings.mongo_options() if settings.store_url.startswith("mongo") else None,
    )
