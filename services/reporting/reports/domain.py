"""Report questions: their parameters, validated, and whose rows a caller may see; no database."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.identity import Principal, Role

# group_by names → the lead_fact column that carries them; None: the events do not carry it (grouped as null).
DIMENSIONS: dict[str, str | None] = {
    "region": None,
    "province": "province",
    "industry": "industry",
    "size": None,
    "team": "team_id",
    "rep": "rep_id",
    "channel": "channel",
    "campaign": None,
}
# Which parameters each report takes (anything else is refused, so a typo is not silently ignored).
REPORTS: dict[str, frozenset[str]] = {
    "funnel": frozenset({"from", "to", "group_by"}),
    "stage-actions": frozenset({"pipeline"}),
    "stage-action-opportunities": frozenset({"pipeline", "stage", "action"}),
    "assignment-health": frozenset({"date"}),
    "data-health": frozenset({"date"}),
    "kpi": frozenset(),
    "sub-state-dwell": frozenset({"pipeline", "month"}),
}


@dataclass(frozen=True)
class Visibility:
    """Whose rows a report holds: one rep's, some teams', or everyone's (both None)."""

    rep_id: str | None = None
    team_ids: tuple[str, ...] | None = None

    def key(self) -> str:
        return json.dumps({"rep": self.rep_id, "teams": self.team_ids})


def visibility_of(principal: Principal) -> Visibility:
    """A rep sees their own rows, a manager their teams' rows, the other readers everything."""
    if principal.role is Role.SALES_REP:
        return Visibility(rep_id=principal.rep_id or principal.subject)
    if principal.role is Role.MANAGER:
        return Visibility(team_ids=tuple(principal.team_ids))
    return Visibility()


@dataclass(frozen=True)
class Question:
    """One report with its parameters, resolved to instants in the report time zone."""

    report: str
    parameters: Mapping[str, str]
    visibility: Visibility
    zone: ZoneInfo
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def key(self) -> str:
        """Identifies the question for the last-good-answer cache (the same parameters, the same rows)."""
        return json.dumps(dict(sorted(self.parameters.items()))) + self.visibility.key()

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(), self.zone)

    def today(self) -> date:
        return self.now.astimezone(self.zone).date()


def _date(parameters: Mapping[str, str], name: str) -> date | None:
    raw = parameters.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidArgument([FieldViolation(name, "must be a date, YYYY-MM-DD")]) from None


def month_of(parameters: Mapping[str, str], today: date) -> date:
    """The first day of the `month` parameter (YYYY-MM), else of the current month."""
    raw = parameters.get("month")
    if not raw:
        return today.replace(day=1)
    try:
        first = date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise InvalidArgument([FieldViolation("month", "must be a month, YYYY-MM")]) from None
    if first.year > 9998:
        raise InvalidArgument([FieldViolation("month", "must be before 9999-01")])
    return first


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def date_range(question: Question) -> tuple[datetime, datetime]:
    """[from, to] dates as instants [start of from, start of the day after to); default the current month."""
    start = _date(question.parameters, "from")
    end = _date(question.parameters, "to")
    today = question.today()
    start = start or today.replace(day=1)
    end = end or next_month(start) - timedelta(days=1)
    if end < start:
        raise InvalidArgument([FieldViolation("to", "must not be before from")])
    if end >= date.max - timedelta(days=1):
        raise InvalidArgument([FieldViolation("to", "must be before 9999-12-31")])
    return question.day_start(start), question.day_start(end + timedelta(days=1))


def day_of(question: Question) -> date:
    """The `date` parameter, else today in the report time zone."""
    day = _date(question.parameters, "date") or question.today()
    if day >= date.max - timedelta(days=1) or day <= date.min + timedelta(days=31):
        raise InvalidArgument([FieldViolation("date", "must be between 0001-02-01 and 9999-12-30")])
    return day


def group_by(parameters: Mapping[str, str]) -> list[str]:
    """The funnel's grouping dimensions, each one of DIMENSIONS, in the order asked."""
    names = [n.strip() for n in parameters.get("group_by", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise InvalidArgument(
            [FieldViolation("group_by", f"unknown dimension {unknown[0]!r}; one of " + ", ".join(DIMENSIONS))]
        )
    return list(dict.fromkeys(names))


def validate(report: str, parameters: Mapping[str, str]) -> None:
    """The report exists and takes every parameter given."""
    if report not in REPORTS:
        raise InvalidArgument([FieldViolation("report", "unknown report; one of " + ", ".join(REPORTS))])
    extra = sorted(set(parameters) - REPORTS[report])
    if extra:
        raise InvalidArgument([FieldViolation(extra[0], f"not a parameter of the {report} report")])
    for name, value in parameters.items():
        if len(value) > 200:
            raise InvalidArgument([FieldViolation(name, "must be at most 200 characters")])


def rate(part: int, whole: int) -> float | None:
    """part / whole, None when there is nothing to divide (not 0: no data is not a zero rate)."""
    return round(part / whole, 6) if whole else None
