"""Real Redis topologies on 127.0.0.1 for the tests: a Cluster, a TLS server, a Sentinel-managed pair.

    python3 -m tests.topologies up DIR      # all three; writes DIR/env (export lines) and DIR/pids
    python3 -m tests.topologies down DIR    # stops every process it started

    with cluster(tmp_path) as topo: ...     # a topology of a test's own (the failover tests kill its nodes)
    topo.settings                           # {"redis_url": ..., "redis_mode": ..., ...} for a gateway

Everything here is the stock ``redis-server`` (Debian's package): ``--cluster-enabled`` for three masters
each with a replica (replicas are what a Cluster fails over to), ``--tls-port`` with a CA, server and
client certificates that ``openssl`` makes on the spot (nothing is committed), and ``--sentinel`` for three
sentinels watching a master and its replica. Short timeouts (a node is failed after 1 s) so a failover
takes seconds. Only the standard library: ``scripts/with-redis.sh`` runs this with the system python3.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_TIMEOUT_MS = 1000
SENTINEL_MASTER = "harmonia"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher, so under 55536) is free too."""
    import random

    for _ in range(1000):
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def cli(port: int, *args: str, tls: list[str] | None = None, timeout: float = 5.0) -> str:
    command = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *(tls or []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout).stdout


def wait_for(check: Any, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"redis topology: {what} did not happen within {seconds:.0f} s")


@dataclass
class Node:
    port: int
    process: subprocess.Popen[bytes]
    args: list[str]
    log: Path

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown (no last save, no goodbye to the cluster)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Topology:
    name: str
    workdir: Path
    settings: dict[str, Any]
    nodes: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)
    tls_args: list[str] = field(default_factory=list)   # redis-cli's, for this topology

    def start(self, port: int, args: list[str], name: str) -> Node:
        log = self.workdir / f"{name}.log"
        # No 5-second pause before a replica's first sync: a topology is in sync moments after it starts.
        command = ["redis-server", *args, "--repl-diskless-sync-delay", "0", "--port", str(port), "--bind",
                   "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.workdir), "--logfile", str(log), "--daemonize", "no"]
        if "--tls-port" in args:
            command[command.index("--port") + 1] = "0"  # TLS only: no plain port to fall back to
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        return Node(port, process, command, log)

    def pids(self) -> list[int]:
        return [n.process.pid for n in (*self.nodes, *self.sentinels)]

    def stop(self) -> None:
        for node in (*self.sentinels, *self.nodes):
            node.stop()

    def master_port(self) -> int:
        """Sentinel: the port the sentinels name as master now."""
        answer = cli(self.sentinels[0].port, "SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER).split()
        return int(answer[1])

    def masters(self) -> list[int]:
        """Ports of the masters now (a Cluster: every master; otherwise the one)."""
        if self.name == "cluster":
            alive = next(n for n in self.nodes if n.process.poll() is None)
            found = []
            for line in cli(alive.port, "CLUSTER", "NODES").splitlines():
                parts = line.split()
                if "master" in parts[2] and "fail" not in parts[2] and parts[7] == "connected":
                    found.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
            return found
        if self.name == "sentinel":
            return [self.master_port()]
        return [self.nodes[0].port]

    def master_of(self, key: str) -> Node:
        """The node that is master for ``key`` now (a Cluster: its slot's; a Sentinel pair: the master)."""
        if self.name == "sentinel":
            port = self.master_port()
        else:
            alive = next(n for n in self.nodes if n.process.poll() is None)
            slot = int(cli(alive.port, "CLUSTER", "KEYSLOT", key).strip())
            port = 0
            for line in cli(alive.port, "CLUSTER", "NODES").splitlines():
                parts = line.split()
                if "master" not in parts[2] or "fail" in parts[2]:
                    continue
                for span in parts[8:]:
                    low, _, high = span.partition("-")
                    if low.isdigit() and int(low) <= slot <= int(high or low):
                        port = int(parts[1].split("@")[0].rsplit(":", 1)[1])
        return next(n for n in self.nodes if n.port == port)

    def flush(self) -> None:
        for port in self.masters():
            cli(port, "FLUSHALL", tls=self.tls_args)


def cluster(workdir: Path, masters: int = 3) -> Topology:
    """Three masters and a replica each; slots spread by ``redis-cli --cluster create``."""
    workdir.mkdir(parents=True, exist_ok=True)
    ports = [free_cluster_port() for _ in range(masters * 2)]
    topo = Topology("cluster", workdir, {"redis_url": f"redis://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}",
                                         "redis_mode": "cluster"})
    try:
        for port in ports:
            topo.nodes.append(topo.start(port, ["--cluster-enabled", "yes", "--cluster-config-file",
                                                f"nodes-{port}.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                                                "--cluster-replica-validity-factor", "0"], f"cluster-{port}"))
        for port in ports:
            wait_for(lambda p=port: cli(p, "PING").strip() == "PONG", f"cluster node {port} answering")
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-replicas",
                        "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        for port in ports:
            wait_for(lambda p=port: "cluster_state:ok" in cli(p, "CLUSTER", "INFO"), f"cluster state ok on {port}")
        wait_for(lambda: len(topo.masters()) == masters, "every master known")
        for port in ports:  # a replica that has not synced yet would lose what a failover tests
            wait_for(lambda p=port: "role:master" in (info := cli(p, "INFO", "replication"))
                     or "master_link_status:up" in info, f"replica {port} in sync")
    except BaseException:
        topo.stop()  # its nodes run in sessions of their own: nothing else would stop them
        raise
    return topo


def tls(workdir: Path) -> Topology:
    """One server on a TLS port only, its certificate signed by a CA made here; clients must show one too."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca, server, client = _certificates(workdir)
    port = free_port()
    files = ["--tls-cert-file", str(server[0]), "--tls-key-file", str(server[1]), "--tls-ca-cert-file", str(ca),
             "--tls-auth-clients", "yes"]
    topo = Topology("tls", workdir, {"redis_url": f"rediss://localhost:{port}/0", "redis_tls_ca_file": str(ca),
                                     "redis_tls_cert_file": str(client[0]), "redis_tls_key_file": str(client[1])})
    topo.tls_args = ["--tls", "--cacert", str(ca), "--cert", str(client[0]), "--key", str(client[1])]
    try:
        topo.nodes.append(topo.start(port, ["--tls-port", str(port), *files], "tls"))
        wait_for(lambda: cli(port, "PING", tls=topo.tls_args).strip() == "PONG", "TLS server answering")
    except BaseException:
        topo.stop()  # its nodes run in sessions of their own: nothing else would stop them
        raise
    return topo


def sentinel(workdir: Path, sentinels: int = 3) -> Topology:
    """A master, its replica, and sentinels (quorum 2) that promote the replica 1 s after the master dies."""
    workdir.mkdir(parents=True, exist_ok=True)
    master, replica = free_port(), free_port()
    ports = [free_port() for _ in range(sentinels)]
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    topo = Topology("sentinel", workdir, {"redis_url": f"redis://{hosts}/0", "redis_mode": "sentinel",
                                          "redis_sentinel_master": SENTINEL_MASTER})
    try:
        topo.nodes.append(topo.start(master, [], "sentinel-master"))
        topo.nodes.append(topo.start(replica, ["--replicaof", "127.0.0.1", str(master)], "sentinel-replica"))
        wait_for(lambda: "master_link_status:up" in cli(replica, "INFO", "replication"), "replica in sync")
        for port in ports:
            conf = workdir / f"sentinel-{port}.conf"
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master} {min(2, sentinels)}\n"
                            f"sentinel down-after-milliseconds {SENTINEL_MASTER} {NODE_TIMEOUT_MS}\n"
                            f"sentinel failover-timeout {SENTINEL_MASTER} 5000\n"
                            f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n")
            log = workdir / f"sentinel-{port}.log"
            process = subprocess.Popen(["redis-server", str(conf), "--sentinel", "--logfile", str(log)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            topo.sentinels.append(Node(port, process, [], log))
        for port in ports:
            wait_for(lambda p=port: "slaves=1" in cli(p, "INFO", "sentinel") and f"sentinels={sentinels}"
                     in cli(p, "INFO", "sentinel"), f"sentinel {port} seeing the replica and its peers")
    except BaseException:
        topo.stop()  # its nodes run in sessions of their own: nothing else would stop them
        raise
    return topo


def _certificates(workdir: Path) -> tuple[Path, tuple[Path, Path], tuple[Path, Path]]:
    """A throwaway CA, and a server (``localhost``) and a client certificate it signed."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ca_key, ca = workdir / "ca.key", workdir / "ca.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=Harmonia test CA", "-keyout", str(ca_key), "-out", str(ca))
    made = []
    for name, extension in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                            ("client", "extendedKeyUsage=clientAuth")):
        key, csr, crt = workdir / f"{name}.key", workdir / f"{name}.csr", workdir / f"{name}.crt"
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                f"/CN=harmonia-{name}", "-keyout", str(key), "-out", str(csr))
        ext = workdir / f"{name}.ext"
        ext.write_text(extension + "\n")
        openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
                "-days", "2", "-extfile", str(ext), "-out", str(crt))
        made.append((crt, key))
    return ca, made[0], made[1]


@contextlib.contextmanager
def running(topology: Topology) -> Iterator[Topology]:
    try:
        yield topology
    finally:
        topology.stop()


def up(directory: Path) -> None:
    """Start every topology, write the environment the tests read, and the pids to stop."""
    started: list[Topology] = []
    try:
        for name, build in (("cluster", cluster), ("tls", tls), ("sentinel", sentinel)):
            started.append(build(directory / name))
    except BaseException:
        for topo in started:
            topo.stop()
        raise
    env = {f"HARMONIA_TEST_REDIS_{t.name.upper()}": json.dumps(t.settings) for t in started}
    (directory / "env").write_text("".join(f"export {k}={_quote(v)}\n" for k, v in env.items()))
    (directory / "pids").write_text("\n".join(str(p) for t in started for p in t.pids()) + "\n")


def down(directory: Path) -> None:
    pids_file = directory / "pids"
    if not pids_file.exists():
        return
    pids = [int(p) for p in pids_file.read_text().split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for pid in pids:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child we started and that exited stays a zombie until reaped: not alive.
    with contextlib.suppress(OSError):
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    return False


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("up", "down") or shutil.which("redis-server") is None:
        sys.exit("usage: python3 -m tests.topologies up|down DIR (redis-server on the PATH)")
    (up if sys.argv[1] == "up" else down)(Path(sys.argv[2]))
