"""Alembic environment of reporting."""

from crm_common.migrations import run_migrations_online
from reporting.tables import metadata

run_migrations_online(metadata)
