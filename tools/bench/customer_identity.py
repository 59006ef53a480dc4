"""Customer identity through the live stack: every listed company's full, short and former names, captured by
different people, and how many end as one customer.

    .venv/bin/python -m tools.bench.customer_identity                 # every name of shared/bench-data/cn_listed
    .venv/bin/python -m tools.bench.customer_identity --limit 200 --concurrency 4 --workdir /tmp/identity  # keep logs

Starts the whole stack (`tools.devstack.Stack`, log level WARNING) on a PostgreSQL and NATS of its own. For each of
the 1,726 Shanghai main-board companies (read from the bench data, never copied), one person's lead names the full
name (`POST /v1/leads`), then another person's lead the short name, then one more person's lead per former short
name, each with its own mobile, mailbox and name. Companies are captured `--concurrency` at a time, each company's
leads in order. Every name is also asked of `POST /v1/customers/match`. Printed:

- errors: captures answered other than 201, captured leads left without a customer, match calls answered 5xx;
- the match calls' latency (p50, p99, slowest), as the bench's client saw it;
- short ↔ full (and former ↔ full) pairs that ended as one customer, and how many of those the account decision
  (`customer_master.matching.score_pair`, the one function of every path) predicts from the pair alone:
  the stack can differ only where another customer in the base scores higher than the pair's own.

Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from customer_master.matching import AUTO_MATCH, MatchRules, Record, score_pair
from tools.bench.company_names import person_name
from tools.devstack import Stack


def pair_decision(a: Record, b: Record, rules: MatchRules | None = None) -> str:
    """The decision the service takes on a pair (auto_match, review, no_match): the account decision itself."""
    return score_pair(a, b, rules or MatchRules()).decision


def person(rng: random.Random) -> dict[str, str]:
    """Another person: a name, a mobile and a personal mailbox of their own."""
    return {
        "name": person_name(rng),
        "phone": f"+86 139 {rng.randrange(10**8):08d}",
        "email": f"{uuid.uuid4().hex[:12]}@qq.com",
    }


class Run:
    """One benchmark run against a started stack: counters and the pairs' outcomes."""

    def __init__(self, client: httpx.AsyncClient, key: str, seed: int) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}
        self.rng = random.Random(seed)
        self.errors: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        # kind (short, former) -> [(one customer, predicted one customer)]
        self.pairs: dict[str, list[tuple[bool, bool]]] = {"short": [], "former": []}
        self.apart: list[tuple[str, str]] = []
        # (name, full name, the company of the customer the name went to instead) where stack and decision differ
        self.differ: list[tuple[str, str, str]] = []
        self.retries = 0
        # Seconds each match call took, answered or not.
        self.match_seconds: list[float] = []

    def _error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, detail[:200])

    async def capture(self, company: str, who: dict[str, str]) -> str | None:
        """The customer id of a new lead naming the company, or None (counted as an error)."""
        body = {**who, "company": company, "source": {"channel": "web_form", "utm_source": "bench"}}
        headers = {**self.headers, "Idempotency-Key": f"identity-{uuid.uuid4()}"}
        try:
            response = await self.client.post("/v1/leads", json=body, headers=headers)
        except httpx.TransportError:
            # A keep-alive connection the server closed as it was reused: sent again under the same key (a repeat
            # is answered with the first lead), and counted apart from the stack's own errors.
            self.retries += 1
            try:
                response = await self.client.post("/v1/leads", json=body, headers=headers)
            except httpx.HTTPError as exc:
                self._error("capture failed", f"{company}: {exc!r}")
                return None
        if response.status_code not in (200, 201):
            self._error(f"capture answered {response.status_code}", f"{company}: {response.text}")
            return None
        customer_id = response.json().get("customer_id")
        if not customer_id:
            self._error("lead without a customer", company)
        return customer_id

    async def company_of(self, customer_id: str) -> str:
        """The company name of a customer, as stored."""
        response = await self.client.get(f"/v1/customers/{customer_id}", headers=self.headers)
        return response.json().get("company", "?") if response.status_code == 200 else "?"

    async def match(self, company: str) -> None:
        """Ask MatchCustomer about the name; a 5xx is an error (a 422 would be a refusal naming the field)."""
        started = time.perf_counter()
        try:
            response = await self.client.post("/v1/customers/match", json={"company": company}, headers=self.headers)
        except httpx.HTTPError as exc:
            self._error("match failed", f"{company}: {exc!r}")
            return
        finally:
            self.match_seconds.append(time.perf_counter() - started)
        if response.status_code >= 500:
            self._error(f"match answered {response.status_code}", f"{company}: {response.text}")

    async def company(self, full: str, short: str, former: list[str]) -> None:
        """The full name by one person, then the short and former names by others; each name matched too."""
        first = person(self.rng)
        anchor = await self.capture(full, first)
        full_record = Record(company=full, phone=first["phone"].replace(" ", ""), email=first["email"])
        for kind, names in (("short", [short]), ("former", former)):
            for name in names:
                other = person(self.rng)
                customer = await self.capture(name, other)
                if anchor is None or customer is None:
                    continue
                record = Record(company=name, phone=other["phone"].replace(" ", ""), email=other["email"])
                predicted = pair_decision(record, full_record) == AUTO_MATCH
                self.pairs[kind].append((customer == anchor, predicted))
                if (customer == anchor) != predicted and len(self.differ) < 30:
                    self.differ.append((name, full, await self.company_of(customer)))
                if customer != anchor and len(self.apart) < 15:
                    self.apart.append((name, full))
        for name in (full, short, *former):
            await self.match(name)


async def run(gateway: str, key: str, companies: list[tuple[str, str, list[str]]], args: argparse.Namespace) -> Run:
    """Capture every company, args.concurrency at a time."""
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as client:
        bench = Run(client, key, args.seed)
        queue: asyncio.Queue[tuple[str, str, list[str]]] = asyncio.Queue()
        for item in companies:
            queue.put_nowait(item)

        async def worker() -> None:
            while not queue.empty():
                await bench.company(*queue.get_nowait())

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return bench


def listed_companies(limit: int | None) -> list[tuple[str, str, list[str]]]:
    """(full name, short name, former short names) of every company of the bench data."""
    # Imported here: the bench data reader needs the `bench` extra (pandas), which the tests that use
    # pair_decision do not install.
    from tools.bench import matching_data

    lookup = matching_data.cn_listed()
    short: dict[int, str] = {}
    former: dict[int, list[str]] = {}
    for name, index in lookup.queries:
        if index in short:
            former.setdefault(index, []).append(name)
        else:
            short[index] = name
    rows = [(full, short[i], former.get(i, [])) for i, full in enumerate(lookup.full_names)]
    return rows[:limit] if limit else rows


def report(bench: Run, seconds: float, companies: int) -> None:
    """Print the figures."""
    print(f"{companies} companies captured in {seconds:.0f} s")
    print(f"errors: {sum(bench.errors.values())}")
    for kind, count in sorted(bench.errors.items()):
        print(f"  {kind}: {count} (e.g. {bench.examples[kind]})")
    for kind, outcomes in bench.pairs.items():
        one = sum(same for same, _ in outcomes)
        predicted = sum(p for _, p in outcomes)
        agree = sum(same == p for same, p in outcomes)
        print(
            f"{kind} <-> full, different people: {one} of {len(outcomes)} pairs one customer "
            f"({100 * one / max(len(outcomes), 1):.1f} %); the account decision alone predicts {predicted}; "
            f"stack and decision agree on {agree}"
        )
    if bench.match_seconds:
        ms = sorted(1000 * s for s in bench.match_seconds)
        p50, p99 = ms[len(ms) // 2], ms[min(len(ms) - 1, (99 * len(ms)) // 100)]
        print(f"match calls: {len(ms)}, p50 {p50:.0f} ms, p99 {p99:.0f} ms, slowest {ms[-1]:.0f} ms")
    print(f"captures sent again after a dropped keep-alive connection: {bench.retries}")
    if bench.differ:
        print("pairs where the stack and the pair's own decision differ (name | full name | customer it went to):")
        for name, full, went in bench.differ:
            print(f"  {name}  |  {full}  |  {went}")
    if bench.apart:
        print("some pairs left as two customers:")
        for name, full in bench.apart:
            print(f"  {name}  |  {full}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N companies")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workdir", help="keep the stack's data and logs here (default: a temporary directory)")
    args = parser.parse_args()
    companies = listed_companies(args.limit or None)
    with tempfile.TemporaryDirectory(prefix="crm-bench-identity-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        stack = Stack(workdir, env_overrides={"CRM_LOG_LEVEL": "WARNING"}, log_level="WARNING")
        stack.start()
        try:
            started = time.perf_counter()
            bench = asyncio.run(run(stack.info["gateway_url"], stack.api_key, companies, args))
            report(bench, time.perf_counter() - started, len(companies))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
