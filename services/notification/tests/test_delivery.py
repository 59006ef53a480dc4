"""Delivery through the providers' stand-ins: statuses, retries, token expiry, fallbacks, errors inside 200s."""

from __future__ import annotations

from sqlalchemy import select

from crm.events.v1 import notification_events_pb2
from crm.notification.v1 import notification_pb2
from notification.tables import inbox_messages, notifications

from .kit import CONTEXT, Kit, status_name

HEALTH = notification_pb2.ListChannelHealthRequest()


async def health_of(kit: Kit, channel: str) -> notification_pb2.ChannelHealth:
    [found] = [h for h in (await kit.servicer.ListChannelHealth(HEALTH, CONTEXT)).channels if h.channel == channel]
    return found


async def test_assignment_to_a_wecom_recipient_is_delivered_once_with_an_inbox_copy(kit: Kit) -> None:
    wecom = await kit.channel("wecom_app")
    rep = await kit.recipient([wecom], wecom_user_id="wangfang")
    lead_id = await kit.assign(rep, lead_name="Li Lei", company="Acme")

    queued = await kit.notification(lead_id)
    assert status_name(queued) == "pending" and queued.channel == wecom
    await kit.drain()

    done = await kit.notification(lead_id)
    assert status_name(done) == "delivered" and done.HasField("delivered_at")
    [message] = kit.providers.state.to("wecom", "wangfang")
    assert "New lead assigned: Li Lei (Acme)" in message.content
    assert [(d.channel, d.status, d.attempts) for d in done.deliveries] == [(wecom, "delivered", 1)]
    assert await kit.attempts_of(lead_id) == [(wecom, "delivered")]
    async with kit.runtime.db.connect() as conn:
        copies = (await conn.execute(select(inbox_messages).where(inbox_messages.c.recipient_id == rep))).all()
    assert [c.title for c in copies] == ["New lead assigned: Li Lei (Acme)"]


async def test_token_expired_mid_burst_is_refreshed_once_and_nothing_is_lost_or_doubled(kit: Kit) -> None:
    wecom = await kit.channel("wecom_app")
    reps = [await kit.recipient([wecom], wecom_user_id=f"user{i}") for i in range(10)]
    first = [await kit.assign(rep) for rep in reps[:5]]
    await kit.drain()
    assert kit.providers.state.gettoken_calls == 1

    kit.providers.state.expire_tokens()  # the provider drops the token long before its announced expiry
    second = [await kit.assign(rep) for rep in reps[5:]]
    await kit.drain()

    assert kit.providers.state.gettoken_calls == 2, "one refresh, by one worker, for the whole burst"
    for lead_id in first + second:
        assert status_name(await kit.notification(lead_id)) == "delivered"
    assert sorted(r.to for r in kit.providers.state.of("wecom")) == sorted(f"user{i}" for i in range(10))
    # The refresh and the resend happen within the same attempt: nobody waits for a backoff.
    for lead_id in second:
        assert await kit.attempts_of(lead_id) == [(wecom, "delivered")]


async def test_error_inside_a_200_is_retried_and_a_permanent_one_falls_back_to_sms(kit: Kit) -> None:
    wecom, sms = await kit.channel("wecom_app"), await kit.channel("sms")
    busy = await kit.recipient([wecom, sms], wecom_user_id="busy")
    kit.providers.state.scripted["wecom"].append({"errcode": -1, "errmsg": "system busy"})
    lead_id = await kit.assign(busy)
    await kit.dispatcher.dispatch_once()
    waiting = await kit.notification(lead_id)
    assert status_name(waiting) == "retrying" and "errcode -1" in waiting.reason
    await kit.drain()
    assert status_name(await kit.notification(lead_id)) == "delivered"
    assert await kit.attempts_of(lead_id) == [(wecom, "failed"), (wecom, "delivered")]

    kit.providers.state.invalid_wecom_users.add("gone")
    gone = await kit.recipient([wecom, sms], wecom_user_id="gone", mobile="+8613900000001")
    lead_id = await kit.assign(gone)
    await kit.drain()
    moved = await kit.notification(lead_id)
    assert (status_name(moved), moved.channel) == ("sent", sms)
    assert [(d.channel, d.status) for d in moved.deliveries] == [(wecom, "failed"), (sms, "sent")]
    assert len(kit.providers.state.to("sms", "+8613900000001")) == 1
    assert not kit.providers.state.to("wecom", "gone")


async def test_provider_down_then_back_retries_with_backoff_and_delivers_once(kit: Kit) -> None:
    sms = await kit.channel("sms")
    rep = await kit.recipient([sms], mobile="+8613900000002")
    kit.providers.state.down.add("sms")
    lead_id = await kit.assign(rep)
    for _ in range(3):
        await kit.make_due()
        await kit.dispatcher.dispatch_once()
    down = await kit.notification(lead_id)
    assert status_name(down) == "retrying" and "HTTP 503" in down.reason
    assert [d.attempts for d in down.deliveries] == [3]
    await kit.health.probe_once()
    health = await health_of(kit, sms)
    assert (health.up, health.degraded) == (False, True)
    assert await kit.runtime.ready(), "a provider outage never makes the service unready"

    kit.providers.state.down.discard("sms")
    await kit.drain()
    back = await kit.notification(lead_id)
    assert status_name(back) == "sent"
    assert len(kit.providers.state.to("sms", "+8613900000002")) == 1
    assert await kit.attempts_of(lead_id) == [(sms, "failed"), (sms, "failed"), (sms, "failed"), (sms, "sent")]
    await kit.health.probe_once()
    health = await health_of(kit, sms)
    assert (health.up, health.degraded) == (True, False)


async def test_every_channel_failing_escalates_to_the_manager_who_gets_it_in_app(kit: Kit) -> None:
    sms = await kit.channel("sms")
    manager = await kit.recipient([], name="Zhao Min")
    rep = await kit.recipient([sms], mobile="not-a-number", manager_id=manager, name="Sun Li")
    lead_id = await kit.assign(rep, lead_name="Qian")
    await kit.drain()

    async with kit.runtime.db.connect() as conn:
        rows = (await conn.execute(select(notifications).where(notifications.c.lead_id == lead_id).order_by(notifications.c.created_at))).all()
    original, escalation = rows
    assert (original.status, original.escalated_to) == ("escalated", manager)
    assert "isv.MOBILE_NUMBER_ILLEGAL" in original.reason
    assert (escalation.recipient_id, escalation.kind, escalation.status, escalation.urgent) == (manager, "delivery_escalated", "delivered", True)
    assert "Could not reach Sun Li" in escalation.title
    [event] = await kit.published("crm.notification.escalated", notification_events_pb2.NotificationEscalated, lead_id)
    assert (event.notification_id, event.escalated_to, event.escalation_notification_id) == (
        str(original.id), manager, str(escalation.id)
    )


async def test_redelivered_event_sends_nothing_twice(kit: Kit) -> None:
    webhook = await kit.channel("webhook")
    rep = await kit.recipient([webhook])
    lead_id = await kit.assign(rep, event_id="evt-redelivered-1")
    await kit.assign(rep, event_id="evt-redelivered-1")
    await kit.drain()
    await kit.assign(rep, event_id="evt-redelivered-1")
    await kit.drain()
    assert status_name(await kit.notification(lead_id)) == "delivered"
    assert len(kit.providers.state.to("webhook", rep)) == 1
    assert kit.providers.state.calls["webhook"] == 1
