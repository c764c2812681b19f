"""The agents' errors, rendered as iotagent-node-lib renders them: ``{"name": ..., "message": ...}``.

Names, messages and status codes follow iotagent-node-lib ``lib/errors.js`` and iotagent-json /
iotagent-ul, so provisioning scripts and devices see the answers they were written against::

    IotaError (500)
     ├── MissingHeaders           400 MISSING_HEADERS
     ├── WrongSyntax              400 WRONG_SYNTAX
     ├── MissingAttributes        400 MISSING_ATTRIBUTES
     ├── BadRequest               400 BAD_REQUEST
     ├── MandatoryParamsNotFound  400 MANDATORY_PARAMS_NOT_FOUND   (southbound k / i / d)
     ├── UnsupportedType          400 UNSUPPORTED_TYPE
     ├── BadPayload               400 BAD_PAYLOAD                  (malformed JSON, UL or LoRaWAN frame)
     ├── BadTimestamp             400 BAD_TIMESTAMP
     ├── InvalidExpression        400 INVALID_EXPRESSION
     ├── DeviceNotFound           404 DEVICE_NOT_FOUND
     ├── DeviceGroupNotFound      404 DEVICE_GROUP_NOT_FOUND
     ├── DuplicateDeviceId        409 DUPLICATE_DEVICE_ID
     ├── DuplicateGroup           409 DUPLICATE_GROUP
     ├── Unauthorized             401 UNAUTHORIZED                 (our own: no valid credential)
     ├── AccessDenied             403 ACCESS_DENIED                (our own: the credential lacks the right)
     ├── AuthUnavailable          503 AUTH_UNAVAILABLE             (our own: cannot check a credential)
     └── OutboxFull               503 OUTBOX_FULL                  (our own: the durable queue is full)
"""

from __future__ import annotations

from typing import Any

import orjson


class IotaError(Exception):
    name = "INTERNAL_ERROR"
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message}

    def render(self) -> bytes:
        return orjson.dumps(self.body())


class MissingHeaders(IotaError):
    name, code = "MISSING_HEADERS", 400

    def __init__(self, missing: list[str]) -> None:
        super().__init__("Some headers were missing from the request: " + orjson.dumps(missing).decode())


class WrongSyntax(IotaError):
    name, code = "WRONG_SYNTAX", 400

    def __init__(self, detail: str = "Errors found validating request.") -> None:
        super().__init__("Wrong syntax in request: " + detail)


class MissingAttributes(IotaError):
    name, code = "MISSING_ATTRIBUTES", 400

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "The request was not well formed:Missing attributes: " + orjson.dumps(missing).decode()
        )


class BadRequest(IotaError):
    name, code = "BAD_REQUEST", 400

    def __init__(self, detail: str) -> None:
        super().__init__("Request error connecting to the Context Broker: " + detail)


class MandatoryParamsNotFound(IotaError):
    name, code = "MANDATORY_PARAMS_NOT_FOUND", 400

    def __init__(self, params: list[str]) -> None:
        super().__init__(
            "Some of the mandatory params weren't found in the request: " + orjson.dumps(params).decode()
        )


class UnsupportedType(IotaError):
    name, code = "UNSUPPORTED_TYPE", 400

    def __init__(self, expected: str) -> None:
        super().__init__("Unsupported content type in the context request: " + expected)


class BadPayload(IotaError):
    name, code = "BAD_PAYLOAD", 400

    def __init__(self, payload: Any, reason: str = "") -> None:
        text = payload if isinstance(payload, str) else repr(payload)
        detail = f": {reason}" if reason else ""
        super().__init__(f"The request payload [{text[:200]}] could not be parsed{detail}")


class BadTimestamp(IotaError):
    name, code = "BAD_TIMESTAMP", 400

    def __init__(self, value: Any) -> None:
        super().__init__(f"Invalid ISO8601 timestamp[{value}]")


class InvalidExpression(IotaError):
    name, code = "INVALID_EXPRESSION", 400

    def __init__(self, expression: str, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"Invalid expression in evaluation [{expression}]{detail}")


class DeviceNotFound(IotaError):
    name, code = "DEVICE_NOT_FOUND", 404

    def __init__(self, device_id: str) -> None:
        super().__init__("No device was found with id:" + device_id)


class DeviceGroupNotFound(IotaError):
    name, code = "DEVICE_GROUP_NOT_FOUND", 404

    def __init__(self, fields: list[str] | None = None, values: list[str] | None = None) -> None:
        if fields and values:
            super().__init__(
                f"Couldn't find device group for fields: {','.join(fields)} and values: {','.join(values)}"
            )
        else:
            super().__init__("Couldn't find device group")


class DuplicateDeviceId(IotaError):
    name, code = "DUPLICATE_DEVICE_ID", 409

    def __init__(self, device_id: str) -> None:
        super().__init__("A device with the same pair (Service, DeviceId) was found:" + device_id)


class DuplicateGroup(IotaError):
    name, code = "DUPLICATE_GROUP", 409

    def __init__(self, resource: str, apikey: str) -> None:
        super().__init__(
            f"A device configuration already exists for resource {resource} and API Key {apikey}"
        )


class OutboxFull(IotaError):
    name, code = "OUTBOX_FULL", 503

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The agent holds {limit} undelivered measures (the broker is unreachable); retry later"
        )


class Unauthorized(IotaError):
    name, code = "UNAUTHORIZED", 401


class AccessDenied(IotaError):
    name, code = "ACCESS_DENIED", 403


class AuthUnavailable(IotaError):
    name, code = "AUTH_UNAVAILABLE", 503
