"""The map extent of a dataset as inline SVG: the municipality's area, the bounding box of the entities and
the entities themselves. No tiles and no script, so the page needs no third-party request and no JavaScript.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

Box = tuple[float, float, float, float]
WIDTH = 480
MAX_HEIGHT = 420
PAD = 16


def _union(boxes: list[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _rings(geometry: dict[str, Any] | None) -> list[list[list[float]]]:
    if not isinstance(geometry, dict):
        return []
    coordinates = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        return [r for r in coordinates[:1] if isinstance(r, list)]
    if geometry.get("type") == "MultiPolygon":
        return [p[0] for p in coordinates if isinstance(p, list) and p and isinstance(p[0], list)]
    return []


def extent_svg(
    title: str,
    dataset_box: Box | None,
    area: dict[str, Any] | None,
    area_box: Box | None,
    points: list[tuple[str, float, float]],
) -> str:
    boxes = [b for b in (dataset_box, area_box) if b is not None]
    if not boxes:
        return ""
    w, s, e, n = _union(boxes)
    # A degenerate extent (one point) still gets a small area around it; then a margin all round.
    cx, cy = (w + e) / 2, (s + n) / 2
    half_x, half_y = max(e - w, 0.004) / 2 * 1.08, max(n - s, 0.004) / 2 * 1.08
    w, e, s, n = cx - half_x, cx + half_x, cy - half_y, cy + half_y
    shrink = math.cos(math.radians(cy))  # a degree of longitude is shorter than one of latitude
    scale = min((WIDTH - 2 * PAD) / ((e - w) * shrink), (MAX_HEIGHT - 2 * PAD) / (n - s))
    height = (n - s) * scale + 2 * PAD
    left = (WIDTH - (e - w) * shrink * scale) / 2

    def xy(lon: float, lat: float) -> str:
        return f"{left + (lon - w) * shrink * scale:.1f},{PAD + (n - lat) * scale:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="extent-map" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" role="img" aria-labelledby="map-title">',
        f'<title id="map-title">{escape(title)}</title>',
        f'<rect class="map-ground" x="0" y="0" width="{WIDTH}" height="{height:.0f}"/>',
    ]
    rings = _rings(area)
    if rings:
        for ring in rings:
            path = " ".join(xy(p[0], p[1]) for p in ring[:5000] if isinstance(p, list) and len(p) >= 2)
            parts.append(f'<polygon class="map-area" points="{path}"/>')
    elif area_box is not None:
        parts.append(_box_polygon("map-area", area_box, xy))
    if dataset_box is not None:
        parts.append(_box_polygon("map-extent", dataset_box, xy))
    for entity_id, lon, lat in points:
        x, y = xy(lon, lat).split(",")
        parts.append(
            f'<circle class="map-point" cx="{x}" cy="{y}" r="4"><title>{escape(entity_id)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _box_polygon(css: str, box: Box, xy: Any) -> str:
    w, s, e, n = box
    return f'<polygon class="{css}" points="{xy(w, s)} {xy(e, s)} {xy(e, n)} {xy(w, n)}"/>'
