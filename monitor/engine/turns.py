"""Turns: a speaker's speech segments grouped into what a listener hears as one turn.

VAD segments split at every pause longer than the hangover; a turn continues across pauses
shorter than ``turn_gap_s`` as long as the other side does not take the floor. A short
segment of the other side inside the turn (a backchannel such as 嗯 or 对) does not take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.frames import Speech


@dataclass(frozen=True, slots=True)
class Turn:
    """From the start of a turn's first segment to the end of its last (all that is read)."""

    start: float
    end: float

    @property
    def span_s(self) -> float:
        return self.end - self.start


def build_turns(own: Sequence[Speech], other: Sequence[Speech], turn_gap_s: float,
                backchannel_max_s: float) -> list[Turn]:
    """Group ``own`` segments (time-ordered) into turns, given the other side's segments."""
    floor_takers = [s for s in other if s.duration_s > backchannel_max_s]
    turns: list[Turn] = []
    group: list[Speech] = []
    for seg in own:
        if group and _continues(group[-1], seg, floor_takers, turn_gap_s):
            group.append(seg)
            continue
        if group:
            turns.append(_turn(group))
        group = [seg]
    if group:
        turns.append(_turn(group))
    return turns


def _continues(prev: Speech, seg: Speech, floor_takers: Sequence[Speech],
               turn_gap_s: float) -> bool:
    if seg.start - prev.end >= turn_gap_s:
        return False
    return not any(prev.end <= o.start < seg.start for o in floor_takers)


def _turn(group: list[Speech]) -> Turn:
    return Turn(group[0].start, group[-1].end)
