"""gRPC of the dependency register: PutDependency, ListDependencies (with the notification channels' health)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import grpc
from sqlalchemy import Row

from crm.integration.v1 import integration_pb2
from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.egress import EgressGuard
from crm_common.errors import FieldViolation, InvalidArgument, nul_violations
from crm_common.service import Runtime
from integration_gateway.convert import ts
from integration_gateway.dependencies import repository

log = logging.getLogger(__name__)
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
KINDS = ("wecom", "dingtalk", "sms", "smtp", "webhook", "system", "other")
NOTIFICATION_DEADLINE = 2.0


@dataclass
class DependencyContext:
    guard: EgressGuard


def _entry(row: Row) -> integration_pb2.Dependency:
    return integration_pb2.Dependency(
        name=row.name, kind=row.kind, up=bool(row.up), since=ts(row.since), last_probe_at=ts(row.last_probe_at),
        sla=row.sla, owner=row.owner, detail=row.detail, probed=row.up is not None,
    )


class DependencyHandlers:
    """PutDependency and ListDependencies."""

    runtime: Runtime
    dependencies: DependencyContext

    async def PutDependency(
        self, request: integration_pb2.PutDependencyRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.PutDependencyResponse:
        violations = nul_violations(request)
        if not NAME.match(request.name):
            violations.append(FieldViolation("name", "a lowercase slug (a-z, 0-9, '.', '_', '-'), at most 64"))
        if request.kind not in KINDS:
            violations.append(FieldViolation("kind", f"one of {', '.join(KINDS)}"))
        for field in ("sla", "owner"):
            if len(getattr(request, field)) > 200:
                violations.append(FieldViolation(field, "at most 200 characters"))
        if request.probe_url and not violations:
            problem = await self.dependencies.guard.url_problem(request.probe_url)
            if problem:
                violations.append(FieldViolation("probe_url", problem))
        if violations:
            raise InvalidArgument(violations)
        async with self.runtime.db.transaction() as conn:
            row = await repository.put_dependency(
                conn, name=request.name, kind=request.kind, sla=request.sla.strip(), owner=request.owner.strip(),
                probe_url=request.probe_url.strip(),
            )
        return integration_pb2.PutDependencyResponse(dependency=_entry(row))

    async def ListDependencies(
        self, request: integration_pb2.ListDependenciesRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.ListDependenciesResponse:
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_dependencies(conn)
        entries = {row.name: _entry(row) for row in rows}
        # The channels' health is the notification service's to probe; asked over gRPC, never read by SQL.
        stub = notification_pb2_grpc.NotificationServiceStub(self.runtime.channel(self.runtime.peers.notification_addr))
        try:
            health = await stub.ListChannelHealth(notification_pb2.ListChannelHealthRequest(), timeout=NOTIFICATION_DEADLINE)
        except grpc.aio.AioRpcError as err:
            log.warning("channel health unavailable: %s", err.code().name)
            for entry in entries.values():
                if not entry.probed:
                    entry.detail = f"notification service unavailable ({err.code().name})"
            return integration_pb2.ListDependenciesResponse(dependencies=list(entries.values()))
        for channel in health.channels:
            entry = entries.setdefault(channel.channel, integration_pb2.Dependency(name=channel.channel, kind=channel.kind))
            if entry.probed:
                continue  # the register's own probe of it is the answer
            entry.up = channel.up and not channel.degraded
            entry.detail = channel.detail
            entry.probed = True
            if channel.HasField("checked_at"):
                entry.last_probe_at.CopyFrom(channel.checked_at)
        return integration_pb2.ListDependenciesResponse(dependencies=list(entries.values()))
