"""customer-master's tables, in schema customer_master."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Float, ForeignKey, Index, Table, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

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

# Matching, stewardship and history (migration 0002).
customers.append_column(Column("credit_code", Text, nullable=True))
customers.append_column(Column("company_latin", Text, nullable=True))
customers.append_column(Column("steward_id", Text, nullable=True))
customers.append_column(Column("first_cooperation_date", Date, nullable=True))
customers.append_column(Column("merged_into", UUID(as_uuid=True), nullable=True))

# The character pairs of each customer's company core, as an inverted index: a search reads only the index.
customer_grams = Table(
    "customer_grams",
    metadata,
    Column("gram", Text, primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), primary_key=True),
)

match_reviews = Table(
    "match_reviews",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("candidate_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("score", Float, nullable=False),
    Column("explanation", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("decided_by", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("customer_id", "candidate_id"),
)

merges = Table(
    "merges",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("survivor_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("merged_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    # What the merge changed on the survivor ({field: [before, after]}) and which source records moved.
    Column("filled_fields", JSONB, nullable=False),
    Column("moved_sources", JSONB, nullable=False),
    Column("actor_id", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("undone_at", DateTime(timezone=True), nullable=True),
)

customer_changes = Table(
    "customer_changes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("field", Text, nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("actor_id", Text, nullable=False, server_default=""),
    Column("actor_role", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

change_requests = Table(
    "change_requests",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("field", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False, server_default="open"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

match_settings = Table(
    "match_settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", JSONB, nullable=False),
    Column("updated_by", Text, nullable=False, server_default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
