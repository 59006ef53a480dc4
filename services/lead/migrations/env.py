"""Alembic environment of the lead service."""

from crm_common.migrations import run_migrations_online
from lead.tables import metadata

run_migrations_online(metadata)
