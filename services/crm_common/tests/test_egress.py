"""The egress guard on real loopback listeners: refused ranges, allowed networks, pinning, no redirects, TLS names."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import ValidationError

from crm_common.egress import EgressGuard, EgressRefused, OutboundSettings, http_client, parse_networks
from crm_common.secret_refs import SecretResolver, SecretUnavailable

REFUSED = [
    "127.0.0.1", "127.255.255.254", "::1",  # loopback
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",  # RFC 1918
    "169.254.169.254", "169.254.10.1", "fd00:ec2::254", "fe80::1",  # metadata and link-local
    "100.64.0.1", "100.127.255.254",  # CGNAT
    "fc00::1", "fd12:3456::1", "fec0::1",  # IPv6 unique-local and site-local
    "0.0.0.0", "::",  # unspecified
    "224.0.0.1", "239.1.1.1", "ff02::1",  # multicast
    "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1",  # reserved, benchmarking, documentation
    "::ffff:127.0.0.1", "::ffff:10.0.0.1",  # IPv4-mapped
    "2002:7f00:1::1", "64:ff9b::a00:1", "2001:0:4136:e378:8000:63bf:80ff:fffe",  # 6to4, NAT64, Teredo of internal v4
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "203.0.114.1", "2001:4860:4860::8888", "2002:808:808::1", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED)
def test_every_internal_range_is_refused(address: str) -> None:
    with pytest.raises(EgressRefused) as err:
        EgressGuard().check(address)
    assert "CRM_OUTBOUND_ALLOWED_NETWORKS" in str(err.value) or "is the unspecified" in str(err.value) or "multicast" in str(err.value)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    EgressGuard().check(address)


def test_an_allowed_network_opens_only_itself_and_never_unspecified_or_multicast() -> None:
    guard = EgressGuard(allowed=parse_networks("127.0.0.0/8, 10.20.0.0/16"))
    for address in ("127.0.0.1", "127.0.0.2", "10.20.3.4", "::ffff:127.0.0.1"):
        guard.check(address)
    for address in ("10.21.0.1", "192.168.0.1", "169.254.169.254", "::1"):
        with pytest.raises(EgressRefused):
            guard.check(address)
    everything = EgressGuard(allowed=parse_networks("0.0.0.0/0,::/0"))
    for address in ("0.0.0.0", "::", "224.0.0.1"):
        with pytest.raises(EgressRefused):
            everything.check(address)


def test_allowed_networks_setting_is_validated() -> None:
    assert OutboundSettings(outbound_allowed_networks="127.0.0.0/8").egress_guard().allowed == parse_networks("127.0.0.0/8")
    with pytest.raises(ValidationError, match="not a CIDR"):
        OutboundSettings(outbound_allowed_networks="127.0.0.0/8,localhost")


def _resolver(*answers: list[str]) -> tuple[list[str], object]:
    """A DNS stand-in answering each lookup with the next answer (the last one repeats); records the lookups."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    return asked, resolve


async def test_a_name_resolving_to_an_internal_address_is_refused_whole() -> None:
    _, to_loopback = _resolver(["127.0.0.1"])
    with pytest.raises(EgressRefused, match=re.escape("evil.test resolves to 127.0.0.1 is loopback")):
        await EgressGuard(resolver=to_loopback).pin("evil.test", 443)  # type: ignore[arg-type]
    _, mixed = _resolver(["93.184.216.34", "10.0.0.5"])
    with pytest.raises(EgressRefused, match=re.escape("10.0.0.5")):
        await EgressGuard(resolver=mixed).pin("mixed.test", 443)  # type: ignore[arg-type]
    assert await EgressGuard(resolver=to_loopback).host_problem("evil.test") is not None  # type: ignore[arg-type]
    assert await EgressGuard().url_problem("http://user:pw@93.184.216.34/") == "must not carry credentials; reference them in secret_refs"
    assert await EgressGuard().url_problem("file:///etc/passwd") == "must be an http(s) URL with a host"
    assert await EgressGuard().url_problem("http://[fd00:ec2::254]/latest") is not None


@dataclass
class Listener:
    """A plain HTTP/1.1 server on one loopback address: records what reached it, answers as told."""

    host: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            request = {"line": head[0]} | {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
            self.requests.append(request)
            extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
            writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\nConnection: close\r\n{extra}\r\nok".encode())
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def listening(*listeners: Listener, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """Start the listeners on one common free port (each on its own loopback address); yields the port."""
    for _ in range(50):
        servers: list[asyncio.Server] = []
        try:
            first = await asyncio.start_server(listeners[0].handle, listeners[0].host, 0, ssl=tls)
            servers.append(first)
            port = first.sockets[0].getsockname()[1]
            for listener in listeners[1:]:
                servers.append(await asyncio.start_server(listener.handle, listener.host, port, ssl=tls))
        except OSError:
            for server in servers:
                server.close()
            continue
        try:
            yield port
        finally:
            for server in servers:
                server.close()
        return
    raise RuntimeError("no common free port on the loopback addresses")


async def test_the_resolved_address_is_pinned_so_a_rebinding_dns_cannot_redirect_the_request() -> None:
    provider, internal = Listener("127.0.0.1"), Listener("127.0.0.2")
    asked, rebinding = _resolver(["127.0.0.1"], ["127.0.0.2"])
    guard = EgressGuard(allowed=parse_networks("127.0.0.1/32"), resolver=rebinding)  # type: ignore[arg-type]
    async with listening(provider, internal) as port:
        async with http_client(guard, timeout=5) as client:
            response = await client.get(f"http://rebind.test:{port}/v1/account")
        assert response.status_code == 200
        assert asked == ["rebind.test"]
        assert [r["host"] for r in provider.requests] == [f"rebind.test:{port}"]
        # The next connection asks again and is told the internal address: refused before any byte is sent.
        async with http_client(guard, timeout=5) as client:
            with pytest.raises(EgressRefused, match=re.escape("rebind.test resolves to 127.0.0.2")):
                await client.get(f"http://rebind.test:{port}/v1/account")
    assert asked == ["rebind.test", "rebind.test"]
    assert internal.connections == 0


async def test_a_refused_address_gets_no_connection_at_all() -> None:
    listener = Listener("127.0.0.1")
    async with listening(listener) as port:
        async with http_client(EgressGuard(), timeout=5) as client:
            with pytest.raises(EgressRefused, match=re.escape("127.0.0.1 is loopback")):
                await client.post(f"http://127.0.0.1:{port}/v1/sms/send", json={"x": 1})
    assert listener.connections == 0


async def test_redirects_are_never_followed_even_when_a_caller_asks() -> None:
    inside = Listener("127.0.0.2")
    async with listening(Listener("127.0.0.1"), inside) as port:
        redirector = Listener("127.0.0.1", status=302, headers={"Location": f"http://127.0.0.2:{port}/latest/meta-data"})
        async with listening(redirector) as other:
            guard = EgressGuard(allowed=parse_networks("127.0.0.0/8"))
            async with http_client(guard, timeout=5) as client:
                response = await client.get(f"http://127.0.0.1:{other}/", follow_redirects=True)
    assert response.status_code == 302
    assert len(redirector.requests) == 1 and inside.connections == 0


async def test_tls_keeps_the_host_name_for_sni_and_the_certificate_check_while_connecting_to_the_pinned_address() -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("provider.test").configure_cert(server_tls)
    names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    provider = Listener("127.0.0.1")
    _, resolve = _resolver(["127.0.0.1"])
    guard = EgressGuard(allowed=parse_networks("127.0.0.1/32"), resolver=resolve)  # type: ignore[arg-type]
    async with listening(provider, tls=server_tls) as port:
        async with http_client(guard, timeout=5, verify=client_tls) as client:
            response = await client.get(f"https://provider.test:{port}/")
            # The same address under a name the certificate does not carry fails the check.
            _, other_name = _resolver(["127.0.0.1"])
            other = EgressGuard(allowed=guard.allowed, resolver=other_name)  # type: ignore[arg-type]
            async with http_client(other, timeout=5, verify=client_tls) as second:
                with pytest.raises(httpx.ConnectError):
                    await second.get(f"https://elsewhere.test:{port}/")
    assert response.status_code == 200
    assert names[0] == "provider.test" and provider.requests[0]["host"] == f"provider.test:{port}"


def test_secret_references_name_only_crm_secret_variables_or_files_inside_the_secrets_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_dir, outside = tmp_path / "secrets", tmp_path / "outside"
    secrets_dir.mkdir()
    outside.mkdir()
    (secrets_dir / "sms_api_key").write_text("sk-from-file\n")
    (outside / "db").write_text("postgresql://crm:pw@db/crm")
    (secrets_dir / "escape").symlink_to(outside / "db")
    monkeypatch.setenv("CRM_SECRET_SMS_API_KEY", "sk-from-env")
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql://crm:pw@db/crm")
    resolver = SecretResolver(secrets_dir=str(secrets_dir))

    assert resolver.read("env:CRM_SECRET_SMS_API_KEY") == "sk-from-env"
    assert resolver.read("file:sms_api_key") == "sk-from-file"
    assert resolver.read(f"file:{secrets_dir}/sms_api_key") == "sk-from-file"
    for ref in (
        "env:CRM_DATABASE_URL", "env:PATH", "env:CRM_SECRETX", "sk-live-123", "vault:kv/sms",
        "file:../outside/db", f"file:{outside}/db", "file:escape", "file:/etc/passwd", f"file:{secrets_dir}",
    ):
        assert resolver.problem(ref) is not None, ref
        with pytest.raises(SecretUnavailable) as err:
            resolver.read(ref)
        assert "postgresql://" not in str(err.value)
    assert SecretResolver().problem("file:sms_api_key") == "file references need CRM_SECRETS_DIR to be set"
