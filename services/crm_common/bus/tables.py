"""The outbox and inbox tables, which every service keeps in its own schema."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Identity, LargeBinary, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from crm_common.db import service_metadata


def outbox_table(metadata: MetaData) -> Table:
    """Events written in the same transaction as the change they announce, until the relay publishes them."""
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False, unique=True),
        Column("subject", Text, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Event ids each consumer has processed, written in the same transaction as the effect."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", Text, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def create_bus_tables(bind: object, schema: str) -> None:
    """Create the outbox and inbox in a schema (called from each service's first migration)."""
    metadata = service_metadata(schema)  # same constraint names as the services' own metadata
    outbox_table(metadata)
    inbox_table(metadata)
    metadata.create_all(bind)  # type: ignore[arg-type]
