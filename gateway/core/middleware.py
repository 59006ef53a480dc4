"""Pure ASGI middleware of the edge: the request body limit and the RED metrics per route."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from opentelemetry import trace
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_common.metrics import HTTP_SERVER_DURATION
from gateway.core.errors import Problem, problem_response

_PATHS_KEPT = 4096
UNMATCHED = "unmatched"
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}


class BodyTooLarge(Problem):
    """Raised from `receive` once the streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class LimitRequestBody:
    """413 for a body over the limit: by its Content-Length up front, or by counting a chunked stream."""

    def __init__(self, app: ASGIApp, max_bytes: int, route_limit: Callable[[str], int | None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # A route with a body limit of its own (the opportunity file upload): path -> its limit, or None.
        self.route_limit = route_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = self.route_limit(scope.get("path", "")) if self.route_limit is not None else None
        if own is not None:
            await LimitRequestBody(self.app, own)(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI's body reader re-raises it to the problem+json handler.
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, f"the request body is larger than {self.max_bytes} bytes", instance=scope["path"])
        await response(scope, receive, send)


class RouteTemplates:
    """Maps a request path to its route template (`/v1/leads/{lead_id}`), for requests answered before routing too."""

    def __init__(self, templates: Callable[[], Iterable[str]]) -> None:
        self._templates = templates
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None
        # Most traffic hits a few fixed paths (POST /v1/leads): remember those instead of scanning every route.
        self._seen: dict[str, str] = {}

    def of(self, path: str) -> str:
        found = self._seen.get(path)
        if found is not None:
            return found
        if self._compiled is None:
            # Built on first use: routes are all registered by then, in the order the router tries them.
            self._compiled = [(compile_path(t)[0], t) for t in self._templates()]
        found = next((t for pattern, t in self._compiled if pattern.match(path)), UNMATCHED)
        if len(self._seen) >= _PATHS_KEPT:  # paths with ids are endless; the bound only caps memory
            self._seen.clear()
        self._seen[path] = found
        return found


class RecordRequestMetrics:
    """Observes crm_http_server_duration_seconds by route template, method and status code.

    It also names the request's server span after its route when the answer came before routing (401, 413,
    405): FastAPI's tracing names only the requests it routed.
    """

    def __init__(self, app: ASGIApp, templates: RouteTemplates) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if "endpoint" not in scope:
                    self._name_span(scope)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
            HTTP_SERVER_DURATION.labels(self.templates.of(scope["path"]), method, str(status)).observe(
                time.perf_counter() - started
            )

    def _name_span(self, scope: Scope) -> None:
        span = trace.get_current_span()
        route = self.templates.of(scope["path"])
        if span.is_recording() and route != UNMATCHED:
            method = scope["method"] if scope["method"] in _METHODS else "HTTP"
            span.set_attribute(HTTP_ROUTE, route)
            span.update_name(f"{method} {route}")
