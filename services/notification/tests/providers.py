"""Stand-ins of the third-party providers on 127.0.0.1, following their documented APIs and error codes.

One Starlette app serves WeCom (gettoken, message/send with its duplicate check, get_api_domain_ip,
group robot webhook/send), DingTalk's signed robot, an SMS gateway that drops repeated `out_id`s, and
a partner webhook that checks signatures and drops repeated Idempotency-Keys. Knobs let a test expire
tokens, put errors inside HTTP 200 answers, slow answers down, rate-limit, and take a provider down.
Mail goes to a real SMTP server (aiosmtpd) on loopback that requires STARTTLS, with a certificate for
127.0.0.1 from a test CA (trustme) the mail channel is given as its `ca_bundle`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import socket
import ssl
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes

import trustme
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CORP_ID = "ww-test-corp"
CORP_SECRET = "wecom-corp-secret-value"
ROBOT_KEY = "wecom-robot-key-value"
DING_TOKEN = "dingtalk-robot-token-value"
DING_SECRET = "SECdingtalk-sign-secret-value"
SMS_API_KEY = "sms-api-key-value"
WEBHOOK_SECRET = "webhook-signing-secret-value"
ROBOT_LIMIT_PER_MINUTE = 20
TEST_CA = trustme.CA()
SMTP_CA_PEM = TEST_CA.cert_pem.bytes().decode()
SMTP_CERT = TEST_CA.issue_cert("127.0.0.1", "localhost")


def smtp_tls_context() -> ssl.SSLContext:
    """The loopback SMTP server's TLS context (its certificate names 127.0.0.1 and localhost)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    SMTP_CERT.configure_cert(context)
    return context


@dataclass
class Received:
    """One message a provider accepted."""

    provider: str
    to: str
    content: str
    key: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class ProviderState:
    """What the stand-ins do and what they received."""

    token_lifetime: int = 7200
    tokens: dict[str, float] = field(default_factory=dict)
    gettoken_calls: int = 0
    down: set[str] = field(default_factory=set)
    slow: dict[str, float] = field(default_factory=dict)
    # Per provider: errors to answer (inside HTTP 200) to the next calls, in order.
    scripted: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    received: list[Received] = field(default_factory=list)
    seen_keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    robot_calls: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invalid_wecom_users: set[str] = field(default_factory=set)

    def expire_tokens(self) -> None:
        """Every issued WeCom token stops working (errcode 42001) before its announced expiry."""
        for token in self.tokens:
            self.tokens[token] = 0.0

    def to(self, provider: str, address: str) -> list[Received]:
        return [r for r in self.received if r.provider == provider and r.to == address]

    def of(self, provider: str) -> list[Received]:
        return [r for r in self.received if r.provider == provider]


async def _gate(state: ProviderState, provider: str) -> Response | dict | None:
    state.calls[provider] += 1
    if provider in state.slow:
        await asyncio.sleep(state.slow[provider])
    if provider in state.down:
        return Response("service unavailable", status_code=503)
    if state.scripted[provider]:
        return state.scripted[provider].popleft()
    return None


def build_app(state: ProviderState) -> Starlette:
    """The stand-in providers as one ASGI app."""

    async def gettoken(request: Request) -> Response:
        state.gettoken_calls += 1
        if "wecom" in state.down:
            return Response("service unavailable", status_code=503)
        if request.query_params.get("corpid") != CORP_ID:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid corpid"})
        if request.query_params.get("corpsecret") != CORP_SECRET:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        token = secrets.token_hex(16)
        state.tokens[token] = time.monotonic() + state.token_lifetime
        return JSONResponse({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": state.token_lifetime})

    def token_error(request: Request) -> JSONResponse | None:
        token = request.query_params.get("access_token", "")
        if not token:
            return JSONResponse({"errcode": 41001, "errmsg": "access_token missing"})
        if token not in state.tokens:
            return JSONResponse({"errcode": 40014, "errmsg": "invalid access_token"})
        if state.tokens[token] < time.monotonic():
            return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def wecom_send(request: Request) -> Response:
        gated = await _gate(state, "wecom")
        if isinstance(gated, Response):
            return gated
        error = token_error(request)
        if error is not None:
            return error
        if gated is not None:
            return JSONResponse(gated)
        payload = await request.json()
        user, content = payload["touser"], payload["text"]["content"]
        if user in state.invalid_wecom_users:
            return JSONResponse({"errcode": 0, "errmsg": "ok", "invaliduser": user, "msgid": ""})
        # Documented duplicate check: the same content to the same user within the interval is dropped.
        dedupe = f"{user}|{content}"
        if payload.get("enable_duplicate_check") and dedupe in state.seen_keys["wecom"]:
            return JSONResponse({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "duplicate"})
        state.seen_keys["wecom"].add(dedupe)
        state.received.append(Received("wecom", user, content))
        return JSONResponse({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": secrets.token_hex(8)})

    async def wecom_probe(request: Request) -> Response:
        if "wecom" in state.down:
            return Response("service unavailable", status_code=503)
        return token_error(request) or JSONResponse({"errcode": 0, "errmsg": "ok", "ip_list": ["127.0.0.1"]})

    def over_robot_limit(name: str) -> bool:
        window = state.robot_calls[name]
        now = time.monotonic()
        while window and window[0] < now - 60:
            window.popleft()
        if len(window) >= ROBOT_LIMIT_PER_MINUTE:
            return True
        window.append(now)
        return False

    async def robot_send(request: Request) -> Response:
        gated = await _gate(state, "wecom_robot")
        if isinstance(gated, Response):
            return gated
        if request.query_params.get("key") != ROBOT_KEY:
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        if gated is not None:
            return JSONResponse(gated)
        if over_robot_limit("wecom_robot"):
            return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
        payload = await request.json()
        mentioned = ",".join(payload["text"].get("mentioned_mobile_list", []))
        state.received.append(Received("wecom_robot", mentioned, payload["text"]["content"]))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def ding_send(request: Request) -> Response:
        gated = await _gate(state, "dingtalk")
        if isinstance(gated, Response):
            return gated
        params = request.query_params
        if params.get("access_token") != DING_TOKEN:
            return JSONResponse({"errcode": 300001, "errmsg": "token is not exist"})
        timestamp = params.get("timestamp", "0")
        expected = base64.b64encode(
            hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        if params.get("sign") != expected or abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
            return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        if gated is not None:
            return JSONResponse(gated)
        if over_robot_limit("dingtalk"):
            return JSONResponse({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
        payload = await request.json()
        mobiles = ",".join(payload.get("at", {}).get("atMobiles", []))
        state.received.append(Received("dingtalk", mobiles, payload["text"]["content"]))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def sms_send(request: Request) -> Response:
        gated = await _gate(state, "sms")
        if isinstance(gated, Response):
            return gated
        if request.headers.get("authorization") != f"Bearer {SMS_API_KEY}":
            return JSONResponse({"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."})
        if gated is not None:
            return JSONResponse(gated)
        payload = await request.json()
        if not str(payload.get("phone", "")).lstrip("+").isdigit():
            return JSONResponse({"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid mobile"})
        out_id = payload.get("out_id", "")
        if out_id and out_id in state.seen_keys["sms"]:
            return JSONResponse({"Code": "OK", "Message": "OK", "BizId": "duplicate-dropped"})
        state.seen_keys["sms"].add(out_id)
        state.received.append(Received("sms", payload["phone"], payload["text"], key=out_id))
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": secrets.token_hex(8)})

    async def sms_account(request: Request) -> Response:
        if "sms" in state.down:
            return Response("service unavailable", status_code=503)
        if request.headers.get("authorization") != f"Bearer {SMS_API_KEY}":
            return JSONResponse({"Code": "InvalidAccessKeyId.NotFound"})
        return JSONResponse({"Code": "OK", "Balance": "1000.00"})

    async def webhook(request: Request) -> Response:
        gated = await _gate(state, "webhook")
        if isinstance(gated, Response):
            return gated
        body = await request.body()
        timestamp = request.headers.get("x-crm-timestamp", "")
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-crm-signature", ""), expected):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if isinstance(gated, dict):
            return JSONResponse(gated, status_code=int(gated.get("status", 500)))
        key = request.headers.get("idempotency-key", "")
        if key in state.seen_keys["webhook"]:
            return JSONResponse({"status": "duplicate"}, status_code=200)
        state.seen_keys["webhook"].add(key)
        payload = json.loads(body)
        state.received.append(Received("webhook", payload["recipient_id"], payload["body"], key=key))
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def echo(request: Request) -> Response:
        # The listener of the issue: answers with everything it was sent, headers (credentials) included.
        state.calls["echo"] += 1
        said = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
        return JSONResponse({"Code": f"<pre>{said}</pre>", "Message": f"<html>{said} {(await request.body()).decode()}</html>"})

    return Starlette(
        routes=[
            Route("/echo/v1/account", echo),
            Route("/echo/v1/sms/send", echo, methods=["POST"]),
            Route("/cgi-bin/gettoken", gettoken),
            Route("/cgi-bin/message/send", wecom_send, methods=["POST"]),
            Route("/cgi-bin/get_api_domain_ip", wecom_probe),
            Route("/cgi-bin/webhook/send", robot_send, methods=["POST"]),
            Route("/robot/send", ding_send, methods=["POST"]),
            Route("/v1/sms/send", sms_send, methods=["POST"]),
            Route("/v1/account", sms_account),
            Route("/hook", webhook, methods=["POST"]),
        ]
    )


class MailSink:
    """aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.accepted_at: list[float] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode())
        for to in envelope.rcpt_tos:
            self.messages.append((to, str(message["Subject"]), str(message["Message-ID"])))
            self.accepted_at.append(time.monotonic())
        return "250 Message accepted for delivery"


@dataclass
class Providers:
    """The running stand-ins: base URL of the HTTP ones, SMTP port, their state."""

    base_url: str
    smtp_port: int
    state: ProviderState
    mail: MailSink


@contextlib.asynccontextmanager
async def running_providers() -> AsyncIterator[Providers]:
    """Start the stand-ins in this event loop on free loopback ports."""
    state, mail = ProviderState(), MailSink()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(build_app(state), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1000):  # uvicorn has no started event; it starts in milliseconds
        if server.started:
            break
        await asyncio.sleep(0.01)
    tls = smtp_tls_context()
    smtp = await asyncio.get_running_loop().create_server(
        lambda: SMTP(mail, hostname="localhost", tls_context=tls, require_starttls=True), "127.0.0.1", 0
    )
    try:
        yield Providers(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            smtp_port=smtp.sockets[0].getsockname()[1],
            state=state,
            mail=mail,
        )
    finally:
        smtp.close()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
