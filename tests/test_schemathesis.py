"""The edge's OpenAPI, fuzzed by schemathesis against the whole stack: no 5xx, every answer as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tools.devstack import Stack

# A fixed budget: this many generated requests per operation (valid ones and deliberately invalid ones), the same
# ones on every run, so the test takes the same time and a failure reproduces. The coverage phase (every boundary
# of every parameter, unbounded in number) is left to the targeted tests in gateway/tests/test_input.py.
EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: the fuzzer, as admin, rewrites routing rules, channels and match rules at random."""
    running = Stack(Path(tmp_path_factory.mktemp("fuzzed-stack")))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def edge_schema(fuzzed_stack: Stack) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION, "deterministic": True},
            "phases": {"coverage": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{fuzzed_stack.gateway_url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("edge_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_as_documented(case: schemathesis.Case, fuzzed_stack: Stack) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzzed_stack.api_key}"}, checks=CHECKS, timeout=30
    )
