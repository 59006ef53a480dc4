"""Bulk deduplication jobs: how long one takes, and what it costs the gRPC answers served meanwhile.

    .venv/bin/python -m tools.bench.dedup_job                      # 30,000 records, uploaded as CSV
    .venv/bin/python -m tools.bench.dedup_job --records 60000 --calls 300

customer-master runs as its own process (tools.devstack.Stack, nothing else), on an embedded PostgreSQL and
nats-server. The file is synthetic: Chinese company names (region + core + trade + legal form) where a third of the
companies come back in another written form (no region, another legal form, 集团 in brackets) and some carry a phone.
Printed: the job's wall time from StartDedupJob to done, its pairs and clusters, and GetCustomer latency
(p50/p99/max) from this process, first with the service idle, then while the job runs. Figures only: nothing here
asserts on time.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from tools.devstack import Stack
from tools.devstack.stack import SERVICES

REGIONS = ("", "杭州", "北京", "上海市", "深圳", "广州市", "成都", "浙江省", "江苏")
CHARS = (
    "华新金盛源泰宏达恒通利安信诚嘉瑞祥鑫隆兴昌明德润丰博创远鸿正天海方圆永宁康佳汇合众力东升"
    "甲乙丙丁戊己庚辛壬癸木水火土地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜"
    "龙凤麒麟松柏竹梅兰菊荷桂杨柳桃李杏梨枫桐江河湖山川峰岭石玉珠宝晶光辉耀星"
)
TRADES = ("科技", "贸易", "实业", "电子", "网络", "物流", "食品", "建设")
FORMS = ("有限公司", "股份有限公司", "有限责任公司", "(集团)有限公司", "")


def company_file(records: int, seed: int) -> bytes:
    """A CSV of synthetic companies, a third of them written twice in another form."""
    rng = random.Random(seed)
    rows = ["ref,company,phone"]
    n = 0
    while n < records:
        region, core, trade = rng.choice(REGIONS), "".join(rng.sample(CHARS, 3)), rng.choice(TRADES)
        phone = f"+86139{rng.randrange(10**8):08d}" if rng.random() < 0.3 else ""
        forms = [rng.choice(FORMS)] + ([rng.choice(FORMS)] if rng.random() < 1 / 3 else [])
        for k, form in enumerate(forms):
            prefix = region if k == 0 else rng.choice(("", region))
            rows.append(f"r{n},{prefix}{core}{trade}{form},{phone if k == 0 else ''}")
            n += 1
    return ("\n".join(rows[: records + 1]) + "\n").encode()


def latencies(stub: customer_pb2_grpc.CustomerServiceStub, customer_id: str, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=10)
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return f"p50 {at(0.5):6.2f} ms  p99 {at(0.99):6.2f} ms  max {ordered[-1]:7.2f} ms  ({len(values)} calls)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--calls", type=int, default=300, help="GetCustomer calls measured while idle")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    data = company_file(args.records, args.seed)
    spec = next(s for s in SERVICES if s.name == "customer-master")
    with tempfile.TemporaryDirectory(prefix="crm-bench-dedup-") as tmp:
        stack = Stack(
            Path(tmp),
            services=[spec],
            gateway=None,
            log_level="WARNING",
            env_overrides={"CRM_DEDUP_POLL_SECONDS": "0.2"},
        )
        with stack, stack.channel("customer-master") as channel:
            stub = customer_pb2_grpc.CustomerServiceStub(channel)
            created = stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(company="基准测试有限公司"), timeout=10)
            customer_id = created.customer.id
            latencies(stub, customer_id, 50)
            idle = latencies(stub, customer_id, args.calls)

            started = time.perf_counter()
            job = stub.StartDedupJob(customer_pb2.StartDedupJobRequest(scope="file", file=data), timeout=60).job
            accepted = time.perf_counter() - started
            during: list[float] = []
            # The slowest batches of calls and what the job was doing right after them (where a stall comes from).
            stalls: list[tuple[float, str]] = []
            while True:
                batch = latencies(stub, customer_id, 20)
                during.extend(batch)
                got = stub.GetDedupJob(customer_pb2.GetDedupJobRequest(job_id=job.id, cluster_limit=1), timeout=10)
                phase = f"{got.job.status}: {got.job.pairs_scored}/{got.job.candidate_pairs} pairs scored"
                stalls.append((max(batch), phase))
                if got.job.status in ("done", "failed"):
                    break
            wall = time.perf_counter() - started
            final = got.job

    print(f"file: {args.records} records, {len(data) / 1e6:.2f} MB CSV; accepted (parsed, stored) in {accepted:.2f} s")
    print(f"job: {final.status} {final.error} in {wall:.1f} s from StartDedupJob to done")
    print(f"     {final.candidate_pairs} candidate pairs scored, {final.clusters_found} clusters")
    print(f"GetCustomer idle:        {summary(idle)}")
    print(f"GetCustomer during job:  {summary(during)}")
    for slowest, phase in sorted(stalls, reverse=True)[:3]:
        print(f"  slowest call {slowest:7.1f} ms, then the job was {phase}")


if __name__ == "__main__":
    main()
