"""Fuzzy resolve, review queue, reversible merges, owned golden fields, history, stewards, data health, rules."""

from __future__ import annotations

import json
import random

import grpc
import pytest

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.errors import field_violations_of

Stub = customer_pb2_grpc.CustomerServiceStub
_CHARS = (
    "甲乙丙丁戊己庚辛壬癸金木水火土天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜"
)


def unique_name() -> str:
    """A company core nobody else in the test database has."""
    return "".join(random.sample(_CHARS, 5))


def phone() -> str:
    return f"+86139{random.randrange(10**8):08d}"


async def resolve(stub: Stub, **fields: str) -> customer_pb2.ResolveCustomerResponse:
    return await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(**fields), timeout=5)


async def test_variants_resolve_to_one_customer_with_an_explanation(stub: Stub) -> None:
    core = unique_name()
    first = await resolve(stub, company=f"杭州{core}科技股份有限公司", name="张丽", source_ref="lead:v1")
    assert first.created
    for variant in (f"{core}科技", f"杭州{core}科技(集团)", f"杭州市{core}科技（集团）有限公司"):
        again = await resolve(stub, company=variant, name="Zhang Li", source_ref=f"lead:{variant}")
        assert (again.created, again.matched_on, again.customer.id) == (False, "fuzzy", first.customer.id)
        explanation = json.loads(again.explanation)
        assert explanation["decision"] == "auto_match"
        assert {"field": "company", "score": 100.0, "note": ""} in explanation["fields"]
    branch = await resolve(stub, company=f"杭州{core}科技有限公司上海分公司")
    assert branch.created and branch.review_id == ""


async def test_match_scores_candidates_without_writing(stub: Stub) -> None:
    core = unique_name()
    created = await resolve(stub, company=f"{core}贸易有限公司", phone=phone())
    found = await stub.MatchCustomer(customer_pb2.MatchCustomerRequest(company=f"{core}贸易"), timeout=5)
    assert found.candidates[0].customer.id == created.customer.id
    assert found.candidates[0].decision == "auto_match"
    assert json.loads(found.candidates[0].explanation)["fields"][0]["field"] == "company"
    nothing = await stub.MatchCustomer(customer_pb2.MatchCustomerRequest(company=unique_name() + "集团"), timeout=5)
    assert all(c.decision == "no_match" for c in nothing.candidates)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.MatchCustomer(customer_pb2.MatchCustomerRequest(credit_code="91350100M000100Y44"), timeout=5)
    assert [v.field for v in field_violations_of(caught.value)] == ["credit_code"]


async def test_credit_code_decides_resolve(stub: Stub) -> None:
    code = "91440300MA5EXAMP1F"
    first = await resolve(stub, company=unique_name() + "有限公司", credit_code=code)
    second = await resolve(stub, company="另一个名字" + unique_name(), credit_code=code.lower())
    if not first.created:
        # Another test run in this database may own the code already; both still meet on it.
        assert first.matched_on == "credit_code"
    assert (second.matched_on, second.customer.id) == ("credit_code", first.customer.id)
    assert second.customer.credit_code == code


async def review_pair(stub: Stub) -> tuple[customer_pb2.ResolveCustomerResponse, customer_pb2.ResolveCustomerResponse]:
    """Two records in the review band: same core, different cities."""
    core = unique_name()
    original = await resolve(stub, company=f"北京{core}科技有限公司", name="王芳", phone=phone(), source_ref="lead:o")
    uncertain = await resolve(stub, company=f"杭州{core}科技", name="王芳", source_ref="lead:u")
    assert uncertain.created and uncertain.review_id
    assert json.loads(uncertain.explanation)["decision"] == "review"
    return original, uncertain


async def test_review_accept_merges_and_unmerge_restores(stub: Stub) -> None:
    original, uncertain = await review_pair(stub)
    queue = await stub.ListReviews(customer_pb2.ListReviewsRequest(limit=1000), timeout=5)
    assert uncertain.review_id in {r.id for r in queue.reviews}
    decided = await stub.DecideReview(
        customer_pb2.DecideReviewRequest(review_id=uncertain.review_id, decision="accept", actor_id="steward-1"),
        timeout=5,
    )
    assert decided.review.status == "accepted" and decided.merge_id
    merged = await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=uncertain.customer.id), timeout=5)
    assert merged.customer.merged_into == original.customer.id
    # Resolving the merged record's values now lands on the survivor.
    again = await resolve(stub, company=uncertain.customer.company)
    assert again.customer.id == original.customer.id

    undone = await stub.UnmergeCustomers(
        customer_pb2.UnmergeCustomersRequest(merge_id=decided.merge_id, actor_id="steward-1", reason="wrong"),
        timeout=5,
    )
    assert undone.restored.id == uncertain.customer.id and undone.restored.merged_into == ""
    assert undone.survivor == original.customer
    restored = await resolve(stub, company=uncertain.customer.company)
    assert restored.customer.id == uncertain.customer.id
    history = await stub.GetHistory(customer_pb2.GetHistoryRequest(customer_id=original.customer.id), timeout=5)
    assert [c.field for c in history.changes][:2] == ["unmerge", "merge"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.UnmergeCustomers(customer_pb2.UnmergeCustomersRequest(merge_id=decided.merge_id), timeout=5)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_merge_fills_gaps_and_unmerge_takes_back_exactly_those(stub: Stub) -> None:
    survivor = await resolve(stub, company=unique_name() + "有限公司", phone=phone(), source_ref="lead:s1")
    other_phone = phone()
    merged = await resolve(
        stub, company=unique_name() + "股份有限公司", name="李雷", phone=other_phone, source_ref="lead:m1"
    )
    merge = await stub.MergeCustomers(
        customer_pb2.MergeCustomersRequest(
            survivor_id=survivor.customer.id, merged_id=merged.customer.id, actor_id="admin"
        ),
        timeout=5,
    )
    # The survivor keeps its own values and gains the name it lacked.
    assert merge.survivor.phone == survivor.customer.phone and merge.survivor.name == "李雷"
    by_phone = await resolve(stub, phone=other_phone)
    assert by_phone.customer.id == survivor.customer.id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.MergeCustomers(
            customer_pb2.MergeCustomersRequest(survivor_id=merged.customer.id, merged_id=survivor.customer.id),
            timeout=5,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    undone = await stub.UnmergeCustomers(customer_pb2.UnmergeCustomersRequest(merge_id=merge.merge_id), timeout=5)
    assert undone.survivor.name == "" and undone.restored.name == "李雷"
    assert (await resolve(stub, phone=other_phone)).customer.id == merged.customer.id


async def test_reject_is_remembered_and_defer_keeps_it_open(stub: Stub) -> None:
    original, uncertain = await review_pair(stub)
    deferred = await stub.DecideReview(
        customer_pb2.DecideReviewRequest(review_id=uncertain.review_id, decision="defer", actor_id="s"), timeout=5
    )
    assert deferred.review.status == "deferred"
    rejected = await stub.DecideReview(
        customer_pb2.DecideReviewRequest(review_id=uncertain.review_id, decision="reject", actor_id="s"), timeout=5
    )
    assert rejected.review.status == "rejected" and rejected.merge_id == ""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.DecideReview(
            customer_pb2.DecideReviewRequest(review_id=uncertain.review_id, decision="accept"), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.DecideReview(
            customer_pb2.DecideReviewRequest(review_id=uncertain.review_id, decision="maybe"), timeout=5
        )
    assert [v.field for v in field_violations_of(caught.value)] == ["decision"]
    assert original.customer.id != uncertain.customer.id


async def test_golden_fields_belong_to_their_role_and_every_change_is_kept(stub: Stub) -> None:
    created = await resolve(stub, company=unique_name() + "有限公司", phone=phone())
    customer_id = created.customer.id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.UpdateCustomerField(
            customer_pb2.UpdateCustomerFieldRequest(
                customer_id=customer_id,
                field="credit_code",
                value="91350100M000100Y43",
                actor_id="rep-1",
                actor_role="sales_rep",
            ),
            timeout=5,
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    filed = await stub.FileChangeRequest(
        customer_pb2.FileChangeRequestRequest(
            customer_id=customer_id, field="credit_code", value="91350100M000100Y43", actor_id="rep-1", reason="card"
        ),
        timeout=5,
    )
    assert filed.change_request_id
    changed = await stub.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id,
            field="first_cooperation_date",
            value="2024-03-01",
            actor_id="csd-1",
            actor_role="customer_success_director",
            reason="contract signed",
        ),
        timeout=5,
    )
    assert changed.customer.first_cooperation_date == "2024-03-01"
    # A field that is not golden: any writer.
    await stub.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id, field="name", value="赵敏", actor_id="rep-1", actor_role="sales_rep", reason="met"
        ),
        timeout=5,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.UpdateCustomerField(
            customer_pb2.UpdateCustomerFieldRequest(
                customer_id=customer_id,
                field="first_cooperation_date",
                value="March",
                actor_role="customer_success_director",
            ),
            timeout=5,
        )
    assert [v.field for v in field_violations_of(caught.value)] == ["value"]
    history = await stub.GetHistory(customer_pb2.GetHistoryRequest(customer_id=customer_id), timeout=5)
    rows = [(c.field, c.old_value, c.new_value, c.actor_id, c.actor_role, c.reason) for c in history.changes]
    assert rows == [
        ("name", "", "赵敏", "rep-1", "sales_rep", "met"),
        ("first_cooperation_date", "", "2024-03-01", "csd-1", "customer_success_director", "contract signed"),
        ("change_request:credit_code", "", "91350100M000100Y43", "rep-1", "", "card"),
    ]


async def test_stewardship_moves_with_a_departing_rep(stub: Stub) -> None:
    leaving, taking = f"rep-{random.randrange(10**9)}", f"rep-{random.randrange(10**9)}"
    ids = []
    for _ in range(2):
        created = await resolve(stub, company=unique_name() + "有限公司")
        await stub.UpdateCustomerField(
            customer_pb2.UpdateCustomerFieldRequest(customer_id=created.customer.id, field="steward_id", value=leaving),
            timeout=5,
        )
        ids.append(created.customer.id)
    moved = await stub.ReassignSteward(
        customer_pb2.ReassignStewardRequest(from_rep_id=leaving, to_rep_id=taking, actor_id="ops"), timeout=5
    )
    assert moved.reassigned == 2
    for customer_id in ids:
        got = await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=5)
        assert got.customer.steward_id == taking
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ReassignSteward(customer_pb2.ReassignStewardRequest(from_rep_id=leaving), timeout=5)
    assert [v.field for v in field_violations_of(caught.value)] == ["to_rep_id"]


async def test_data_health_counts_what_it_says(stub: Stub) -> None:
    before = await stub.GetDataHealth(customer_pb2.GetDataHealthRequest(), timeout=5)
    await resolve(stub, company=unique_name() + "有限公司")
    a = await resolve(stub, company=unique_name() + "有限公司", phone=phone())
    b = await resolve(stub, company=unique_name() + "有限公司", phone=phone())
    await stub.MergeCustomers(customer_pb2.MergeCustomersRequest(survivor_id=a.customer.id, merged_id=b.customer.id))
    after = await stub.GetDataHealth(customer_pb2.GetDataHealthRequest(), timeout=5)
    assert after.customers == before.customers + 2
    assert after.missing_phone == before.missing_phone + 1
    assert after.missing_credit_code == before.missing_credit_code + 2
    assert after.duplicate_rate > before.duplicate_rate
    assert after.stale_records == 0


async def test_match_rules_are_set_validated_and_used(stub: Stub) -> None:
    default = json.loads((await stub.GetMatchRules(customer_pb2.GetMatchRulesRequest(), timeout=5)).rules_json)
    assert default["auto_match"] == 90
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SetMatchRules(customer_pb2.SetMatchRulesRequest(rules_json='{"auto_match": 50, "review": 80}'))
    assert [v.field for v in field_violations_of(caught.value)] == ["rules_json.review"]
    try:
        strict = {**default, "auto_match": 100, "review": 100, "rules": []}
        await stub.SetMatchRules(customer_pb2.SetMatchRulesRequest(rules_json=json.dumps(strict), actor_id="admin"))
        core = unique_name()
        first = await resolve(stub, company=f"北京{core}科技有限公司")
        second = await resolve(stub, company=f"杭州{core}科技")
        assert second.created and second.customer.id != first.customer.id and not second.review_id
    finally:
        await stub.SetMatchRules(customer_pb2.SetMatchRulesRequest(rules_json=json.dumps(default)))
