"""The private Ray cluster the Ray engine's tests run on (testkit/ray_cluster.py), and Ray
actors that each load the speech recogniser once and keep it for every call they get: what
``batch --engine ray`` builds on.

A real cluster: a head node and a worker node, each its own ``ray start`` process tree, joined
over the network as the machines of a real cluster are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.asr.whisper import WhisperRecognizer
from monitor.pcm import int16_to_float
from monitor.text import error_rate
from testkit.ray_cluster import RayCluster

try:
    import ray
except ImportError:  # the ray_cluster fixture skips these tests, or fails them on CI
    ray = None

AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio" / "zh"
CLIPS = ["a_greet_ok", "c_recharge", "a_confirm_fast", "c_bye", "a_close_thanks",
         "a_ask_problem"]


@pytest.fixture(scope="module")
def driver(ray_cluster: RayCluster) -> Iterator[RayCluster]:
    """This process connected to the session's cluster as a Ray driver, for the module."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in ray_cluster.driver_env().items():
            env.setenv(name, value)
        # Ray reads RAY_AUTH_MODE into its C++ configuration once, when it is imported (at
        # collection here); refresh it as Ray's own switch to token mode does. A driver
        # that is a process of its own (the CLI) has the variables from its start.
        from ray._raylet import Config

        Config.initialize("")
        ray.init(address=ray_cluster.address, log_to_driver=False)
        # The actor classes below go to the workers by value: a test module is not
        # importable there.
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        try:
            yield ray_cluster
        finally:
            ray.shutdown()


@pytest.mark.slow
def test_the_cluster_refuses_a_driver_without_its_token(ray_cluster: RayCluster) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    # One connection attempt for the refused driver: Ray's ~20 retries a second apart end
    # the same way, with the same error (RAY_gcs_server_port_wait_time_s counts them).
    wrong = {**ray_cluster.driver_env(), "RAY_AUTH_TOKEN": "0" * 64,
             "RAY_gcs_server_port_wait_time_s": "1"}
    probe = (f"import ray; ray.init(address={ray_cluster.address!r}); "
             "print(ray.cluster_resources()['CPU'])")
    joined = subprocess.run([sys.executable, "-c", probe],
                            env={**env, **ray_cluster.driver_env()},
                            capture_output=True, text=True, timeout=120)
    assert joined.returncode == 0 and joined.stdout.split()[-1] == "2.0", joined.stderr[-2000:]
    refused = subprocess.run([sys.executable, "-c", probe], env={**env, **wrong},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "InvalidAuthToken" in refused.stderr, refused.stderr[-2000:]


def one_actor_per_node(cls: type, cluster: RayCluster, *args: object) -> list[Any]:
    """An actor of ``cls`` on each node of ``cluster``, each taking its node's one CPU."""
    remote = ray.remote(num_cpus=1)(cls)
    return [remote.options(scheduling_strategy="SPREAD").remote(*args) for _ in cluster.nodes]


class Where:
    """An actor that says where it runs."""

    def where(self) -> tuple[str, int]:
        return ray.get_runtime_context().get_node_id(), os.getpid()


def test_the_cluster_is_a_head_and_a_separate_worker_node(driver: RayCluster) -> None:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert [n["Resources"]["CPU"] for n in nodes] == [1.0, 1.0]

    actors = one_actor_per_node(Where, driver)  # held: an actor ends with its last handle
    places = ray.get([a.where.remote() for a in actors])
    assert {node_id for node_id, _pid in places} == {n["NodeID"] for n in nodes}
    # Each actor is a process of another node's own `ray start` process tree.
    assert {driver.node_of(pid).name for _node_id, pid in places} == {"head", "worker1"}
    # processes() finds exactly the nodes' process trees.
    found = driver.processes()
    assert {pid for _node_id, pid in places} <= set(found)
    assert all(driver.node_of(pid) is not None for pid in found)


def test_stopping_a_cluster_ends_its_processes_and_no_other(driver: RayCluster) -> None:
    with RayCluster(workers=0) as other:
        theirs, folder = other.processes(), other.dir
        assert len(theirs) > 3 and all(other.node_of(pid) is other.nodes[0] for pid in theirs)
        assert not set(theirs) & set(driver.processes())
    assert other.processes() == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in theirs)
    assert folder is not None and not folder.exists()
    # The session's cluster runs on, both nodes.
    assert all(node.process.poll() is None for node in driver.nodes)
    places = ray.get([a.where.remote() for a in one_actor_per_node(Where, driver)])
    assert len({node_id for node_id, _pid in places}) == 2


class Transcriber:
    """A worker that loads the recogniser once, when it starts, and decodes every clip it is
    given with it."""

    def __init__(self) -> None:
        from monitor.asr import load_recognizer
        from monitor.config import load_config

        cfg = load_config("zh-CN")
        self.recognizer = load_recognizer(cfg.asr, cfg.language, backend="whisper")
        self.calls = 0

    def transcribe(self, path: str) -> tuple[str, int, int, int]:
        """The clip's text; this process, how many clips it has decoded, and how many models
        it holds (monitor.asr's per-process cache): one, however many clips."""
        from monitor import asr

        self.calls += 1
        text, _words = self.recognizer.transcribe(read_clip(Path(path)))
        return text, os.getpid(), self.calls, len(asr._cache)


def read_clip(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return int16_to_float(samples)


@pytest.mark.slow
def test_an_actor_per_node_loads_whisper_once_and_decodes_every_clip_it_gets(
        driver: RayCluster, whisper_zh: WhisperRecognizer) -> None:
    manifest = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))
    workers = one_actor_per_node(Transcriber, driver)
    pending = [workers[i % len(workers)].transcribe.remote(str(AUDIO / f"{name}.wav"))
               for i, name in enumerate(CLIPS)]
    answers = ray.get(pending)

    served: dict[int, list[tuple[int, int, int]]] = {}
    for i, (name, (text, pid, calls, models)) in enumerate(zip(CLIPS, answers, strict=True)):
        # What this process's own recogniser makes of the clip, and the words the clip says.
        assert text == whisper_zh.transcribe(read_clip(AUDIO / f"{name}.wav"))[0], name
        assert error_rate(manifest[name]["text"], text, "zh") <= 0.35, (name, text)
        served.setdefault(i % len(workers), []).append((pid, calls, models))
    # Each worker decoded its three clips in turn in one process holding one model, and the
    # two workers ran on the two nodes.
    for answers_of_one in served.values():
        assert [(calls, models) for _pid, calls, models in answers_of_one] == \
            [(1, 1), (2, 1), (3, 1)]
        assert len({pid for pid, _calls, _models in answers_of_one}) == 1
    pids = [answers_of_one[0][0] for answers_of_one in served.values()]
    assert {driver.node_of(pid).name for pid in pids} == {"head", "worker1"}
