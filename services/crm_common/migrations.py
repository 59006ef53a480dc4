"""Alembic, one history per service in the service's schema; migrations run under an advisory lock."""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, pool, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_common.db import async_url


def alembic_config(migrations_dir: Path, *, url: str, schema: str) -> Config:
    """An in-memory Alembic config (no alembic.ini) for one service."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def upgrade_to_head(migrations_dir: Path, *, url: str, schema: str) -> None:
    """Apply every pending migration of one service."""
    command.upgrade(alembic_config(migrations_dir, url=url, schema=schema), "head")


def head_revision(migrations_dir: Path) -> str | None:
    """The newest revision in the service's migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def current_revision(engine: AsyncEngine, schema: str) -> str | None:
    """The revision the database is at (None before the first migration)."""
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass(:t)"), {"t": f"{schema}.alembic_version"})
        if exists is None:
            return None
        return await conn.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version'))


def run_migrations_online(target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py: migrate its schema, one migrator at a time."""
    cfg = context.config
    schema = cfg.attributes["schema"]
    engine = create_engine(cfg.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    lock_id = zlib.crc32(f"crm-migrations:{schema}".encode())
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
        try:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            conn.commit()
            context.configure(
                connection=conn,
                target_metadata=target_metadata,
                version_table_schema=schema,
                include_schemas=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
            conn.commit()
    engine.dispose()


def migration_drift(definition_metadata: MetaData, migrations_dir: Path, *, url: str, schema: str) -> tuple[list, list[str]]:
    """Upgrade, compare the schema with the code's tables, downgrade: (differences, tables left behind).

    The bus tables belong to crm_common and alembic_version to Alembic, so they are left out.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    def our_schema(name: str | None, type_: str, parent_names: dict) -> bool:
        return type_ != "schema" or name == schema

    def our_table(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        return not (type_ == "table" and name in {"alembic_version", "outbox", "inbox"})

    upgrade_to_head(migrations_dir, url=url, schema=schema)
    engine = create_engine(async_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            opts = {"include_schemas": True, "include_name": our_schema, "include_object": our_table}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), definition_metadata)
        command.downgrade(alembic_config(migrations_dir, url=url, schema=schema), "base")
        with engine.connect() as conn:
            left = [t for t in inspect(conn).get_table_names(schema=schema) if t != "alembic_version"]
    finally:
        engine.dispose()
    return diff, left
