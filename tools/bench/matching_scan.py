"""The exhaustive reference for the blocked search: every account the scorer puts at a floor or above, none skipped.

Scoring a million accounts in Python for each query would take minutes, so the scan first discards, in numpy,
the accounts that provably cannot reach the floor, then scores the rest with the service's own scorer. The
proof: `company_similarity` never exceeds `_core_similarity`, which is the largest of fuzz.ratio and the
abbreviation score over the cores (and over the cores prefixed with two characters of their regions, or their
Latin keys when a side is not Chinese); both are at most 100 × LCS / len(shorter), and an LCS never exceeds the
characters the two strings share counted with multiplicity. Counting shared characters is one `bincount`
over posting lists of (character, n-th occurrence) keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from customer_master.matching import company_similarity
from customer_master.names import CompanyName, has_han, normalize_company_name


def _occurrence_keys(text: str) -> list[str]:
    """One key per character and occurrence: 'a1', 'a2' for the two a's of 'aa'."""
    seen: dict[str, int] = defaultdict(int)
    keys = []
    for ch in text:
        seen[ch] += 1
        keys.append(f"{ch}{seen[ch]}")
    return keys


class _Postings:
    """Which accounts hold each (character, occurrence) key of one string form (core, prefixed core, Latin key)."""

    def __init__(self, texts: Sequence[str]) -> None:
        lists: dict[str, list[int]] = defaultdict(list)
        for index, text in enumerate(texts):
            for key in _occurrence_keys(text):
                lists[key].append(index)
        self.size = len(texts)
        self.lengths = np.fromiter((len(t) for t in texts), dtype=np.int32, count=len(texts))
        self.lists = {key: np.asarray(ids, dtype=np.int32) for key, ids in lists.items()}

    def bound(self, text: str) -> np.ndarray:
        """Per account, 100 × (characters shared with text) / len(shorter): at least the similarity of the form."""
        hits = [self.lists[key] for key in _occurrence_keys(text) if key in self.lists]
        if not text or not hits:
            return np.zeros(self.size, dtype=np.float32)
        shared = np.bincount(np.concatenate(hits), minlength=self.size).astype(np.float32)
        shorter = np.maximum(np.minimum(self.lengths, len(text)), 1)
        return 100.0 * shared / shorter


@dataclass(frozen=True)
class _Forms:
    core: str
    prefixed: str
    latin: str


def _forms(name: CompanyName) -> _Forms:
    return _Forms(name.core, name.region[:2] + name.core, name.latin)


class FullScan:
    """Every account compared with a query, with the bound above ruling out only what cannot reach the floor."""

    def __init__(self, names: Sequence[str], parsed: Sequence[CompanyName] | None = None) -> None:
        parsed = parsed if parsed is not None else [normalize_company_name(n) for n in names]
        forms = [_forms(p) for p in parsed]
        self.names = names
        self.parsed = parsed
        self.han = np.fromiter((has_han(f.core) for f in forms), dtype=bool, count=len(forms))
        self.core = _Postings([f.core for f in forms])
        self.prefixed = _Postings([f.prefixed for f in forms])
        self.latin = _Postings([f.latin for f in forms])

    def bound(self, query: CompanyName) -> np.ndarray:
        """An upper bound of company_similarity(query, account) for every account."""
        forms = _forms(query)
        latin = self.latin.bound(forms.latin)
        if not has_han(forms.core):
            return latin
        chinese = np.maximum(self.core.bound(forms.core), self.prefixed.bound(forms.prefixed))
        return np.where(self.han, chinese, latin)

    def scan(self, query: str, floor: float) -> tuple[dict[int, float], int]:
        """{account index: score} of every account at floor or above, and how many were scored exactly."""
        parsed = normalize_company_name(query)
        survivors = np.nonzero(self.bound(parsed) >= floor)[0]
        scores = {int(i): company_similarity(parsed, self.parsed[i])[0] for i in survivors}
        return {i: s for i, s in scores.items() if s >= floor}, len(survivors)
