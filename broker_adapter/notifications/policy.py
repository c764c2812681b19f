"""Which notification endpoints a tenant may use: the SSRF guard.

By default an endpoint whose host is (or resolves to) a loopback, private, link-local, multicast,
reserved or unspecified address is refused, so a subscription cannot make the broker call into the
network it runs in. Operators allow specific hosts, IPs or networks (`notify_allowed_hosts`, e.g.
"127.0.0.1,10.0.5.0/24,catalog.internal") and exempt the platform's own tenants
(`notify_trusted_tenants`). The check runs when a subscription is written (a clear 400) and again before
each delivery, because DNS answers change.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.types import Tenant

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class EndpointRefused(BadRequestData):
    """The endpoint is outside what the policy allows."""


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


class EndpointPolicy:
    def __init__(
        self, allowed_hosts: str = "", trusted_tenants: str = "", trusted_urls: tuple[str, ...] = ()
    ):
        self._hosts: set[str] = set()
        self._networks: list[IpNetwork] = []
        for item in _split(allowed_hosts):
            try:
                self._networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self._hosts.add(item.lower())
        self._trusted = frozenset(_split(trusted_tenants))
        # The platform's own feed receivers (VERBUND_FEEDS): exactly these URLs, whatever their address.
        self._trusted_urls = frozenset(trusted_urls)

    def _allowed_address(self, address: IpAddress) -> bool:
        if not (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        ):
            return True
        return any(address in network for network in self._networks)

    def check(self, uri: str, tenant: Tenant) -> None:
        """Raise EndpointRefused unless `tenant` may send notifications to `uri` (may resolve DNS)."""
        if tenant in self._trusted or uri in self._trusted_urls:
            return
        host = (urlsplit(uri).hostname or "").lower()
        if not host:
            raise EndpointRefused(f"notification.endpoint.uri: {uri} names no host")
        if host in self._hosts:
            return
        for address in self._addresses(host):
            if not self._allowed_address(address):
                raise EndpointRefused(
                    f"notification.endpoint.uri: {host} is (or resolves to) {address}, a loopback, private "
                    "or otherwise internal address; notifications are not sent there (the operator can "
                    "allow it with VERBUND_NOTIFY_ALLOWED_HOSTS)"
                )

    @staticmethod
    def _addresses(host: str) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise EndpointRefused(f"notification.endpoint.uri: the host {host} cannot be resolved") from exc
        return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
