"""Who owns what in the sales organisation (a rep's team and manager, a team's calendar), asked of the lead service."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf.json_format import MessageToDict

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.calendar import Calendar, calendar_from_json
from crm_common.identity import acting_as
from crm_common.service import Runtime

log = logging.getLogger(__name__)

# Teams and reps change rarely; a stage change must not wait for the lead service each time.
CACHE_SECONDS = 60.0
CALL_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class OwnerInfo:
    """A rep's team, that team's manager and working calendar (empty when unknown)."""

    team_id: str = ""
    manager_id: str = ""
    calendar: Calendar | None = None


class Directory(Protocol):
    async def owner(self, rep_id: str) -> OwnerInfo: ...


@dataclass
class StaticDirectory:
    """A directory given as data (the benchmark, tests of the domain, a deployment without a lead service)."""

    reps: Mapping[str, OwnerInfo] = field(default_factory=dict)

    async def owner(self, rep_id: str) -> OwnerInfo:
        return self.reps.get(rep_id, OwnerInfo())


class LeadDirectory:
    """Reps and teams from the lead service (ListReps, ListTeams), cached for a minute."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._loaded = 0.0
        self._owners: dict[str, OwnerInfo] = {}

    async def owner(self, rep_id: str) -> OwnerInfo:
        if time.monotonic() - self._loaded > CACHE_SECONDS or (rep_id and rep_id not in self._owners):
            await self._load()
        return self._owners.get(rep_id, OwnerInfo())

    async def _load(self) -> None:
        stub = self.runtime.stub(lead_pb2_grpc.LeadServiceStub, self.runtime.peers.lead_addr)
        try:
            # The service's own question (who is whose manager), not the user's: a rep may not list reps.
            with acting_as(None):
                teams = (await stub.ListTeams(lead_pb2.ListTeamsRequest(), timeout=CALL_TIMEOUT_SECONDS)).teams
                reps = (await stub.ListReps(lead_pb2.ListRepsRequest(), timeout=CALL_TIMEOUT_SECONDS)).reps
        except Exception as err:  # the lead service down: keep what we knew, decide with it
            log.warning("lead service directory unavailable: %s", err)
            self._loaded = time.monotonic() - CACHE_SECONDS + 5
            return
        by_team = {
            t.id: (
                t.manager_id,
                calendar_from_json(MessageToDict(t.calendar, preserving_proto_field_name=True))
                if t.HasField("calendar")
                else None,
            )
            for t in teams
        }
        owners = {}
        for rep in reps:
            manager, calendar = by_team.get(rep.team_id, ("", None))
            owners[rep.id] = OwnerInfo(team_id=rep.team_id, manager_id=manager, calendar=calendar)
        self._owners = owners
        self._loaded = time.monotonic()
