"""Routing's RPCs: rules (put, list, validate, publish), dry runs, explanations."""

from __future__ import annotations

from typing import Any

import grpc

from crm.lead.v1 import lead_pb2
from lead import access
from lead.routing import repository as routing_repo
from lead.routing import rules_admin
from lead.rpc import RoomHandlers


class RoutingHandlers(RoomHandlers):
    """Routing's RPCs: mixed into LeadServicer, which checks access before each."""

    async def PutRoutingRule(self, request: lead_pb2.PutRoutingRuleRequest, context: grpc.aio.ServicerContext) -> Any:
        rule = await rules_admin.put_rule(self.runtime, request.rule, "PutRoutingRule")
        return lead_pb2.PutRoutingRuleResponse(rule=rules_admin.rule_message(rule))

    async def ListRoutingRules(
        self, request: lead_pb2.ListRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await routing_repo.list_rules(conn)
            version = await routing_repo.live_version(conn)
        return lead_pb2.ListRoutingRulesResponse(rules=[rules_admin.rule_message(r) for r in rows], version=version)

    async def ValidateRoutingRules(
        self, request: lead_pb2.ValidateRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self.runtime.db.connect() as conn:
            problems = await rules_admin.validate(conn, list(request.rules))
        return lead_pb2.ValidateRoutingRulesResponse(problems=problems)

    async def PublishRoutingRules(
        self, request: lead_pb2.PublishRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        version, rows = await rules_admin.publish(
            self.runtime, list(request.rules), request.expected_version, request.published_by.strip()[:200]
        )
        return lead_pb2.PublishRoutingRulesResponse(version=version, rules=[rules_admin.rule_message(r) for r in rows])

    async def DryRunRouting(self, request: lead_pb2.DryRunRoutingRequest, context: grpc.aio.ServicerContext) -> Any:
        return await rules_admin.dry_run(self.runtime, request)

    async def ExplainRouting(self, request: lead_pb2.ExplainRoutingRequest, context: grpc.aio.ServicerContext) -> Any:
        lead = await self._load(request.lead_id)
        access.readable(lead)
        async with self.runtime.db.connect() as conn:
            rows = await routing_repo.list_decisions(conn, lead_id=lead.id)
        return lead_pb2.ExplainRoutingResponse(decisions=[rules_admin.decision_message(r) for r in rows])
