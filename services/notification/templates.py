"""Templates: `{field}` placeholders, validated when saved, rendered without ever failing."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from crm_common.errors import FieldViolation

DEFAULT_PLACEHOLDER = "—"
MAX_TEMPLATE_CHARS = 4000


@dataclass(frozen=True)
class Template:
    """A title and body with `{field}` placeholders, and what a missing field shows as."""

    name: str
    title: str
    body: str
    placeholder: str = DEFAULT_PLACEHOLDER
    fields: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Rendered:
    """The title and body of one notification."""

    title: str
    body: str


BUILT_IN: dict[str, Template] = {
    "lead_assigned": Template(
        "lead_assigned",
        "New lead assigned: {lead_name} ({company})",
        "Lead: {lead_name}\nCompany: {company}\nChannel: {channel}\nPlease claim it and make the first contact.",
    ),
    "lead_escalated": Template(
        "lead_escalated",
        "Lead needs attention: {lead_name}",
        "Lead {lead_id} assigned to {rep_name} was escalated ({kind}): {reason}\nDeadline: {deadline_at}",
    ),
    "lead_pool_warning": Template(
        "lead_pool_warning",
        "Follow up or lose the lead: {lead_name}",
        "Lead {lead_id} has had no follow-up ({reason}). It returns to the public pool at {deadline_at} unless you"
        " contact the customer before then.",
    ),
    "lead_reassigned": Template(
        "lead_reassigned",
        "Lead reassigned: {lead_name} ({company})",
        "Lead: {lead_name}\nCompany: {company}\nMoved from {from_rep_name} to {to_rep_name} ({reason}).",
    ),
    "opportunity_approval_requested": Template(
        "opportunity_approval_requested",
        "Approval needed: {kind} {from_stage} → {to_stage}",
        "Opportunity {opportunity_id}: {requested_by} asks to move it from {from_stage} to {to_stage} ({kind}).\n"
        "Reason: {reason}\nApprove or reject it in the CRM.",
    ),
    "opportunity_stalled": Template(
        "opportunity_stalled",
        "Deal stalled in {stage}",
        "Opportunity {opportunity_id} has not moved in {stage} (sub-state {sub_state}). Please record a block reason:"
        " {block_reasons}.",
    ),
    "delivery_escalated": Template(
        "delivery_escalated",
        "Could not reach {recipient_name}: {original_title}",
        "A notification to {recipient_name} could not be delivered on any channel ({reason}).\n\n{original_body}",
    ),
}


def fields_of(text: str) -> list[str]:
    """The field names a template text uses; raises ValueError on anything but plain `{name}`."""
    names: list[str] = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"{{{name}}} is not a plain field name (letters, digits and _ only)")
        if spec or conversion:
            raise ValueError(f"{{{name}}} may not carry a format spec or conversion")
        if name not in names:
            names.append(name)
    return names


def validate(template: Template) -> list[FieldViolation]:
    """What is wrong with a template, field by field (empty when it can be saved)."""
    problems: list[FieldViolation] = []
    if not template.name.strip() or not template.name.replace("_", "").replace("-", "").isalnum():
        problems.append(FieldViolation("name", "required: letters, digits, '-' and '_'"))
    if not template.title.strip():
        problems.append(FieldViolation("title", "required"))
    if not template.body.strip():
        problems.append(FieldViolation("body", "required"))
    for name in ("title", "body"):
        text = getattr(template, name)
        if len(text) > MAX_TEMPLATE_CHARS:
            problems.append(FieldViolation(name, f"at most {MAX_TEMPLATE_CHARS} characters"))
        try:
            fields_of(text)
        except ValueError as err:
            problems.append(FieldViolation(name, str(err)))
    if len(template.placeholder) > 50:
        problems.append(FieldViolation("placeholder", "at most 50 characters"))
    return problems


class _Shown(dict[str, str]):
    """Values as the reader sees them: a missing or blank field shows as the placeholder."""

    def __init__(self, values: Mapping[str, str], placeholder: str) -> None:
        super().__init__({k: " ".join(str(v).split()) for k, v in values.items()})
        self.placeholder = placeholder

    def __missing__(self, key: str) -> str:
        return self.placeholder

    def __getitem__(self, key: str) -> str:
        value = super().get(key, "")
        return value or self.placeholder


def render(template: Template, values: Mapping[str, str]) -> Rendered:
    """Fill a template; never raises, whatever the values leave out."""
    shown = _Shown(values, template.placeholder or DEFAULT_PLACEHOLDER)
    return Rendered(title=_fill(template.title, shown), body=_fill(template.body, shown))


def _fill(text: str, shown: _Shown) -> str:
    try:
        return text.format_map(shown)
    except (ValueError, KeyError, IndexError, AttributeError):
        # Only a template saved before validation existed can get here; show it raw rather than fail.
        return text
