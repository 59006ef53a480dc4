"""A short fault suite (cases 1-3 of `make faults`): kill -9, NATS restart, PostgreSQL down past the retry budget."""

from __future__ import annotations

from tools.devstack import Stack
from tools.faults.suite import kill_and_restart, restart_nats, run_case, stop_postgres

RATE = 4.0  # captures per second, well under the shared machine's saturation
SECONDS = 20.0


def test_kill_9_of_lead_and_notification_loses_and_doubles_nothing(stack: Stack) -> None:
    outcome = run_case(stack, "kill -9", kill_and_restart("lead", "notification"), rate=RATE, seconds=SECONDS)
    assert outcome.accepted > 0
    assert (outcome.lost, outcome.doubled, outcome.dead_letters, outcome.exited_on_their_own) == (0, 0, 0, 0)


def test_a_nats_restart_under_load_loses_and_doubles_nothing(stack: Stack) -> None:
    outcome = run_case(stack, "NATS restarted", restart_nats, rate=RATE, seconds=SECONDS)
    assert outcome.accepted > 0
    assert (outcome.lost, outcome.doubled, outcome.dead_letters, outcome.exited_on_their_own) == (0, 0, 0, 0)


def test_postgresql_down_past_the_retry_budget_dead_letters_nothing(stack: Stack) -> None:
    # 15 s: twice the 7.5 s of backoff after which a consumer used to dead-letter what it held.
    outcome = run_case(stack, "PostgreSQL stopped", stop_postgres(15.0), rate=RATE, seconds=SECONDS)
    assert outcome.accepted > 0
    assert (outcome.lost, outcome.doubled, outcome.dead_letters, outcome.exited_on_their_own) == (0, 0, 0, 0)
