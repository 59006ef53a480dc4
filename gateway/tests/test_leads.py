"""Leads through the edge: capture, validation, idempotency, read, claim and contacts."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest

from gateway.core.config import Role
from gateway.tests.doubles import ASSIGNEE_ID, BAD_PHONE
from gateway.tests.support import Doubles, assert_problem, auth

LEAD = {
    "name": "  Li Lei ",
    "phone": "+8613800138000",
    "company": "ACME",
    "source": {"channel": "web_form", "utm_source": "baidu"},
}


async def capture(client: httpx.AsyncClient, body: dict[str, object] | None = None, **headers: str) -> httpx.Response:
    return await client.post("/v1/leads", json=body or LEAD, headers={**auth(Role.SYSTEM), **headers})


async def test_capture_answers_201_with_the_lead_and_its_location(client: httpx.AsyncClient, doubles: Doubles) -> None:
    response = await capture(client)
    assert response.status_code == 201, response.text
    lead = response.json()
    assert response.headers["location"] == f"/v1/leads/{lead['id']}"
    assert lead["created"] is True
    assert lead["status"] == "assigned" and lead["assignee_id"] == ASSIGNEE_ID
    assert lead["customer_id"] and len(lead["trace_id"]) == 32
    assert lead["name"] == "Li Lei" and lead["email"] is None
    assert lead["source"]["channel"] == "web_form" and lead["source"]["referrer"] is None
    assert lead["claimed_at"] is None and lead["captured_at"].endswith("Z")
    sent = doubles.lead.leads[lead["id"]].input
    assert (sent.name, sent.source.utm_source) == ("Li Lei", "baidu")


async def test_idempotent_repeat_answers_200_with_the_first_lead(client: httpx.AsyncClient) -> None:
    key = str(uuid.uuid4())
    first = await capture(client, **{"Idempotency-Key": key})
    again = await capture(client, **{"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert again.headers["location"] == first.headers["location"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "nobody"}, ["email", "phone"]),
        ({"phone": "   ", "email": ""}, ["email", "phone"]),
        ({"phone": "+8613800138000", "name": "x" * 201}, ["name"]),
        ({"phone": "+8613800138000", "notes": "x" * 4001}, ["notes"]),
        ({"phone": "+8613800138000", "favourite_colour": "blue"}, ["favourite_colour"]),
        ({"phone": "+8613800138000", "source": {"channel": "x" * 201, "medium": "cpc"}}, ["source.channel", "source.medium"]),
        ({"phone": 13800138000}, ["phone"]),
        ([LEAD], ["body"]),
    ],
    ids=["no-contact", "blank-contact", "long-name", "long-notes", "unknown", "source", "number", "list"],
)
async def test_bad_lead_is_422_naming_each_field(
    client: httpx.AsyncClient, body: object, fields: list[str]
) -> None:
    response = await client.post("/v1/leads", json=body, headers=auth(Role.SYSTEM))
    assert_problem(response, 422, *fields)


async def test_unknown_field_message_says_so(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/leads", json={"phone": "1", "nmae": "x"}, headers=auth(Role.SYSTEM))
    assert assert_problem(response, 422, "nmae")["errors"][0]["message"] == "unknown field"


async def test_malformed_json_is_422_naming_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/leads", content=b'{"phone": "1",', headers={**auth(Role.SYSTEM), "Content-Type": "application/json"}
    )
    assert_problem(response, 422, "body")


async def test_phone_refused_by_the_lead_service_is_422_naming_phone(client: httpx.AsyncClient) -> None:
    response = await capture(client, {"phone": BAD_PHONE})
    body = assert_problem(response, 422, "phone")
    assert body["errors"][0]["message"] == "not a valid phone number"


async def test_get_lead_returns_the_stored_lead(client: httpx.AsyncClient) -> None:
    lead = (await capture(client)).json()
    response = await client.get(f"/v1/leads/{lead['id']}", headers=auth(Role.VIEWER))
    assert response.status_code == 200
    got = response.json()
    assert got["id"] == lead["id"] and got["trace_id"] == lead["trace_id"]
    assert "created" not in got
    assert [step["step"] for step in got["timeline"]] == ["captured"]
    assert datetime.fromisoformat(got["timeline"][0]["at"]).tzinfo is not None


@pytest.mark.parametrize("lead_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_unknown_lead_is_404_problem(client: httpx.AsyncClient, lead_id: str) -> None:
    response = await client.get(f"/v1/leads/{lead_id}", headers=auth(Role.VIEWER))
    assert_problem(response, 404)


async def test_sales_rep_claims_as_itself_then_records_the_first_contact(client: httpx.AsyncClient) -> None:
    lead = (await capture(client)).json()
    claimed = await client.post(f"/v1/leads/{lead['id']}/claim", headers=auth(Role.SALES_REP))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "claimed" and claimed.json()["claimed_at"]

    contact = {"channel": "phone", "summary": "called, interested"}
    first = await client.post(f"/v1/leads/{lead['id']}/contacts", json=contact, headers=auth(Role.SALES_REP))
    again = await client.post(f"/v1/leads/{lead['id']}/contacts", json=contact, headers=auth(Role.SALES_REP))
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["first_contact"] is True and again.json()["first_contact"] is False
    assert first.json()["lead"]["status"] == "contacted"
    assert again.json()["lead"]["first_contact_at"] == first.json()["lead"]["first_contact_at"]


async def test_manager_must_name_the_rep(client: httpx.AsyncClient) -> None:
    lead = (await capture(client)).json()
    missing = await client.post(f"/v1/leads/{lead['id']}/claim", headers=auth(Role.MANAGER))
    assert_problem(missing, 422, "rep_id")
    named = await client.post(f"/v1/leads/{lead['id']}/claim", json={"rep_id": ASSIGNEE_ID}, headers=auth(Role.MANAGER))
    assert named.status_code == 200


async def test_claim_by_the_wrong_rep_is_409(client: httpx.AsyncClient) -> None:
    lead = (await capture(client)).json()
    response = await client.post(
        f"/v1/leads/{lead['id']}/claim", json={"rep_id": str(uuid.uuid4())}, headers=auth(Role.ADMIN)
    )
    assert "another rep" in assert_problem(response, 409)["detail"]


async def test_contact_needs_a_channel(client: httpx.AsyncClient) -> None:
    lead = (await capture(client)).json()
    response = await client.post(
        f"/v1/leads/{lead['id']}/contacts", json={"summary": "x" * 4001}, headers=auth(Role.SALES_REP)
    )
    assert_problem(response, 422, "channel", "summary")


async def test_notifications_and_opportunities_of_a_lead(client: httpx.AsyncClient) -> None:
    lead_id = str(uuid.uuid4())
    notes = await client.get(f"/v1/leads/{lead_id}/notifications", headers=auth(Role.VIEWER))
    assert notes.status_code == 200
    [note] = notes.json()
    assert note["status"] == "delivered" and note["lead_id"] == lead_id
    assert [a["outcome"] for a in note["attempts"]] == ["failed", "delivered"]
    deals = await client.get(f"/v1/leads/{lead_id}/opportunities", headers=auth(Role.SALES_REP))
    assert deals.status_code == 200 and deals.json()[0]["stage"] == "qualification"
