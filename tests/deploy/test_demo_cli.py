"""`clearance ledger demo` through the CLI: the serve command it prints keeps the audit log verifiable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_printed_serve_command_names_the_demo_log_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo signs its audit checkpoints with its own key; a server started without that key
    would sign new checkpoints with another one and `ledger verify-log` would report the log
    broken. The printed command (and so the README's) must name it, and verify-log must pass."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the default key, if one were used
    work = tmp_path / "demo"
    result = runner.invoke(app, ["ledger", "demo", "--workdir", str(work), "--examples", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    serve = re.search(r"serve it: clearance ledger serve --db (\S+) --log-key (\S+)", result.output)
    assert serve is not None, result.output
    db, key = serve.groups()
    assert Path(key) == work / "ledger-log.key"
    checked = runner.invoke(app, ["ledger", "verify-log", "--db", db, "--log-key", key])
    assert checked.exit_code == 0, checked.output
    assert "audit log OK" in checked.output
    other = runner.invoke(app, ["ledger", "verify-log", "--db", db, "--log-key", str(tmp_path / "other.key")])
    assert other.exit_code == 1, other.output
    assert "signatures do not verify with this key" in other.output
    assert "matches: None" not in other.output
