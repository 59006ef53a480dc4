"""Bulk deduplication: blocked candidate pairs over a whole file or base, scored, grouped into clusters."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from customer_master.matching import (
    AUTO_MATCH,
    REVIEW,
    MatchResult,
    MatchRules,
    Record,
    normalize_credit_code,
    score_pair,
)
from customer_master.names import has_han, normalize_company_name


@dataclass(frozen=True)
class DedupReport:
    """Clusters of records that are one customer (auto-matched), and the pairs left for review."""

    clusters: list[list[int]]
    review_pairs: list[tuple[int, int, float]]
    candidate_pairs: int


def blocking_keys(record: Record) -> set[str]:
    """Keys a record is filed under; only records sharing a key are compared."""
    keys = set()
    if record.company:
        name = normalize_company_name(record.company)
        # Pairs of neighbouring characters of the core (4-letter pieces of a Latin key): one mistyped character
        # still leaves shared pairs; the pairs every trade shares (科技) fill blocks past max_block and are dropped.
        if has_han(name.core):
            keys.update(f"c:{name.core[i : i + 2]}" for i in range(max(1, len(name.core) - 1)))
        if not has_han(name.core):
            keys.update(f"l:{name.latin[i : i + 4]}" for i in range(0, max(1, len(name.latin) - 3), 2))
        # The whole pinyin key meets a Latin spelling of a Chinese name (Hangzhou Moumou Technology).
        keys.add(f"L:{name.latin}")
    if record.phone:
        keys.add(f"p:{record.phone}")
    if record.email:
        keys.add(f"e:{record.email.lower()}")
    if record.credit_code:
        keys.add(f"u:{normalize_credit_code(record.credit_code)}")
    return keys


@dataclass
class ScanProgress:
    """Counters a scan running in a worker thread updates, and the flag that stops it (read by the event loop)."""

    candidate_pairs: int = 0
    pairs_scored: int = 0
    stop: bool = False


class ScanStopped(Exception):
    """The scan was asked to stop (the process is shutting down)."""


@dataclass(frozen=True)
class ScoredPair:
    """Two records (by index) and how they matched."""

    i: int
    j: int
    result: MatchResult


@dataclass(frozen=True)
class Cluster:
    """Records that are one customer (auto_match, joined by their auto-matched pairs) or may be (review, a pair)."""

    decision: str
    members: list[int]
    pairs: list[ScoredPair]

    @property
    def score(self) -> float:
        """The best pair score inside the cluster."""
        return max(p.result.score for p in self.pairs)


@dataclass(frozen=True)
class Scan:
    """Every auto-matched and review-band pair of a scan, and how many pairs were compared."""

    auto_pairs: list[ScoredPair]
    review_pairs: list[ScoredPair]
    candidate_pairs: int
    size: int


# How many pairs are scored between two progress updates (and two chances for the event loop to take the GIL).
_PROGRESS_EVERY = 2000


def candidate_pairs(records: Sequence[Record], *, max_block: int = 100) -> list[int]:
    """Every pair that shares a blocking key (keys held by more than max_block records are too common), sorted.

    A pair (i, j), i < j, is the int i * len(records) + j: millions of ints are not tracked by the garbage
    collector, millions of tuples are, and its full passes over them stop every thread (gRPC serving included).
    """
    size = len(records)
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key in blocking_keys(record):
            blocks[key].append(index)
        if index % _PROGRESS_EVERY == 0:
            time.sleep(0)
    pairs: set[int] = set()
    for n, members in enumerate(blocks.values()):
        if 1 < len(members) <= max_block:
            pairs.update(i * size + j for i, j in combinations(members, 2))
        if n % _PROGRESS_EVERY == 0:
            time.sleep(0)
    return sorted(pairs)


def scan(
    records: Sequence[Record],
    rules: MatchRules,
    *,
    max_block: int = 100,
    progress: ScanProgress | None = None,
    report: Callable[[ScanProgress], None] | None = None,
) -> Scan:
    """Score every candidate pair, updating progress (and calling report) as it goes; stops when progress.stop."""
    progress = progress or ScanProgress()
    pairs = candidate_pairs(records, max_block=max_block)
    progress.candidate_pairs = len(pairs)
    auto: list[ScoredPair] = []
    review: list[ScoredPair] = []
    size = len(records)
    for n, code in enumerate(pairs):
        i, j = divmod(code, size)
        if n % _PROGRESS_EVERY == 0:
            progress.pairs_scored = n
            if report is not None:
                report(progress)
            if progress.stop:
                raise ScanStopped
            # A thread that never sleeps holds the GIL for whole switch intervals; yielding keeps gRPC answering.
            time.sleep(0)
        result = score_pair(records[i], records[j], rules)
        if result.decision == AUTO_MATCH:
            auto.append(ScoredPair(i, j, result))
        elif result.decision == REVIEW:
            review.append(ScoredPair(i, j, result))
    progress.pairs_scored = len(pairs)
    return Scan(auto_pairs=auto, review_pairs=review, candidate_pairs=len(pairs), size=len(records))


def _groups(size: int, pairs: Sequence[ScoredPair]) -> list[list[int]]:
    """Connected components (of more than one record) of the pairs, largest first."""
    parent = list(range(size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for pair in pairs:
        parent[root(pair.i)] = root(pair.j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(size):
        groups[root(i)].append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)


def clusters_of(found: Scan) -> list[Cluster]:
    """Auto-matched clusters with the pairs that joined them, then review pairs not already inside one cluster."""
    groups = _groups(found.size, found.auto_pairs)
    cluster_of = {i: n for n, group in enumerate(groups) for i in group}
    edges: dict[int, list[ScoredPair]] = defaultdict(list)
    for pair in found.auto_pairs:
        edges[cluster_of[pair.i]].append(pair)
    clusters = [Cluster(AUTO_MATCH, group, edges[n]) for n, group in enumerate(groups)]
    for pair in sorted(found.review_pairs, key=lambda p: -p.result.score):
        same = pair.i in cluster_of and cluster_of.get(pair.i) == cluster_of.get(pair.j)
        if not same:
            clusters.append(Cluster(REVIEW, [pair.i, pair.j], [pair]))
    return clusters


def find_duplicates(records: Sequence[Record], rules: MatchRules, *, max_block: int = 100) -> DedupReport:
    """Compare every pair that shares a blocking key (keys held by more than max_block records are too common)."""
    found = scan(records, rules, max_block=max_block)
    return DedupReport(
        clusters=_groups(found.size, found.auto_pairs),
        review_pairs=[(p.i, p.j, p.result.score) for p in found.review_pairs],
        candidate_pairs=found.candidate_pairs,
    )
