"""Delivering one rendered notification: HTTP(S) with our HTTP/1.1 client (http11.py), MQTT(S) with paho-mqtt
(clause 5.8.6 and the MQTT notification binding, annex of GS CIM 009).

HTTP: POST to the endpoint URI with the body's Content-Type (and the @context Link for plain JSON),
every receiverInfo pair as a header and NGSILD-Tenant for a named tenant; 2xx is success.

MQTT: `mqtt[s]://[user[:password]@]host[:port]/topic`, notifierInfo MQTT-QoS (0, 1, 2; default 0) and
MQTT-Version (mqtt3.1.1 default, mqtt5.0). The message is `{"metadata": {headers}, "body": notification}`.
Connections are kept per broker and credentials; QoS 1/2 waits for the broker's acknowledgement.

Every failure becomes `DeliveryFailed` (foreign errors are translated here, at the boundary).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import orjson
import paho.mqtt.client as mqtt

from broker_adapter.ngsild.types import Tenant
from broker_adapter.notifications.http11 import Http11Client, HttpError


class DeliveryFailed(Exception):
    """The receiver did not take the notification (connection, timeout, status, MQTT error)."""


def _timeout(endpoint: Mapping[str, Any], default: float) -> float:
    ms = endpoint.get("timeout")
    return min(default, ms / 1000) if ms else default


def _headers(endpoint: Mapping[str, Any], headers: Mapping[str, str], tenant: Tenant) -> dict[str, str]:
    out = dict(headers)
    for pair in endpoint.get("receiverInfo", ()):
        out[pair["key"]] = pair["value"]
    if tenant:
        out["NGSILD-Tenant"] = tenant
    return out


class HttpSender:
    """POSTs with our own small HTTP/1.1 client (http11.py) on kept-alive connections per origin."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.client = Http11Client()

    async def send(
        self,
        tenant: Tenant,
        endpoint: Mapping[str, Any],
        body: bytes,
        headers: Mapping[str, str],
        check_peer: Callable[[str], None] | None = None,
    ) -> None:
        """`check_peer`: the SSRF policy's look at the address each new connection reached."""
        uri = endpoint["uri"]
        try:
            status = await self.client.post(
                uri,
                _headers(endpoint, headers, tenant).items(),
                body,
                _timeout(endpoint, self.timeout),
                check_peer,
            )
        except HttpError as exc:
            raise DeliveryFailed(f"{uri}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{uri} answered {status}")

    async def close(self) -> None:
        await self.client.close()


class _Connection:
    """One paho client with its network thread; connected once, reused for every publish."""

    def __init__(self, uri: str, version: str, timeout: float) -> None:
        parts = urlsplit(uri)
        self.connected = threading.Event()
        self.refused: str | None = None
        protocol = mqtt.MQTTv5 if version == "mqtt5.0" else mqtt.MQTTv311
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"verbund-{uuid.uuid4().hex[:12]}", protocol=protocol
        )
        if parts.username is not None:
            password = unquote(parts.password) if parts.password is not None else None
            self.client.username_pw_set(unquote(parts.username), password)
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        try:
            self.client.connect(parts.hostname or "", port, keepalive=60)
        except (OSError, ValueError) as exc:
            raise DeliveryFailed(f"MQTT broker {parts.hostname}:{port}: {exc}") from exc
        self.client.loop_start()
        if not self.connected.wait(timeout) or self.refused:
            self.close()
            raise DeliveryFailed(
                f"MQTT broker {parts.hostname}:{port}: {self.refused or 'no CONNACK in time'}"
            )

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.refused = f"connection refused: {reason}"
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()

    def publish(self, topic: str, payload: bytes, qos: int, timeout: float) -> None:
        if not self.connected.is_set():
            raise DeliveryFailed("MQTT connection lost")
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise DeliveryFailed(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
        if qos > 0:
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                raise DeliveryFailed(f"MQTT publish failed: {exc}") from exc
            if not info.is_published():
                raise DeliveryFailed("MQTT broker did not acknowledge in time")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MqttSender:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._connections: dict[tuple[str, str], _Connection] = {}
        self._lock = threading.Lock()

    async def send(
        self,
        tenant: Tenant,
        endpoint: Mapping[str, Any],
        body: bytes,
        headers: Mapping[str, str],
        check_peer: Callable[[str], None] | None = None,
    ) -> None:
        """`check_peer` is not applied: paho connects by itself (the endpoint was checked before)."""
        metadata = orjson.dumps(_headers(endpoint, headers, tenant))
        payload = b'{"metadata":' + metadata + b',"body":' + body + b"}"
        await anyio.to_thread.run_sync(self._publish, endpoint, payload)

    def _publish(self, endpoint: Mapping[str, Any], payload: bytes) -> None:
        info = {pair["key"]: pair["value"] for pair in endpoint.get("notifierInfo", ())}
        qos = int(info.get("MQTT-QoS", "0"))
        version = info.get("MQTT-Version", "mqtt3.1.1")
        uri = endpoint["uri"]
        parts = urlsplit(uri)
        server = f"{parts.scheme}://{parts.netloc}"
        timeout = _timeout(endpoint, self.timeout)
        with self._lock:
            connection = self._connections.get((server, version))
            if connection is None or not connection.connected.is_set():
                if connection is not None:
                    connection.close()
                connection = self._connections[(server, version)] = _Connection(uri, version, timeout)
        try:
            connection.publish(parts.path.lstrip("/"), payload, qos, timeout)
        except DeliveryFailed:
            with self._lock:
                if self._connections.get((server, version)) is connection:
                    del self._connections[(server, version)]
            connection.close()
            raise

    async def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            await anyio.to_thread.run_sync(connection.close)
