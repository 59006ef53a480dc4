"""pipeline's tables, in schema pipeline."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Identity, Index, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from crm_common.db import service_metadata

SCHEMA = "pipeline"
metadata = service_metadata(SCHEMA)

# Lead, customer and owner ids belong to other services: kept as their text form, never joined on.
opportunities = Table(
    "opportunities",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", Text, nullable=False, unique=True),
    Column("customer_id", Text, nullable=True),
    Column("owner_id", Text, nullable=True),
    Column("stage", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)

stage_history = Table(
    "stage_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "opportunity_id",
        UUID(as_uuid=True),
        ForeignKey(opportunities.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("stage", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_stage_history_opportunity_id_at", "opportunity_id", "at"),
)
