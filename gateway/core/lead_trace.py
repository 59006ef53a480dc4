"""One trace per lead: claims and contacts join the trace their lead was captured in, hours later."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict

import grpc
from fastapi import FastAPI
from opentelemetry.instrumentation.utils import suppress_instrumentation
from starlette.types import Receive, Scope, Send

from crm.lead.v1 import lead_pb2
from crm_common.identity import acting_as
from gateway.core.security import caller_of

log = logging.getLogger(__name__)

_JOURNEY_STEP = re.compile(r"^/v1/leads/(?P<lead_id>[0-9A-Fa-f-]{32,36})/(?:claim|contacts)/?$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
LOOKUP_DEADLINE_SECONDS = 1.0


class LeadTraceContext:
    """ASGI wrapper outside the traced app: swaps a claim's or contact's traceparent for its lead's."""

    # The instrumentation inside starts the server span from the request headers, so replacing the
    # header here makes the edge's span and everything below it children of the capture.

    def __init__(self, app: FastAPI, *, cache_size: int = 10_000) -> None:
        self.app = app
        self.cache_size = cache_size
        # A lead's traceparent never changes, so entries never go stale; the bound only caps memory.
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _JOURNEY_STEP.match(scope["path"])
            if match:
                traceparent = await self._traceparent_of(scope, match["lead_id"].lower())
                if traceparent:
                    scope = {**scope, "headers": _with_traceparent(scope["headers"], traceparent)}
        await self.app(scope, receive, send)

    async def _traceparent_of(self, scope: Scope, lead_id: str) -> str | None:
        cached = self._cache.get(lead_id)
        if cached is not None:
            self._cache.move_to_end(lead_id)
            return cached
        peers = getattr(self.app.state, "peers", None)
        keyring = getattr(self.app.state, "keyring", None)
        # Only an authenticated request is worth a lookup; the app itself answers the rest with 401.
        caller = caller_of(scope, keyring) if peers is not None and keyring is not None else None
        if caller is None:
            return None
        try:
            # The lookup belongs to no journey: it must neither start a trace nor join the caller's.
            with suppress_instrumentation(), acting_as(caller.principal()):
                reply = await peers.lead.GetLeadTraceContext(
                    lead_pb2.GetLeadTraceContextRequest(lead_id=lead_id), timeout=LOOKUP_DEADLINE_SECONDS
                )
        except grpc.aio.AioRpcError as err:
            if err.code() is not grpc.StatusCode.NOT_FOUND:
                log.warning("lead trace context lookup failed: %s", err.code().name, extra={"lead_id": lead_id})
            return None
        traceparent = reply.traceparent.strip().lower()
        if not _TRACEPARENT.match(traceparent):
            return None
        self._cache[lead_id] = traceparent
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return traceparent


def _with_traceparent(headers: list[tuple[bytes, bytes]], traceparent: str) -> list[tuple[bytes, bytes]]:
    """The headers with traceparent replaced; tracestate belongs to the caller's trace, so it goes."""
    kept = [(k, v) for k, v in headers if k.lower() not in (b"traceparent", b"tracestate")]
    return [*kept, (b"traceparent", traceparent.encode())]
