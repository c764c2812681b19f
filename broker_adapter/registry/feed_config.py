"""VERBUND_FEEDS: which platform services each municipality's tenant feeds, and where they listen."""

from __future__ import annotations

from dataclasses import dataclass

_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class FeedTarget:
    service: str
    notify_url: str


def parse_feeds(raw: str, secret: str) -> tuple[FeedTarget, ...]:
    """VERBUND_FEEDS as targets; ValueError (a start-up failure) when it is malformed."""
    targets: list[FeedTarget] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        service, sep, url = item.partition("=")
        service, url = service.strip(), url.strip()
        if not sep or not service or not set(service) <= _SERVICE_CHARS:
            raise ValueError(
                f"VERBUND_FEEDS: {item!r} is not service=URL (service: lowercase letters, digits)"
            )
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"VERBUND_FEEDS: the notify URL of {service} must be http or https, not {url!r}")
        if any(t.service == service for t in targets):
            raise ValueError(f"VERBUND_FEEDS: {service} is named twice")
        targets.append(FeedTarget(service, url))
    if targets and not secret:
        raise ValueError("VERBUND_FEEDS needs VERBUND_FEED_SECRET: receivers check each feed's token with it")
    return tuple(targets)


def trusted_urls(raw: str) -> tuple[str, ...]:
    """The notify URLs the endpoint policy lets through although they may be loopback or private."""
    return tuple(t.notify_url for t in parse_feeds(raw, "(checked elsewhere)"))
