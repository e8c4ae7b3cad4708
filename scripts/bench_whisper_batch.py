"""What batching phrases would save Whisper on one CPU thread: encoder and decoder apart.

    .venv/bin/python scripts/bench_whisper_batch.py [--window 20] [--batches 1,2,4,8]

Every clip of the Mandarin library (``../shared/audio/zh``) is one phrase. Their features, in
one encoder window of ``--window`` seconds (a batch needs one length), go through CTranslate2's
Whisper ``encode`` and then greedy ``generate`` (the profile's language, no prompt), in batches
of each size. Prints the process CPU seconds of each half per batch size, and whether every
phrase's tokens are the ones the first batch size (1: alone) gave it (a batch must not change
the words, or a replay would no longer give the live timeline). The model runs on one thread
with the profile's kernels.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer

from monitor.asr import load_whisper
from monitor.config import load_config
from monitor.frames import SAMPLE_RATE_HZ
from testkit import synth

FRAMES_PER_S = 100  # Whisper's mel frames: a 10 ms hop


def features(model: Any, window_s: int) -> list[np.ndarray]:
    """Each library clip's mel features, padded or cut to ``window_s``."""
    frames = window_s * FRAMES_PER_S
    out = []
    for name in synth._manifest(synth.ZH_CLIPS_DIR):
        samples = synth.load_clip(name, SAMPLE_RATE_HZ).samples.astype(np.float32) / 32768.0
        mel = model.feature_extractor(samples, chunk_length=window_s)[:, :frames]
        out.append(np.pad(mel, ((0, 0), (0, frames - mel.shape[1]))))
    return out


def run(model: Any, prompt: list[int], mels: list[np.ndarray], batch: int
        ) -> tuple[float, float, list[list[int]]]:
    """CPU seconds of encoding and of decoding every phrase, ``batch`` at a time; the tokens."""
    encode_s = generate_s = 0.0
    tokens: list[list[int]] = []
    for i in range(0, len(mels), batch):
        part = np.ascontiguousarray(np.stack(mels[i:i + batch]))
        started = time.process_time()
        encoded = model.model.encode(ctranslate2.StorageView.from_array(part))
        encode_s += time.process_time() - started
        started = time.process_time()
        results = model.model.generate(encoded, [prompt] * len(part), beam_size=1,
                                       max_length=model.max_length, suppress_blank=True,
                                       suppress_tokens=[-1])
        generate_s += time.process_time() - started
        tokens += [r.sequences_ids[0] for r in results]
    return encode_s, generate_s, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=20, help="encoder window, whole seconds")
    parser.add_argument("--batches", default="1,2,4,8")
    args = parser.parse_args()
    cfg = load_config("zh-CN", {"asr": {"whisper_threads": 1}})
    model = load_whisper(cfg.asr, cfg.language)._model
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe",
                          language=cfg.asr.whisper_language)
    mels = features(model, args.window)
    print(f"{len(mels)} phrases (the Mandarin clip library), {args.window} s window, one thread")
    alone: list[list[int]] | None = None
    for batch in (int(b) for b in args.batches.split(",")):
        encode_s, generate_s, tokens = run(model, list(tokenizer.sot_sequence), mels, batch)
        alone = alone or tokens
        same = sum(a == b for a, b in zip(alone, tokens, strict=True))
        print(f"batch {batch}: encode {encode_s:6.2f} s  generate {generate_s:6.2f} s CPU  "
              f"tokens as decoded alone: {same}/{len(tokens)}")


if __name__ == "__main__":
    main()
