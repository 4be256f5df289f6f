"""Where a connection may point: the server-side request forgery (SSRF) guard.

Whoever can edit a connection makes this server send requests, with credentials, to the
URL they typed. So a connection URL must not reach the machine itself (loopback), the
cloud's metadata service (credentials of the host!), link-local addresses, or anything that
is not a unicast address, unless a setting allows that network explicitly:

- CONNECTION_REQUIRE_HTTPS: refuse http:// (on in production).
- CONNECTION_ALLOWED_NETWORKS: CIDRs that are allowed although internal (development allows
  loopback, for the simulators). A metadata address is only allowed when listed by itself.
- CONNECTION_ALLOW_PRIVATE_NETWORKS: RFC 1918 / unique-local addresses (on-premises ERPs
  live there); off refuses them unless listed in CONNECTION_ALLOWED_NETWORKS.

The host name is resolved and every address checked, at save time and again before each
request (connectors.http), because a name can be re-pointed after it was checked (DNS
rebinding). A name that does not resolve passes: the request fails on its own, and the
check before each request sees whatever it resolves to later.
"""

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance-metadata endpoints: AWS/GCP/Azure/OpenStack (IPv4), AWS (IPv6, inside the
# unique-local range, so "private allowed" must not let it through), Alibaba, Azure wire server.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
# Names that mean the metadata service whatever they resolve to.
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
# Seconds a resolved host is remembered by the per-request check (one lookup per host per
# minute, not per request).
RESOLVE_CACHE_SECONDS = 60.0


class UnsafeDestination(ValueError):
    """A connection URL points somewhere this server must not send requests."""


@dataclass(frozen=True)
class DestinationPolicy:
    require_https: bool
    allowed_networks: tuple[IPNetwork, ...]
    allow_private: bool

    @classmethod
    def from_settings(cls) -> "DestinationPolicy":
        return _policy(
            bool(getattr(settings, "CONNECTION_REQUIRE_HTTPS", False)),
            tuple(getattr(settings, "CONNECTION_ALLOWED_NETWORKS", ())),
            bool(getattr(settings, "CONNECTION_ALLOW_PRIVATE_NETWORKS", True)),
        )

    def explicitly_allows(self, address: IPAddress) -> bool:
        if address in METADATA_ADDRESSES:
            # Only a network of exactly this one address counts: 0.0.0.0/0 does not.
            return any(n.num_addresses == 1 and address in n for n in self.allowed_networks)
        return any(address in n for n in self.allowed_networks)


@lru_cache(maxsize=8)
def _policy(
    require_https: bool, networks: tuple[str, ...], allow_private: bool
) -> DestinationPolicy:
    return DestinationPolicy(
        require_https=require_https,
        allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
        allow_private=allow_private,
    )


Resolver = Callable[[str, int], Iterable[str]]


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def address_problem(address: IPAddress, policy: DestinationPolicy) -> str | None:
    """Why this address is refused, or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if policy.explicitly_allows(address):
        return None
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a unicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED_SPACE:
        return "a carrier-grade NAT address"
    if address.is_private:
        if policy.allow_private:
            return None
        return "a private address"
    return None


_SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")


def check_destination(
    url: str,
    *,
    policy: DestinationPolicy | None = None,
    resolve: Resolver = system_resolve,
) -> None:
    """Raise UnsafeDestination naming the URL's problem; return when it may be requested."""
    policy = policy or DestinationPolicy.from_settings()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination(f"{url!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeDestination(f"{url!r}: only http and https URLs are allowed")
    if policy.require_https and scheme != "https":
        raise UnsafeDestination(
            f"{url!r}: https is required (CONNECTION_REQUIRE_HTTPS is on); use https://"
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeDestination(f"{url!r} has no host")
    if parts.username or parts.password:
        raise UnsafeDestination(
            f"{parts.scheme}://…@{host}: put credentials in the credentials field, not the URL"
        )
    if host in METADATA_HOSTNAMES:
        raise UnsafeDestination(f"{host!r} is a cloud metadata service")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [
                ipaddress.ip_address(a.split("%", 1)[0])
                for a in resolve(host, port or (443 if scheme == "https" else 80))
            ]
        except (OSError, UnicodeError):
            return  # does not resolve (yet): nothing to connect to; see the module docstring
    for address in addresses:
        problem = address_problem(address, policy)
        if problem:
            where = host if str(address) == host else f"{host} resolves to {address}, which"
            raise UnsafeDestination(
                f"{where} is {problem}; connections may not point there unless "
                "CONNECTION_ALLOWED_NETWORKS lists it"
            )


def validate_connection_url(url: str) -> None:
    """Django validator form of check_destination (model clean, forms, serializers)."""
    try:
        check_destination(url)
    except UnsafeDestination as exc:
        raise ValidationError(str(exc), code="unsafe_destination") from None


class DestinationGuard:
    """The check before each request. A host's verdict is remembered for `ttl` seconds (per
    scheme, host, port and policy), so a request pays one dictionary lookup, not a DNS
    lookup; a refusal is not remembered."""

    def __init__(
        self, *, resolve: Resolver = system_resolve, ttl: float = RESOLVE_CACHE_SECONDS
    ) -> None:
        self._resolve = resolve
        self._ttl = ttl
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._passed: dict[tuple[str, DestinationPolicy], float] = {}
        self._lock = threading.Lock()

    def _cached_resolve(self, host: str, port: int) -> list[str]:
        now = time.monotonic()
        key = (host, port)
        with self._lock:
            hit = self._cache.get(key)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        addresses = list(self._resolve(host, port))
        with self._lock:
            self._cache[key] = (now, addresses)
        return addresses

    def check(self, url: str) -> None:
        policy = DestinationPolicy.from_settings()
        origin = url.split("/", 3)[:3]  # scheme:, "", netloc: the path does not matter
        key = ("/".join(origin).lower(), policy)
        now = time.monotonic()
        passed_at = self._passed.get(key)
        if passed_at is not None and now - passed_at < self._ttl:
            return
        check_destination(url, policy=policy, resolve=self._cached_resolve)
        with self._lock:
            if len(self._passed) > 10_000:  # bounded, whatever URLs come through
                self._passed.clear()
            self._passed[key] = now


request_guard = DestinationGuard()
