"""Every query of the notification service's configuration: channels, templates, recipients, chains, health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from notification.tables import channel_health, channels, escalation_chains, recipients, templates

# Consumers cache templates, recipients and chains (config_cache); every write of them tells each replica.
CHANGED_CHANNEL = "crm_notification_config"
_ANNOUNCE = text(f"SELECT pg_notify('{CHANGED_CHANNEL}', '')")


async def announce_change(conn: AsyncConnection) -> None:
    """Tell every replica, at commit, that cached configuration is stale."""
    await conn.execute(_ANNOUNCE)


async def upsert_channel(
    conn: AsyncConnection,
    *,
    name: str,
    kind: str,
    settings: Mapping[str, str],
    secret_refs: Mapping[str, str],
    rate_limit_per_minute: int,
    enabled: bool,
    at: datetime,
) -> Row:
    """Create or replace a channel."""
    values = {
        "kind": kind,
        "settings": dict(settings),
        "secret_refs": dict(secret_refs),
        "rate_limit_per_minute": rate_limit_per_minute,
        "enabled": enabled,
        "updated_at": at,
    }
    result = await conn.execute(
        insert(channels)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=[channels.c.name], set_=values)
        .returning(*channels.c)
    )
    return result.one()


async def get_channel(conn: AsyncConnection, *, name: str) -> Row | None:
    return (await conn.execute(select(channels).where(channels.c.name == name))).first()


async def list_channels(conn: AsyncConnection) -> Sequence[Row]:
    return (await conn.execute(select(channels).order_by(channels.c.name))).all()


async def upsert_template(
    conn: AsyncConnection, *, name: str, title: str, body: str, placeholder: str, fields: Sequence[str], at: datetime
) -> Row:
    """Create or replace a (validated) template."""
    values = {"title": title, "body": body, "placeholder": placeholder, "fields": list(fields), "updated_at": at}
    result = await conn.execute(
        insert(templates)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=[templates.c.name], set_=values)
        .returning(*templates.c)
    )
    row = result.one()
    await announce_change(conn)
    return row


async def get_template(conn: AsyncConnection, *, name: str) -> Row | None:
    return (await conn.execute(select(templates).where(templates.c.name == name))).first()


async def list_templates(conn: AsyncConnection) -> Sequence[Row]:
    return (await conn.execute(select(templates).order_by(templates.c.name))).all()


RECIPIENT_FIELDS = (
    "name", "team_id", "manager_id", "wecom_user_id", "mobile", "email", "dingtalk_mobile",
    "fallback_chain", "quiet_start", "quiet_end", "time_zone",
)


async def upsert_recipient(conn: AsyncConnection, *, recipient_id: str, values: Mapping[str, object], at: datetime) -> Row:
    """Create or replace a recipient's addresses, quiet hours and fallback chain."""
    data = {key: values[key] for key in RECIPIENT_FIELDS} | {"updated_at": at}
    result = await conn.execute(
        insert(recipients)
        .values(id=recipient_id, **data)
        .on_conflict_do_update(index_elements=[recipients.c.id], set_=data)
        .returning(*recipients.c)
    )
    row = result.one()
    await announce_change(conn)
    return row


async def get_recipient(conn: AsyncConnection, *, recipient_id: str) -> Row | None:
    return (await conn.execute(select(recipients).where(recipients.c.id == recipient_id))).first()


async def get_recipients(conn: AsyncConnection, *, recipient_ids: Sequence[str]) -> dict[str, Row]:
    if not recipient_ids:
        return {}
    rows = (await conn.execute(select(recipients).where(recipients.c.id.in_(list(set(recipient_ids)))))).all()
    return {r.id: r for r in rows}


async def upsert_escalation_chain(conn: AsyncConnection, *, team_id: str, steps: Sequence[str], at: datetime) -> Row:
    values = {"steps": list(steps), "updated_at": at}
    result = await conn.execute(
        insert(escalation_chains)
        .values(team_id=team_id, **values)
        .on_conflict_do_update(index_elements=[escalation_chains.c.team_id], set_=values)
        .returning(*escalation_chains.c)
    )
    row = result.one()
    await announce_change(conn)
    return row


async def get_escalation_chain(conn: AsyncConnection, *, team_id: str) -> Row | None:
    return (await conn.execute(select(escalation_chains).where(escalation_chains.c.team_id == team_id))).first()


async def upsert_health(
    conn: AsyncConnection,
    *,
    channel: str,
    up: bool,
    degraded: bool,
    detail: str,
    token_expires_at: datetime | None,
    failure_rate: float,
    at: datetime,
) -> None:
    values = {
        "up": up, "degraded": degraded, "detail": detail, "token_expires_at": token_expires_at,
        "failure_rate": failure_rate, "checked_at": at,
    }
    await conn.execute(
        insert(channel_health)
        .values(channel=channel, **values)
        .on_conflict_do_update(index_elements=[channel_health.c.channel], set_=values)
    )


async def list_health(conn: AsyncConnection) -> dict[str, Row]:
    return {r.channel: r for r in (await conn.execute(select(channel_health))).all()}
