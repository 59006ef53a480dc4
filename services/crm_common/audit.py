"""Access audit: every read of personal data, append-only and hash-chained, in its own JetStream stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sys
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import RawCredentials
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from crm_common.access import IN_PROCESS
from crm_common.errors import Unavailable
from crm_common.identity import Principal
from crm_common.telemetry import trace_id_of

log = logging.getLogger(__name__)

STREAM = "AUDIT"
SUBJECT_PREFIX = "audit.access"
# The hash the first entry of a chain points back to.
GENESIS = "0" * 64
# JetStream refuses a publish whose subject's last sequence is not this one: a chain cannot fork or interleave.
EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
# Entries published in one message at most (a few hundred bytes each: well under NATS's 1 MB payload limit).
MAX_ENTRIES_PER_MESSAGE = 200


@dataclass(frozen=True)
class AuditEntry:
    """One read of personal data: who read which fields of which record, when, in which trace."""

    chain: str
    index: int
    at: str
    service: str
    subject: str
    role: str
    on_behalf_of: str
    resource: str
    record_id: str
    fields: tuple[str, ...]
    trace_id: str
    prev: str
    hash: str = ""

    def digest(self) -> str:
        """SHA-256 of every field but the hash itself, in a canonical JSON form."""
        body = asdict(self) | {"fields": list(self.fields)}
        body.pop("hash")
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def to_json(self) -> bytes:
        return json.dumps(asdict(self) | {"fields": list(self.fields)}, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AuditEntry:
        raw: dict[str, Any] = json.loads(data)
        return cls(**(raw | {"fields": tuple(raw["fields"])}))


def verify(entries: Sequence[AuditEntry]) -> list[str]:
    """The problems of one chain's entries in stream order (empty when intact): a changed, removed or forged entry."""
    problems: list[str] = []
    prev = GENESIS
    for expected_index, entry in enumerate(entries):
        if entry.index != expected_index:
            problems.append(f"entry {expected_index}: index {entry.index} (an entry was removed or inserted)")
        if entry.prev != prev:
            problems.append(f"entry {expected_index}: does not point to the previous entry's hash")
        if entry.digest() != entry.hash:
            problems.append(f"entry {expected_index}: its content does not match its hash (changed)")
        prev = entry.hash
    return problems


async def ensure_stream(js: JetStreamContext) -> None:
    """Declare the audit stream: file storage, no deletes, no purges (an entry once written stays)."""
    try:
        await js.stream_info(STREAM)
        return
    except NotFoundError:
        pass
    config = api.StreamConfig(
        name=STREAM,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        deny_delete=True,
        deny_purge=True,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:  # another replica declared it first
        pass


class AccessAudit:
    """One process's chain of the audit: entries are written one at a time, each naming the hash of the last."""

    def __init__(self, js: JetStreamContext, service: str) -> None:
        self.js = js
        self.service = service
        # A chain per process: replicas never write to one subject, so the expected-sequence check never races.
        self.chain = f"{service}.{uuid.uuid4().hex}"
        self.subject = f"{SUBJECT_PREFIX}.{self.chain}"
        self._lock = asyncio.Lock()
        self._prev = GENESIS
        self._index = 0
        self._last_seq = 0
        self._declared = False

    async def record(
        self, principal: Principal, *, resource: str, record_id: str, fields: Iterable[str]
    ) -> AuditEntry:
        """Append one entry; Unavailable (the read fails closed) when it cannot be written."""
        return (await self.record_all(principal, resource=resource, reads=[(record_id, fields)]))[0]

    async def record_all(
        self, principal: Principal, *, resource: str, reads: Sequence[tuple[str, Iterable[str]]]
    ) -> list[AuditEntry]:
        """Append an entry per (record id, fields) read, in one publish per `MAX_ENTRIES_PER_MESSAGE`.

        One answer's reads (say, a search's ten matches) cost one round trip to JetStream, not one each; the
        entries stay one per record, chained as ever. Unavailable (the read fails closed) when any cannot be
        written; the chain then goes on from the last entry that was.
        """
        written: list[AuditEntry] = []
        async with self._lock:
            for start in range(0, len(reads), MAX_ENTRIES_PER_MESSAGE):
                written.extend(await self._publish(principal, resource, reads[start : start + MAX_ENTRIES_PER_MESSAGE]))
        return written

    async def _publish(
        self, principal: Principal, resource: str, reads: Sequence[tuple[str, Iterable[str]]]
    ) -> list[AuditEntry]:
        """Chain the entries on from the last one written and publish them as one message (under the lock)."""
        at, trace_id, prev, entries = datetime.now(UTC).isoformat(), trace_id_of(), self._prev, []
        for offset, (record_id, fields) in enumerate(reads):
            entry = AuditEntry(
                chain=self.chain,
                index=self._index + offset,
                at=at,
                service=self.service,
                subject=principal.subject,
                role=principal.role.value,
                on_behalf_of=principal.on_behalf_of.subject if principal.on_behalf_of else "",
                resource=resource,
                record_id=record_id,
                fields=tuple(sorted(set(fields))),
                trace_id=trace_id,
                prev=prev,
            )
            entry = AuditEntry(**(asdict(entry) | {"fields": entry.fields, "hash": entry.digest()}))
            entries.append(entry)
            prev = entry.hash
        # A lone entry is published as itself (as chains written before batching hold them), several as a list.
        body = entries[0].to_json() if len(entries) == 1 else b"[" + b",".join(e.to_json() for e in entries) + b"]"
        try:
            if not self._declared:
                await ensure_stream(self.js)
                self._declared = True
            ack = await self.js.publish(
                self.subject, body, stream=STREAM, headers={EXPECTED_LAST_SUBJECT_SEQUENCE: str(self._last_seq)}
            )
        except Exception as err:  # any failure to record refuses the read
            raise Unavailable(f"the access audit could not record this read: {type(err).__name__}") from None
        self._prev, self._index, self._last_seq = prev, self._index + len(entries), ack.seq
        return entries


def entries_of(data: bytes) -> list[AuditEntry]:
    """The entries one audit message holds (one entry, or a list of an answer's entries)."""
    if data.lstrip().startswith(b"["):
        return [AuditEntry(**(raw | {"fields": tuple(raw["fields"])})) for raw in json.loads(data)]
    return [AuditEntry.from_json(data)]


async def read_chain(js: JetStreamContext, chain: str) -> list[AuditEntry]:
    """Every entry of one chain, in stream order."""
    subject = f"{SUBJECT_PREFIX}.{chain}"
    entries: list[AuditEntry] = []
    sub = await js.subscribe(subject, ordered_consumer=True, stream=STREAM)
    try:
        pending = (await js.stream_info(STREAM, subjects_filter=subject)).state.subjects or {}
        total = pending.get(subject, 0)
        for _ in range(total):
            msg = await sub.next_msg(timeout=5)
            entries.extend(entries_of(msg.data))
    finally:
        await sub.unsubscribe()
    return entries


_audits: weakref.WeakKeyDictionary[Any, AccessAudit] = weakref.WeakKeyDictionary()


def audit_of(runtime: Any) -> AccessAudit:
    """The access audit of a service's runtime (one chain per runtime); Unavailable without a bus."""
    found = _audits.get(runtime)
    if found is None:
        if runtime.js is None:
            raise Unavailable("the access audit needs NATS; personal data is not shown without it")
        found = _audits[runtime] = AccessAudit(runtime.js, runtime.definition.name)
    return found


async def record_read(
    runtime: Any, principal: Principal, *, resource: str, record_ids: Iterable[str], fields: Iterable[str]
) -> None:
    """Record a read of personal fields of records (nothing when no personal field was shown)."""
    shown = tuple(fields)
    # A servicer called in-process (no served call, so no person) reads for the system itself: nothing to record.
    if not shown or principal is IN_PROCESS:
        return
    await record_reads(runtime, principal, resource=resource, reads=[(record_id, shown) for record_id in record_ids])


async def record_reads(
    runtime: Any, principal: Principal, *, resource: str, reads: Iterable[tuple[str, Iterable[str]]]
) -> None:
    """Record one answer's reads, each record with the personal fields shown of it, in one publish.

    Records of which no personal field was shown are left out; nothing is recorded for an in-process caller.
    """
    shown = [(record_id, fields) for record_id, fields in ((r, tuple(f)) for r, f in reads) if fields]
    if not shown or principal is IN_PROCESS:
        return
    await audit_of(runtime).record_all(principal, resource=resource, reads=shown)


async def chains(js: JetStreamContext) -> list[str]:
    """Every chain the audit stream holds (one per process that ever recorded a read)."""
    subjects = (await js.stream_info(STREAM, subjects_filter=f"{SUBJECT_PREFIX}.>")).state.subjects or {}
    return sorted(subject.removeprefix(f"{SUBJECT_PREFIX}.") for subject in subjects)


async def verify_stream(js: JetStreamContext) -> dict[str, list[str]]:
    """Each chain's problems (empty lists when the whole audit is intact)."""
    return {chain: verify(await read_chain(js, chain)) for chain in await chains(js)}


async def _verify_from_environment() -> int:
    url = os.environ.get("CRM_NATS_URL", "")
    if not url:
        raise SystemExit("CRM_NATS_URL is not set")
    credentials = os.environ.get("CRM_NATS_CREDENTIALS", "")
    nc = await nats.connect(
        servers=[s.strip() for s in url.split(",")],
        name="crm-audit-verify",
        connect_timeout=5,
        max_reconnect_attempts=3,
        user_credentials=RawCredentials(credentials) if credentials else None,
    )
    try:
        report = await verify_stream(nc.jetstream(timeout=10))
    finally:
        await nc.drain()
    for chain, problems in report.items():
        for problem in problems:
            log.error("audit chain %s: %s", chain, problem)
    log.info("%d audit chains verified, %d with problems", len(report), sum(1 for p in report.values() if p))
    return 1 if any(report.values()) else 0


def main() -> None:
    """`python -m crm_common.audit`: verify every chain of the access audit (exit 1 when one was tampered with)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
    raise SystemExit(asyncio.run(_verify_from_environment()))


if __name__ == "__main__":
    main()
