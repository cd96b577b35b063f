"""Configuration loading and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.config import Settings, load_settings
from clearance.errors import ConfigError
from clearance.model import Severity


def test_defaults_when_no_file(tmp_path: Path) -> None:
    settings, source = load_settings(tmp_path)
    assert source is None
    assert settings == Settings()
    assert settings.fail_on is Severity.HIGH


def test_clearance_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "clearance.toml").write_text('fail_on = "critical"\nscanners = ["secrets"]\n')
    (tmp_path / "pyproject.toml").write_text('[tool.clearance]\nfail_on = "low"\n')
    settings, source = load_settings(tmp_path)
    assert source == tmp_path / "clearance.toml"
    assert settings.fail_on is Severity.CRITICAL and settings.scanners == ["secrets"]


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.clearance]\nmax_file_size = 10\n')
    settings, _ = load_settings(tmp_path)
    assert settings.max_file_size == 10


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('fail_on = "severe"', "fail_on"),
        ('scanners = ["secrets", "magic"]', "unknown scanner"),
        ("max_file_size = -1", "max_file_size"),
        ("unknown_key = 1", "unknown_key"),
        ("[secrets]\ndisable = 3", "secrets.disable"),
        ("fail_on = ", "not valid TOML"),
    ],
)
def test_invalid_config_is_a_config_error_naming_the_key(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "clearance.toml").write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert needle in err.value.diagnostics()
    assert err.value.exit_code == 4


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('fail_closed = "false"', "fail_closed (line 1): expected a boolean"),
        ("max_file_size = 1.5", "max_file_size (line 1): expected an integer"),
        ('[policy.exceptions]\n\nmax_days_high = "90"', "policy.exceptions.max_days_high (line 3)"),
        (
            '[[policy.rules]]\nname = "a"\nwhen = "true"\naction = "warn"\n'
            '[[policy.rules]]\nname = "b"\nwhen = 3\naction = "warn"',
            "policy.rules.1.when (line 7): expected a string (in quotes), got integer 3",
        ),
        ("scanners = 'secrets'", "scanners (line 1): expected an array"),
    ],
)
def test_wrong_types_are_refused_naming_key_line_and_type(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "clearance.toml").write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert needle in err.value.diagnostics()


def test_wrong_type_in_pyproject_names_the_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.clearance]\nfail_closed = "no"\n'
    )
    with pytest.raises(ConfigError, match=r"tool\.clearance\.fail_closed \(line 5\): expected a boolean"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 3000 + "1" + "}" * 3000],
    ids=["deep-array", "deep-inline-table"],
)
def test_deep_nesting_is_a_config_error_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "clearance.toml").write_text(text + "\n")
    with pytest.raises(ConfigError, match="nested deeper than 32 levels"):
        load_settings(tmp_path)


def test_brackets_inside_strings_and_comments_do_not_count_as_nesting(tmp_path: Path) -> None:
    (tmp_path / "clearance.toml").write_text(
        'ignore = ["' + "[" * 100 + '"]  # ' + "{" * 100 + "\n[secrets]\ndisable = ['''" + "[" * 50 + "''']\n"
    )
    settings, _ = load_settings(tmp_path)
    assert settings.ignore == ["[" * 100]
