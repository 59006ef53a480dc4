"""Webhook intake refuses what no table can store (NUL, NaN, Infinity, deep nesting) by field, and stores nothing."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm_common.errors import MAX_JSON_DEPTH, field_violations_of
from crm_common.service import Runtime
from integration_gateway import domain

from .conftest import LeadStandIn
from .test_webhooks import fresh_source, receipts_of


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"phone": "13900001111"}
    for _ in range(depth):
        value = {"a": value}
    return value


def _struct(payload: dict[str, Any]) -> Struct:
    struct = Struct()
    struct.update(payload)
    return struct


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "13900001111", "score": math.nan}, "payload.score"),
        ({"phone": "13900001111", "score": math.inf}, "payload.score"),
        ({"phone": "13900001111", "items": [1, -math.inf]}, "payload.items.1"),
        ({"phone": "13900001111", "name": "王\x00伟"}, "payload.name"),
        ({"phone": "13900001111", "na\x00me": "王伟"}, "payload.na?me"),
        ({"phone": "13900001111", "form": {"notes": ["ok", "x\x00"]}}, "payload.form.notes.1"),
    ],
)
async def test_unstorable_values_are_refused_by_field_and_nothing_is_stored(
    runtime: Runtime,
    lead: LeadStandIn,
    stub: integration_pb2_grpc.IntegrationServiceStub,
    payload: dict[str, Any],
    field: str,
) -> None:
    source = fresh_source()
    request = integration_pb2.ReceiveWebhookRequest(source=source, payload=_struct(payload), idempotency_key="k1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ReceiveWebhook(request, timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in {v.field for v in field_violations_of(caught.value)}
    assert await receipts_of(runtime, source) == []
    assert lead.requests == []


async def test_a_payload_nested_past_the_bound_is_refused_and_one_within_it_is_received(
    runtime: Runtime, lead: LeadStandIn, stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    source = fresh_source()
    deep = integration_pb2.ReceiveWebhookRequest(source=source, payload=_struct(_nested(MAX_JSON_DEPTH)))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ReceiveWebhook(deep, timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    [violation] = field_violations_of(caught.value)
    assert violation.field == "payload" and "nested more than" in violation.description
    assert await receipts_of(runtime, source) == []

    within = integration_pb2.ReceiveWebhookRequest(source=source, payload=_struct(_nested(MAX_JSON_DEPTH - 1)))
    assert (await stub.ReceiveWebhook(within, timeout=5)).created


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.text(st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4),
    max_leaves=30,
)


def _unstorable(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    if isinstance(value, dict):
        return any("\x00" in k or _unstorable(v) for k, v in value.items())
    return False


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=12), json_values, max_size=6))
def test_intake_names_exactly_the_unstorable_payloads_and_maps_the_rest(payload: dict[str, Any]) -> None:
    violations = domain.payload_violations(payload)
    assert bool(violations) == _unstorable(payload)
    assert all(v.field.startswith("payload") and v.description for v in violations)
    if not violations:
        # Whatever the form's shape, mapping it to a lead input never fails.
        data = domain.lead_input_from_payload(payload, source="acme")
        assert data.source.utm_source == "acme"
