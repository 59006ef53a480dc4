"""A person repeating a submission is counted on the lead; only the first repeats are stored, so a lead stays bounded."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2
from crm_common.identity import Role, acting_as, user_principal
from lead.app import DEFINITION
from lead.handlers import LeadServicer
from lead.tables import leads, timeline, touches


def _capture(notes: str) -> lead_pb2.CaptureLeadRequest:
    source = lead_pb2.Source(channel="web_form")
    return lead_pb2.CaptureLeadRequest(lead=lead_pb2.LeadInput(name="王芳", phone="13812345678", notes=notes, source=source))


async def test_repeats_beyond_the_limit_are_counted_not_stored(service_runtime) -> None:
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5, max_stored_touches=3) as runtime:
        servicer = LeadServicer(runtime)
        with acting_as(user_principal(Role.ADMIN)):
            first = await servicer.CaptureLead(_capture("first"), None)
            repeats = [await servicer.CaptureLead(_capture(f"repeat {i}"), None) for i in range(7)]
        assert all(r.duplicate and r.lead.id == first.lead.id for r in repeats)
        assert repeats[-1].lead.touches == 7
        async with runtime.db.connect() as conn:
            stored = list((await conn.execute(select(touches.c.input).order_by(touches.c.seq))).scalars())
            steps = list(
                (await conn.execute(select(timeline.c.step).where(timeline.c.lead_id == first.lead.id))).scalars()
            )
            counted = await conn.scalar(select(leads.c.touches).where(leads.c.id == first.lead.id))
        assert [s["notes"] for s in stored] == ["repeat 0", "repeat 1", "repeat 2"]
        assert steps.count("touch") == 3 and steps.count("touches_counted") == 1
        assert counted == 7


async def test_the_limit_zero_stores_no_repeat_at_all(service_runtime) -> None:
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5, max_stored_touches=0) as runtime:
        servicer = LeadServicer(runtime)
        with acting_as(user_principal(Role.ADMIN)):
            await servicer.CaptureLead(_capture("first"), None)
            last = [await servicer.CaptureLead(_capture(f"repeat {i}"), None) for i in range(3)][-1]
        assert last.lead.touches == 3
        async with runtime.db.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(touches)) == 0
