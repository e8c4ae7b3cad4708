"""One session: a source's frames through tones, VAD and recognition into the engine, and the
engine's records out to every sink. Live and replay differ only in the source they pass in."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from monitor.asr.base import Recognizer
from monitor.config import Config
from monitor.engine.core import Engine
from monitor.engine.rules.base import EngineEvent
from monitor.frames import FRAME_S, Frame, Nucleus, Record, Speech, SpeechStart
from monitor.recognition import PhraseRecognition
from monitor.sinks.base import Sink
from monitor.sources.base import Source
from monitor.syllables import SyllableCounter
from monitor.tones import ToneDetector
from monitor.vad import ChannelVad


class Session:
    """Holds the per-channel state of one call; ``run`` drives it to the end of the source."""

    def __init__(self, cfg: Config, source: Source, recognizer: Recognizer | None,
                 sinks: Sequence[Sink]) -> None:
        channels = source.channels
        self._source = source
        self._sinks = sinks
        self._tones = ToneDetector(cfg.tones) if "customer" in channels else None
        self._vads = {c: ChannelVad(c, cfg.vad) for c in channels}
        self._asr = (PhraseRecognition(recognizer, channels, cfg.asr, cfg.vad)
                     if recognizer else None)
        self._syllables = SyllableCounter(cfg.syllables)
        # Agent frames since the last segment: the counter only hears speech, but it must hear
        # a segment's onset too, which passes before the VAD confirms it.
        self._agent_backlog: deque[Frame] = deque(maxlen=cfg.vad.onset_window_frames)
        self._engine = Engine(cfg, channels)
        self.t = 0.0

    def run(self, summary_extra: dict[str, Any]) -> dict[str, Any]:
        """Process every frame; Ctrl-C or an error still closes the session with its summary.

        Returns the summary record.
        """
        status = "failed"
        try:
            for frames in self._source.frames():
                self._step(frames)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            summary = self._close({**summary_extra, "status": status})
            for sink in self._sinks:
                sink.close(status)
        return summary

    def _step(self, frames: tuple[Frame, ...]) -> None:
        events: list[EngineEvent] = []
        for frame in frames:
            masked = False
            if self._tones is not None and frame.channel == "customer":
                masked, rings = self._tones.process(frame)
                events += rings
            if self._asr is not None:
                self._asr.push(frame)
            vad = self._vads[frame.channel]
            vad_events = vad.process(frame, masked)
            events += self._vad_events(vad_events)
            if frame.channel == "agent":
                events += self._nuclei(frame, vad.speaking or bool(vad_events))
        self.t = frames[0].t + FRAME_S
        if self._asr is not None:
            events += self._asr.poll(self.t)
        for ev in events:
            self._emit(self._engine.on_event(ev))
        self._emit(self._engine.on_tick(self.t))

    def _nuclei(self, frame: Frame, in_segment: bool) -> list[Nucleus]:
        """Syllable nuclei of the agent's speech; silence is skipped, which keeps the counter
        (an FFT a frame) off the two thirds of a call in which the agent is quiet."""
        self._agent_backlog.append(frame)
        if not in_segment:
            return []
        frames, self._agent_backlog = list(self._agent_backlog), deque(
            maxlen=self._agent_backlog.maxlen)
        return [Nucleus("agent", t) for f in frames
                for t in self._syllables.process(f.pcm, f.t, True)]

    def _vad_events(self, vad_events: list[SpeechStart | Speech]) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        for ev in vad_events:
            out.append(ev)
            utterance = self._asr.on_vad(ev) if self._asr is not None else None
            if utterance is not None:
                out.append(utterance)
        return out

    def _close(self, summary_extra: dict[str, Any]) -> dict[str, Any]:
        events: list[EngineEvent] = list(self._tones.flush()) if self._tones else []
        for vad in self._vads.values():
            events += self._vad_events(list(vad.flush()))
        if self._asr is not None:
            events += self._asr.flush()
        for ev in events:
            self._emit(self._engine.on_event(ev))
        records = self._engine.finish(self.t, summary_extra)
        self._emit(records)
        return records[-1].to_json()

    def _emit(self, records: list[Record]) -> None:
        for record in records:
            obj = record.to_json()
            for sink in self._sinks:
                sink.write(obj)
