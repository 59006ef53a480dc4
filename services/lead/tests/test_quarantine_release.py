"""Releasing a quarantined submission makes exactly one lead, however many operators (and replicas) release it."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2
from crm_common.identity import Role, acting_as, user_principal
from crm_common.service import Runtime
from lead.app import DEFINITION
from lead.handlers import LeadServicer
from lead.tables import leads, quarantine, timeline


async def test_concurrent_releases_on_two_replicas_make_one_lead(service_runtime) -> None:
    # No duplicate window: nothing but the release itself may stop a second lead.
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5, duplicate_window_hours=0) as runtime:
        replicas = [Runtime(DEFINITION, runtime.settings) for _ in range(3)]
        try:
            with acting_as(user_principal(Role.ADMIN)):
                source = lead_pb2.Source(channel="web_form")
                held = await LeadServicer(runtime).CaptureLead(
                    lead_pb2.CaptureLeadRequest(lead=lead_pb2.LeadInput(name="测试", phone="13812345678", source=source)),
                    None,
                )
                assert held.quarantined
                request = lead_pb2.ReleaseQuarantinedRequest(quarantine_id=held.quarantine.id)
                released = await asyncio.gather(*(LeadServicer(r).ReleaseQuarantined(request, None) for r in replicas))
        finally:
            for replica in replicas:
                await replica.db.dispose()
        assert len({r.lead.id for r in released}) == 1
        async with runtime.db.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(leads)) == 1
            row = (await conn.execute(select(quarantine))).one()
            steps = list((await conn.execute(select(timeline.c.step))).scalars())
        assert (row.status, row.released_lead_id) == ("released", released[0].lead.id)
        assert steps.count("released") == 1 and steps.count("captured") == 1
