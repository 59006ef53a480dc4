"""The customer is the company: people at one company, however they write it, make one customer through the edge."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from tests.test_journey import auth, wait_until
from tools.devstack import Stack

TRADITIONAL = str.maketrans("华达东国发兴龙丰汇联", "華達東國發興龍豐匯聯")


@pytest.fixture(scope="module")
def api(stack: Stack) -> httpx.Client:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def _brand() -> str:
    """Characters with traditional forms, then a rare one: a company no other journey's customer resembles."""
    return "".join(random.choices("华达东国发兴龙丰汇联", k=2)) + chr(0x4E00 + random.randrange(20000))


def _lead(api: httpx.Client, stack: Stack, company: str) -> dict[str, Any]:
    """A lead from a new person (own name, mobile and personal mailbox) naming the company."""
    body = {
        "name": random.choice("王李张刘陈杨") + random.choice("伟芳娜敏静丽强"),
        "phone": f"+86 139 {random.randrange(10**8):08d}",
        "email": f"{uuid.uuid4().hex[:12]}@qq.com",
        "company": company,
        "source": {"channel": "web_form", "utm_source": "baidu"},
    }
    response = api.post("/v1/leads", json=body, headers=auth(stack.api_key))
    assert response.status_code == 201, response.text
    return response.json()


def _contacts(api: httpx.Client, stack: Stack, customer_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/customers/{customer_id}/contacts", headers=auth(stack.api_key))
    assert response.status_code == 200, response.text
    return response.json().get("contacts", [])


def _variants() -> list[tuple[str, str]]:
    b = [_brand() for _ in range(4)]
    return [
        (f"杭州{b[0]}科技股份有限公司", f"{b[0]}科技股份有限公司"),
        (f"杭州市{b[1]}信息技术有限公司", f"杭州{b[1]}信息技术有限公司"),
        (f"北京{b[2]}贸易有限公司", f"{b[2]}贸易有限公司"),
        (f"{b[3]}实业股份有限公司", f"{b[3]}实业股份有限公司".translate(TRADITIONAL)),
    ]


@pytest.mark.parametrize("variant", range(4), ids=["city prefix", "市 dropped", "leading 北京", "traditional"])
def test_two_people_at_one_company_make_one_customer_with_two_contacts(
    api: httpx.Client, stack: Stack, variant: int
) -> None:
    first_name, second_name = _variants()[variant]
    first, second = _lead(api, stack, first_name), _lead(api, stack, second_name)
    assert first["customer_id"] and first["customer_id"] == second["customer_id"], (first_name, second_name)
    people = wait_until(lambda: len(found := _contacts(api, stack, first["customer_id"])) >= 2 and found)
    assert sorted(c["name"] for c in people) == sorted([first["name"], second["name"]])
    # Match answers with the one customer, not a duplicate of it.
    matched = api.post("/v1/customers/match", json={"company": second_name}, headers=auth(stack.api_key))
    assert matched.status_code == 200, matched.text
    auto = [c for c in matched.json()["candidates"] if c["decision"] == "auto_match"]
    assert [c["customer"]["id"] for c in auto] == [first["customer_id"]]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("{b}科技有限公司上海分公司", "{b}科技有限公司"),
        ("{b}乳业(当阳)有限责任公司", "{b}乳业(乌兰浩特)有限责任公司"),
        ("{b}银行北京分行", "{b}银行"),
        ("宁波{b}港股份有限公司", "杭州{b}港股份有限公司"),
    ],
    ids=["branch", "bracketed place", "bank branch", "ports of two cities"],
)
def test_look_alike_companies_stay_apart(api: httpx.Client, stack: Stack, one: str, other: str) -> None:
    brand = _brand()
    first, second = _lead(api, stack, one.format(b=brand)), _lead(api, stack, other.format(b=brand))
    assert first["customer_id"] and second["customer_id"]
    assert first["customer_id"] != second["customer_id"]


def test_a_name_of_places_only_resolves_and_matches(api: httpx.Client, stack: Stack) -> None:
    for name in ("宁波舟山港股份有限公司", "杭州宁波港股份有限公司", "杭州宁波港股份有限公司"):
        assert _lead(api, stack, name)["customer_id"]
        matched = api.post("/v1/customers/match", json={"company": name}, headers=auth(stack.api_key))
        assert matched.status_code == 200, matched.text
    empty = api.post("/v1/customers/match", json={"company": "（）"}, headers=auth(stack.api_key))
    assert empty.status_code == 422, empty.text
