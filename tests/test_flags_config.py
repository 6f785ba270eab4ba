"""`[flags]` and `[[flags.ramp]]`: loaded into ramp entries, every mistake named by file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipdeck.core.config import ConfigError, load_config
from shipdeck.core.providers.flags_base import parse_stage
from shipdeck.core.ramp_config import ramp_entries, ramp_entry

HEADER = '# the product\n[project]\nname = "product"\n\n'
FLAGS = '[flags]\nprovider = "unleash"\nurl = "http://127.0.0.1:4242"\n'
RAMP = '\n[[flags.ramp]]\nflag = "ai-copilot"\nstages = ["team", "10%", "100%"]\nteam_segment = "internal-staff"\nwatch = "15m"\n'


def _load(tmp_path: Path, body: str) -> object:
    path = tmp_path / "shipdeck.toml"
    path.write_text(HEADER + body, encoding="utf-8")
    return load_config(path)


def test_a_ramp_loads_with_normalised_stages(tmp_path: Path) -> None:
    config = _load(tmp_path, FLAGS + RAMP + '\n[[flags.ramp]]\nflag = "search-v2"\nstages = ["5", "100 %"]\nteam_segment = "staff"\nwatch = "90s"\n')
    entries = ramp_entries(config)  # type: ignore[arg-type]
    assert [(e.flag, e.stages, e.watch) for e in entries] == [
        ("ai-copilot", ("team", "10%", "100%"), 900.0),
        ("search-v2", ("5%", "100%"), 90.0),
    ]
    entry = ramp_entry(config, "ai-copilot")  # type: ignore[arg-type]
    assert entry is not None and entry.previous("10%") == "team" and entry.previous("team") == "off"
    assert config.provider("flags").settings["token_env"] == "UNLEASH_ADMIN_TOKEN"  # type: ignore[attr-defined]


# (ramp body replacing RAMP, key named, line within FLAGS + body, words)
BAD = {
    "unknown-stage": ('\n[[flags.ramp]]\nflag = "x"\nstages = ["team", "half"]\nteam_segment = "s"\n', "flags.ramp.stages", 7, ["unknown stage 'half'"]),
    "narrowing": ('\n[[flags.ramp]]\nflag = "x"\nstages = ["100%", "10%"]\n', "flags.ramp.stages", 7, ["must widen"]),
    "team-without-segment": ('\n[[flags.ramp]]\nflag = "x"\nstages = ["team", "10%"]\n', "flags.ramp.team_segment", None, ["needs team_segment"]),
    "no-flag": ('\n[[flags.ramp]]\nstages = ["10%"]\n', "flags.ramp.flag", None, ["needs flag"]),
    "unknown-key": ('\n[[flags.ramp]]\nflag = "x"\nstagez = ["10%"]\n', "flags.ramp.stagez", 7, ["unknown key 'stagez'"]),
    "bad-watch": ('\n[[flags.ramp]]\nflag = "x"\nstages = ["10%"]\nwatch = "soon"\nteam_segment = "s"\n', "flags.ramp.watch", 8, ["'soon'"]),
    "twice": ('\n[[flags.ramp]]\nflag = "x"\nstages = ["10%"]\nteam_segment = "s"\n\n[[flags.ramp]]\nflag = "x"\nstages = ["50%"]\nteam_segment = "s"\n', "flags.ramp.flag", 6, ["two [[flags.ramp]]"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_ramp_is_named_with_file_key_and_line(tmp_path: Path, case: str) -> None:
    body, key, line, words = BAD[case]
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, FLAGS + body)
    error = caught.value
    assert error.key == key
    if line is not None:
        assert error.line == HEADER.count("\n") + line
    for word in words:
        assert word in error.problem


def test_the_secret_is_a_variable_name_not_a_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NAME of an environment variable"):
        _load(tmp_path, FLAGS + 'token_env = "*:*.abc123"\n')


@pytest.mark.parametrize(("text", "stage"), [("off", "off"), ("Team", "team"), ("10", "10%"), ("10%", "10%"), ("100", "100%")])
def test_stages_from_the_command_line(text: str, stage: str) -> None:
    assert parse_stage(text) == stage


@pytest.mark.parametrize("text", ["0", "101", "ten", ""])
def test_bad_stages_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="use off, team, or a percentage"):
        parse_stage(text)


def test_launchdarkly_takes_the_same_ramp(tmp_path: Path) -> None:
    config = _load(tmp_path, '[flags]\nprovider = "launchdarkly"\nproject = "web"\n' + RAMP)
    assert config.provider("flags").settings["token_env"] == "LD_API_TOKEN"  # type: ignore[attr-defined]
    assert [e.flag for e in ramp_entries(config)] == ["ai-copilot"]  # type: ignore[arg-type]
