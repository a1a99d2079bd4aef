"""Where a webhook may be sent (SSRF guard, issue 18 point 6).

A target URL is https, names a host and no credentials. Every address its
host resolves to must be a public (globally routable) one: no loopback,
private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with
the metadata service 169.254.169.254, fe80::/10), shared (100.64/10),
reserved, multicast or unspecified address, also inside IPv4-mapped, NAT64
and 6to4 IPv6 addresses. It is checked when an admin subscribes and again
before every attempt, after resolving the name, and the request then goes to
the address that was checked (a name that resolves to a public address when
checked and to a private one when connected, DNS rebinding, never reaches
the private one). Redirects are not followed: a 3xx answer is a failed
attempt.

The local stack (and tests) allow loopback targets, also over plain http,
through ``allow_loopback``; config.py grants it only to those stages.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from chalicelib.domain.shared.errors import FieldError, ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
# Global by IANA's registry, but cloud metadata services live here too.
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[str]:
        """Every address the name resolves to (an empty list: it does not)."""
        ...


class UnsafeTarget(Exception):
    """The target may not be reached (refused before any connection)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why ``address`` may not be a target, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return refusal(inner, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address in _METADATA:
        return "the cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "not a public address"
    return None


def parse(url: str, *, allow_loopback: bool) -> Target:
    """The target of a URL, or ValidationFailed naming the field ``url``."""

    def invalid(message: str) -> ValidationFailed:
        return ValidationFailed("The URL cannot receive webhooks.", errors=[FieldError("url", message)])

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise invalid("not a valid URL") from err
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("https", "http") or not host:
        raise invalid("must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise invalid("must not carry credentials (user:password@)")
    if parts.fragment:
        raise invalid("must not have a #fragment")
    if scheme == "http" and not (allow_loopback and _is_loopback_name(host)):
        raise invalid("must be https://")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_addresses(target: Target, resolver: Resolver, *, allow_loopback: bool) -> list[str]:
    """The addresses to connect to: every one the host resolves to is allowed,
    or UnsafeTarget (one forbidden address refuses them all: a name that mixes
    public and private addresses is an attack or a mistake)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is None and target.host == "localhost" and not allow_loopback:
        raise UnsafeTarget("localhost is a loopback address")
    found = [str(literal)] if literal is not None else resolver.resolve(target.host, target.port)
    if not found:
        raise UnsafeTarget(f"{target.host} does not resolve")
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError as err:
            raise UnsafeTarget(f"{target.host} resolves to something that is not an address") from err
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise UnsafeTarget(f"{target.host} {'is' if literal is not None else 'resolves to'} {reason}")
    return found


def check_subscription_url(url: str, resolver: Resolver, *, allow_loopback: bool) -> Target:
    """At subscribe time: the URL's form and, after resolving it, its addresses (422 if refused)."""
    target = parse(url, allow_loopback=allow_loopback)
    try:
        checked_addresses(target, resolver, allow_loopback=allow_loopback)
    except UnsafeTarget as err:
        raise ValidationFailed("The URL cannot receive webhooks.", errors=[FieldError("url", str(err))]) from err
    return target
