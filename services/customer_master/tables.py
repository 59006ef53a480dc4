"""customer-master's tables, in schema customer_master."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Table, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import UUID

from crm_common.db import service_metadata

SCHEMA = "customer_master"
metadata = service_metadata(SCHEMA)

customers = Table(
    "customers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("company", Text, nullable=True),
    Column("company_normalized", Text, nullable=True),
    Column("phone_e164", Text, nullable=True),
    Column("email_normalized", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # One customer per key: these indexes are what makes concurrent resolves converge on one record.
    Index("uq_customers_phone_e164", "phone_e164", unique=True, postgresql_where=text("phone_e164 IS NOT NULL")),
    Index(
        "uq_customers_email_normalized",
        "email_normalized",
        unique=True,
        postgresql_where=text("email_normalized IS NOT NULL"),
    ),
    Index(
        "uq_customers_company_normalized",
        "company_normalized",
        unique=True,
        postgresql_where=text("company_normalized IS NOT NULL"),
    ),
)

customer_sources = Table(
    "customer_sources",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("source_ref", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("company", Text, nullable=True),
    Column("phone", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("matched_on", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("customer_id", "source_ref"),
)
