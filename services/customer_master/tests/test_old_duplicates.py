"""Duplicates the old account decision made: a dedup job over the base finds them, data health counts them."""

from __future__ import annotations

import asyncio
import contextlib
import random

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.service import Runtime
from customer_master import repository, stewardship
from customer_master.dedup_jobs import DedupWorker
from customer_master.domain import normalize_company
from customer_master.names import normalize_company_name
from customer_master.settings import CustomerMasterSettings
from customer_master.tests.test_stewardship import unique_name


async def _as_the_old_decision_left_it(runtime: Runtime, company: str, person: str) -> str:
    """A customer created beside an existing one (what capture did when another person's details outweighed it)."""
    parsed = normalize_company_name(company)
    async with runtime.db.transaction() as conn:
        row = await repository.create_resolved(
            conn,
            name=person,
            company=company,
            company_normalized=normalize_company(company),
            phone_e164=f"+86139{random.randrange(10**8):08d}",
            email_normalized=None,
            credit_code=None,
            company_latin=parsed.latin,
            company_grams=parsed.grams,
            source=None,
            person=None,
        )
    return str(row.id)


async def _health(runtime: Runtime) -> stewardship.DataHealth:
    async with runtime.db.connect() as conn:
        return await stewardship.data_health(conn, stale_after_days=365)


async def _finished(stub: customer_pb2_grpc.CustomerServiceStub, job_id: str) -> customer_pb2.GetDedupJobResponse:
    """The job with its clusters once it is done or failed."""
    request = customer_pb2.GetDedupJobRequest(job_id=job_id, cluster_limit=1000)
    for _ in range(600):
        got = await stub.GetDedupJob(request, timeout=5)
        if got.job.status in ("done", "failed"):
            return got
        await asyncio.sleep(0.1)
    return got


async def test_a_base_job_finds_the_old_duplicates_and_data_health_counts_them(
    runtime: Runtime, stub: customer_pb2_grpc.CustomerServiceStub
) -> None:
    core = unique_name()
    first = await _as_the_old_decision_left_it(runtime, f"杭州{core}科技股份有限公司", "张伟")
    second = await _as_the_old_decision_left_it(runtime, f"{core}科技股份有限公司", "李娜")
    branch = await _as_the_old_decision_left_it(runtime, f"{core}科技股份有限公司上海分公司", "王芳")
    worker = DedupWorker(runtime, CustomerMasterSettings(), poll_seconds=0.1)
    task = asyncio.create_task(worker.run())
    try:
        started = await stub.StartDedupJob(customer_pb2.StartDedupJobRequest(scope="base", actor_id="s-1"), timeout=5)
        job = await _finished(stub, started.job.id)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)
    assert job.job.status == "done", job.job.error
    ours = [c for c in job.clusters if first in {m.customer_id for m in c.members}]
    assert len(ours) == 1 and ours[0].decision == "auto_match"
    assert {m.customer_id for m in ours[0].members} == {first, second}, "the branch stays another entity"
    assert branch not in {m.customer_id for c in job.clusters if c.decision == "auto_match" for m in c.members}
    health = await _health(runtime)
    assert health.suspected_duplicates >= 1
    # Merged by a steward, the duplicate is no longer counted.
    await stub.MergeCustomers(
        customer_pb2.MergeCustomersRequest(survivor_id=first, merged_id=second, actor_id="s-1"), timeout=5
    )
    assert (await _health(runtime)).suspected_duplicates == health.suspected_duplicates - 1
