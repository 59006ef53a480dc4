"""The hand-written migrations match the tables the code uses, and downgrade cleanly."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from crm_common.migrations import migration_drift
from lead.app import DEFINITION
from lead.sql import function_body

# The functions of the lead schema and the file each was created from.
FUNCTION_FILES = {
    "count_open_leads": "count_open_leads_v1.sql",
    "capture_context": "capture_context_v1.sql",
    "routing_reps": "routing_reps_v1.sql",
}


async def test_migration_matches_tables_and_downgrades_to_nothing(fresh_db_url: str) -> None:
    diff, left = await asyncio.to_thread(
        migration_drift, DEFINITION.metadata, DEFINITION.migrations_dir, url=fresh_db_url, schema=DEFINITION.schema
    )
    assert diff == [], "\n".join(map(str, diff))
    assert left == []


async def test_sql_functions_match_their_versioned_files(runtime) -> None:
    """Each function a migration created has, in the database, the body kept in its lead/sql file."""
    query = text("SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'lead'::regnamespace")
    async with runtime.db.engine.connect() as conn:
        stored = dict((await conn.execute(query)).all())
    assert stored.keys() == set(FUNCTION_FILES)
    for name, path in FUNCTION_FILES.items():
        assert stored[name] == function_body(path), path
