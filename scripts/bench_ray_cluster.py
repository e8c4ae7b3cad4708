"""What the Ray engine's test cluster costs: start and stop time, and memory, idle and with a
speech recogniser loaded on each node.

    PYTHONPATH=$PWD .venv/bin/python scripts/bench_ray_cluster.py [--workers 1] [--asr whisper]

Starts testkit/ray_cluster.py's private cluster (a head node and ``--workers`` worker nodes,
one CPU each, each a ``ray start`` process tree), then prints:

* the start time (until every node is registered with the head) and the stop time;
* the cluster's processes and their memory, idle: resident (RSS, shared pages counted in every
  process) and proportional (PSS, shared pages split between the processes that map them);
* with one actor per node that loads the recogniser (``--asr whisper``: the zh-CN profile's
  Whisper model) and decodes a clip: the time to load it, the actor's peak resident memory,
  and the cluster's memory again;
* the load average, since other processes distort the times (memory figures are not).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from testkit.ray_cluster import RayCluster, Usage

CLIP = Path(__file__).resolve().parents[1].parent / "shared" / "audio" / "zh" / "a_greet_ok.wav"


class LoadedWorker:
    """A Ray actor holding the recogniser, as a batch worker does: loaded once, at start."""

    def __init__(self, backend: str) -> None:
        from monitor.asr import load_recognizer
        from monitor.config import load_config

        started = time.perf_counter()
        cfg = load_config("zh-CN")
        self.recognizer = load_recognizer(cfg.asr, cfg.language, backend=backend)
        self.load_s = time.perf_counter() - started

    def decode(self, path: str) -> dict[str, float | int | str]:
        """Decode one clip; where and what it cost (peak RSS: the process's high-water mark)."""
        import wave

        import numpy as np

        from monitor.pcm import int16_to_float

        with wave.open(path, "rb") as wav:
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        text, _words = self.recognizer.transcribe(int16_to_float(pcm))
        return {"pid": os.getpid(), "load_s": self.load_s, "text": text,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def show(label: str, usage: Usage) -> None:
    print(f"{label}: {usage.processes} processes, RSS {usage.rss_mib:.0f} MiB, "
          f"PSS {usage.pss_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="worker nodes beside the head")
    parser.add_argument("--asr", default="whisper", choices=["whisper", "vosk", "none"],
                        help="recogniser each node's actor loads (none: idle cluster only)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} cores)")
    cluster = RayCluster(workers=args.workers, num_cpus=1)
    # Before Ray is first imported (starting the cluster does): it reads RAY_AUTH_MODE once.
    os.environ.update(cluster.driver_env())
    with cluster:
        print(f"cluster start: {cluster.start_s:.1f} s ({len(cluster.nodes)} nodes, "
              f"{cluster.address})")
        show("idle", cluster.usage())
        if args.asr != "none":
            import ray

            ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
            actor = ray.remote(num_cpus=1)(LoadedWorker)
            workers = [actor.options(scheduling_strategy="SPREAD").remote(args.asr)
                       for _ in cluster.nodes]
            for answer in ray.get([w.decode.remote(str(CLIP)) for w in workers]):
                node = cluster.node_of(int(answer["pid"]))
                print(f"actor on {node.name if node else '?'}: {args.asr} loaded in "
                      f"{answer['load_s']:.1f} s, peak RSS {answer['peak_rss_mib']:.0f} MiB "
                      f"({answer['text']})")
            show(f"with a {args.asr} actor per node", cluster.usage())
            ray.shutdown()
        pids = cluster.processes()
        stopping = time.monotonic()
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    print(f"cluster stop: {time.monotonic() - stopping:.1f} s, processes left: {len(left)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
