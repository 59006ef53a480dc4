"""Bulk deduplication as durable jobs: queued in PostgreSQL, run one at a time in the background, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.service import Runtime
from customer_master import dedup_repository as jobs
from customer_master import repository
from customer_master.dedup_files import parse_records
from customer_master.dedup_scan import scan_in_child
from customer_master.resolution import load_rules
from customer_master.settings import CustomerMasterSettings

log = logging.getLogger(__name__)

SCOPES = ("base", "file")
STATUSES = ("queued", "running", "done", "failed")


async def start_job(
    conn: AsyncConnection,
    *,
    scope: str,
    data: bytes,
    file_format: str,
    send_to_review: bool,
    actor_id: str,
    settings: CustomerMasterSettings,
    idempotency_key: str = "",
) -> tuple[Any, bool]:
    """Validate and queue a job (or find the one queued under the same key); returns (job, created).

    A file's records are stored with the job, in the same transaction: an accepted file is never lost.
    """
    if idempotency_key:
        earlier = await jobs.job_by_key(conn, idempotency_key=idempotency_key)
        if earlier is not None:
            return earlier, False
    violations = []
    if scope not in SCOPES:
        violations.append(FieldViolation("scope", "must be base (every live customer) or file (an uploaded file)"))
    if scope == "base" and data:
        violations.append(FieldViolation("file", "must be empty when the scope is base"))
    if scope == "file" and send_to_review:
        violations.append(
            FieldViolation("send_to_review", "needs scope base: the records of a file are not customers yet")
        )
    if len(data) > settings.dedup_max_file_bytes:
        violations.append(FieldViolation("file", f"is {len(data)} bytes, more than {settings.dedup_max_file_bytes}"))
    if violations:
        raise InvalidArgument(violations)
    records: list[dict[str, Any]] = []
    if scope == "file":
        # Parsing a large file takes CPU for a while: in a thread, so the event loop keeps serving meanwhile.
        parsed = await asyncio.to_thread(parse_records, data, file_format, max_records=settings.dedup_max_records)
        records = [asdict(r) for r in parsed]
    job = await jobs.insert_job(
        conn,
        scope=scope,
        send_to_review=send_to_review,
        requested_by=actor_id,
        records=records,
        idempotency_key=idempotency_key or None,
    )
    return job, True


def _member(row: Any, *, customer: bool) -> dict[str, Any]:
    """The JSON form of one record of a cluster."""
    if customer:
        return {
            "customer_id": str(row.id),
            "row": 0,
            "ref": "",
            "company": row.company or "",
            "name": row.name or "",
            "phone": row.phone_e164 or "",
            "email": row.email_normalized or "",
            "credit_code": row.credit_code or "",
        }
    return {
        "customer_id": "",
        "row": row.row,
        "ref": row.ref,
        "company": row.company,
        "name": row.name,
        "phone": row.phone,
        "email": row.email,
        "credit_code": row.credit_code,
    }


async def queue_reviews(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    """Every pair of every cluster goes to the review queue (pairs a steward declared distinct stay out)."""
    queued = 0
    distinct: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in rows:
        members, pairs = json.loads(row["members_json"]), json.loads(row["pairs_json"])
        for pair in pairs:
            a = uuid.UUID(members[pair["a"]]["customer_id"])
            b = uuid.UUID(members[pair["b"]]["customer_id"])
            if a not in distinct:
                distinct[a] = await repository.rejected_partners(conn, customer_id=a)
            if b in distinct[a]:
                continue
            # The candidate survives an accept: the member listed first in the cluster is the one kept.
            review = await repository.insert_review(
                conn, customer_id=b, candidate_id=a, score=pair["score"], explanation=pair["explanation"]
            )
            pair["review_id"] = str(review.id)
            queued += 1
        row["pairs_json"] = json.dumps(pairs, ensure_ascii=False)
    return queued


class DedupWorker:
    """Runs queued jobs one at a time; on start-up and between jobs, takes back jobs whose process died.

    A running job is held by a PostgreSQL session lock of the process running it: when that process dies, its
    connection closes and the lock goes with it, so a job marked running whose lock is free was interrupted.
    """

    def __init__(self, runtime: Runtime, settings: CustomerMasterSettings, *, poll_seconds: float | None = None):
        self.runtime = runtime
        self.settings = settings
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.dedup_poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Recover, then run jobs until cancelled."""
        while True:
            ran = False
            try:
                await self.recover()
                ran = await self.run_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("dedup worker pass failed", exc_info=True)
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()

    async def recover(self) -> list[tuple[uuid.UUID, str]]:
        """Requeue (or fail, after too many attempts) every running job no live process holds; returns what it did."""
        done: list[tuple[uuid.UUID, str]] = []
        async with self.runtime.db.connect() as lock_conn, self.runtime.db.transaction() as conn:
            for job in await jobs.running_jobs(conn):
                if not await jobs.try_job_lock(lock_conn, job_id=job.id):
                    continue
                await jobs.release_job_lock(lock_conn, job_id=job.id)
                if job.attempts >= self.settings.dedup_max_attempts:
                    reason = (
                        f"interrupted {job.attempts} times (the process running it stopped); "
                        "not resumed again: start a new job"
                    )
                    await jobs.update_job(conn, job_id=job.id, status="failed", error=reason, finished_at=func.now())
                    done.append((job.id, "failed"))
                else:
                    reason = f"attempt {job.attempts} was interrupted (the process running it stopped); resumed"
                    await jobs.update_job(conn, job_id=job.id, status="queued", error=reason)
                    done.append((job.id, "queued"))
                log.warning("dedup job taken back", extra={"job_id": str(job.id), "reason": reason})
            await lock_conn.commit()
        return done

    async def run_next(self) -> bool:
        """Claim the oldest queued job and run it; False when there is none."""
        async with self.runtime.db.connect() as lock_conn:
            async with self.runtime.db.transaction() as conn:
                job = await jobs.next_queued(conn)
                if job is None:
                    return False
                if not await jobs.try_job_lock(lock_conn, job_id=job.id):
                    return False
                await lock_conn.commit()
                job = await jobs.mark_running(conn, job_id=job.id)
            try:
                await self._execute(job)
            finally:
                await jobs.release_job_lock(lock_conn, job_id=job.id)
                await lock_conn.commit()
        return True

    async def _execute(self, job: Any) -> None:
        log.info("dedup job started", extra={"job_id": str(job.id), "scope": job.scope, "attempt": job.attempts})
        try:
            members = await self._load(job)
            async with self.runtime.db.connect() as conn:
                rules = await load_rules(conn)
            candidate_pairs, rows = await scan_in_child(
                members,
                rules,
                lambda pairs, scored: self._progress(job.id, candidate_pairs=pairs, pairs_scored=scored),
            )
            async with self.runtime.db.transaction() as conn:
                queued = await queue_reviews(conn, rows) if job.send_to_review else 0
                await jobs.replace_clusters(conn, job_id=job.id, clusters=rows)
                await jobs.update_job(
                    conn,
                    job_id=job.id,
                    status="done",
                    candidate_pairs=candidate_pairs,
                    pairs_scored=candidate_pairs,
                    clusters_found=len(rows),
                    reviews_queued=queued,
                    finished_at=func.now(),
                )
            log.info("dedup job done", extra={"job_id": str(job.id), "clusters": len(rows)})
        except asyncio.CancelledError:
            # Shutting down: the job stays running without a holder, and the next start-up resumes it.
            raise
        except Exception as err:
            log.warning("dedup job failed", exc_info=True, extra={"job_id": str(job.id)})
            async with self.runtime.db.transaction() as conn:
                await jobs.update_job(
                    conn,
                    job_id=job.id,
                    status="failed",
                    error=f"{type(err).__name__}: {err}"[:1000],
                    finished_at=func.now(),
                )

    async def _load(self, job: Any) -> list[dict[str, Any]]:
        """The job's records in JSON form: the live customers (scope base) or the uploaded rows."""
        async with self.runtime.db.connect() as conn:
            if job.scope == "file":
                members = []
                async for chunk in jobs.job_records(conn, job_id=job.id):
                    members.extend(_member(r, customer=False) for r in chunk)
            else:
                total = await jobs.count_live_customers(conn)
                if total > self.settings.dedup_max_records:
                    raise ValueError(
                        f"the base has {total} live customers, more than dedup_max_records "
                        f"({self.settings.dedup_max_records})"
                    )
                await self._progress(job.id, records_total=total)
                members = []
                async for chunk in jobs.live_customers(conn):
                    members.extend(_member(r, customer=True) for r in chunk)
                    await self._progress(job.id, records_loaded=len(members))
        await self._progress(job.id, records_total=len(members), records_loaded=len(members))
        return members

    async def _progress(self, job_id: uuid.UUID, **counts: int) -> None:
        async with self.runtime.db.transaction() as conn:
            await jobs.update_job(conn, job_id=job_id, **counts)
