"""keyq.toml: optional, validated, and refused with the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.orgconfig import ConfigError, OrgConfig, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keyq.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    config = load(tmp_path / "absent.toml")
    assert config == OrgConfig()
    assert config.reporting.threshold == 10 and config.followups == {}


def test_followups_keep_the_asking_order(tmp_path: Path) -> None:
    config = load(
        write(
            tmp_path,
            """
[followups.location]
question = "Where?"
options = ["North", "South"]

[followups.level]
question = "Level?"
options = ["Entry", "Senior"]
""",
        )
    )
    assert list(config.followups) == ["level", "location"]
    assert config.followups["level"].options == ("Entry", "Senior")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('[organisation]\nname = "A"\nname = "B"\n', 3, "line 3"),
        (
            '[organisation]\nname = "A"\n\n[reporting]\nthreshold = 5\n',
            5,
            "greater than or equal to 10",
        ),
        ('[organisation]\nheadcount = "lots"\n', 2, "valid integer"),
        ('[followups.level]\nquestion = "Level?"\noptions = ["A", "a"]\n', 3, "distinct"),
        ('[followups.shoe_size]\nquestion = "?"\noptions = ["9"]\n', 1, "unknown setting"),
        ('[organisation]\nname = "A"\ncolour = "red"\n', 3, "unknown setting"),
        (
            '[followups.level]\nquestion = "Level?"\noptions = ["' + "x" * 31 + '"]\n',
            3,
            "30 characters",
        ),
    ],
)
def test_invalid_file_names_line_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, text))
    message = str(raised.value)
    assert f"line {line}" in message and problem in message


def test_required_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "absent.toml", required=True)


def test_the_readme_example_is_a_valid_keyq_toml(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load(write(tmp_path, example))
    assert list(config.followups) == ["level", "function", "location"]
    assert config.organisation.sector == "legal" and config.headcount.level["Frontline"] == 150


def test_the_readme_lists_every_setting() -> None:
    from bot.settings import Settings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`KEYQ_{name.upper()}`" in readme, name
