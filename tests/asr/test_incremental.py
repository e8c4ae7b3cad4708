"""Words while they are spoken: LocalAgreement on decodes, and the open phrase's agreed words
from the real recognisers, fed the way the pipeline feeds them (VAD events at the clip
manifest's speech times, a poll every 20 ms)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import wave
from pathlib import Path

from monitor.asr.agreement import LocalAgreement, agreed_prefix
from monitor.asr.base import Recognizer
from monitor.asr.phrases import AsrEvent, PhraseRecognition
from monitor.config import load_config
from monitor.frames import (
    FRAME_BYTES,
    FRAME_S,
    Frame,
    PartialUtterance,
    Speech,
    SpeechStart,
    Utterance,
    Word,
)

AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio" / "zh"
ZH = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))
CFG = load_config("zh-CN")


def words(text: str, t0: float = 0.0) -> list[Word]:
    return [Word(t0 + i, t0 + i + 1, c, 1.0) for i, c in enumerate(text)]


def test_agreed_prefix_compares_units_not_times_or_case() -> None:
    assert agreed_prefix(words("您好诚美"), words("您好成美", 0.3)) == 2
    assert agreed_prefix([Word(0, 1, "Hello", 1)], [Word(0, 1, "hello", 1)]) == 1
    assert agreed_prefix(words("您好"), []) == 0


def test_local_agreement_commits_what_two_decodes_share_and_never_takes_it_back() -> None:
    agreement = LocalAgreement()
    assert not agreement.update(words("您好成"))  # one decode: nothing agreed yet
    assert agreement.update(words("您好诚美客"))
    assert "".join(w.text for w in agreement.committed) == "您好"
    assert agreement.update(words("您好诚美克服"))  # 客 / 克: agreed as far as 诚美
    assert "".join(w.text for w in agreement.committed) == "您好诚美"
    assert agreement.update(words("您好诚美克服"))  # two decodes now agree on 克服
    assert "".join(w.text for w in agreement.committed) == "您好诚美克服"
    assert agreement.settled
    assert agreement.update(words("您好诚美克服我"))  # no longer settled ...
    assert "".join(w.text for w in agreement.committed) == "您好诚美克服"
    assert not agreement.settled  # ... 我 waits for the next decode
    assert not agreement.update(words("您好诚美克服你"))
    assert agreement.update(words("您好诚美克服我是"), exact=True)  # the final decode's audio
    assert "".join(w.text for w in agreement.committed) == "您好诚美克服我是"
    assert agreement.settled


def test_a_rewritten_committed_word_does_not_block_the_words_after_it() -> None:
    """好灯 was committed at the end of its segment; once the sentence goes on, the decodes say
    好的: what follows the committed words' end is still agreed on, and 好灯 stays."""
    agreement = LocalAgreement()
    assert agreement.update(words("好灯"), exact=True)
    assert agreement.settled
    assert agreement.update(words("好的这不"))  # no longer settled: 这不 is not agreed yet
    assert "".join(w.text for w in agreement.committed) == "好灯"
    assert agreement.update(words("好的这不关我"))
    assert "".join(w.text for w in agreement.committed) == "好灯这不"
    assert agreement.update(words("好的这不关我的事"), exact=True)
    assert "".join(w.text for w in agreement.committed) == "好灯这不关我的事"
    assert agreement.settled


def feed_clip(recognizer: Recognizer, name: str, offset: float,
              every_s: float = 0.6) -> list[tuple[float, AsrEvent]]:
    """One clip through ``PhraseRecognition`` as the agent's phrase; each event with the audio
    time it came out at."""
    meta = ZH[name]
    with wave.open(str(AUDIO / f"{name}.wav"), "rb") as w:
        pcm = w.readframes(w.getnframes())
    asr = dataclasses.replace(CFG.asr, partial_every_s=every_s, partials_in_replay=True)
    phrases = PhraseRecognition(recognizer, ("agent",), asr, CFG.vad)
    start, end = offset + meta["speech_start"], offset + meta["speech_end"]
    confirmed = start + CFG.vad.onset_frames * FRAME_S
    closed = end + CFG.vad.hangover_s
    out: list[tuple[float, AsrEvent]] = []
    n = math.ceil((closed + CFG.asr.phrase_gap_s - offset) / FRAME_S) + 1
    for i in range(n):
        t = offset + i * FRAME_S
        chunk = pcm[i * FRAME_BYTES:(i + 1) * FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
        phrases.push(Frame("agent", t, chunk))
        if t <= confirmed < t + FRAME_S:
            phrases.on_vad(SpeechStart("agent", start))
        if t <= closed < t + FRAME_S:
            phrases.on_vad(Speech("agent", start, end))
        out += [(t + FRAME_S, ev) for ev in phrases.poll(t + FRAME_S)]
    return out + [(math.inf, ev) for ev in phrases.flush()]


def check_partials(events: list[tuple[float, AsrEvent]], offset: float, name: str
                   ) -> tuple[list[PartialUtterance], Utterance]:
    """The agreed words grow, sit on the speech and come before the utterance."""
    partials = [ev for _, ev in events if isinstance(ev, PartialUtterance)]
    finals = [(t, ev) for t, ev in events if isinstance(ev, Utterance)]
    assert len(finals) == 1 and partials
    final_t, final = finals[0]
    assert all(t < final_t for t, ev in events if isinstance(ev, PartialUtterance))
    for before, after in itertools.pairwise(partials):
        assert after.words[:len(before.words)] == before.words  # never taken back
        assert len(after.words) >= len(before.words)
    speech_end = offset + ZH[name]["speech_end"]
    for w in partials[-1].words:
        assert offset - CFG.asr.pad_s <= w.start <= w.end <= speech_end + 0.5
    return partials, final


def test_whisper_agrees_on_the_words_before_the_phrase_gap(whisper_zh: Recognizer) -> None:
    offset = 40.0
    events = feed_clip(whisper_zh, "a_forbid_notmine", offset)
    partials, final = check_partials(events, offset, "a_forbid_notmine")
    # Before the speech ended, part of 这不关我的事 was agreed already ...
    speech_end = offset + ZH["a_forbid_notmine"]["speech_end"]
    assert any(p.t <= speech_end + 0.1 and p.text for p in partials)
    # ... and at the segment end Whisper decoded what its final decode hears: the same words
    # (with the times of the decodes that agreed on them first).
    assert partials[-1].settled
    assert [w.text for w in partials[-1].words] == [w.text for w in final.words]


def test_vosk_partial_results_feed_the_same_agreement(vosk_ko: Recognizer) -> None:
    offset = 12.0
    events = feed_clip(vosk_ko, "a_greet_ok", offset)
    partials, _ = check_partials(events, offset, "a_greet_ok")
    speech_end = offset + ZH["a_greet_ok"]["speech_end"]
    assert [p for p in partials if p.t < speech_end - 2.0]  # words well before the end
