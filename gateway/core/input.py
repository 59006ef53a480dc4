"""Input no service can store is refused at the door, naming the field: NUL characters and lone surrogates,
non-finite or out-of-range numbers and deep nesting in JSON bodies, NUL in path and query parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_common.errors import MAX_JSON_DEPTH, json_violations, text_problem
from gateway.core.errors import FieldError, problem_response
from gateway.core.middleware import UNMATCHED, RouteTemplates

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def body_problems(body: bytes) -> list[FieldError]:
    """The problems of a JSON body; a body that does not parse is left to the route's own JSON error."""
    try:
        document = json.loads(body)
    except RecursionError:
        return [FieldError("body", f"nested more than {MAX_JSON_DEPTH} levels deep")]
    except UnicodeDecodeError:
        return [FieldError("body", "must be UTF-8")]
    except json.JSONDecodeError:
        return []
    except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        return [FieldError("body", "holds a number too long for any service to hold")]
    return [FieldError(v.field, v.description) for v in json_violations(document)]


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parameter_problems(scope: Scope, templates: RouteTemplates) -> list[FieldError]:
    """NUL or lone surrogates in the path's parameters (named after the route template) and in the query."""
    errors: list[FieldError] = []
    path: str = scope["path"]
    if text_problem(path):
        template = templates.of(path)
        names = template.split("/") if template != UNMATCHED else []
        segments = path.split("/")
        for index, segment in enumerate(segments):
            why = text_problem(segment)
            if why:
                name = names[index] if len(names) == len(segments) else "path"
                errors.append(FieldError(name.strip("{}").split(":", 1)[0], why))
    query = scope.get("query_string", b"")
    if b"%" in query:  # only an escape can smuggle a NUL or a byte that is not UTF-8 into a query
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
        for name, value in pairs:
            why = text_problem(value) or text_problem(name)
            if why:
                errors.append(FieldError(_UNSTORABLE.sub("?", name), why))
    return errors


def json_only_operations(spec: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """(path template, METHOD) of every operation whose documented request bodies are all JSON."""
    found = set()
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            media = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if media and all(_is_json(m) for m in media):
                found.add((path, method.upper()))
    return frozenset(found)


class RefuseUnstorableInput:
    """422 naming the field for input no service can store; 415 for a body a JSON-only operation cannot read."""

    def __init__(
        self, app: ASGIApp, templates: RouteTemplates, json_only: Callable[[], frozenset[tuple[str, str]]]
    ) -> None:
        self.app = app
        self.templates = templates
        self._json_only_of = json_only
        self._json_only: frozenset[tuple[str, str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = parameter_problems(scope, self.templates)
        if errors:
            await _refuse(scope, receive, send, 422, errors)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if body:
            content_type = Headers(scope=scope).get("content-type", "application/json")
            if _is_json(content_type):
                errors = body_problems(body)
                if errors:
                    await _refuse(scope, receive, send, 422, errors)
                    return
            elif self._takes_only_json(scope):
                detail = f"the request body must be application/json, not {_UNSTORABLE.sub('?', content_type[:100])}"
                await _refuse(scope, receive, send, 415, [FieldError("Content-Type", "must be application/json")], detail)
                return
        await self.app(scope, _replay(body, more, receive), send)


    def _takes_only_json(self, scope: Scope) -> bool:
        if self._json_only is None:  # built on first use, when every route is registered
            self._json_only = self._json_only_of()
        return (self.templates.of(scope["path"]), scope["method"]) in self._json_only


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body (bounded by LimitRequestBody, which counts what this reads) and whether the client is gone."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, connected: bool, receive: Receive) -> Receive:
    """A receive that hands the route the body already read, then whatever the server says next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if connected:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}
        return await receive()

    return replay


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, errors: list[FieldError], detail: str = ""
) -> None:
    names = ", ".join(sorted({e.field for e in errors}))
    response = problem_response(
        status, detail or f"invalid request: {names}", instance=_UNSTORABLE.sub("?", scope["path"]), errors=errors
    )
    await response(scope, receive, send)
