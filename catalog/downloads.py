"""Downloads of a published dataset, streamed page by page from the broker's NGSI-LD API:
the current state as CSV and as GeoJSON, and the history (temporal API) as CSV.

The first page is read before the answer starts, so a broker that cannot be reached gives a clear 503
instead of a truncated file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from catalog.broker import BrokerUnavailable, history_rows
from catalog.feed import problem
from catalog.model import DatasetView

_CORE = ("id", "type", "location", "@context")


def _view_or_problem(request: Request) -> DatasetView | Response:
    service = request.app.state.catalog
    slug = request.path_params["slug"]
    view = service.views.by_slug(slug)
    if view is not None:
        return view
    if service.views.withdrawn(slug) is not None:
        return problem(410, "Gone", f"the dataset {slug} was withdrawn")
    return problem(404, "Not found", f"there is no published dataset {slug}")


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, int | float | bool):
        return value
    if isinstance(value, str):
        # Text that a spreadsheet would run as a formula is kept as text.
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return orjson.dumps(value).decode()


def _plain(attribute: Any) -> tuple[Any, str | None]:
    """(value, observedAt) of a normalized attribute (the first instance of a multi-instance one)."""
    if isinstance(attribute, list):
        attribute = attribute[0] if attribute else None
    if not isinstance(attribute, dict):
        return attribute, None
    for member in ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList"):
        if member in attribute:
            return attribute[member], attribute.get("observedAt")
    return None, attribute.get("observedAt")


def _csv_line(row: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in row])
    return buffer.getvalue()


async def _prefetched(pages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Read the first page now (errors surface before the answer starts); yield it and the rest later."""
    first = await anext(pages, None)

    async def rest() -> AsyncIterator[Any]:
        if first is not None:
            yield first
        async for page in pages:
            yield page

    return rest()


def _filename(view: DatasetView, name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{view.slug}-{name}"'}


async def current_csv(request: Request) -> Response:
    view = _view_or_problem(request)
    if isinstance(view, Response):
        return view
    broker = request.app.state.catalog.broker
    attributes = sorted(a for a in view.row.attributes if a not in _CORE)
    try:
        pages = await _prefetched(broker.entity_pages(view.municipality.tenant, view.type))
    except BrokerUnavailable as exc:
        return problem(503, "Service unavailable", f"the broker cannot be read: {exc}")

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(["id", "type", "longitude", "latitude", "observedAt", *attributes])
        async for page in pages:
            for entity in page:
                location, _ = _plain(entity.get("location"))
                lon = lat = None
                if isinstance(location, dict) and location.get("type") == "Point":
                    lon, lat = (location.get("coordinates") or [None, None])[:2]
                values, times = [], []
                for name in attributes:
                    value, observed = _plain(entity.get(name))
                    values.append(value)
                    if observed:
                        times.append(observed)
                yield _csv_line(
                    [entity.get("id"), entity.get("type"), lon, lat, max(times, default=None), *values]
                )

    return StreamingResponse(
        lines(), media_type="text/csv; charset=utf-8", headers=_filename(view, "current.csv")
    )


async def current_geojson(request: Request) -> Response:
    view = _view_or_problem(request)
    if isinstance(view, Response):
        return view
    broker = request.app.state.catalog.broker
    try:
        pages = await _prefetched(broker.entity_pages(view.municipality.tenant, view.type, geojson=True))
    except BrokerUnavailable as exc:
        return problem(503, "Service unavailable", f"the broker cannot be read: {exc}")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type":"FeatureCollection","features":['
        first = True
        async for page in pages:
            for feature in page:
                yield (b"" if first else b",") + orjson.dumps(feature)
                first = False
        yield b"]}"

    return StreamingResponse(
        chunks(), media_type="application/geo+json", headers=_filename(view, "current.geojson")
    )


def _time_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO 8601 date-time, not {raw[:40]!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{name} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return parsed.isoformat().replace("+00:00", "Z")


async def history_csv(request: Request) -> Response:
    view = _view_or_problem(request)
    if isinstance(view, Response):
        return view
    try:
        time_from, time_to = _time_param(request, "from"), _time_param(request, "to")
    except ValueError as exc:
        return problem(400, "Bad request", str(exc))
    service = request.app.state.catalog
    tenant = view.municipality.tenant
    store, broker = service.store, service.broker

    async def entity_histories() -> AsyncIterator[tuple[str, dict[str, Any]]]:
        after = ""
        while ids := store.entity_ids(tenant, view.type, after, 100):
            for entity_id in ids:
                async for page in broker.temporal_pages(
                    tenant, entity_id, time_from=time_from, time_to=time_to
                ):
                    yield entity_id, page
            after = ids[-1]

    try:
        pages = await _prefetched(entity_histories())
    except BrokerUnavailable as exc:
        return problem(503, "Service unavailable", f"the broker cannot be read: {exc}")

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(["id", "attribute", "observedAt", "value"])
        async for entity_id, page in pages:
            for attribute, value, observed in sorted(history_rows(page), key=lambda r: (r[2], r[0])):
                yield _csv_line([entity_id, attribute, observed, value])

    return StreamingResponse(
        lines(), media_type="text/csv; charset=utf-8", headers=_filename(view, "history.csv")
    )


ROUTES = [
    Route("/dataset/{slug}/current.csv", current_csv),
    Route("/dataset/{slug}/current.geojson", current_geojson),
    Route("/dataset/{slug}/history.csv", history_csv),
]
