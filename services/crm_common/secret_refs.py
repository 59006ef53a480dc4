"""Secret references: `env:CRM_SECRET_<NAME>` or `file:<path>` under CRM_SECRETS_DIR, nothing else of the process.

A configuration row names where a secret lives, never the secret. The reference may not name any other
environment variable (the database URL, the signing keys) nor any file outside the secrets directory
(a `..` or a symbolic link leading out of it is refused), so an admin-set reference cannot make the
process send its own credentials somewhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "CRM_SECRET_"
ENV_NAME = re.compile(rf"^{ENV_PREFIX}[A-Za-z0-9_]+$")
MAX_REFERENCE = 512


class SecretUnavailable(Exception):
    """A referenced secret could not be read (the message names the reference, never a value)."""


@dataclass(frozen=True)
class SecretResolver:
    """Checks references and reads the secrets they name, within what this process allows."""

    secrets_dir: str = ""

    def problem(self, ref: str) -> str | None:
        """Why a reference is refused, or None when it is one this process may follow."""
        kind, sep, where = ref.partition(":")
        if not sep or len(ref) > MAX_REFERENCE or "\x00" in ref:
            return f"must be 'env:{ENV_PREFIX}<NAME>' or 'file:<path under CRM_SECRETS_DIR>'"
        if kind == "env":
            if not ENV_NAME.match(where):
                return f"environment references must name a variable starting {ENV_PREFIX}"
            return None
        if kind == "file":
            try:
                self._path(where)
            except SecretUnavailable as err:
                return str(err)
            return None
        return f"must be 'env:{ENV_PREFIX}<NAME>' or 'file:<path under CRM_SECRETS_DIR>'"

    def _path(self, where: str) -> Path:
        """The file a reference names, resolved (links followed) and proven to lie inside the secrets directory."""
        if not self.secrets_dir:
            raise SecretUnavailable("file references need CRM_SECRETS_DIR to be set")
        if not where or ".." in Path(where).parts:
            raise SecretUnavailable("file references must name a file inside CRM_SECRETS_DIR, without '..'")
        root = Path(self.secrets_dir).resolve()
        given = Path(where)
        path = (given if given.is_absolute() else root / given).resolve()
        if path == root or not path.is_relative_to(root):
            raise SecretUnavailable("file references must stay inside CRM_SECRETS_DIR (links included)")
        return path

    def read(self, ref: str) -> str:
        """The secret a reference names, read now (checked again: the row may predate the rules)."""
        problem = self.problem(ref)
        if problem:
            raise SecretUnavailable(f"reference {ref[:80]!r} refused: {problem}")
        kind, _, where = ref.partition(":")
        if kind == "env":
            value = os.environ.get(where, "")
        else:
            try:
                value = self._path(where).read_text(encoding="utf-8").strip()
            except OSError as err:
                raise SecretUnavailable(f"{ref} not readable: {err.strerror}") from None
        if not value:
            raise SecretUnavailable(f"{ref} is empty or missing")
        return value
