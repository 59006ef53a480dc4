"""Who sees and changes which customer, decided in customer master from the verified caller, never the body."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import contact_pb2, customer_pb2
from crm.events.v1 import lead_events_pb2
from crm_common.access import Action, Owner, Resource, decide
from crm_common.audit import audit_of, read_chain, verify
from crm_common.bus.consumer import EventMeta
from crm_common.errors import NotFound, PermissionDenied
from crm_common.identity import Principal, Role, acting_as
from crm_common.service import Runtime
from customer_master import access
from customer_master.contact_handlers import ContactServicer
from customer_master.handlers import CustomerServicer
from customer_master.tests.test_stewardship import phone, unique_name

TEAM = "team-east"
REP_A = Principal(subject="user:rep-a", role=Role.SALES_REP, rep_id=f"rep-a-{uuid.uuid4().hex[:6]}")
REP_B = Principal(subject="user:rep-b", role=Role.SALES_REP, rep_id=f"rep-b-{uuid.uuid4().hex[:6]}")
CALLERS = {
    "owner rep": REP_A,
    "other rep": REP_B,
    "team manager": Principal(subject="user:m1", role=Role.MANAGER, team_ids=(TEAM,)),
    "other manager": Principal(subject="user:m2", role=Role.MANAGER, team_ids=("team-west",)),
    "viewer": Principal(subject="user:v", role=Role.VIEWER),
    "admin": Principal(subject="user:admin", role=Role.ADMIN),
    "system": Principal(subject="user:system", role=Role.SYSTEM),
    "director": Principal(subject="user:csd", role=Role.CUSTOMER_SUCCESS_DIRECTOR),
}


def _meta(at: datetime) -> EventMeta:
    return EventMeta(event_id=uuid.uuid4().hex, subject="crm.lead.x", published_at=at, delivery=1)


async def _customer_of_a_lead_assigned_to(runtime: Runtime, rep: Principal) -> tuple[str, str, str]:
    """A customer, and a lead behind it assigned to the rep in TEAM (as the lead service's events tell it)."""
    mobile = phone()
    created = await CustomerServicer(runtime).ResolveCustomer(
        customer_pb2.ResolveCustomerRequest(company=unique_name() + "有限公司", name="李雷", phone=mobile), None
    )
    lead_id, now = uuid.uuid4().hex, datetime.now(UTC)
    assigned_at = Timestamp()
    assigned_at.FromDatetime(now)
    async with runtime.db.transaction() as conn:
        captured = lead_events_pb2.LeadCaptured(lead_id=lead_id, customer_id=created.customer.id)
        await access.on_customer(conn, captured, _meta(now))
        assigned = lead_events_pb2.LeadAssigned(
            lead_id=lead_id, assignee_id=rep.rep_id, team_id=TEAM, assigned_at=assigned_at
        )
        await access.on_assigned(conn, assigned, _meta(now))
    return created.customer.id, lead_id, mobile


async def test_every_role_reads_a_customer_as_the_matrix_says(runtime: Runtime) -> None:
    customer_id, _, mobile = await _customer_of_a_lead_assigned_to(runtime, REP_A)
    servicer = CustomerServicer(runtime)
    owner = Owner.of(reps=[REP_A.rep_id], teams=[TEAM])
    for name, principal in CALLERS.items():
        expected = decide(principal, Resource.CUSTOMER, Action.READ, owner=owner)
        with acting_as(principal):
            if not expected.allowed:
                with pytest.raises(NotFound):
                    await servicer.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), None)
                continue
            got = (await servicer.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), None)).customer
        assert got.id == customer_id, name
        assert (got.phone == mobile) is expected.personal, name
    # The reproduction: a rep reads no customer it does not work with.
    with acting_as(REP_B), pytest.raises(NotFound):
        await servicer.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), None)


async def test_a_pooled_leads_customer_is_no_longer_the_reps(runtime: Runtime) -> None:
    customer_id, lead_id, _ = await _customer_of_a_lead_assigned_to(runtime, REP_A)
    servicer = CustomerServicer(runtime)
    later = datetime.now(UTC) + timedelta(seconds=1)
    async with runtime.db.transaction() as conn:
        pooled = lead_events_pb2.LeadReturnedToPool(lead_id=lead_id, rep_id=REP_A.rep_id, reason="no_follow_up")
        pooled.at.FromDatetime(later)
        await access.on_pooled(conn, pooled, _meta(later))
        # An assignment older than the return, delivered late, does not give the lead back.
        stale = lead_events_pb2.LeadAssigned(lead_id=lead_id, assignee_id=REP_A.rep_id, team_id=TEAM)
        stale.assigned_at.FromDatetime(later - timedelta(seconds=30))
        await access.on_assigned(conn, stale, _meta(later - timedelta(seconds=30)))
    with acting_as(REP_A), pytest.raises(NotFound):
        await servicer.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), None)


async def test_matches_give_a_rep_no_personal_data_and_a_viewer_no_contacts(runtime: Runtime) -> None:
    customer_id, _, mobile = await _customer_of_a_lead_assigned_to(runtime, REP_A)
    servicer = CustomerServicer(runtime)
    query = customer_pb2.MatchCustomerRequest(phone=mobile)
    with acting_as(REP_B):
        found = (await servicer.MatchCustomer(query, None)).candidates
    assert [c.customer.id for c in found][:1] == [customer_id]
    assert all(not c.customer.phone and not c.customer.email and not c.explanation for c in found)
    with acting_as(CALLERS["director"]):
        assert (await servicer.MatchCustomer(query, None)).candidates[0].customer.phone == mobile
    with acting_as(CALLERS["viewer"]), pytest.raises(PermissionDenied):
        await servicer.MatchCustomer(query, None)
    with acting_as(CALLERS["viewer"]), pytest.raises(PermissionDenied):
        await ContactServicer(runtime).MatchContact(contact_pb2.MatchContactRequest(phone=mobile), None)


async def test_a_rep_changes_only_its_customers_and_never_golden_fields_or_stewards(runtime: Runtime) -> None:
    customer_id, _, _ = await _customer_of_a_lead_assigned_to(runtime, REP_A)
    servicer = CustomerServicer(runtime)

    def update(field: str, value: str, role: str = "") -> customer_pb2.UpdateCustomerFieldRequest:
        return customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id, field=field, value=value, actor_id="someone-else", actor_role=role, reason="r"
        )

    with acting_as(REP_B):
        for field, value in (("email", "b@example.com"), ("name", "韩梅梅"), ("steward_id", REP_B.rep_id)):
            with pytest.raises(PermissionDenied):
                await servicer.UpdateCustomerField(update(field, value), None)
    with acting_as(REP_A):
        with pytest.raises(PermissionDenied):
            await servicer.UpdateCustomerField(update("steward_id", REP_A.rep_id), None)
        # The role named in the request is not believed.
        with pytest.raises(PermissionDenied):
            await servicer.UpdateCustomerField(update("company", "别家有限公司", "customer_success_director"), None)
        changed = await servicer.UpdateCustomerField(update("name", "李磊", "customer_success_director"), None)
    assert changed.customer.name == "李磊"
    with acting_as(CALLERS["director"]):
        await servicer.UpdateCustomerField(update("first_cooperation_date", "2024-03-01"), None)
        history = (await servicer.GetHistory(customer_pb2.GetHistoryRequest(customer_id=customer_id), None)).changes
    rows = [(c.field, c.actor_id, c.actor_role) for c in history]
    assert ("name", REP_A.rep_id, "sales_rep") in rows
    assert ("first_cooperation_date", "user:csd", "customer_success_director") in rows


async def test_reads_of_personal_data_are_audited_with_who_and_which_fields(runtime: Runtime) -> None:
    customer_id, _, _ = await _customer_of_a_lead_assigned_to(runtime, REP_A)
    servicer = CustomerServicer(runtime)
    with acting_as(REP_A):
        await servicer.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), None)
    with acting_as(CALLERS["viewer"]):
        await servicer.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), None)
    entries = await read_chain(runtime.js, audit_of(runtime).chain)
    mine = [(e.subject, e.resource, e.fields) for e in entries if e.record_id == customer_id]
    assert mine == [(REP_A.subject, "customer", ("phone",))]
    assert verify(entries) == []
