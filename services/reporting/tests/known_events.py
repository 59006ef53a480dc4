"""A known sequence of lead and pipeline events, and the figures its reports must show (computed by hand)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from google.protobuf.message import Message

from crm.events.v1 import lead_events_pb2 as lead
from crm.events.v1 import pipeline_events_pb2 as pipe
from reporting.convert import to_timestamp

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2025, 3, 2, tzinfo=SHANGHAI)  # every lead of the story is captured on this day unless said


@dataclass
class Story:
    """The ids of one run of the story (fresh per test, so runs never see each other's rows)."""

    t1: str
    t2: str
    r1: str
    r2: str
    r3: str
    pipeline: str
    leads: dict[str, str]
    opps: dict[str, str]
    events: list[tuple[str, Message]]


def _ts(at: datetime):
    return to_timestamp(at)


def story() -> Story:
    """Leads L1..L6 and opportunities O1..O3 (see test_reports.py for what each one is)."""
    ids = {k: uuid.uuid4().hex[:10] for k in ("t1", "t2", "r1", "r2", "r3", "pipeline")}
    L = {f"L{i}": str(uuid.uuid4()) for i in range(1, 7)}
    opps = {f"O{i}": str(uuid.uuid4()) for i in range(1, 4)}
    t1, t2, r1, r2, r3, p = (ids[k] for k in ("t1", "t2", "r1", "r2", "r3", "pipeline"))
    h = timedelta(hours=1)
    s = timedelta(seconds=1)
    c1, c2, c3 = DAY + 10 * h, DAY + 11 * h, DAY + 12 * h
    c4, c6 = DAY + 34 * h, datetime(2025, 1, 15, 9, tzinfo=SHANGHAI)
    c5 = datetime(2025, 2, 28, 9, tzinfo=SHANGHAI)
    ev: list[tuple[str, Message]] = [
        # L1: web/GD/retail, assigned after 60 s to R1 (T1), claimed after 30 min, contacted after 1 h.
        (
            "crm.lead.captured",
            lead.LeadCaptured(
                lead_id=L["L1"], channel="web", province="GD", industry="retail", customer_id="c1", captured_at=_ts(c1)
            ),
        ),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(
                lead_id=L["L1"],
                assignee_id=r1,
                team_id=t1,
                channel="web",
                captured_at=_ts(c1),
                assigned_at=_ts(c1 + 60 * s),
            ),
        ),
        ("crm.lead.claimed", lead.LeadClaimed(lead_id=L["L1"], rep_id=r1, claimed_at=_ts(c1 + 1800 * s))),
        (
            "crm.lead.contacted",
            lead.LeadContacted(lead_id=L["L1"], rep_id=r1, first_contact=True, contacted_at=_ts(c1 + h)),
        ),
        # L2: assigned after 120 s to R2, never claimed: the claim window lapses, back to the pool, then to R1.
        (
            "crm.lead.captured",
            lead.LeadCaptured(lead_id=L["L2"], channel="web", province="GD", industry="retail", captured_at=_ts(c2)),
        ),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L2"], assignee_id=r2, team_id=t1, assigned_at=_ts(c2 + 120 * s)),
        ),
        ("crm.lead.escalated", lead.LeadEscalated(lead_id=L["L2"], rep_id=r2, kind="claim_window", at=_ts(c2 + h))),
        ("crm.lead.returned_to_pool", lead.LeadReturnedToPool(lead_id=L["L2"], rep_id=r2, at=_ts(c2 + 2 * h))),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L2"], assignee_id=r1, team_id=t1, assigned_at=_ts(c2 + 3 * h)),
        ),
        # L3: phone/BJ, no industry, assigned after 300 s to R3 (T2) and again after 400 s without a return.
        ("crm.lead.captured", lead.LeadCaptured(lead_id=L["L3"], channel="phone", province="BJ", captured_at=_ts(c3))),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L3"], assignee_id=r3, team_id=t2, assigned_at=_ts(c3 + 300 * s)),
        ),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L3"], assignee_id=r3, team_id=t2, assigned_at=_ts(c3 + 400 * s)),
        ),
        ("crm.lead.claimed", lead.LeadClaimed(lead_id=L["L3"], rep_id=r3, claimed_at=_ts(c3 + 600 * s))),
        # L4 the next day, L5 in February, L6 in January and never touched since.
        ("crm.lead.captured", lead.LeadCaptured(lead_id=L["L4"], channel="web", captured_at=_ts(c4))),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L4"], assignee_id=r1, team_id=t1, assigned_at=_ts(c4 + 10 * s)),
        ),
        ("crm.lead.captured", lead.LeadCaptured(lead_id=L["L5"], channel="web", captured_at=_ts(c5))),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L5"], assignee_id=r1, team_id=t1, assigned_at=_ts(c5 + 10 * s)),
        ),
        ("crm.lead.captured", lead.LeadCaptured(lead_id=L["L6"], channel="web", captured_at=_ts(c6))),
        (
            "crm.lead.assigned",
            lead.LeadAssigned(lead_id=L["L6"], assignee_id=r1, team_id=t1, assigned_at=_ts(c6 + 10 * s)),
        ),
    ]
    o1, o2, o3 = DAY + 20 * h, DAY + 21 * h, DAY + 22 * h
    ev += [
        # O1 (from L1): needs_analysis done in qualify, demo left without demo_done, won.
        (
            "crm.pipeline.opportunity_opened",
            pipe.OpportunityOpened(
                opportunity_id=opps["O1"], lead_id=L["L1"], owner_id=r1, stage="qualify", opened_at=_ts(o1)
            ),
        ),
        (
            "crm.pipeline.action_completed",
            pipe.ActionCompleted(opportunity_id=opps["O1"], stage="qualify", action="needs_analysis", at=_ts(o1 + h)),
        ),
        (
            "crm.pipeline.stage_changed",
            pipe.StageChanged(
                opportunity_id=opps["O1"],
                pipeline=p,
                from_stage="qualify",
                to_stage="demo",
                status="open",
                owner_id=r1,
                team_id=t1,
                at=_ts(o1 + 2 * h),
            ),
        ),
        (
            "crm.pipeline.stage_changed",
            pipe.StageChanged(
                opportunity_id=opps["O1"],
                pipeline=p,
                from_stage="demo",
                to_stage="won",
                status="won",
                owner_id=r1,
                team_id=t1,
                at=_ts(o1 + 3 * h),
            ),
        ),
        # O2 (from L2): qualify left without needs_analysis, demo_done in demo, lost.
        (
            "crm.pipeline.opportunity_opened",
            pipe.OpportunityOpened(
                opportunity_id=opps["O2"], lead_id=L["L2"], owner_id=r1, stage="qualify", opened_at=_ts(o2)
            ),
        ),
        (
            "crm.pipeline.stage_changed",
            pipe.StageChanged(
                opportunity_id=opps["O2"],
                pipeline=p,
                from_stage="qualify",
                to_stage="demo",
                status="open",
                owner_id=r1,
                team_id=t1,
                at=_ts(o2 + h),
            ),
        ),
        (
            "crm.pipeline.action_completed",
            pipe.ActionCompleted(opportunity_id=opps["O2"], stage="demo", action="demo_done", at=_ts(o2 + 2 * h)),
        ),
        (
            "crm.pipeline.stage_changed",
            pipe.StageChanged(
                opportunity_id=opps["O2"],
                pipeline=p,
                from_stage="demo",
                to_stage="lost",
                status="lost",
                owner_id=r1,
                team_id=t1,
                at=_ts(o2 + 3 * h),
            ),
        ),
        # O3 (no lead): needs_analysis done only after it left qualify; in demo now, no demo_done.
        (
            "crm.pipeline.opportunity_opened",
            pipe.OpportunityOpened(opportunity_id=opps["O3"], owner_id=r3, stage="qualify", opened_at=_ts(o3)),
        ),
        (
            "crm.pipeline.stage_changed",
            pipe.StageChanged(
                opportunity_id=opps["O3"],
                pipeline=p,
                from_stage="qualify",
                to_stage="demo",
                status="open",
                owner_id=r3,
                team_id=t2,
                at=_ts(o3 + h),
            ),
        ),
        (
            "crm.pipeline.action_completed",
            pipe.ActionCompleted(
                opportunity_id=opps["O3"], stage="qualify", action="needs_analysis", at=_ts(o3 + 2 * h)
            ),
        ),
    ]
    # Stays in qualify's "calling" of 1, 2 and 3 hours (O1's first entry into it ends no stay).
    ev += [
        ("crm.pipeline.sub_state_changed", pipe.SubStateChanged(opportunity_id=opps["O1"], stage="qualify",
                                                                to_sub_state="calling", at=_ts(o1))),
    ] + [
        ("crm.pipeline.sub_state_changed", pipe.SubStateChanged(
            opportunity_id=opps[o], stage="qualify", from_sub_state="calling", to_sub_state="waiting",
            seconds_in_sub_state=3600.0 * n, at=_ts(start + n * h)))
        for n, (o, start) in enumerate((("O1", o1), ("O2", o2), ("O3", o3)), start=1)
    ]
    return Story(t1=t1, t2=t2, r1=r1, r2=r2, r3=r3, pipeline=p, leads=L, opps=opps, events=ev)
