"""Customer master: match, customers, history, review queue, merges, golden fields, stewards, data health."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from pydantic import Field

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from gateway.api.deps import PeersDep, allow
from gateway.core.config import Role
from gateway.core.errors import Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.schemas import Long, RequestModel, Short

router = APIRouter(prefix="/v1", tags=["customers"])

CustomerReaderDep = Annotated[
    Caller, Depends(allow(Role.ADMIN, Role.SYSTEM, Role.MANAGER, Role.SALES_REP, Role.CUSTOMER_SUCCESS_DIRECTOR))
]
CustomerWriterDep = Annotated[
    Caller, Depends(allow(Role.ADMIN, Role.SYSTEM, Role.MANAGER, Role.SALES_REP, Role.CUSTOMER_SUCCESS_DIRECTOR))
]
StewardDep = Annotated[Caller, Depends(allow(Role.ADMIN, Role.MANAGER, Role.CUSTOMER_SUCCESS_DIRECTOR))]
HealthReaderDep = Annotated[Caller, Depends(allow(Role.ADMIN, Role.MANAGER, Role.VIEWER, Role.SYSTEM))]
RulesAdminDep = Annotated[Caller, Depends(allow(Role.ADMIN))]


def _client(peers: PeersDep) -> customer_pb2_grpc.CustomerServiceStub:
    return customer_pb2_grpc.CustomerServiceStub(peers.channels["customer-master"])


CustomerClientDep = Annotated[customer_pb2_grpc.CustomerServiceStub, Depends(_client)]


def _uuid(value: str, kind: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Problem(404, f"no {kind} {value[:64]}") from None


def _customer_id(customer_id: Annotated[str, Path(description="The customer's id (a UUID).")]) -> str:
    return _uuid(customer_id, "customer")


def _review_id(review_id: Annotated[str, Path(description="The review's id (a UUID).")]) -> str:
    return _uuid(review_id, "review")


def _merge_id(merge_id: Annotated[str, Path(description="The merge's id (a UUID).")]) -> str:
    return _uuid(merge_id, "merge")


CustomerIdDep = Annotated[str, Depends(_customer_id)]
ReviewIdDep = Annotated[str, Depends(_review_id)]
MergeIdDep = Annotated[str, Depends(_merge_id)]


def _dict(message: Message) -> dict[str, Any]:
    """A reply as JSON, explanations parsed, empty values kept."""
    out = MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return _parse_explanations(out)


def _parse_explanations(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                json.loads(v)
                if k in ("explanation", "rules_json") and isinstance(v, str) and v
                else _parse_explanations(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_parse_explanations(v) for v in value]
    return value


def _actor(caller: Caller) -> str:
    return caller.rep_id or caller.name or caller.role.value


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
async def match_customer(body: MatchIn, _caller: CustomerReaderDep, client: CustomerClientDep) -> dict[str, Any]:
    """Score the existing customers against a record (nothing is written); each candidate explains itself."""
    reply = await client.MatchCustomer(
        customer_pb2.MatchCustomerRequest(**body.model_dump()), timeout=CALL_DEADLINE_SECONDS
    )
    return _dict(reply)


@router.get("/customers/data-health")
async def data_health(
    _caller: HealthReaderDep,
    client: CustomerClientDep,
    stale_after_days: Annotated[int, Query(ge=0, le=36500)] = 0,
) -> dict[str, Any]:
    """Duplicate rate, records missing phone or credit code, stale records, review queue size."""
    reply = await client.GetDataHealth(
        customer_pb2.GetDataHealthRequest(stale_after_days=stale_after_days), timeout=CALL_DEADLINE_SECONDS
    )
    return _dict(reply)


@router.get("/customers/{customer_id}")
async def get_customer(
    customer_id: CustomerIdDep, _caller: CustomerReaderDep, client: CustomerClientDep
) -> dict[str, Any]:
    """One customer (a merged one names its survivor in merged_into)."""
    reply = await client.GetCustomer(
        customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=CALL_DEADLINE_SECONDS
    )
    return _dict(reply.customer)


@router.get("/customers/{customer_id}/history")
async def customer_history(
    customer_id: CustomerIdDep, _caller: CustomerReaderDep, client: CustomerClientDep
) -> dict[str, Any]:
    """Every change: field, old and new value, who, role, when, why."""
    reply = await client.GetHistory(
        customer_pb2.GetHistoryRequest(customer_id=customer_id), timeout=CALL_DEADLINE_SECONDS
    )
    return _dict(reply)


@router.put("/customers/{customer_id}/fields/{field}")
async def update_customer_field(
    customer_id: CustomerIdDep,
    field: Annotated[str, Path(max_length=64)],
    body: FieldIn,
    caller: CustomerWriterDep,
    client: CustomerClientDep,
) -> dict[str, Any]:
    """Change one field; golden fields only with the role that owns them (403 otherwise: file a change request)."""
    reply = await client.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id,
            field=field,
            value=body.value,
            actor_id=_actor(caller),
            actor_role=caller.role.value,
            reason=body.reason,
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _dict(reply.customer)


@router.post("/customers/{customer_id}/change-requests", status_code=201)
async def file_change_request(
    customer_id: CustomerIdDep,
    body: FieldIn,
    caller: CustomerWriterDep,
    client: CustomerClientDep,
    field: Annotated[str, Query(max_length=64, description="The golden field to change")],
) -> dict[str, Any]:
    """Ask the owner of a golden field to change it."""
    reply = await client.FileChangeRequest(
        customer_pb2.FileChangeRequestRequest(
            customer_id=customer_id, field=field, value=body.value, actor_id=_actor(caller), reason=body.reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _dict(reply)


@router.get("/customer-reviews")
async def list_reviews(
    _caller: StewardDep,
    client: CustomerClientDep,
    status: Annotated[str, Query(max_length=20)] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Uncertain pairs waiting for a steward, oldest first."""
    reply = await client.ListReviews(
        customer_pb2.ListReviewsRequest(status=status, limit=limit), timeout=CALL_DEADLINE_SECONDS
    )
    return _dict(reply)


@router.post("/customer-reviews/{review_id}/decision")
async def decide_review(
    review_id: ReviewIdDep, body: DecisionIn, caller: StewardDep, client: CustomerClientDep
) -> dict[str, Any]:
    """accept (merge), reject (remember as distinct) or defer."""
    reply = await client.DecideReview(
        customer_pb2.DecideReviewRequest(
            review_id=review_id, decision=body.decision, actor_id=_actor(caller), reason=body.reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _dict(reply)


@router.post("/customer-merges", status_code=201)
async def merge_customers(body: MergeIn, caller: StewardDep, client: CustomerClientDep) -> dict[str, Any]:
    """Fold one customer into another; every source record is kept and the merge can be undone."""
    reply = await client.MergeCustomers(
        customer_pb2.MergeCustomersRequest(
            survivor_id=_uuid(body.survivor_id, "customer"),
            merged_id=_uuid(body.merged_id, "customer"),
            actor_id=_actor(caller),
            reason=body.reason,
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _dict(reply)


@router.post("/customer-merges/{merge_id}/undo")
async def unmerge_customers(merge_id: MergeIdDep, caller: StewardDep, client: CustomerClientDep) -> dict[str, Any]:
    """Undo a merge: both records and their links as they were."""
    reply = await client.UnmergeCustomers(
        customer_pb2.UnmergeCustomersRequest(merge_id=merge_id, actor_id=_actor(caller)), timeout=CALL_DEADLINE_SECONDS
    )
    return _dict(reply)


@router.post("/stewards/reassign")
async def reassign_steward(body: ReassignIn, caller: StewardDep, client: CustomerClientDep) -> dict[str, Any]:
    """Move a departing rep's accounts to another steward."""
    reply = await client.ReassignSteward(
        customer_pb2.ReassignStewardRequest(
            from_rep_id=body.from_rep_id, to_rep_id=body.to_rep_id, actor_id=_actor(caller)
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _dict(reply)


@router.get("/customer-match-rules")
async def get_match_rules(_caller: StewardDep, client: CustomerClientDep) -> dict[str, Any]:
    """Weights, thresholds and rules in force."""
    reply = await client.GetMatchRules(customer_pb2.GetMatchRulesRequest(), timeout=CALL_DEADLINE_SECONDS)
    return _dict(reply)["rules_json"]


@router.put("/customer-match-rules")
async def set_match_rules(body: dict[str, Any], caller: RulesAdminDep, client: CustomerClientDep) -> dict[str, Any]:
    """Replace the weights, thresholds and rules."""
    reply = await client.SetMatchRules(
        customer_pb2.SetMatchRulesRequest(rules_json=json.dumps(body, ensure_ascii=False), actor_id=_actor(caller)),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _dict(reply)["rules_json"]
