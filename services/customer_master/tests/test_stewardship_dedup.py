"""Bulk deduplication jobs: files parsed with every bad row named, jobs run in the background, resumed or failed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.errors import InvalidArgument, field_violations_of
from crm_common.service import Runtime
from customer_master import dedup_repository
from customer_master.dedup_files import FileRecord, parse_records
from customer_master.dedup_jobs import DedupWorker
from customer_master.settings import CustomerMasterSettings
from customer_master.tests.test_stewardship import resolve, unique_name

Stub = customer_pb2_grpc.CustomerServiceStub
SETTINGS = CustomerMasterSettings()


def violations(data: bytes, file_format: str = "", max_records: int = 100) -> list[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as caught:
        parse_records(data, file_format, max_records=max_records)
    return [(v.field, v.description) for v in caught.value.violations]


def test_csv_and_json_lines_are_read_into_records() -> None:
    csv_file = (
        "\ufeffRef,Company,Phone,credit_code\n"
        'a1,"杭州某某科技股份有限公司, 总部",+86 139-0000-0001,91350100m000100y43\n'
        "\n"
        "a2,杭州某某科技,,\n"
    ).encode()
    assert parse_records(csv_file, max_records=10) == [
        FileRecord(row=1, ref="a1", company="杭州某某科技股份有限公司, 总部", phone="+8613900000001",
                   credit_code="91350100M000100Y43"),
        FileRecord(row=2, ref="a2", company="杭州某某科技"),
    ]  # fmt: skip
    lines = '{"company": "某某科技", "email": "A@X.CN"}\n\n{"phone": "+8613900000002", "name": "张丽"}\n'.encode()
    assert parse_records(lines, max_records=10) == [
        FileRecord(row=1, company="某某科技", email="a@x.cn"),
        FileRecord(row=2, phone="+8613900000002", name="张丽"),
    ]


def test_a_malformed_file_names_each_bad_row_and_column() -> None:
    assert violations(b"company,fax\nx,1\n") == [
        ("file.header.fax", "unknown column; the columns are ref, company, name, phone, email, credit_code")
    ]
    assert violations(b"name\nx\n") == [("file.header", "needs at least one of the columns company, phone, email, credit_code")]  # fmt: skip
    bad_rows = (
        "company,phone,credit_code\n甲公司,+8613900000001,\n乙公司,call me,\n丙公司\n丁公司,,91350100M000100Y44\n"
    )
    assert violations(bad_rows.encode()) == [
        ("file.row[2].phone", "line 3: must be a phone number such as +8613800138000"),
        ("file.row[3]", "line 4: 1 values, the header has 3"),
        ("file.row[4].credit_code", "line 5: is not a valid unified social credit code (GB 32100)"),
    ]
    assert violations(b'{"company": "x"}\n{"company": 5}\nnot json\n{"fax": "1"}\n') == [
        ("file.row[2].company", "line 2: must be a string"),
        ("file.row[3]", "line 3: not JSON (Expecting value: line 1 column 1 (char 0))"),
        ("file.row[4].fax", "line 4: unknown field; the fields are ref, company, name, phone, email, credit_code"),
    ]
    assert violations(b'{"name": "x"}\n') == [("file.row[1]", "line 1: needs at least one of company, phone, email, credit_code")]  # fmt: skip
    assert violations(b"  \n") == [("file", "is empty: give a CSV with a header or JSON lines")]
    assert violations(b"company\n\xff\xfe\n") == [("file", "is not UTF-8 text (bad byte at offset 8)")]
    assert violations(b"company\na\nb\nc\n", max_records=2) == [("file", "has more than 2 records; split it")]
    assert violations(b"company\n") == [("file", "has a header but no records")]
    assert violations(b"company\na\n", "xlsx") == [("file_format", "must be one of csv, jsonl (or empty)")]


@pytest_asyncio.fixture(loop_scope="session")
async def worker(runtime: Runtime) -> AsyncIterator[DedupWorker]:
    """The job worker running as the service runs it (polling fast, for the test)."""
    running = DedupWorker(runtime, SETTINGS, poll_seconds=0.1)
    task = asyncio.create_task(running.run())
    yield running
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(task, 10)


async def finished(stub: Stub, job_id: str) -> customer_pb2.GetDedupJobResponse:
    """The job once it is done or failed (or as it is after 30 s, for the caller's assert to show)."""
    deadline = asyncio.get_running_loop().time() + 30.0
    while True:
        got = await stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=job_id), timeout=5)
        if got.job.status in ("done", "failed") or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.1)


async def test_a_file_job_finds_the_clusters_with_their_explanations(stub: Stub, worker: DedupWorker) -> None:
    core = unique_name()
    rows = [
        ("r1", f"杭州{core}科技股份有限公司"),
        ("r2", f"{core}科技"),
        ("r3", f"杭州{core}科技(集团)"),
        ("r4", unique_name() + "贸易有限公司"),
        ("r5", f"杭州{core}科技有限公司上海分公司"),
    ]
    data = "ref,company\n" + "".join(f"{ref},{company}\n" for ref, company in rows)
    started = await stub.StartDedupJob(
        customer_pb2.StartDedupJobRequest(scope="file", file=data.encode(), actor_id="steward-1"), timeout=5
    )
    assert (started.job.status, started.job.records_total, started.job.requested_by) == ("queued", 5, "steward-1")
    got = await finished(stub, started.job.id)
    assert got.job.status == "done", got.job.error
    assert (got.job.records_loaded, got.job.attempts) == (5, 1)
    assert got.job.pairs_scored == got.job.candidate_pairs > 0
    assert got.job.clusters_found == len(got.clusters) >= 1
    first = got.clusters[0]
    assert first.decision == "auto_match" and first.number == 1
    assert sorted(m.ref for m in first.members) == ["r1", "r2", "r3"]
    assert sorted(m.row for m in first.members) == [1, 2, 3]
    pair = first.pairs[0]
    assert pair.decision == "auto_match" and pair.score <= first.score
    assert json.loads(pair.explanation)["fields"][0]["field"] == "company"
    # A branch (分公司) is not its head office, and an unrelated company is in no cluster.
    assert all({"r4", "r5"}.isdisjoint(m.ref for m in c.members if c.decision == "auto_match") for c in got.clusters)
    assert all("r4" not in {m.ref for m in c.members} for c in got.clusters)
    listed = await stub.ListDedupJobs(customer_pb2.ListDedupJobsRequest(status="done"), timeout=5)
    assert started.job.id in {j.id for j in listed.jobs}


async def test_a_base_job_sends_its_clusters_to_the_review_queue(stub: Stub, worker: DedupWorker) -> None:
    core = unique_name()
    a = await resolve(stub, company=f"{core}贸易有限公司")
    b = await resolve(stub, company=unique_name() + "有限公司")
    # Entered apart, made the same company later (the kind of duplicate a bulk scan exists to find).
    await stub.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(
            customer_id=b.customer.id, field="company", value=f"{core}贸易", actor_role="customer_success_director"
        ),
        timeout=5,
    )
    started = await stub.StartDedupJob(
        customer_pb2.StartDedupJobRequest(scope="base", send_to_review=True, actor_id="steward-1"), timeout=5
    )
    got = await finished(stub, started.job.id)
    assert got.job.status == "done", got.job.error
    every = await stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=started.job.id, cluster_limit=1000))
    ours = [c for c in every.clusters if {a.customer.id, b.customer.id} <= {m.customer_id for m in c.members}]
    assert len(ours) == 1 and ours[0].pairs[0].review_id
    assert got.job.reviews_queued >= 1
    queue = await stub.ListReviews(customer_pb2.ListReviewsRequest(limit=1000), timeout=5)
    review = next(r for r in queue.reviews if r.id == ours[0].pairs[0].review_id)
    assert {review.customer_id, review.candidate_id} == {a.customer.id, b.customer.id}


async def test_bad_requests_name_the_field(stub: Stub) -> None:
    cases = [
        (customer_pb2.StartDedupJobRequest(scope="everything"), ["scope"]),
        (customer_pb2.StartDedupJobRequest(scope="base", file=b"company\nx\n"), ["file"]),
        (
            customer_pb2.StartDedupJobRequest(scope="file", file=b"company\nx\n", send_to_review=True),
            ["send_to_review"],
        ),
        (customer_pb2.StartDedupJobRequest(scope="file", file=b"company,phone\nx,abc\n"), ["file.row[1].phone"]),
    ]
    for request, fields in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.StartDedupJob(request, timeout=5)
        assert [v.field for v in field_violations_of(caught.value)] == fields
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id="00000000-0000-0000-0000-000000000000"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListDedupJobs(customer_pb2.ListDedupJobsRequest(status="stuck"))
    assert [v.field for v in field_violations_of(caught.value)] == ["status"]


async def running_job(runtime: Runtime, attempts: int) -> str:
    """A file job left running by a process that died (no session holds its lock)."""
    async with runtime.db.transaction() as conn:
        job = await dedup_repository.insert_job(
            conn,
            scope="file",
            send_to_review=False,
            requested_by="test",
            records=[{"row": 1, "company": "甲乙丙科技"}, {"row": 2, "company": "甲乙丙科技有限公司"}],
        )
        await dedup_repository.update_job(conn, job_id=job.id, status="running", attempts=attempts)
    return str(job.id)


async def test_jobs_left_running_by_a_dead_process_are_resumed_or_failed(runtime: Runtime, stub: Stub) -> None:
    recovering = DedupWorker(runtime, SETTINGS)
    resumable, exhausted, alive = [await running_job(runtime, n) for n in (1, SETTINGS.dedup_max_attempts, 1)]
    async with runtime.db.connect() as holder:
        # A live process holds its job's lock: that job is left alone.
        assert await dedup_repository.try_job_lock(holder, job_id=uuid.UUID(alive))
        await holder.commit()
        taken_back = dict((str(job_id), status) for job_id, status in await recovering.recover())
        await dedup_repository.release_job_lock(holder, job_id=uuid.UUID(alive))
        await holder.commit()
    assert taken_back.get(resumable) == "queued" and taken_back.get(exhausted) == "failed"
    assert alive not in taken_back
    failed = await stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=exhausted), timeout=5)
    assert failed.job.status == "failed" and "interrupted 3 times" in failed.job.error
    queued = await stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=resumable), timeout=5)
    assert queued.job.status == "queued" and "resumed" in queued.job.error
    while await recovering.run_next():
        pass
    resumed = await stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=resumable), timeout=5)
    assert (resumed.job.status, resumed.job.attempts, resumed.job.clusters_found) == ("done", 2, 1)


async def test_a_repeat_with_the_same_idempotency_key_queues_nothing(stub: Stub) -> None:
    key = f"upload-{uuid.uuid4()}"
    request = customer_pb2.StartDedupJobRequest(scope="file", file="company\n甲\n".encode(), idempotency_key=key)
    first = await stub.StartDedupJob(request, timeout=5)
    again = await stub.StartDedupJob(request, timeout=5)
    assert (first.created, again.created, again.job.id) == (True, False, first.job.id)
