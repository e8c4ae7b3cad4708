"""``--engine ray [--address ADDR]``: the calls of a batch on Ray workers, with the same per-call
work as ``--jobs`` (``monitor.batch.analyse``) and merged by the same code (``finish_run``).

* Workers are Ray actors of one CPU each, as many as ``--jobs`` (default and at most: the
  CPUs of the cluster, so that no actor waits for a CPU that never frees). An actor loads the
  recogniser when it starts and keeps it for every call it is given, as a local worker does.
* Where results go: a worker sends its call's part (the file's text) back, and this process,
  the driver, writes it into DIR/parts (atomically, as the local engine does) the moment it
  arrives. So DIR exists only where the command runs: the nodes need no shared or writable
  output folder, and a part is on the driver's disk before the progress bar counts it. The
  recordings, call-events files, site configuration and models are read by the workers: they
  must be at the same paths on every node (README, "On a cluster").
* ``--resume``: the driver gives every worker the names of the parts DIR/parts holds; a worker
  that finds its call's name among them (same path, content and configuration: the name is
  their hash) answers "done before" without analysing it, and the driver reads that part.
* Without ``--address`` Ray is started on this machine for the run (``ray.init("local")``,
  never an instance someone else started); with it, the command joins that cluster as a
  driver. Either way Ray is shut down at the end: the actors end with the driver's job, after
  a signal too (the parts written so far are kept, ``--resume`` completes the run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.batch.analyse import CallResult, RunOptions, analyse_call, preload
from monitor.batch.inputs import CallTask
from monitor.batch.local import raise_on_signals
from monitor.batch.output import (
    BatchDir,
    Outcome,
    atomic_path,
    encode_part,
    outcome_of,
    part_name,
    read_part,
    work_clock,
)
from monitor.errors import CallmonitorError

QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
"""Recorded calls are private: Ray does not report usage (unless the user set it)."""
REACH_TIMEOUT_S = 10.0
"""How long the head of a cluster may take to accept a connection (a slow network)."""
CARRIED_ENV = ("CALLMONITOR_CONFIG", "CALLMONITOR_CONFIG_DIR", "CALLMONITOR_MODEL_DIR")
"""What of the command's environment decides a call's analysis: given to every worker, as a
local worker inherits it (a Ray worker has its node's environment, not the command's)."""


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker of a run is given once, when it starts."""

    run: RunOptions
    first: CallTask
    """The first call: the recogniser of its profile is loaded when the worker starts."""
    parts: str
    """DIR/parts as the driver sees it: where the parts the outcomes name are written."""
    existing: frozenset[str]
    """The names of the parts DIR/parts held when the run started (``--resume``), else none."""


@dataclass(frozen=True)
class Reply:
    """A worker's answer for one call."""

    index: int
    outcome: Outcome
    part: str | None
    """The part's text for the driver to write; None: done by an earlier run (``--resume``)."""


class CallWorker:
    """A Ray actor: loads the recogniser of the run's profile once, then analyses every call
    it is given with the local workers' code (``analyse_call``)."""

    def __init__(self, setup: WorkerSetup) -> None:
        self.setup = setup
        preload(setup.first, setup.run)

    def ready(self) -> bool:
        """Answers once the worker has started (its model loaded)."""
        return True

    def work(self, index: int, task: CallTask) -> Reply:
        since = work_clock()
        result = analyse_call(task, self.setup.run, self._done if self.setup.existing else None)
        part = Path(self.setup.parts) / _part_name(result)
        text = None if result.skipped else encode_part(result)
        # the driver writes the part: the worker's busy time ends with its text
        return Reply(index, outcome_of(result, part, since), text)

    def _done(self, result: CallResult) -> CallResult | None:
        """The call is done when DIR/parts holds its part; the driver reads it (``_land``)."""
        return result if _part_name(result) in self.setup.existing else None


def _part_name(result: CallResult) -> str:
    return part_name(str(result.task.path), result.sha256, result.config_hash)


def _land(reply: Reply) -> Outcome:
    """Write a fresh part where the outcome says; or read the part of a call done before
    (its worker knew only that it exists), keeping the worker's own figures."""
    path = Path(reply.outcome.part)
    if reply.part is not None:
        with atomic_path(path) as tmp:
            tmp.write_text(reply.part, encoding="utf-8")
        return reply.outcome
    earlier = dataclasses.replace(read_part(path), skipped=True)
    worker = reply.outcome
    return dataclasses.replace(outcome_of(earlier, path), host=worker.host, pid=worker.pid,
                               peak_rss_mib=worker.peak_rss_mib)


@contextlib.contextmanager
def connected(address: str | None, jobs: int | None) -> Iterator[int]:
    """This process as the driver of a Ray started here (no ``address``) or of the cluster at
    ``address``, for the ``with`` body; yields how many workers the run gets."""
    for name, value in {**QUIET_ENV, **({} if address else _own_token())}.items():
        os.environ.setdefault(name, value)  # before Ray is imported: it reads them then
    try:
        import ray
    except ImportError:
        raise CallmonitorError("--engine ray needs Ray, which is not installed",
                               "pip install -e '.[cluster]' (scripts/setup.sh does)") from None
    if address is not None:
        _check_reachable(address)
    # Joining, the cluster's own settings hold (Ray refuses num_cpus and the like).
    own: dict[str, Any] = {} if address else {"num_cpus": jobs, "include_dashboard": False}
    carried = {name: os.environ[name] for name in CARRIED_ENV if name in os.environ}
    with _core_log_held(joining=address is not None) as said:
        try:
            ray.init(address=address or "local", logging_level=logging.WARNING,
                     log_to_driver=False,
                     runtime_env={"env_vars": carried} if carried else None, **own)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise _refused(address, exc, said()) from None
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise CallmonitorError("the Ray cluster has no CPU for a worker",
                                   "start its nodes with --num-cpus 1 or more")
        yield min(jobs or cpus, cpus)
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _core_log_held(joining: bool) -> Iterator[Callable[[], str]]:
    """Hold back what Ray's C++ core writes straight to file descriptor 2 while this driver
    joins a cluster (``[... W ...] gcs_client.cc: Failed to get cluster ID ...``), so that a
    refused join ends in our one line, which says what the core's lines meant; a join that
    works passes them on. Yields what was held so far. Starting a Ray here holds nothing: the
    processes it starts would inherit the held descriptor."""
    if not joining:
        yield lambda: ""
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)

        def said() -> str:
            held.seek(0)
            return held.read().decode("utf-8", "replace")
        failed = False
        try:
            yield said
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not failed:
                sys.stderr.write(said())


def _refused(address: str | None, exc: Exception, core_said: str) -> CallmonitorError:
    where = f"cannot start or join Ray at {address or 'this machine'}"
    if "InvalidAuthToken" in core_said:
        return CallmonitorError(f"{where}: the cluster refused this driver's token",
                                "set RAY_AUTH_TOKEN to the token the cluster was started "
                                "with")
    return CallmonitorError(f"{where} ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                            "check --address (the head's IP:PORT) and that the cluster's "
                            "token, if any, is set (RAY_AUTH_TOKEN)")


def _check_reachable(address: str) -> None:
    """Refuse at once an ``IP:PORT`` where nothing listens: Ray itself would try to join it
    for minutes, printing a warning every few seconds."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # not IP:PORT ("auto", say): Ray's to resolve
    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        raise CallmonitorError(f"no Ray cluster answers at {address} "
                               f"({exc.strerror or type(exc).__name__})",
                               "give --address the head's IP and its --port") from None


def _own_token() -> dict[str, str]:
    """The Ray started for a run takes only drivers with its own random token (its ports are
    open on the machine's address). Set here because Ray 2.60 would otherwise write one to
    the user's ~/.ray/auth_token (which then turns every later Ray of the user to token mode)
    unless the user chose a mode (``RAY_AUTH_MODE``): then Ray does as they said."""
    if "RAY_AUTH_MODE" in os.environ:
        return {}
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def run_ray(tasks: list[CallTask], run: RunOptions, out: BatchDir, jobs: int, resume: bool,
            on_done: Callable[[Outcome], None]) -> list[Outcome]:
    """The ``Runner`` of ``--engine ray``, inside ``connected``: every call's outcome in input
    order; ``on_done`` hears each as its part is written. Raises ``Interrupted`` on a signal
    and a ``CallmonitorError`` when a worker is lost (the parts written so far are kept)."""
    import ray

    run = run.for_workers(jobs)
    existing = frozenset(p.name for p in out.parts.glob("*.json")) if resume else frozenset()
    setup = WorkerSetup(run, tasks[0], str(out.parts), existing)
    actor: Any = ray.remote(num_cpus=1)(CallWorker)
    workers = [actor.remote(setup) for _ in range(min(jobs, len(tasks)))]
    outcomes: list[Outcome | None] = [None] * len(tasks)
    with raise_on_signals():
        try:
            for reply in _deal(workers, tasks):
                outcome = outcomes[reply.index] = _land(reply)
                on_done(outcome)
        except ray.exceptions.RayError as exc:
            raise CallmonitorError(
                f"the Ray cluster lost a worker ({type(exc).__name__}); the calls done so far "
                f"are kept in {out.parts}", "run it again with --resume to complete it"
            ) from None
    return [o for o in outcomes if o is not None]


def _deal(workers: list[Any], tasks: list[CallTask]) -> Iterator[Reply]:
    """Every call's reply, as each arrives. A call goes to a worker once it has started and
    is free, so a worker that never starts (its CPU taken, or its node just lost while the
    cluster still counts it) holds no call up: the others do them all."""
    import ray

    waiting: dict[Any, tuple[Any, bool]] = {w.ready.remote(): (w, False) for w in workers}
    todo = iter(enumerate(tasks))
    left = len(tasks)
    while left:
        (ref,), _ = ray.wait(list(waiting), num_returns=1)
        worker, is_call = waiting.pop(ref)
        if is_call:
            left -= 1
            yield ray.get(ref)
        item = next(todo, None)
        if item is not None:
            waiting[worker.work.remote(*item)] = (worker, True)
