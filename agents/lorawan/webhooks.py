"""LoRaWAN uplinks pushed over HTTP: The Things Stack v3 webhooks (``POST /iot/lorawan/tts?k=<apikey>``)
and the ChirpStack v4 HTTP integration (``POST /iot/lorawan/chirpstack?k=<apikey>``, ChirpStack adds
``event=up``; other events are acknowledged and ignored). The API key must be the device's (or its
config group's): a webhook URL is as much a credential as a device's ``k``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agents.errors import BadPayload, DeviceNotFound, IotaError, MandatoryParamsNotFound
from agents.lorawan.measures import find_device, measures
from agents.lorawan.uplinks import Uplink, from_chirpstack, from_tts
from agents.south.http import error_response
from broker_adapter.access.roles import INGEST

if TYPE_CHECKING:
    from agents.app import Agent


async def accept_uplink(
    agent: Agent, uplink: Uplink, apikey: str | None, allowed: Callable[[str], bool] | None = None
) -> None:
    """Shared by the webhooks and MQTT (where the network server's broker is trusted: no key).
    allowed: the services the caller's credential may ingest into (VERBUND_AUTH=on); others look unknown."""
    for device in find_device(agent.store, uplink):
        if allowed is not None and not allowed(device["service"]):
            continue
        if apikey is None:  # MQTT: the device as provisioned, with its config group if it has one
            found: tuple | None = (device, agent.ingest.group_for(device, None, None))
        else:
            found = agent.ingest.find(device["device_id"], apikey, None)
        if found is not None and found[0] is device:
            config = agent.ingest.cache.get(*found)
            await agent.ingest.accept(config, measures(config, uplink), "LoRaWAN")
            return
    raise DeviceNotFound(uplink.dev_eui or uplink.device_name)


def _webhook(parse, provider: str):
    async def endpoint(request: Request) -> Response:
        agent: Agent = request.app.state.agent
        try:
            who = await agent.access.principal(request)
            if not request.query_params.get("k"):
                raise MandatoryParamsNotFound(["API Key"])
            if request.query_params.get("event", "up") != "up":
                return Response(status_code=204)
            raw = await request.body()
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BadPayload(raw.decode("utf-8", "replace"), "invalid JSON") from exc
            uplink = parse(body)
            if uplink is None:
                return Response(status_code=204)
            await accept_uplink(agent, uplink, request.query_params["k"], lambda s: who.may(INGEST, s))
            return Response(b"", status_code=200)
        except IotaError as exc:
            agent.metrics.inc("http_errors_total", protocol=provider, reason=exc.name)
            return error_response(exc)

    return endpoint


ROUTES = [
    Route("/iot/lorawan/tts", _webhook(from_tts, "LoRaWAN-TTS"), methods=["POST"]),
    Route("/iot/lorawan/chirpstack", _webhook(from_chirpstack, "LoRaWAN-ChirpStack"), methods=["POST"]),
]
