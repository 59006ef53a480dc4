"""Contacts: name forms across scripts and titles, phone and email keys, scoring, and capture on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import event, select

from crm.customer.v1 import contact_pb2, contact_pb2_grpc, customer_pb2, customer_pb2_grpc
from crm.events.v1 import customer_events_pb2
from crm_common.bus.consumer import EventMeta
from crm_common.errors import InvalidArgument, field_violations_of
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime
from customer_master import contact_intake, repository, stewardship
from customer_master import contacts as contacts_module
from customer_master.app import DEFINITION, build
from customer_master.contact_intake import process_intake
from customer_master.contact_merges import follow_account_merge, follow_account_unmerge
from customer_master.contacts import (
    ContactRecord,
    capture_contact,
    name_similarity,
    normalize_email,
    normalize_phone,
    parse_name,
    score_contacts,
)
from customer_master.matching import AUTO_MATCH, NO_MATCH, REVIEW
from customer_master.resolution import ResolveRequest, resolve_customer
from customer_master.tables import contact_intake as intake_table

ACCOUNT = uuid.uuid4()
OTHER_ACCOUNT = uuid.uuid4()


@pytest.mark.parametrize(
    ("a", "b", "low", "high", "note"),
    [
        ("张丽", "Zhang Li", 95, 95, "compared in pinyin"),
        ("张丽", "Li Zhang", 95, 95, "compared in pinyin"),
        ("张丽女士", "Ms. Zhang Li", 95, 95, "compared in pinyin"),
        ("張麗", "张丽", 100, 100, "same characters"),
        ("Zhang Li", "LI ZHANG", 100, 100, "compared in Latin letters"),
        ("Mr. Li Zhang", "Dr Li Zhang", 100, 100, "compared in Latin letters"),
        ("欧阳娜娜", "Ouyang Nana", 95, 95, "compared in pinyin"),
        ("单伟", "Shan Wei", 95, 95, "compared in pinyin"),
        ("张丽", "张莉", 90, 90, "same pinyin, other characters"),
        ("张经理", "张丽", 60, 60, "surname only"),
        ("张总", "Zhang Li", 60, 60, "surname only"),
        ("王先生", "Mr Wang", 60, 60, "surname only"),
        ("李小姐", "张丽", 0, 0, "surname differs"),
        ("张丽", "王丽", 0, 60, "characters compared"),
        ("Zhang Li", "Wang Fang", 0, 50, "compared in Latin letters"),
    ],
)
def test_name_variants_compare_across_scripts_orders_and_titles(a: str, b: str, low: float, high: float, note: str) -> None:
    score, why = name_similarity(parse_name(a), parse_name(b))
    assert score is not None and low <= score <= high, (a, b, score)
    assert why == note


@pytest.mark.parametrize(
    ("raw", "surname_only", "title"),
    [("张经理", True, "经理"), ("张总", True, "总"), ("刘老师", True, "老师"), ("Dr Zhang", True, "dr"), ("张丽", False, "")],
)
def test_titles_are_stripped_and_leave_a_surname(raw: str, surname_only: bool, title: str) -> None:
    name = parse_name(raw)
    assert (name.surname_only, name.title) == (surname_only, title)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86-138-0013-8000", "+8613800138000"),
        ("(0571) 8888 8888", "+8657188888888"),
        ("+1 (650) 253-0000", "+16502530000"),
        ("", None),
    ],
)
def test_phones_become_e164(raw: str, e164: str | None) -> None:
    assert normalize_phone(raw) == e164


def test_emails_are_normalised_and_bad_ones_refused() -> None:
    assert normalize_email("  Zhang.Li@Example.COM ") == "zhang.li@example.com"
    assert normalize_email("ｚｈａｎｇ@example.com") == "zhang@example.com"
    with pytest.raises(ValueError):
        normalize_email("zhang@@example")
    with pytest.raises(ValueError):
        normalize_phone("12")


def _record(name: str = "", phone: str = "", email: str = "", account: uuid.UUID | None = ACCOUNT) -> ContactRecord:
    return ContactRecord(account, name, frozenset({phone} if phone else ()), frozenset({email} if email else ()))


def test_a_title_never_decides_alone_but_supports_a_phone() -> None:
    alone = score_contacts(_record("张经理"), _record("张丽"))
    assert (alone.decision, alone.rule) == (NO_MATCH, "a surname with a title never decides alone")
    with_phone = score_contacts(_record("张总", "+8613800138000"), _record("张丽", "+8613800138000"))
    assert with_phone.decision == AUTO_MATCH
    other_surname = score_contacts(_record("王总", "+8613800138000"), _record("张丽", "+8613800138000"))
    assert (other_surname.decision, other_surname.rule) == (REVIEW, "same phone or email, but another surname")


def test_every_result_explains_fields_scores_and_rule() -> None:
    result = score_contacts(_record("Zhang Li", email="zl@x.cn"), _record("张丽", email="zl@x.cn"))
    explained = result.explanation()
    assert explained["decision"] == AUTO_MATCH
    assert explained["rule"] == "same phone or email, and the name agrees or is unknown"
    fields = {f["field"]: f["score"] for f in explained["fields"]}
    assert fields == {"name": 95.0, "phone": None, "email": 100.0, "account": 100.0}


def test_name_alone_decides_by_thresholds_and_never_across_accounts() -> None:
    same = score_contacts(_record("张丽"), _record("張麗"))
    assert (same.decision, same.rule) == (AUTO_MATCH, "score ≥ auto_match 90")
    homophone = score_contacts(_record("张丽"), _record("张莉"))
    assert homophone.decision == AUTO_MATCH
    conflict = score_contacts(_record("张丽", "+8613800138000"), _record("Zhang Li", "+8613900139000"))
    assert conflict.decision == NO_MATCH
    elsewhere = score_contacts(_record("张丽", "+8613800138000"), _record("张丽", "+8613800138000", account=OTHER_ACCOUNT))
    assert (elsewhere.decision, elsewhere.rule) == (REVIEW, "another account: never linked automatically")


def _phone() -> str:
    return f"+86138{random.randrange(10**8):08d}"


async def test_capture_creates_then_links_contact_source_records(runtime: Runtime) -> None:
    phone, company = _phone(), f"杭州{uuid.uuid4().hex[:6]}科技有限公司"
    first = await resolve_customer(
        runtime, ResolveRequest(name="张丽", company=company, phone=phone, source_ref="lead:c-1")
    )
    # Same person: Latin name, same phone, and now her email too.
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    await resolve_customer(
        runtime, ResolveRequest(name="Li Zhang", company=company, phone=phone, email=email.upper(), source_ref="form:c-2")
    )
    # 张经理 with the same email: a title-only name supported by the email.
    await resolve_customer(runtime, ResolveRequest(name="张经理", company=company, email=email, source_ref="lead:c-3"))
    # Another person of the same account.
    await resolve_customer(runtime, ResolveRequest(name="王强", company=company, source_ref="lead:c-4"))
    async with runtime.db.connect() as conn:
        assert await repository.list_contacts(conn, customer_id=first.customer.id, limit=10) == []
    # The resolves queued the people; the intake worker links them, in the order they were resolved.
    assert await process_intake(runtime.db) >= 4
    async with runtime.db.connect() as conn:
        people = await repository.list_contacts(conn, customer_id=first.customer.id, limit=10)
        assert [p.name for p in people] == ["张丽", "王强"]
        sources = await repository.list_contact_sources(conn, contact_id=people[0].id)
    assert [(s.source_system, s.name) for s in sources] == [("lead", "张丽"), ("form", "Li Zhang"), ("lead", "张经理")]
    assert people[0].email_normalized == email and people[0].phone_e164 == phone
    assert sources[2].match["rule"] == "same phone or email, and the name agrees or is unknown"
    assert people[0].provenance["name"]["rule"] == "most_complete"


async def test_a_repeated_resolve_adds_no_source_and_no_contact(runtime: Runtime) -> None:
    phone = _phone()
    request = ResolveRequest(name="赵敏", phone=phone, source_ref=f"lead:{uuid.uuid4()}")
    first = await resolve_customer(runtime, request)
    await process_intake(runtime.db)
    await resolve_customer(runtime, request)
    await process_intake(runtime.db)
    async with runtime.db.connect() as conn:
        people = await repository.list_contacts(conn, customer_id=first.customer.id, limit=10)
        sources = await repository.list_contact_sources(conn, contact_id=people[0].id)
    assert len(people) == 1 and len(sources) == 1


async def test_a_company_only_resolve_makes_no_contact(runtime: Runtime) -> None:
    first = await resolve_customer(runtime, ResolveRequest(company=f"{uuid.uuid4().hex[:8]}有限公司", source_ref="lead:x"))
    await process_intake(runtime.db)
    async with runtime.db.connect() as conn:
        assert await repository.list_contacts(conn, customer_id=first.customer.id, limit=10) == []


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def channel(runtime: Runtime) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to both services of customer-master, served in-process on a free port."""
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    (await build(runtime)).register(server.server)
    await server.start()
    async with channel_as(f"127.0.0.1:{server.port}", user_principal(Role.ADMIN)) as opened:
        yield opened
    await server.stop(0)


async def test_contact_service_over_grpc(channel: grpc.aio.Channel, runtime: Runtime) -> None:
    stub = customer_pb2_grpc.CustomerServiceStub(channel)
    contacts = contact_pb2_grpc.ContactServiceStub(channel)
    phone = _phone()
    resolved = await stub.ResolveCustomer(
        customer_pb2.ResolveCustomerRequest(name="刘洋先生", phone=phone, source_ref="lead:g-1"), timeout=5
    )
    await process_intake(runtime.db)
    listed = await contacts.ListContacts(contact_pb2.ListContactsRequest(customer_id=resolved.customer.id), timeout=5)
    assert [c.name for c in listed.contacts] == ["刘洋先生"]
    got = await contacts.GetContact(contact_pb2.GetContactRequest(contact_id=listed.contacts[0].id), timeout=5)
    assert [s.source_ref for s in got.contact.sources] == ["lead:g-1"]
    national = phone.removeprefix("+86")
    matched = await contacts.MatchContact(contact_pb2.MatchContactRequest(name="Liu Yang", phone=national), timeout=5)
    assert matched.candidates[0].contact.id == listed.contacts[0].id
    assert matched.candidates[0].decision == AUTO_MATCH
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await contacts.MatchContact(contact_pb2.MatchContactRequest(phone="12", email="not-an-email"), timeout=5)
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(v.field for v in field_violations_of(bad.value)) == ["email", "phone"]
    with pytest.raises(grpc.aio.AioRpcError) as name_only:
        await contacts.MatchContact(contact_pb2.MatchContactRequest(name="Liu Yang"), timeout=5)
    assert [v.field for v in field_violations_of(name_only.value)] == ["phone"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await contacts.GetContact(contact_pb2.GetContactRequest(contact_id=str(uuid.uuid4())), timeout=5)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND


def test_invalid_argument_is_the_error_type() -> None:
    from customer_master.contacts import match_query

    with pytest.raises(InvalidArgument):
        match_query(customer_id="nope", name="", phone="", email="")


async def test_contact_merge_and_unmerge_round_trip_over_grpc(channel: grpc.aio.Channel, runtime: Runtime) -> None:
    stub = customer_pb2_grpc.CustomerServiceStub(channel)
    contacts = contact_pb2_grpc.ContactServiceStub(channel)
    company, first_phone, second_phone = f"{uuid.uuid4().hex[:8]}有限公司", _phone(), _phone()
    account = await stub.ResolveCustomer(
        customer_pb2.ResolveCustomerRequest(name="张丽", company=company, phone=first_phone, source_ref="lead:m1"),
        timeout=5,
    )
    # A homophone with another phone: not the same person on this evidence, so a second contact.
    await stub.ResolveCustomer(
        customer_pb2.ResolveCustomerRequest(name="张莉", company=company, phone=second_phone, source_ref="lead:m2"),
        timeout=5,
    )
    await process_intake(runtime.db)
    listed = await contacts.ListContacts(contact_pb2.ListContactsRequest(customer_id=account.customer.id), timeout=5)
    survivor, merged = listed.contacts
    merge = await contacts.MergeContacts(
        contact_pb2.MergeContactsRequest(survivor_id=survivor.id, merged_id=merged.id, actor_id="s-1", reason="same"),
        timeout=5,
    )
    assert merge.survivor.phone == second_phone  # most recent phone among both contacts' sources
    after = await contacts.ListContacts(contact_pb2.ListContactsRequest(customer_id=account.customer.id), timeout=5)
    assert [c.id for c in after.contacts] == [survivor.id]
    got = await contacts.GetContact(contact_pb2.GetContactRequest(contact_id=merged.id), timeout=5)
    assert got.contact.merged_into == survivor.id and list(got.contact.sources) == []
    by_phone = await contacts.MatchContact(contact_pb2.MatchContactRequest(phone=second_phone), timeout=5)
    assert [c.contact.id for c in by_phone.candidates] == [survivor.id]
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await contacts.MergeContacts(
            contact_pb2.MergeContactsRequest(survivor_id=survivor.id, merged_id=merged.id), timeout=5
        )
    assert again.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    undone = await contacts.UnmergeContacts(contact_pb2.UnmergeContactsRequest(merge_id=merge.merge_id), timeout=5)
    assert (undone.survivor.phone, undone.restored.phone, undone.restored.merged_into) == (
        first_phone,
        second_phone,
        "",
    )
    by_phone = await contacts.MatchContact(contact_pb2.MatchContactRequest(phone=second_phone), timeout=5)
    assert [c.contact.id for c in by_phone.candidates] == [merged.id]
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await contacts.UnmergeContacts(contact_pb2.UnmergeContactsRequest(merge_id=merge.merge_id), timeout=5)
    assert twice.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_contacts_follow_their_account_through_a_merge_and_its_undo(runtime: Runtime) -> None:
    phone_a, phone_b = _phone(), _phone()
    a = await resolve_customer(runtime, ResolveRequest(name="周杰", phone=phone_a, source_ref="lead:fa"))
    company_b = f"{uuid.uuid4().hex[:8]}有限公司"
    b = await resolve_customer(
        runtime, ResolveRequest(name="吴敏", company=company_b, phone=phone_b, source_ref="lead:fb")
    )
    await resolve_customer(runtime, ResolveRequest(name="郑爽", company=company_b, source_ref="lead:fd"))
    await process_intake(runtime.db)
    meta = EventMeta(event_id=str(uuid.uuid4()), subject="crm.customer.merged", published_at=datetime.now(UTC), delivery=1)
    async with runtime.db.transaction() as conn:
        merge, _ = await stewardship.merge_customers(
            runtime, conn, survivor_id=a.customer.id, merged_id=b.customer.id, actor=stewardship.Actor("s-1")
        )
        await follow_account_merge(
            conn,
            customer_events_pb2.CustomerMerged(
                merge_id=str(merge.id), survivor_id=str(a.customer.id), merged_id=str(b.customer.id)
            ),
            meta,
        )
    async with runtime.db.connect() as conn:
        assert [c.name for c in await repository.list_contacts(conn, customer_id=a.customer.id, limit=10)] == [
            "周杰",
            "吴敏",
            "郑爽",
        ]
    # 吴敏's phone now resolves to the survivor, and the person to her contact there.
    again = await resolve_customer(runtime, ResolveRequest(name="Wu Min", phone=phone_b, source_ref="lead:fc"))
    assert again.customer.id == a.customer.id
    await process_intake(runtime.db)
    async with runtime.db.connect() as conn:
        assert len(await repository.list_contacts(conn, customer_id=a.customer.id, limit=10)) == 3
    async with runtime.db.transaction() as conn:
        await stewardship.unmerge(runtime, conn, merge_id=merge.id, actor=stewardship.Actor("s-1"))
        await follow_account_unmerge(
            conn,
            customer_events_pb2.CustomerUnmerged(
                merge_id=str(merge.id), survivor_id=str(a.customer.id), restored_id=str(b.customer.id)
            ),
            meta,
        )
    async with runtime.db.connect() as conn:
        survivor_names = [c.name for c in await repository.list_contacts(conn, customer_id=a.customer.id, limit=10)]
        restored_names = [c.name for c in await repository.list_contacts(conn, customer_id=b.customer.id, limit=10)]
    # 郑爽 returns; 吴敏 gained a source captured for the survivor while merged, so she stays there.
    assert survivor_names == ["周杰", "吴敏"] and restored_names == ["郑爽"]


async def test_concurrent_captures_of_one_new_person_make_one_contact(runtime: Runtime) -> None:
    account = (await resolve_customer(runtime, ResolveRequest(company=f"{uuid.uuid4().hex[:8]}有限公司"))).customer.id

    async def capture(ref: str, name: str) -> None:
        async with runtime.db.transaction() as conn:
            await capture_contact(conn, customer_id=account, source_ref=ref, name=name, phone=None, email=None)

    await asyncio.gather(*(capture(f"lead:cc{i}", name) for i, name in enumerate(["孙俪", "孫儷", "孙俪", "孫儷"])))
    async with runtime.db.connect() as conn:
        (only,) = await repository.list_contacts(conn, customer_id=account, limit=10)
        assert len(await repository.list_contact_sources(conn, contact_id=only.id)) == 4


async def test_a_failing_intake_row_stays_with_its_error_and_the_rest_go_on(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = f"{uuid.uuid4().hex[:8]}有限公司"
    account = await resolve_customer(runtime, ResolveRequest(name="钱进", company=company, source_ref="lead:i1"))
    await resolve_customer(runtime, ResolveRequest(name="孔明", company=company, source_ref="lead:i2"))
    real = contacts_module.capture_contact

    async def refuse_kong(conn: object, **kwargs: object) -> object:
        if kwargs["name"] == "孔明":
            raise RuntimeError("cannot link 孔明")
        return await real(conn, **kwargs)  # type: ignore[arg-type]

    async def broken_batch(*_: object) -> None:
        raise RuntimeError("the batch path failed")

    # The batch fails as a whole, then each person is linked on its own: 孔明 fails, 钱进 goes on.
    monkeypatch.setattr(contact_intake, "link_batch", broken_batch)
    monkeypatch.setattr(contacts_module, "capture_contact", refuse_kong)
    await process_intake(runtime.db)
    async with runtime.db.connect() as conn:
        assert [c.name for c in await repository.list_contacts(conn, customer_id=account.customer.id, limit=10)] == [
            "钱进"
        ]
        (left,) = (await conn.execute(select(intake_table).where(intake_table.c.source_ref == "lead:i2"))).all()
    assert (left.attempts, "cannot link 孔明" in left.error) == (1, True)
    monkeypatch.undo()
    await process_intake(runtime.db)
    async with runtime.db.connect() as conn:
        assert [c.name for c in await repository.list_contacts(conn, customer_id=account.customer.id, limit=10)] == [
            "钱进",
            "孔明",
        ]
        assert (await conn.execute(select(intake_table).where(intake_table.c.source_ref == "lead:i2"))).all() == []


async def test_the_service_wiring_links_resolved_people_in_the_background(runtime: Runtime) -> None:
    wiring = await build(runtime)
    loops = [asyncio.create_task(job()) for job in wiring.background]
    try:
        phone = _phone()
        resolved = await resolve_customer(runtime, ResolveRequest(name="冯岚", phone=phone, source_ref="lead:bg1"))
        people: list[object] = []
        for _ in range(200):
            async with runtime.db.connect() as conn:
                people = await repository.list_contacts(conn, customer_id=resolved.customer.id, limit=10)
            if people or any(loop.done() for loop in loops):
                break
            await asyncio.sleep(0.05)
        assert not any(loop.done() for loop in loops), [loop.exception() for loop in loops if loop.done()]
        assert [(p.name, p.phone_e164) for p in people] == [("冯岚", phone)]  # type: ignore[attr-defined]
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)


async def test_a_person_queued_for_an_account_merged_since_joins_the_survivor(runtime: Runtime) -> None:
    survivor = await resolve_customer(runtime, ResolveRequest(name="陶然", phone=_phone(), source_ref="lead:m1"))
    merged = await resolve_customer(runtime, ResolveRequest(name="韩梅", phone=_phone(), source_ref="lead:m2"))
    async with runtime.db.transaction() as conn:
        await stewardship.merge_customers(
            runtime, conn, survivor_id=survivor.customer.id, merged_id=merged.customer.id, actor=stewardship.Actor("s")
        )
    while await process_intake(runtime.db):
        pass
    async with runtime.db.connect() as conn:
        people = await repository.list_contacts(conn, customer_id=survivor.customer.id, limit=10)
        queued = select(intake_table).where(intake_table.c.source_ref.in_(["lead:m1", "lead:m2"]))
        left = (await conn.execute(queued)).all()
    assert sorted(p.name for p in people) == ["陶然", "韩梅"] and left == []


async def test_an_intake_batch_costs_few_round_trips(runtime: Runtime) -> None:
    # Statements per batch (BEGIN and COMMIT aside), caches warm: claim, account locks, savepoint, the two lookups,
    # contacts, sources, then keys with marks and the queue rows' deletion, release.
    while await process_intake(runtime.db):
        pass
    statements: list[str] = []
    working = asyncio.current_task()

    def sent(conn: object, cursor: object, statement: str, *_: object) -> None:
        if asyncio.current_task() is working:  # not the outbox relay's
            statements.append(statement)

    await resolve_customer(runtime, ResolveRequest(name="苏青", phone=_phone(), source_ref="lead:rt1"))
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", sent)
    try:
        assert await process_intake(runtime.db) == 1
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", sent)
    assert len(statements) == 9, statements
    async with runtime.db.connect() as conn:
        assert (await conn.execute(select(intake_table).where(intake_table.c.source_ref == "lead:rt1"))).all() == []
