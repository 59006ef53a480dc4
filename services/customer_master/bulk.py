"""Bulk deduplication: blocked candidate pairs over a whole file or base, scored, grouped into clusters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from customer_master.matching import AUTO_MATCH, REVIEW, MatchRules, Record, normalize_credit_code, score_pair
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


def find_duplicates(records: Sequence[Record], rules: MatchRules, *, max_block: int = 100) -> DedupReport:
    """Compare every pair that shares a blocking key (keys held by more than max_block records are too common)."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key in blocking_keys(record):
            blocks[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= max_block:
            pairs.update(combinations(members, 2))
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    review: list[tuple[int, int, float]] = []
    for i, j in pairs:
        result = score_pair(records[i], records[j], rules)
        if result.decision == AUTO_MATCH:
            parent[root(i)] = root(j)
        elif result.decision == REVIEW:
            review.append((i, j, result.score))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        groups[root(i)].append(i)
    clusters = sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)
    return DedupReport(clusters=clusters, review_pairs=review, candidate_pairs=len(pairs))
