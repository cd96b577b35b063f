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
