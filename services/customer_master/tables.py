"""customer-master's tables, in schema customer_master."""

from __future__ import annotations

import sqlalchemy as sa
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

# The indexes migration 0002 creates, declared so that the migration-drift check compares them too.
Index("ix_customers_credit_code", customers.c.credit_code)
Index("ix_customers_steward_id", customers.c.steward_id)
Index(
    "ix_customers_company_latin_trgm",
    customers.c.company_latin,
    postgresql_using="gin",
    postgresql_ops={"company_latin": "public.gin_trgm_ops"},
)
Index("ix_customer_grams_customer_id", customer_grams.c.customer_id)
Index("ix_match_reviews_status", match_reviews.c.status, match_reviews.c.created_at)
Index("ix_customer_changes_customer_id", customer_changes.c.customer_id, customer_changes.c.at)

# Change-request decisions, steward handover and bulk deduplication jobs (migration 0005).
customers.append_column(Column("steward_needed", sa.Boolean, nullable=False, server_default=text("false")))
customer_changes.append_column(Column("change_request_id", UUID(as_uuid=True), nullable=True))
# The field's value when the request was filed: an approval applies only while the record still has it.
change_requests.append_column(Column("old_value", Text, nullable=True))
change_requests.append_column(Column("decided_by", Text, nullable=True))
change_requests.append_column(Column("decided_role", Text, nullable=True))
change_requests.append_column(Column("decision_reason", Text, nullable=True))
change_requests.append_column(Column("decided_at", DateTime(timezone=True), nullable=True))
Index("ix_change_requests_status", change_requests.c.status, change_requests.c.created_at)
Index("ix_change_requests_customer_id", change_requests.c.customer_id, change_requests.c.created_at)

dedup_jobs = Table(
    "dedup_jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("send_to_review", sa.Boolean, nullable=False, server_default=text("false")),
    Column("requested_by", Text, nullable=False, server_default=""),
    Column("records_total", sa.BigInteger, nullable=False, server_default=text("0")),
    Column("records_loaded", sa.BigInteger, nullable=False, server_default=text("0")),
    Column("candidate_pairs", sa.BigInteger, nullable=False, server_default=text("0")),
    Column("pairs_scored", sa.BigInteger, nullable=False, server_default=text("0")),
    Column("clusters_found", sa.BigInteger, nullable=False, server_default=text("0")),
    Column("reviews_queued", sa.BigInteger, nullable=False, server_default=text("0")),
    Column("error", Text, nullable=False, server_default=""),
    Column("attempts", sa.Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("idempotency_key", Text, nullable=True),
    Index("ix_dedup_jobs_status", "status", "created_at"),
    Index(
        "uq_dedup_jobs_idempotency_key",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)

# The records of an uploaded file, stored with the job so that an accepted file survives a restart.
dedup_job_records = Table(
    "dedup_job_records",
    metadata,
    Column("job_id", UUID(as_uuid=True), ForeignKey(dedup_jobs.c.id, ondelete="CASCADE"), primary_key=True),
    Column("row", sa.Integer, primary_key=True),
    Column("ref", Text, nullable=False, server_default=""),
    Column("company", Text, nullable=False, server_default=""),
    Column("name", Text, nullable=False, server_default=""),
    Column("phone", Text, nullable=False, server_default=""),
    Column("email", Text, nullable=False, server_default=""),
    Column("credit_code", Text, nullable=False, server_default=""),
)

dedup_clusters = Table(
    "dedup_clusters",
    metadata,
    Column("job_id", UUID(as_uuid=True), ForeignKey(dedup_jobs.c.id, ondelete="CASCADE"), primary_key=True),
    Column("number", sa.Integer, primary_key=True),
    Column("decision", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("size", sa.Integer, nullable=False),
    # [{customer_id|row, ref, company, name, phone, email, credit_code}] and [{a, b, score, decision, explanation}].
    Column("members", JSONB, nullable=False),
    Column("pairs", JSONB, nullable=False),
)

# Contacts and survivorship (migration 0004).

# A golden contact: one person of one account, built from its source records by the survivorship rules.
contacts = Table(
    "contacts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("phone_e164", Text, nullable=True),
    Column("email_normalized", Text, nullable=True),
    # Which source record each golden value came from and why ({field: {source_id, system, at, rule}}).
    Column("provenance", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("rules_version", sa.Integer, nullable=False, server_default="0"),
    # Set when a steward merged the contact into another (the survivor); unmerge clears it.
    Column("merged_into", UUID(as_uuid=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_contacts_customer_id", "customer_id", "created_at"),
    Index("ix_contacts_rules_version", "rules_version"),
)

contact_sources = Table(
    "contact_sources",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("contact_id", UUID(as_uuid=True), ForeignKey(contacts.c.id, ondelete="CASCADE"), nullable=False),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("source_system", Text, nullable=False),
    Column("source_ref", Text, nullable=False, server_default=""),
    Column("name", Text, nullable=True),
    Column("phone_e164", Text, nullable=True),
    Column("email_normalized", Text, nullable=True),
    # The match that linked the record to its contact: decision, rule, fields and scores.
    Column("match", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("observed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_contact_sources_contact_id", "contact_id", "observed_at"),
    # A source record names one person of an account once: a repeated resolve adds nothing.
    Index(
        "uq_contact_sources_customer_id_source_ref",
        "customer_id",
        "source_ref",
        unique=True,
        postgresql_where=text("source_ref <> ''"),
    ),
)

# Blocking keys of contacts (phone, email, account + surname), from every source: candidates come from here alone.
contact_keys = Table(
    "contact_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("contact_id", UUID(as_uuid=True), ForeignKey(contacts.c.id, ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_keys_contact_id", "contact_id"),
)

# People named by resolves, written in the resolve's transaction and linked to contacts by the intake worker, so
# that capture pays one INSERT and nothing accepted is lost.
contact_intake = Table(
    "contact_intake",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), nullable=False),
    Column("source_ref", Text, nullable=False, server_default=""),
    Column("name", Text, nullable=False, server_default=""),
    Column("phone", Text, nullable=False, server_default=""),
    Column("email", Text, nullable=False, server_default=""),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("attempts", sa.Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=False, server_default=""),
    Index("ix_contact_intake_received_at", "received_at"),
)

# Contact merges, with the source records each moved, so that an unmerge puts them back.
contact_merges = Table(
    "contact_merges",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("survivor_id", UUID(as_uuid=True), ForeignKey(contacts.c.id, ondelete="CASCADE"), nullable=False),
    Column("merged_id", UUID(as_uuid=True), ForeignKey(contacts.c.id, ondelete="CASCADE"), nullable=False),
    Column("moved_sources", JSONB, nullable=False),
    Column("actor_id", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("undone_at", DateTime(timezone=True), nullable=True),
)

# Every version of the survivorship rules an administrator stored; the highest version is in force.
survivorship_rules = Table(
    "survivorship_rules",
    metadata,
    Column("version", sa.Integer, primary_key=True, autoincrement=False),
    Column("rules", JSONB, nullable=False),
    Column("set_by", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("set_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Which rules version built each account's golden fields, and from which source records.
account_golden = Table(
    "account_golden",
    metadata,
    Column("customer_id", UUID(as_uuid=True), ForeignKey(customers.c.id, ondelete="CASCADE"), primary_key=True),
    Column("rules_version", sa.Integer, nullable=False),
    Column("provenance", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("rebuilt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Accounts whose sources changed are marked with version -1; the rebuild loop finds them by this index.
    Index("ix_account_golden_rules_version", "rules_version"),
)

# Blocking (migration 0003): each search key carries 1 / (how many keys its customer has), so that summing it over
# the keys a query shares says how much of a short candidate the query contains, and the customer's core and place
# prefix, so that a pool of candidates is ranked by the scorer's own measure; the covering index answers both from
# the index alone.
customer_grams.append_column(Column("weight", Float, nullable=False, server_default=text("0")))
customer_grams.append_column(Column("core", Text, nullable=False, server_default=""))
customer_grams.append_column(Column("place", Text, nullable=False, server_default=""))
Index(
    "ix_customer_grams_gram_weight",
    customer_grams.c.gram,
    postgresql_include=["customer_id", "weight", "core", "place"],
)
