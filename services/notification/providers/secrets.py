"""Channel credentials are referenced ("env:NAME" or "file:/path"), read when used, never stored or logged."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/\S+)$")


class SecretUnavailable(Exception):
    """A referenced secret could not be read (the message names the reference, never a value)."""


def is_reference(value: str) -> bool:
    """Whether a value is a secret reference rather than a secret."""
    return bool(REF.match(value))


def read_secret(refs: Mapping[str, str], name: str) -> str:
    """The secret `name` from where its reference points (a Kubernetes Secret as env var or mounted file)."""
    ref = refs.get(name, "")
    if not ref:
        raise SecretUnavailable(f"no reference for secret {name!r}")
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where, "")
    elif kind == "file":
        try:
            value = Path(where).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise SecretUnavailable(f"secret {name!r} not readable from {ref}: {err.strerror}") from None
    else:
        raise SecretUnavailable(f"secret {name!r}: unsupported reference {ref!r}")
    if not value:
        raise SecretUnavailable(f"secret {name!r} is empty or missing at {ref}")
    return value
