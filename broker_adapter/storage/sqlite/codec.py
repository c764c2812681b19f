"""The API ↔ storage conversion pair for SQLite: a stored entity is one JSON document per row."""

from __future__ import annotations

import orjson

from broker_adapter.ngsild.types import ExpandedEntity


def entity_to_row(entity: ExpandedEntity) -> tuple[str, str, str]:
    """(created_at, modified_at, doc) for the entities table."""
    return entity["createdAt"], entity["modifiedAt"], orjson.dumps(entity).decode()


def entity_from_row(doc: str) -> ExpandedEntity:
    return orjson.loads(doc)
