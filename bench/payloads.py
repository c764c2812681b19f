"""WaterObserved-like entities in normalized NGSI-LD form, pre-serialised into upsert batches.

Ids are ``urn:ngsi-ld:WaterObserved:bench-0000000`` … (seven digits, from 0); the wrk script rebuilds them
from the same pattern, so keep ``ID_PATTERN`` and ``entity_id`` in step.
"""

from dataclasses import dataclass
from typing import Any

import orjson

ID_PREFIX = "urn:ngsi-ld:WaterObserved:bench-"
ID_PATTERN = ID_PREFIX + "%07d"  # printf form, shared with the Lua script
OBSERVED_AT = "2026-11-25T10:00:00Z"


def entity_id(index: int) -> str:
    return ID_PATTERN % index


def _measurement(value: float, unit_code: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "unitCode": unit_code, "observedAt": OBSERVED_AT}


def make_entity(index: int) -> dict[str, Any]:
    """One entity with 8 attributes; values vary with ``index`` but are reproducible."""
    step = index % 1000
    return {
        "id": entity_id(index),
        "type": "WaterObserved",
        "height": _measurement(round(0.5 + step / 400, 3), "MTR"),
        "flow": _measurement(round(1.0 + step / 100, 2), "MQS"),
        "temperature": _measurement(round(4.0 + step / 50, 2), "CEL"),
        "conductivity": _measurement(float(300 + step), "H61"),
        "pH": _measurement(round(6.5 + step / 1000, 3), "C62"),
        "dateObserved": {"type": "Property", "value": OBSERVED_AT},
        "location": {
            "type": "GeoProperty",
            "value": {
                "type": "Point",
                "coordinates": [7.75 + step * 1e-4, 49.44 + (index // 1000 % 1000) * 1e-4],
            },
        },
        "refDevice": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:bench-{index:07d}"},
    }


@dataclass(frozen=True)
class Batch:
    first: int
    count: int
    body: bytes


def make_batches(entities: int, batch_size: int) -> list[Batch]:
    """All ``entities`` split into request bodies of ``batch_size`` (the last one may be shorter)."""
    batches = []
    for first in range(0, entities, batch_size):
        count = min(batch_size, entities - first)
        body = orjson.dumps([make_entity(index) for index in range(first, first + count)])
        batches.append(Batch(first, count, body))
    return batches
