"""Where the broker may send requests on a client's behalf: the SSRF policy of notifications (their
endpoints) and of @context fetching (remote context URLs).

A URL is refused when its scheme is not http/https, or its host is (or resolves to) a loopback,
private, link-local, multicast, reserved or unspecified address, unless the operator allows that host,
address or network. DNS is resolved at the check; the @context fetcher also checks the address it
actually connected to (a DNS answer that changed in between cannot sneak through) and every redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from verbund.settings import Settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressPolicy:
    def __init__(self, allowed_hosts: str = "") -> None:
        self._hosts: set[str] = set()
        self._networks: list[IpNetwork] = []
        for item in (part.strip() for part in allowed_hosts.split(",")):
            if not item:
                continue
            try:
                self._networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self._hosts.add(item.lower())

    def address_allowed(self, address: IpAddress) -> bool:
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

    def host_allowed(self, host: str) -> bool:
        return host.lower() in self._hosts

    def refusal(self, url: str) -> str | None:
        """Why url may not be fetched (resolving its host), or None when it may."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"{url[:100]} is not an http or https URL"
        host = (parts.hostname or "").lower()
        if not host:
            return f"{url[:100]} names no host"
        if host in self._hosts:
            return None
        try:
            addresses = resolve(host)
        except OSError:
            return f"the host {host} cannot be resolved"
        for address in addresses:
            if not self.address_allowed(address):
                return f"{host} is (or resolves to) {address}, a loopback, private or other internal address"
        return None

    def peer_refusal(self, host: str, peer: str) -> str | None:
        """Why the connection to `peer` (the address actually reached for host) may not be used."""
        if host.lower() in self._hosts:
            return None
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return None
        if self.address_allowed(address):
            return None
        return f"{host} was reached at {address}, a loopback, private or otherwise internal address"


def resolve(host: str) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def context_policy(settings: Settings) -> AddressPolicy:
    """Where remote @contexts may be fetched from (VERBUND_CONTEXT_ALLOWED_HOSTS lets internal hosts in)."""
    return AddressPolicy(settings.context_allowed_hosts)
