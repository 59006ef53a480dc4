"""A team's working calendar (weekly hours, holidays, make-up workdays) and the business-hours clock, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Calendar:
    """When a team works, in its own time zone; holidays and make-up working days override the week."""

    timezone: str = "Asia/Shanghai"
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: time = time(9, 0)
    end: time = time(18, 0)
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.isoweekday() in self.workdays

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone())
        return self.is_workday(local.date()) and self.start <= local.time() < self.end

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` has elapsed (business-hours clock)."""
        zone = self.zone()
        local = start.astimezone(zone)
        remaining = duration
        for _ in range(400):  # a year and a bit of days: enough for any sane calendar
            day = local.date()
            if self.is_workday(day):
                opens = datetime.combine(day, self.start, zone)
                closes = datetime.combine(day, self.end, zone)
                begin = max(local, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= closes - begin
            local = datetime.combine(day + timedelta(days=1), time(0, 0), zone)
        return start + duration


def calendar_from_json(data: Mapping[str, Any] | None) -> Calendar | None:
    """None (no calendar: the team works around the clock) or a Calendar."""
    if not data:
        return None
    return Calendar(
        timezone=data.get("timezone") or "Asia/Shanghai",
        workdays=frozenset(int(d) for d in data.get("workdays") or (1, 2, 3, 4, 5)),
        start=time.fromisoformat(data.get("start") or "09:00"),
        end=time.fromisoformat(data.get("end") or "18:00"),
        holidays=frozenset(date.fromisoformat(d) for d in data.get("holidays") or ()),
        makeup_workdays=frozenset(date.fromisoformat(d) for d in data.get("makeup_workdays") or ()),
    )
