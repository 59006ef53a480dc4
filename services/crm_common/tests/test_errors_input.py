"""Bounded error statuses, and the checks that find what no table can store in a request."""

from __future__ import annotations

import math

from google.protobuf.struct_pb2 import Struct
from google.rpc import error_details_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.integration.v1 import integration_pb2
from crm.lead.v1 import lead_pb2
from crm_common.errors import (
    MAX_DETAILS_BYTES,
    MAX_JSON_DEPTH,
    MAX_MESSAGE_BYTES,
    FieldViolation,
    InvalidArgument,
    NotFound,
    clip,
    json_violations,
    nul_violations,
    to_rpc_status,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=400), st.text(max_size=2000)), max_size=300),
    st.text(max_size=3000),
)
def test_a_status_stays_small_whatever_it_names(violations: list[tuple[str, str]], message: str) -> None:
    status = to_rpc_status(InvalidArgument([FieldViolation(f, d) for f, d in violations], message=message))
    assert len(status.message.encode()) <= MAX_MESSAGE_BYTES
    assert status.details[0].ByteSize() <= MAX_DETAILS_BYTES + 64
    assert status.ByteSize() <= MAX_MESSAGE_BYTES + MAX_DETAILS_BYTES + 128


def test_left_out_violations_are_counted_in_the_message() -> None:
    status = to_rpc_status(InvalidArgument([FieldViolation(f"f{i}", "x" * 200) for i in range(100)]))
    detail = error_details_pb2.BadRequest()
    status.details[0].Unpack(detail)
    shown = len(detail.field_violations)
    assert 0 < shown < 100 and [v.field for v in detail.field_violations] == [f"f{i}" for i in range(shown)]
    assert status.message.startswith(f"{100 - shown} more violations not shown; ")
    assert len(to_rpc_status(NotFound("no lead " + "9" * 10_000)).message.encode()) <= MAX_MESSAGE_BYTES


def test_clip_cuts_on_a_character_boundary() -> None:
    assert clip("短" * 10, 10) == "短短…"
    assert clip("short", 10) == "short"


def test_nul_violations_name_nested_repeated_and_map_fields() -> None:
    request = lead_pb2.CaptureLeadRequest(
        lead=lead_pb2.LeadInput(notes="a\x00", source=lead_pb2.Source(channel="web\x00")), idempotency_key="k\x00"
    )
    assert {v.field for v in nul_violations(request)} == {"lead.notes", "lead.source.channel", "idempotency_key"}
    payload = Struct()
    payload.update({"form": {"tags": ["ok", "b\x00d"]}, "k\x00": 1})
    webhook = integration_pb2.ReceiveWebhookRequest(source="acme", payload=payload)
    assert {v.field for v in nul_violations(webhook)} == {"payload.form.tags.1", "payload.k?"}
    assert nul_violations(lead_pb2.CaptureLeadRequest(lead=lead_pb2.LeadInput(notes="fine 🙂"))) == []


def test_json_violations_name_every_unstorable_value() -> None:
    document = {"a": [1, {"b": math.nan}], "c": "\x00", "d": "\udc00", "e": 2**63, "f": -math.inf, "ok": 1.5}
    assert {(v.field, v.description.split(" ")[0]) for v in json_violations(document, "payload")} == {
        ("payload.a.1.b", "must"), ("payload.c", "must"), ("payload.d", "must"), ("payload.e", "integer"),
        ("payload.f", "must"),
    }
    deep: object = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = [deep]
    assert [v.field for v in json_violations(deep)] == ["body"]
