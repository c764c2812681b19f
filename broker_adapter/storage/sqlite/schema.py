"""The SQLite schema as numbered migrations; `PRAGMA user_version` records the highest that ran.

Never edit a released migration: add one with the next number. Each runs in its own transaction.
Feature modules keep the SQL of their own tables (geo_index, history); this module lists every
migration by number, so which migrations exist never depends on which modules were imported.
"""

from broker_adapter.storage.sqlite import geo_index, history, registry

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
    # 4: subscriptions, the change log the notification matcher reads, the notification outbox
    4: """
    CREATE TABLE subscriptions (
        tenant            TEXT NOT NULL,
        id                TEXT NOT NULL,
        doc               TEXT NOT NULL,      -- the stored (expanded) subscription as JSON
        context           TEXT,               -- its raw @context as JSON (null: core only)
        since_seq         INTEGER NOT NULL,   -- changes up to this sequence number predate it
        active            INTEGER NOT NULL,   -- isActive
        expires           REAL,               -- expiresAt, epoch seconds
        created_at        TEXT NOT NULL,
        modified_at       TEXT NOT NULL,
        times_sent        INTEGER NOT NULL DEFAULT 0,
        times_failed      INTEGER NOT NULL DEFAULT 0,
        last_notification TEXT,
        last_success      TEXT,
        last_failure      TEXT,
        last_matched      REAL,               -- throttling: when the last notification was generated
        next_periodic     REAL,               -- timeInterval: when the next one is due
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE notify_changes (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant  TEXT NOT NULL,
        at      REAL NOT NULL,                -- epoch seconds of the write
        before  TEXT,                         -- the entity before (null: created)
        after   TEXT                          -- the entity after (null: deleted)
    );
    CREATE TABLE notify_outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant      TEXT NOT NULL,
        sub_id      TEXT NOT NULL,
        body        BLOB NOT NULL,            -- the rendered notification
        headers     TEXT NOT NULL,            -- JSON: Content-Type and Link that belong to the body
        created     REAL NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     REAL NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until REAL
    );
    CREATE INDEX notify_outbox_sub ON notify_outbox (tenant, sub_id, id);
    CREATE TABLE notify_state (
        key    TEXT PRIMARY KEY,
        value  INTEGER NOT NULL DEFAULT 0,
        owner  TEXT,
        until  REAL
    );
    INSERT INTO notify_state (key, value) VALUES ('subscriptions', 0), ('matcher', 0);
    """,
    # 5: per-tenant settings (e.g. the Smart Data Models policy), a small key -> JSON value map
    5: """
    CREATE TABLE tenant_settings (
        tenant  TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,             -- JSON
        PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID;
    """,
}

MIGRATIONS[2] = geo_index.MIGRATION  # the query indexes: attribute numbers and geometry boxes
MIGRATIONS[3] = history.MIGRATION  # the temporal history
MIGRATIONS[6] = registry.MIGRATION  # the municipality registry and the credentials
MIGRATIONS[7] = history.MIGRATION_SERIES_KEYS  # series keyed by entity; an entity's first series in its row
