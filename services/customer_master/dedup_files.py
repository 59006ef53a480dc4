"""Uploaded files of records to deduplicate: CSV with a header, or JSON lines; every bad row and column named."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crm_common.errors import FieldViolation, InvalidArgument
from customer_master.matching import normalize_credit_code, valid_credit_code

COLUMNS = ("ref", "company", "name", "phone", "email", "credit_code")
KEY_COLUMNS = ("company", "phone", "email", "credit_code")
FORMATS = ("csv", "jsonl")
MAX_VALUE_CHARS = 500
# Past this many problems the caller has the pattern; listing thousands helps nobody.
MAX_VIOLATIONS = 20
_PHONE = re.compile(r"^\+?\d{6,15}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class FileRecord:
    """One record of an uploaded file; row counts records from 1 (a CSV header is not a record)."""

    row: int
    ref: str = ""
    company: str = ""
    name: str = ""
    phone: str = ""
    email: str = ""
    credit_code: str = ""


class _Problems:
    """Violations collected across the file, stopping the parse once there are enough to act on."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_VIOLATIONS

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items[:MAX_VIOLATIONS])


def parse_records(data: bytes, file_format: str = "", *, max_records: int) -> list[FileRecord]:
    """The records of a file, or InvalidArgument naming each bad row and column (nothing is kept from a bad file)."""
    if file_format and file_format not in FORMATS:
        raise InvalidArgument([FieldViolation("file_format", f"must be one of {', '.join(FORMATS)} (or empty)")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidArgument([FieldViolation("file", f"is not UTF-8 text (bad byte at offset {err.start})")]) from None
    if not text.strip():
        raise InvalidArgument([FieldViolation("file", "is empty: give a CSV with a header or JSON lines")])
    fmt = file_format or ("jsonl" if text.lstrip().startswith("{") else "csv")
    problems = _Problems()
    records: list[FileRecord] = []
    rows = _csv_rows(text, problems) if fmt == "csv" else _jsonl_rows(text, problems)
    for row, line, values in rows:
        if len(records) >= max_records:
            problems.add("file", f"has more than {max_records} records; split it")
            break
        record = _record(row, line, values, problems)
        if record is not None:
            records.append(record)
        if problems.full:
            break
    problems.raise_if_any()
    if not records:
        raise InvalidArgument([FieldViolation("file", "has a header but no records")])
    return records


def _csv_rows(text: str, problems: _Problems) -> Iterator[tuple[int, int, dict[str, str]]]:
    """(record number, line, values by column) of each CSV record after the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except csv.Error as err:
        problems.add("file.header", f"line 1: not CSV ({err})")
        return
    for name in header:
        if name not in COLUMNS:
            problems.add(f"file.header.{name or '(empty)'}", f"unknown column; the columns are {', '.join(COLUMNS)}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    for name in duplicated:
        problems.add(f"file.header.{name}", "appears more than once")
    if not set(header) & set(KEY_COLUMNS):
        problems.add("file.header", f"needs at least one of the columns {', '.join(KEY_COLUMNS)}")
    if problems.items:
        return
    row = 0
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row += 1
            if len(values) != len(header):
                problems.add(
                    f"file.row[{row}]", f"line {reader.line_num}: {len(values)} values, the header has {len(header)}"
                )
                continue
            yield row, reader.line_num, dict(zip(header, values, strict=True))
    except csv.Error as err:
        problems.add(f"file.row[{row + 1}]", f"line {reader.line_num}: not CSV ({err})")


def _jsonl_rows(text: str, problems: _Problems) -> Iterator[tuple[int, int, dict[str, str]]]:
    """(record number, line, values by key) of each JSON line that is an object of strings."""
    row = 0
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        row += 1
        try:
            value: Any = json.loads(raw)
        except ValueError as err:
            problems.add(f"file.row[{row}]", f"line {line}: not JSON ({err})")
            continue
        if not isinstance(value, dict):
            problems.add(f"file.row[{row}]", f"line {line}: must be a JSON object")
            continue
        bad = False
        for key, item in value.items():
            if key not in COLUMNS:
                problems.add(
                    f"file.row[{row}].{key}", f"line {line}: unknown field; the fields are {', '.join(COLUMNS)}"
                )
                bad = True
            elif not isinstance(item, str):
                problems.add(f"file.row[{row}].{key}", f"line {line}: must be a string")
                bad = True
        if not bad:
            yield row, line, value


def _record(row: int, line: int, values: dict[str, str], problems: _Problems) -> FileRecord | None:
    """A record of one row's values, or None after naming what is wrong with them."""
    clean = {name: values.get(name, "").strip() for name in COLUMNS}
    before = len(problems.items)
    for name, value in clean.items():
        if len(value) > MAX_VALUE_CHARS:
            problems.add(f"file.row[{row}].{name}", f"line {line}: longer than {MAX_VALUE_CHARS} characters")
    if not any(clean[name] for name in KEY_COLUMNS):
        problems.add(f"file.row[{row}]", f"line {line}: needs at least one of {', '.join(KEY_COLUMNS)}")
    if clean["phone"]:
        clean["phone"] = _PHONE_SEPARATORS.sub("", clean["phone"])
        if not _PHONE.match(clean["phone"]):
            problems.add(f"file.row[{row}].phone", f"line {line}: must be a phone number such as +8613800138000")
    if clean["email"] and "@" not in clean["email"]:
        problems.add(f"file.row[{row}].email", f"line {line}: must be an email address")
    if clean["credit_code"]:
        clean["credit_code"] = normalize_credit_code(clean["credit_code"])
        if not valid_credit_code(clean["credit_code"]):
            problems.add(
                f"file.row[{row}].credit_code", f"line {line}: is not a valid unified social credit code (GB 32100)"
            )
    if len(problems.items) > before:
        return None
    clean["email"] = clean["email"].lower()
    return FileRecord(row=row, **clean)
