"""The phrase families (``[phrases."<family>"]``) and how loosely they match (``[matching]``).

A family is what the standard asks for or forbids (a greeting, a hold announcement, one taboo
intent ...) written as a few patterns (``monitor.config.patterns``). Rules name the families
they read; a site may add taboo families of its own (``taboo.<anything>``, each with the polite
alternative the agent hears), but not remove one a rule reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.checks import Fraction, Patterns, PositiveCount, Sayable

TABOO_PREFIX = "taboo."
FAMILIES = ("greeting", "bad_opening", "apology", "hold.announce", "hold.transfer",
            "hold.thanks", "closing.ask_more", "closing.thanks", "closing.goodbye",
            "backchannel", "filler")
"""The families rules read: each profile must define every one of them."""


@dataclass(frozen=True, slots=True)
class PhraseFamily:
    patterns: Patterns
    # Phrases that excuse a match lying inside them: a polite form that contains a taboo
    # (请问有什么事可以帮您 holds 有什么事) or a word that contains a filler.
    exclude: Patterns = ()
    # Taboo families only: the polite alternative, whispered to the agent. It never matches
    # any taboo.
    suggestion: Sayable = ""
    # Families whose matches excuse this one's inside them: the 嗯 of the backchannel 嗯嗯 is
    # no filler.
    excused_by: tuple[str, ...] = ()
    # false: the text only, no sound-alikes (fillers: 那个 and 哪个 differ only in tone).
    sound: bool = True


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """How far what was heard may be from a pattern and still match it."""

    # A gap written … allows up to this many units (characters or words).
    max_gap_units: PositiveCount
    # Beyond the exact text, a chain of n units matches pinyin syllables (English: words)
    # whose edit cost is at most n * max_cost_per_unit. Substituting a syllable costs the
    # learned cost of its initial and final (config/pinyin_costs.toml), at most 1; inserting or
    # leaving one out costs 1. An English word costs phonetic_cost when it sounds like the
    # pattern's (the same Metaphone code), else 1.
    max_cost_per_unit: Fraction
    # Chains shorter than homophone_min_units match their text only (one syllable has dozens of
    # homophones: 唔 wu is in 服务 fu wu); shorter than fuzzy_min_units, homophones too.
    homophone_min_units: PositiveCount
    fuzzy_min_units: PositiveCount
    phonetic_cost: Fraction
    # The pinyin cost table, a file in the config folder (scripts/learn_confusions.py writes it).
    pinyin_costs: str
    # English: groups of word sequences that mean the same in any pattern ("do not", "don't").
    aliases: tuple[tuple[str, ...], ...] = ()
