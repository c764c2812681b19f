"""The MQTT southbound: IoTA-JSON and UltraLight topics and LoRaWAN network-server uplinks.

Topics (iotagent-json / iotagent-ul MQTT bindings, with and without the leading slash):
``/<apikey>/<device>/attrs`` (JSON, or UL when the device's protocol is UltraLight or the payload is not
JSON), ``/<apikey>/<device>/attrs/<attr>``, ``/json/<apikey>/<device>/attrs[/<attr>]``,
``/ul/<apikey>/<device>/attrs[/<attr>]``; LoRaWAN: ``v3/<app>/devices/<dev>/up`` (The Things Stack) and
``application/<app>/device/<devEui>/event/up`` (ChirpStack v4).

Messages arrive with QoS 1 on a persistent session, and paho acknowledges one only when its callback returns:
the callback waits until the measure is committed to the outbox, so a message the agent has not stored is
redelivered by the broker. A rejected message (bad apikey, unknown device, malformed payload) is logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt

from agents.errors import BadPayload, IotaError
from agents.lorawan.uplinks import from_chirpstack, from_tts
from agents.lorawan.webhooks import accept_uplink
from agents.south.http import JSON_RESOURCE, UL_RESOURCE, _attr_value, _json_measures
from agents.south.ultralight import parse_measures

if TYPE_CHECKING:
    from agents.app import Agent

log = logging.getLogger("verbund.agents.mqtt")
TOPICS = [
    *(
        f"{lead}{proto}+/+/attrs{tail}"
        for lead in ("/", "")
        for proto in ("", "json/", "ul/")
        for tail in ("", "/+")
    ),
    "v3/+/devices/+/up",
    "application/+/device/+/event/up",
]


def parse_topic(topic: str) -> tuple[str, str, str, str | None] | None:
    """(protocol, apikey, device, attribute) of a measure topic; None for anything else."""
    parts = topic.lstrip("/").split("/")
    protocol = "auto"
    if parts and parts[0] in ("json", "ul") and len(parts) >= 4 and parts[3] == "attrs":
        protocol = "IoTA-JSON" if parts[0] == "json" else "IoTA-UL"
        parts = parts[1:]
    if len(parts) == 3 and parts[2] == "attrs":
        return protocol, parts[0], parts[1], None
    if len(parts) == 4 and parts[2] == "attrs":
        return protocol, parts[0], parts[1], parts[3]
    return None


def _json_ul_fallback(payload: bytes, *, explicit: bool) -> list[dict[str, Any]]:
    """``/<apikey>/<device>/attrs`` serves both agents: a payload that is not JSON but reads as UL is UL."""
    try:
        return _json_measures(payload, None)
    except BadPayload:
        text = payload.decode("utf-8", "replace")
        if explicit or "|" not in text:
            raise
        return parse_measures(text)


class MqttSouthbound:
    def __init__(self, agent: Agent, url: str, client_id: str) -> None:
        self.agent = agent
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp", ""):
            raise ValueError(f"MQTT URL must be mqtt://host:port, not {url!r}")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.connected = asyncio.Event()

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    async def stop(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT connection refused", extra={"reason": str(reason)})
            return
        client.subscribe([(topic, 1) for topic in TOPICS])
        self.loop.call_soon_threadsafe(self.connected.set)
        log.info("MQTT southbound connected", extra={"broker": f"{self.host}:{self.port}"})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        future = asyncio.run_coroutine_threadsafe(self.handle(message.topic, message.payload), self.loop)
        try:
            future.result(timeout=60)
        except IotaError as exc:
            log.warning(
                "MQTT measure rejected",
                extra={"topic": message.topic, "error": exc.name, "detail": exc.message},
            )
        except Exception:
            log.exception("MQTT measure failed", extra={"topic": message.topic})

    async def handle(self, topic: str, payload: bytes) -> None:
        agent = self.agent
        try:
            if topic.startswith("v3/") and topic.endswith("/up"):
                await self._uplink(from_tts, payload)
                return
            if topic.startswith("application/") and topic.endswith("/event/up"):
                await self._uplink(from_chirpstack, payload)
                return
            parsed = parse_topic(topic)
            if parsed is None:
                return
            protocol, apikey, device_id, attribute = parsed
            resource = {"IoTA-JSON": JSON_RESOURCE, "IoTA-UL": UL_RESOURCE}.get(protocol)
            config = await agent.ingest.device(apikey, device_id, resource)
            if protocol == "auto":
                ul = "ul" in config.protocol.lower() or "ultralight" in config.protocol.lower()
                protocol = "IoTA-UL" if ul else "IoTA-JSON"
            if attribute is not None:
                measures: list[dict[str, Any]] = [{attribute: _attr_value(payload)}]
            elif protocol == "IoTA-JSON":
                measures = _json_ul_fallback(payload, explicit=parsed[0] == "IoTA-JSON")
            else:
                measures = parse_measures(payload.decode("utf-8", "replace"))
            await agent.ingest.accept(config, measures, protocol + "-MQTT")
        except IotaError as exc:
            agent.metrics.inc("mqtt_rejected_total", reason=exc.name)
            raise

    async def _uplink(self, parse, payload: bytes) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise BadPayload(payload.decode("utf-8", "replace"), "invalid JSON") from exc
        uplink = parse(body)
        if uplink is not None:
            await accept_uplink(self.agent, uplink, None)
