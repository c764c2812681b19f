"""The spatial index for geo-queries: an R*Tree of bounding boxes, one per geometry-valued attribute
instance, maintained inside each entity write transaction by a write hook (SqliteStore.write_hooks).

    geo_boxes (gid, tenant, id, attr, minx, maxx, miny, maxy)   which entity and attribute a box is of
    geo_rtree (gid, minx, maxx, miny, maxy)                     the R*Tree over the same boxes

The index only prunes: a geo-query takes the entities whose box can satisfy the relation as candidates
and the reference evaluator decides the exact relation on them (evaluate._geo_matches). Boxes are
stored as 32-bit floats rounded outwards by SQLite's rtree, so pruning never loses a match. An
instance is indexed when its value is a GeoJSON geometry, whatever the attribute's kind: that is what
the evaluator tests. `disjoint` and `near;minDistance` match far-away geometries, so for them every
entity with the geoproperty is a candidate.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from broker_adapter.ngsild import geojson
from broker_adapter.ngsild.query.ast import GeoQuery, GeoRel
from broker_adapter.ngsild.query.geo import haversine_m
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.geo_boxes import Box, geometry_boxes
from broker_adapter.storage.geo_boxes import search_box as _search_box
from broker_adapter.storage.sqlite import number_index
from broker_adapter.storage.sqlite.bulk import insert_many

# Migration 2 holds the query indexes: attribute numbers (number_index) and geometry boxes.
# Existing entities are indexed by the migration itself: positions are the arrays whose first member
# is a number (json_tree visits the coordinates of every geometry type that way).
MIGRATION = (
    number_index.MIGRATION
    + ";\n"
    + """
    CREATE TABLE geo_boxes (
        gid     INTEGER PRIMARY KEY,
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        attr    TEXT NOT NULL,
        kind    TEXT NOT NULL,              -- the GeoJSON type: Point boxes are decided without the doc
        minx REAL NOT NULL, maxx REAL NOT NULL, miny REAL NOT NULL, maxy REAL NOT NULL
    );
    CREATE INDEX geo_boxes_entity ON geo_boxes (tenant, id);
    CREATE INDEX geo_boxes_attr ON geo_boxes (tenant, attr, id);
    CREATE VIRTUAL TABLE geo_rtree USING rtree (gid, minx, maxx, miny, maxy);
    INSERT INTO geo_boxes (tenant, id, attr, kind, minx, maxx, miny, maxy)
        SELECT e.tenant, e.id, a.key, json_extract(i.value, '$.value.type'),
               min(json_extract(p.value, '$[0]')), max(json_extract(p.value, '$[0]')),
               min(json_extract(p.value, '$[1]')), max(json_extract(p.value, '$[1]'))
        FROM entities e, json_each(e.doc, '$.attrs') a, json_each(a.value) i,
             json_tree(i.value, '$.value.coordinates') p
        WHERE json_extract(i.value, '$.value.type') IN
                ('Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon')
          AND p.type = 'array' AND json_type(p.value, '$[0]') IN ('integer', 'real')
          AND json_type(p.value, '$[1]') IN ('integer', 'real')
        GROUP BY e.rid, a.key, i.key;
    INSERT INTO geo_rtree (gid, minx, maxx, miny, maxy) SELECT gid, minx, maxx, miny, maxy FROM geo_boxes
"""
)


def _boxes(entity: ExpandedEntity | None) -> list[tuple[str, str, Box]]:
    """(attribute IRI, geometry type, box) of every instance whose value is a readable geometry."""
    return [(attr, value["type"], box) for attr, value, box in geometry_boxes(entity)]


Changed = list[tuple[ExpandedEntity | None, ExpandedEntity | None]]


def index_hook(conn: sqlite3.Connection, tenant: Tenant, changed: Changed) -> None:
    """Write hook: replace the boxes of every changed entity whose geometries changed."""
    deletes: list[tuple[str, str]] = []
    rows: list[tuple[str, str, str, str, Box]] = []
    for before, after in changed:
        old, new = _boxes(before), _boxes(after)
        if old == new:
            continue
        entity_id = (after or before or {})["id"]
        if old:
            deletes.append((tenant, entity_id))
        rows.extend((tenant, entity_id, attr, kind, box) for attr, kind, box in new)
    if deletes:
        conn.executemany(
            "DELETE FROM geo_rtree WHERE gid IN (SELECT gid FROM geo_boxes WHERE tenant = ? AND id = ?)",
            deletes,
        )
        conn.executemany("DELETE FROM geo_boxes WHERE tenant = ? AND id = ?", deletes)
    if rows:
        # Writers are serialised (one write transaction at a time), so gids can be allocated here.
        start = conn.execute("SELECT ifnull(max(gid), 0) + 1 FROM geo_boxes").fetchone()[0]
        numbered = [(start + n, *row[:4], *row[4]) for n, row in enumerate(rows)]
        insert_many(
            conn, "INSERT INTO geo_boxes (gid, tenant, id, attr, kind, minx, maxx, miny, maxy)", numbered
        )
        insert_many(
            conn, "INSERT INTO geo_rtree (gid, minx, maxx, miny, maxy)", [(r[0], *r[5:]) for r in numbered]
        )


def candidates_sql(query: GeoQuery) -> tuple[str, dict[str, Any]]:
    """A SELECT of candidate entities for :tenant, one row each: `id`, `points` (1 when every box found
    is of a Point) and `xy` (a JSON array of their [x, y]), for `decide`."""
    params: dict[str, Any] = {"geo_attr": query.geoproperty}
    columns = (
        "b.id AS id, min(b.kind = 'Point') AS points, json_group_array(json_array(b.minx, b.miny)) AS xy"
    )
    box = _search_box(query)
    if box is None:
        sql = (
            f"SELECT {columns} FROM geo_boxes b WHERE b.tenant = :tenant AND b.attr = :geo_attr GROUP BY b.id"
        )
        return sql, params
    params.update(zip(("gx0", "gx1", "gy0", "gy1"), box, strict=True))
    if query.georel in (GeoRel.CONTAINS, GeoRel.EQUALS):
        # the target must cover the reference geometry, so its box covers the reference's box
        test = "r.minx <= :gx0 AND r.maxx >= :gx1 AND r.miny <= :gy0 AND r.maxy >= :gy1"
    else:
        test = "r.minx <= :gx1 AND r.maxx >= :gx0 AND r.miny <= :gy1 AND r.maxy >= :gy0"
    sql = (
        f"SELECT {columns} FROM geo_rtree r CROSS JOIN geo_boxes b ON b.gid = r.gid"  # R*Tree first
        f" WHERE {test} AND b.tenant = :tenant AND b.attr = :geo_attr GROUP BY b.id"
    )
    return sql, params


_POINT_RELATIONS = (GeoRel.WITHIN, GeoRel.INTERSECTS, GeoRel.DISJOINT)


def decide(query: GeoQuery, rows: list[tuple[Any, ...]]) -> list[bool | None]:
    """Decide the relation for candidates whose boxes are all Points (a box of a Point is the point,
    stored exactly in geo_boxes), with the same predicates the evaluator uses; None: read the entity.

    Rows are (id, points, xy) as candidates_sql returns them; an entity matches if any point does."""
    decided: list[bool | None] = [None] * len(rows)
    fast = query.georel in _POINT_RELATIONS or (
        query.georel is GeoRel.NEAR and query.max_distance is not None
    )
    if not fast:
        return decided
    owners, xs, ys = [], [], []
    for n, (_, points, xy) in enumerate(rows):
        if points:
            for x, y in orjson.loads(xy):
                owners.append(n)
                xs.append(x)
                ys.append(y)
    if not owners:
        return decided
    if query.georel is GeoRel.NEAR:
        lon, lat, limit = query.coordinates[0], query.coordinates[1], query.max_distance
        hits = [haversine_m(lon, lat, x, y) <= limit for x, y in zip(xs, ys, strict=True)]  # type: ignore[operator]
    else:
        import numpy as np  # with shapely, on the first geo-query (see geojson.to_shapely)
        import shapely

        reference = geojson.to_shapely(query.geometry())
        shapely.prepare(reference)
        test = shapely.contains_xy if query.georel is GeoRel.WITHIN else shapely.intersects_xy
        found = test(reference, np.asarray(xs), np.asarray(ys))
        hits = [not h for h in found] if query.georel is GeoRel.DISJOINT else [bool(h) for h in found]
    for n in set(owners):
        decided[n] = False
    for n, hit in zip(owners, hits, strict=True):
        decided[n] = decided[n] or hit
    return decided
