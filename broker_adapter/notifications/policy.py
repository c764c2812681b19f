"""Which notification endpoints a tenant may use: the SSRF guard.

By default an endpoint whose host is (or resolves to) a loopback, private, link-local, multicast,
reserved or unspecified address is refused, so a subscription cannot make the broker call into the
network it runs in. Operators allow specific hosts, IPs or networks (`notify_allowed_hosts`, e.g.
"127.0.0.1,10.0.5.0/24,catalog.internal") and exempt the platform's own tenants
(`notify_trusted_tenants`). The check runs when a subscription is written (a clear 400) and again before
each delivery, because DNS answers change; an HTTP delivery also checks the address it actually connected
to (`peer_check`), so a DNS answer that changed between the check and the connection cannot sneak through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

from broker_adapter.access.egress import AddressPolicy, resolve
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.types import Tenant


class EndpointRefused(BadRequestData):
    """The endpoint is outside what the policy allows."""


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


class EndpointPolicy:
    """The shared address policy (access/egress.py, also used for @context fetching), plus what only
    notifications have: trusted tenants and the platform's own feed URLs, and MQTT endpoints."""

    def __init__(
        self, allowed_hosts: str = "", trusted_tenants: str = "", trusted_urls: tuple[str, ...] = ()
    ):
        self._addresses_policy = AddressPolicy(allowed_hosts)
        self._trusted = frozenset(_split(trusted_tenants))
        # The platform's own feed receivers (VERBUND_FEEDS): exactly these URLs, whatever their address.
        self._trusted_urls = frozenset(trusted_urls)

    def check(self, uri: str, tenant: Tenant, *, unresolvable_ok: bool = False) -> None:
        """Raise EndpointRefused unless `tenant` may send notifications to `uri` (may resolve DNS).

        `unresolvable_ok` is for writing a subscription: a host that does not resolve now cannot be judged,
        and every delivery checks again (and checks the address it connects to), so it is accepted."""
        host = self._host_to_check(uri, tenant)
        if host is None:
            return
        try:
            addresses = resolve(host)
        except OSError as exc:
            if unresolvable_ok:
                return
            raise EndpointRefused(f"notification.endpoint.uri: the host {host} cannot be resolved") from exc
        for address in addresses:
            if not self._addresses_policy.address_allowed(address):
                raise EndpointRefused(
                    f"notification.endpoint.uri: {host} is (or resolves to) {address}, a loopback, private "
                    "or otherwise internal address; notifications are not sent there (the operator can "
                    "allow it with VERBUND_NOTIFY_ALLOWED_HOSTS)"
                )

    def peer_check(self, uri: str, tenant: Tenant) -> Callable[[str], None] | None:
        """What a delivery to `uri` must check of the address it connects to; None when the tenant, the
        URL or the host name is allowed as such (any address is then fine)."""
        host = self._host_to_check(uri, tenant)
        return None if host is None else partial(self._check_peer, host)

    def _host_to_check(self, uri: str, tenant: Tenant) -> str | None:
        """The host whose addresses decide; None when the tenant, the URL or the host name is allowed."""
        if tenant in self._trusted or uri in self._trusted_urls:
            return None
        host = (urlsplit(uri).hostname or "").lower()
        if not host:
            raise EndpointRefused(f"notification.endpoint.uri: {uri} names no host")
        return None if self._addresses_policy.host_allowed(host) else host

    def _check_peer(self, host: str, address: str) -> None:
        policy = self._addresses_policy
        try:
            allowed = policy.address_allowed(ipaddress.ip_address(address.split("%", 1)[0]))
        except ValueError:
            allowed = False
        if not allowed:
            raise EndpointRefused(
                f"notification.endpoint.uri: {host} connected to {address}, a loopback, private or otherwise"
                " internal address (its DNS answer changed since the check); nothing was sent"
            )
