"""A private, real Ray cluster on this machine for tests of ``batch --engine ray``: a head node
and a separate worker node, started with the same ``ray start`` commands a researcher runs on a
real cluster (README, "On a cluster"), and stopped without touching anybody else's Ray.

    cluster = RayCluster()
    os.environ.update(cluster.driver_env())      # its token: before Ray is first imported
    with cluster:
        ray.init(address=cluster.address)        # "IP:PORT" of the head's GCS
        ...
        ray.shutdown()
    cluster.processes()                          # [] again: every process it started is gone
    # another process joins it as a driver: env={**os.environ, **cluster.driver_env()}

How it is wired, and why:

* Each node is one ``ray start ... --block`` child of ours. ``--block`` keeps it in the
  foreground as the parent of the node's processes (GCS, raylet, agents, log monitor; the
  raylet's Python workers): on SIGTERM it drains the node and ends them itself, and with
  Ray's kernel fate-sharing (PR_SET_PDEATHSIG on Linux) they die with it if it is killed. It
  gets PR_SET_PDEATHSIG too, so a killed test session takes the cluster with it. Never
  ``ray stop``: it ends every Ray process of the user, other sessions' clusters included.
  Not ``ray.cluster_utils.Cluster``: it manages the nodes from inside the test process and
  writes their address into the shared /tmp/ray, and is not what a researcher runs.
* Everything lives in a fresh folder /tmp/cm-ray-XXXXXXXX, one ``--temp-dir`` per node in it
  (``head``, ``worker1``, ...); nothing goes to Ray's shared /tmp/ray. Every process of the
  cluster inherits ``CM_RAY_CLUSTER=<that folder>`` in its environment, which is how
  :meth:`processes` finds them (for the memory figure, and for :meth:`stop`'s last sweep,
  which kills only those).
  The folder is short on purpose: Ray puts unix sockets in it (paths are limited to ~107 bytes).
* The address: Ray on Linux replaces a loopback node address (``--node-ip-address
  127.0.0.1``) by the machine's own routable one (``resolve_ip_for_localhost``: other nodes must
  reach it), so the nodes are started on that address explicitly, the one a driver on this
  machine also finds for itself. Traffic to the machine's own address stays on the host.
  The ports are free ones picked here (the GCS port, and each node's dashboard-agent port,
  whose fixed default 52365 two nodes on one machine would both take); the others are the
  kernel's pick (0), as ``ray.cluster_utils.Cluster`` does it.
* Token authentication on, with the cluster's own random token (``RAY_AUTH_MODE=token``,
  ``RAY_AUTH_TOKEN``) in the nodes' environment, which a driver needs too
  (:meth:`driver_env`): the GCS listens on every interface, and without a token anyone who
  reaches the port runs code here. Set explicitly because Ray 2.60 decides otherwise by the
  user's home: a ``~/.ray/auth_token`` turns token mode on, and a plain ``ray.init()``
  writes one. Nothing is read from or written to ``~/.ray``. A driver process reads
  RAY_AUTH_MODE once, when it first imports Ray (``ray._raylet.Config.initialize("")``
  reads it again, as Ray's own switch to token mode does).
* Quiet and offline: no dashboard, usage statistics off (``--disable-usage-stats`` and
  ``RAY_USAGE_STATS_ENABLED=0``), a small object store (the batch moves part files, not
  audio). ``--num-cpus`` per node bounds how many tasks and actors each node runs at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from testkit import ports
from testkit.harness import Harness, end_process

READY_LINE = "This command will now block forever"  # ray start --block, once its node is up
OBJECT_STORE_BYTES = 150 * 1024 * 1024  # what ray.cluster_utils.Cluster gives each node
QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
MARK = "CM_RAY_CLUSTER"  # in the environment of every process of a cluster: its folder
_PR_SET_PDEATHSIG = 1


class RayClusterError(RuntimeError):
    pass


def available() -> tuple[bool, str]:
    """Can a cluster be started here? ``(False, reason)`` when Ray or its ``ray`` program is
    missing (``pip install -e '.[cluster]'``, scripts/setup.sh)."""
    try:
        import ray  # noqa: F401  (the driver side: tests connect with ray.init)
    except ImportError:
        return False, "Ray is not installed (pip install -e '.[cluster]'; scripts/setup.sh)"
    if _ray_program() is None:
        return False, f"the `ray` program is not next to {sys.executable}"
    return True, "ray installed"


def _ray_program() -> str | None:
    """The ``ray`` CLI of the interpreter running the tests, so the nodes run the same Ray and
    the same Python (with the same ``PYTHONPATH``) as the driver."""
    path = Path(sys.executable).parent / "ray"
    return str(path) if os.access(path, os.X_OK) else shutil.which("ray")


def free_port() -> int:
    """A TCP port nobody is bound to on any interface (the GCS binds them all)."""
    return ports.free_port(host="")


def node_ip() -> str:
    """The address Ray gives a node on this machine (see the module docstring)."""
    from ray._private.services import get_node_ip_address

    return get_node_ip_address()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # SIGTERM, not SIGKILL: ray start then drains its node and ends the node's processes.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Node:
    """One ``ray start --block`` child: its process, its ``--temp-dir`` and its output file."""

    name: str
    process: subprocess.Popen
    temp_dir: Path
    log_path: Path

    def log(self, tail: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-tail:])


@dataclass(frozen=True)
class Usage:
    """What the cluster's processes hold: their count, resident and proportional set sizes."""

    processes: int
    rss_mib: float
    pss_mib: float  # shared pages counted once across the processes: the fairer total


class RayCluster(Harness):
    """A head node and ``workers`` worker nodes, ``num_cpus`` CPUs each; :meth:`stop` leaves no
    process and no files."""

    def __init__(self, workers: int = 1, num_cpus: int = 1) -> None:
        self.workers = workers
        self.num_cpus = num_cpus
        self.dir: Path | None = None
        self.ip: str | None = None
        self.port: int | None = None
        self.nodes: list[Node] = []
        self.start_s: float | None = None  # wall time of start(), for the figure
        self.token = secrets.token_hex(32)  # as `ray get-auth-token --generate` makes one

    @property
    def address(self) -> str:
        """``IP:PORT`` of the head's GCS: ``ray.init(address=...)``, ``ray start --address``."""
        if self.ip is None or self.port is None:
            raise RayClusterError("cluster not started")
        return f"{self.ip}:{self.port}"

    def driver_env(self) -> dict[str, str]:
        """The environment a Ray driver of this cluster needs (its token; no usage stats)."""
        return {**QUIET_ENV, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    # -- life cycle -------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        """Start the head, then the worker nodes, each waited for until it is registered."""
        if self.dir is not None:
            raise RayClusterError("cluster already started")
        began = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="cm-ray-", dir="/tmp"))
        self.ip, self.port = node_ip(), free_port()
        self._start_node("head", ["--head", "--port", str(self.port),
                                  "--include-dashboard", "false"], timeout)
        for i in range(1, self.workers + 1):
            self._start_node(f"worker{i}", ["--address", self.address], timeout)
        self.start_s = time.monotonic() - began

    def stop(self) -> None:
        """SIGTERM each node (workers first: the head's GCS must outlive them), then kill any
        process still carrying the cluster's folder, then remove the folder."""
        for node in reversed(self.nodes):
            end_process(node.process, signal.SIGTERM, timeout=45)  # drains for up to 30 s
        self.nodes = []
        if self.dir is not None:
            self._sweep(timeout=10)
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    # -- measuring -------------------------------------------------------------------------

    def processes(self) -> list[int]:
        """The pids of every live process of this cluster: the ``ray start`` children and all
        that Ray started for them, found by the mark in their environment (inherited by every
        descendant, kept when a process is re-parented or renames itself as Ray's workers do:
        ``ray::ClassName``)."""
        if self.dir is None:
            return []
        mark = f"{MARK}={self.dir}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and entry.name != str(os.getpid()):
                with contextlib.suppress(OSError):
                    if mark in (entry / "environ").read_bytes().split(b"\0"):
                        pids.append(int(entry.name))
        return sorted(pids)

    def node_of(self, pid: int) -> Node | None:
        """The node whose ``ray start`` process ``pid`` descends from (a worker of that node's
        raylet, say), or None when it is no process of this cluster's nodes."""
        by_pid = {node.process.pid: node for node in self.nodes}
        while pid > 1:
            if pid in by_pid:
                return by_pid[pid]
            pid = _parent(pid)
        return None

    def usage(self) -> Usage:
        """Memory held by the cluster's processes now (from /proc/PID/smaps_rollup)."""
        rss = pss = 0
        pids = self.processes()
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = _rollup(Path(f"/proc/{pid}/smaps_rollup").read_text())
                rss += fields.get("Rss", 0)
                pss += fields.get("Pss", 0)
        return Usage(len(pids), rss / 1024, pss / 1024)

    # -- internals ---------------------------------------------------------------------------

    def _start_node(self, name: str, role_args: list[str], timeout: float) -> None:
        assert self.dir is not None
        program = _ray_program()
        if program is None:
            raise RayClusterError(available()[1])
        temp_dir = self.dir / name
        log_path = self.dir / f"{name}.out"
        args = [program, "start", *role_args, "--block", "--node-ip-address", str(self.ip),
                "--num-cpus", str(self.num_cpus), "--temp-dir", str(temp_dir),
                "--object-store-memory", str(OBJECT_STORE_BYTES),
                "--dashboard-agent-listen-port", str(free_port()),
                "--min-worker-port", "0", "--max-worker-port", "0",
                "--disable-usage-stats", "--log-style", "record", "--log-color", "false"]
        env = {**os.environ, **self.driver_env(), MARK: str(self.dir)}
        with open(log_path, "ab") as log:
            process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        node = Node(name, process, temp_dir, log_path)
        self.nodes.append(node)
        _wait_ready(node, timeout)

    def _sweep(self, timeout: float) -> None:
        """Kill whatever of ours outlived its node (a worker busy past the drain, say)."""
        deadline = time.monotonic() + timeout
        while (pids := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _wait_ready(node: Node, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while READY_LINE not in node.log(tail=200):
        if node.process.poll() is not None:
            raise RayClusterError(f"ray start ({node.name}) exited with "
                                  f"{node.process.returncode}:\n{node.log()}")
        if time.monotonic() > deadline:
            raise RayClusterError(f"ray start ({node.name}) not ready within {timeout} s:\n"
                                  f"{node.log()}")
        time.sleep(0.1)


def _parent(pid: int) -> int:
    """The parent pid from /proc/PID/stat (0 once the process is gone). The command name,
    field 2, is in parentheses and may hold spaces, so the fields after its last ")" count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _rollup(text: str) -> dict[str, int]:
    """``Name: N kB`` lines of smaps_rollup as ``{name: kB}``."""
    fields = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            fields[parts[0].rstrip(":")] = int(parts[1])
    return fields
