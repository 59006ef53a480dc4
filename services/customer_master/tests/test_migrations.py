"""The hand-written migrations match the tables the code uses, and downgrade cleanly."""

from __future__ import annotations

import asyncio

from crm_common.migrations import migration_drift
from customer_master.app import DEFINITION


async def test_migration_matches_tables_and_downgrades_to_nothing(fresh_db_url: str) -> None:
    diff, left = await asyncio.to_thread(
        migration_drift, DEFINITION.metadata, DEFINITION.migrations_dir, url=fresh_db_url, schema=DEFINITION.schema
    )
    assert diff == [], "\n".join(map(str, diff))
    assert left == []
