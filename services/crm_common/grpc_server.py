"""gRPC server bootstrap: health, reflection outside production, identity, tracing, metrics, deadlines, errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from crm_common.errors import DomainError, InvalidArgument, nul_violations, to_rpc_status
from crm_common.identity import METADATA_KEY, TokenCodec, Unauthenticated, VerifiedTokens, acting_as, token_of
from crm_common.metrics import RPC_SERVER_DURATION
from crm_common.settings import TransportSettings

log = logging.getLogger(__name__)

# A call that arrives without a deadline gets this one, so no handler can run unbounded.
DEFAULT_DEADLINE_SECONDS = 30.0
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# Asked by probes and tools that hold no identity; everything else needs a token.
OPEN_SERVICES = frozenset({HEALTH_SERVICE, reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"})


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Verifies the caller, times every unary call, bounds it by a deadline and maps domain errors to statuses."""

    def __init__(self, tokens: VerifiedTokens) -> None:
        self.tokens = tokens
        # A method's handler never changes once registered: wrap it once, not on every call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None:
            return handler
        if handler.unary_unary is None:
            if handler.unary_stream is not None and method.lstrip("/").partition("/")[0] not in OPEN_SERVICES:
                return _wrap_unary_stream(handler, method, self.tokens)  # e.g. reporting's exports
            # Other streams are only health's Watch and reflection; any other would bypass the identity check.
            return handler if method.lstrip("/").partition("/")[0] in OPEN_SERVICES else None
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = _wrap_unary(handler, method, self.tokens)
        self._wrapped[method] = (handler, wrapped)
        return wrapped


def _wrap_unary(handler: grpc.RpcMethodHandler, method: str, tokens: VerifiedTokens) -> grpc.RpcMethodHandler:
    """The handler run as its verified caller, bounded by a deadline, timed, with domain errors mapped to statuses."""
    service_name, _, method_name = method.lstrip("/").partition("/")
    inner = handler.unary_unary
    open_service = service_name in OPEN_SERVICES
    # One labelled child per status code, looked up once (labels() takes a lock and builds a key per call).
    observers: dict[grpc.StatusCode, Any] = {}

    def observe(code: grpc.StatusCode, seconds: float) -> None:
        child = observers.get(code)
        if child is None:
            child = observers[code] = RPC_SERVER_DURATION.labels(service_name, method_name, code.name)
        child.observe(seconds)

    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            remaining = context.time_remaining()
            timeout = DEFAULT_DEADLINE_SECONDS if remaining is None else max(remaining, 0.0)
            principal = None
            if not open_service:
                token = token_of(context.invocation_metadata())
                if token is None:
                    raise Unauthenticated(f"{method_name} needs an identity token in the {METADATA_KEY} metadata")
                principal = tokens.verify(token)
            # No service's tables store a NUL; naming the field beats the INTERNAL the insert would end in.
            if violations := nul_violations(request):
                raise InvalidArgument(violations)
            # asyncio.timeout, not wait_for: no extra task per call (and the handler keeps the call's context).
            with acting_as(principal):
                async with asyncio.timeout(timeout):
                    return await inner(request, context)
        except DomainError as err:
            code = err.code
            await context.abort_with_status(rpc_status.to_status(to_rpc_status(err)))
        except TimeoutError:
            code = grpc.StatusCode.DEADLINE_EXCEEDED
            await context.abort(code, f"{method_name} did not finish within its deadline")
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("unhandled error in %s", method)
            await context.abort(code, "internal error")
        finally:
            observe(code, time.perf_counter() - started)

    return grpc.unary_unary_rpc_method_handler(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _wrap_unary_stream(handler: grpc.RpcMethodHandler, method: str, tokens: VerifiedTokens) -> grpc.RpcMethodHandler:
    """A server-streaming handler run as its verified caller, with domain errors mapped to statuses."""
    method_name = method.rpartition("/")[2]
    inner = handler.unary_stream

    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            token = token_of(context.invocation_metadata())
            if token is None:
                raise Unauthenticated(f"{method_name} needs an identity token in the {METADATA_KEY} metadata")
            principal = tokens.verify(token)
            if violations := nul_violations(request):
                raise InvalidArgument(violations)
            with acting_as(principal):
                async for item in inner(request, context):
                    yield item
        except DomainError as err:
            await context.abort_with_status(rpc_status.to_status(to_rpc_status(err)))
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("unhandled error in %s", method)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return grpc.unary_stream_rpc_method_handler(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def server_credentials(settings: TransportSettings) -> grpc.ServerCredentials:
    """Mutual TLS: the pod's certificate, and only clients with a certificate of the cluster's CA."""
    return grpc.ssl_server_credentials(
        [(_read(settings.grpc_tls_key_file), _read(settings.grpc_tls_cert_file))],
        root_certificates=_read(settings.grpc_tls_ca_file),
        require_client_auth=True,
    )


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


class GrpcServer:
    """An aio server with health, identity and (outside production) reflection; `serving(True)` flips readiness.

    Settings default to the environment's (CRM_IDENTITY_KEY, CRM_GRPC_REFLECTION, CRM_GRPC_TLS_*).
    """

    def __init__(
        self,
        *,
        port: int,
        service_names: Sequence[str],
        settings: TransportSettings | None = None,
        max_receive_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        settings = settings or TransportSettings()
        self.settings = settings
        tokens = VerifiedTokens(TokenCodec(settings.signing_key, ttl_seconds=settings.identity_ttl_seconds))
        self.server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), ServiceInterceptor(tokens)],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", max_receive_bytes)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(service_names)
        if settings.reflection_enabled:
            reflection.enable_server_reflection([*self.service_names, HEALTH_SERVICE, reflection.SERVICE_NAME], self.server)
        address = f"0.0.0.0:{port}"
        if settings.tls_enabled:
            self.port = self.server.add_secure_port(address, server_credentials(settings))
        else:
            self.port = self.server.add_insecure_port(address)
        # Kubelet's gRPC probes speak plaintext: with TLS on they ask a health-only server on its own port.
        self.health_server: grpc.aio.Server | None = None
        self.health_port: int | None = None
        if settings.tls_enabled and settings.grpc_health_port:
            self.health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            self.health_port = self.health_server.add_insecure_port(f"0.0.0.0:{settings.grpc_health_port}")

    async def start(self) -> None:
        """Serve; the whole server ("", the liveness probe) is SERVING at once, named services wait for ready."""
        await self.server.start()
        if self.health_server is not None:
            await self.health_server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self.serving(False)

    async def serving(self, ready: bool) -> None:
        """Readiness: flip the named services only, so a database outage never fails liveness."""
        serving = health_pb2.HealthCheckResponse.SERVING
        status = serving if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in self.service_names:
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Graceful stop: tell probes first, then let in-flight calls finish within the grace period."""
        await self.health.enter_graceful_shutdown()
        if self.health_server is not None:
            await self.health_server.stop(grace)
        await self.server.stop(grace)
