"""Each rule's settings, one table per rule id: ``[rules."hold.too_long"]``.

Where one rule class raises a family of alerts (``hold.*``, ``rate.*``, the greeting and the
late pickup), each setting sits under the rule id it belongs to, and a setting the whole
family uses sits under the family's main id (the first of ``ids``), as the TOML comments say.
``ALERT_EVIDENCE`` lists what each rule id's alerts carry, so message templates are checked
when the configuration loads rather than when the alert fires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from monitor.config.checks import (
    Count,
    Dbfs,
    NonNegative,
    Positive,
    PositiveCount,
    PositiveSeconds,
    Ratio,
    Relation,
    Seconds,
)


@dataclass(frozen=True, slots=True)
class GreetingIncompleteConfig:
    rule: ClassVar[str] = "greeting.incomplete"
    # The greeting (and the late pickup's apology in it) is what the agent says at most this
    # long after pickup.
    window_s: PositiveSeconds
    # A bad opening counts only within this many characters (words) of the start.
    opening_units: PositiveCount
    # English names also match words spelled this much like them (see PhraseMatcher).
    name_spelling_similarity: Ratio


@dataclass(frozen=True, slots=True)
class RingLatePickupConfig:
    rule: ClassVar[str] = "ring.late_pickup"
    max_rings: Count


@dataclass(frozen=True, slots=True)
class HoldTooLongConfig:
    """The hold family's own settings (how a hold is found, and the thanks on return) and the
    limits of ``hold.too_long``."""

    rule: ClassVar[str] = "hold.too_long"
    announce_window_s: Seconds
    confirm_silence_s: PositiveSeconds
    limit_s: PositiveSeconds
    transfer_limit_s: PositiveSeconds
    warn_before_s: Seconds
    return_window_s: Seconds
    return_lead_s: Seconds
    # How hold.too_long's message and say name the wait ({wait}): a hold the agent announced,
    # or a wait nobody announced (a long silence, a softphone hold without a word first).
    wait_announced: str
    wait_unannounced: str

    def relations(self) -> Iterator[Relation]:
        yield Relation(("warn_before_s", "limit_s", "transfer_limit_s"),
                       self.warn_before_s < min(self.limit_s, self.transfer_limit_s),
                       "warn_before_s below limit_s and transfer_limit_s (the warning comes "
                       "that long before the limit)")


@dataclass(frozen=True, slots=True)
class HoldUnannouncedConfig:
    rule: ClassVar[str] = "hold.unannounced"
    unannounced_min_s: Seconds


@dataclass(frozen=True, slots=True)
class DeadAirConfig:
    rule: ClassVar[str] = "dead_air"
    limit_s: PositiveSeconds


@dataclass(frozen=True, slots=True)
class InterruptionConfig:
    rule: ClassVar[str] = "interruption"
    min_overlap_s: Seconds


@dataclass(frozen=True, slots=True)
class BackchannelMissingConfig:
    rule: ClassVar[str] = "backchannel.missing"
    max_silent_listening_s: PositiveSeconds


@dataclass(frozen=True, slots=True)
class VolumeTooLoudConfig:
    rule: ClassVar[str] = "volume.too_loud"
    max_level_dbfs: Dbfs
    min_segment_s: Seconds
    cooldown_s: Seconds


@dataclass(frozen=True, slots=True)
class FillerExcessConfig:
    rule: ClassVar[str] = "filler.excess"
    max_per_min: NonNegative
    # Fillers per minute are taken over at least this much agent talk, so two 嗯 in the first
    # ten seconds are not "twelve a minute".
    min_talk_s: PositiveSeconds
    cooldown_s: Seconds


@dataclass(frozen=True, slots=True)
class RateTooFastConfig:
    """The pace window both rate rules judge (the family's settings) and the upper limit."""

    rule: ClassVar[str] = "rate.too_fast"
    target_per_min: Positive
    too_fast_above: Positive
    window_talk_s: PositiveSeconds
    min_window_s: PositiveSeconds
    min_utterance_s: Seconds
    cooldown_s: Seconds

    def relations(self) -> Iterator[Relation]:
        yield Relation(("min_window_s", "window_talk_s"), self.min_window_s <= self.window_talk_s,
                       "min_window_s <= window_talk_s")


@dataclass(frozen=True, slots=True)
class RateTooSlowConfig:
    rule: ClassVar[str] = "rate.too_slow"
    too_slow_below: NonNegative


@dataclass(frozen=True, slots=True)
class ClosingIncompleteConfig:
    rule: ClassVar[str] = "closing.incomplete"
    # Judge the goodbye too (it is always reported as said_goodbye).
    require_goodbye: bool
    window_s: PositiveSeconds
    # Calls whose agent talked less than this are not judged (a dropped call).
    min_agent_talk_s: Seconds


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Every rule table, typed; the field is the rule id with ``_`` for ``.``."""

    greeting_incomplete: GreetingIncompleteConfig
    ring_late_pickup: RingLatePickupConfig
    hold_too_long: HoldTooLongConfig
    hold_unannounced: HoldUnannouncedConfig
    dead_air: DeadAirConfig
    interruption: InterruptionConfig
    backchannel_missing: BackchannelMissingConfig
    volume_too_loud: VolumeTooLoudConfig
    filler_excess: FillerExcessConfig
    rate_too_fast: RateTooFastConfig
    rate_too_slow: RateTooSlowConfig
    closing_incomplete: ClosingIncompleteConfig


ALERT_EVIDENCE: dict[str, dict[str, Any]] = {
    "ring.late_pickup": {"rings": 5, "max_rings": 3},
    "greeting.incomplete": {"missing": "company", "bad_opening": "-", "text": "您好"},
    "hold.too_long": {"start": 12.0, "limit_s": 30.0, "transfer": False, "announced": False,
                      "wait": "on hold"},
    "hold.unannounced": {"start": 12.0, "phrase": "久等", "duration_s": 8.5},
    "hold.no_thanks": {"start": 12.0},
    "dead_air": {"start": 12.0, "limit_s": 5.0},
    "interruption": {"start": 12.0, "overlap_s": 0.8, "min_overlap_s": 0.5},
    "backchannel.missing": {"start": 12.0, "limit_s": 15.0},
    "volume.too_loud": {"level_dbfs": -8.0, "start": 12.0, "max_level_dbfs": -10.0},
    "forbidden_phrase": {"family": "taboo.dont_know", "phrase": "我不知道", "heard": "我不知道",
                         "suggestion": "我帮您问一下", "word_start": 12.0, "word_end": 13.0},
    "filler.excess": {"count": 9, "per_min": 6.2, "max_per_min": 4.0, "tokens": "嗯",
                      "word_end": 13.0},
    "rate.too_fast": {"rate": 210, "limit": 190.0, "target": 150.0, "unit": "cpm"},
    "rate.too_slow": {"rate": 80, "limit": 100.0, "target": 150.0, "unit": "cpm"},
    "closing.incomplete": {"missing": "thanked"},
}
"""Per rule id, the evidence its alerts carry (a sample value of each key): what its
``message`` and ``say`` templates may name. Read from each rule's ``self.alert(...)`` calls."""
RULE_IDS = tuple(ALERT_EVIDENCE)
