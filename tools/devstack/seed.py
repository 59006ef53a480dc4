"""Demo data every local stack starts with: one team, three reps, a default round-robin routing rule."""

from __future__ import annotations

from dataclasses import dataclass

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.grpc_client import blocking_channel_as
from crm_common.identity import Role, user_principal
from crm_common.settings import TransportSettings

TEAM_NAME = "Demo East"
REPS = (
    ("王芳", "wang.fang@example.com"),
    ("李强", "li.qiang@example.com"),
    ("Zhang Wei", "zhang.wei@example.com"),
)
# The demo team's manager: the manager key acts as this person (approvals, stall escalations reach them).
MANAGER_ID = "devstack-manager"
RULE_NAME = "default"
RULE_PRIORITY = 1000
DEADLINE_SECONDS = 10.0


@dataclass(frozen=True)
class SeededRep:
    """A rep the seed created (or found)."""

    id: str
    name: str
    email: str
    team_id: str


@dataclass(frozen=True)
class SeedResult:
    """What the seed left in the lead service."""

    team_id: str
    team_name: str
    reps: tuple[SeededRep, ...]
    rule_id: str


DEMO_REP_CAPACITY = 100_000


def seed_demo_data(lead_addr: str, identity_key: str = "") -> SeedResult:
    """Create the demo team, reps and default rule through LeadService, as an admin; reuses what already exists."""
    settings = TransportSettings(environment="development", identity_key=identity_key)
    admin = user_principal(Role.ADMIN, subject="devstack:seed")
    with blocking_channel_as(lead_addr, admin, settings=settings) as channel:
        stub = lead_pb2_grpc.LeadServiceStub(channel)
        teams = stub.ListTeams(lead_pb2.ListTeamsRequest(), timeout=DEADLINE_SECONDS, wait_for_ready=True)
        team = next((t for t in teams.teams if t.name == TEAM_NAME), None)
        if team is None:
            team = stub.CreateTeam(lead_pb2.CreateTeamRequest(name=TEAM_NAME), timeout=DEADLINE_SECONDS).team
        if team.manager_id != MANAGER_ID:
            stub.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=team.id, manager_id=MANAGER_ID), timeout=DEADLINE_SECONDS)

        existing = stub.ListReps(lead_pb2.ListRepsRequest(team_id=team.id), timeout=DEADLINE_SECONDS).reps
        by_name = {rep.name: rep for rep in existing}
        reps = []
        for name, email in REPS:
            rep = by_name.get(name)
            if rep is None:
                request = lead_pb2.CreateRepRequest(name=name, team_id=team.id, email=email)
                rep = stub.CreateRep(request, timeout=DEADLINE_SECONDS).rep
            # The demo team takes demos, tests and benchmarks: its reps must not fill up (default 50 open leads).
            update = lead_pb2.UpdateRepRequest(rep_id=rep.id, capacity=DEMO_REP_CAPACITY)
            stub.UpdateRep(update, timeout=DEADLINE_SECONDS)
            reps.append(SeededRep(id=rep.id, name=rep.name, email=rep.email, team_id=team.id))

        rules = stub.ListRoutingRules(lead_pb2.ListRoutingRulesRequest(), timeout=DEADLINE_SECONDS).rules
        current = next((r for r in rules if r.name == RULE_NAME), None)
        rule = lead_pb2.RoutingRule(
            id=current.id if current is not None else "",
            name=RULE_NAME,
            priority=RULE_PRIORITY,
            team_id=team.id,
            strategy=lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN,
        )
        stored = stub.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=rule), timeout=DEADLINE_SECONDS).rule
    return SeedResult(team_id=team.id, team_name=team.name, reps=tuple(reps), rule_id=stored.id)
