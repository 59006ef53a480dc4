"""Survivorship rules: validation, versions, each rule on contacts and accounts, rule changes, owner pins."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import grpc
import pytest
import pytest_asyncio

from crm.customer.v1 import contact_pb2, contact_pb2_grpc
from crm_common.errors import InvalidArgument, PermissionDenied, field_violations_of
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime, ServiceDefinition
from customer_master import repository, stewardship, survivorship
from customer_master.app import DEFINITION, build
from customer_master.contact_merges import merge_contacts
from customer_master.contacts import (
    ContactRecord,
    capture_contact,
    load_thresholds,
    parse_thresholds,
    score_contacts,
    store_thresholds,
)
from customer_master.resolution import ResolveRequest, resolve_customer
from customer_master.settings import CustomerMasterSettings
from customer_master.stewardship import Actor

OWNERS = CustomerMasterSettings().golden_owners()
DIRECTOR = Actor("d-1", "customer_success_director", "checked the business licence")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_runtime(
    service_runtime: Callable[[ServiceDefinition], AbstractAsyncContextManager[Runtime]],
) -> AsyncIterator[Runtime]:
    """A database of this module's own: rules set here are global and must not reach other tests."""
    async with service_runtime(DEFINITION) as rt:
        yield rt


def _phone() -> str:
    return f"+86136{random.randrange(10**8):08d}"


@pytest.mark.parametrize(
    ("rules", "fields"),
    [
        ({"contacts": {}}, ["rules.contacts"]),
        ({"contact": {"title": {"rule": "most_recent"}}}, ["rules.contact.title"]),
        ({"account": {"credit_code": "most_recent"}}, ["rules.account.credit_code"]),
        ({"account": {"phone": "most_recent"}}, ["rules.account.phone"]),
        ({"contact": {"phone": {"rule": "newest"}}}, ["rules.contact.phone.rule"]),
        ({"account": {"company": {"rule": "most_trusted"}}}, ["rules.account.company.sources"]),
        ({"account": {"company": {"rule": "most_recent", "sources": ["erp"]}}}, ["rules.account.company.sources"]),
        ({"contact": {"name": {"rule": "most_complete", "weight": 2}}}, ["rules.contact.name.weight"]),
        ([], ["rules"]),
    ],
)
def test_bad_rules_are_refused_naming_the_field_and_the_rule(rules: object, fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        survivorship.parse_rules(rules)
    assert [v.field for v in refused.value.violations] == fields


def test_defaults_fill_what_is_left_out_and_a_bare_rule_name_is_accepted() -> None:
    parsed = survivorship.parse_rules({"contact": {"phone": "most_complete"}})
    assert parsed["contact"]["phone"].rule == "most_complete"
    assert parsed["contact"]["name"].rule == survivorship.DEFAULTS["contact"]["name"]["rule"]
    assert set(parsed["account"]) == {"name", "company"}


async def _capture(rt: Runtime, customer_id: uuid.UUID, ref: str, name: str, phone: str, email: str = "") -> None:
    async with rt.db.transaction() as conn:
        await capture_contact(conn, customer_id=customer_id, source_ref=ref, name=name, phone=phone, email=email)


async def _contact(rt: Runtime, customer_id: uuid.UUID) -> object:
    async with rt.db.connect() as conn:
        (only,) = await repository.list_contacts(conn, customer_id=customer_id, limit=10)
    return only


async def test_contact_fields_follow_each_rule_and_are_rebuilt_when_rules_change(own_runtime: Runtime) -> None:
    rt = own_runtime
    account = (await resolve_customer(rt, ResolveRequest(company=f"{uuid.uuid4().hex[:6]}有限公司"))).customer.id
    erp_phone, lead_phone, newest_phone = _phone(), _phone(), _phone()
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    await _capture(rt, account, "erp:1", "张丽", erp_phone, email)
    await _capture(rt, account, "lead:2", "Zhang Li", lead_phone, email)
    await _capture(rt, account, "lead:3", "张经理", lead_phone)
    contact = await _contact(rt, account)
    # Defaults: most complete name (characters beat pinyin, a title-only name is least complete), latest phone.
    assert (contact.name, contact.phone_e164, contact.rules_version) == ("张丽", lead_phone, 0)
    assert contact.provenance["phone"]["system"] == "lead"

    async with rt.db.transaction() as conn:
        rules = await survivorship.store_rules(
            conn,
            {"contact": {"phone": {"rule": "most_trusted", "sources": ["erp", "lead"]}, "name": "most_recent"}},
            actor_id="admin",
            reason="ERP numbers are checked",
        )
    assert rules.version == 1
    assert await survivorship.rebuild_all(rt, OWNERS) >= 1
    contact = await _contact(rt, account)
    assert (contact.name, contact.phone_e164, contact.rules_version) == ("张经理", erp_phone, 1)
    assert contact.provenance["phone"] | {"at": None} == {
        "source_id": contact.provenance["phone"]["source_id"],
        "system": "erp",
        "at": None,
        "rule": "most_trusted",
        "value": erp_phone,
    }

    # A new source under the new rules: the trusted phone stays, the most recent name wins.
    await _capture(rt, account, "lead:4", "Li Zhang", newest_phone, email)
    contact = await _contact(rt, account)
    assert (contact.name, contact.phone_e164, contact.email_normalized) == ("Li Zhang", erp_phone, email)


async def test_account_fields_follow_rules_and_an_owner_change_wins_until_the_next(own_runtime: Runtime) -> None:
    rt = own_runtime
    core, phone = uuid.uuid4().hex[:6], _phone()
    first = await resolve_customer(rt, ResolveRequest(name="王五", company=f"{core}科技", phone=phone, source_ref="lead:a1"))
    customer_id = first.customer.id
    await resolve_customer(
        rt, ResolveRequest(name="王五", company=f"杭州{core}科技股份有限公司", phone=phone, source_ref="erp:a2")
    )
    await resolve_customer(rt, ResolveRequest(name="王五", company=f"{core}科技(集团)", phone=phone, source_ref="lead:a3"))
    async with rt.db.transaction() as conn:
        await survivorship.store_rules(
            conn, {"account": {"company": {"rule": "most_trusted", "sources": ["erp"]}}}, actor_id="admin", reason=""
        )
    await survivorship.rebuild_all(rt, OWNERS)
    async with rt.db.connect() as conn:
        customer = await repository.get_customer(conn, customer_id=customer_id)
        history = await repository.list_changes(conn, customer_id=customer_id)
    assert customer.company == f"杭州{core}科技股份有限公司"
    assert (history[0].field, history[0].actor_id) == ("company", "survivorship")
    assert history[0].reason.startswith("survivorship rules v")

    # The owning role sets the company by hand: survivorship leaves it alone, whatever the rules say.
    async with rt.db.transaction() as conn:
        await stewardship.update_field(
            rt, conn, customer_id=customer_id, field="company", value=f"{core}科技集团", actor=DIRECTOR, owners=OWNERS
        )
    with pytest.raises(PermissionDenied):
        async with rt.db.transaction() as conn:
            await stewardship.update_field(
                rt, conn, customer_id=customer_id, field="company", value="x", actor=Actor("r", "sales_rep"), owners=OWNERS
            )
    async with rt.db.transaction() as conn:
        await survivorship.store_rules(conn, {"account": {"company": "most_recent"}}, actor_id="admin", reason="")
        kept = await survivorship.rebuild_account(
            conn, customer_id=customer_id, rules=await survivorship.current_rules(conn), owners=OWNERS
        )
    assert kept.changed == {} and "customer_success_director" in kept.kept["company"]
    await survivorship.rebuild_all(rt, OWNERS)
    async with rt.db.connect() as conn:
        assert (await repository.get_customer(conn, customer_id=customer_id)).company == f"{core}科技集团"

    # The owner's next manual change, to nothing, hands the field back to survivorship.
    async with rt.db.transaction() as conn:
        await stewardship.update_field(
            rt, conn, customer_id=customer_id, field="company", value="", actor=DIRECTOR, owners=OWNERS
        )
        rebuilt = await survivorship.rebuild_account(
            conn, customer_id=customer_id, rules=await survivorship.current_rules(conn), owners=OWNERS
        )
    assert rebuilt.changed["company"] == (None, f"{core}科技(集团)")


async def test_rules_over_grpc_are_versioned_validated_and_rebuild(own_runtime: Runtime) -> None:
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    (await build(own_runtime)).register(server.server)
    await server.start()
    try:
        async with channel_as(f"127.0.0.1:{server.port}", user_principal(Role.ADMIN)) as channel:
            stub = contact_pb2_grpc.ContactServiceStub(channel)
            before = await stub.GetSurvivorshipRules(contact_pb2.GetSurvivorshipRulesRequest(), timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SetSurvivorshipRules(
                    contact_pb2.SetSurvivorshipRulesRequest(
                        rules_json=json.dumps({"contact": {"phone": {"rule": "newest"}, "fax": "most_recent"}}),
                        actor_id="admin",
                    ),
                    timeout=5,
                )
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert sorted(v.field for v in field_violations_of(refused.value)) == [
                "rules.contact.fax",
                "rules.contact.phone.rule",
            ]
            same = await stub.GetSurvivorshipRules(contact_pb2.GetSurvivorshipRulesRequest(), timeout=5)
            assert same.version == before.version

            stored = await stub.SetSurvivorshipRules(
                contact_pb2.SetSurvivorshipRulesRequest(
                    rules_json=json.dumps({"contact": {"email": "most_complete"}}), actor_id="admin", reason="test"
                ),
                timeout=10,
            )
            assert stored.version == before.version + 1 and not stored.pending
            now = await stub.GetSurvivorshipRules(contact_pb2.GetSurvivorshipRulesRequest(), timeout=5)
            # The author is the verified caller (the channel's principal), not the request's actor_id.
            assert (now.version, now.set_by, json.loads(now.rules_json)["contact"]["email"]) == (
                stored.version,
                "user:admin",
                {"rule": "most_complete"},
            )
            old = await stub.GetSurvivorshipRules(contact_pb2.GetSurvivorshipRulesRequest(version=before.version), timeout=5)
            assert (old.version, old.rules_json) == (before.version, before.rules_json)
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.GetSurvivorshipRules(contact_pb2.GetSurvivorshipRulesRequest(version=999), timeout=5)
            assert [v.field for v in field_violations_of(unknown.value)] == ["version"]
    finally:
        await server.stop(0)


@pytest.mark.parametrize(
    ("rules", "fields"),
    [
        ({"auto_match": 101}, ["rules.auto_match"]),
        ({"auto_match": 60, "review": 80}, ["rules.review"]),
        ({"weights": {"name": -1}}, ["rules.weights.name"]),
        ({"weights": {"name": 0, "phone": 0, "email": 0}}, ["rules.weights"]),
        ({"weights": {"company": 1}}, ["rules.weights.company"]),
        ({"threshold": 1}, ["rules.threshold"]),
    ],
)
def test_bad_contact_match_rules_are_refused_naming_the_field(rules: dict[str, object], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_thresholds(rules)
    assert [v.field for v in refused.value.violations] == fields


async def test_contact_match_thresholds_set_by_an_administrator_decide(own_runtime: Runtime) -> None:
    query = ContactRecord(None, "张丽", frozenset({"+8613800000001"}), frozenset())
    candidate = ContactRecord(None, "Zhang Li", frozenset({"+8613800000002"}), frozenset())
    assert score_contacts(query, candidate).decision == "no_match"  # 95 × 0.4 + 0 × 0.3 over 0.7 = 54
    async with own_runtime.db.transaction() as conn:
        stored = await store_thresholds(conn, {"review": 50}, actor_id="admin")
    async with own_runtime.db.connect() as conn:
        assert await load_thresholds(conn) == stored
    assert score_contacts(query, candidate, stored).explanation()["rule"] == "score ≥ review 50"


async def test_a_rules_change_rebuilds_merged_contacts_too_and_finishes(own_runtime: Runtime) -> None:
    rt = own_runtime
    account = (await resolve_customer(rt, ResolveRequest(company=f"{uuid.uuid4().hex[:6]}有限公司"))).customer.id
    await _capture(rt, account, "lead:x1", "何平", _phone())
    await _capture(rt, account, "lead:x2", "Li Ming", _phone())
    async with rt.db.connect() as conn:
        first, second = await repository.list_contacts(conn, customer_id=account, limit=10)
    async with rt.db.transaction() as conn:
        await merge_contacts(conn, survivor_id=first.id, merged_id=second.id, actor_id="s", reason="")
        rules = await survivorship.store_rules(conn, {"contact": {"name": "most_recent"}}, actor_id="admin", reason="")
    await survivorship.rebuild_all(rt, OWNERS)
    async with rt.db.connect() as conn:
        survivor = await repository.get_contact(conn, contact_id=first.id)
        merged = await repository.get_contact(conn, contact_id=second.id)
    assert (survivor.name, survivor.rules_version, merged.rules_version) == ("Li Ming", rules.version, rules.version)
