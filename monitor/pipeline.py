"""One session: a source's frames through tones, VAD and recognition into the engine, and the
engine's records out to every sink. Live and replay differ only in the source they pass in
(and in their sinks: live adds the console view and the headset hints, which also step with
the audio clock)."""

from __future__ import annotations

import errno
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

from monitor.analysis.fillers import FillerDetector
from monitor.analysis.syllables import SyllableCounter
from monitor.analysis.tones import ToneDetector
from monitor.analysis.vad import ChannelVad
from monitor.asr.base import Recognizer
from monitor.asr.phrases import PhraseRecognition
from monitor.config import Config
from monitor.engine.core import Engine
from monitor.engine.rules.base import EngineEvent
from monitor.frames import (
    FRAME_S,
    CallEvent,
    Channel,
    DecodedFrame,
    Filler,
    Frame,
    Nucleus,
    Record,
    Speech,
    SpeechStart,
)
from monitor.sinks.base import Sink
from monitor.sources.base import Source
from monitor.sources.call_events import CallEventFeed, EventList

T = TypeVar("T")


@runtime_checkable
class SteppingSink(Sink, Protocol):
    """A sink that also follows the audio clock: called every 20 ms with who is speaking (the
    VAD's state, which no record carries until a segment ends), and may answer with records
    of its own (a hint said)."""

    def step(self, t: float, speaking: Mapping[Channel, bool]) -> list[Record]: ...


@runtime_checkable
class FrameSink(Sink, Protocol):
    """A sink that also takes the audio itself: every step's frames, handed over before they
    are analysed (the kept audio of ``--keep-audio``)."""

    def frames(self, frames: tuple[Frame, ...]) -> None: ...


@runtime_checkable
class OpeningSink(Sink, Protocol):
    """A sink with something to say before the first record (the timeline's header): said
    when the session starts, so a stream that is already broken ends it like any write."""

    def open(self) -> None: ...


@runtime_checkable
class ScoringSink(Sink, Protocol):
    """A sink that scores the call while it runs (the store's live state): told, before the
    first record, the weight of each check the engine makes of this call."""

    def score_weights(self, weights: Mapping[str, float]) -> None: ...



def session_facts(source_name: str, cfg: Config,
                  recognizer: Recognizer | None) -> dict[str, Any]:
    """What the summary says of the session's set-up (contract: ``source`` ... ``asr_model``),
    as every command that runs a session gives it to ``Session.run``."""
    return {"source": source_name, "profile": cfg.profile, "language": cfg.language,
            "company": cfg.company, "agent_name": cfg.agent_name,
            "asr_backend": recognizer.backend if recognizer else None,
            "asr_model": recognizer.model_name if recognizer else None}

class Session:
    """Holds the per-channel state of one call; ``run`` drives it to the end of the source.

    ``call_events`` are the softphone's (ring, answer, hold ...), in audio time: a list known
    in advance, or a feed polled at every step (live, the softphone's events as they come,
    stamped with the audio time of the step they reached the session in); each reaches the
    engine at the step where its time falls. A feed that says the call ended ends the
    session after that step (status complete). ``asr_in_background`` (live) recognises
    phrases on a thread of their own, so the timing rules never wait for the recogniser.

    A sink whose stream breaks (a closed pipe, a full disk: any ``OSError`` from its
    ``open``, ``write``, ``step`` or ``close``) is dropped and ends the session after the
    current step; the other sinks (the store) still get every record up to the cut, the
    summary and ``close``.
    """

    def __init__(self, cfg: Config, source: Source, recognizer: Recognizer | None,
                 sinks: Sequence[Sink],
                 call_events: Iterable[CallEvent] | CallEventFeed = (),
                 asr_in_background: bool = False) -> None:
        channels = source.channels
        self._source = source
        self._sinks = list(sinks)
        self._steppers: list[SteppingSink] = [s for s in sinks if isinstance(s, SteppingSink)]
        self._frame_sinks: list[FrameSink] = [s for s in sinks if isinstance(s, FrameSink)]
        self._feed = (call_events if isinstance(call_events, CallEventFeed)
                      else EventList(call_events))
        # The ringback is heard where the caller's line is: the customer channel, or the one
        # channel of a mixed recording.
        self._ring_channel: Channel | None = ("customer" if "customer" in channels else
                                              "agent" if source.mixed else None)
        self._tones = ToneDetector(cfg.tones) if self._ring_channel else None
        self._vads = {c: ChannelVad(c, cfg.vad) for c in channels}
        # Per channel, in the source's order, what hears its frames besides the recogniser:
        # its VAD, the tone detector on the ring channel, and whether it is the agent's
        # (looked up once here rather than at each of a replay's 100 frames a second).
        self._lanes = [(self._vads[c], self._tones if c == self._ring_channel else None,
                        c == "agent") for c in channels]
        names = {"company": cfg.company, "agent_name": cfg.agent_name}
        self._asr = (PhraseRecognition(recognizer, channels, cfg.asr, cfg.vad,
                                       background=asr_in_background, names=names)
                     if recognizer else None)
        self._engine = Engine(cfg, channels, words=recognizer is not None, mixed=source.mixed)
        # The analyses that cost an FFT a frame, made only where a rule reads their events.
        self._syllables = (SyllableCounter(cfg.syllables) if self._engine.hears(Nucleus)
                           else None)
        self._fillers = FillerDetector(cfg.fillers) if self._engine.hears(Filler) else None
        # Agent frames since the last segment: the counter only hears speech, but it must hear
        # a segment's onset too, which passes before the VAD confirms it.
        self._agent_backlog: deque[DecodedFrame] = deque(maxlen=cfg.vad.onset_window_frames)
        # Which of a block's agent frames the counter can be given (``_counted_span``): those
        # up to the backlog's length before, or a hangover (and a frame to spare) after, a
        # frame at the VAD's minimum level; and how many frames before the block that was.
        self._vad_cfg = cfg.vad
        self._counted_reach = (cfg.vad.onset_window_frames - 1,
                               math.ceil(cfg.vad.hangover_s / FRAME_S) + 1)
        self._since_loud = self._counted_reach[1] + 1
        self.t = 0.0
        self._stopping = False
        self.broken: OSError | None = None
        """Why a sink's stream broke (the first one), which ended the session."""

    def stop(self) -> None:
        """End the session at the next frame, as Ctrl-C does: only sets a flag, so it is safe
        from a signal handler (an exception raised wherever the main thread happens to be can
        land inside a sink's write, or be swallowed by a finaliser)."""
        self._stopping = True

    def run(self, summary_extra: dict[str, Any]) -> dict[str, Any]:
        """Process every frame; Ctrl-C, ``stop``, a broken sink or an error still close the
        session with its summary.

        Returns the summary record; its status is complete, interrupted (Ctrl-C, ``stop``, a
        reader that went away: EPIPE) or failed (an error, a sink that could not write).
        """
        status = "failed"
        try:
            for scorer in [s for s in self._sinks if isinstance(s, ScoringSink)]:
                self._deliver(scorer, partial(scorer.score_weights, self._engine.weights))
            for opener in [s for s in self._sinks if isinstance(s, OpeningSink)]:
                self._deliver(opener, opener.open)
            for steps in self._blocks():
                self._run_block(steps)
                if self._stopping or self._feed.ended:
                    break
            status = self._end_status()
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            summary = self._close({**summary_extra, "status": status})
            for sink in list(self._sinks):
                self._deliver(sink, partial(sink.close, status))
        return summary

    def _end_status(self) -> str:
        if self.broken is not None:
            return "interrupted" if self.broken.errno == errno.EPIPE else "failed"
        return "interrupted" if self._stopping else "complete"

    def _blocks(self) -> Iterator[list[tuple[Frame, ...]]]:
        """The source's steps, as many together as it lets the session read ahead (a
        recording: a block; a live capture: each step as it comes), so that the analysis
        that only depends on the audio is done for all of them at once."""
        block: list[tuple[Frame, ...]] = []
        for frames in self._source.frames():
            block.append(frames)
            if len(block) >= self._source.read_ahead_steps:
                yield block
                block = []
        if block:
            yield block

    def _run_block(self, steps: list[tuple[Frame, ...]]) -> None:
        """Step through a block, up to the end of the step where the session was stopped."""
        for frames, decoded in zip(steps, self._decode(steps), strict=True):
            if self._stopping or self._feed.ended:
                return
            self._step(frames, decoded)

    def _decode(self, steps: list[tuple[Frame, ...]]) -> list[tuple[DecodedFrame, ...]]:
        """Each step's frames decoded once: tones, VAD, syllable counter and filler detector
        all read the samples or level; per channel, a block's frames in one go."""
        by_channel = []
        for j, channel in enumerate(self._source.channels):
            samples, decoded = DecodedFrame.decode_all([frames[j] for frames in steps])
            if self._tones is not None and channel == self._ring_channel and len(steps) > 1:
                self._tones.prepare(samples, [d.level_dbfs for d in decoded])
            if channel == "agent" and len(steps) > 1:  # frames ahead to work on together
                if self._fillers is not None:
                    self._fillers.prepare(samples)
                if self._syllables is not None:
                    first, end = self._counted_span(decoded)
                    if first < end:
                        self._syllables.prepare(samples[first:end], steps[first][j].t)
            by_channel.append(decoded)
        return list(zip(*by_channel, strict=True))

    def _counted_span(self, decoded: list[DecodedFrame]) -> tuple[int, int]:
        """The first and past the last of a block's agent frames that the syllable counter
        may be given while the block is stepped through (the counter costs an FFT a frame,
        and a third of a call is the agent listening). A frame is given while a VAD segment
        is open, with the backlog before it: a segment is open only within ``hangover_s`` of
        a voiced frame, and a voiced frame is at least ``min_level_dbfs`` loud."""
        before, after = self._counted_reach
        loud = [i for i, d in enumerate(decoded) if d.level_dbfs >= self._vad_cfg.min_level_dbfs]
        n = len(decoded)
        last = loud[-1] if loud else -self._since_loud
        first = 0 if self._since_loud <= after else max(0, loud[0] - before) if loud else n
        self._since_loud = n - last
        return first, min(n, last + after + 1)

    def _step(self, frames: tuple[Frame, ...], decoded_frames: tuple[DecodedFrame, ...]) -> None:
        for keeper in self._frame_sinks:
            keeper.frames(frames)
        events: list[EngineEvent] = []
        for frame, decoded, (vad, tones, agent) in zip(frames, decoded_frames, self._lanes,
                                                      strict=True):
            masked = False
            if tones is not None:
                masked, rings = tones.process(decoded)
                if rings:
                    events += rings
            if self._asr is not None:
                self._asr.push(frame)
            vad_events = vad.process(decoded, masked)
            if vad_events:
                events += self._vad_events(vad_events)
            if agent:
                if self._syllables is not None:
                    events += self._nuclei(decoded, vad.speaking or bool(vad_events))
                if self._fillers is not None:
                    # Every agent frame: the detector needs the pauses around a filler too.
                    events += self._fillers.process(decoded.samples, frame.t)
        self.t = frames[0].t + FRAME_S
        if self._asr is not None:
            events += self._asr.poll(self.t)
        events += self._feed.poll(self.t)
        for ev in events:
            self._emit(self._engine.on_event(ev))
        # Most steps have nothing to emit: the empty lists are not handed on.
        ticked = self._engine.on_tick(self.t)
        if ticked:
            self._emit(ticked)
        notices = self._source.notices()
        if notices:
            self._emit(list(notices))
        if self._steppers:
            speaking = {c: vad.speaking for c, vad in self._vads.items()}
            for stepper in list(self._steppers):
                self._emit(self._deliver(stepper, partial(stepper.step, self.t, speaking)) or [])

    def _nuclei(self, decoded: DecodedFrame, in_segment: bool) -> list[Nucleus]:
        """Syllable nuclei of the agent's speech; silence is skipped, which keeps the counter
        (an FFT a frame) off the two thirds of a call in which the agent is quiet."""
        assert self._syllables is not None
        backlog = self._agent_backlog
        backlog.append(decoded)
        if not in_segment:
            return []
        nuclei = [Nucleus("agent", t) for d in backlog
                  for t in self._syllables.process(d.samples, d.frame.t, True)]
        backlog.clear()
        return nuclei

    def _vad_events(self, vad_events: list[SpeechStart | Speech]) -> list[EngineEvent]:
        """The VAD's events, for the engine, once recognition has heard them."""
        if self._asr is not None:
            for ev in vad_events:
                self._asr.on_vad(ev)
        return list(vad_events)

    def _close(self, summary_extra: dict[str, Any]) -> dict[str, Any]:
        events: list[EngineEvent] = list(self._tones.flush()) if self._tones else []
        for vad in self._vads.values():
            events += self._vad_events(list(vad.flush()))
        if self._asr is not None:
            events += self._asr.flush()
        events += self._feed.rest(self.t)  # what came after the audio ended
        for ev in events:
            self._emit(self._engine.on_event(ev))
        self._emit(list(self._source.notices()))
        records = self._engine.finish(self.t, {**summary_extra, **self._source.summary(),
                                               **self._feed.summary()})
        self._emit(records)
        return records[-1].to_json()

    def _emit(self, records: list[Record]) -> None:
        for record in records:
            obj = record.to_json()
            for sink in list(self._sinks):
                self._deliver(sink, partial(sink.write, obj))

    def _deliver(self, sink: Sink, call: Callable[[], T]) -> T | None:
        """Call into ``sink``; if its stream breaks, drop it (it is not closed: closing would
        flush into the broken stream again) and end the session."""
        try:
            return call()
        except OSError as exc:
            self._sinks.remove(sink)
            self._steppers = [s for s in self._steppers if s is not sink]
            self._frame_sinks = [s for s in self._frame_sinks if s is not sink]
            self.broken = self.broken or exc
            self.stop()
            return None
