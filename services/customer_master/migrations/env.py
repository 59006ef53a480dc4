"""Alembic environment of customer-master."""

from crm_common.migrations import run_migrations_online
from customer_master.tables import metadata

run_migrations_online(metadata)
