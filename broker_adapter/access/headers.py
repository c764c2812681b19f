"""Security headers on every response of the broker's port.

API answers (JSON) get a Content-Security-Policy that allows nothing at all: a browser shown one must
not run or load anything from it. Pages of services mounted on the same port (catalog, dashboard) keep
the policy they set themselves; they get only the headers that cannot break a page.
"""

from __future__ import annotations

ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
API_ONLY: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"cache-control", b"no-store"),
)
API_PREFIXES = ("/ngsi-ld/v1/", "/verbund/v1/")


API_HEADERS = ALWAYS + API_ONLY


def security_headers(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """For verbund.headers.AddHeaders: what an answer on `path` gets."""
    return API_HEADERS if path.startswith(API_PREFIXES) else ALWAYS
