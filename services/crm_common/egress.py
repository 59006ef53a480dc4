"""The one egress guard: every outbound connection goes to a checked, pinned address, never to our own networks.

A destination's host is resolved once; every address it resolves to must be public (not loopback, private,
link-local or cloud metadata, CGNAT, unique-local, multicast, reserved or unspecified) unless it lies in a
network the operator allowed (`CRM_OUTBOUND_ALLOWED_NETWORKS`). The connection then goes to that address:
there is no second lookup a rebinding DNS server could answer differently. Host header and TLS SNI keep
the host name, because the URL keeps it; only the socket is opened to the pinned address. Redirects are
never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_common.secret_refs import SecretResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses it resolves to, in the resolver's order.
Resolver = Callable[[str, int], Awaitable[list[str]]]

CGNAT = ipaddress.ip_network("100.64.0.0/10")
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """A destination the guard will not connect to (the message says which address and why)."""


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDRs (a bare address is its own /32 or /128); ValueError names a bad one."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not a CIDR network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64), which is where it goes."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why an address is not a public destination, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = refusal(inner)
            return f"carries {inner}, {reason}" if reason else None
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "loopback"
    if ip in METADATA:
        return "the cloud metadata address"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in CGNAT:
        return "carrier-grade NAT (100.64.0.0/10)"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "IPv6 site-local"
    if ip.is_private:
        return "a private network"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class EgressGuard:
    """Decides where outbound connections may go and pins the address each one uses."""

    allowed: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver

    def check(self, address: str) -> None:
        """Raise EgressRefused unless the address is public or in an allowed network."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        # Nothing makes these a destination: 0.0.0.0 reaches the host itself, multicast reaches everyone.
        if ip.is_unspecified or ip.is_multicast:
            raise EgressRefused(f"{ip} is {refusal(ip)}")
        normalised = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        if any(normalised.version == net.version and normalised in net for net in self.allowed):
            return
        reason = refusal(ip)
        if reason:
            raise EgressRefused(f"{ip} is {reason}; allow its network in CRM_OUTBOUND_ALLOWED_NETWORKS if intended")

    async def pin(self, host: str, port: int) -> list[str]:
        """The checked addresses to connect to (resolved once); EgressRefused if any is refused, OSError if none."""
        host = host.strip("[]")
        if not host or "\x00" in host:
            raise EgressRefused("no host")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            addresses = await self.resolver(host, port)
            if not addresses:
                raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address") from None
        # A name that answers with one public and one internal address is refused whole: either may be used.
        for address in addresses:
            try:
                self.check(address)
            except EgressRefused as err:
                raise EgressRefused(f"{host} resolves to {err}" if address != host else str(err)) from None
        return addresses

    async def host_problem(self, host: str, port: int = 443) -> str | None:
        """Why a host cannot be a destination (None when it can, or when it does not resolve yet)."""
        try:
            # Short: a save waits for it, within the edge's deadline for the call.
            async with asyncio.timeout(2.0):
                await self.pin(host, port)
        except EgressRefused as err:
            return f"refused destination: {err}"
        except (OSError, TimeoutError):
            # Checked again at every connection; a name missing from DNS today is not a reason to refuse it.
            return None
        return None

    async def url_problem(self, url: str) -> str | None:
        """Why a URL cannot be called (scheme, credentials in it, or a refused host), or None."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "not a valid URL"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "must be an http(s) URL with a host"
        if parts.username or parts.password:
            return "must not carry credentials; reference them in secret_refs"
        return await self.host_problem(parts.hostname, port)


class _PinningBackend(httpcore.AsyncNetworkBackend):
    """httpcore's socket opener, connecting to the guard's pinned addresses instead of resolving again."""

    def __init__(self, guard: EgressGuard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.guard.pin(host, port)
        except (OSError, TimeoutError) as err:
            raise httpcore.ConnectError(f"{host} does not resolve: {type(err).__name__}") from None
        failure: Exception = httpcore.ConnectError(f"{host}: no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport whose connection pool opens sockets only through the guard."""

    def __init__(
        self, guard: EgressGuard, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # The stock pool, built again with our network backend (httpx has no parameter for one).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinningBackend(guard),
        )


class GuardedClient(httpx.AsyncClient):
    """An httpx client that never follows a redirect, whatever a caller asks (the target was not checked)."""

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        kwargs["follow_redirects"] = False
        return await super().send(request, **kwargs)


def http_client(guard: EgressGuard, *, timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The client every outbound HTTP call uses: guarded, pinned, no redirects, no proxy from the environment."""
    return GuardedClient(
        transport=GuardedTransport(guard, verify=verify), timeout=timeout, follow_redirects=False, trust_env=False
    )


@lru_cache(maxsize=8)
def _guard(allowed: str) -> EgressGuard:
    return EgressGuard(allowed=parse_networks(allowed))


class OutboundSettings(BaseSettings):
    """Settings of a process that calls out: allowed networks and where referenced secrets may live."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    outbound_allowed_networks: str = Field(
        default="", description="Comma-separated CIDRs outbound calls may reach although private (empty: public only)"
    )
    secrets_dir: str = Field(default="", description="Directory whose files 'file:' secret references may name")

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    def egress_guard(self) -> EgressGuard:
        """The guard these settings describe."""
        return _guard(self.outbound_allowed_networks)

    def secret_resolver(self) -> SecretResolver:
        """Where this process may read referenced secrets from."""
        return SecretResolver(secrets_dir=self.secrets_dir)


def outbound_of(settings: object) -> OutboundSettings:
    """A process's outbound settings: its own when it has them, else read from the environment."""
    return settings if isinstance(settings, OutboundSettings) else OutboundSettings()
