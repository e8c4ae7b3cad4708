"""TOML profiles under ``config/`` turned into frozen dataclasses.

``default.toml`` holds what every profile shares; a profile (``zh-CN.toml``, ``en-US.toml``)
overrides keys of it; command-line options override the profile. Every threshold, phrase and
message lives in those files so that a service desk can tune its standard without code.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_type_hints

from monitor.analysis.syllables import SyllableConfig
from monitor.errors import CallmonitorError
from monitor.hints.scheduler import HintConfig
from monitor.sources.live import LiveConfig

CONFIG_DIR = Path(os.environ.get("CALLMONITOR_CONFIG_DIR",
                                 Path(__file__).resolve().parent.parent / "config"))
PROFILES = ("zh-CN", "en-US")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    path: str
    url: str
    audio_dir: str

    @property
    def location(self) -> str:
        """The PostgreSQL URL when one is set, else the SQLite file."""
        return self.url or self.path


@dataclass(frozen=True, slots=True)
class WebConfig:
    host: str
    port: int
    sign_in_hours: float
    page_size: int
    secure_cookies: bool


@dataclass(frozen=True, slots=True)
class AudioConfig:
    agent_side: Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class VadConfig:
    aggressiveness: int
    onset_frames: int
    onset_window_frames: int
    hangover_s: float
    energy_margin_db: float
    floor_rise_db_per_s: float
    min_level_dbfs: float


@dataclass(frozen=True, slots=True)
class ToneConfig:
    freqs_hz: tuple[float, ...]
    band_hz: float
    window_s: float
    tonal_ratio: float
    min_level_dbfs: float
    min_ring_s: float
    cadence_gap_s: float


@dataclass(frozen=True, slots=True)
class AsrConfig:
    backend: Literal["auto", "vosk", "whisper"]
    vosk_model: str
    whisper_model: str
    whisper_language: str
    whisper_compute_type: str
    whisper_beam_size: int
    whisper_threads: int
    whisper_cpu_isa: str
    whisper_hotwords: tuple[str, ...]
    whisper_tail_s: float
    whisper_loop_compression_ratio: float
    whisper_loop_repetition_penalty: float
    whisper_max_units_per_s: float
    whisper_min_span_s: float
    pad_s: float
    phrase_gap_s: float
    max_phrase_s: float


@dataclass(frozen=True, slots=True)
class EngineConfig:
    dead_air_s: float
    turn_gap_s: float
    backchannel_max_s: float
    rate_min_turn_s: float


@dataclass(frozen=True, slots=True)
class RuleMessage:
    """What a rule's alert says: ``message`` for the supervisor, ``say`` whispered to the agent.

    Both are ``str.format`` templates filled with the alert's evidence.
    """

    severity: Literal["info", "warn", "violation"]
    message: str
    say: str


@dataclass(frozen=True, slots=True)
class Config:
    profile: str
    language: str
    rate_unit: Literal["cpm", "wpm"]
    store: StoreConfig
    audio: AudioConfig
    vad: VadConfig
    tones: ToneConfig
    asr: AsrConfig
    engine: EngineConfig
    syllables: SyllableConfig
    live: LiveConfig
    hints: HintConfig
    web: WebConfig
    messages: MappingProxyType[str, RuleMessage]
    rules: MappingProxyType[str, dict[str, Any]]
    score_weights: MappingProxyType[str, float]
    company: str = ""
    agent_name: str = ""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CallmonitorError(
            f"config file {path} is missing",
            "restore it from the repository or set CALLMONITOR_CONFIG_DIR") from None
    except tomllib.TOMLDecodeError as exc:
        raise CallmonitorError(f"config file {path} is not valid TOML ({exc})",
                               "fix the syntax at the position named") from None


def section(cls: type, data: dict[str, Any], name: str) -> Any:
    """Build the frozen dataclass ``cls`` from one TOML table, refusing unknown and missing
    keys so that a typo in a profile fails at start-up instead of silently using a default."""
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    missing = known - set(data)
    if unknown or missing:
        what = ", ".join(sorted(unknown)) or ", ".join(sorted(missing))
        problem = "unknown" if unknown else "missing"
        raise CallmonitorError(f"config section [{name}] has {problem} keys: {what}",
                               f"compare with {CONFIG_DIR / 'default.toml'}")
    values = {}
    for key, value in data.items():
        if str(hints[key]).startswith("tuple") and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return cls(**values)


def load_config(profile: str = "zh-CN", overrides: dict[str, Any] | None = None) -> Config:
    """Build the configuration for ``profile``; ``overrides`` is merged last (CLI options)."""
    if profile not in PROFILES:
        raise CallmonitorError(f"unknown profile {profile!r}",
                               f"use one of: {', '.join(PROFILES)}")
    data = _merge(_read(CONFIG_DIR / "default.toml"), _read(CONFIG_DIR / f"{profile}.toml"))
    data = _merge(data, overrides or {})
    sections = {"store": StoreConfig, "audio": AudioConfig, "vad": VadConfig,
                "tones": ToneConfig, "asr": AsrConfig, "engine": EngineConfig,
                "syllables": SyllableConfig, "live": LiveConfig, "hints": HintConfig,
                "web": WebConfig}
    built = {name: section(cls, data.pop(name, {}), name) for name, cls in sections.items()}
    messages = {rule: section(RuleMessage, m, f"messages.{rule}")
                for rule, m in data.pop("messages", {}).items()}
    rules = {name: dict(table) for name, table in data.pop("rules", {}).items()}
    weights = {rule: float(w) for rule, w in data.pop("score", {}).get("weights", {}).items()}
    top = {k: data.pop(k) for k in ("language", "rate_unit", "company", "agent_name") if k in data}
    if data:
        raise CallmonitorError(f"config has unknown keys: {', '.join(sorted(data))}",
                               f"compare with {CONFIG_DIR / 'default.toml'}")
    return Config(profile=profile, messages=MappingProxyType(messages),
                  rules=MappingProxyType(rules), score_weights=MappingProxyType(weights),
                  **top, **built)
