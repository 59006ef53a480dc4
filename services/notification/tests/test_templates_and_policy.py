"""Templates, quiet hours, escalation chains, token refresh and the configuration API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import delete, select, update

from crm.events.v1 import lead_events_pb2
from crm.notification.v1 import notification_pb2
from crm_common.errors import DomainError
from notification import domain, templates
from notification.consumers import notify_escalation, notify_reassignment
from notification.providers.tokens import TokenStore
from notification.tables import channel_tokens, notifications
from notification.tables import templates as templates_table

from .helpers import meta
from .kit import CONTEXT, Kit, status_name


def fields_of(err: DomainError) -> list[str]:
    return [v.field for v in getattr(err, "violations", [])]


def test_rendering_shows_the_placeholder_for_missing_and_blank_fields_and_never_fails() -> None:
    template = templates.Template("t", "Lead {lead_name} ({company})", "Owner: {owner}\nCity: {city}", placeholder="(n/a)")
    rendered = templates.render(template, {"lead_name": "  Li \n Na ", "company": "   "})
    assert rendered.title == "Lead Li Na ((n/a))"
    assert rendered.body == "Owner: (n/a)\nCity: (n/a)"


@pytest.mark.parametrize(
    ("title", "field", "says"),
    [("Lead {lead_name", "title", "expected '}'"), ("Lead {0}", "title", "plain field"), ("Lead {lead.name}", "title", "plain field"),
     ("Lead {lead_name!r}", "title", "conversion"), ("   ", "title", "required")],
)
def test_a_broken_template_is_refused_when_saved_naming_the_field(title: str, field: str, says: str) -> None:
    problems = templates.validate(templates.Template("lead_assigned", title, "body"))
    assert [p.field for p in problems] == [field]
    assert says.lower() in problems[0].description.lower()


async def test_saved_template_with_empty_fields_renders_placeholders_in_the_sent_message(kit: Kit) -> None:
    put = notification_pb2.PutTemplateRequest(
        template=notification_pb2.Template(
            name="lead_assigned", title="线索 {lead_name} / {company}", body="来源 {channel}, 城市 {city}", placeholder="（未填）"
        )
    )
    saved = (await kit.servicer.PutTemplate(put, CONTEXT)).template
    assert list(saved.fields) == ["lead_name", "company", "channel", "city"]
    try:
        webhook = await kit.channel("webhook")
        rep = await kit.recipient([webhook])
        lead_id = await kit.assign(rep, lead_name="王芳", company="")
        await kit.drain()
        done = await kit.notification(lead_id)
        assert status_name(done) == "delivered"
        assert done.title == "线索 王芳 / （未填）"
        [message] = kit.providers.state.to("webhook", rep)
        assert message.content == "来源 web_form, 城市 （未填）"
    finally:
        async with kit.runtime.db.transaction() as conn:
            await conn.execute(delete(templates_table).where(templates_table.c.name == "lead_assigned"))

    with pytest.raises(DomainError) as err:
        await kit.servicer.PutTemplate(
            notification_pb2.PutTemplateRequest(template=notification_pb2.Template(name="x", title="{a", body="b")), CONTEXT
        )
    assert fields_of(err.value) == ["template.title"]


def test_quiet_hours_hold_until_their_end_in_the_recipients_time_zone() -> None:
    late = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    until = domain.quiet_until(late, start="22:00", end="08:00", time_zone="Asia/Shanghai")
    assert until is not None and until.astimezone(UTC) == datetime(2026, 1, 6, 0, 0, tzinfo=UTC)
    early = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)  # 07:00 next day in Shanghai
    assert domain.quiet_until(early, start="22:00", end="08:00", time_zone="Asia/Shanghai") == datetime(
        2026, 1, 6, 0, 0, tzinfo=UTC
    )
    noon = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert domain.quiet_until(noon, start="22:00", end="08:00", time_zone="Asia/Shanghai") is None
    assert domain.quiet_until(noon, start="", end="", time_zone="Asia/Shanghai") is None


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    delays = [domain.backoff_seconds(n, base=2, cap=300, jitter=0.5) for n in range(1, 10)]
    for n, delay in enumerate(delays, 1):
        nominal = min(300, 2 * 2 ** (n - 1))
        assert 0.75 * nominal <= delay < 1.25 * nominal


def _all_day_quiet() -> dict[str, str]:
    return {"quiet_start": "00:00", "quiet_end": "23:59", "time_zone": "UTC"}


async def test_quiet_hours_hold_routine_notifications_but_not_urgent_escalations(kit: Kit) -> None:
    webhook = await kit.channel("webhook")
    manager = await kit.recipient([webhook], **_all_day_quiet())
    rep = await kit.recipient([webhook], manager_id=manager, **_all_day_quiet())
    lead_id = await kit.assign(rep)
    await kit.dispatcher.dispatch_once()
    held = await kit.notification(lead_id)
    assert status_name(held) == "pending" and held.reason.startswith("quiet hours: held until")
    assert held.deliveries[0].next_attempt_at.ToDatetime(tzinfo=UTC) > datetime.now(UTC)

    escalation = lead_events_pb2.LeadEscalated(lead_id=str(uuid.uuid4()), rep_id=rep, kind="claim_window", reason="not claimed in 15 min")
    async with kit.runtime.db.transaction() as conn:
        await notify_escalation(conn, escalation, meta(), runtime=kit.runtime)
    await kit.dispatcher.dispatch_once()
    told = await kit.notification(escalation.lead_id)
    assert (told.recipient_id, told.urgent, status_name(told)) == (manager, True, "delivered")
    assert not kit.providers.state.to("webhook", rep), "the quiet rep was not disturbed"


async def test_repeated_escalations_climb_the_teams_chain_manager_then_operations_owner(kit: Kit) -> None:
    team, manager, ops = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await kit.recipient([], id=manager, name="Manager")
    await kit.recipient([], id=ops, name="Ops")
    rep = await kit.recipient([], team_id=team, manager_id=manager, name="Rep")
    chain = notification_pb2.EscalationChain(team_id=team, steps=["manager", ops])
    await kit.servicer.PutEscalationChain(notification_pb2.PutEscalationChainRequest(chain=chain), CONTEXT)

    lead_id = str(uuid.uuid4())
    deadline = Timestamp()
    deadline.FromDatetime(datetime.now(UTC) - timedelta(minutes=1))
    for kind in ("claim_window", "first_contact_sla", "pool_warning"):
        event = lead_events_pb2.LeadEscalated(lead_id=lead_id, rep_id=rep, kind=kind, reason=f"{kind} ran out", deadline_at=deadline)
        async with kit.runtime.db.transaction() as conn:
            await notify_escalation(conn, event, meta(), runtime=kit.runtime)
    async with kit.runtime.db.connect() as conn:
        query = select(notifications).where(notifications.c.lead_id == lead_id, notifications.c.kind == domain.LEAD_ESCALATED)
        rows = (await conn.execute(query.order_by(notifications.c.created_at))).all()
    assert [(r.recipient_id, r.kind, r.status) for r in rows] == [
        (manager, "lead_escalated", "delivered"), (ops, "lead_escalated", "delivered"), (ops, "lead_escalated", "delivered")
    ]
    assert "assigned to Rep was escalated (claim_window): claim_window ran out" in rows[0].body


async def test_a_pool_warning_tells_the_assignee_as_well_as_the_chain_and_other_escalations_do_not(kit: Kit) -> None:
    manager = await kit.recipient([], name="Manager")
    rep = await kit.recipient([], manager_id=manager, name="Rep")
    returns = Timestamp()
    returns.FromDatetime(datetime(2026, 12, 9, 8, 30, tzinfo=UTC))
    warned, lapsed = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        lead_events_pb2.LeadEscalated(
            lead_id=warned, rep_id=rep, manager_id=manager, kind="pool_warning", reason="no follow-up for 6 days",
            deadline_at=returns,
        ),
        lead_events_pb2.LeadEscalated(lead_id=lapsed, rep_id=rep, manager_id=manager, kind="claim_window"),
    ]
    for event in events:
        async with kit.runtime.db.transaction() as conn:
            await notify_escalation(conn, event, meta(), runtime=kit.runtime)
    async with kit.runtime.db.connect() as conn:
        rows = (await conn.execute(select(notifications).where(notifications.c.lead_id.in_([warned, lapsed])))).all()
    told = sorted((r.lead_id == warned, r.recipient_id == rep, r.kind) for r in rows)
    assert told == [(False, False, "lead_escalated"), (True, False, "lead_escalated"), (True, True, "lead_pool_warning")]
    warning = next(r for r in rows if r.kind == domain.LEAD_POOL_WARNING)
    assert "returns to the public pool at 2026-12-09T08:30Z" in warning.body
    assert "no follow-up for 6 days" in warning.body
    assert not warning.urgent, "a warning a day ahead waits for the rep's working hours"


async def test_reassignment_tells_the_previous_assignees_manager(kit: Kit) -> None:
    manager = await kit.recipient([], name="Boss")
    old = await kit.recipient([], name="Old Rep", manager_id=manager)
    new = await kit.recipient([], name="New Rep")
    event = lead_events_pb2.LeadReassigned(lead_id=str(uuid.uuid4()), from_rep_id=old, to_rep_id=new, reason="claim_expired", lead_name="Zhou")
    async with kit.runtime.db.transaction() as conn:
        await notify_reassignment(conn, event, meta(), runtime=kit.runtime)
    told = await kit.notification(event.lead_id)
    assert (told.recipient_id, told.kind, status_name(told)) == (manager, "lead_reassigned", "delivered")
    assert "Moved from Old Rep to New Rep (claim_expired)" in told.body


async def test_escalation_with_nobody_to_tell_still_ends_with_a_recorded_status(kit: Kit) -> None:
    event = lead_events_pb2.LeadEscalated(lead_id=str(uuid.uuid4()), rep_id=str(uuid.uuid4()), kind="claim_window")
    async with kit.runtime.db.transaction() as conn:
        await notify_escalation(conn, event, meta(), runtime=kit.runtime)
    recorded = await kit.notification(event.lead_id)
    assert status_name(recorded) == "failed" and "no recipient" in recorded.reason


async def test_tokens_are_refreshed_by_one_worker_across_replicas_and_ahead_of_expiry(kit: Kit) -> None:
    replicas = [TokenStore(kit.runtime.db, refresh_margin=300) for _ in range(4)]
    fetches = 0

    async def fetch() -> tuple[str, float]:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.05)
        return f"token-{fetches}", 7200.0

    channel = f"token-test-{uuid.uuid4().hex[:6]}"
    got = await asyncio.gather(*(store.get(channel, fetch) for store in replicas for _ in range(5)))
    assert fetches == 1 and set(got) == {"token-1"}

    # Four replicas see the same token rejected at once: still one refresh.
    again = await asyncio.gather(*(store.refresh(channel, fetch, stale="token-1") for store in replicas))
    assert fetches == 2 and set(again) == {"token-2"}

    # Two hours on, the token has four minutes left: inside the five-minute margin, so it is replaced.
    async with kit.runtime.db.transaction() as conn:
        await conn.execute(
            update(channel_tokens)
            .where(channel_tokens.c.channel == channel)
            .values(expires_at=datetime.now(UTC) + timedelta(minutes=4), refreshed_at=datetime.now(UTC) - timedelta(hours=2))
        )
    assert await replicas[0].get(channel, fetch) == "token-3"
    assert await replicas[1].get(channel, fetch) == "token-3" and fetches == 3


async def test_configuration_api_refuses_plain_secrets_unknown_channels_and_bad_quiet_hours(kit: Kit) -> None:
    bad_channel = notification_pb2.Channel(
        name="sms-main", kind="sms", settings={"base_url": "http://127.0.0.1:1"}, secret_refs={"api_key": "sk-live-123"}
    )
    with pytest.raises(DomainError) as err:
        await kit.servicer.PutChannel(notification_pb2.PutChannelRequest(channel=bad_channel), CONTEXT)
    assert fields_of(err.value) == ["channel.secret_refs.api_key"]
    assert "sk-live-123" not in str(err.value)

    bad_recipient = notification_pb2.Recipient(id="r1", fallback_chain=["nope"], quiet_start="25:00", quiet_end="07:00")
    with pytest.raises(DomainError) as err:
        await kit.servicer.PutRecipient(notification_pb2.PutRecipientRequest(recipient=bad_recipient), CONTEXT)
    assert sorted(fields_of(err.value)) == ["recipient.fallback_chain[0]", "recipient.quiet_start"]

    sms = await kit.channel("sms")
    got = (await kit.servicer.GetChannel(notification_pb2.GetChannelRequest(name=sms), CONTEXT)).channel
    assert dict(got.secret_refs) == {"api_key": "env:CRM_SECRET_TEST_SMS_API_KEY"}


async def test_send_notification_is_idempotent_by_key(kit: Kit) -> None:
    webhook = await kit.channel("webhook")
    rep = await kit.recipient([webhook])
    request = notification_pb2.SendNotificationRequest(
        idempotency_key=f"k-{uuid.uuid4()}", recipient_id=rep, template="lead_escalated", fields={"lead_id": "L1"}, urgent=True
    )
    first = (await kit.servicer.SendNotification(request, CONTEXT)).notification
    again = (await kit.servicer.SendNotification(request, CONTEXT)).notification
    assert first.id == again.id and first.urgent
    assert "Deadline: —" in first.body
    await kit.drain()
    assert len(kit.providers.state.to("webhook", rep)) == 1
    with pytest.raises(DomainError) as err:
        await kit.servicer.SendNotification(notification_pb2.SendNotificationRequest(template="nope"), CONTEXT)
    assert sorted(fields_of(err.value)) == ["idempotency_key", "recipient_id"]

