"""The rule table of the service standard (DESIGN.md); ``RULES`` lists the built-in rules."""

from __future__ import annotations

from monitor.engine.rules.backchannel import BackchannelMissing
from monitor.engine.rules.base import Rule
from monitor.engine.rules.closing import ClosingIncomplete
from monitor.engine.rules.greeting import GreetingRule
from monitor.engine.rules.hold import HoldRule
from monitor.engine.rules.overlap import Interruption
from monitor.engine.rules.phrases import FillerExcess, ForbiddenPhrase
from monitor.engine.rules.rate import SpeakingRate
from monitor.engine.rules.silence import DeadAir
from monitor.engine.rules.volume import VolumeTooLoud

RULES: tuple[type[Rule], ...] = (
    GreetingRule, HoldRule, DeadAir, Interruption, BackchannelMissing, VolumeTooLoud,
    ForbiddenPhrase, FillerExcess, SpeakingRate, ClosingIncomplete,
)
