"""Mutual TLS between pods: certificates of one CA, made here, as cert-manager would issue them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf.wrappers_pb2 import StringValue
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Principal, Role
from crm_common.settings import TransportSettings
from crm_common.tests.test_identity import KEY, _ask, _probe_handler, who_call

ADMIN = Principal(subject="user:a", role=Role.ADMIN)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    common: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer[0].subject if issuer else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(common), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256()), key


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _settings(directory: Path, ca: Path, **extra: object) -> TransportSettings:
    return TransportSettings(
        environment="test",
        identity_key=KEY,
        grpc_tls_cert_file=str(directory / "tls.crt"),
        grpc_tls_key_file=str(directory / "tls.key"),
        grpc_tls_ca_file=str(ca),
        **extra,
    )


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, TransportSettings]:
    """Settings of a server and a client of one CA, and of a client whose certificate another CA issued."""
    ca = _issue("crm test CA", None)
    other_ca = _issue("someone else's CA", None)
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    _write(tmp_path / "server", "lead", *_issue("lead", ca))
    _write(tmp_path / "client", "gateway", *_issue("gateway", ca))
    _write(tmp_path / "stranger", "stranger", *_issue("stranger", other_ca))
    return {
        "server": _settings(tmp_path / "server", ca_file, grpc_health_port=0),
        "client": _settings(tmp_path / "client", ca_file),
        "stranger": _settings(tmp_path / "stranger", ca_file),
    }


async def test_mutual_tls_admits_only_clients_of_the_cluster_ca(pki: dict[str, TransportSettings]) -> None:
    server = GrpcServer(port=0, service_names=["crm.test.v1.Probe"], settings=pki["server"])
    server.server.add_generic_rpc_handlers((_probe_handler(),))
    await server.start()
    address = f"127.0.0.1:{server.port}"
    try:
        async with channel_as(address, ADMIN, settings=pki["client"]) as channel:
            assert (await _ask(channel))["role"] == "admin"
        for settings in (pki["stranger"], TransportSettings(environment="test", identity_key=KEY)):
            async with channel_as(address, ADMIN, settings=settings) as refused_channel:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await _ask(refused_channel)
                assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)


async def test_probes_ask_health_in_plaintext_on_their_own_port(pki: dict[str, TransportSettings]) -> None:
    settings = pki["server"].model_copy(update={"grpc_health_port": _free_port()})
    server = GrpcServer(port=0, service_names=["crm.test.v1.Probe"], settings=settings)
    server.server.add_generic_rpc_handlers((_probe_handler(),))
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.health_port}") as probe:
            reply = await health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await who_call(probe)(StringValue(), timeout=5)
            assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
