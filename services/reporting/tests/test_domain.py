"""Report filter rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reporting.domain import ReportFilter, validate_filter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_open_and_ordered_windows_are_valid() -> None:
    assert validate_filter(ReportFilter()) == []
    assert validate_filter(ReportFilter(captured_from=T0)) == []
    assert validate_filter(ReportFilter(captured_to=T0)) == []
    assert validate_filter(ReportFilter(captured_from=T0, captured_to=T0)) == []


def test_a_window_ending_before_it_starts_names_captured_to() -> None:
    violations = validate_filter(ReportFilter(captured_from=T0, captured_to=T0 - timedelta(seconds=1)))
    assert [v.field for v in violations] == ["captured_to"]
