"""Our matcher on the benchmark sets: the service's normalisers and comparators, blocking, weighted scores."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import combinations

import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from customer_master.matching import company_similarity, person_similarity
from customer_master.names import fold, normalize_company_name, normalize_person_name, to_latin
from tools.bench.matching_data import Dataset

# How much agreement on each kind of field is worth; identifiers and contact points weigh most.
WEIGHTS = {
    "company": 3.0,
    "person": 3.0,
    "given": 1.5,
    "surname": 1.5,
    "text": 1.0,
    "address": 1.5,
    "phone": 2.0,
    "date": 2.0,
    "email": 2.0,
    "exact": 0.5,
    "id": 2.0,
}
# One pair threshold and one cluster threshold for every set (tuned on none of them): a pair at 0.75 or more is a
# match; records joined through pairs at 0.80 or more form one cluster (one customer).
THRESHOLD = 0.75
CLUSTER_THRESHOLD = 0.80
_DIGITS = re.compile(r"\D+")
_WORDS = re.compile(r"[\W_]+")
_ADDRESS_WORDS = {
    "street": "st",
    "st.": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "blv": "blvd",
    "drive": "dr",
    "place": "pl",
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "lane": "ln",
}


def _prepare(kind: str, value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    if kind == "company":
        return normalize_company_name(text)
    if kind == "person":
        return normalize_person_name(text)
    if kind in ("phone", "date", "id"):
        digits = _DIGITS.sub("", text)
        return digits[-10:] if kind == "phone" else digits or None
    if kind == "address":
        words = [_ADDRESS_WORDS.get(w, w) for w in _WORDS.split(fold(text)) if w]
        return " ".join(words) or None
    if kind in ("given", "surname"):
        return to_latin(fold(text)) or None
    return fold(text).strip() or None


def _similarity(kind: str, a: object, b: object) -> float:
    """0..1 agreement of two prepared values of one kind."""
    if kind == "company":
        return company_similarity(a, b)[0] / 100  # type: ignore[arg-type]
    if kind == "person":
        return person_similarity(a, b)[0] / 100  # type: ignore[arg-type]
    if kind == "exact":
        if a == b:
            return 1.0
        # A code mistyped by one key (4050 for 4005) is weaker evidence, not a disagreement.
        return 0.6 if len(str(a)) >= 3 and DamerauLevenshtein.distance(a, b) == 1 else 0.0  # type: ignore[arg-type]
    if kind in ("date", "id", "phone"):
        # One slip of a key (a typo or two swapped digits) is still mostly an agreement.
        edits = DamerauLevenshtein.distance(a, b)  # type: ignore[arg-type]
        return {0: 1.0, 1: 0.8, 2: 0.5}.get(edits, 0.0)
    if kind == "email":
        return JaroWinkler.similarity(a, b)  # type: ignore[arg-type]
    if kind == "address":
        return fuzz.token_sort_ratio(a, b) / 100  # type: ignore[arg-type]
    return JaroWinkler.similarity(a, b)  # type: ignore[arg-type]


def _keys(kind: str, value: object) -> Iterable[str]:
    """Blocking keys: records sharing one become a candidate pair."""
    if value is None:
        return []
    if kind == "company":
        name = value.latin or value.core  # type: ignore[attr-defined]
        return [f"c:{name[i : i + 4]}" for i in range(0, max(1, len(name) - 3), 2)]
    if kind == "person":
        return [f"p:{w[:3]}" for w in value.latin.split()]  # type: ignore[attr-defined]
    if kind in ("phone", "id", "email"):
        return [f"{kind}:{value}"]
    if kind == "date":
        return [f"d:{value}"]
    if kind in ("given", "surname"):
        return [f"n:{str(value)[:3]}", f"n:{str(value)[-3:]}"]
    if kind == "address":
        return [f"a:{w}" for w in str(value).split() if len(w) > 3][:3]
    return []


def _crossed_name_key(fields: dict[str, str], values: dict[str, object]) -> list[str]:
    """Given name and surname as one unordered key: records with the two entered the wrong way round meet."""
    given = next((values[c] for c, k in fields.items() if k == "given"), None)
    surname = next((values[c] for c, k in fields.items() if k == "surname"), None)
    if not given or not surname:
        return []
    return ["names:" + "|".join(sorted((str(given)[:3], str(surname)[:3])))]


def predict_pairs(dataset: Dataset, *, threshold: float = THRESHOLD, max_block: int = 500) -> set[tuple[str, str]]:
    """Pairs our matcher declares the same entity."""
    prepared: list[tuple[int, str, dict[str, object]]] = []
    for side, frame in enumerate(dataset.frames):
        for row in frame.itertuples(index=False):
            values = row._asdict()
            prepared.append((side, values["unique_id"], {c: _prepare(k, values[c]) for c, k in dataset.fields.items()}))
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, (_, _, values) in enumerate(prepared):
        for column, kind in dataset.fields.items():
            for key in set(_keys(kind, values[column])):
                blocks[f"{column}:{key}"].append(i)
        for key in _crossed_name_key(dataset.fields, values):
            blocks[key].append(i)
    candidates: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) <= max_block:
            candidates.update(combinations(members, 2))
    found = set()
    for i, j in candidates:
        side_i, uid_i, a = prepared[i]
        side_j, uid_j, b = prepared[j]
        if dataset.link and side_i == side_j:
            continue
        if score(dataset.fields, a, b) >= threshold:
            found.add((uid_i, uid_j) if dataset.link else tuple(sorted((uid_i, uid_j))))
    return found  # type: ignore[return-value]


def score(fields: dict[str, str], a: dict[str, object], b: dict[str, object]) -> float:
    """Weighted mean agreement over the fields both records have."""
    total = weight = 0.0
    given = next((c for c, k in fields.items() if k == "given"), None)
    surname = next((c for c, k in fields.items() if k == "surname"), None)
    if given and surname and None not in (a[given], a[surname], b[given], b[surname]):
        # Given name and surname entered the wrong way round are still the same person.
        straight = _similarity("given", a[given], b[given]) + _similarity("surname", a[surname], b[surname])
        crossed = _similarity("given", a[given], b[surname]) + _similarity("surname", a[surname], b[given])
        w = WEIGHTS["given"] + WEIGHTS["surname"]
        total, weight = w * max(straight, crossed) / 2, w
        fields = {c: k for c, k in fields.items() if c not in (given, surname)}
    addresses = [c for c, k in fields.items() if k == "address"]
    if len(addresses) > 1:
        # Address lines are often entered in another order: compare them as one bag of words.
        left = " ".join(str(a[c]) for c in addresses if a[c] is not None)
        right = " ".join(str(b[c]) for c in addresses if b[c] is not None)
        if left and right:
            total += WEIGHTS["address"] * fuzz.token_sort_ratio(left, right) / 100
            weight += WEIGHTS["address"]
        fields = {c: k for c, k in fields.items() if c not in addresses}
    for column, kind in fields.items():
        if a[column] is None or b[column] is None:
            continue
        w = WEIGHTS[kind]
        total += w * _similarity(kind, a[column], b[column])
        weight += w
    return total / weight if weight else 0.0


def lookup_top1(full_names: list[str], queries: list[tuple[str, int]]) -> float:
    """Share of short names whose best-scoring full name is the right company."""
    candidates = [normalize_company_name(n) for n in full_names]
    right = 0
    for query, expected in queries:
        q = normalize_company_name(query)
        best = max(range(len(candidates)), key=lambda j: company_similarity(q, candidates[j])[0])
        right += best == expected
    return right / len(queries)


def ratio_top1(full_names: list[str], queries: list[tuple[str, int]], scorer: Callable = fuzz.ratio) -> float:
    """The baseline: plain rapidfuzz over all candidates, no normalisation."""
    from rapidfuzz import process

    right = sum(process.extractOne(q, full_names, scorer=scorer)[2] == expected for q, expected in queries)
    return right / len(queries)


def clustered(pairs: set[tuple[str, str]], *, link: bool) -> set[tuple[str, str]]:
    """Every pair inside the connected components of the matched pairs (a duplicate cluster is one customer)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    members: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        members[root(x)].append(x)
    out: set[tuple[str, str]] = set()
    for group in members.values():
        for a, b in combinations(sorted(group), 2):
            if not link:
                out.add((a, b))
            elif a[0] != b[0] or not link:
                out.add((a, b))
    return out


def predict(dataset: Dataset) -> set[tuple[str, str]]:
    """Our answer: pairs over the pair threshold or with enough evidence, plus the clusters confident pairs form."""
    scored = predict_pairs(dataset, threshold=THRESHOLD)
    evidence = evidence_pairs(dataset)
    if dataset.link:
        return scored | evidence
    confident = predict_pairs(dataset, threshold=CLUSTER_THRESHOLD) | evidence
    return scored | clustered(confident, link=False)


def _level(similarity: float) -> int:
    return 0 if similarity >= 0.92 else 1 if similarity >= 0.75 else 2


# How often a true pair agrees (0), nearly agrees (1) or disagrees (2) on a field: typing-error rates, not trained.
_M = (0.90, 0.07, 0.03)


def evidence_pairs(dataset: Dataset, *, sample: int = 20000, seed: int = 1) -> set[tuple[str, str]]:
    """Pairs whose fields agree on rare enough values: per-field weights log2(m/u), u from random pairs of the set."""
    import math
    import random

    prepared = [
        (side, row["unique_id"], {c: _prepare(k, row[c]) for c, k in dataset.fields.items()})
        for side, frame in enumerate(dataset.frames)
        for row in frame.to_dict("records")
    ]
    rng = random.Random(seed)
    counts = {c: [1.0, 1.0, 1.0] for c in dataset.fields}
    sides = [[p for p in prepared if p[0] == s] for s in range(len(dataset.frames))]
    for _ in range(sample):
        a = rng.choice(sides[0])
        b = rng.choice(sides[-1])
        for column, kind in dataset.fields.items():
            if a[2][column] is not None and b[2][column] is not None:
                counts[column][_level(_similarity(kind, a[2][column], b[2][column]))] += 1
    weights = {}
    for column, levels in counts.items():
        total = sum(levels)
        weights[column] = [math.log2(_M[i] / (levels[i] / total)) for i in range(3)]
    n = len(prepared)
    pairs_total = len(sides[0]) * len(sides[-1]) if dataset.link else n * (n - 1) / 2
    prior = math.log2((n / 2) / pairs_total)  # about one duplicate per record
    needed = math.log2(9) - prior  # posterior probability 0.9, as splink's usual cut
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, (_, _, values) in enumerate(prepared):
        for column, kind in dataset.fields.items():
            for key in set(_keys(kind, values[column])):
                blocks[f"{column}:{key}"].append(i)
        for key in _crossed_name_key(dataset.fields, values):
            blocks[key].append(i)
    candidates: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) <= 500:
            candidates.update(combinations(members, 2))
    found = set()
    for i, j in candidates:
        side_i, uid_i, a = prepared[i]
        side_j, uid_j, b = prepared[j]
        if dataset.link and side_i == side_j:
            continue
        total_weight = sum(
            weights[c][_level(_similarity(k, a[c], b[c]))]
            for c, k in dataset.fields.items()
            if a[c] is not None and b[c] is not None
        )
        if total_weight >= needed:
            found.add((uid_i, uid_j) if dataset.link else tuple(sorted((uid_i, uid_j))))
    return found  # type: ignore[return-value]
