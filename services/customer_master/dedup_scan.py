"""The CPU-heavy part of a dedup job, in a child process: the serving process keeps its GIL and its GC pauses short.

In a thread, the scan shares the interpreter with gRPC serving: every full garbage collection over its millions of
objects stopped answers for up to a second or more (tools/bench/dedup_job.py). A spawned child has its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from customer_master.bulk import ScanProgress, clusters_of, scan
from customer_master.matching import MatchRules, Record

# A child reports its counters at most this often (each report is one small message on a pipe).
REPORT_SECONDS = 0.5
ROWS_PER_MESSAGE = 500


def record_of(member: dict[str, Any]) -> Record:
    """The matcher's view of a member (a customer or a file row in its JSON form)."""
    return Record(
        company=member["company"],
        credit_code=member["credit_code"],
        phone=member["phone"],
        email=member["email"],
        contact=member["name"],
    )


def cluster_rows(members: list[dict[str, Any]], rules: MatchRules, report: Callable[[ScanProgress], None]) -> Any:
    """Scan the members: (candidate pairs, dedup_clusters rows with members and pairs as JSON text).

    Pairs name their two records by index in the cluster's members.
    """
    found = scan([record_of(m) for m in members], rules, report=report)
    rows = []
    for number, cluster in enumerate(clusters_of(found), start=1):
        position = {index: n for n, index in enumerate(cluster.members)}
        rows.append(
            {
                "number": number,
                "decision": cluster.decision,
                "score": round(cluster.score, 1),
                "size": len(cluster.members),
                # As JSON text: the parent then holds strings, which its garbage collector never has to walk.
                "members_json": _json([members[i] for i in cluster.members]),
                "pairs_json": _json(
                    [
                        {
                            "a": position[p.i],
                            "b": position[p.j],
                            "score": round(p.result.score, 1),
                            "decision": p.result.decision,
                            "explanation": p.result.explanation(),
                            "review_id": "",
                        }
                        for p in cluster.pairs
                    ]
                ),
            }
        )
    return found.candidate_pairs, rows


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _child(members: list[dict[str, Any]], rules: MatchRules, pipe: Connection) -> None:
    """Child process body: progress messages, then rows in chunks and ("done", pairs), or ("error", text)."""
    last = 0.0
    parent = os.getppid()

    def report(progress: ScanProgress) -> None:
        nonlocal last
        if os.getppid() != parent:
            # The service process died (and this child was re-parented): nobody will read the answer.
            raise SystemExit(1)
        if time.monotonic() - last >= REPORT_SECONDS:
            last = time.monotonic()
            pipe.send(("progress", progress.candidate_pairs, progress.pairs_scored))

    try:
        pairs, rows = cluster_rows(members, rules, report)
        # In chunks: unpickling one message holds the parent's GIL, and one message of every row would hold it long.
        for start in range(0, len(rows), ROWS_PER_MESSAGE):
            pipe.send(("rows", rows[start : start + ROWS_PER_MESSAGE]))
        pipe.send(("done", pairs))
    except Exception as err:
        pipe.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        pipe.close()


class ScanFailed(Exception):
    """The child process reported an error or died."""


async def scan_in_child(
    members: list[dict[str, Any]], rules: MatchRules, on_progress: Callable[[int, int], Any]
) -> tuple[int, list[dict[str, Any]]]:
    """Run the scan in a spawned child; awaits its progress reports (on_progress is awaited if it returns one)."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(members, rules, sending), name="dedup-scan", daemon=True)
    # Starting pickles the members to the child: in a thread, so a large base does not stall serving.
    await asyncio.to_thread(child.start)
    sending.close()
    rows: list[dict[str, Any]] = []
    try:
        while True:
            try:
                message = await asyncio.to_thread(receiving.recv)
            except EOFError:
                await asyncio.to_thread(child.join, 5)
                raise ScanFailed(f"the scan process ended without an answer (exit code {child.exitcode})") from None
            if message[0] == "progress":
                outcome = on_progress(message[1], message[2])
                if asyncio.iscoroutine(outcome):
                    await outcome
            elif message[0] == "rows":
                rows.extend(message[1])
            elif message[0] == "done":
                return message[1], rows
            else:
                raise ScanFailed(message[1])
    finally:
        if child.is_alive():
            child.terminate()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(child.join, 5)
        receiving.close()
