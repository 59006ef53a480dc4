"""Receipt state changes on a real database: racing captures announce once, and a capture is never undone."""

from __future__ import annotations

import uuid
from datetime import timedelta

from crm_common.service import Runtime
from integration_gateway import repository
from integration_gateway.tables import RECEIVED


async def test_only_the_first_capture_wins_and_later_failures_leave_it_captured(runtime: Runtime) -> None:
    source = f"repo-{uuid.uuid4().hex[:8]}"
    async with runtime.db.transaction() as conn:
        receipt, created = await repository.insert_receipt(
            conn, source=source, idempotency_key="k", payload={"name": "A"}, status=RECEIVED
        )
        assert created
        first = await repository.mark_captured(conn, receipt_id=receipt.id, lead_id="lead-1")
        second = await repository.mark_captured(conn, receipt_id=receipt.id, lead_id="lead-2")
        await repository.mark_failed(conn, receipt_id=receipt.id, error="UNAVAILABLE: late")
        await repository.mark_rejected(conn, receipt_id=receipt.id, violations=[], error="late")
        final = await repository.get_receipt(conn, receipt_id=receipt.id)
        again, created_again = await repository.insert_receipt(
            conn, source=source, idempotency_key="k", payload={"other": True}, status=RECEIVED
        )
    assert first is not None and first.status == "captured"
    assert second is None
    assert final is not None and (final.status, final.lead_id, final.error) == ("captured", "lead-1", "")
    assert (again.id, created_again, again.payload) == (receipt.id, False, {"name": "A"})


async def test_claiming_stalled_receipts_leases_them(runtime: Runtime) -> None:
    source = f"repo-{uuid.uuid4().hex[:8]}"
    async with runtime.db.transaction() as conn:
        receipt, _ = await repository.insert_receipt(conn, source=source, idempotency_key=None, payload={}, status=RECEIVED)
    async with runtime.db.transaction() as conn:
        claimed = await repository.claim_stalled(conn, older_than=timedelta(0), limit=1000)
    assert receipt.id in {r.id for r in claimed}
    async with runtime.db.transaction() as conn:
        reclaimed = await repository.claim_stalled(conn, older_than=timedelta(seconds=60), limit=1000)
    assert receipt.id not in {r.id for r in reclaimed}, "a just-claimed receipt is not handed out again"
