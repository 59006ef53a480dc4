"""Nothing accepted is lost: a notification service killed mid-burst still notifies every lead exactly once."""

from __future__ import annotations

import concurrent.futures
import signal
import uuid

import httpx

from tests.test_journey import auth, wait_until
from tools.devstack import Stack


def test_sigkill_of_notification_mid_burst_notifies_every_lead_exactly_once(stack: Stack) -> None:
    url, key = stack.info["gateway_url"], stack.api_key

    def capture(i: int) -> str:
        body = {"name": f"lead {i}", "phone": f"1370000{i:04d}", "source": {"channel": "exhibition_qr"}}
        with httpx.Client(base_url=url, timeout=15) as client:
            response = client.post("/v1/leads", json=body, headers={**auth(key), "Idempotency-Key": str(uuid.uuid4())})
            assert response.status_code == 201, response.text
            return response.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(capture, range(30)))
        stack.kill("notification", signal.SIGKILL)
        second = list(pool.map(capture, range(30, 60)))
    stack.start_service("notification")
    lead_ids = first + second

    with httpx.Client(base_url=url, timeout=15) as client:

        def notified_counts() -> dict[str, int] | None:
            counts = {}
            for lead_id in lead_ids:
                lead = client.get(f"/v1/leads/{lead_id}", headers=auth(key)).json()
                counts[lead_id] = [e["step"] for e in lead["timeline"]].count("notified")
            return counts if all(counts.values()) else None

        counts = wait_until(notified_counts, timeout=60, interval=0.5)
        assert set(counts.values()) == {1}
        for lead_id in lead_ids:
            notifications = client.get(f"/v1/leads/{lead_id}/notifications", headers=auth(key)).json()
            assert len(notifications) == 1 and notifications[0]["status"] == "delivered"


def _capture_eventually(client: httpx.Client, key: str, body: dict, idem: str) -> str:
    """Capture with the same Idempotency-Key until it is accepted (a 503 during an outage is retried)."""

    def attempt() -> str | None:
        try:
            response = client.post("/v1/leads", json=body, headers={**auth(key), "Idempotency-Key": idem})
        except httpx.TransportError:
            return None
        return response.json()["id"] if response.status_code in (200, 201) else None

    return wait_until(attempt, timeout=60, interval=0.5)


def test_restarts_of_nats_and_postgresql_lose_nothing(stack: Stack) -> None:
    url, key = stack.info["gateway_url"], stack.api_key
    with httpx.Client(base_url=url, timeout=15) as client:
        before = _capture_eventually(client, key, {"name": "陈静", "phone": "13600000001"}, str(uuid.uuid4()))
        stack.restart_service("nats")
        during_nats = _capture_eventually(client, key, {"name": "陈静", "phone": "13600000002"}, str(uuid.uuid4()))
        stack.restart_service("postgres")
        after_pg = _capture_eventually(client, key, {"name": "陈静", "phone": "13600000003"}, str(uuid.uuid4()))

        def all_notified() -> bool:
            steps = [
                [e["step"] for e in client.get(f"/v1/leads/{lead_id}", headers=auth(key)).json()["timeline"]]
                for lead_id in (before, during_nats, after_pg)
            ]
            return all(s.count("notified") == 1 for s in steps)

        wait_until(all_notified, timeout=90, interval=0.5)
