"""Inbound source rules without I/O: configuration checks, signature verification, mapping a payload."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from crm.lead.v1 import lead_pb2
from crm_common.errors import FieldViolation, text_problem

KINDS = ("form", "partner", "ads", "crm", "wecom")
DEFAULT_KIND = "form"
# The lead fields a mapping may fill (LeadInput's text fields).
MAPPABLE = tuple(
    f.name for f in lead_pb2.LeadInput.DESCRIPTOR.fields if f.type == f.TYPE_STRING
)
PATH = re.compile(r"^[^.\s][^.]{0,99}(\.[^.]{1,100}){0,7}$")
MAX_MAPPING = 32
TOLERANCE_SECONDS = 300


def secret_problem(secret: str) -> str | None:
    """Why a signing secret is unusable (whsec_ followed by base64 of 24 to 64 bytes), or None."""
    if not secret.startswith("whsec_"):
        return "must start with whsec_ (Standard Webhooks)"
    try:
        key = base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        return "must be whsec_ followed by base64"
    if not 24 <= len(key) <= 64:
        return "must carry 24 to 64 bytes of key"
    return None


def source_violations(*, secret: str, mapping: Mapping[str, str], kind: str) -> list[FieldViolation]:
    """Every problem of a source's configuration, each naming its field."""
    violations = []
    if secret and (problem := secret_problem(secret)):
        violations.append(FieldViolation("secret", problem))
    if kind and kind not in KINDS:
        violations.append(FieldViolation("kind", f"must be one of {', '.join(KINDS)}"))
    if len(mapping) > MAX_MAPPING:
        violations.append(FieldViolation("mapping", f"at most {MAX_MAPPING} entries"))
    for field, path in mapping.items():
        if field not in MAPPABLE:
            violations.append(FieldViolation(f"mapping.{field}", f"not a lead field; one of {', '.join(MAPPABLE)}"))
        elif (problem := text_problem(path)) or not PATH.match(path):
            violations.append(FieldViolation(
                f"mapping.{field}", problem or "must be a dotted path of at most 8 keys (e.g. contact.mobile)"
            ))
    return violations


def verify(
    *, secret: str, body: bytes, webhook_id: str, timestamp: str, signature: str
) -> str | None:
    """Why a signed webhook fails Standard Webhooks verification (300 s tolerance), or None when it passes."""
    try:
        Webhook(secret).verify(
            body,
            {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature},
            json_parse=False,
        )
    except WebhookVerificationError as err:
        return str(err)
    return None


def _at(payload: Any, path: str) -> Any:
    for key in path.split("."):
        if isinstance(payload, Mapping):
            payload = payload.get(key)
        elif isinstance(payload, list) and key.isdigit() and int(key) < len(payload):
            payload = payload[int(key)]
        else:
            return None
    return payload


def apply_mapping(payload: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The payload with each mapped lead field lifted to the top under its own name (mapped values win)."""
    if not mapping:
        return dict(payload)
    mapped = {field: value for field, path in mapping.items() if (value := _at(payload, path)) is not None}
    return {**payload, **mapped}


def timestamp_of(at: datetime) -> str:
    """A webhook-timestamp header value."""
    return str(int(at.timestamp()))
