"""Opening a recorded call, whatever format the recorder wrote it in.

The format is read from the file's first bytes, not its name: recorders and the tools that
copy their files get extensions wrong (an MP3 saved as ``.wav``, a ``.dat`` that is a WAV), and
the content is what a reader has to understand. WAV keeps its own reader (``wavfile.py``:
every header variant a PBX writes, G.711); FLAC, Ogg and MP3 go through PyAV (``decoded.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from monitor.sources.decoded import Container, DecodedSource
from monitor.sources.recorded import (
    ChannelLayout,
    RecordedSource,
    error,
    regular_file_size,
    unreadable,
)
from monitor.sources.wavfile import WavSource

Kind = Literal["wav"] | Container


def sniff(head: bytes) -> Kind | None:
    """The format the first bytes of a file announce, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    # An ID3 tag, or straight into an MPEG audio layer III frame (11 sync bits, layer bits 01).
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "mp3"
    return None


def open_recording(path: Path | str, agent_side: Literal["left", "right"] = "left",
                   swap_channels: bool = False,
                   channels: ChannelLayout | None = None) -> RecordedSource:
    """The recorded call at ``path`` as a source of frames, channels mapped by ``channels``
    (None: the stereo layout ``agent_side`` names; see ``recorded.layout_columns``).

    Every problem the user can fix (no such file, an empty or unknown one, a codec not read
    here, a layout the file cannot have) raises ``CallmonitorError`` here, before any frame.
    Content that is no recording at all in a file named ``.wav`` is reported as a bad WAV.
    """
    path = Path(path)
    try:
        regular_file_size(path)
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise unreadable(path, exc) from None
    kind = sniff(head)
    if kind is None and path.suffix.lower() == ".wav":
        kind = "wav"  # what is wrong with it, in the WAV reader's words ("no RIFF header")
    if kind is None:
        named = f" (named {path.suffix})" if path.suffix else ""
        raise error(path, f"not a recording callmonitor reads{named}: its content is not "
                          "WAV, FLAC, Ogg or MP3",
                    f"check the path, or convert it: ffmpeg -i {path} -ac 2 out.wav")
    if kind == "wav":
        return WavSource(path, agent_side, swap_channels, channels=channels)
    return DecodedSource(path, kind, agent_side, swap_channels, channels=channels)


__all__ = ["Kind", "open_recording", "sniff"]
