"""A dedup job survives its process: customer-master killed mid-job, started again, resumes and finishes it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from tests.test_journey import wait_until
from tools.bench.dedup_job import company_file
from tools.devstack import Stack


@pytest.fixture
def customers(stack: Stack) -> Iterator[customer_pb2_grpc.CustomerServiceStub]:
    with stack.channel("customer-master") as channel:
        yield customer_pb2_grpc.CustomerServiceStub(channel)


def job_of(customers: customer_pb2_grpc.CustomerServiceStub, job_id: str) -> customer_pb2.DedupJob:
    return customers.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=job_id, cluster_limit=1), timeout=10).job


def test_a_job_interrupted_by_a_crash_is_resumed_after_the_restart(
    stack: Stack, customers: customer_pb2_grpc.CustomerServiceStub
) -> None:
    # Big enough that scoring takes many seconds (about 240,000 candidate pairs), so the kill lands mid-job.
    data = company_file(20_000, seed=11)
    started = customers.StartDedupJob(customer_pb2.StartDedupJobRequest(scope="file", file=data), timeout=60).job
    wait_until(lambda: job_of(customers, started.id).status == "running", timeout=30)
    stack.kill("customer-master")
    stack.start_service("customer-master")
    with stack.channel("customer-master") as channel:
        again = customer_pb2_grpc.CustomerServiceStub(channel)
        resumed = wait_until(lambda: (job := job_of(again, started.id)).attempts >= 2 and job, timeout=60)
        assert "interrupted" in resumed.error and "resumed" in resumed.error
        deadline = time.monotonic() + 240
        while (job := job_of(again, started.id)).status not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.5)
    assert (job.status, job.attempts, job.records_loaded) == ("done", 2, 20_000), job.error
    assert job.clusters_found > 0
