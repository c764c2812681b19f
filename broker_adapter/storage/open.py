"""Open the store a URL names: `sqlite:///path/file.db` (or a plain path), later `mongodb://...`."""

from __future__ import annotations

from pathlib import Path

from broker_adapter.storage.port import Store


def open_store(url: str | None, data_dir: str | Path, *, synchronous: str = "FULL") -> Store:
    if not url:
        url = f"sqlite:///{Path(data_dir) / 'verbund.db'}"
    if url.startswith("sqlite:///"):
        from broker_adapter.storage.sqlite.store import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"), synchronous=synchronous)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError("the MongoDB store is not available in this version; use sqlite:///PATH")
    raise ValueError(f"unsupported store URL {url!r}; use sqlite:///PATH")
