"""Alembic environment of the notification schema."""

from crm_common.migrations import run_migrations_online
from notification.tables import metadata

run_migrations_online(metadata)
