"""Alembic environment of pipeline."""

from crm_common.migrations import run_migrations_online
from pipeline.tables import metadata

run_migrations_online(metadata)
