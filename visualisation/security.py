"""Response headers for every dashboard response: a Content-Security-Policy that allows only our own
scripts, styles and images (plus the configured tile server's images), no framing, no MIME sniffing,
no referrer, and no caching of pages that show live data."""

from __future__ import annotations

from collections.abc import Callable


def csp(tile_origin: str) -> str:
    images = "'self' data:" + (f" {tile_origin}" if tile_origin else "")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def headers_for(tile_origin: str = "") -> Callable[[str], list[tuple[bytes, bytes]]]:
    """For verbund.headers.AddHeaders: the security headers, and caching for our static files only."""
    security = [
        (b"content-security-policy", csp(tile_origin).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    ]
    static = [*security, (b"cache-control", b"public, max-age=3600")]
    pages = [*security, (b"cache-control", b"no-store")]

    def for_path(path: str) -> list[tuple[bytes, bytes]]:
        return static if "/static/" in path or "/vendor/" in path else pages

    return for_path
