"""The hops of a lead's journey with none of our logic: HTTP → gRPC → PostgreSQL insert → JetStream → consumer.

Each hop is a process of its own, like the real services: a bare ASGI app on uvicorn (uvloop, httptools, no
access log), a bare grpc.aio server that inserts one row and publishes one JetStream message, and a durable
pull consumer that acks it and announces the chain's end on core NATS (`bare.done`) for the load generator.

`python -m tools.bench.bare_chain` measures it alone, on a PostgreSQL and a NATS of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from tools.bench.company_names import company_name, person_name, variant
from tools.devstack.infra import NatsServer, PostgresServer
from tools.devstack.procs import ChildProcess, free_port, log_tail, stop_all
from tools.devstack.stack import REPO_ROOT

from .loadgen import EventTap, LoadGenerator, Plan, PlanResult, Target, run_plan

logger = logging.getLogger(__name__)

STREAM = "BARE"
SUBJECT = "bare.chain"
DONE_SUBJECT = "bare.done"
DURABLE = "bare-consumer"
SERVICE = "crm.bench.v1.BareChain"
METHOD = f"/{SERVICE}/Capture"
PATH = "/bare"
DEADLINE_SECONDS = 5.0
HOPS = ("bare-http", "bare-grpc", "bare-consumer")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# A share of leads come back from a company captured before, written another way (fuzzy match at capture).
RETURNING_SHARE = 0.2


def _company_of(seq: int) -> str:
    return company_name(random.Random(f"company-{seq}"))


def lead_form_body(seq: int) -> bytes:
    """The JSON a web form posts for the seq-th lead.

    A unique mainland mobile, a Chinese personal name, and a company in the shape of real Chinese names: new in
    most leads; in RETURNING_SHARE of them (after the first 50) an earlier lead's company written another way.
    """
    rng = random.Random(seq)
    returning = seq >= 50 and rng.random() < RETURNING_SHARE
    company = variant(_company_of(rng.randrange(seq)), rng) if returning else _company_of(seq)
    return json.dumps(
        {
            "name": person_name(rng),
            "phone": f"+86 139{seq:08d}",
            "company": company,
            "source": {"channel": "web_form"},
        },
        ensure_ascii=False,
    ).encode()


def done_id(data: bytes) -> str:
    """The chain id a `bare.done` message carries."""
    return data.decode()


# ---- hop 1: HTTP ---------------------------------------------------------------------------------


class BareEdge:
    """A bare ASGI app: POST /bare parses the JSON, calls the gRPC hop with a deadline, answers {"id": ...}."""

    def __init__(self, grpc_addr: str) -> None:
        self.grpc_addr = grpc_addr
        self._channel: Any = None
        self._capture: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        import grpc

        from crm.lead.v1 import lead_pb2

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._channel = grpc.aio.insecure_channel(self.grpc_addr)
                self._capture = self._channel.unary_unary(
                    METHOD,
                    request_serializer=lead_pb2.CaptureLeadRequest.SerializeToString,
                    response_deserializer=lead_pb2.CaptureLeadResponse.FromString,
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._channel.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        import grpc

        from crm.lead.v1 import lead_pb2

        if scope["path"] == "/readyz":
            await _respond(send, 200, b'{"status":"ready"}')
            return
        if scope["method"] != "POST" or scope["path"] != PATH:
            await _respond(send, 404, b'{"title":"not found"}')
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            data = json.loads(body)
            lead = lead_pb2.LeadInput(
                name=data["name"],
                phone=data["phone"],
                company=data.get("company", ""),
                source=lead_pb2.Source(channel=data["source"]["channel"]),
            )
        except (ValueError, KeyError, TypeError) as err:
            await _respond(send, 422, json.dumps({"title": "invalid body", "detail": str(err)}).encode())
            return
        try:
            reply = await self._capture(lead_pb2.CaptureLeadRequest(lead=lead), timeout=DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as err:
            await _respond(send, 502, json.dumps({"title": err.code().name, "detail": err.details()}).encode())
            return
        await _respond(send, 201, json.dumps({"id": reply.lead.id}).encode())


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve_http(port: int, grpc_addr: str) -> None:
    import uvicorn

    uvicorn.run(
        BareEdge(grpc_addr),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


# ---- hop 2: gRPC → PostgreSQL → JetStream ----------------------------------------------------------


async def serve_grpc(port: int, postgres_url: str, nats_url: str) -> None:
    import grpc
    import nats
    from psycopg_pool import AsyncConnectionPool

    from crm.lead.v1 import lead_pb2

    pool = AsyncConnectionPool(postgres_url, min_size=8, max_size=8, kwargs={"autocommit": True}, open=False)
    await pool.open(wait=True)
    nc = await nats.connect(nats_url, name="bare-grpc")
    js = nc.jetstream()

    async def capture(request: Any, context: Any) -> Any:
        lead_id = uuid.uuid4()
        async with pool.connection() as conn:
            await conn.execute("INSERT INTO bare (id, body, at) VALUES (%s, %s, now())", (lead_id, request.lead.phone))
        lead = lead_pb2.Lead(id=str(lead_id), input=request.lead)
        await js.publish(SUBJECT, lead.SerializeToString(), stream=STREAM, headers={"Nats-Msg-Id": str(lead_id)})
        return lead_pb2.CaptureLeadResponse(lead=lead, created=True)

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Capture": grpc.unary_unary_rpc_method_handler(
                capture,
                request_deserializer=lead_pb2.CaptureLeadRequest.FromString,
                response_serializer=lead_pb2.CaptureLeadResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await _until_stopped()
    await server.stop(1.0)
    await nc.close()
    await pool.close()


# ---- hop 3: JetStream consumer ---------------------------------------------------------------------


async def consume(nats_url: str) -> None:
    import nats
    from nats.errors import TimeoutError as NatsTimeoutError

    from crm.lead.v1 import lead_pb2

    nc = await nats.connect(nats_url, name="bare-consumer")
    js = nc.jetstream()
    sub = await js.pull_subscribe(SUBJECT, durable=DURABLE, stream=STREAM)
    stopping = asyncio.ensure_future(_until_stopped())
    while not stopping.done():
        try:
            msgs = await sub.fetch(64, timeout=1.0)
        except (NatsTimeoutError, TimeoutError):
            continue
        for msg in msgs:
            lead = lead_pb2.Lead.FromString(msg.data)
            await msg.ack()
            await nc.publish(DONE_SUBJECT, lead.id.encode())
    await nc.close()


async def _until_stopped() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()


# ---- the chain as a whole --------------------------------------------------------------------------


async def _prepare(postgres_url: str, nats_url: str) -> None:
    """A fresh table, stream and durable consumer (what migrations and stream declarations do for us)."""
    import nats
    import psycopg
    from nats.js import api
    from nats.js.errors import NotFoundError

    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute("DROP TABLE IF EXISTS bare")
        await conn.execute("CREATE TABLE bare (id uuid PRIMARY KEY, body text NOT NULL, at timestamptz NOT NULL)")
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            await js.delete_stream(STREAM)
        except NotFoundError:
            pass
        await js.add_stream(
            api.StreamConfig(
                name=STREAM,
                subjects=[SUBJECT],
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                duplicate_window=600.0,
            )
        )
        await js.add_consumer(
            STREAM,
            api.ConsumerConfig(
                durable_name=DURABLE,
                ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL,
                max_deliver=5,
                ack_wait=30,
                max_ack_pending=2000,
                filter_subject=SUBJECT,
            ),
        )
    finally:
        await nc.close()


class BareChain:
    """The three hop processes on a given PostgreSQL and NATS; logs under workdir/logs."""

    def __init__(self, workdir: Path, postgres_url: str, nats_url: str) -> None:
        self.workdir = Path(workdir)
        self.postgres_url = postgres_url
        self.nats_url = nats_url
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.procs: dict[str, ChildProcess] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def __enter__(self) -> BareChain:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        asyncio.run(_prepare(self.postgres_url, self.nats_url))
        me = [sys.executable, "-m", "tools.bench.bare_chain"]
        argvs = {
            "bare-grpc": [*me, "grpc", str(self.grpc_port), self.postgres_url, self.nats_url],
            "bare-http": [*me, "http", str(self.http_port), f"127.0.0.1:{self.grpc_port}"],
            "bare-consumer": [*me, "consume", self.nats_url],
        }
        for name, argv in argvs.items():
            proc = ChildProcess(name, argv, log_path=self.workdir / "logs" / f"{name}.log", cwd=REPO_ROOT)
            self.procs[name] = proc
            proc.start()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.procs.items():
                if not proc.running:
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{log_tail(proc.log_path)}")
            if _accepts(self.grpc_port) and _http_ready(f"{self.url}/readyz"):
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"{n}:\n{log_tail(p.log_path)}" for n, p in self.procs.items())
                raise RuntimeError(f"bare chain not ready within {timeout:.0f} s\n{tails}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_all([(proc, signal.SIGTERM) for proc in self.procs.values()], 5.0)

    def pids(self) -> dict[str, int | None]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def target(self) -> Target:
        return Target.at(self.url, PATH, lead_form_body)

    def tap(self) -> EventTap:
        return EventTap(self.nats_url, (("done", DONE_SUBJECT, done_id),), final="done")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def measure(
    loadgen: LoadGenerator,
    workdir: Path,
    postgres: PostgresServer | None,
    nats: NatsServer | None,
    plan: Plan,
    *,
    postgres_url: str | None = None,
    nats_url: str | None = None,
) -> PlanResult:
    """Run the plan through the bare chain on the given servers (or URLs); CPU is counted per process."""
    pg_url = postgres_url or (postgres.libpq_url if postgres else "")
    nats_url = nats_url or (nats.url if nats else "")
    with BareChain(workdir, pg_url, nats_url) as chain:
        pids: dict[str, int | None] = {**chain.pids()}
        pids["postgres"] = postgres.pid if postgres else None
        pids["nats"] = nats.pid if nats else None
        return run_plan(loadgen, chain.target(), chain.tap(), plan, pids)


def start_infra(workdir: Path) -> tuple[PostgresServer, NatsServer]:
    """A throw-away PostgreSQL (non-durable, as the dev stack runs it) and NATS with JetStream."""
    postgres = PostgresServer(workdir / "postgres")
    nats = NatsServer(workdir / "nats")
    postgres.start()
    try:
        nats.start()
    except BaseException:
        postgres.stop()
        raise
    return postgres, nats


def _main(argv: list[str]) -> None:
    if argv and argv[0] in ("http", "grpc", "consume"):
        _run_hop(argv)
        return
    from .lead_throughput import plan_arguments, plan_from, print_plan

    parser = argparse.ArgumentParser(prog="python -m tools.bench.bare_chain", description=__doc__)
    plan_arguments(parser)
    args = parser.parse_args(argv)
    plan = plan_from(args)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="crm-bench-bare-") as tmp:
        workdir = Path(tmp)
        postgres, nats = start_infra(workdir)
        try:
            with LoadGenerator() as loadgen:
                result = measure(loadgen, workdir, postgres, nats, plan)
        finally:
            nats.stop()
            postgres.stop()
    print_plan("bare chain", result, plan)


def _run_hop(argv: list[str]) -> None:
    kind, args = argv[0], argv[1:]
    if kind == "http":
        serve_http(int(args[0]), args[1])
        return
    import uvloop

    uvloop.install()
    if kind == "grpc":
        asyncio.run(serve_grpc(int(args[0]), args[1], args[2]))
    else:
        asyncio.run(consume(args[0]))


if __name__ == "__main__":
    _main(sys.argv[1:])
