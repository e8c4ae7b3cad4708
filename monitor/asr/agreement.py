"""LocalAgreement-2: which words of a phrase still being spoken are safe to act on.

A decode of a phrase's audio so far changes its mind about the last word or two as more audio
comes (a syllable cut in half is another word). A word that two successive decodes both put
in the same place, after the same words before it, is one the recogniser will not take back:
the committed words are the longest common prefix (in units: characters, English words) of
the last two decodes, and they are never retracted, so a rule that acted on them never has to
be undone. A decode marked ``exact`` heard exactly what the phrase's final decode will hear
(Whisper, greedy, on the same audio: the decode repeated would give the same words), so it is
committed whole.

Each decode hears the whole phrase again, so a later one may write an earlier, committed word
otherwise once the sentence goes on (好灯 at the end of 好的's segment, 好的 once 这不关我的事
followed). Only what comes after the committed words is compared then: after them in the text
where a decode repeats them, else after their end in time. A rewrite of committed words
therefore never blocks the words after them (as whisper_streaming, which stops re-decoding
committed audio, never re-reads them either).
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.frames import Word


def agreed_prefix(a: Sequence[Word], b: Sequence[Word]) -> int:
    """How many leading units two decodes say alike (times may differ, the text may not;
    case is ignored, as a recogniser capitalises a sentence's first word only)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x.text.lower() != y.text.lower():
            break
        n += 1
    return n


class LocalAgreement:
    """The committed words of one phrase, updated decode by decode (``update``)."""

    def __init__(self) -> None:
        self.committed: tuple[Word, ...] = ()
        self.settled = False
        """The latest decode is all committed: the words cover what has been heard."""
        self._last: tuple[Word, ...] = ()

    def update(self, words: Sequence[Word], exact: bool = False) -> bool:
        """Take the newest decode (``exact``: see the module doc); True when the committed
        words or ``settled`` changed. Committed words keep the times of the decode that
        committed them."""
        tail = self._after(tuple(words))
        agreed = len(tail) if exact else agreed_prefix(self._after(self._last), tail)
        self._last = tuple(words)
        self.committed += tail[:agreed]
        settled = not self._after(self._last)
        changed = agreed > 0 or settled != self.settled
        self.settled = settled
        return changed

    def _after(self, words: tuple[Word, ...]) -> tuple[Word, ...]:
        """The part of a decode past the committed words (see the module doc)."""
        n = len(self.committed)
        if agreed_prefix(self.committed, words) == n:
            return words[n:]
        end = self.committed[-1].end
        return tuple(w for w in words if (w.start + w.end) / 2 > end)
