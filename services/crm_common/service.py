"""The process around a service's domain: settings, telemetry, database, bus, gRPC server, health, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import grpc
import nats
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.client import RawCredentials
from nats.js import JetStreamContext
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.consumer import ConsumerSpec, DurableConsumer
from crm_common.bus.outbox import OutboxRelay, stage_event
from crm_common.bus.streams import ensure_streams
from crm_common.bus.tables import inbox_table, outbox_table
from crm_common.db import Database, async_url
from crm_common.grpc_client import open_channel
from crm_common.grpc_server import GrpcServer
from crm_common.identity import acting_as, outgoing_principal, service_principal
from crm_common.logs import setup_logging
from crm_common.metrics import DEPENDENCY_UP, start_metrics_server
from crm_common.migrations import current_revision, head_revision, upgrade_to_head
from crm_common.settings import PeerAddresses, ServiceSettings
from crm_common.telemetry import setup_telemetry, shutdown_telemetry

log = logging.getLogger(__name__)
StubT = TypeVar("StubT")


@dataclass
class ServiceDefinition:
    """What makes a process one particular service."""

    name: str
    schema: str
    grpc_services: list[str]
    metadata: MetaData
    migrations_dir: Path
    settings: Callable[[], ServiceSettings]
    # Largest request the gRPC server accepts (pipeline's evidence documents need more than the default).
    max_message_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        # Every service keeps its own outbox and inbox in its schema.
        if f"{self.schema}.outbox" not in self.metadata.tables:
            outbox_table(self.metadata)
            inbox_table(self.metadata)

    @property
    def outbox(self) -> Table:
        return self.metadata.tables[f"{self.schema}.outbox"]

    @property
    def inbox(self) -> Table:
        return self.metadata.tables[f"{self.schema}.inbox"]


@dataclass
class Wiring:
    """What a service's build function hands back: servicers, consumers and background loops."""

    register: Callable[[grpc.aio.Server], None]
    consumers: list[ConsumerSpec] = field(default_factory=list)
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class Runtime:
    """Connections a service's handlers use; built once per process (or per test)."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.db = Database(
            settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        self.peers = PeerAddresses()
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self.relay: OutboxRelay | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[tuple[Callable[[grpc.aio.Channel], Any], str], Any] = {}
        self._head: str | None = None

    async def connect_bus(self) -> None:
        """Connect to NATS (reconnecting forever) and declare the streams."""

        async def _disconnected() -> None:
            DEPENDENCY_UP.labels("nats").set(0)

        async def _reconnected() -> None:
            DEPENDENCY_UP.labels("nats").set(1)

        self.nc = await nats.connect(
            servers=[s.strip() for s in self.settings.nats_url.split(",")],
            name=self.definition.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            drain_timeout=3,
            disconnected_cb=_disconnected,
            reconnected_cb=_reconnected,
            user_credentials=RawCredentials(self.settings.nats_credentials) if self.settings.nats_credentials else None,
        )
        self.js = self.nc.jetstream(timeout=5)
        await ensure_streams(self.js)

    async def stage(self, conn: AsyncConnection, subject: str, message: Message, *, event_id: str | None = None) -> str:
        """Write an event to this service's outbox inside the caller's transaction."""
        return await stage_event(conn, self.definition.outbox, subject, message, event_id=event_id)

    def channel(self, address: str) -> grpc.aio.Channel:
        """A shared channel to a peer service; each call carries this service's identity (and its user's)."""
        if address not in self._channels:
            name = self.definition.name
            self._channels[address] = open_channel(
                address, caller=lambda: outgoing_principal(name), settings=self.settings
            )
        return self._channels[address]

    def stub(self, factory: Callable[[grpc.aio.Channel], StubT], address: str) -> StubT:
        """A shared stub on the shared channel to a peer (a stub builds a callable per method: once, not per call)."""
        key = (factory, address)
        found = self._stubs.get(key)
        if found is None:
            found = self._stubs[key] = factory(self.channel(address))
        return cast(StubT, found)

    def libpq_url(self) -> str:
        """The database URL in libpq form (for LISTEN/NOTIFY over plain psycopg)."""
        url = make_url(async_url(self.settings.database_url))
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def ready(self) -> bool:
        """Database answers, NATS is connected and the schema is at the migration head."""
        db_ok = await self.db.ping()
        DEPENDENCY_UP.labels("postgresql").set(int(db_ok))
        nats_ok = bool(self.nc and self.nc.is_connected)
        DEPENDENCY_UP.labels("nats").set(int(nats_ok))
        if not (db_ok and nats_ok):
            return False
        try:
            current = await current_revision(self.db.engine, self.definition.schema)
        except Exception:
            return False
        if self._head is None:  # the scripts do not change while the process runs; reading them costs CPU
            self._head = head_revision(self.definition.migrations_dir)
        return current == self._head

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        await self.db.dispose()


async def serve(
    definition: ServiceDefinition,
    build: Callable[[Runtime], Awaitable[Wiring]],
    *,
    stop_event: asyncio.Event | None = None,
    settings: ServiceSettings | None = None,
) -> None:
    """Run a service until SIGTERM/SIGINT (or stop_event): ready only when its dependencies are."""
    settings = settings or definition.settings()
    setup_logging(definition.name, settings.log_level)
    setup_telemetry(definition.name)
    metrics_port = start_metrics_server(settings.metrics_port)
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    runtime = Runtime(definition, settings)
    await runtime.connect_bus()
    assert runtime.js is not None
    wiring = await build(runtime)
    server = GrpcServer(
        port=settings.grpc_port, service_names=definition.grpc_services, settings=settings,
        max_receive_bytes=definition.max_message_bytes,
    )
    wiring.register(server.server)
    await server.start()

    runtime.relay = OutboxRelay(
        db=runtime.db,
        outbox=definition.outbox,
        js=runtime.js,
        libpq_url=runtime.libpq_url(),
        poll_seconds=settings.outbox_poll_seconds,
    )
    consumers = [
        DurableConsumer(
            spec,
            db=runtime.db,
            inbox=definition.inbox,
            js=runtime.js,
            max_deliver=settings.max_deliver,
            on_committed=runtime.relay.wake,
        )
        for spec in wiring.consumers
    ]
    # Tasks copy the context they are created in: consumers and timers run as the service itself.
    with acting_as(service_principal(definition.name)):
        tasks = [asyncio.create_task(runtime.relay.run(), name="outbox-relay")]
        tasks += [asyncio.create_task(c.run(), name=f"consumer-{c.spec.durable}") for c in consumers]
        tasks += [asyncio.create_task(job(), name=getattr(job, "__name__", "background")) for job in wiring.background]
    log.info(
        "%s serving gRPC on %d, metrics on %d",
        definition.name,
        server.port,
        metrics_port,
        extra={"grpc_port": server.port, "metrics_port": metrics_port},
    )

    async def readiness() -> None:
        was = None
        while True:
            ok = await runtime.ready()
            if ok != was:
                await server.serving(ok)
                log.info("readiness changed", extra={"ready": ok})
                was = ok
            await asyncio.sleep(1.0 if ok else 0.25)

    probe = asyncio.create_task(readiness(), name="readiness")
    await stop.wait()
    log.info("%s shutting down", definition.name)
    probe.cancel()
    for c in consumers:
        c.stop()
    await server.stop(settings.grpc_grace_seconds)
    runtime.relay.stop()
    _done, pending = await asyncio.wait(tasks, timeout=3.0)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await runtime.close()
    shutdown_telemetry()


def main(definition: ServiceDefinition, build: Callable[[Runtime], Awaitable[Wiring]]) -> None:
    """Entry point: `python -m <service>` serves, `python -m <service> migrate` migrates."""
    args = sys.argv[1:]
    settings = definition.settings()
    if args[:1] == ["migrate"]:
        setup_logging(definition.name, settings.log_level)
        upgrade_to_head(definition.migrations_dir, url=settings.database_url, schema=definition.schema)
        log.info("%s migrated to %s", definition.name, head_revision(definition.migrations_dir))
        return
    if args:
        raise SystemExit(f"usage: python -m {definition.name.replace('-', '_')} [migrate]")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(definition, build))
