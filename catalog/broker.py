"""The catalog's only way to the broker: its public HTTP APIs (NGSI-LD, subscriptions, the registry).

Every answer is read with a size bound, every request with a timeout; failures become BrokerUnavailable (the
broker could not be reached or answered with an error), so callers retry later instead of guessing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson

log = logging.getLogger("verbund.catalog")

NGSI = "/ngsi-ld/v1"
REGISTRY = "/verbund/v1/municipalities"
JSON_LD = "application/ld+json"
GEOJSON = "application/geo+json"


class BrokerUnavailable(Exception):
    """The broker could not be reached, or refused or failed a request the catalog needs."""


class BrokerClient:
    def __init__(
        self,
        base_url: str,
        *,
        context_url: str,
        token: str = "",
        timeout: float = 10.0,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.context_url = context_url
        self.max_bytes = max_bytes
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)
        self._link = f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"; type="{JSON_LD}"'

    async def aclose(self) -> None:
        await self._http.aclose()

    # plumbing --------------------------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        tenant: str | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200,),
    ) -> tuple[int, httpx.Headers, Any]:
        headers = {"Accept": accept}
        if tenant is not None:
            headers["NGSILD-Tenant"] = tenant
        content = None
        if json_body is not None:
            content = orjson.dumps(json_body)
            headers["Content-Type"] = content_type
        elif path.startswith(NGSI):
            headers["Link"] = self._link
        try:
            async with self._http.stream(method, path, params=params, content=content, headers=headers) as r:
                body = bytearray()
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise BrokerUnavailable(f"{method} {path}: the answer exceeds {self.max_bytes} bytes")
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(f"{method} {path}: {exc.__class__.__name__}: {exc}") from exc
        if r.status_code not in ok:
            raise BrokerUnavailable(
                f"{method} {path}: {r.status_code} {bytes(body[:300]).decode(errors='replace')}"
            )
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError as exc:
            raise BrokerUnavailable(f"{method} {path}: the answer is not JSON") from exc
        return r.status_code, r.headers, data

    # the registry ----------------------------------------------------------------------------------------
    async def municipalities(self) -> list[dict[str, Any]]:
        """Every municipality record (active and retired) of the registry, following its pages."""
        found: list[dict[str, Any]] = []
        offset, limit = 0, 500
        while True:
            _, headers, data = await self._request("GET", REGISTRY, params={"limit": limit, "offset": offset})
            items = data.get("municipalities", data.get("items")) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise BrokerUnavailable(f"GET {REGISTRY}: the answer is not a list of municipalities")
            found += [m for m in items if isinstance(m, dict) and isinstance(m.get("tenant"), str)]
            if len(items) < limit or 'rel="next"' not in headers.get("Link", ""):
                return found
            offset += limit

    # subscriptions ---------------------------------------------------------------------------------------
    async def ensure_subscription(self, tenant: str, body: dict[str, Any]) -> str:
        """Create the feed subscription, or bring an existing one (same id) to this endpoint and token.

        Returns "created", "updated" or "unchanged"."""
        status, _, _ = await self._request(
            "POST",
            f"{NGSI}/subscriptions",
            tenant=tenant,
            json_body=body,
            content_type=JSON_LD,
            ok=(201, 409),
        )
        if status == 201:
            return "created"
        path = f"{NGSI}/subscriptions/{quote(body['id'], safe='')}"
        _, _, existing = await self._request("GET", path, tenant=tenant)
        wanted = body["notification"]["endpoint"]
        endpoint = (existing or {}).get("notification", {}).get("endpoint", {})
        same_info = {(i.get("key"), i.get("value")) for i in endpoint.get("receiverInfo") or []} == {
            (i["key"], i["value"]) for i in wanted["receiverInfo"]
        }
        if endpoint.get("uri") == wanted["uri"] and same_info and existing.get("isActive", True) is not False:
            return "unchanged"
        patch = {"notification": body["notification"], "isActive": True, "@context": body["@context"]}
        await self._request("PATCH", path, tenant=tenant, json_body=patch, content_type=JSON_LD, ok=(204,))
        return "updated"

    async def delete_subscription(self, tenant: str, subscription_id: str) -> None:
        path = f"{NGSI}/subscriptions/{quote(subscription_id, safe='')}"
        await self._request("DELETE", path, tenant=tenant, ok=(204, 404))

    # NGSI-LD queries -------------------------------------------------------------------------------------
    async def types(self, tenant: str) -> set[str]:
        _, _, data = await self._request("GET", f"{NGSI}/types", tenant=tenant, ok=(200, 404))
        if isinstance(data, dict) and isinstance(data.get("typeList"), list):
            return {t for t in data["typeList"] if isinstance(t, str)}
        return set()

    async def entity_pages(
        self,
        tenant: str,
        type_name: str,
        *,
        page: int = 500,
        geojson: bool = False,
        ids: list[str] | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """All entities of a type, normalized (or GeoJSON features), one page at a time."""
        offset = 0
        while True:
            params: dict[str, Any] = {"type": type_name, "limit": page, "offset": offset}
            if ids:
                params["id"] = ",".join(ids)
            if geojson:
                params["options"] = "keyValues"  # plain properties in the features
            accept = GEOJSON if geojson else "application/json"
            _, _, data = await self._request(
                "GET", f"{NGSI}/entities", tenant=tenant, params=params, accept=accept, ok=(200, 404)
            )
            items = (data or {}).get("features", []) if geojson else (data or [])
            if not isinstance(items, list):
                raise BrokerUnavailable("GET /entities: the answer is not a list")
            if items:
                yield items
            if len(items) < page:
                return
            offset += page

    async def temporal_pages(
        self, tenant: str, entity_id: str, *, time_from: str | None = None, time_to: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The history of one entity (simplified temporal representation), page by page (clause 6.3.10:
        a 206 answer's Content-Range names where the next page starts)."""
        start = time_from
        path = f"{NGSI}/temporal/entities/{quote(entity_id, safe='')}"
        for _ in range(100_000):  # a bound; each page advances the start time
            params: dict[str, Any] = {"options": "temporalValues"}
            if start and time_to:
                params.update(timerel="between", timeAt=start, endTimeAt=time_to)
            elif start:
                params.update(timerel="after", timeAt=start)
            elif time_to:
                params.update(timerel="before", timeAt=time_to)
            status, headers, data = await self._request(
                "GET", path, tenant=tenant, params=params, ok=(200, 206, 404)
            )
            if status == 404 or not isinstance(data, dict):
                return
            yield data
            following = _content_range_end(headers.get("Content-Range"))
            if status != 206 or following is None or following == start:
                return
            start = following

    async def first_observation(self, tenant: str, entity_id: str, before: str | None) -> str | None:
        """The earliest time in an entity's history (before `before`, when given), or None."""
        async for page in self.temporal_pages(tenant, entity_id, time_to=before):
            times = [t for _, _, t in history_rows(page)]
            return min(times) if times else None
        return None

    async def context_terms(self) -> dict[str, str]:
        """The term -> IRI map of the platform @context (for dct:conformsTo), empty when not available."""
        try:
            _, _, doc = await self._request("GET", self.context_url.removeprefix(self.base_url))
        except BrokerUnavailable:
            return {}
        contexts = doc.get("@context") if isinstance(doc, dict) else None
        merged: dict[str, str] = {}
        for item in contexts if isinstance(contexts, list) else [contexts]:
            if isinstance(item, dict):
                merged.update({k: v for k, v in item.items() if isinstance(v, str)})
        return merged


_CONTENT_RANGE = re.compile(r"date-time (.+)-(\d{4}-\d\d-\d\dT[^/]+)/")


def _content_range_end(value: str | None) -> str | None:
    """`date-time <start>-<end>/<size>` -> <end> (the last '-' that starts a date separates the two)."""
    found = _CONTENT_RANGE.match(value or "")
    return found.group(2) if found else None


def history_rows(entity: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(attribute, value, time) rows of a simplified temporal entity."""
    rows: list[tuple[str, Any, str]] = []
    for name, series in entity.items():
        if name in ("id", "type", "@context"):
            continue
        for item in series if isinstance(series, list) else [series]:
            if not isinstance(item, dict):
                continue
            for member in (
                "values",
                "objects",
                "languageMaps",
                "vocabs",
                "jsons",
                "valueLists",
                "objectLists",
            ):
                for pair in item.get(member) or []:
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str):
                        rows.append((name, pair[0], pair[1]))
    return rows
