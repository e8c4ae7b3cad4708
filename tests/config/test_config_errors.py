"""A bad configuration is one line naming the file and the key, exit 2, and no stored session.

Each case is a real ``callmonitor replay`` of the demo call (in-process with click's runner,
so the many cases stay fast) given a site file with ``--config``, or a copy of ``config/``
with one base file edited (``CALLMONITOR_CONFIG_DIR``), for what only the base files can
get wrong (a key or a message left out).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.config import config_dir, load_config

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "demo_call.wav"

# (case, site file text, what the error line must name besides the file)
SITE_CASES: list[tuple[str, str, str]] = [
    # the issue's own examples
    ("dead air limit -5", '[rules."dead_air"]\nlimit_s = -5', 'limit_s = -5'),
    ("weight -100", '[score.weights]\n"dead_air" = -100', 'dead_air = -100'),
    ("NaN duration", '[rules."hold.too_long"]\nlimit_s = nan', "limit_s = nan"),
    ("onset_frames > onset_window_frames", "[vad]\nonset_frames = 7", "onset_frames = 7"),
    ("aggressiveness 4", "[vad]\naggressiveness = 4", "aggressiveness = 4"),
    ("tone window 0", "[tones]\nwindow_s = 0.0", "window_s = 0.0"),
    ("string for a list", '[phrases."filler"]\npatterns = "嗯"', "patterns"),
    ("unknown rule id", '[rules."hold.too_short"]\nlimit_s = 3.0', "hold.too_short"),
    ("unknown key", '[rules."dead_air"]\nlimt_s = 3.0', "limt_s"),
    ("unknown severity", '[messages.dead_air]\nseverity = "critical"', "severity"),
    ("template names what is not there", '[messages.dead_air]\nmessage = "quiet {seconds} s"',
     "{seconds}"),
    ("hotword template", '[asr]\nwhisper_hotwords = ["{company}", "{customer}"]',
     "{customer}"),
    ("not UTF-8", b'company = "\xff\xfe"\n', "UTF-8"),
    # types
    ("bool where a number", '[rules."dead_air"]\nlimit_s = true', "limit_s = true"),
    ("string where a number", '[web]\nport = "8750"', 'port = "8750"'),
    ("float where a whole number", '[rules."ring.late_pickup"]\nmax_rings = 3.5', "max_rings"),
    ("list item of the wrong type", "[tones]\nfreqs_hz = [400.0, \"440\"]", "freqs_hz[1]"),
    ("number where a string", "company = 5", "company = 5"),
    ("value where a table", '[rules]\n"dead_air" = 5', "[rules] dead_air = 5"),
    ("weights not a table", "[score]\nweights = 3", "weights"),
    ("weight as a string", '[score.weights]\n"dead_air" = "high"', 'dead_air = "high"'),
    ("phrase list of numbers", '[phrases."hold.announce"]\npatterns = [1, 2]',
     "patterns[0]"),
    # ranges
    ("infinite duration", "[vad]\nhangover_s = inf", "hangover_s = inf"),
    ("negative hangover", "[vad]\nhangover_s = -0.3", "hangover_s"),
    ("negative aggressiveness", "[vad]\naggressiveness = -1", "aggressiveness"),
    ("port 0", "[web]\nport = 0", "port = 0"),
    ("port 70000", "[web]\nport = 70000", "port = 70000"),
    ("tonal ratio 0", "[tones]\ntonal_ratio = 0.0", "tonal_ratio"),
    ("tonal ratio above 1", "[tones]\ntonal_ratio = 1.5", "tonal_ratio"),
    ("tone above what 16 kHz audio holds", "[tones]\nfreqs_hz = [9000.0]", "freqs_hz[0]"),
    ("level above 0 dBFS", '[rules."volume.too_loud"]\nmax_level_dbfs = 5.0', "max_level_dbfs"),
    ("negative ring count", '[rules."ring.late_pickup"]\nmax_rings = -1', "max_rings"),
    ("hint volume above 1", "[hints]\nvolume = 1.5", "volume"),
    ("capture block of 0 ms", "[live]\nblock_ms = 0", "block_ms"),
    ("weight NaN", '[score.weights]\n"interruption" = nan', "interruption = nan"),
    ("weight infinite", '[score.weights]\n"interruption" = inf', "interruption = inf"),
    ("name similarity 0", '[rules."greeting.incomplete"]\nname_spelling_similarity = 0.0',
     "name_spelling_similarity"),
    # relations the comments state
    ("hold warning not before the limit", '[rules."hold.too_long"]\nwarn_before_s = 30.0',
     "warn_before_s"),
    ("warning after the transfer limit", '[rules."hold.too_long"]\nwarn_before_s = 12.0',
     "warn_before_s"),
    ("hold confirmed after dead air", '[rules."hold.too_long"]\nconfirm_silence_s = 6.0',
     "confirm_silence_s"),
    ("phrase gap not under the turn gap", "[asr]\nphrase_gap_s = 2.0", "phrase_gap_s"),
    ("phrase cut shorter than twice its pad", "[asr]\nmax_phrase_s = 0.4", "max_phrase_s"),
    ("whisper windows not ascending", "[asr]\nwhisper_windows_s = [20, 10]", "whisper_windows_s"),
    ("no whisper window", "[asr]\nwhisper_windows_s = []", "whisper_windows_s"),
    ("whisper window over 30 s", "[asr]\nwhisper_windows_s = [10, 40]", "whisper_windows_s[1]"),
    ("negative window margin", "[asr]\nwhisper_window_margin_s = -1.0",
     "whisper_window_margin_s"),
    ("slow limit above the fast one", '[rules."rate.too_slow"]\ntoo_slow_below = 200.0',
     "too_slow_below"),
    ("rate window shorter than its minimum", '[rules."rate.too_fast"]\nmin_window_s = 40.0',
     "min_window_s"),
    ("syllable hop that does not divide 20 ms", "[syllables]\nhop_ms = 7.0", "hop_ms"),
    ("syllable bands that do not rise", "[syllables]\nband_split_hz = 3500.0", "band_split_hz"),
    # unknown names
    ("unknown section", "[scoring]\nbonus = 1", "[scoring]"),
    ("unknown top-level key", 'compnay = "Acme"', "compnay"),
    ("unknown rule id for a message", '[messages."dead_aire"]\nseverity = "warn"', "dead_aire"),
    ("unknown rule id for a weight", '[score.weights]\n"dead_airs" = 1.0', "dead_airs"),
    ("unknown key under [score]", "[score]\nbonus = 1", "bonus"),
    ("rule id without settings", '[rules."hold.no_thanks"]\nreturn_window_s = 5.0',
     "hold.no_thanks"),
    ("unknown key in a phrase family",
     '[phrases."taboo.rude"]\npatterns = ["滚"]\nsuggestion = "请"\nnote = "x"', "note"),
    ("taboo family without its suggestion", '[phrases."taboo.rude"]\npatterns = ["滚"]',
     "suggestion"),
    ("suggestion outside a taboo family", '[phrases."greeting"]\nsuggestion = "您好"',
     "suggestion"),
    ("unknown phrase family", '[phrases."greetings"]\npatterns = ["您好"]', "greetings"),
    ("phrase family without patterns", '[phrases."closing.goodbye"]\npatterns = []',
     "patterns"),
    ("pinyin cost table missing", '[matching]\npinyin_costs = "nowhere.toml"', "pinyin_costs"),
    ("cost per unit above 1", '[matching]\nmax_cost_per_unit = 1.5', "max_cost_per_unit"),
    ("urgent hint for no rule", '[hints]\nurgent_rules = ["interupt"]', "urgent_rules[0]"),
    ("unknown agent side", '[audio]\nagent_side = "middle"', "agent_side"),
    ("unknown recogniser", '[asr]\nbackend = "google"', "backend"),
    ("unknown rate unit", 'rate_unit = "spm"', "rate_unit"),
    ("unknown language", 'language = "fr"', "language"),
    ("store URL that is no PostgreSQL", '[store]\nurl = "mysql://db/calls"', "url"),
    # templates
    ("format spec that does not fit", '[messages."greeting.incomplete"]\n'
     'message = "missing {missing:.0f}"', "message"),
    ("unmatched brace", '[messages.dead_air]\nsay = "wait {"', "say"),
    ("positional placeholder", '[messages.dead_air]\nsay = "wait {}"', "say"),
    ("attribute of evidence", '[messages.dead_air]\nsay = "{limit_s.real} {nothing.x}"',
     "{nothing.x}"),
    ("positional hotword", '[asr]\nwhisper_hotwords = ["{0}"]', "whisper_hotwords[0]"),
    # phrases
    ("empty phrase", '[phrases."closing.thanks"]\npatterns = ["感谢您的来电", ""]',
     "patterns[1]"),
    ("phrase of punctuation only", '[phrases."greeting"]\npatterns = ["！"]', "patterns[0]"),
    ("empty filler", '[phrases."filler"]\npatterns = ["嗯", " "]', "patterns[1]"),
    ("unclosed alternative", '[phrases."greeting"]\npatterns = ["(您|你好"]', "not closed"),
    ("regular expression in a pattern", '[phrases."greeting"]\npatterns = ["(您)?好"]',
     "optional part as [a]"),
    ("gap at the start", '[phrases."greeting"]\npatterns = ["…您好"]', "gap at the start"),
    ("gap with a bad bound", '[phrases."greeting"]\npatterns = ["您…{0}好"]', "bound"),
    ("part of punctuation only", '[phrases."greeting"]\npatterns = ["您好…！"]',
     "patterns[0]"),
    ("alias group of numbers", '[matching]\naliases = [[1]]', "aliases[0][0]"),
    # the file itself
    ("not TOML", "company = ", "not valid TOML"),
    ("duplicate key", 'company = "A"\ncompany = "B"', "not valid TOML"),
]

# (case, base file, text to replace, replacement, what the error line must name)
BASE_CASES: list[tuple[str, str, str, str, str]] = [
    ("missing weight", "default.toml", '"dead_air" = 1.0\n', "", "dead_air"),
    ("missing message", "zh-CN.toml", 'message = "双方沉默超过 {limit_s:.0f} 秒（死寂），'
     '客户在无声等待"\n', "", "message"),
    ("missing say", "en-US.toml", 'say = "Slow down"\n', "", "say"),
    ("missing key", "default.toml", "turn_gap_s = 1.5\n", "", "turn_gap_s"),
    ("dead air kept under [engine]", "default.toml", "[engine]\n",
     "[engine]\ndead_air_s = 5.0\n", "dead_air_s"),
    ("profile not UTF-8", "zh-CN.toml", "# Mandarin profile", "# \udcff Mandarin profile",
     "UTF-8"),
]


def replay(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["replay", str(DEMO), "--asr", "none", *args],
                              env=env, catch_exceptions=True)


def sessions(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        return conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] if (
            "sessions" in tables) else 0


def assert_refused(result: Result, db: Path, *named: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    assert lines[0].startswith("callmonitor: error: ") and ";" in lines[0]
    for name in named:
        assert name in lines[0], lines[0]
    assert sessions(db) == 0


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")
    return path


def test_there_are_at_least_55_kinds_of_bad_configuration():
    cases = [c[0] for c in SITE_CASES] + [c[0] for c in BASE_CASES]
    assert len(set(cases)) == len(cases) >= 55


@pytest.mark.parametrize(("case", "text", "named"), SITE_CASES, ids=[c[0] for c in SITE_CASES])
def test_a_bad_site_file_is_one_line_and_stores_nothing(tmp_path, case, text, named):
    site = write(tmp_path / "site.toml", text)
    db = tmp_path / "calls.sqlite3"
    assert_refused(replay(["--db", str(db), "--config", str(site)]), db, str(site), named)


@pytest.mark.parametrize(("case", "name", "old", "new", "named"), BASE_CASES,
                         ids=[c[0] for c in BASE_CASES])
def test_a_bad_base_file_is_one_line_and_stores_nothing(tmp_path, case, name, old, new, named):
    folder = tmp_path / "config"
    shutil.copytree(config_dir(), folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_bytes(text.replace(old, new, 1).encode("utf-8", "surrogateescape"))
    db = tmp_path / "calls.sqlite3"
    profile = "en-US" if name == "en-US.toml" else "zh-CN"
    result = replay(["--db", str(db), "--profile", profile],
                    env={"CALLMONITOR_CONFIG_DIR": str(folder), "CALLMONITOR_CONFIG": ""})
    assert_refused(result, db, str(path), named)


def test_a_missing_site_file_is_named(tmp_path):
    db = tmp_path / "calls.sqlite3"
    site = tmp_path / "nowhere.toml"
    assert_refused(replay(["--db", str(db), "--config", str(site)]), db, str(site), "missing")


def test_a_bad_command_line_value_is_checked_like_the_files(tmp_path):
    db = tmp_path / "calls.sqlite3"
    site = write(tmp_path / "site.toml", 'company = "Acme"')
    result = replay(["--db", str(db), "--config", str(site), "--company", ""])
    assert result.exit_code == 0  # an empty company is allowed: the greeting then skips it
    assert sessions(db) == 1


SITE = """\
# A desk's own settings, over the zh-CN profile.
company = "诚美保险"
agent_name = "小李"

[rules."ring.late_pickup"]
max_rings = 1

[score.weights]
"dead_air" = 7.0
"""


def summary_of(result: Result) -> dict:
    assert result.exit_code == 0, (result.output, result.exception)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return next(r for r in records if r["type"] == "summary")


def test_a_site_file_changes_names_thresholds_and_weights(tmp_path):
    site = write(tmp_path / "site.toml", SITE)
    plain = summary_of(replay(["--db", str(tmp_path / "a.sqlite3"), "--json"],
                              env={"CALLMONITOR_CONFIG": ""}))
    sited = summary_of(replay(["--db", str(tmp_path / "b.sqlite3"), "--json",
                               "--config", str(site)]))
    assert (sited["company"], sited["agent_name"]) == ("诚美保险", "小李")
    weights = {c["rule"]: c["weight"] for c in sited["checks"]}
    assert weights["dead_air"] == 7.0
    assert weights["interruption"] == load_config("zh-CN").score_weights["interruption"]
    # the demo call is answered after 2 rings: late for this desk, not for the standard
    assert "ring.late_pickup" in sited["alerts_by_rule"]
    assert "ring.late_pickup" not in plain["alerts_by_rule"]
    # the command line still wins over the site file
    named = summary_of(replay(["--db", str(tmp_path / "c.sqlite3"), "--json",
                               "--config", str(site), "--company", "别家"]))
    assert named["company"] == "别家"


def test_callmonitor_config_in_the_environment_is_the_site_file(tmp_path):
    site = write(tmp_path / "site.toml", SITE)
    summary = summary_of(replay(["--db", str(tmp_path / "a.sqlite3"), "--json"],
                                env={"CALLMONITOR_CONFIG": str(site)}))
    assert summary["company"] == "诚美保险"
    assert load_config("en-US", site=site).rules.ring_late_pickup.max_rings == 1
    bad = write(tmp_path / "bad.toml", '[rules."dead_air"]\nlimit_s = -5')
    db = tmp_path / "b.sqlite3"
    assert_refused(replay(["--db", str(db)], env={"CALLMONITOR_CONFIG": str(bad)}), db,
                   str(bad), "limit_s = -5")


def test_site_store_settings_choose_the_database(tmp_path):
    db = tmp_path / "site.sqlite3"
    site = write(tmp_path / "site.toml", f'[store]\npath = "{db}"')
    result = CliRunner().invoke(main, ["replay", str(DEMO), "--asr", "none", "--json",
                                       "--config", str(site)],
                                env={"CALLMONITOR_DB": ""})
    assert result.exit_code == 0, result.output
    assert sessions(db) == 1
    listed = CliRunner().invoke(main, ["sessions", "--config", str(site)],
                                env={"CALLMONITOR_DB": ""})
    assert str(DEMO) in listed.stdout
