"""The settings of each part of the monitor: one frozen dataclass per section of the TOML files.

The field types are the checks (see ``checks.py``): a duration is ``Seconds`` (>= 0), a level
``Dbfs`` (<= 0), and so on. ``relations`` checks keys of one section against each other.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Annotated, Any, Literal

from monitor.config.checks import (
    Bounds,
    Count,
    Dbfs,
    Decibels,
    Fraction,
    Hertz,
    NonNegative,
    Positive,
    PositiveCount,
    PositiveSeconds,
    Ratio,
    Relation,
    Sayable,
    Seconds,
    TimeZoneName,
)

NYQUIST_HZ = 8000.0
"""Half the 16 kHz the audio is analysed at: no frequency above it can be heard in it."""
FRAME_MS = 20.0
"""The analysis frame every part steps by."""

Port = Annotated[int, Bounds(lo=1, hi=65535)]
AudibleHz = Annotated[float, Bounds(lo=0.0, hi=NYQUIST_HZ, lo_open=True, hi_open=True)]
OpusKbps = Annotated[int, Bounds(lo=6, hi=256)]
"""What libopus accepts for a stereo stream, in kbit/s."""
WhisperWindow = Annotated[int, Bounds(lo=1, hi=30)]
"""Whisper's encoder window in whole seconds: at most the 30 s it was trained on."""


def host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as its parts, or None if it is not one."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    return host.removeprefix("[").removesuffix("]"), int(port)


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _is_host_name(text: str) -> bool:
    """A DNS name or an IP address, as a Host header names it without its port."""
    if _is_network(text) and "/" not in text:
        return True
    labels = text.rstrip(".").split(".")
    return 0 < len(text) <= 253 and all(
        0 < len(label) <= 63 and label.isascii() and label.replace("-", "").isalnum()
        and not label.startswith("-") for label in labels)


@dataclass(frozen=True, slots=True)
class StoreConfig:
    path: str
    url: str
    audio_dir: str
    heartbeat_s: PositiveSeconds
    lost_after_s: PositiveSeconds
    retry_s: PositiveSeconds
    lock_wait_s: PositiveSeconds
    # Kept audio (--keep-audio): Opus in Ogg, FLAC or PCM WAV; the Opus bitrate; and how many
    # days `callmonitor prune` keeps it by default (0: forever).
    audio_format: Literal["opus", "flac", "wav"]
    audio_bitrate_kbps: OpusKbps
    keep_days: Count
    live_alerts: PositiveCount

    @property
    def location(self) -> str:
        """The PostgreSQL URL when one is set, else the SQLite file."""
        return self.url or self.path

    def relations(self) -> Iterator[Relation]:
        yield Relation(("url",), self.url == "" or self.url.startswith(("postgresql://",
                                                                      "postgres://")),
                       '"" or a postgresql:// URL')
        yield Relation(("lost_after_s",), self.lost_after_s > self.heartbeat_s,
                       "longer than heartbeat_s")
        yield Relation(("retry_s",), self.retry_s >= self.lock_wait_s,
                       "at least lock_wait_s")


@dataclass(frozen=True, slots=True)
class WebConfig:
    host: str
    port: Port
    sign_in_hours: Positive
    page_size: PositiveCount
    secure_cookies: bool
    audit_play_window_s: PositiveSeconds
    note_max_chars: PositiveCount
    # The site's time zone (IANA): times shown and the list's day filters, unless a user has
    # their own. Stored times stay UTC.
    time_zone: TimeZoneName
    # How many weeks back from a trend page's latest week it charts.
    trend_weeks: PositiveCount
    # Host names (or addresses) the app answers to, besides the one `serve --host` listens on;
    # any other Host header is refused (a DNS-rebinding page cannot reach the app).
    allowed_hosts: tuple[str, ...]
    # Reverse proxies (addresses or networks) whose X-Forwarded-For is believed: the client is
    # the rightmost hop that is not one of them.
    trusted_proxies: tuple[str, ...]
    # Failed sign-ins: from one client address at most address_failures (proxy_failures for a
    # trusted proxy's own address) in window_s; an account is locked after account_failures
    # in a row, for lockout_s, doubling with each further failure up to lockout_max_s.
    sign_in_window_s: PositiveSeconds
    sign_in_address_failures: PositiveCount
    sign_in_proxy_failures: PositiveCount
    sign_in_account_failures: PositiveCount
    sign_in_lockout_s: PositiveSeconds
    sign_in_lockout_max_s: PositiveSeconds
    # Names and addresses the throttle remembers at most (the oldest are forgotten first).
    sign_in_throttle_entries: PositiveCount
    threads: PositiveCount
    live_streams: PositiveCount
    live_poll_s: PositiveSeconds
    live_stream_s: PositiveSeconds
    live_lost_keep_s: PositiveSeconds
    live_page_refresh_s: PositiveSeconds

    def relations(self) -> Iterator[Relation]:
        yield Relation(("allowed_hosts",), all(map(_is_host_name, self.allowed_hosts)),
                       'a list of host names or addresses without port ("review.example")')
        yield Relation(("trusted_proxies",), all(map(_is_network, self.trusted_proxies)),
                       'a list of addresses or networks ("10.0.0.1", "10.0.0.0/8")')
        yield Relation(("sign_in_lockout_max_s",),
                       self.sign_in_lockout_max_s >= self.sign_in_lockout_s,
                       "at least sign_in_lockout_s")
        yield Relation(("live_streams", "threads"), self.live_streams < self.threads,
                       "fewer than threads (each open /live/events stream holds a thread)")
        yield Relation(("live_poll_s", "live_stream_s"), self.live_poll_s < self.live_stream_s,
                       "live_poll_s shorter than live_stream_s")


@dataclass(frozen=True, slots=True)
class AudioConfig:
    agent_side: Literal["left", "right"]
    # How recordings carry the sides (monitor/sources/recorded.py's ChannelLayout); "" is the
    # stereo layout agent_side names.
    channels: Literal["", "agent-left", "agent-right", "mixed", "agent-only"]


@dataclass(frozen=True, slots=True)
class VadConfig:
    aggressiveness: Annotated[int, Bounds(lo=0, hi=3)]
    onset_frames: PositiveCount
    onset_window_frames: PositiveCount
    hangover_s: Seconds
    energy_margin_db: Decibels
    floor_rise_db_per_s: NonNegative
    min_level_dbfs: Dbfs

    def relations(self) -> Iterator[Relation]:
        yield Relation(("onset_frames", "onset_window_frames"),
                       self.onset_frames <= self.onset_window_frames,
                       "onset_frames <= onset_window_frames (of the last frames, how many are "
                       "voiced)")


@dataclass(frozen=True, slots=True)
class ToneConfig:
    freqs_hz: tuple[AudibleHz, ...]
    band_hz: Hertz
    window_s: PositiveSeconds
    tonal_ratio: Ratio
    min_level_dbfs: Dbfs
    min_ring_s: Seconds
    cadence_gap_s: Seconds


@dataclass(frozen=True, slots=True)
class AsrConfig:
    backend: Literal["auto", "vosk", "whisper"]
    vosk_model: str
    whisper_model: str
    whisper_language: str
    whisper_compute_type: str
    whisper_beam_size: PositiveCount
    whisper_threads: Count
    whisper_cpu_isa: str
    # Templates: only {company} and {agent_name} (checked when the configuration loads).
    whisper_hotwords: tuple[str, ...]
    whisper_tail_s: Seconds
    whisper_loop_compression_ratio: Positive
    whisper_loop_repetition_penalty: Positive
    whisper_max_units_per_s: Positive
    whisper_min_span_s: PositiveSeconds
    # Whole seconds: faster-whisper cuts audio into chunks of this many seconds.
    whisper_windows_s: tuple[WhisperWindow, ...]
    whisper_window_margin_s: Seconds
    partial_every_s: Seconds
    partials_in_replay: bool
    pad_s: Seconds
    phrase_gap_s: PositiveSeconds
    max_phrase_s: PositiveSeconds

    def relations(self) -> Iterator[Relation]:
        yield Relation(("max_phrase_s", "pad_s"), self.max_phrase_s > 2.0 * self.pad_s,
                       "max_phrase_s above twice pad_s (a phrase cut while the sound goes on "
                       "starts pad_s before the cut: most of the next one must be new audio)")
        windows = self.whisper_windows_s
        yield Relation(("whisper_windows_s",), bool(windows) and all(
            a < b for a, b in pairwise(windows)), "at least one window, ascending")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    turn_gap_s: PositiveSeconds
    backchannel_max_s: Seconds
    rate_min_turn_s: Seconds


@dataclass(frozen=True, slots=True)
class SyllableConfig:
    """Settings of the syllable-nucleus detector: the ``[syllables]`` section of the config."""

    band_low_hz: Annotated[float, Bounds(lo=0.0, hi=NYQUIST_HZ)]
    band_split_hz: Annotated[float, Bounds(lo=0.0, hi=NYQUIST_HZ)]
    band_high_hz: Annotated[float, Bounds(lo=0.0, hi=NYQUIST_HZ)]
    low_band_weight: Fraction
    window_ms: Positive
    hop_ms: Positive
    smooth_ms: Positive
    max_band_gap_db: Decibels
    min_prominence_db: Decibels
    min_level_dbfs: Dbfs
    max_below_loudest_db: Decibels
    loudest_decay_db_per_s: NonNegative

    def relations(self) -> Iterator[Relation]:
        frame_hops = FRAME_MS / self.hop_ms
        yield Relation(("hop_ms",), abs(frame_hops - round(frame_hops)) < 1e-9,
                       "a hop that divides the 20 ms frame (20, 10, 5, 4, 2.5 ...)")
        yield Relation(("window_ms", "hop_ms"), self.window_ms >= self.hop_ms,
                       "window_ms >= hop_ms")
        bands = ("band_low_hz", "band_split_hz", "band_high_hz")
        yield Relation(bands, self.band_low_hz < self.band_split_hz < self.band_high_hz,
                       "band_low_hz < band_split_hz < band_high_hz")


@dataclass(frozen=True, slots=True)
class FillerConfig:
    """Settings of the acoustic filled-pause detector: the ``[fillers]`` section."""

    quiet_dbfs: Dbfs
    pitch_min_hz: AudibleHz
    pitch_max_hz: AudibleHz
    max_aperiodicity: Ratio
    max_pitch_step_st: Positive
    max_pitch_range_st: Positive
    mel_bands: PositiveCount
    band_low_hz: Annotated[float, Bounds(lo=0.0, hi=NYQUIST_HZ)]
    band_high_hz: Annotated[float, Bounds(lo=0.0, hi=NYQUIST_HZ)]
    cepstra: PositiveCount
    max_spectral_step_db: Positive
    max_unsteady_frames: Count
    min_s: PositiveSeconds
    max_s: PositiveSeconds
    min_pause_s: Seconds
    pause_within_s: Seconds

    def relations(self) -> Iterator[Relation]:
        yield Relation(("pitch_min_hz", "pitch_max_hz"), self.pitch_min_hz < self.pitch_max_hz,
                       "pitch_min_hz < pitch_max_hz")
        yield Relation(("band_low_hz", "band_high_hz"), self.band_low_hz < self.band_high_hz,
                       "band_low_hz < band_high_hz")
        yield Relation(("cepstra", "mel_bands"), self.cepstra < self.mel_bands,
                       "cepstra < mel_bands (the cepstrum of n bands has n - 1 shape terms)")
        yield Relation(("min_s", "max_s"), self.min_s < self.max_s, "min_s < max_s")


@dataclass(frozen=True, slots=True)
class LiveConfig:
    # Capture block length; one block per callback.
    block_ms: PositiveCount
    # Audio the queue holds while the pipeline is busy (a long phrase being recognised).
    queue_s: PositiveSeconds
    # A device that delivers nothing for this long is gone.
    device_timeout_s: PositiveSeconds
    # How often a gone device is looked for, and PulseAudio asked which devices exist.
    watch_s: PositiveSeconds


@dataclass(frozen=True, slots=True)
class TapConfig:
    """Limits of ``callmonitor tap``, the server that takes calls forked by a PBX."""

    # Listen addresses of the AudioSocket legs (HOST:PORT; "" = not listened on).
    audiosocket_agent: str
    audiosocket_customer: str
    # Listen address of the WebSocket audio forks (mod_audio_fork, jambonz listen); "" = none.
    websocket: str
    # Which channel of a stereo fork is the agent's (FreeSWITCH puts the forked channel's own
    # party left, what it hears right); a mono fork carries the other, left, side.
    fork_agent_channel: Literal["left", "right"]
    # Largest WebSocket message accepted (mod_audio_fork buffers up to 5 s: 320000 bytes of
    # 16 kHz stereo).
    websocket_max_message_bytes: Annotated[int, Bounds(lo=1024, hi=16_777_216)]
    # Largest message payload accepted; Asterisk sends 20 ms of audio (320 bytes at 8 kHz).
    max_payload_bytes: Annotated[int, Bounds(lo=16, hi=65535)]
    # A connection that sends nothing for this long is closed (a stalled or idle peer).
    idle_timeout_s: PositiveSeconds
    # A leg waits this long for the other side's leg of the same call, then is a mono call.
    partner_wait_s: Seconds
    # A side with no audio while the other has some waiting is waited for this long, then
    # padded with silence, so the other side's alerts are not held back.
    lag_wait_s: PositiveSeconds
    # Messages queued per call while its session is busy; beyond it the server is overloaded
    # and stops reading that call's connections (TCP holds the audio back).
    queue_messages: PositiveCount
    # Open connections at most; more are closed at once.
    max_connections: PositiveCount

    def relations(self) -> Iterator[Relation]:
        for key in ("audiosocket_agent", "audiosocket_customer", "websocket"):
            value = getattr(self, key)
            yield Relation((key,), value == "" or host_port(value) is not None,
                           '"" or HOST:PORT (a port from 1 to 65535)')


@dataclass(frozen=True, slots=True)
class RingCadences:
    """Ring cadences by name: on and off times in turn, in seconds; one cycle is one ring
    (the UK's double ring, on-off-on-off, is one)."""

    CN: tuple[PositiveSeconds, ...]
    NA: tuple[PositiveSeconds, ...]
    UK: tuple[PositiveSeconds, ...]
    EU: tuple[PositiveSeconds, ...]


@dataclass(frozen=True, slots=True)
class SoftphoneConfig:
    """``live --softphone``: where baresip's ctrl_tcp listens and how its ringing is counted."""

    host: str
    port: Port
    # A softphone that cannot be reached (or went away) is tried again this often.
    reconnect_s: PositiveSeconds
    # One message longer than this is refused (bounds what a peer can make us hold).
    max_message_bytes: PositiveCount
    # The cadence rings are counted in: the ringing time over its cycle.
    cadence: Literal["CN", "NA", "UK", "EU"]
    cadences: RingCadences

    @property
    def ring_period_s(self) -> float:
        """One ring cycle of the chosen cadence: a ring starts every this many seconds."""
        return sum(getattr(self.cadences, self.cadence))

    def relations(self) -> Iterator[Relation]:
        for name in (f.name for f in fields(RingCadences)):
            times = getattr(self.cadences, name)
            yield Relation(("cadences",), len(times) >= 2 and len(times) % 2 == 0,
                           f"for {name}, on and off times in pairs (on, off[, on, off ...])")


@dataclass(frozen=True, slots=True)
class HintConfig:
    enabled: bool
    # A rule is whispered at most once in this long.
    cooldown_s: Seconds
    # The agent must have been quiet this long (after the VAD's own hangover) for a hint.
    gap_s: Seconds
    # A hint waits at most this long for that gap, then is said anyway.
    max_delay_s: Seconds
    # Rules whose hint is said at once, over the agent (rule ids, checked at load).
    urgent_rules: tuple[str, ...]
    # The espeak-ng voice (by language tag) pyttsx3 speaks the hints with, its rate (words per
    # minute) and volume (0-1). Debian's espeak-ng reads characters in its "cmn" voice as
    # English digits; its "cmn-latn-pinyin" voice speaks Mandarin from pinyin with tone
    # numbers, which voice_pinyin has the hints converted to.
    voice_language: str
    voice_pinyin: bool
    voice_rate_wpm: PositiveCount
    volume: Fraction
    # Output latency asked of the headset device: lower is sooner, too low underruns.
    output_latency_s: PositiveSeconds


@dataclass(frozen=True, slots=True)
class RuleMessage:
    """What a rule's alert says: ``message`` for the supervisor, ``say`` whispered to the agent.

    Both are ``str.format`` templates filled with the alert's evidence (checked at load against
    the rule's evidence keys, ``rules.ALERT_EVIDENCE``).
    """

    severity: Literal["info", "warn", "violation"]
    message: str
    say: str


@dataclass(frozen=True, slots=True)
class LabelConfig:
    """The words for the parts a rule found missing (the ``missing`` evidence of
    greeting.incomplete and closing.incomplete holds these keys), in the profile's language:
    the messages people read say "公司名称", never ``company``, while the evidence keeps the
    keys for the tables a researcher loads."""

    greeting: Sayable
    company: Sayable
    agent_name: Sayable
    asked_anything_else: Sayable
    thanked: Sayable
    said_goodbye: Sayable
    caller_hung_up_first: Sayable
    separator: str
    """Between two names in a list ("、" in Chinese)."""

    def worded(self, evidence: Mapping[str, Any]) -> dict[str, Any]:
        """``evidence`` for a message template: each list of part keys
        (``"greeting, agent_name"``) as the profile's words joined by its separator; a word
        that is no part key (``-``: nothing missing) is kept as it is."""
        words = dict(evidence)
        for key in _PART_LIST_KEYS:
            if isinstance(words.get(key), str):
                names = [str(getattr(self, part)) if part in _PART_KEYS else part
                         for part in (p.strip() for p in words[key].split(",")) if part]
                words[key] = self.separator.join(names) if names else words[key]
        return words



_PART_LIST_KEYS = ("missing",)
"""Evidence keys whose value lists part keys (greeting.incomplete, closing.incomplete)."""
_PART_KEYS = frozenset(f.name for f in fields(LabelConfig)) - {"separator"}
