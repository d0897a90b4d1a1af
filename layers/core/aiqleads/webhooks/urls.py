"""Which webhook receivers we may call (server-side request forgery defence).

A URL is accepted when it is https, carries no credentials, and every address its host resolves to is a public
unicast address. Private (RFC 1918, ULA), loopback, link-local, CGNAT, multicast, reserved and unspecified
addresses are refused, including when they hide in IPv4-mapped, NAT64, 6to4 or Teredo IPv6 addresses, and so are
cloud metadata endpoints by address (169.254.169.254, fd00:ec2::254, 100.100.100.200) and by name. The check runs
when a subscription is made and again before every attempt, and the attempt connects to the address that was
checked (DNS rebinding cannot swap it). The local cloud alone allows loopback receivers, over http too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[[str, int], Sequence[str]]


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why in words a customer understands."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked receiver: where to connect (a vetted address) and what to ask for (host, path)."""

    scheme: str
    host: str  # as written (sent as Host and SNI)
    port: int
    path: str  # path + query
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"the host {host!r} does not resolve") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo client)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[IPAddress] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.append(address.teredo[1])
    return found


def address_problem(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `address` may not receive webhooks, or None when it may."""
    for inner in _embedded(address):
        problem = address_problem(inner, allow_loopback=allow_loopback)
        if problem:
            return problem
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private or not address.is_global:
        return "a private or reserved address"
    return None


class UrlPolicy:
    def __init__(self, *, allow_loopback: bool = False, resolver: Resolver = system_resolver):
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    def parse(self, url: str) -> tuple[str, str, int, str]:
        """Syntax only (no DNS): scheme, host, port, path. Raises UnsafeUrl."""
        if len(url) > MAX_URL_LENGTH:
            raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if any(ch.isspace() or ord(ch) < 32 for ch in url):
            raise UnsafeUrl("the URL contains whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise UnsafeUrl(f"not a valid URL: {error}") from error
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise UnsafeUrl("the URL must start with https://")
        if parts.username is not None or parts.password is not None:
            raise UnsafeUrl("the URL may not contain credentials (user:password@)")
        if parts.fragment:
            raise UnsafeUrl("the URL may not contain a #fragment")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise UnsafeUrl("the URL has no host")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return scheme, host, port or (443 if scheme == "https" else 80), path

    def check(self, url: str) -> Target:
        """Parse, resolve and vet every address. Raises UnsafeUrl with the reason."""
        scheme, host, port, path = self.parse(url)
        if scheme != "https" and not self.allow_loopback:
            raise UnsafeUrl("the URL must use https")
        if host in METADATA_HOSTNAMES or host.endswith(".internal"):
            raise UnsafeUrl(f"the host {host!r} is a cloud metadata or internal name")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            if host == "localhost" or host.endswith(".localhost"):
                addresses = ["127.0.0.1"]
            else:
                addresses = list(self.resolver(host, port))
        if not addresses:
            raise UnsafeUrl(f"the host {host!r} does not resolve")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            problem = address_problem(address, allow_loopback=self.allow_loopback)
            if problem:
                raise UnsafeUrl(f"the host {host!r} resolves to {address}, {problem}")
        if scheme != "https":
            loopback_only = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
            if not (self.allow_loopback and loopback_only):
                raise UnsafeUrl("the URL must use https")
        return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))
