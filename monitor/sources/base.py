"""What every audio source yields: one frame per channel for each 20 ms step of audio time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from monitor.frames import Channel, DeviceNotice, Frame


class Source(ABC):
    """A call's audio, as 16 kHz mono int16 frames per channel, stamped with audio time."""

    channels: tuple[Channel, ...]
    read_ahead_steps: int = 1
    """How many steps the session may take before analysing the first of them. A recording
    has them all at hand, and analysing many together costs less; a live capture's must be
    analysed as they come, or every alert waits for the steps after it."""
    mixed: bool = False
    """Both sides of the call are in the one ``agent`` channel (a recorder that mixed them):
    rings are listened for there, and the checks that need the sides apart are skipped."""

    @abstractmethod
    def frames(self) -> Iterator[tuple[Frame, ...]]:
        """One tuple per 20 ms step, one ``Frame`` per channel in ``channels`` order.

        Step ``i`` has ``t == i * FRAME_S``; a short final step is padded with silence.
        """

    @abstractmethod
    def describe(self) -> str:
        """A line for the timeline header: what is being listened to."""

    def notices(self) -> list[DeviceNotice]:
        """What happened to the devices since the last call (a live source loses devices)."""
        return []

    def summary(self) -> dict[str, Any]:
        """Facts about the capture for the session summary (overruns, device gaps)."""
        return {}
