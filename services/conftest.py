"""Fixtures for the services' own tests: a real PostgreSQL and a real nats-server, started on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from crm_common.identity import Principal, Role, acting_as, user_principal
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime, ServiceDefinition
from tools.devstack import infra

os.environ.setdefault("CRM_ENVIRONMENT", "test")


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="crm-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def pg_server_url(workdir: Path) -> Iterator[str]:
    """libpq URL of the test PostgreSQL server's maintenance database (CRM_TEST_DATABASE_URL overrides)."""
    if os.environ.get("CRM_TEST_DATABASE_URL"):
        yield os.environ["CRM_TEST_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        return
    server = infra.PostgresServer(workdir / "pg")
    server.start()
    try:
        yield server.libpq_url
    finally:
        server.stop()


def _fresh_database(server_url: str) -> str:
    """Create an empty database on the test server; returns its async SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server_url.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> str:
    """Async SQLAlchemy URL of a fresh database shared by the session."""
    return _fresh_database(pg_server_url)


@pytest.fixture
def fresh_db_url(pg_server_url: str) -> str:
    """Async SQLAlchemy URL of a new, empty database for one test."""
    return _fresh_database(pg_server_url)


@pytest.fixture
def fresh_nats(workdir: Path) -> Iterator[infra.NatsServer]:
    """A nats-server of the test's own (tests may stop and restart it)."""
    server = infra.NatsServer(workdir / f"nats-{uuid.uuid4().hex[:8]}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url(workdir: Path) -> Iterator[str]:
    """URL of a JetStream-enabled nats-server for the session (CRM_TEST_NATS_URL overrides)."""
    if os.environ.get("CRM_TEST_NATS_URL"):
        yield os.environ["CRM_TEST_NATS_URL"]
        return
    server = infra.NatsServer(workdir / "nats-session")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def service_runtime(
    pg_server_url: str, workdir: Path
) -> Callable[..., AbstractAsyncContextManager[Runtime]]:
    """Factory: `async with service_runtime(DEFINITION) as runtime` = migrated fresh database, own nats-server."""

    @asynccontextmanager
    async def factory(definition: ServiceDefinition, **settings_overrides: object) -> AsyncIterator[Runtime]:
        url = _fresh_database(pg_server_url)
        await asyncio.to_thread(
            upgrade_to_head, definition.migrations_dir, url=url, schema=definition.schema
        )
        nats = infra.NatsServer(workdir / f"nats-{uuid.uuid4().hex[:8]}")
        nats.start()
        settings = definition.settings().model_copy(
            update={"database_url": url, "nats_url": nats.url, **settings_overrides}
        )
        runtime = Runtime(definition, settings)
        relay_task = None
        try:
            await runtime.connect_bus()
            from crm_common.bus.outbox import OutboxRelay

            assert runtime.js is not None
            runtime.relay = OutboxRelay(
                db=runtime.db, outbox=definition.outbox, js=runtime.js, libpq_url=runtime.libpq_url(),
                poll_seconds=0.2,
            )
            relay_task = asyncio.create_task(runtime.relay.run())
            yield runtime
        finally:
            if runtime.relay is not None:
                runtime.relay.stop()
            if relay_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(relay_task, 5)
            await runtime.close()
            nats.stop()

    return factory


@pytest.fixture
def as_role() -> Callable[..., AbstractContextManager[Principal | None]]:
    """Factory: `with as_role(Role.SALES_REP, rep_id=...)` runs a servicer called directly as that user.

    Served calls get their principal from the verified token; a servicer method called in-process has none
    unless a test says who is calling (in-process servers need a token: `crm_common.grpc_client.channel_as`).
    """

    def factory(
        role: Role, *, rep_id: str | None = None, team_ids: tuple[str, ...] = (), subject: str | None = None
    ) -> AbstractContextManager[Principal | None]:
        return acting_as(user_principal(role, rep_id=rep_id, team_ids=team_ids, subject=subject))

    return factory
