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

from crm_common.bus.catalog import STREAMS

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 600.0
RETENTION_SECONDS = 14 * 24 * 3600.0


async def ensure_streams(js: JetStreamContext) -> None:
    """Create every stream that does not exist yet; existing ones are left as they are."""
    for name, subject in STREAMS.items():
        try:
            await js.stream_info(name)
            continue
        except NotFoundError:
            pass
        config = api.StreamConfig(
            name=name,
            subjects=[subject],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            max_age=RETENTION_SECONDS,
        )
        try:
            await js.add_stream(config)
            log.info("created stream %s for %s", name, subject)
        except BadRequestError as err:  # another replica created it first
            log.debug("stream %s: %s", name, err)


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
        await ensure_streams(js)
        for name in STREAMS:
            info = await js.stream_info(name)
            log.info("stream %s ready: %s", name, ", ".join(info.config.subjects or []))
    finally:
        await nc.drain()


def main() -> None:
    """`python -m crm_common.bus.streams`: declare the streams once (the chart's hook Job runs this)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
    asyncio.run(_declare_from_environment())


if __name__ == "__main__":
    main()
