"""NGSI-LD errors, rendered as ProblemDetails (RFC 7807) by one exception handler.

NgsiLdError                     (type URI, title, status, detail)
├── InvalidRequest              400  the request as a whole is malformed (JSON, headers, parameters)
│   ├── NotAcceptable           406  Accept names no media type we produce
│   ├── UnsupportedMediaType    415  Content-Type we do not consume
│   ├── PayloadTooLarge         413  body over the configured bound
│   └── MethodNotAllowed        405
├── BadRequestData              400  well-formed request with invalid NGSI-LD content
├── AlreadyExists               409
├── OperationNotSupported       422
├── ResourceNotFound            404
├── NonexistentTenant           404
├── TooComplexQuery             403
├── TooManyResults              403
├── Unauthorized                401  no credential, or one that is malformed, unknown, revoked or expired
├── AccessDenied                403  a valid credential without the right for this tenant and operation
├── TooManyRequests             429  the credential's rate limit is spent (Retry-After says for how long)
├── LdContextNotAvailable       503  a remote @context could not be fetched or was not JSON-LD
├── StoreUnavailable            503  the database did not answer
└── InternalError               500

The spec's table of error types names none for 401, 403 (other than the two query limits) and 429; the
access errors use the same namespace, with Stellio's name for 403.
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_TYPE_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiLdError(Exception):
    error_type: ClassVar[str] = "InternalError"
    title: ClassVar[str] = "Internal error"
    status: ClassVar[int] = 500

    def __init__(self, detail: str, *, instance: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.instance = instance

    @property
    def type_uri(self) -> str:
        return ERROR_TYPE_BASE + self.error_type

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.instance is not None:
            body["instance"] = self.instance
        return body


class InvalidRequest(NgsiLdError):
    error_type = "InvalidRequest"
    title = "Invalid request"
    status = 400


class NotAcceptable(InvalidRequest):
    title = "Not acceptable"
    status = 406


class UnsupportedMediaType(InvalidRequest):
    title = "Unsupported media type"
    status = 415


class PayloadTooLarge(InvalidRequest):
    title = "Payload too large"
    status = 413


class MethodNotAllowed(InvalidRequest):
    title = "Method not allowed"
    status = 405


class BadRequestData(NgsiLdError):
    error_type = "BadRequestData"
    title = "Bad request data"
    status = 400


class AlreadyExists(NgsiLdError):
    error_type = "AlreadyExists"
    title = "Already exists"
    status = 409


class OperationNotSupported(NgsiLdError):
    error_type = "OperationNotSupported"
    title = "Operation not supported"
    status = 422


class ResourceNotFound(NgsiLdError):
    error_type = "ResourceNotFound"
    title = "Resource not found"
    status = 404


class NonexistentTenant(NgsiLdError):
    error_type = "NonexistentTenant"
    title = "Nonexistent tenant"
    status = 404


class TooComplexQuery(NgsiLdError):
    error_type = "TooComplexQuery"
    title = "Too complex query"
    status = 403


class TooManyResults(NgsiLdError):
    error_type = "TooManyResults"
    title = "Too many results"
    status = 403


class Unauthorized(NgsiLdError):
    error_type = "Unauthorized"
    title = "Unauthorized"
    status = 401


class AccessDenied(NgsiLdError):
    error_type = "AccessDenied"
    title = "Access denied"
    status = 403


class TooManyRequests(NgsiLdError):
    error_type = "TooManyRequests"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class LdContextNotAvailable(NgsiLdError):
    error_type = "LdContextNotAvailable"
    title = "@context not available"
    status = 503


class StoreUnavailable(NgsiLdError):
    error_type = "InternalError"
    title = "Store unavailable"
    status = 503


class InternalError(NgsiLdError):
    pass
