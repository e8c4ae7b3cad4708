"""What matching every phrase family costs per utterance: the price of tolerant patterns.

    .venv/bin/python scripts/bench_phrases.py [--rounds 3]

Every utterance of the phrase set (``scenarios/phrases``) is handed to every family's matcher,
as the rules do for each utterance an agent says (and, live, for each agreed partial). Printed
per language: utterances, families, patterns expanded to chains, and the time per utterance
(median and p95 over utterances, best of ``--rounds``), with the pinyin and Metaphone caches
warm as they are a few minutes into a call.
"""

from __future__ import annotations

import argparse
import statistics
import time

from monitor.config import load_config
from monitor.engine.phrase_match import family_matchers
from monitor.frames import Utterance
from monitor.text import normalize_text
from testkit.phrase_set import LANGUAGES, load_phrase_set

PROFILES = {"zh": "zh-CN", "en": "en-US"}


def bench(language: str, rounds: int) -> str:
    matchers = family_matchers(load_config(PROFILES[language]))
    texts = [normalize_text(item.text, language) for item in load_phrase_set(language)]
    utterances = [Utterance("agent", 0.0, 1.0, t) for t in texts]
    for u in utterances:  # warm the caches
        for m in matchers.values():
            m.find(u)
    best: list[float] = [float("inf")] * len(utterances)
    for _ in range(rounds):
        for i, u in enumerate(utterances):
            started = time.perf_counter()
            for m in matchers.values():
                m.find(u)
            best[i] = min(best[i], time.perf_counter() - started)
    ms = sorted(1000 * t for t in best)
    chains = sum(m.chain_count for m in matchers.values())
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (f"{language}: {len(utterances)} utterances x {len(matchers)} families "
            f"({chains} chains): {statistics.median(ms):.2f} ms median, {p95:.2f} ms p95, "
            f"{ms[-1]:.2f} ms max per utterance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for language in LANGUAGES:
        print(bench(language, args.rounds))


if __name__ == "__main__":
    main()
