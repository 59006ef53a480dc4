"""The failures seen in the field: rate limits, crashes between send and record, slow answers, bad secrets."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from notification.tables import channel_sends, deliveries, notifications

from . import providers as p
from .kit import Kit, status_name


async def test_overflow_beyond_the_robot_rate_limit_is_merged_into_a_digest_not_dropped(kit: Kit) -> None:
    robot = await kit.channel("wecom_robot", rate_limit_per_minute=3)
    reps = [await kit.recipient([robot], mobile=f"+86139000001{i:02d}") for i in range(3)]
    first = [await kit.assign(rep, lead_name=f"early {i}") for i, rep in enumerate(reps)]
    await kit.dispatcher.dispatch_once()
    assert len(kit.providers.state.of("wecom_robot")) == 3, "within the limit: one message each"

    burst = [await kit.assign(reps[i % 3], lead_name=f"burst {i}") for i in range(12)]
    await kit.make_due()
    await kit.dispatcher.dispatch_once()
    assert len(kit.providers.state.of("wecom_robot")) == 3, "the minute's budget is spent: nothing more is sent"
    held = await kit.notification(burst[0])
    assert status_name(held) == "pending" and held.deliveries[0].next_attempt_at.seconds > 0

    # The window passes (moved back rather than waited for): the overflow goes out as one digest.
    async with kit.runtime.db.transaction() as conn:
        await conn.execute(
            update(channel_sends).where(channel_sends.c.channel == robot).values(at=channel_sends.c.at - timedelta(seconds=61))
        )
    await kit.make_due()
    await kit.dispatcher.dispatch_once()
    messages = kit.providers.state.of("wecom_robot")
    assert len(messages) == 4
    digest = messages[-1].content
    assert digest.startswith("12 notifications (digest)")
    assert all(f"burst {i}" in digest for i in range(12))
    for lead_id in first + burst:
        assert status_name(await kit.notification(lead_id)) == "delivered"


async def test_provider_rate_limit_error_waits_for_the_window_instead_of_failing(kit: Kit) -> None:
    ding = await kit.channel("dingtalk_robot")
    rep = await kit.recipient([ding], dingtalk_mobile="+8613900000003")
    kit.providers.state.scripted["dingtalk"].append({"errcode": 130101, "errmsg": "send too fast"})
    lead_id = await kit.assign(rep)
    await kit.dispatcher.dispatch_once()
    waiting = await kit.notification(lead_id)
    assert status_name(waiting) == "retrying" and "130101" in waiting.reason
    retry_in = waiting.deliveries[0].next_attempt_at.seconds - waiting.deliveries[0].updated_at.seconds
    assert retry_in >= 59, "the documented one-minute window is respected"
    await kit.drain()
    assert status_name(await kit.notification(lead_id)) == "delivered"
    [message] = kit.providers.state.of("dingtalk")
    assert message.to == "+8613900000003", "signed request accepted and the person @-mentioned"


class Crash(BaseException):
    """The process dies: nothing after the provider call runs."""


async def crash_after_send(kit: Kit) -> None:
    async def die(*args: object, **kwargs: object) -> None:
        raise Crash

    original = kit.dispatcher._settle
    kit.dispatcher._settle = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await kit.dispatcher.dispatch_once()
    kit.dispatcher._settle = original  # type: ignore[method-assign]


async def expire_leases(kit: Kit) -> None:
    async with kit.runtime.db.transaction() as conn:
        await conn.execute(update(deliveries).where(deliveries.c.status == "sending").values(lease_until=deliveries.c.created_at))


async def test_crash_between_send_and_record_on_a_deduplicating_provider_resends_and_delivers_once(kit: Kit) -> None:
    sms = await kit.channel("sms")
    rep = await kit.recipient([sms], mobile="+8613900000004")
    lead_id = await kit.assign(rep)
    await crash_after_send(kit)
    assert len(kit.providers.state.to("sms", "+8613900000004")) == 1, "the provider got it before the crash"
    stuck = await kit.notification(lead_id)
    assert [(d.status, d.attempts) for d in stuck.deliveries] == [("sending", 1)], "the attempt was recorded before the send"

    await expire_leases(kit)
    assert await kit.dispatcher.reconcile_once() == 1
    await kit.drain()
    done = await kit.notification(lead_id)
    assert status_name(done) == "sent"
    assert kit.providers.state.calls["sms"] == 2, "resent with the same out_id…"
    assert len(kit.providers.state.to("sms", "+8613900000004")) == 1, "…which the provider dropped"
    assert await kit.attempts_of(lead_id) == [(sms, "unconfirmed"), (sms, "sent")]


async def test_crash_between_send_and_record_on_smtp_is_not_resent_and_says_so(kit: Kit) -> None:
    smtp = await kit.channel("smtp")
    rep = await kit.recipient([smtp], email="crash@example.com")
    lead_id = await kit.assign(rep)
    await crash_after_send(kit)
    await expire_leases(kit)
    await kit.dispatcher.reconcile_once()
    await kit.drain()
    settled = await kit.notification(lead_id)
    assert status_name(settled) == "sent"
    assert "outcome unknown" in settled.reason and "at most once" in settled.reason
    assert [to for to, _, _ in kit.providers.mail.messages].count("crash@example.com") == 1
    assert await kit.attempts_of(lead_id) == [(smtp, "uncertain")]


async def test_slow_answer_past_the_deadline_is_resent_with_the_same_key_and_arrives_once(kit: Kit) -> None:
    webhook = await kit.channel("webhook")
    rep = await kit.recipient([webhook])
    kit.providers.state.slow["webhook"] = 1.5  # longer than the 1 s provider deadline: the answer is lost
    lead_id = await kit.assign(rep)
    await kit.dispatcher.dispatch_once()
    timed_out = await kit.notification(lead_id)
    assert status_name(timed_out) == "retrying" and "no answer" in timed_out.reason
    del kit.providers.state.slow["webhook"]
    await kit.drain()
    assert status_name(await kit.notification(lead_id)) == "delivered"
    assert len(kit.providers.state.to("webhook", rep)) == 1


async def test_mail_goes_to_a_real_smtp_server_and_a_refused_address_falls_back(kit: Kit) -> None:
    smtp, sms = await kit.channel("smtp"), await kit.channel("sms")
    rep = await kit.recipient([smtp, sms], email="ok@example.com")
    lead_id = await kit.assign(rep, lead_name="Mail Test")
    kit.providers.mail.refuse.add("refused@example.com")
    other = await kit.recipient([smtp, sms], email="refused@example.com", mobile="+8613900000005")
    other_lead = await kit.assign(other)
    await kit.drain()
    assert status_name(await kit.notification(lead_id)) == "sent"
    [(_to, subject, message_id)] = [m for m in kit.providers.mail.messages if m[0] == "ok@example.com"]
    assert subject == "New lead assigned: Mail Test (Acme)" and message_id.endswith("@crm.notification>")
    moved = await kit.notification(other_lead)
    assert [(d.channel, d.status) for d in moved.deliveries] == [(smtp, "failed"), (sms, "sent")]


async def test_missing_secret_degrades_the_channel_without_logging_any_secret(
    kit: Kit, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    wecom = await kit.channel("wecom_app", secret_refs={"corp_secret": "env:CRM_SECRET_TEST_NOT_SET"})
    sms = await kit.channel("sms")
    rep = await kit.recipient([wecom, sms], mobile="+8613900000006")
    caplog.set_level(logging.DEBUG)
    lead_id = await kit.assign(rep)
    await kit.drain()
    await kit.health.probe_once()

    moved = await kit.notification(lead_id)
    assert [(d.channel, d.status) for d in moved.deliveries] == [(wecom, "failed"), (sms, "sent")]
    assert "env:CRM_SECRET_TEST_NOT_SET" in moved.deliveries[0].last_error
    async with kit.runtime.db.connect() as conn:
        assert (await conn.execute(select(notifications.c.status).where(notifications.c.lead_id == lead_id))).scalar_one() == "sent"
    logged = caplog.text
    for secret in (p.CORP_SECRET, p.SMS_API_KEY, p.ROBOT_KEY):
        assert secret not in logged
    assert "degraded" in logged
