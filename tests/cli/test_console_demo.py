"""The console on the demo repository, as a CI log shows it: the verdict and every blocking
finding on one screen at 80 columns, the verdict again on the last line (a bound on the output)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

SCREEN = 50
"""Rows of a typical terminal window: the verdict and every blocking finding fit in them."""


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The README's first command: the demo advisories imported, the demo repository copied."""
    target = tmp_path / "leaky-repo"
    shutil.copytree(REPO / "examples" / "leaky-repo", target)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "db"))
    imported = runner.invoke(app, ["db", "import", str(REPO / "examples" / "advisories")])
    assert imported.exit_code == 0, imported.output
    return target


def _console(demo: Path, columns: int, *extra: str) -> list[str]:
    result = runner.invoke(app, ["gate", str(demo), *extra], env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    assert result.exit_code == 1, result.output
    return result.stdout.rstrip("\n").splitlines()


def test_the_demo_fits_one_screen_at_80_columns(demo: Path) -> None:
    lines = _console(demo, 80)
    assert max(len(line) for line in lines) <= 80
    verdict = " BLOCKED  13 blocking · 36 warnings · 0 excepted · 0 suppressed inline"
    assert lines[0] == verdict and lines[-1] == verdict, "the verdict first, and last for a log's tail"
    blocking = [i for i, line in enumerate(lines) if line.startswith("✗ ")]
    assert len(blocking) == 13, "every blocking finding"
    assert blocking[-1] < SCREEN - 2, "the last blocking finding and its fingerprint are on the first screen"
    assert len(lines) <= 56, f"{len(lines)} lines at 80 columns"
    text = "\n".join(lines)
    assert text.count("clearance exceptions add") == 1, "the exception command once, as a template"
    assert " ".join(text.split()).count("revoke and rotate it") == 1, "each policy reason once"
    fingerprints = re.findall(r"\bfp ([0-9a-f]{32})\b", text)
    assert len(set(fingerprints)) == 13, "each blocking finding names the fingerprint to except it by"
    assert "django 3.2.12 ×15 → 4.2.16" in text, "warnings grouped by package, with the fixing version"


def test_the_demo_at_200_columns_uses_the_width_and_verbose_lists_everything(demo: Path) -> None:
    wide = _console(demo, 200)
    assert len(wide) <= 36, f"{len(wide)} lines at 200 columns"
    assert 120 < max(len(line) for line in wide) <= 160
    verbose = "\n".join(_console(demo, 80, "--verbose"))
    assert verbose.count("$ clearance exceptions add --fingerprint ") == 13, "each finding's own command"
    assert verbose.count("\n! ") == 36, "every warning on its own line"
