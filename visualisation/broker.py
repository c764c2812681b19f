"""The dashboard's HTTP client of the broker: the NGSI-LD API, the temporal API, subscriptions and the
municipality registry. Nothing here imports the broker: any NGSI-LD broker with a temporal API will do.

Every answer is bounded (size and time) and every failure becomes ``BrokerUnavailable`` or ``BrokerError``
at this boundary, so pages show a clear message instead of a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from visualisation.config import DashboardConfig

API = "/ngsi-ld/v1"
REGISTRY = "/verbund/v1/municipalities"
MAX_ANSWER_BYTES = 32 * 1024 * 1024
PAGE = 1000  # entities per query page (the broker's default maximum)
MAX_PAGES = 20  # a dashboard draws thousands of sensors at most; more is a configuration error


class BrokerError(Exception):
    """The broker answered, but not as expected (status and its ProblemDetails detail, if any)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"broker answered {status}: {detail}")
        self.status = status
        self.detail = detail


class BrokerUnavailable(Exception):
    """The broker could not be reached in time."""


class Answer:
    """A bounded, parsed answer."""

    def __init__(self, status: int, headers: httpx.Headers, body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class BrokerClient:
    def __init__(self, config: DashboardConfig, *, timeout: float = 10.0) -> None:
        self.config = config
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._link = (
            f'<{config.context_url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        )
        self._http = httpx.AsyncClient(base_url=config.broker_url, headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        tenant: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content_type: str = "application/json",
        linked: bool = True,
    ) -> Answer:
        headers: dict[str, str] = {}
        if tenant is not None:
            headers["NGSILD-Tenant"] = tenant
        if linked and content_type != "application/ld+json":
            headers["Link"] = self._link
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = content_type
        try:
            async with self._http.stream(
                method, path, params=params, content=content, headers=headers
            ) as response:
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > MAX_ANSWER_BYTES:
                        raise BrokerError(
                            response.status_code, f"answer larger than {MAX_ANSWER_BYTES} bytes"
                        )
        except httpx.TransportError as exc:
            raise BrokerUnavailable(f"{self.config.broker_url}: {exc.__class__.__name__}") from exc
        body: Any = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BrokerError(response.status_code, "the answer is not JSON") from exc
        return Answer(response.status_code, response.headers, body)

    @staticmethod
    def _fail(answer: Answer) -> BrokerError:
        detail = (
            answer.body.get("detail") or answer.body.get("title") if isinstance(answer.body, dict) else None
        )
        return BrokerError(answer.status, str(detail or answer.body))

    # entities ------------------------------------------------------------------------------------------
    async def query(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        """All entities matching the query (paged with limit/offset)."""
        found: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            answer = await self.request(
                "GET",
                f"{API}/entities",
                tenant=tenant,
                params={**params, "limit": PAGE, "offset": page * PAGE},
            )
            if answer.status == 404:  # a tenant that holds nothing yet
                return found
            if answer.status != 200 or not isinstance(answer.body, list):
                raise self._fail(answer)
            found.extend(e for e in answer.body if isinstance(e, dict))
            if len(answer.body) < PAGE:
                break
        return found

    async def entity(self, tenant: str, entity_id: str) -> dict[str, Any] | None:
        answer = await self.request("GET", f"{API}/entities/{quote(entity_id, safe=':')}", tenant=tenant)
        if answer.status == 404:
            return None
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise self._fail(answer)
        return answer.body

    async def temporal(self, tenant: str, entity_id: str, params: Mapping[str, Any]) -> Answer:
        answer = await self.request(
            "GET", f"{API}/temporal/entities/{quote(entity_id, safe=':')}", tenant=tenant, params=params
        )
        if answer.status == 404:
            return Answer(404, answer.headers, {})
        if answer.status not in (200, 206) or not isinstance(answer.body, dict):
            raise self._fail(answer)
        return answer

    # subscriptions -------------------------------------------------------------------------------------
    async def create_subscription(self, tenant: str, body: dict[str, Any]) -> int:
        """201 created, 409 it exists; anything else raises."""
        answer = await self.request(
            "POST", f"{API}/subscriptions", tenant=tenant, json=body, content_type="application/ld+json"
        )
        if answer.status not in (201, 409):
            raise self._fail(answer)
        return answer.status

    async def subscription(self, tenant: str, sub_id: str) -> dict[str, Any] | None:
        answer = await self.request("GET", f"{API}/subscriptions/{quote(sub_id, safe=':')}", tenant=tenant)
        if answer.status == 404:
            return None
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise self._fail(answer)
        return answer.body

    async def update_subscription(self, tenant: str, sub_id: str, body: dict[str, Any]) -> None:
        answer = await self.request(
            "PATCH",
            f"{API}/subscriptions/{quote(sub_id, safe=':')}",
            tenant=tenant,
            json=body,
            content_type="application/ld+json",
        )
        if answer.status != 204:
            raise self._fail(answer)

    # the municipality registry -------------------------------------------------------------------------
    async def municipalities(self) -> list[dict[str, Any]] | None:
        """The registry's records, or None when the broker has no registry (another NGSI-LD broker)."""
        answer = await self.request("GET", REGISTRY, linked=False)
        if answer.status in (404, 405, 501):
            return None
        if answer.status != 200:
            raise self._fail(answer)
        body = answer.body
        if isinstance(body, dict):  # tolerate an envelope around the list
            body = next((v for k, v in body.items() if k in ("municipalities", "items", "data")), None)
        if not isinstance(body, list):
            raise BrokerError(answer.status, "the municipality registry did not answer with a list")
        return [m for m in body if isinstance(m, dict)]
