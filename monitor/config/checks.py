"""Typed reading of TOML tables into frozen dataclasses, with the checks a value must pass.

A field's type says what TOML value it takes (``float``, ``int``, ``str``, ``bool``, a
``Literal``, a ``tuple`` of items, a nested dataclass); ``Annotated`` adds a range
(:class:`Bounds`), :data:`Sayable`'s "something to say" or :data:`Pattern`'s "compiles".
Every float must be finite.
A section may also declare ``relations()``: checks across its own keys. Whatever fails
becomes one :class:`~monitor.errors.CallmonitorError` naming the file, the key and what is
allowed, so a typo stops the program before anything is stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config.patterns import PatternError, compile_pattern
from monitor.errors import CallmonitorError

Path = tuple[str | int, ...]
"""Where a value sits in the merged configuration: table names, keys and list indices."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The range a number must lie in; ``None`` leaves that side open-ended."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def allows(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            return (f"in {'(' if self.lo_open else '['}{_num(self.lo)}, {_num(self.hi)}"
                    f"{')' if self.hi_open else ']'}")
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        assert self.hi is not None, "a range bounds at least one side"
        return f"{'<' if self.hi_open else '<='} {_num(self.hi)}"


class _Sayable:
    """Text said or shown to the agent: it needs at least one letter or digit."""


class _TimeZone:
    """An IANA time zone name (``Asia/Shanghai``) that this machine's zone database knows."""


class _Pattern:
    """A phrase pattern (``monitor.config.patterns``): it must compile, and each part it
    requires needs a letter or digit to match."""


Seconds = Annotated[float, Bounds(lo=0.0)]
PositiveSeconds = Annotated[float, Bounds(lo=0.0, lo_open=True)]
Dbfs = Annotated[float, Bounds(hi=0.0)]
"""A level relative to full scale: 0 dBFS is the loudest a sample can be."""
Decibels = Annotated[float, Bounds(lo=0.0)]
"""A difference of levels (a margin, a gap)."""
Hertz = Annotated[float, Bounds(lo=0.0, lo_open=True)]
Ratio = Annotated[float, Bounds(lo=0.0, hi=1.0, lo_open=True)]
Fraction = Annotated[float, Bounds(lo=0.0, hi=1.0)]
NonNegative = Annotated[float, Bounds(lo=0.0)]
Positive = Annotated[float, Bounds(lo=0.0, lo_open=True)]
Count = Annotated[int, Bounds(lo=0)]
PositiveCount = Annotated[int, Bounds(lo=1)]
Sayable = Annotated[str, _Sayable()]
Pattern = Annotated[str, _Pattern()]
TimeZoneName = Annotated[str, _TimeZone()]
Patterns = tuple[Pattern, ...]


@dataclass(frozen=True, slots=True)
class Relation:
    """A check across keys of one section: where it does not hold, the error names the one
    of ``keys`` set last (the file a user just edited) and says what is ``allowed``."""

    keys: tuple[str, ...]
    holds: bool
    allowed: str


class Origins:
    """Which file set each value of the merged configuration, so an error names that file."""

    def __init__(self) -> None:
        self._by_path: dict[Path, str] = {}
        self._order: list[str] = []  # the sources, first read first

    def note(self, path: Path, source: str, value: Any) -> None:
        if source not in self._order:
            self._order.append(source)
        self._by_path[path] = source
        if isinstance(value, dict):
            for key, inner in value.items():
                self.note((*path, key), source, inner)

    def of(self, path: Path) -> str:
        """The file of the value at ``path``, else of the nearest table holding it."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._by_path:
                return self._by_path[path[:end]]
        return self._by_path.get((), "the configuration")

    def latest(self, paths: Iterable[Path]) -> Path:
        """Of ``paths``, the one set by the source read last."""
        return max(paths, key=lambda p: self._order.index(self.of(p))
                   if self.of(p) in self._order else -1)


def key_name(path: Path) -> str:
    """``[rules."hold.too_long"] limit_s``, ``[tones] freqs_hz[2]`` or ``company``: a key as
    it is written in the file."""
    names = [p for p in path if isinstance(p, str)]
    indices = "".join(f"[{p}]" for p in path if isinstance(p, int))
    table = ".".join(_bare(n) for n in names[:-1])
    key = (_bare(names[-1]) if names else "") + indices
    return f"[{table}] {key}" if table else key


def _bare(name: str) -> str:
    """A TOML key as written: quoted unless it is a bare key."""
    return name if name and all(c.isalnum() or c in "_-" for c in name) else f'"{name}"'


def show(value: Any) -> str:
    """A value as one short line, whatever it holds."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class Reader:
    """Builds dataclasses from the merged tables, raising on the first value not allowed."""

    def __init__(self, origins: Origins, reference: str) -> None:
        self.origins = origins
        self.reference = reference  # where the user can see every key (default.toml)

    def fail(self, path: Path, problem: str, fix: str) -> CallmonitorError:
        return CallmonitorError(f"{self.origins.of(path)}: {problem}", fix)

    def bad_value(self, path: Path, value: Any, allowed: str) -> CallmonitorError:
        return self.fail(path, f"{key_name(path)} = {show(value)} is not allowed",
                         f"use {allowed}")

    def build(self, cls: type, data: Any, path: Path) -> Any:
        """The frozen dataclass ``cls`` from the table at ``path``: no unknown keys, no missing
        ones, every value of its field's type and range, then the section's relations."""
        if not isinstance(data, dict):
            raise self.bad_value(path, data, "a table")
        hints = get_type_hints(cls, include_extras=True)
        known = [f for f in fields(cls) if f.init]
        names = {f.name for f in known}
        for key in data:
            if key not in names:
                raise self.fail((*path, key), f"unknown key {key_name((*path, key))}",
                                f"the keys there are {', '.join(sorted(names))}")
        for f in known:
            if f.name not in data and f.default is MISSING and f.default_factory is MISSING:
                raise self.fail(path, f"missing key {key_name((*path, f.name))}",
                                f"add it (see {self.reference})")
        obj = cls(**{k: self.value(hints[k], v, (*path, k)) for k, v in data.items()})
        relations: Callable[[], Iterable[Relation]] | None = getattr(obj, "relations", None)
        for rel in relations() if relations else ():
            if not rel.holds:
                self.broken({(*path, k): data.get(k) for k in rel.keys}, rel.allowed)
        return obj

    def broken(self, values: dict[Path, Any], allowed: str) -> None:
        """A relation between ``values`` (by path) does not hold: name the one set last."""
        path = self.origins.latest(values)
        raise self.bad_value(path, values[path], allowed)

    def value(self, tp: Any, value: Any, path: Path) -> Any:
        """``value`` as type ``tp``, or the error saying what ``tp`` allows."""
        checks: tuple[Any, ...] = ()
        if get_origin(tp) is Annotated:
            tp, *extra = get_args(tp)
            checks = tuple(extra)
        out = self._plain(tp, value, path)
        for check in checks:
            if isinstance(check, Bounds) and not check.allows(out):
                raise self.bad_value(path, value, f"{describe(tp)} {check.describe()}")
            if isinstance(check, _Sayable) and not _has_word(out):
                raise self.bad_value(path, value, "a phrase with at least one letter or digit")
            if isinstance(check, _Pattern):
                self._pattern(out, path)
            if isinstance(check, _TimeZone) and not is_time_zone(out):
                raise self.bad_value(path, value, "an IANA time zone name, e.g. "
                                     '"Asia/Shanghai" or "UTC"')
        return out

    def _pattern(self, pattern: str, path: Path) -> None:
        try:
            chains = compile_pattern(pattern)
        except PatternError as exc:
            raise self.bad_value(path, pattern, f"a phrase pattern: this one fails, {exc} "
                                 "(the syntax is in docs/phrases.md)") from None
        for chain in chains:
            if not all(_has_word(text) for text in chain.texts):
                raise self.bad_value(path, pattern, "a pattern whose every required part has "
                                     "a letter or digit")

    def _plain(self, tp: Any, value: Any, path: Path) -> Any:
        origin = get_origin(tp)
        if origin is Literal:
            if value not in get_args(tp):
                raise self.bad_value(path, value, describe(tp))
            return value
        if origin is tuple:
            if not isinstance(value, list):
                raise self.bad_value(path, value, describe(tp))
            item = get_args(tp)[0]
            return tuple(self.value(item, v, (*path, i)) for i, v in enumerate(value))
        if is_dataclass(tp) and isinstance(tp, type):
            return self.build(tp, value, path)
        if tp is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value):
                raise self.bad_value(path, value, "a finite number")
            return float(value)
        if tp is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.bad_value(path, value, describe(tp))
            return value
        if tp in (str, bool):
            if not isinstance(value, tp):
                raise self.bad_value(path, value, describe(tp))
            return value
        raise TypeError(f"no reader for {tp!r} at {key_name(path)}")


def describe(tp: Any) -> str:
    """What a value of type ``tp`` is, in the words of a TOML file."""
    if get_origin(tp) is Annotated:
        base, *extra = get_args(tp)
        bounds = [e.describe() for e in extra if isinstance(e, Bounds)]
        return " ".join([describe(base), *bounds])
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in get_args(tp))
    if get_origin(tp) is tuple:
        item = describe(get_args(tp)[0])
        return f"a list of {item.removeprefix('a ').removeprefix('an ')}s" if (
            " " not in item.removeprefix("a ").removeprefix("an ")) else f"a list (each {item})"
    return {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}.get(
        tp, "a table")


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is a time zone this machine knows (the web app's sites and users)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _num(x: float) -> str:
    return f"{x:g}"
