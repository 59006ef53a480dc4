"""The FastAPI application: `create_app(settings)` builds it; nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider
from starlette.types import Scope

from gateway.api.main import API_ROUTERS
from gateway.api.routes.opportunities import upload_limit
from gateway.core.config import GatewaySettings
from gateway.core.errors import document_problems, install_error_handlers
from gateway.core.input import RefuseUnstorableInput, json_only_operations
from gateway.core.middleware import LimitRequestBody, RecordRequestMetrics, RouteTemplates
from gateway.core.peers import Peers
from gateway.core.ratelimit import RateLimit, rate_limiter
from gateway.core.security import KeyRing, RequireApiKey, document_api_keys

UNTRACED_PATHS = frozenset({"/healthz", "/readyz"})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open one channel per peer for the life of the process."""
    peers = Peers.open(app.state.settings)
    app.state.peers = peers
    try:
        yield
    finally:
        await peers.close()


def create_app(settings: GatewaySettings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """The edge's app; serve it wrapped in `LeadTraceContext` so claims and contacts join their lead's trace."""
    app = FastAPI(
        title="CRM backbone API",
        version="1.0.0",
        description="Capture leads, follow them to the first contact, and read what happened. "
        "Every /v1 route takes `Authorization: Bearer <API key>`; errors are application/problem+json.",
        lifespan=lifespan,
        # The interactive docs are a console for anyone who reaches the edge: off in production unless asked for.
        docs_url="/docs" if _docs_enabled(settings) else None,
        redoc_url="/redoc" if _docs_enabled(settings) else None,
        # FastAPI's own tracing: one server span per request in the caller's trace, named and tagged with its
        # route. The contrib ASGI instrumentation it replaces also opened a span per body chunk and per response
        # message, and was 30% of the app's work per capture (uvicorn aside). Metrics are Prometheus's
        # (RecordRequestMetrics), errors are logged by our handlers, exporters are set up by crm_common.telemetry.
        telemetry={
            "tracer_provider": tracer_provider,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
            "exclude": _untraced,
        },
    )
    app.state.settings = settings
    app.state.keyring = KeyRing(settings.api_keys)
    for router in API_ROUTERS:
        app.include_router(router)
    document_api_keys(app)
    document_problems(app)
    install_error_handlers(app)
    templates = RouteTemplates(lambda: _route_templates(app))
    # Added innermost first: metrics see every answer, the body limit precedes the key check, and only a known
    # caller's body is read and checked for what no service could store.
    app.add_middleware(RefuseUnstorableInput, templates=templates, json_only=lambda: json_only_operations(app.openapi()))
    # Inside the key check (a caller to count) and before any body is read; shared across replicas via NATS.
    app.add_middleware(RateLimit, limiter=rate_limiter(app, settings.nats_url, credentials=settings.nats_credentials))
    app.add_middleware(RequireApiKey, keyring=app.state.keyring)
    app.add_middleware(
        LimitRequestBody, max_bytes=settings.max_body_bytes,
        route_limit=upload_limit(settings.opportunity_file_max_bytes),
    )
    app.add_middleware(RecordRequestMetrics, templates=templates)
    return app


def _docs_enabled(settings: GatewaySettings) -> bool:
    """CRM_DOCS_ENABLED when set, else on everywhere but production."""
    return settings.docs_enabled if settings.docs_enabled is not None else settings.environment != "production"


def _untraced(scope: Scope) -> bool:
    """Probes every few seconds would otherwise fill the trace store with one-span traces."""
    return scope.get("path") in UNTRACED_PATHS


def _route_templates(app: FastAPI) -> list[str]:
    """Every route's full path template, in routing order (OpenAPI lists them; the docs routes are added)."""
    documented = list(app.openapi().get("paths", {}))
    return documented + [url for url in (app.openapi_url, app.docs_url, app.redoc_url) if url]
