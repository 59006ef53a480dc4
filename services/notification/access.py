"""Who may see which notification and recipient: the matrix per RPC, the recipient as owner, masking, audit."""

from __future__ import annotations

from collections.abc import Sequence

from crm.notification.v1 import notification_pb2
from crm_common import audit
from crm_common.access import Action, Owner, Resource, caller, decide, guard
from crm_common.errors import NotFound
from crm_common.service import Runtime
from notification import config_repository

R, X = Resource, Action
METHODS: dict[str, tuple[Resource, Action] | None] = {
    "GetNotification": None,
    "ListNotifications": None,
    "ListInbox": None,
    "SendNotification": (R.NOTIFICATION, X.CREATE),
    "PutChannel": (R.NOTIFICATION_CONFIG, X.UPDATE),
    "GetChannel": (R.NOTIFICATION_CONFIG, X.READ),
    "ListChannels": (R.NOTIFICATION_CONFIG, X.READ),
    "ListChannelHealth": (R.NOTIFICATION_CONFIG, X.READ),
    "PutTemplate": (R.NOTIFICATION_CONFIG, X.UPDATE),
    "GetTemplate": (R.NOTIFICATION_CONFIG, X.READ),
    "ListTemplates": (R.NOTIFICATION_CONFIG, X.READ),
    "PutRecipient": (R.NOTIFICATION_CONFIG, X.UPDATE),
    "GetRecipient": None,
    "PutEscalationChain": (R.NOTIFICATION_CONFIG, X.UPDATE),
    "GetEscalationChain": (R.NOTIFICATION_CONFIG, X.READ),
}
guarded = guard(METHODS)

RECIPIENT_PERSONAL = ("mobile", "email", "wecom_user_id", "dingtalk_mobile")


async def _owners(runtime: Runtime, recipient_ids: Sequence[str]) -> dict[str, Owner]:
    """A notification belongs to its recipient (a rep) and the recipient's team."""
    async with runtime.db.connect() as conn:
        found = await config_repository.get_recipients(conn, recipient_ids=list(recipient_ids))
    return {
        rid: Owner.of(reps=[rid], teams=[found[rid].team_id if rid in found else None]) for rid in set(recipient_ids)
    }


def _mask(message: notification_pb2.Notification) -> None:
    # The text carries the lead's name and company, a channel's answer may carry the address it was sent to.
    message.title = message.body = ""
    for attempt in message.attempts:
        attempt.detail = ""
    for delivery in message.deliveries:
        delivery.last_error = ""


async def visible(
    runtime: Runtime, messages: Sequence[notification_pb2.Notification]
) -> list[notification_pb2.Notification]:
    """The notifications the caller may see, masked where it may not see their text; granted reads audited."""
    principal = caller()
    owners = await _owners(runtime, [m.recipient_id for m in messages])
    out = []
    for message in messages:
        decision = decide(principal, Resource.NOTIFICATION, Action.READ, owner=owners[message.recipient_id])
        if not decision.allowed:
            continue
        if not decision.personal:
            _mask(message)
        elif message.body:
            await audit.record_read(
                runtime, principal, resource="notification", record_ids=[message.id], fields=["body"]
            )
        out.append(message)
    return out


async def one(runtime: Runtime, message: notification_pb2.Notification) -> notification_pb2.Notification:
    """One notification as the caller may see it; one it may not see is not found."""
    shown = await visible(runtime, [message])
    if not shown:
        raise NotFound(f"notification {message.id} not found")
    return shown[0]


async def inbox_of(runtime: Runtime, recipient_id: str) -> None:
    """A rep reads only its own inbox, a manager those of its teams' reps."""
    owner = (await _owners(runtime, [recipient_id]))[recipient_id]
    if not decide(caller(), Resource.NOTIFICATION, Action.READ, owner=owner).allowed:
        raise NotFound(f"no inbox {recipient_id}")


async def recipient(runtime: Runtime, message: notification_pb2.Recipient) -> notification_pb2.Recipient:
    """A recipient's addresses only for callers granted personal data (the rep itself among them)."""
    principal = caller()
    config = decide(principal, Resource.NOTIFICATION_CONFIG, Action.READ)
    own = decide(principal, Resource.NOTIFICATION, Action.READ, owner=Owner.of(reps=[message.id], teams=[message.team_id]))
    if not (config.allowed or own.allowed):
        raise NotFound(f"recipient {message.id} not found")
    if config.personal or own.personal:
        fields = [f for f in RECIPIENT_PERSONAL if getattr(message, f)]
        await audit.record_read(runtime, principal, resource="recipient", record_ids=[message.id], fields=fields)
        return message
    for name in RECIPIENT_PERSONAL:
        setattr(message, name, "")
    return message
