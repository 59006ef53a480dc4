"""The edge's OpenAPI, fuzzed by schemathesis against the whole stack: no 5xx, every answer as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tools.devstack import Stack

# A fixed budget: this many generated requests per operation and mode (valid requests, and deliberately invalid
# ones), the same ones on every run, so the test takes the same time and a failure reproduces. The coverage phase
# (every boundary of every parameter, unbounded in number) is left to the targeted tests in gateway/tests.
EXAMPLES_PER_OPERATION = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BUDGET = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: the fuzzer, as admin, rewrites routing rules, channels and match rules at random."""
    running = Stack(Path(tmp_path_factory.mktemp("fuzzed-stack")))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_no_server_error_and_every_answer_as_documented(fuzzed_stack: Stack) -> None:
    # Driven operation by operation rather than through schemathesis's pytest plugin, whose lazy schemas do not
    # run under pytest 9; every failure is collected, so one run shows them all.
    schema = schemathesis.openapi.from_url(f"{fuzzed_stack.gateway_url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed_stack.api_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    for operation in operations:
        for mode in GenerationMode:

            @BUDGET
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation with no input has no invalid request
            except (Exception, FailureGroup) as err:  # every operation's failure is reported together
                failures.append(f"{mode.value} {operation.label}: {err}")
    assert len(operations) > 60
    assert not failures, "\n\n".join(failures)
