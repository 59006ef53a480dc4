"""A 3-node NATS cluster with JetStream on loopback, each write synced to disk (`sync_interval: always`)."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from tools.devstack.infra import NatsServer, nats_server_binary
from tools.devstack.procs import ChildProcess, free_port

_CONFIG = """server_name: {name}
listen: 127.0.0.1:{port}
http: 127.0.0.1:{monitor_port}
jetstream {{
  store_dir: "{store}"
  # Jepsen's 2025 analysis of NATS 2.12: without it, a crash of a majority can lose acknowledged writes.
  sync_interval: always
}}
cluster {{
  name: crm
  listen: 127.0.0.1:{cluster_port}
  routes: [{routes}]
}}
"""


class ClusterNode(NatsServer):
    """One node: a NatsServer started from a cluster configuration file."""

    def __init__(self, base_dir: Path, *, name: str, cluster_port: int) -> None:
        super().__init__(base_dir)
        self.node_name = name
        self.cluster_port = cluster_port
        self.routes: list[int] = []

    def start(self, timeout: float | None = None) -> None:
        """Start the process; `NatsCluster.start` waits for the cluster, as one node alone has no quorum."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.base_dir / "nats.conf"
        routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in self.routes)
        config.write_text(
            _CONFIG.format(
                name=self.node_name,
                port=self.port,
                monitor_port=self.monitor_port,
                store=self.store_dir,
                cluster_port=self.cluster_port,
                routes=routes,
            )
        )
        self._proc = ChildProcess(
            self.node_name, [str(nats_server_binary()), "-c", str(config)], log_path=self.log_path
        )
        self._proc.start()
        if timeout is not None:
            self._wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL, as a node crash (its file store stays)."""
        if self._proc is not None:
            self._proc.send(signal.SIGKILL)
            self._proc.wait(10)
            self._proc.kill_group()


class NatsCluster:
    """Three ClusterNodes routed to each other; `url` lists them all for clients."""

    def __init__(self, base_dir: Path, size: int = 3) -> None:
        ports = [free_port() for _ in range(size)]
        self.nodes = [
            ClusterNode(Path(base_dir) / f"n{i + 1}", name=f"n{i + 1}", cluster_port=ports[i]) for i in range(size)
        ]
        for node in self.nodes:
            node.routes = [p for p in ports if p != node.cluster_port]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def start(self, timeout: float = 60.0) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node._wait_ready(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.begin_stop()
        for node in self.nodes:
            node.finish_stop(10)

    def node(self, name: str) -> ClusterNode:
        return next(node for node in self.nodes if node.node_name == name)

    def stream_leader(self, stream: str, timeout: float = 30.0) -> str:
        """The name of the node leading `stream`'s replicas (read from a live node's /jsz)."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if not node.running:
                    continue
                try:
                    url = f"{node.monitor_url}/jsz?streams=true&accounts=true"
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        jsz = json.load(resp)
                except OSError:
                    continue
                for account in jsz.get("account_details") or []:
                    for detail in account.get("stream_detail") or []:
                        leader = (detail.get("cluster") or {}).get("leader")
                        if detail.get("name") == stream and leader:
                            return str(leader)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no leader of {stream} found")
            time.sleep(0.2)
