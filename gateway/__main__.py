"""`python -m gateway`: serve the REST edge with uvicorn (uvloop, httptools), metrics on their own port."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn
from pydantic import ValidationError
from pydantic_settings import SettingsError

from crm_common.logs import setup_logging
from crm_common.metrics import start_metrics_server
from crm_common.telemetry import setup_telemetry, shutdown_telemetry
from gateway.core.config import GatewaySettings, get_settings
from gateway.core.lead_trace import LeadTraceContext
from gateway.main import create_app

log = logging.getLogger("gateway")


def _describe(loc: tuple[int | str, ...], message: str) -> str:
    """`("api_keys", 0, "role")` -> `CRM_API_KEYS[0].role: <message>`."""
    message = message.removeprefix("Value error, ")
    if not loc:
        return message
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return f"CRM_{str(loc[0]).upper()}{path}: {message}"


def load_settings() -> GatewaySettings:
    """The settings, or an exit naming each bad CRM_* variable (never echoing its value)."""
    try:
        return get_settings()
    except ValidationError as err:
        problems = [_describe(e["loc"], e["msg"]) for e in err.errors(include_input=False, include_url=False)]
        raise SystemExit("gateway: invalid configuration: " + "; ".join(problems)) from None
    except SettingsError as err:
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        raise SystemExit(f"gateway: invalid configuration: {err}{cause}") from None


def _stopped(signum: int, _frame: FrameType | None) -> None:
    log.info("gateway stopped by %s", signal.Signals(signum).name)


def main() -> None:
    settings = load_settings()
    setup_logging("gateway", settings.log_level)
    setup_telemetry("gateway")
    metrics_port = start_metrics_server(settings.metrics_port)
    app = create_app(settings)
    log.info("gateway serving HTTP on %d, metrics on %d", settings.http_port, metrics_port,
             extra={"http_port": settings.http_port, "metrics_port": metrics_port})
    # uvicorn re-raises the stop signal after its graceful shutdown; a handler of ours instead of the
    # default one lets the process flush its last spans and exit 0, as the gRPC services do.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    try:
        uvicorn.run(
            LeadTraceContext(app),
            host="0.0.0.0",
            port=settings.http_port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        shutdown_telemetry()


if __name__ == "__main__":
    main()
