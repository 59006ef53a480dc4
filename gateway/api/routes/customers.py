"""Customer master: match, customers, history, review queue, merges, golden fields, stewards, data health."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from google.protobuf.message import Message
from pydantic import Field, ValidationError

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from gateway.api.deps import (
    CustomerIdDep,
    CustomerMatchDep,
    CustomerReadDep,
    CustomerUpdateDep,
    IdempotencyKeyDep,
    MatchRulesReadDep,
    MatchRulesUpdateDep,
    PeersDep,
    ReportReadDep,
    StewardActDep,
    StewardReadDep,
    actor_of,
    canonical_id,
)
from gateway.convert import reply_json
from gateway.core.errors import FieldError, Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.schemas import Long, RequestModel, Short

router = APIRouter(prefix="/v1", tags=["customers"])


_JSON_FIELDS = frozenset({"explanation", "rules_json"})


def _json(message: Message) -> dict[str, Any]:
    """A reply as JSON, the JSON documents it carries (explanations, rules) parsed."""
    return reply_json(message, _JSON_FIELDS)


def _client(peers: PeersDep) -> customer_pb2_grpc.CustomerServiceStub:
    return customer_pb2_grpc.CustomerServiceStub(peers.channels["customer-master"])


CustomerClientDep = Annotated[customer_pb2_grpc.CustomerServiceStub, Depends(_client)]


def _review_id(review_id: Annotated[str, Path(description="The review's id (a UUID).")]) -> str:
    return canonical_id(review_id, "review")


def _merge_id(merge_id: Annotated[str, Path(description="The merge's id (a UUID).")]) -> str:
    return canonical_id(merge_id, "merge")


def _change_request_id(request_id: Annotated[str, Path(description="The change request's id (a UUID).")]) -> str:
    return canonical_id(request_id, "change request")


def _job_id(job_id: Annotated[str, Path(description="The dedup job's id (a UUID).")]) -> str:
    return canonical_id(job_id, "dedup job")


ChangeRequestIdDep = Annotated[str, Depends(_change_request_id)]
JobIdDep = Annotated[str, Depends(_job_id)]
ReviewIdDep = Annotated[str, Depends(_review_id)]
MergeIdDep = Annotated[str, Depends(_merge_id)]


class MatchIn(RequestModel):
    name: Short = ""
    company: Short = ""
    phone: Short = Field(default="", description="E.164")
    email: Short = ""
    credit_code: Short = Field(default="", description="统一社会信用代码")
    limit: int = Field(default=10, ge=1, le=100)


class DecisionIn(RequestModel):
    decision: Short = Field(description="accept, reject or defer")
    reason: Long = ""


class MergeIn(RequestModel):
    survivor_id: Short
    merged_id: Short
    reason: Long = ""


class FieldIn(RequestModel):
    value: Long
    reason: Long = ""


class ReassignIn(RequestModel):
    from_rep_id: Short
    to_rep_id: Short


@router.post("/customers/match")
async def match_customer(body: MatchIn, _caller: CustomerMatchDep, client: CustomerClientDep) -> dict[str, Any]:
    """Score the existing customers against a record (nothing is written); each candidate explains itself."""
    reply = await client.MatchCustomer(
        customer_pb2.MatchCustomerRequest(**body.model_dump()), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.get("/customers/data-health")
async def data_health(
    _caller: ReportReadDep,
    client: CustomerClientDep,
    stale_after_days: Annotated[int, Query(ge=0, le=36500)] = 0,
) -> dict[str, Any]:
    """Duplicate rate, records missing phone or credit code, stale records, review queue size."""
    reply = await client.GetDataHealth(
        customer_pb2.GetDataHealthRequest(stale_after_days=stale_after_days), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.get("/customers/{customer_id}")
async def get_customer(
    customer_id: CustomerIdDep, _caller: CustomerReadDep, client: CustomerClientDep
) -> dict[str, Any]:
    """One customer (a merged one names its survivor in merged_into)."""
    reply = await client.GetCustomer(
        customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply.customer)


@router.get("/customers/{customer_id}/history")
async def customer_history(
    customer_id: CustomerIdDep, _caller: CustomerReadDep, client: CustomerClientDep
) -> dict[str, Any]:
    """Every change: field, old and new value, who, role, when, why."""
    reply = await client.GetHistory(
        customer_pb2.GetHistoryRequest(customer_id=customer_id), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.put("/customers/{customer_id}/fields/{field}")
async def update_customer_field(
    customer_id: CustomerIdDep,
    field: Annotated[str, Path(max_length=64)],
    body: FieldIn,
    caller: CustomerUpdateDep,
    client: CustomerClientDep,
) -> dict[str, Any]:
    """Change one field; golden fields only with the role that owns them (403 otherwise: file a change request)."""
    reply = await client.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id,
            field=field,
            value=body.value,
            actor_id=actor_of(caller),
            actor_role=caller.role.value,
            reason=body.reason,
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply.customer)


@router.post("/customers/{customer_id}/change-requests", status_code=201)
async def file_change_request(
    customer_id: CustomerIdDep,
    body: FieldIn,
    caller: CustomerUpdateDep,
    client: CustomerClientDep,
    field: Annotated[str, Query(max_length=64, description="The golden field to change")],
) -> dict[str, Any]:
    """Ask the owner of a golden field to change it."""
    reply = await client.FileChangeRequest(
        customer_pb2.FileChangeRequestRequest(
            customer_id=customer_id, field=field, value=body.value, actor_id=actor_of(caller), reason=body.reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.get("/customer-reviews")
async def list_reviews(
    _caller: StewardReadDep,
    client: CustomerClientDep,
    status: Annotated[str, Query(max_length=20)] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Uncertain pairs waiting for a steward, oldest first."""
    reply = await client.ListReviews(
        customer_pb2.ListReviewsRequest(status=status, limit=limit), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.post("/customer-reviews/{review_id}/decision")
async def decide_review(
    review_id: ReviewIdDep, body: DecisionIn, caller: StewardActDep, client: CustomerClientDep
) -> dict[str, Any]:
    """accept (merge), reject (remember as distinct) or defer."""
    reply = await client.DecideReview(
        customer_pb2.DecideReviewRequest(
            review_id=review_id, decision=body.decision, actor_id=actor_of(caller), reason=body.reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.post("/customer-merges", status_code=201)
async def merge_customers(body: MergeIn, caller: StewardActDep, client: CustomerClientDep) -> dict[str, Any]:
    """Fold one customer into another; every source record is kept and the merge can be undone."""
    reply = await client.MergeCustomers(
        customer_pb2.MergeCustomersRequest(
            survivor_id=canonical_id(body.survivor_id, "customer"),
            merged_id=canonical_id(body.merged_id, "customer"),
            actor_id=actor_of(caller),
            reason=body.reason,
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.post("/customer-merges/{merge_id}/undo")
async def unmerge_customers(merge_id: MergeIdDep, caller: StewardActDep, client: CustomerClientDep) -> dict[str, Any]:
    """Undo a merge: both records and their links as they were."""
    reply = await client.UnmergeCustomers(
        customer_pb2.UnmergeCustomersRequest(merge_id=merge_id, actor_id=actor_of(caller)),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.post("/stewards/reassign")
async def reassign_steward(body: ReassignIn, caller: StewardActDep, client: CustomerClientDep) -> dict[str, Any]:
    """Move a departing rep's accounts to another steward."""
    reply = await client.ReassignSteward(
        customer_pb2.ReassignStewardRequest(
            from_rep_id=body.from_rep_id, to_rep_id=body.to_rep_id, actor_id=actor_of(caller)
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.get("/customer-match-rules")
async def get_match_rules(_caller: MatchRulesReadDep, client: CustomerClientDep) -> dict[str, Any]:
    """Weights, thresholds and rules in force."""
    reply = await client.GetMatchRules(customer_pb2.GetMatchRulesRequest(), timeout=CALL_DEADLINE_SECONDS)
    return _json(reply)["rules_json"]


@router.put("/customer-match-rules")
async def set_match_rules(body: dict[str, Any], caller: MatchRulesUpdateDep, client: CustomerClientDep) -> dict[str, Any]:
    """Replace the weights, thresholds and rules."""
    reply = await client.SetMatchRules(
        customer_pb2.SetMatchRulesRequest(rules_json=json.dumps(body, ensure_ascii=False), actor_id=actor_of(caller)),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)["rules_json"]


class ApproveIn(RequestModel):
    reason: Long = ""


class RejectIn(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=4000, description="Why the change is refused")]


@router.get("/customers/{customer_id}/change-requests")
async def customer_change_requests(
    customer_id: CustomerIdDep,
    _caller: CustomerReadDep,
    client: CustomerClientDep,
    status: Annotated[str, Query(max_length=20, description="open (default), approved, rejected or all")] = "open",
) -> dict[str, Any]:
    """A customer's change requests, oldest first."""
    reply = await client.ListChangeRequests(
        customer_pb2.ListChangeRequestsRequest(customer_id=customer_id, status=status, limit=1000),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.get("/customer-change-requests")
async def list_change_requests(
    _caller: StewardReadDep,
    client: CustomerClientDep,
    status: Annotated[str, Query(max_length=20, description="open (default), approved, rejected or all")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Every customer's change requests waiting for (or given) a decision, oldest first."""
    reply = await client.ListChangeRequests(
        customer_pb2.ListChangeRequestsRequest(status=status, limit=limit), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.post("/customer-change-requests/{request_id}/approve")
async def approve_change_request(
    request_id: ChangeRequestIdDep, body: ApproveIn, caller: StewardActDep, client: CustomerClientDep
) -> dict[str, Any]:
    """Apply a request: only the role owning the field (403 otherwise); 409 when decided or the record changed."""
    reply = await client.ApproveChangeRequest(
        customer_pb2.ApproveChangeRequestRequest(
            change_request_id=request_id, actor_id=actor_of(caller), actor_role=caller.role.value, reason=body.reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.post("/customer-change-requests/{request_id}/reject")
async def reject_change_request(
    request_id: ChangeRequestIdDep, body: RejectIn, caller: StewardActDep, client: CustomerClientDep
) -> dict[str, Any]:
    """Close a request without applying it; the reason is required and kept in the history."""
    reply = await client.RejectChangeRequest(
        customer_pb2.RejectChangeRequestRequest(
            change_request_id=request_id, actor_id=actor_of(caller), actor_role=caller.role.value, reason=body.reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


# An uploaded file is carried to customer-master in one gRPC message (at most 4 MiB); the edge's own body limit
# (CRM_MAX_BODY_BYTES, 1 MiB by default) applies first.
DEDUP_UPLOAD_MAX_BYTES = 3 * 1024 * 1024
_CSV_TYPES = {"text/csv", "application/csv"}
_JSONL_TYPES = {"application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/json-lines"}


class DedupBaseIn(RequestModel):
    scope: Literal["base"] = Field(description="base: every live customer (upload a file for scope file)")
    send_to_review: bool = Field(default=False, description="queue every pair of every cluster for review")


def _format_of(media_type: str, filename: str) -> str:
    """csv or jsonl by the part's media type or file name; empty lets the service tell by the content."""
    if media_type in _CSV_TYPES or filename.lower().endswith(".csv"):
        return "csv"
    if media_type in _JSONL_TYPES or filename.lower().endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return ""


def _multipart_file(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The `file` part of a multipart/form-data body and its format (the stdlib MIME parser reads it)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = list(message.iter_parts()) if isinstance(message, EmailMessage) and message.is_multipart() else []
    for part in parts:
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            filename = part.get_filename() or ""
            return (data if isinstance(data, bytes) else b""), _format_of(part.get_content_type(), filename)
    raise Problem(422, "the multipart body has no part named file", errors=[FieldError("file", "is required")])


async def _dedup_request(request: Request) -> customer_pb2.StartDedupJobRequest:
    """The job a request asks for: JSON names scope base; a CSV, JSON-lines or multipart body is a file."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if len(body) > DEDUP_UPLOAD_MAX_BYTES:
        raise Problem(
            413,
            f"the upload is larger than {DEDUP_UPLOAD_MAX_BYTES} bytes; split the file",
            errors=[FieldError("file", f"at most {DEDUP_UPLOAD_MAX_BYTES} bytes")],
        )
    if media in ("application/json", ""):
        try:
            wanted = DedupBaseIn.model_validate_json(body or b"{}")
        except ValidationError as err:
            errors = [FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in err.errors()]
            raise Problem(422, "the request body is not a valid dedup job", errors=errors) from None
        return customer_pb2.StartDedupJobRequest(scope="base", send_to_review=wanted.send_to_review)
    if media == "multipart/form-data":
        data, file_format = _multipart_file(body, request.headers["content-type"])
    elif media in _CSV_TYPES or media in _JSONL_TYPES:
        data, file_format = body, _format_of(media, "")
    else:
        raise Problem(
            415,
            f"{media} is not accepted: send application/json (scope base), text/csv, application/x-ndjson "
            "or multipart/form-data with a part named file",
        )
    return customer_pb2.StartDedupJobRequest(scope="file", file=data, file_format=file_format)


_DEDUP_UPLOAD_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": DedupBaseIn.model_json_schema()},
            "text/csv": {
                "schema": {"type": "string"},
                "example": "ref,company,phone\nA1,杭州某某科技有限公司,+8613800138000\n",
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


@router.post(
    "/customer-dedup-jobs",
    status_code=202,
    openapi_extra=_DEDUP_UPLOAD_BODY,
    responses={200: {"description": "A repeat of an earlier Idempotency-Key: the job it started"}},
)
async def start_dedup_job(
    request: Request,
    caller: StewardActDep,
    client: CustomerClientDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Queue a bulk deduplication of the whole base (JSON) or of an uploaded file (CSV with a header, JSON lines).

    A malformed file is refused with 422 naming each bad row and column (`file.row[3].phone`); nothing is queued.
    """
    job_request = await _dedup_request(request)
    job_request.actor_id = actor_of(caller)
    job_request.idempotency_key = idempotency_key or ""
    reply = await client.StartDedupJob(job_request, timeout=CALL_DEADLINE_SECONDS)
    return JSONResponse(
        {**_json(reply.job), "created": reply.created},
        status_code=202 if reply.created else 200,
        headers={"Location": f"/v1/customer-dedup-jobs/{reply.job.id}"},
    )


@router.get("/customer-dedup-jobs")
async def list_dedup_jobs(
    _caller: StewardReadDep,
    client: CustomerClientDep,
    status: Annotated[str, Query(max_length=20, description="queued, running, done or failed")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Dedup jobs, newest first, with their progress."""
    reply = await client.ListDedupJobs(
        customer_pb2.ListDedupJobsRequest(status=status, limit=limit), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.get("/customer-dedup-jobs/{job_id}")
async def get_dedup_job(
    job_id: JobIdDep,
    _caller: StewardReadDep,
    client: CustomerClientDep,
    cluster_limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """A job's status and progress and, once done, its clusters (largest first) with scores and explanations."""
    reply = await client.GetDedupJob(
        customer_pb2.GetDedupJobRequest(job_id=job_id, cluster_limit=cluster_limit), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)
