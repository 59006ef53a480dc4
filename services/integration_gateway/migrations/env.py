"""Alembic environment of the integration_gateway schema."""

from crm_common.migrations import run_migrations_online
from integration_gateway.tables import metadata

run_migrations_online(metadata)
