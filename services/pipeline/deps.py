"""What the domain functions of the service need from the process: the runtime, the directory and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crm_common.service import Runtime
from pipeline.directory import Directory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    runtime: Runtime
    directory: Directory
    now: Callable[[], datetime] = field(default=utc_now)
    # Called after a commit that changed a stall due time (wakes the stall worker early).
    on_due_changed: Callable[[], None] | None = None
