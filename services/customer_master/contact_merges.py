"""Contact merges a steward can undo, and contacts that follow their account through account merges."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import customer_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from customer_master import repository, survivorship
from customer_master.contacts import ContactRecord, blocking_keys, lock_accounts

log = logging.getLogger(__name__)

CUSTOMER_MERGED = "crm.customer.merged"
CUSTOMER_UNMERGED = "crm.customer.unmerged"


async def rekey(conn: AsyncConnection, *, contact_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    """Recompute a contact's blocking keys from its source records, within the account it now belongs to."""
    keys: list[str] = []
    for source in await repository.list_contact_sources(conn, contact_id=contact_id):
        record = ContactRecord(
            customer_id,
            source.name or "",
            frozenset({source.phone_e164} if source.phone_e164 else ()),
            frozenset({source.email_normalized} if source.email_normalized else ()),
        )
        keys += blocking_keys(record)
    await repository.replace_contact_keys(conn, contact_id=contact_id, keys=keys)


async def _rebuild(conn: AsyncConnection, contact: Row) -> Row:
    rules = await survivorship.current_rules(conn)
    await rekey(conn, contact_id=contact.id, customer_id=contact.customer_id)
    return await survivorship.rebuild_contact(conn, contact_id=contact.id, rules=rules) or contact


async def merge_contacts(
    conn: AsyncConnection, *, survivor_id: uuid.UUID, merged_id: uuid.UUID, actor_id: str, reason: str
) -> tuple[Row, Row]:
    """Fold one contact into another of the same account: every source record moves, the golden is rebuilt."""
    if survivor_id == merged_id:
        raise InvalidArgument([FieldViolation("merged_id", "must differ from survivor_id")])
    found = [await repository.get_contact(conn, contact_id=c) for c in (survivor_id, merged_id)]
    await lock_accounts(conn, *(c.customer_id for c in found if c is not None))
    rows = await repository.lock_contacts(conn, contact_ids=[survivor_id, merged_id])
    for kind, contact_id in (("survivor", survivor_id), ("merged", merged_id)):
        if contact_id not in rows:
            raise NotFound(f"{kind} contact {contact_id} not found")
        if rows[contact_id].merged_into is not None:
            raise FailedPrecondition(f"{kind} contact {contact_id} is already merged into another")
    if rows[survivor_id].customer_id != rows[merged_id].customer_id:
        raise FailedPrecondition("the contacts belong to different accounts; merge the accounts first")
    moved = await repository.move_contact_sources(conn, from_id=merged_id, to_id=survivor_id)
    merge = await repository.insert_contact_merge(
        conn,
        survivor_id=survivor_id,
        merged_id=merged_id,
        moved_sources=[str(m) for m in moved],
        actor_id=actor_id,
        reason=reason,
    )
    await repository.update_contact(conn, contact_id=merged_id, values={"merged_into": survivor_id})
    await repository.replace_contact_keys(conn, contact_id=merged_id, keys=[])
    survivor = await _rebuild(conn, rows[survivor_id])
    return merge, survivor


async def unmerge_contacts(conn: AsyncConnection, *, merge_id: uuid.UUID) -> tuple[Row, Row]:
    """Undo a contact merge: the merged contact lives again with the source records it had."""
    merge = await repository.get_contact_merge(conn, merge_id=merge_id)
    if merge is None:
        raise NotFound(f"contact merge {merge_id} not found")
    if merge.undone_at is not None:
        raise FailedPrecondition(f"contact merge {merge_id} was already undone")
    found = [await repository.get_contact(conn, contact_id=c) for c in (merge.survivor_id, merge.merged_id)]
    await lock_accounts(conn, *(c.customer_id for c in found if c is not None))
    rows = await repository.lock_contacts(conn, contact_ids=[merge.survivor_id, merge.merged_id])
    if rows[merge.survivor_id].merged_into is not None:
        raise FailedPrecondition("the survivor was merged again since; undo that merge first")
    await repository.move_contact_sources(
        conn, from_id=merge.survivor_id, to_id=merge.merged_id, only=[uuid.UUID(s) for s in merge.moved_sources]
    )
    restored = await repository.update_contact(conn, contact_id=merge.merged_id, values={"merged_into": None})
    await repository.mark_contact_merge_undone(conn, merge_id=merge_id)
    survivor = await _rebuild(conn, rows[merge.survivor_id])
    restored = await _rebuild(conn, restored)
    return survivor, restored


async def follow_account_merge(
    conn: AsyncConnection, message: customer_events_pb2.CustomerMerged, meta: EventMeta
) -> None:
    """The merged account's contacts become the survivor's, found by its blocking keys from now on."""
    survivor, merged = uuid.UUID(message.survivor_id), uuid.UUID(message.merged_id)
    await lock_accounts(conn, survivor, merged)
    moved = await repository.move_account_contacts(conn, from_customer=merged, to_customer=survivor)
    for contact_id in moved:
        await rekey(conn, contact_id=contact_id, customer_id=survivor)
    log.info("contacts followed an account merge", extra={"merge_id": message.merge_id, "contacts": len(moved)})


async def follow_account_unmerge(
    conn: AsyncConnection, message: customer_events_pb2.CustomerUnmerged, meta: EventMeta
) -> None:
    """Contacts captured only for the restored account go back to it; those the survivor added to stay."""
    survivor, restored = uuid.UUID(message.survivor_id), uuid.UUID(message.restored_id)
    await lock_accounts(conn, survivor, restored)
    moved = await repository.move_account_contacts(
        conn, from_customer=survivor, to_customer=restored, only_sourced_from=True
    )
    for contact_id in moved:
        await rekey(conn, contact_id=contact_id, customer_id=restored)
    log.info("contacts followed an account unmerge", extra={"merge_id": message.merge_id, "contacts": len(moved)})


CONTACT_CONSUMERS = [
    ConsumerSpec(durable="customer-master-contacts-merged", subject=CUSTOMER_MERGED, handler=follow_account_merge),
    ConsumerSpec(durable="customer-master-contacts-unmerged", subject=CUSTOMER_UNMERGED, handler=follow_account_unmerge),
]
