"""The SQLite schema as numbered migrations; `PRAGMA user_version` records the highest that ran.

Never edit a released migration: add one with the next number. Each runs in its own transaction.
Feature modules own their migrations (they register them in MIGRATIONS by number), so the
numbers, not the order of imports, fix the order.
"""

MIGRATIONS: dict[int, str] = {
    # 1: entities, their types, tenants, @contexts
    1: """
    CREATE TABLE tenants (
        name        TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE entities (
        rid         INTEGER PRIMARY KEY,
        tenant      TEXT NOT NULL,
        id          TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        doc         TEXT NOT NULL,          -- the stored (expanded) entity as JSON
        UNIQUE (tenant, id)
    );
    CREATE INDEX entities_modified ON entities (tenant, modified_at);
    -- one row per (entity, type): type scans use the primary key, ordered by id
    CREATE TABLE entity_types (
        tenant  TEXT NOT NULL,
        type    TEXT NOT NULL,
        id      TEXT NOT NULL,
        PRIMARY KEY (tenant, type, id)
    ) WITHOUT ROWID;
    CREATE TABLE contexts (
        id          TEXT PRIMARY KEY,
        url         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        document    TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        last_usage  TEXT,
        hits        INTEGER NOT NULL DEFAULT 0
    );
    """,
}
