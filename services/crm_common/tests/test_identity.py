"""Identity between services: the token, the server's check, the client's token, service-to-service calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crm_common.grpc_client import blocking_channel_as, channel_as, open_channel
from crm_common.grpc_server import GrpcServer
from crm_common.identity import (
    Principal,
    Role,
    TokenCache,
    TokenCodec,
    Unauthenticated,
    acting_as,
    current_principal,
    outgoing_principal,
    require_principal,
    service_principal,
)
from crm_common.settings import DEV_IDENTITY_KEY, TransportSettings

KEY = "k" * 40
SETTINGS = TransportSettings(environment="test", identity_key=KEY)
WHO = "/crm.test.v1.Probe/Who"
MANAGER = Principal(subject="user:m1", role=Role.MANAGER, team_ids=("t1", "t2"))
REP = Principal(subject="user:r1", role=Role.SALES_REP, rep_id="rep-1")


def _describe(principal: Principal | None) -> dict[str, Any] | None:
    return None if principal is None else principal.claims()


def who_call(channel: grpc.aio.Channel | grpc.Channel) -> Any:
    """The probe's one method on a channel: a StringValue in, the caller's claims as JSON in a StringValue out."""
    return channel.unary_unary(
        WHO, request_serializer=StringValue.SerializeToString, response_deserializer=StringValue.FromString
    )


def _probe_handler(relay: grpc.aio.Channel | None = None) -> grpc.GenericRpcHandler:
    async def who(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
        """Answers with the claims of the principal the handler runs as (or, asked to relay, of the next hop)."""
        if relay is not None and request.value == "relay":
            return await who_call(relay)(StringValue(), timeout=5)
        return StringValue(value=json.dumps(_describe(current_principal())))

    handler = grpc.unary_unary_rpc_method_handler(
        who, request_deserializer=StringValue.FromString, response_serializer=StringValue.SerializeToString
    )
    return grpc.method_handlers_generic_handler("crm.test.v1.Probe", {"Who": handler})


async def _serve(settings: TransportSettings = SETTINGS, relay: grpc.aio.Channel | None = None) -> GrpcServer:
    server = GrpcServer(port=0, service_names=["crm.test.v1.Probe"], settings=settings)
    server.server.add_generic_rpc_handlers((_probe_handler(relay),))
    await server.start()
    await server.serving(True)
    return server


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    started = await _serve()
    yield started
    await started.stop(0)


async def _ask(channel: grpc.aio.Channel, request: str = "") -> Any:
    return json.loads((await who_call(channel)(StringValue(value=request), timeout=5)).value)


def test_token_round_trip_keeps_every_claim() -> None:
    codec = TokenCodec(KEY)
    caller = service_principal("lead", on_behalf_of=MANAGER)
    back = codec.verify(codec.mint(caller))
    assert back == caller and back.on_behalf_of == MANAGER and back.on_behalf_of.team_ids == ("t1", "t2")
    assert back.acting_for == MANAGER and MANAGER.acting_for == MANAGER


def test_forged_expired_and_garbage_tokens_are_refused() -> None:
    codec = TokenCodec(KEY)
    with pytest.raises(Unauthenticated):
        codec.verify(TokenCodec("x" * 40).mint(REP))
    with pytest.raises(Unauthenticated):
        codec.verify(codec.mint(REP, now=1_000_000))
    with pytest.raises(Unauthenticated):
        codec.verify("not.a.token")
    with pytest.raises(ValueError):
        TokenCodec("short")


def test_token_cache_reuses_a_token_and_mints_anew_near_expiry() -> None:
    cache = TokenCache(TokenCodec(KEY))
    assert cache.token(REP) == cache.token(REP)
    # The same service acting for another user is another token.
    assert cache.token(service_principal("lead", on_behalf_of=REP)) != cache.token(
        service_principal("lead", on_behalf_of=MANAGER)
    )
    always_fresh = TokenCache(TokenCodec(KEY, ttl_seconds=60), refresh_before_seconds=60)
    assert always_fresh.token(REP) != always_fresh.token(REP)


def test_outgoing_principal_carries_the_user_through_every_hop() -> None:
    assert outgoing_principal("lead") == service_principal("lead")
    with acting_as(REP):
        assert outgoing_principal("lead").on_behalf_of == REP
    with acting_as(service_principal("gateway", on_behalf_of=MANAGER)):
        hop = outgoing_principal("lead")
        assert hop.service == "lead" and hop.on_behalf_of == MANAGER
    with acting_as(service_principal("reporting")):
        assert outgoing_principal("lead").on_behalf_of is None
    with pytest.raises(Unauthenticated):
        require_principal()


def test_settings_refuse_missing_placeholder_and_short_keys_in_production() -> None:
    with pytest.raises(ValueError, match="CRM_IDENTITY_KEY must be set"):
        TransportSettings(environment="production")
    with pytest.raises(ValueError, match="placeholder"):
        TransportSettings(environment="production", identity_key="changeme" * 5)
    with pytest.raises(ValueError, match="placeholder"):
        TransportSettings(environment="production", identity_key=DEV_IDENTITY_KEY)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TransportSettings(environment="development", identity_key="short")
    with pytest.raises(ValueError, match="go together"):
        TransportSettings(environment="development", grpc_tls_cert_file="/tmp/cert.pem")
    assert TransportSettings(environment="development").signing_key == DEV_IDENTITY_KEY
    production = TransportSettings(environment="production", identity_key=KEY)
    assert production.signing_key == KEY and not production.reflection_enabled
    assert TransportSettings(environment="test").reflection_enabled


async def test_calls_without_or_with_a_forged_token_are_unauthenticated(server: GrpcServer) -> None:
    address = f"127.0.0.1:{server.port}"
    async with open_channel(address, settings=SETTINGS) as anonymous:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _ask(anonymous)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "x-crm-identity" in (refused.value.details() or "")
        # Probes hold no identity: health answers anyone.
        health = await health_pb2_grpc.HealthStub(anonymous).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    forged = TransportSettings(environment="test", identity_key="f" * 40)
    async with channel_as(address, REP, settings=forged) as impostor:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _ask(impostor)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_the_handler_runs_as_the_verified_caller(server: GrpcServer) -> None:
    async with channel_as(f"127.0.0.1:{server.port}", MANAGER, settings=SETTINGS) as channel:
        assert await _ask(channel) == MANAGER.claims()
        assert await _ask(channel) == MANAGER.claims()
    assert current_principal() is None


async def test_a_blocking_channel_carries_the_token_too(server: GrpcServer) -> None:
    def ask() -> Any:
        with blocking_channel_as(f"127.0.0.1:{server.port}", REP, settings=SETTINGS) as channel:
            return json.loads(who_call(channel)(StringValue(), timeout=5).value)

    # In a thread: the server answers on this test's event loop.
    assert await asyncio.to_thread(ask) == REP.claims()


async def test_a_service_calling_a_peer_names_itself_and_the_user_it_serves(server: GrpcServer) -> None:
    """gateway -> first (as the rep) -> second: the second sees `first` acting for the rep."""
    downstream = open_channel(
        f"127.0.0.1:{server.port}", caller=lambda: outgoing_principal("first"), settings=SETTINGS
    )
    first = await _serve(relay=downstream)
    try:
        async with channel_as(f"127.0.0.1:{first.port}", REP, settings=SETTINGS) as edge:
            seen = await _ask(edge, "relay")
        assert seen == service_principal("first", on_behalf_of=REP).claims()
        # On its own (a consumer, a timer) the service is only itself.
        assert await _ask(downstream) == service_principal("first").claims()
    finally:
        await downstream.close()
        await first.stop(0)


async def test_reflection_is_off_in_production() -> None:
    async def services(settings: TransportSettings) -> grpc.StatusCode | list[str]:
        server = await _serve(settings)
        try:
            async with open_channel(f"127.0.0.1:{server.port}", settings=settings) as channel:
                stub = reflection_pb2_grpc.ServerReflectionStub(channel)
                request = reflection_pb2.ServerReflectionRequest(list_services="")
                try:
                    replies = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=5)]
                except grpc.aio.AioRpcError as err:
                    return err.code()
                return [s.name for s in replies[0].list_services_response.service]
        finally:
            await server.stop(0)

    assert "crm.test.v1.Probe" in await services(SETTINGS)
    production = TransportSettings(environment="production", identity_key=KEY)
    assert await services(production) is grpc.StatusCode.UNIMPLEMENTED
