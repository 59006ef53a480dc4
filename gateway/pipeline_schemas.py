"""Request bodies of the pipeline routes (pipelines, opportunities, evidence, approvals, forecast)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from gateway.schemas import Long, RequestModel, Required, Short

Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Duration = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^P", max_length=40)]


class ContactEvidence(RequestModel):
    kind: Literal["contact"]
    min: int = Field(default=1, ge=1, le=100, description="Recorded communications since the stage was entered")


class FileEvidence(RequestModel):
    kind: Literal["file"]
    media_types: list[Short] = Field(min_length=1, description="Accepted media types, judged by the file's content")


class FieldEvidence(RequestModel):
    kind: Literal["field"]
    field: Short = Field(description="An opportunity field that must be set, e.g. expected_close_date")


class ConfirmationEvidence(RequestModel):
    kind: Literal["confirmation"]


Evidence = Annotated[
    ContactEvidence | FileEvidence | FieldEvidence | ConfirmationEvidence, Field(discriminator="kind")
]


class ActionIn(RequestModel):
    key: Key
    name: Required
    evidence: Evidence


class SubStateIn(RequestModel):
    key: Key
    name: Required
    stall_after: Duration | None = None


class StageIn(RequestModel):
    key: Key
    name: Required
    probability: float = Field(ge=0, le=1, description="Win probability, for the weighted forecast")
    sub_states: list[SubStateIn] = Field(default_factory=list, max_length=5)
    actions: list[ActionIn] = Field(default_factory=list, max_length=5)
    stall_after: Duration = "PT72H"
    stall_clock: Literal["calendar", "business"] = "calendar"
    outcome: Literal["won", "lost"] | None = None


class SkipWhen(RequestModel):
    repeat_customer: bool


class SkipRuleIn(RequestModel):
    from_: Key = Field(alias="from")
    to: Key
    when: SkipWhen


class PipelineIn(RequestModel):
    name: Required
    stages: list[StageIn] = Field(min_length=2, max_length=30)
    skip_rules: list[SkipRuleIn] = Field(default_factory=list, max_length=50)
    block_reasons: list[Short] = Field(default_factory=list, max_length=50)
    reason: Long = Field(default="", description="Why this version (kept with it)")


class OpportunityIn(RequestModel):
    customer_id: Required
    name: Required
    amount: Decimal = Field(ge=0, lt=Decimal("1e16"), max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    owner_id: Required
    pipeline: Key = "default"
    lead_id: Short | None = None
    expected_close_date: date | None = None


class OpportunityPatch(RequestModel):
    """Fields to change; the stage is never one of them (it moves only through /stage)."""

    name: Required | None = None
    amount: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e16"), max_digits=18, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    expected_close_date: date | None = None
    customer_id: Short | None = None
    next_step_at: datetime | None = Field(default=None, description="A scheduled next step pauses the stall clock")
    version: int = Field(default=0, ge=0, description="The version you read; a different current one is a 409")
    # Named so that the refusal can name it: a stage here is always a 422 (it moves only through /stage).
    stage: object | None = Field(default=None, description="Never accepted: POST /v1/opportunities/{id}/stage moves")


class ContactIn(RequestModel):
    channel: Required
    summary: Long = ""


class ConfirmationIn(RequestModel):
    action: Key
    confirmed_by: Required = Field(description="Who at the customer confirmed")
    note: Long = Field(default="", description="How they confirmed")


class StageMoveIn(RequestModel):
    to: Key
    reason: Long = ""
    dry_run: bool = False
    version: int = Field(default=0, ge=0, description="The version you read; a different current one is a 409")


class SubStateMoveIn(RequestModel):
    sub_state: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


class BlockReasonIn(RequestModel):
    reason: Required


class OverrideIn(RequestModel):
    to: Key
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class RejectIn(RequestModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ApproveIn(RequestModel):
    reason: Long = ""


class StageChangeIn(RequestModel):
    opportunity_id: Required
    to: Key
    reason: Long = ""


class StageImportIn(RequestModel):
    """A bulk import of stage changes: each line through the same rules as POST /v1/opportunities/{id}/stage."""

    changes: list[StageChangeIn] = Field(min_length=1, max_length=1000)
