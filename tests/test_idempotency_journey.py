"""Issue 13's idempotency reproductions against the whole stack: keys belong to their caller and to one body."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tools.devstack import Stack


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def _as(key: str, idempotency_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}


def _phone() -> str:
    return f"+86 139 {uuid.uuid4().int % 10**8:08d}"


def test_rep_b_sending_rep_as_key_gets_a_lead_of_their_own(api: httpx.Client, stack: Stack) -> None:
    key_a, key_b = list(stack.rep_keys.values())[:2]
    key = f"form-{uuid.uuid4()}"
    body = {"name": "王芳", "phone": _phone(), "notes": "A's private note", "source": {"channel": "web_form"}}
    first = api.post("/v1/leads", json=body, headers=_as(key_a, key))
    other = api.post("/v1/leads", json={**body, "phone": _phone(), "notes": ""}, headers=_as(key_b, key))

    assert (first.status_code, other.status_code) == (201, 201), other.text
    assert other.json()["id"] != first.json()["id"]
    assert "A's private note" not in other.text


def test_the_same_key_with_another_body_is_422_naming_the_header(api: httpx.Client, stack: Stack) -> None:
    key = f"form-{uuid.uuid4()}"
    body = {"name": "王芳", "phone": _phone(), "source": {"channel": "web_form"}}
    assert api.post("/v1/leads", json=body, headers=_as(stack.api_key, key)).status_code == 201

    refused = api.post("/v1/leads", json={**body, "name": "李雷"}, headers=_as(stack.api_key, key))

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["Idempotency-Key"]


def test_a_reps_webhook_shaped_key_does_not_stop_the_partners_lead(api: httpx.Client, stack: Stack) -> None:
    rep_key = next(iter(stack.rep_keys.values()))
    source, key = f"acme{uuid.uuid4().hex[:6]}", f"k-{uuid.uuid4().hex[:8]}"
    body = {"name": "王芳", "phone": _phone(), "notes": "the rep's", "source": {"channel": "web_form"}}
    squatted = api.post("/v1/leads", json=body, headers=_as(rep_key, f"webhook:{source}:{key}"))
    assert squatted.status_code == 201, squatted.text

    partner = api.post(
        f"/v1/webhooks/{source}", json={"name": "Partner", "phone": _phone()}, headers=_as(stack.role_keys["system"], key)
    )

    assert partner.status_code == 201, partner.text
    assert partner.json()["lead_id"] and partner.json()["lead_id"] != squatted.json()["id"]
