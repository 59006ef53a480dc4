"""The projections' tables, built by one function, so the rebuild can make the same table under a new name."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID


def _ts(name: str, nullable: bool = True) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> Column:
    return Column(name, Integer, nullable=False, server_default=text("0"))


def lead_fact(metadata: MetaData, name: str = "lead_fact") -> Table:
    """One row per lead: its dimensions and the moments and counts of its assignment story."""
    return Table(
        name,
        metadata,
        Column("lead_id", Text, primary_key=True),
        *(Column(c, Text) for c in ("channel", "province", "industry", "customer_id", "team_id", "rep_id")),
        *(
            _ts(c)
            for c in (
                "captured_at",
                "first_assigned_at",
                "assigned_at",
                "claimed_at",
                "first_contact_at",
                "last_touch_at",
            )
        ),
        *(_count(c) for c in ("assignments", "reassignments", "pool_returns", "claim_windows_lapsed")),
        # Reports select by capture window, within a team or a rep's rows.
        Index(f"ix_{name}_captured_at", "captured_at"),
        Index(f"ix_{name}_team_captured_at", "team_id", "captured_at"),
        Index(f"ix_{name}_rep_captured_at", "rep_id", "captured_at"),
    )


def opportunity_fact(metadata: MetaData, name: str = "opportunity_fact") -> Table:
    """One row per opportunity: its lead, owner, team, pipeline, current stage and status."""
    return Table(
        name,
        metadata,
        Column("opportunity_id", Text, primary_key=True),
        *(Column(c, Text) for c in ("lead_id", "customer_id", "owner_id", "team_id", "pipeline", "stage")),
        Column("status", Text, nullable=False, server_default=text("'open'")),
        _ts("opened_at"),
        _ts("closed_at"),
        Index(f"ix_{name}_lead_id", "lead_id"),
        Index(f"ix_{name}_pipeline", "pipeline"),
    )


def stage_visit(metadata: MetaData, name: str = "stage_visit") -> Table:
    """Each stage an opportunity reached: when it first entered and last left it."""
    return Table(
        name,
        metadata,
        Column("opportunity_id", Text, primary_key=True),
        Column("stage", Text, primary_key=True),
        _ts("entered_at", nullable=False),
        _ts("left_at"),
        Index(f"ix_{name}_stage", "stage"),
    )


def stage_action(metadata: MetaData, name: str = "stage_action") -> Table:
    """Each required action done in a stage, first time."""
    return Table(
        name,
        metadata,
        Column("opportunity_id", Text, primary_key=True),
        Column("stage", Text, primary_key=True),
        Column("action", Text, primary_key=True),
        _ts("completed_at", nullable=False),
        Index(f"ix_{name}_stage_action", "stage", "action"),
    )


def sub_state_dwell(metadata: MetaData, name: str = "sub_state_dwell") -> Table:
    """Each stay in a sub-state that ended: how long it lasted, when it ended."""
    return Table(
        name,
        metadata,
        Column("opportunity_id", Text, primary_key=True),
        Column("stage", Text, primary_key=True),
        Column("sub_state", Text, primary_key=True),
        Column("left_at", DateTime(timezone=True), primary_key=True),
        Column("seconds", Float, nullable=False),
        Index(f"ix_{name}_left_at", "left_at"),
    )


PROJECTIONS: dict[str, Callable[..., Table]] = {
    "lead_fact": lead_fact,
    "opportunity_fact": opportunity_fact,
    "stage_visit": stage_visit,
    "stage_action": stage_action,
    "sub_state_dwell": sub_state_dwell,
}


def support_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The last good answer of each question, and the export audit."""
    result = Table(
        "report_result",
        metadata,
        Column("report", Text, primary_key=True),
        Column("question", Text, primary_key=True),
        Column("body", JSONB, nullable=False),
        _ts("as_of", nullable=False),
    )
    audit = Table(
        "export_audit",
        metadata,
        Column("id", UUID(as_uuid=False), primary_key=True),
        *(Column(c, Text, nullable=False) for c in ("report", "format")),
        Column("parameters", JSONB, nullable=False),
        *(Column(c, Text, nullable=False) for c in ("subject", "role", "client", "request_id")),
        Column("rows", Integer, nullable=True),
        Column("exported_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Index("ix_export_audit_exported_at", "exported_at"),
    )
    return result, audit
