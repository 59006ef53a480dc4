"""gRPC ContactService: contacts, contact matching and the survivorship rules."""

from __future__ import annotations

import time

import grpc
from sqlalchemy.engine import Row

from crm.customer.v1 import contact_pb2, contact_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from customer_master import access, contact_merges, repository, survivorship
from customer_master.contacts import load_thresholds, match_query, scored_contacts, store_thresholds
from customer_master.convert import rules_from_json, to_json, to_timestamp
from customer_master.settings import CustomerMasterSettings
from customer_master.stewardship import parse_id

# How long SetSurvivorshipRules rebuilds before answering; the background loop finishes the rest.
REBUILD_BUDGET_SECONDS = 2.0


def source_message(row: Row) -> contact_pb2.ContactSource:
    """The ContactSource message of a contact_sources row."""
    return contact_pb2.ContactSource(
        id=str(row.id),
        source_system=row.source_system,
        source_ref=row.source_ref,
        name=row.name or "",
        phone=row.phone_e164 or "",
        email=row.email_normalized or "",
        observed_at=to_timestamp(row.observed_at),
        match=to_json(row.match),
    )


def contact_message(row: Row, sources: list[Row] | None = None) -> contact_pb2.Contact:
    """The Contact message of a contacts row (with its sources when given)."""
    return contact_pb2.Contact(
        id=str(row.id),
        customer_id=str(row.customer_id),
        name=row.name,
        phone=row.phone_e164 or "",
        email=row.email_normalized or "",
        provenance=to_json(row.provenance),
        rules_version=row.rules_version,
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
        sources=[source_message(s) for s in sources or []],
        merged_into=str(row.merged_into) if row.merged_into else "",
    )


@access.guarded_contacts
class ContactServicer(contact_pb2_grpc.ContactServiceServicer):
    """crm.customer.v1.ContactService."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.settings = settings if isinstance(settings, CustomerMasterSettings) else CustomerMasterSettings()

    async def GetContact(
        self, request: contact_pb2.GetContactRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.GetContactResponse:
        contact_id = parse_id(request.contact_id, "contact")
        async with self.runtime.db.connect() as conn:
            row = await repository.get_contact(conn, contact_id=contact_id)
            if row is None:
                raise NotFound(f"contact {request.contact_id!r} not found")
            sources = await repository.list_contact_sources(conn, contact_id=contact_id)
        reply = contact_pb2.GetContactResponse(contact=contact_message(row, sources))
        decision = await access.decision_for(self.runtime, str(row.customer_id), resource=access.Resource.CONTACT)
        await access.shown(self.runtime, decision, "contact", [reply.contact])
        return reply

    async def ListContacts(
        self, request: contact_pb2.ListContactsRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.ListContactsResponse:
        customer_id = parse_id(request.customer_id, "customer")
        if request.limit < 0:
            raise InvalidArgument([FieldViolation("limit", "must not be negative")])
        async with self.runtime.db.connect() as conn:
            if await repository.get_customer(conn, customer_id=customer_id) is None:
                raise NotFound(f"customer {request.customer_id!r} not found")
            rows = await repository.list_contacts(conn, customer_id=customer_id, limit=min(request.limit or 100, 1000))
        reply = contact_pb2.ListContactsResponse(contacts=[contact_message(r) for r in rows])
        decision = await access.decision_for(self.runtime, str(customer_id), resource=access.Resource.CONTACT)
        await access.shown(self.runtime, decision, "contact", list(reply.contacts))
        return reply

    async def MatchContact(
        self, request: contact_pb2.MatchContactRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.MatchContactResponse:
        query = match_query(
            customer_id=request.customer_id, name=request.name, phone=request.phone, email=request.email
        )
        limit = min(max(request.limit, 0) or 10, 100)
        async with self.runtime.db.connect() as conn:
            found = await scored_contacts(conn, query, thresholds=await load_thresholds(conn), limit=limit)
        reply = contact_pb2.MatchContactResponse(
            candidates=[
                contact_pb2.ContactCandidate(
                    contact=contact_message(c.row),
                    score=c.result.score,
                    decision=c.result.decision,
                    explanation=to_json(c.result.explanation()),
                )
                for c in found[:limit]
            ]
        )
        await access.shown_candidates(self.runtime, access.Resource.CONTACT, list(reply.candidates))
        return reply

    async def GetSurvivorshipRules(
        self, request: contact_pb2.GetSurvivorshipRulesRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.GetSurvivorshipRulesResponse:
        if request.version < 0:
            raise InvalidArgument([FieldViolation("version", "must not be negative")])
        async with self.runtime.db.connect() as conn:
            rules = await survivorship.current_rules(conn)
            if request.version:
                rules = await survivorship.rules_version(conn, request.version)
            row = await repository.get_survivorship_rules(conn, version=rules.version) if rules.version else None
        reply = contact_pb2.GetSurvivorshipRulesResponse(rules_json=to_json(rules.to_dict()), version=rules.version)
        if row is not None:
            reply.set_by, reply.reason = row.set_by, row.reason
            reply.set_at.CopyFrom(to_timestamp(row.set_at))
        return reply

    async def SetSurvivorshipRules(
        self, request: contact_pb2.SetSurvivorshipRulesRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.SetSurvivorshipRulesResponse:
        data = rules_from_json(request.rules_json)
        actor_id = access.actor_id(request.actor_id)
        if not actor_id:
            raise InvalidArgument([FieldViolation("actor_id", "is required: every rules version names who set it")])
        async with self.runtime.db.transaction() as conn:
            rules = await survivorship.store_rules(conn, data, actor_id=actor_id, reason=request.reason)
        rebuilt, pending = await self._rebuild_within_budget()
        return contact_pb2.SetSurvivorshipRulesResponse(
            rules_json=to_json(rules.to_dict()), version=rules.version, rebuilt=rebuilt, pending=pending
        )

    async def GetContactMatchRules(
        self, request: contact_pb2.GetContactMatchRulesRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.GetContactMatchRulesResponse:
        async with self.runtime.db.connect() as conn:
            thresholds = await load_thresholds(conn)
        return contact_pb2.GetContactMatchRulesResponse(rules_json=to_json(thresholds.to_dict()))

    async def SetContactMatchRules(
        self, request: contact_pb2.SetContactMatchRulesRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.SetContactMatchRulesResponse:
        data = rules_from_json(request.rules_json)
        async with self.runtime.db.transaction() as conn:
            thresholds = await store_thresholds(conn, data, actor_id=access.actor_id(request.actor_id))
        return contact_pb2.SetContactMatchRulesResponse(rules_json=to_json(thresholds.to_dict()))

    async def MergeContacts(
        self, request: contact_pb2.MergeContactsRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.MergeContactsResponse:
        survivor_id = parse_id(request.survivor_id, "contact")
        merged_id = parse_id(request.merged_id, "contact")
        async with self.runtime.db.transaction() as conn:
            merge, survivor = await contact_merges.merge_contacts(
                conn, survivor_id=survivor_id, merged_id=merged_id, actor_id=access.actor_id(request.actor_id), reason=request.reason
            )
        return contact_pb2.MergeContactsResponse(merge_id=str(merge.id), survivor=contact_message(survivor))

    async def UnmergeContacts(
        self, request: contact_pb2.UnmergeContactsRequest, context: grpc.aio.ServicerContext
    ) -> contact_pb2.UnmergeContactsResponse:
        merge_id = parse_id(request.merge_id, "contact merge")
        async with self.runtime.db.transaction() as conn:
            survivor, restored = await contact_merges.unmerge_contacts(conn, merge_id=merge_id)
        return contact_pb2.UnmergeContactsResponse(
            survivor=contact_message(survivor), restored=contact_message(restored)
        )

    async def _rebuild_within_budget(self) -> tuple[int, bool]:
        """Rebuild golden records for a moment, so small bases answer rebuilt; the loop does the rest."""
        deadline = time.monotonic() + REBUILD_BUDGET_SECONDS
        cursor, total = survivorship.Cursor(), 0
        owners = self.settings.golden_owners()
        while time.monotonic() < deadline:
            done = await survivorship.rebuild_pending(self.runtime, owners, cursor=cursor)
            total += done
            if done == 0 and (cursor.done or cursor.version <= 0):
                return total, False
        return total, True
