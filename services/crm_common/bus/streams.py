"""Declare the JetStream streams idempotently (every service does it at start, and so can a deploy job)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import nats
from nats.aio.client import RawCredentials
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_common.bus.catalog import STREAMS

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 600.0
DAY_SECONDS = 24 * 3600.0
DLQ_STREAM = next(name for name, subject in STREAMS.items() if subject == "crm.dlq.>")


class StreamSettings(BaseSettings):
    """How the streams are kept (CRM_STREAM_*, CRM_DLQ_MAX_AGE_SECONDS); changed values apply at the next declare."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    stream_replicas: int = Field(default=1, ge=1, le=5, description="Copies of each stream (3 on a 3-node cluster)")
    stream_max_bytes: int = Field(
        default=-1, ge=-1, description="Bytes an event stream may hold (-1: no limit); when full, publishing waits"
    )
    stream_max_age_seconds: float = Field(default=14 * DAY_SECONDS, gt=0, description="How long events are kept")
    dlq_max_bytes: int = Field(default=-1, ge=-1, description="Bytes the dead-letter stream may hold (-1: no limit)")
    dlq_max_age_seconds: float = Field(default=90 * DAY_SECONDS, gt=0, description="How long dead letters are kept")


def stream_config(name: str, subject: str, settings: StreamSettings) -> api.StreamConfig:
    """One stream's configuration under `settings` (the dead letters keep their own age and size)."""
    dlq = name == DLQ_STREAM
    max_age = settings.dlq_max_age_seconds if dlq else settings.stream_max_age_seconds
    return api.StreamConfig(
        name=name,
        subjects=[subject],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        # A full stream refuses new events rather than dropping old ones a consumer may not have read yet:
        # the outbox keeps them until there is room (and an alert says the stream is near its limit).
        discard=api.DiscardPolicy.NEW,
        duplicate_window=min(DUPLICATE_WINDOW_SECONDS, max_age),
        max_age=max_age,
        max_bytes=settings.dlq_max_bytes if dlq else settings.stream_max_bytes,
        num_replicas=settings.stream_replicas,
    )


_KEPT = ("max_age", "max_bytes", "num_replicas", "discard", "duplicate_window")


async def ensure_streams(js: JetStreamContext, settings: StreamSettings | None = None, *, update: bool = False) -> None:
    """Create every stream missing under `settings` (the environment's by default); with `update`, bring existing
    ones to them too. Services only create (a service's environment must not undo the streams Job's settings)."""
    settings = settings or StreamSettings()
    for name, subject in STREAMS.items():
        config = stream_config(name, subject, settings)
        try:
            current = (await js.stream_info(name)).config
        except NotFoundError:
            try:
                await js.add_stream(config)
                log.info("created stream %s for %s", name, subject)
            except BadRequestError as err:  # another replica created it first
                log.debug("stream %s: %s", name, err)
            continue
        if update and any(getattr(current, key) != getattr(config, key) for key in _KEPT):
            try:
                await js.update_stream(config)
                log.info("updated stream %s to %s", name, {key: getattr(config, key) for key in _KEPT})
            except BadRequestError as err:  # say, more replicas than the cluster has servers
                log.error("stream %s keeps its configuration: %s", name, err)


async def _declare_from_environment() -> None:
    """Connect with CRM_NATS_URL (and CRM_NATS_CREDENTIALS) and declare every stream."""
    url = os.environ.get("CRM_NATS_URL", "")
    if not url:
        raise SystemExit("CRM_NATS_URL is not set")
    credentials = os.environ.get("CRM_NATS_CREDENTIALS", "")
    nc = await nats.connect(
        servers=[s.strip() for s in url.split(",")],
        name="crm-streams",
        connect_timeout=5,
        max_reconnect_attempts=3,
        user_credentials=RawCredentials(credentials) if credentials else None,
    )
    try:
        js = nc.jetstream(timeout=10)
        await ensure_streams(js, update=True)
        for name in STREAMS:
            info = await js.stream_info(name)
            log.info("stream %s ready: %s", name, ", ".join(info.config.subjects or []))
    finally:
        await nc.drain()


def main() -> None:
    """`python -m crm_common.bus.streams`: declare the streams, applying changed settings (the chart's hook Job)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
    asyncio.run(_declare_from_environment())


if __name__ == "__main__":
    main()
