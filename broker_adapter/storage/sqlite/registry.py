"""The municipality registry and the credentials in SQLite: two small tables of JSON records.

Both hold a handful of rows per municipality and are read through caches in the access layer, so a
document column keyed by the natural id is all they need.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from broker_adapter.ngsild.errors import AlreadyExists
from broker_adapter.ngsild.types import Tenant
from broker_adapter.storage.sqlite import history

MIGRATION = """
    CREATE TABLE municipalities (
        tenant  TEXT PRIMARY KEY,
        doc     TEXT NOT NULL              -- the record as the admin API shows it (JSON)
    );
    CREATE TABLE credentials (
        id      TEXT PRIMARY KEY,
        doc     TEXT NOT NULL              -- JSON (an API key: only a hash of its secret)
    )
"""

# Tables whose rows belong to one tenant (column "tenant"), emptied when a tenant is purged.
_TENANT_TABLES = (
    "entities",
    "entity_types",
    "attr_numbers",
    "subscriptions",
    "notify_outbox",
    "notify_changes",
    "tenant_settings",
    "history_retention",
)


def put_municipality(conn: sqlite3.Connection, record: dict[str, Any], create: bool) -> None:
    tenant = record["tenant"]
    doc = orjson.dumps(record).decode()
    if create:
        try:
            conn.execute("INSERT INTO municipalities (tenant, doc) VALUES (?, ?)", (tenant, doc))
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"municipality {tenant!r} is already registered") from exc
    else:
        conn.execute("INSERT OR REPLACE INTO municipalities (tenant, doc) VALUES (?, ?)", (tenant, doc))
    conn.execute("INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, datetime('now'))", (tenant,))


def put_credential(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO credentials (id, doc) VALUES (?, ?)",
        (record["id"], orjson.dumps(record).decode()),
    )


def purge_tenant(conn: sqlite3.Connection, tenant: Tenant) -> int:
    """Delete a tenant's rows everywhere but in the registry; the history series go by their keys."""
    entities = conn.execute("SELECT count(*) FROM entities WHERE tenant = ?", (tenant,)).fetchone()[0]
    conn.execute("DELETE FROM geo_rtree WHERE gid IN (SELECT gid FROM geo_boxes WHERE tenant = ?)", (tenant,))
    conn.execute("DELETE FROM geo_boxes WHERE tenant = ?", (tenant,))
    for table in _TENANT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))
    series = f"SELECT sid FROM ({history.series_select('e.tenant = :tenant')})"
    conn.execute(f"DELETE FROM history WHERE sid IN ({series})", {"tenant": tenant})
    conn.execute(
        "DELETE FROM history_series WHERE eid IN (SELECT eid FROM history_entities WHERE tenant = ?)",
        (tenant,),
    )
    conn.execute("DELETE FROM history_entities WHERE tenant = ?", (tenant,))
    conn.execute("DELETE FROM tenants WHERE name = ?", (tenant,))
    # the notification matcher reloads its subscriptions when this version moves (storage/sqlite/notify.py)
    conn.execute("UPDATE notify_state SET value = value + 1 WHERE key = 'subscriptions'")
    return entities


def records(rows: list[tuple]) -> list[dict[str, Any]]:
    return [orjson.loads(row[0]) for row in rows]
