"""Inspect and replay a consumer's dead letters: `python -m crm_common.bus.dlq list|replay <consumer>`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from dataclasses import dataclass

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from crm_common.bus.catalog import STREAMS, dead_letter_subject
from crm_common.bus.consumer import EVENT_ID_HEADER

DLQ_STREAM = next(name for name, subject in STREAMS.items() if subject == "crm.dlq.>")


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered event, with why and where it came from."""

    sequence: int
    event_id: str
    subject: str
    error: str
    deliveries: str
    headers: dict[str, str]
    data: bytes


async def list_dead_letters(js: JetStreamContext, durable: str) -> list[DeadLetter]:
    """Every dead letter of one consumer still in the stream, oldest first."""
    subject = dead_letter_subject(durable)
    try:
        info = await js.stream_info(DLQ_STREAM, subjects_filter=subject)
    except NotFoundError:
        return []
    out: list[DeadLetter] = []
    sequence = info.state.first_seq
    while sequence and sequence <= info.state.last_seq:
        try:
            raw = await js.get_msg(DLQ_STREAM, seq=sequence, subject=subject, next=True)
        except NotFoundError:
            break
        headers = dict(raw.headers or {})
        out.append(
            DeadLetter(
                sequence=raw.seq or 0,
                event_id=headers.get(EVENT_ID_HEADER, ""),
                subject=headers.get("Crm-Original-Subject", ""),
                error=headers.get("Crm-Error", ""),
                deliveries=headers.get("Crm-Deliveries", ""),
                headers=headers,
                data=raw.data or b"",
            )
        )
        sequence = (raw.seq or sequence) + 1
    return out


async def replay(js: JetStreamContext, durable: str) -> int:
    """Publish each dead letter again to its original subject, then delete it from the dead-letter stream.

    The event keeps its id (Crm-Event-Id), so consumers that applied it already skip it; the NATS message id
    is new, so JetStream's duplicate window does not drop the replay.
    """
    replayed = 0
    for letter in await list_dead_letters(js, durable):
        headers = {k: v for k, v in letter.headers.items() if not k.startswith("Crm-") or k == EVENT_ID_HEADER}
        headers["Nats-Msg-Id"] = f"replay:{uuid.uuid4()}"
        await js.publish(letter.subject, letter.data, headers=headers)
        await js.delete_msg(DLQ_STREAM, letter.sequence)
        replayed += 1
    return replayed


async def _main(args: argparse.Namespace) -> None:
    nc = await nats.connect(args.nats_url)
    try:
        js = nc.jetstream()
        if args.command == "list":
            for letter in await list_dead_letters(js, args.consumer):
                print(
                    json.dumps(
                        {
                            "sequence": letter.sequence,
                            "event_id": letter.event_id,
                            "subject": letter.subject,
                            "deliveries": letter.deliveries,
                            "error": letter.error,
                        },
                        ensure_ascii=False,
                    )
                )
        else:
            print(f"replayed {await replay(js, args.consumer)} dead letters of {args.consumer}")
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("consumer", help="durable consumer name, e.g. notification-lead-assigned")
    parser.add_argument("--nats-url", default=os.environ.get("CRM_NATS_URL", "nats://127.0.0.1:4222"))
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
