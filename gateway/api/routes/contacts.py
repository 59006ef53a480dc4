"""Contacts of the customer master: list, get, match (no write), and the survivorship rules."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from google.protobuf.message import Message
from pydantic import Field

from crm.customer.v1 import contact_pb2, contact_pb2_grpc
from gateway.api.deps import (
    ContactMatchDep,
    ContactReadDep,
    CustomerIdDep,
    MatchRulesReadDep,
    MatchRulesUpdateDep,
    PeersDep,
    StewardActDep,
    actor_of,
    canonical_id,
)
from gateway.convert import reply_json
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.schemas import Long, RequestModel, Short

router = APIRouter(prefix="/v1", tags=["contacts"])


_JSON_FIELDS = frozenset({"explanation", "provenance", "match", "rules_json"})


def _json(message: Message) -> dict[str, Any]:
    """A reply as JSON, the JSON documents it carries (explanations, rules) parsed."""
    return reply_json(message, _JSON_FIELDS)


def _client(peers: PeersDep) -> contact_pb2_grpc.ContactServiceStub:
    return contact_pb2_grpc.ContactServiceStub(peers.channels["customer-master"])


ContactClientDep = Annotated[contact_pb2_grpc.ContactServiceStub, Depends(_client)]


def _contact_id(contact_id: Annotated[str, Path(description="The contact's id (a UUID).")]) -> str:
    return canonical_id(contact_id, "contact")


def _merge_id(merge_id: Annotated[str, Path(description="The contact merge's id (a UUID).")]) -> str:
    return canonical_id(merge_id, "contact merge")


ContactIdDep = Annotated[str, Depends(_contact_id)]
MergeIdDep = Annotated[str, Depends(_merge_id)]


class ContactMatchIn(RequestModel):
    customer_id: Short = Field(default="", description="The account; a name alone is searched only within it")
    name: Short = ""
    phone: Short = Field(default="", description="Any common form; numbers without a country code are Chinese")
    email: Short = ""
    limit: int = Field(default=10, ge=1, le=100)


class ContactMergeIn(RequestModel):
    survivor_id: Short
    merged_id: Short
    reason: Long = ""


@router.get("/customers/{customer_id}/contacts")
async def list_contacts(
    customer_id: CustomerIdDep,
    _caller: ContactReadDep,
    client: ContactClientDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The account's contacts (golden records), oldest first."""
    reply = await client.ListContacts(
        contact_pb2.ListContactsRequest(customer_id=customer_id, limit=limit), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: ContactIdDep, _caller: ContactReadDep, client: ContactClientDep) -> dict[str, Any]:
    """One contact with its source records and where each golden value came from."""
    reply = await client.GetContact(contact_pb2.GetContactRequest(contact_id=contact_id), timeout=CALL_DEADLINE_SECONDS)
    return _json(reply.contact)


@router.post("/contacts/match")
async def match_contact(body: ContactMatchIn, _caller: ContactMatchDep, client: ContactClientDep) -> dict[str, Any]:
    """Score the existing contacts against a person (nothing is written); each candidate explains itself."""
    reply = await client.MatchContact(
        contact_pb2.MatchContactRequest(**body.model_dump()), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.get("/survivorship-rules")
async def get_survivorship_rules(
    _caller: MatchRulesReadDep,
    client: ContactClientDep,
    version: Annotated[int, Query(ge=0, le=2**31 - 1, description="0 = the rules in force")] = 0,
) -> dict[str, Any]:
    """The survivorship rule of every golden field, with the version and who set it."""
    reply = await client.GetSurvivorshipRules(
        contact_pb2.GetSurvivorshipRulesRequest(version=version), timeout=CALL_DEADLINE_SECONDS
    )
    out = _json(reply)
    out["rules"] = out.pop("rules_json")
    return out


@router.put("/survivorship-rules")
async def set_survivorship_rules(
    caller: MatchRulesUpdateDep,
    client: ContactClientDep,
    rules: Annotated[dict[str, Any], Body(description='{"account": {field: rule}, "contact": {field: rule}}')],
    reason: Annotated[Long, Query()] = "",
) -> dict[str, Any]:
    """Store a new version of the rules; golden records are rebuilt from their sources."""
    reply = await client.SetSurvivorshipRules(
        contact_pb2.SetSurvivorshipRulesRequest(
            rules_json=json.dumps(rules, ensure_ascii=False), actor_id=actor_of(caller), reason=reason
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    out = _json(reply)
    out["rules"] = out.pop("rules_json")
    return out


@router.post("/contact-merges", status_code=201)
async def merge_contacts(body: ContactMergeIn, caller: StewardActDep, client: ContactClientDep) -> dict[str, Any]:
    """Fold one contact into another of the same account; every source record is kept and it can be undone."""
    reply = await client.MergeContacts(
        contact_pb2.MergeContactsRequest(
            survivor_id=canonical_id(body.survivor_id, "contact"),
            merged_id=canonical_id(body.merged_id, "contact"),
            actor_id=actor_of(caller),
            reason=body.reason,
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)


@router.post("/contact-merges/{merge_id}/undo")
async def unmerge_contacts(merge_id: MergeIdDep, caller: StewardActDep, client: ContactClientDep) -> dict[str, Any]:
    """Undo a contact merge: both contacts with the source records they had."""
    reply = await client.UnmergeContacts(
        contact_pb2.UnmergeContactsRequest(merge_id=merge_id, actor_id=actor_of(caller)), timeout=CALL_DEADLINE_SECONDS
    )
    return _json(reply)


@router.get("/contact-match-rules")
async def get_contact_match_rules(_caller: MatchRulesReadDep, client: ContactClientDep) -> dict[str, Any]:
    """The weights and the auto_match / review thresholds of contact matching."""
    reply = await client.GetContactMatchRules(contact_pb2.GetContactMatchRulesRequest(), timeout=CALL_DEADLINE_SECONDS)
    return _json(reply)["rules_json"]


@router.put("/contact-match-rules")
async def set_contact_match_rules(
    caller: MatchRulesUpdateDep,
    client: ContactClientDep,
    rules: Annotated[dict[str, Any], Body(description='{"weights": {...}, "auto_match": 90, "review": 70}')],
) -> dict[str, Any]:
    """Replace the weights and thresholds (keys left out keep their defaults)."""
    reply = await client.SetContactMatchRules(
        contact_pb2.SetContactMatchRulesRequest(rules_json=json.dumps(rules), actor_id=actor_of(caller)),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return _json(reply)["rules_json"]
