"""reporting's projections, in schema reporting."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Table, Text, func

from crm_common.db import service_metadata
from reporting.projections.schema import PROJECTIONS, support_tables

SCHEMA = "reporting"
metadata = service_metadata(SCHEMA)

# One row per lead, filled column by column by whichever lead event arrives, in any order.
lead_response = Table(
    "lead_response",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("channel", Text, nullable=True),
    Column("captured_at", DateTime(timezone=True), nullable=True),
    Column("assigned_at", DateTime(timezone=True), nullable=True),
    Column("first_contact_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Reports select by capture window, optionally within one channel.
    Index("ix_lead_response_captured_at", "captured_at"),
    Index("ix_lead_response_channel_captured_at", "channel", "captured_at"),
)

lead_fact, opportunity_fact, stage_visit, stage_action, sub_state_dwell = (
    make(metadata) for make in PROJECTIONS.values()
)
report_result, export_audit = support_tables(metadata)
