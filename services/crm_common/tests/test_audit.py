"""The access audit against a real nats-server: append-only, hash-chained, and a verifier that sees tampering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import APIError

from crm_common.audit import STREAM, AccessAudit, chains, read_chain, verify, verify_stream
from crm_common.errors import Unavailable
from crm_common.identity import Principal, Role, service_principal
from tools.devstack.infra import NatsServer

VIEWER = Principal(subject="key:viewer", role=Role.VIEWER)
REP = Principal(subject="key:rep-a", role=Role.SALES_REP, rep_id="rep-a")


@pytest.fixture
async def js(fresh_nats: NatsServer) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(fresh_nats.url)
    yield nc.jetstream()
    await nc.close()


async def test_reads_are_chained_and_the_chain_verifies(js: JetStreamContext) -> None:
    audit = AccessAudit(js, "lead")
    first = await audit.record(REP, resource="lead", record_id="L1", fields=["phone", "email"])
    second = await audit.record(
        service_principal("lead", on_behalf_of=REP), resource="customer", record_id="C1", fields=["phone"]
    )
    third = await audit.record(VIEWER, resource="lead", record_id="L2", fields=["notes"])
    entries = await read_chain(js, audit.chain)
    assert entries == [first, second, third]
    assert [e.record_id for e in entries] == ["L1", "C1", "L2"]
    assert entries[0].fields == ("email", "phone") and entries[0].subject == "key:rep-a"
    assert entries[1].on_behalf_of == "key:rep-a" and entries[1].role == "service"
    assert entries[1].prev == entries[0].hash and entries[2].prev == entries[1].hash
    assert verify(entries) == []


async def test_the_verifier_detects_a_changed_or_removed_entry(js: JetStreamContext) -> None:
    audit = AccessAudit(js, "customer-master")
    for n in range(4):
        await audit.record(REP, resource="customer", record_id=f"C{n}", fields=["phone"])
    entries = await read_chain(js, audit.chain)
    assert verify(entries) == []
    changed = [*entries[:1], replace(entries[1], subject="someone-else"), *entries[2:]]
    assert any("changed" in p for p in verify(changed))
    removed = [entries[0], *entries[2:]]
    assert any("removed" in p for p in verify(removed))
    # Rewriting the hash to match the change still breaks the next entry's link.
    forged = replace(entries[1], subject="someone-else")
    forged = replace(forged, hash=forged.digest())
    assert any("previous entry" in p for p in verify([entries[0], forged, *entries[2:]]))


async def test_the_stream_refuses_deletes_purges_and_a_forked_chain(js: JetStreamContext) -> None:
    audit = AccessAudit(js, "notification")
    entry = await audit.record(VIEWER, resource="notification", record_id="N1", fields=["email"])
    info = await js.stream_info(STREAM)
    assert info.config.deny_delete and info.config.deny_purge
    with pytest.raises(APIError):
        await js.delete_msg(STREAM, info.state.last_seq)
    with pytest.raises(APIError):
        await js.purge_stream(STREAM)
    # A second writer on the same chain (a fork) expects the subject to be empty and is refused.
    fork = AccessAudit(js, "notification")
    fork.chain, fork.subject = audit.chain, audit.subject
    with pytest.raises(Unavailable):
        await fork.record(VIEWER, resource="notification", record_id="N2", fields=["email"])
    assert await read_chain(js, audit.chain) == [entry]


async def test_a_read_fails_closed_when_the_audit_cannot_record(fresh_nats: NatsServer) -> None:
    nc = await nats.connect(fresh_nats.url)
    audit = AccessAudit(nc.jetstream(timeout=1), "lead")
    await nc.close()
    with pytest.raises(Unavailable):
        await audit.record(REP, resource="lead", record_id="L1", fields=["phone"])


async def test_the_whole_audit_verifies_chain_by_chain(js: JetStreamContext) -> None:
    first, second = AccessAudit(js, "lead"), AccessAudit(js, "customer-master")
    await first.record(REP, resource="lead", record_id="L1", fields=["phone"])
    await second.record(VIEWER, resource="customer", record_id="C1", fields=["email"])
    await first.record(REP, resource="lead", record_id="L2", fields=["email"])
    assert set(await chains(js)) >= {first.chain, second.chain}
    report = await verify_stream(js)
    assert report[first.chain] == [] and report[second.chain] == []
