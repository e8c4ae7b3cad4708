"""The settings: TOML files (``config/``, a site file, command-line options) read into frozen,
checked dataclasses. Every threshold, phrase and message lives in those files so that a
service desk can tune its standard without code; this package imports nothing of the monitor
but its error type and the pure pinyin tables (``monitor.pinyin``), so any part may read its
settings from here.
"""

from monitor.config.loading import (
    PROFILES,
    SITE_ENV,
    Config,
    config_dir,
    load_config,
    session_config,
)
from monitor.config.phrases import FAMILIES, TABOO_PREFIX, MatchingConfig, PhraseFamily
from monitor.config.pinyin_costs import PINYIN_COSTS_PATH, load_pinyin_costs
from monitor.config.rules import (
    ALERT_EVIDENCE,
    RULE_IDS,
    BackchannelMissingConfig,
    ClosingIncompleteConfig,
    DeadAirConfig,
    FillerExcessConfig,
    GreetingIncompleteConfig,
    HoldTooLongConfig,
    HoldUnannouncedConfig,
    InterruptionConfig,
    RateTooFastConfig,
    RateTooSlowConfig,
    RingLatePickupConfig,
    RulesConfig,
    VolumeTooLoudConfig,
)
from monitor.config.sections import (
    AsrConfig,
    AudioConfig,
    EngineConfig,
    FillerConfig,
    HintConfig,
    LabelConfig,
    LiveConfig,
    RingCadences,
    RuleMessage,
    SoftphoneConfig,
    StoreConfig,
    SyllableConfig,
    TapConfig,
    ToneConfig,
    VadConfig,
    WebConfig,
)

__all__ = [
    "ALERT_EVIDENCE", "FAMILIES", "PINYIN_COSTS_PATH", "PROFILES", "RULE_IDS", "SITE_ENV",
    "TABOO_PREFIX", "AsrConfig", "AudioConfig", "BackchannelMissingConfig",
    "ClosingIncompleteConfig", "Config", "DeadAirConfig", "EngineConfig", "FillerConfig",
    "FillerExcessConfig", "GreetingIncompleteConfig", "HintConfig", "HoldTooLongConfig",
    "HoldUnannouncedConfig", "InterruptionConfig", "LabelConfig", "LiveConfig", "MatchingConfig",
    "PhraseFamily", "RateTooFastConfig", "RateTooSlowConfig", "RingCadences",
    "RingLatePickupConfig", "RuleMessage", "RulesConfig", "SoftphoneConfig", "StoreConfig",
    "SyllableConfig", "TapConfig", "ToneConfig", "VadConfig", "VolumeTooLoudConfig",
    "WebConfig", "config_dir", "load_config", "load_pinyin_costs", "session_config",
]
