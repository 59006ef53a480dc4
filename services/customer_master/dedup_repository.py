"""Every query of the bulk deduplication jobs (kept apart from repository.py, which three people edit)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Text, bindparam, cast, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from customer_master.tables import customers, dedup_clusters, dedup_job_records, dedup_jobs

# Records are inserted and read in chunks this big: each chunk's Python work is short enough for the event loop to
# keep answering gRPC calls between chunks.
CHUNK = 1000


async def insert_job(
    conn: AsyncConnection,
    *,
    scope: str,
    send_to_review: bool,
    requested_by: str,
    records: Sequence[dict[str, Any]],
    idempotency_key: str | None = None,
) -> Row:
    """A queued job and, for a file, its records, in the caller's transaction."""
    job_id = uuid.uuid4()
    stmt = (
        insert(dedup_jobs)
        .values(
            id=job_id,
            scope=scope,
            send_to_review=send_to_review,
            requested_by=requested_by,
            records_total=len(records),
            idempotency_key=idempotency_key,
        )
        .returning(*dedup_jobs.c)
    )
    job = (await conn.execute(stmt)).one()
    for start in range(0, len(records), CHUNK):
        await conn.execute(insert(dedup_job_records), [{"job_id": job_id, **r} for r in records[start : start + CHUNK]])
    return job


async def job_by_key(conn: AsyncConnection, *, idempotency_key: str) -> Row | None:
    """The job an earlier request with this idempotency key queued, after waiting for a concurrent one to commit."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"customer_master:dedup_job_key:{idempotency_key}"},
    )
    query = select(dedup_jobs).where(dedup_jobs.c.idempotency_key == idempotency_key)
    return (await conn.execute(query)).first()


async def get_job(conn: AsyncConnection, *, job_id: uuid.UUID) -> Row | None:
    """One job by id."""
    return (await conn.execute(select(dedup_jobs).where(dedup_jobs.c.id == job_id))).first()


async def list_jobs(conn: AsyncConnection, *, status: str | None, limit: int) -> list[Row]:
    """Jobs (in one status when given), newest first."""
    query = select(dedup_jobs).order_by(dedup_jobs.c.created_at.desc(), dedup_jobs.c.id).limit(limit)
    if status is not None:
        query = query.where(dedup_jobs.c.status == status)
    return list((await conn.execute(query)).all())


async def next_queued(conn: AsyncConnection) -> Row | None:
    """The oldest queued job, locked; a job another worker is claiming is skipped."""
    query = (
        select(dedup_jobs)
        .where(dedup_jobs.c.status == "queued")
        .order_by(dedup_jobs.c.created_at, dedup_jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await conn.execute(query)).first()


async def running_jobs(conn: AsyncConnection) -> list[Row]:
    """Jobs marked running, locked (those being finished right now are skipped)."""
    query = select(dedup_jobs).where(dedup_jobs.c.status == "running").with_for_update(skip_locked=True)
    return list((await conn.execute(query)).all())


async def try_job_lock(conn: AsyncConnection, *, job_id: uuid.UUID) -> bool:
    """Take the session lock that says "a live process runs this job"; False when one already holds it."""
    got = await conn.scalar(text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), {"key": _lock_key(job_id)})
    return bool(got)


async def release_job_lock(conn: AsyncConnection, *, job_id: uuid.UUID) -> None:
    """Give the job's session lock back."""
    await conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), {"key": _lock_key(job_id)})


def _lock_key(job_id: uuid.UUID) -> str:
    return f"customer_master:dedup_job:{job_id}"


async def update_job(conn: AsyncConnection, *, job_id: uuid.UUID, **values: Any) -> Row:
    """Set columns of one job."""
    stmt = update(dedup_jobs).where(dedup_jobs.c.id == job_id).values(**values).returning(*dedup_jobs.c)
    return (await conn.execute(stmt)).one()


async def mark_running(conn: AsyncConnection, *, job_id: uuid.UUID) -> Row:
    """A claimed job: running, one more attempt, progress from zero (a resumed job starts over)."""
    return await update_job(
        conn,
        job_id=job_id,
        status="running",
        attempts=dedup_jobs.c.attempts + 1,
        started_at=func.now(),
        finished_at=None,
        records_loaded=0,
        candidate_pairs=0,
        pairs_scored=0,
    )


async def count_live_customers(conn: AsyncConnection) -> int:
    """Live (unmerged) customers."""
    query = select(func.count()).select_from(customers).where(customers.c.merged_into.is_(None))
    return int(await conn.scalar(query) or 0)


async def live_customers(conn: AsyncConnection) -> AsyncIterator[list[Row]]:
    """Every live customer's matching fields, in chunks by id (keyset pagination, no long-held cursor)."""
    columns = (
        customers.c.id,
        customers.c.name,
        customers.c.company,
        customers.c.phone_e164,
        customers.c.email_normalized,
        customers.c.credit_code,
    )
    after: uuid.UUID | None = None
    while True:
        query = select(*columns).where(customers.c.merged_into.is_(None)).order_by(customers.c.id).limit(CHUNK)
        if after is not None:
            query = query.where(customers.c.id > after)
        rows = list((await conn.execute(query)).all())
        if not rows:
            return
        yield rows
        after = rows[-1].id


async def job_records(conn: AsyncConnection, *, job_id: uuid.UUID) -> AsyncIterator[list[Row]]:
    """The records uploaded with a job, in file order, in chunks."""
    after = 0
    while True:
        query = (
            select(dedup_job_records)
            .where(dedup_job_records.c.job_id == job_id, dedup_job_records.c.row > after)
            .order_by(dedup_job_records.c.row)
            .limit(CHUNK)
        )
        rows = list((await conn.execute(query)).all())
        if not rows:
            return
        yield rows
        after = rows[-1].row


async def replace_clusters(conn: AsyncConnection, *, job_id: uuid.UUID, clusters: list[dict[str, Any]]) -> None:
    """A job's clusters, members and pairs given as JSON text (what an interrupted attempt wrote is dropped)."""
    await conn.execute(delete(dedup_clusters).where(dedup_clusters.c.job_id == job_id))
    stmt = insert(dedup_clusters).values(
        job_id=bindparam("job_id"),
        number=bindparam("number"),
        decision=bindparam("decision"),
        score=bindparam("score"),
        size=bindparam("size"),
        members=cast(bindparam("members_json", type_=Text), JSONB),
        pairs=cast(bindparam("pairs_json", type_=Text), JSONB),
    )
    for start in range(0, len(clusters), CHUNK):
        await conn.execute(stmt, [{"job_id": job_id, **c} for c in clusters[start : start + CHUNK]])


async def list_clusters(conn: AsyncConnection, *, job_id: uuid.UUID, limit: int) -> list[Row]:
    """A job's clusters in their order (largest auto-matched first, then review pairs best first)."""
    query = (
        select(dedup_clusters).where(dedup_clusters.c.job_id == job_id).order_by(dedup_clusters.c.number).limit(limit)
    )
    return list((await conn.execute(query)).all())
