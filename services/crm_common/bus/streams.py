"""Declare the JetStream streams idempotently (every service does it at start, and so can a deploy job)."""

from __future__ import annotations

import logging

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
