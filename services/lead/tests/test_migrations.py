"""The hand-written migration matches the tables the code uses, and downgrades cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from crm_common.db import async_url
from crm_common.migrations import alembic_config, upgrade_to_head
from lead.app import DEFINITION


def _diff_and_downgrade(url: str) -> tuple[list, list[str]]:
    upgrade_to_head(DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
    engine = create_engine(async_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_schemas": True, "include_name": _our_schema, "include_object": _our_table}
            )
            diff = compare_metadata(context, DEFINITION.metadata)
        command.downgrade(alembic_config(DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema), "base")
        with engine.connect() as conn:
            left = [t for t in inspect(conn).get_table_names(schema=DEFINITION.schema) if t != "alembic_version"]
    finally:
        engine.dispose()
    return diff, left


def _our_schema(name: str | None, type_: str, parent_names: dict) -> bool:
    return type_ != "schema" or name == DEFINITION.schema


def _our_table(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """This service's own tables (the bus tables belong to crm_common, alembic_version to Alembic)."""
    return not (type_ == "table" and name in {"alembic_version", "outbox", "inbox"})


async def test_migration_matches_tables_and_downgrades_to_nothing(pg_url: str) -> None:
    diff, left = await asyncio.to_thread(_diff_and_downgrade, pg_url)
    assert diff == [], "\n".join(map(str, diff))
    assert left == []
