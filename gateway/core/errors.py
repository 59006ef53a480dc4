"""Every error leaves the edge as application/problem+json (RFC 9457), gRPC statuses mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from crm_common.errors import field_violations_of

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# A client told to come back soon; long enough for a restarting pod, short enough for a form.
RETRY_AFTER_SECONDS = "2"


@dataclass(frozen=True)
class FieldError:
    """One offending request field (dotted path, as in the JSON body) and what is wrong with it."""

    field: str
    message: str


class Problem(HTTPException):
    """An HTTP error the edge raises on purpose, optionally naming the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=dict(headers) if headers else None)
        self.errors = list(errors)


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; `type` stays about:blank because the status says it all."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
    }
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None, media_type=PROBLEM_JSON)


# Codes that mean the caller sent something wrong keep the service's message; the rest are ours to explain.
_CLIENT_ERRORS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
}
_RETRYABLE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
}


def grpc_error_response(request: Request, error: grpc.aio.AioRpcError) -> JSONResponse:
    """The one mapping of a peer's gRPC status to an HTTP problem."""
    code = error.code()
    instance = request.url.path
    if code in _CLIENT_ERRORS:
        status = _CLIENT_ERRORS[code]
        errors = [FieldError(v.field, v.description) for v in field_violations_of(error)]
        return problem_response(status, error.details() or HTTPStatus(status).phrase, instance=instance, errors=errors)
    log.warning("peer call failed: %s %s", code.name, error.details(), extra={"grpc_code": code.name})
    if code in _RETRYABLE:
        status = _RETRYABLE[code]
        return problem_response(
            status,
            "a service behind this API is unavailable or too slow right now; retry later",
            instance=instance,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return problem_response(501, "this operation is not available in this deployment", instance=instance)
    return problem_response(502, "a service behind this API failed to answer", instance=instance)


def _field_of(loc: Sequence[Any]) -> str:
    """`("body", "source", "channel")` -> `source.channel`; the bare body is named `body`."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, parts = parts[0], parts[1:]
        if not parts:
            return str(where)
    return ".".join(str(p) for p in parts)


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    """Field errors of a FastAPI validation failure, one per offending field."""
    out: list[FieldError] = []
    for err in exc.errors():
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        if kind == "json_invalid":
            out.append(FieldError("body", f"malformed JSON: {ctx.get('error', err.get('msg', ''))}"))
        elif kind == "extra_forbidden":
            out.append(FieldError(_field_of(err["loc"]), "unknown field"))
        elif ctx.get("fields"):
            # A rule over several fields (e.g. phone or email) names each of them.
            prefix = _field_of(err["loc"])
            for name in ctx["fields"]:
                field = name if prefix in ("body", "") else f"{prefix}.{name}"
                out.append(FieldError(field, err.get("msg", "")))
        else:
            out.append(FieldError(_field_of(err["loc"]), err.get("msg", "")))
    return out


async def _on_grpc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, grpc.aio.AioRpcError)
    return grpc_error_response(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    names = ", ".join(sorted({e.field for e in errors}))
    return problem_response(422, f"invalid request: {names}", instance=request.url.path, errors=errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    errors = exc.errors if isinstance(exc, Problem) else []
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, instance=request.url.path, errors=errors, headers=exc.headers)


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal error", instance=request.url.path)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457); `errors` names each offending request field and the rule it broke.",
    "required": ["type", "title", "status", "detail", "instance", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
# What any /v1 operation may answer besides its own results, and what only one with a body may.
_PROBLEMS = {
    "401": "No valid API key",
    "403": "The caller's role or ownership does not allow this",
    "404": "No such resource (an id that cannot exist is a 404 too)",
    "409": "The resource is not in a state that allows this, or a conflicting change won",
    "422": "Invalid request: `errors` names every offending field",
    "429": "Too many requests; retry after Retry-After seconds",
    "501": "Not available in this deployment",
    "502": "A service behind the API failed to answer",
    "503": "A service behind the API is unavailable or too slow; retry after Retry-After seconds",
}
_BODY_PROBLEMS = {
    "400": "The body could not be read",
    "413": "The body is larger than the limit",
    "415": "The body is not application/json",
}


def document_problems(app: FastAPI) -> None:
    """Declare in the app's OpenAPI the problem+json answers every /v1 operation may give, as the handlers do."""
    generate = app.openapi
    documented = False

    def openapi() -> dict[str, Any]:
        nonlocal documented
        schema = generate()
        if not documented:
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            for path, operations in schema.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        _document_operation(operation)
            documented = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    problems = {**_PROBLEMS, **(_BODY_PROBLEMS if "requestBody" in operation else {})}
    for status, description in problems.items():
        described = responses.get(status, {}).get("description") if status != "422" else None
        responses[status] = {
            "description": described or description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure through problem+json."""
    app.add_exception_handler(grpc.aio.AioRpcError, _on_grpc_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
