"""Audio time as a person reads it: the one formatter the timeline, the console and the review
pages share, so the same moment never reads differently in two places."""

from __future__ import annotations


def clock(t: float, decimals: int = 0, *, hours: bool = False) -> str:
    """``t`` seconds as ``mm:ss`` with ``decimals`` places, or as ``m:ss`` / ``h:mm:ss`` when
    ``hours`` is set.

    The whole time is rounded before it is split into minutes and seconds (as Python rounds
    it when printing it with ``decimals`` places), so a time just short of a minute reads as
    the next minute rather than as second 60. Without ``hours`` an hour reads as 60 minutes:
    the timeline and the console count up through a call that rarely lasts that long, and
    their columns stay aligned. Audio time is never negative; anything below zero reads 0.
    """
    scale = 10**decimals
    units = round(round(max(float(t), 0.0), decimals) * scale)
    whole, fraction = divmod(units, scale)
    minutes, seconds = divmod(whole, 60)
    shown = f"{seconds:02d}" + (f".{fraction:0{decimals}d}" if decimals else "")
    if not hours:
        return f"{minutes:02d}:{shown}"
    h, minutes = divmod(minutes, 60)
    return f"{h}:{minutes:02d}:{shown}" if h else f"{minutes}:{shown}"
