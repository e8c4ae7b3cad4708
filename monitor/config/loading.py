"""The TOML files merged and read into one checked :class:`Config`.

``default.toml`` holds what every profile shares; a profile (``zh-CN.toml``, ``en-US.toml``)
overrides keys of it; a site file (``--config FILE`` or ``$CALLMONITOR_CONFIG``) overrides the
profile with a desk's own names, phrases, thresholds and store, without editing the
repository; command-line options override them all. Everything is checked here, before a
session is stored: a bad value is one error naming the file it came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from string import Formatter
from types import MappingProxyType
from typing import Any, Literal, get_type_hints

from monitor.config.checks import NonNegative, Origins, Reader, key_name
from monitor.config.checks import Path as KeyPath
from monitor.config.files import read_toml
from monitor.config.phrases import FAMILIES, TABOO_PREFIX, MatchingConfig, PhraseFamily
from monitor.config.pinyin_costs import load_pinyin_costs
from monitor.config.rules import ALERT_EVIDENCE, RULE_IDS, RulesConfig
from monitor.config.sections import (
    AsrConfig,
    AudioConfig,
    EngineConfig,
    FillerConfig,
    HintConfig,
    LabelConfig,
    LiveConfig,
    RuleMessage,
    SoftphoneConfig,
    StoreConfig,
    SyllableConfig,
    TapConfig,
    ToneConfig,
    VadConfig,
    WebConfig,
)
from monitor.errors import CallmonitorError
from monitor.pinyin import PinyinCosts

PROFILES = ("zh-CN", "en-US")
SITE_ENV = "CALLMONITOR_CONFIG"
"""The environment variable naming a site file, when ``--config`` gives none."""
HOTWORD_NAMES = {"company": "Acme", "agent_name": "Anna"}
"""What a ``whisper_hotwords`` template may name (with sample values to fill it)."""
COMMAND_LINE = "the command line"


def config_dir() -> Path:
    """The folder of ``default.toml`` and the profiles: ``$CALLMONITOR_CONFIG_DIR`` (read at
    each load, so a test or a bench can point at its own copy) or the repository's."""
    return Path(os.environ.get("CALLMONITOR_CONFIG_DIR",
                               Path(__file__).resolve().parents[2] / "config"))


@dataclass(frozen=True, slots=True)
class _Profile:
    language: Literal["zh", "en"]
    rate_unit: Literal["cpm", "wpm"]
    company: str = ""
    agent_name: str = ""


_SECTIONS: dict[str, type] = {
    "store": StoreConfig, "audio": AudioConfig, "vad": VadConfig, "tones": ToneConfig,
    "asr": AsrConfig, "engine": EngineConfig, "syllables": SyllableConfig,
    "fillers": FillerConfig, "live": LiveConfig, "softphone": SoftphoneConfig,
    "hints": HintConfig, "web": WebConfig, "matching": MatchingConfig, "tap": TapConfig,
    "labels": LabelConfig}


@dataclass(frozen=True, slots=True)
class Config:
    profile: str
    language: Literal["zh", "en"]
    rate_unit: Literal["cpm", "wpm"]
    store: StoreConfig
    audio: AudioConfig
    vad: VadConfig
    tones: ToneConfig
    asr: AsrConfig
    engine: EngineConfig
    syllables: SyllableConfig
    fillers: FillerConfig
    live: LiveConfig
    softphone: SoftphoneConfig
    hints: HintConfig
    web: WebConfig
    matching: MatchingConfig
    tap: TapConfig
    labels: LabelConfig
    """What the review app calls the parts an alert found missing, in the profile's words."""
    phrases: MappingProxyType[str, PhraseFamily]
    """Every phrase family by name (``monitor.config.phrases``)."""
    pinyin_costs: PinyinCosts
    """The learned confusion costs ``[matching] pinyin_costs`` names."""
    messages: MappingProxyType[str, RuleMessage]
    rules: RulesConfig
    score_weights: MappingProxyType[str, float]
    company: str = ""
    agent_name: str = ""
    site: str = ""
    """The site file read over the profile ("" for none)."""


def load_config(profile: str = "zh-CN", overrides: dict[str, Any] | None = None,
                site: str | Path | None = None) -> Config:
    """The configuration of ``profile``, with the site file (``site``, else
    ``$CALLMONITOR_CONFIG``) and then ``overrides`` (command-line options) laid over it."""
    if profile not in PROFILES:
        raise CallmonitorError(f"unknown profile {profile!r}",
                               f"use one of: {', '.join(PROFILES)}")
    folder = config_dir()
    site_file = site if site is not None else os.environ.get(SITE_ENV) or None
    paths = [folder / "default.toml", folder / f"{profile}.toml"]
    if site_file is not None:
        paths.append(Path(site_file).expanduser())
    origins = Origins()
    data: dict[str, Any] = {}
    for path in paths:
        data = _merge(data, read_toml(path, is_site=path is paths[-1] and site_file is not None),
                      origins, str(path))
    data = _merge(data, overrides or {}, origins, COMMAND_LINE)
    reader = Reader(origins, str(folder / "default.toml"))
    return _build(reader, profile, data, str(paths[-1]) if site_file is not None else "")



def session_config(profile: str, company: str | None = None, agent_name: str | None = None,
                   asr_backend: str | None = None, site: Path | None = None) -> Config:
    """A session's configuration as the commands take it (profile, site file, then their
    options: None leaves the file's value, ``asr_backend`` "none" too: no recogniser is
    loaded then). Loaded before anything is opened or stored, so a bad value leaves no
    session behind."""
    overrides: dict[str, Any] = {}
    if company is not None:
        overrides["company"] = company
    if agent_name is not None:
        overrides["agent_name"] = agent_name
    if asr_backend not in (None, "none"):
        overrides["asr"] = {"backend": asr_backend}
    return load_config(profile, overrides, site)

def _merge(base: dict[str, Any], over: dict[str, Any], origins: Origins, source: str,
           path: KeyPath = ()) -> dict[str, Any]:
    """``over`` laid over ``base`` table by table; ``origins`` learns who set what."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            origins.note((*path, key), source, {})
            out[key] = _merge(out[key], value, origins, source, (*path, key))
        else:
            out[key] = value
            origins.note((*path, key), source, value)
    return out


def _build(reader: Reader, profile: str, data: dict[str, Any], site: str) -> Config:
    data = dict(data)
    sections = {name: reader.build(cls, data.pop(name, None), (name,))
                for name, cls in _SECTIONS.items()}
    rules = _rules(reader, data.pop("rules", None))
    phrases = _phrases(reader, data.pop("phrases", None))
    messages = _messages(reader, data.pop("messages", None))
    weights = _weights(reader, data.pop("score", None))
    top = {k: data.pop(k) for k in [f.name for f in fields(_Profile)] if k in data}
    for key, value in data.items():
        kind = "section" if isinstance(value, dict) else "key"
        known = ", ".join([*_SECTIONS, "rules", "phrases", "messages"])
        raise reader.fail((key,), f"unknown {kind} {key if kind == 'key' else f'[{key}]'}",
                          f"the sections are {known}, "
                          f"score; the keys {', '.join(f.name for f in fields(_Profile))}")
    who = reader.build(_Profile, top, ())
    cfg = Config(profile=profile, language=who.language, rate_unit=who.rate_unit,
                 company=who.company, agent_name=who.agent_name, rules=rules,
                 phrases=MappingProxyType(phrases), pinyin_costs=_pinyin_costs(reader, sections),
                 messages=MappingProxyType(messages), score_weights=MappingProxyType(weights),
                 site=site, **sections)
    _across_sections(reader, cfg)
    return cfg


def _rule_tables(reader: Reader, data: Any, path: KeyPath) -> dict[str, Any]:
    """A table keyed by rule id, every id known."""
    if not isinstance(data, dict):
        raise reader.bad_value(path, data, "a table of rule ids")
    for rule in data:
        if rule not in RULE_IDS:
            raise reader.fail((*path, rule), f"unknown rule id {key_name((*path, rule))}",
                              f"the rule ids are {', '.join(RULE_IDS)}")
    return data


def _rules(reader: Reader, data: Any) -> RulesConfig:
    data = _rule_tables(reader, data, ("rules",))
    tables = get_type_hints(RulesConfig)
    for rule in data:
        if rule not in {cls.rule for cls in tables.values()}:
            raise reader.fail(("rules", rule), f"{key_name(('rules', rule))}: rule {rule} has "
                              "no settings", "remove the table")
    return RulesConfig(**{name: reader.build(cls, data.get(cls.rule), ("rules", cls.rule))
                          for name, cls in tables.items()})


def _pinyin_costs(reader: Reader, sections: dict[str, Any]) -> PinyinCosts:
    name = sections["matching"].pinyin_costs
    path = config_dir() / name
    if Path(name).name != name or not path.is_file():
        raise reader.bad_value(("matching", "pinyin_costs"), name,
                               f"the name of a cost table in {config_dir()}")
    return load_pinyin_costs(path)


def _phrases(reader: Reader, data: Any) -> dict[str, PhraseFamily]:
    """Every family a rule reads, and any taboo family a site adds, each with its suggestion."""
    if not isinstance(data, dict):
        raise reader.bad_value(("phrases",), data, "a table of phrase families")
    for name in FAMILIES:
        if name not in data:
            raise reader.fail(("phrases",), f'no [phrases."{name}"], which a rule reads',
                              "add its patterns (see docs/phrases.md)")
    out = {}
    for name, table in data.items():
        path = ("phrases", name)
        taboo = name.startswith(TABOO_PREFIX) and len(name) > len(TABOO_PREFIX)
        if name not in FAMILIES and not taboo:
            raise reader.fail(path, f"unknown phrase family {key_name(path)}",
                              f"the families are {', '.join(FAMILIES)} and taboo.<name>")
        family: PhraseFamily = reader.build(PhraseFamily, table, path)
        for i, other in enumerate(family.excused_by):
            if other not in data or other == name:
                raise reader.bad_value((*path, "excused_by", i), other,
                                       "the name of another phrase family")
        if not family.patterns:
            raise reader.bad_value((*path, "patterns"), [], "at least one pattern")
        if taboo != bool(family.suggestion):
            raise reader.fail((*path, "suggestion"), f"{key_name(path)}: "
                              + ("a taboo family needs a suggestion" if taboo else
                                 "only taboo families have a suggestion"),
                              "add the polite alternative" if taboo else "remove it")
        out[name] = family
    return out


def _messages(reader: Reader, data: Any) -> dict[str, RuleMessage]:
    data = _rule_tables(reader, data, ("messages",))
    out = {}
    for rule in RULE_IDS:
        if rule not in data:
            raise reader.fail(("messages",), f"no [messages.\"{rule}\"] for rule {rule}",
                              "add its severity, message and say")
        msg: RuleMessage = reader.build(RuleMessage, data[rule], ("messages", rule))
        for key in ("message", "say"):
            _check_template(reader, ("messages", rule, key), getattr(msg, key),
                            ALERT_EVIDENCE[rule])
        out[rule] = msg
    return out


def _weights(reader: Reader, data: Any) -> dict[str, float]:
    score = data if isinstance(data, dict) else {}
    for key in score:
        if key != "weights":
            raise reader.fail(("score", key), f"unknown key {key_name(('score', key))}",
                              "[score] holds only [score.weights]")
    weights = _rule_tables(reader, score.get("weights", {}), ("score", "weights"))
    out = {}
    for rule in RULE_IDS:
        path = ("score", "weights", rule)
        if rule not in weights:
            raise reader.fail(path, f"no score weight for rule {rule}",
                              f'add "{rule}" = 1.0 under [score.weights]')
        out[rule] = reader.value(NonNegative, weights[rule], path)
    return out


def _check_template(reader: Reader, path: KeyPath, template: str,
                    samples: dict[str, Any]) -> None:
    """``template`` names only ``samples``' keys and formats them (specs included)."""
    allowed = ", ".join("{" + k + "}" for k in samples) or "no {placeholders}"
    try:
        names = [name for _, name, _, _ in Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise reader.bad_value(path, template, f"a template with matched braces ({exc})") from None
    for name in names:
        if name.split(".")[0].split("[")[0] not in samples:
            raise reader.fail(path, f"{key_name(path)} names {{{name}}}, which is not there",
                              f"use only {allowed} ({{{{ and }}}} for braces)")
    try:
        template.format(**samples)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise reader.bad_value(path, template,
                               f"format specs that fit the values ({exc})") from None


def _across_sections(reader: Reader, cfg: Config) -> None:
    """Relations between keys of different sections, as the comments of default.toml state."""
    rules = cfg.rules
    hold, dead_air = ("rules", "hold.too_long"), ("rules", "dead_air")
    slow, fast = ("rules", "rate.too_slow"), ("rules", "rate.too_fast")
    checks: list[tuple[dict[tuple[str | int, ...], Any], bool, str]] = [
        ({(*hold, "confirm_silence_s"): rules.hold_too_long.confirm_silence_s,
          (*dead_air, "limit_s"): rules.dead_air.limit_s},
         rules.hold_too_long.confirm_silence_s < rules.dead_air.limit_s,
         'hold confirm_silence_s below [rules."dead_air"] limit_s (an announced hold is '
         "never dead air)"),
        ({("asr", "phrase_gap_s"): cfg.asr.phrase_gap_s,
          ("engine", "turn_gap_s"): cfg.engine.turn_gap_s},
         cfg.asr.phrase_gap_s < cfg.engine.turn_gap_s,
         "[asr] phrase_gap_s below [engine] turn_gap_s (a phrase never spans two turns)"),
        ({(*slow, "too_slow_below"): rules.rate_too_slow.too_slow_below,
          (*fast, "too_fast_above"): rules.rate_too_fast.too_fast_above},
         rules.rate_too_slow.too_slow_below < rules.rate_too_fast.too_fast_above,
         "too_slow_below below too_fast_above"),
    ]
    for values, holds, allowed in checks:
        if not holds:
            reader.broken(values, allowed)
    for i, rule in enumerate(cfg.hints.urgent_rules):
        if rule not in RULE_IDS:
            raise reader.bad_value(("hints", "urgent_rules", i), rule,
                                   f"rule ids ({', '.join(RULE_IDS)})")
    for i, template in enumerate(cfg.asr.whisper_hotwords):
        _check_template(reader, ("asr", "whisper_hotwords", i), template, HOTWORD_NAMES)

