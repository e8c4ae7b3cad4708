"""Expanding batch INPUT arguments: folders (recursive), patterns, manifests with per-call
options, and arguments that name nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.batch.inputs import CallTask, expand_inputs
from monitor.errors import CallmonitorError

DEFAULTS = CallTask(Path(), "zh-CN", company="Acme", agent_name=None)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("b.wav", "a.WAV", "sub/deeper/c.flac", "sub/d.mp3", "sub/notes.txt",
                 "sub/e.wav.bak"):
        path = tmp_path / "calls" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path / "calls"


def names(tasks: list[CallTask], root: Path) -> list[str]:
    return [str(t.path.relative_to(root)) for t in tasks]


def test_a_folder_is_searched_recursively_for_recordings_in_sorted_order(tree):
    tasks = expand_inputs([str(tree)], DEFAULTS)
    assert names(tasks, tree) == ["a.WAV", "b.wav", "sub/d.mp3", "sub/deeper/c.flac"]
    assert all(t.path.is_absolute() and t.company == "Acme" for t in tasks)


def test_a_pattern_the_shell_did_not_expand_is_expanded_here(tree):
    tasks = expand_inputs([str(tree / "**" / "*.wav"), str(tree / "sub" / "*.mp3")], DEFAULTS)
    assert names(tasks, tree) == ["b.wav", "sub/d.mp3"]


def test_a_manifest_sets_per_call_options_over_the_commands(tree, tmp_path):
    events = tmp_path / "ev.jsonl"
    manifest = tree / "list.csv"
    manifest.write_text("path,profile,company,agent_name,swap_channels,call_events\n"
                        "b.wav,,,,,\n"
                        f"sub/d.mp3,en-US,Initech,Anna,yes,{events}\n"
                        "../elsewhere.wav,,,,0,../ev.jsonl\n", encoding="utf-8")
    plain, custom, outside = expand_inputs([str(manifest)], DEFAULTS)
    assert plain == CallTask(tree / "b.wav", "zh-CN", "Acme")
    assert custom == CallTask(tree / "sub" / "d.mp3", "en-US", "Initech", "Anna", True, events)
    # relative paths are relative to the manifest's folder; a missing file is still a call
    assert outside.path == tmp_path / "elsewhere.wav"
    assert outside.call_events == events and outside.swap_channels is False


@pytest.mark.parametrize("header,row,problem", [
    ("file,company", "b.wav,X", "no path column"),
    ("path,colour", "b.wav,red", "unknown columns: colour"),
    ("path,swap_channels", "b.wav,maybe", "swap_channels 'maybe'"),
    ("path,company", ",X", "line 2 has no path"),
])
def test_a_bad_manifest_is_one_error_naming_the_problem(tree, header, row, problem):
    manifest = tree / "bad.csv"
    manifest.write_text(f"{header}\n{row}\n", encoding="utf-8")
    with pytest.raises(CallmonitorError, match=problem):
        expand_inputs([str(manifest)], DEFAULTS)


def test_an_argument_that_names_nothing_is_an_error_not_a_smaller_corpus(tree):
    with pytest.raises(CallmonitorError, match="names no recording"):
        expand_inputs([str(tree / "*.ogg")], DEFAULTS)
    empty = tree / "empty"
    empty.mkdir()
    with pytest.raises(CallmonitorError, match="names no recording"):
        expand_inputs([str(empty)], DEFAULTS)


def test_a_named_file_that_does_not_exist_is_a_call_that_will_fail(tree):
    (task,) = expand_inputs([str(tree / "gone.wav")], DEFAULTS)
    assert task.path == tree / "gone.wav"
