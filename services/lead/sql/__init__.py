"""SQL functions of the lead schema, one versioned file each: the migration that creates one reads its file."""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).parent
# The body between the dollar quotes of a CREATE FUNCTION: what PostgreSQL keeps as the function's prosrc.
_BODY = re.compile(r"AS \$\$\n(.*)\$\$", re.DOTALL)


def function_sql(name: str) -> str:
    """The CREATE FUNCTION statement kept in `name` (e.g. "routing_reps_v1.sql")."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def function_body(name: str) -> str:
    """The body of the function in `name`, as the database stores it (pg_proc.prosrc)."""
    match = _BODY.search(function_sql(name))
    if match is None:
        raise ValueError(f"{name}: no $$-quoted function body")
    return "\n" + match.group(1)
