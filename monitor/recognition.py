"""Feeds each channel's speech segments to its decoder, as the VAD opens and closes them.

It keeps a short history of frames per channel so that a segment's decoder also hears the
audio just before the VAD confirmed speech (the onset frames and ``pad_s`` more): without it
the first syllable of every utterance would be clipped. Decoding happens on the caller's
thread, which keeps a replay deterministic.
"""

from __future__ import annotations

from collections import deque

from monitor.asr.base import Recognizer, SegmentDecoder
from monitor.config import VadConfig
from monitor.frames import FRAME_S, Channel, Frame, Speech, SpeechStart, Utterance


class SegmentRecognition:
    def __init__(self, recognizer: Recognizer, channels: tuple[Channel, ...], pad_s: float,
                 vad: VadConfig) -> None:
        keep = round((pad_s + vad.onset_window_frames * FRAME_S) / FRAME_S) + 1
        self._pad_s = pad_s
        self._decoders: dict[Channel, SegmentDecoder] = {c: recognizer.decoder(c)
                                                          for c in channels}
        self._history: dict[Channel, deque[Frame]] = {c: deque(maxlen=keep) for c in channels}
        self._open: set[Channel] = set()

    def push(self, frame: Frame) -> None:
        """Every frame of the channel, in order, before the VAD events it caused."""
        self._history[frame.channel].append(frame)
        if frame.channel in self._open:
            self._decoders[frame.channel].feed(frame.pcm)

    def on_vad(self, ev: SpeechStart | Speech) -> Utterance | None:
        if isinstance(ev, SpeechStart):
            frames = [f for f in self._history[ev.channel] if f.t >= ev.t - self._pad_s - 1e-9]
            self._decoders[ev.channel].begin(frames[0].t, b"".join(f.pcm for f in frames))
            self._open.add(ev.channel)
            return None
        self._open.discard(ev.channel)
        return self._decoders[ev.channel].finish(ev.start, ev.end)
