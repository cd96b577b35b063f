"""Exit codes live in one place (`decision.ExitCode`) and match the README's table, for every
error class and every outcome of every command."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import clearance
from clearance import cli
from clearance.decision import ExitCode, exit_code_for, scan_exit_code, verify_exit_code
from clearance.errors import ClearanceError
from clearance.model import Outcome, ScannerRun, ScannerStatus, ScanResult, Target

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "clearance"


def _readme_table() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def _all_error_classes() -> list[type[ClearanceError]]:
    for info in pkgutil.walk_packages(clearance.__path__, "clearance."):
        if ".migrations" in info.name:  # Alembic scripts run only inside a migration context
            continue
        importlib.import_module(info.name)
    found: list[type[ClearanceError]] = []
    todo: list[type[ClearanceError]] = [ClearanceError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_readme_table_lists_exactly_the_exit_codes() -> None:
    assert set(_readme_table()) == {int(c) for c in ExitCode}


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_carries_a_documented_exit_code(cls: type[ClearanceError]) -> None:
    table = _readme_table()
    assert isinstance(cls.exit_code, ExitCode)
    assert int(cls.exit_code) in table
    # An error never looks like a policy outcome: not "pass", not "blocked".
    assert cls.exit_code not in (ExitCode.PASS, ExitCode.BLOCKED)


def test_error_classes_say_what_the_table_says() -> None:
    from clearance.errors import ConfigError, PolicyError, ScanError, SourceError, UsageError

    table = _readme_table()
    assert "usage" in table[int(UsageError.exit_code)]
    assert "configuration" in table[int(ConfigError.exit_code)]
    assert "policy" in table[int(PolicyError.exit_code)]
    assert "incomplete" in table[int(SourceError.exit_code)]
    assert "advisory database" in table[int(ScanError.exit_code)]
    assert "internal" in table[int(ClearanceError.exit_code)]
    from clearance.errors import LedgerError

    # `clearance push` refused (403, 400…) or the ledger unreachable: the table says so
    assert "ledger" in table[int(LedgerError.exit_code)]


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_gate_outcome_maps_to_a_documented_code(outcome: Outcome) -> None:
    table = _readme_table()
    code = exit_code_for(outcome)
    words = {
        Outcome.PASS: "pass",
        Outcome.WARN: "warnings",
        Outcome.BLOCK: "blocked by policy",
        Outcome.NEEDS_APPROVAL: "approval",
        Outcome.INCOMPLETE: "incomplete",
    }
    assert words[outcome] in table[int(code)]


def _result(status: ScannerStatus) -> ScanResult:
    return ScanResult(Target("directory", "."), (), (), (ScannerRun("secrets", "1", status),))


def test_scan_and_verify_contracts_are_the_documented_ones() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert scan_exit_code(_result(ScannerStatus.SUCCEEDED)) is ExitCode.PASS
    assert scan_exit_code(_result(ScannerStatus.PARTIAL)) is ExitCode.PASS
    assert scan_exit_code(_result(ScannerStatus.FAILED)) is ExitCode.INCOMPLETE
    assert "`clearance scan` decides nothing: it exits 0 unless a scanner could not run at all (3)" in text
    assert int(verify_exit_code(True)) == 0 and int(verify_exit_code(False)) == 1
    assert "**0** the bundle is valid, **1** it is invalid" in text


def test_an_internal_error_exits_70_not_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> None:
        raise RuntimeError("bug")

    monkeypatch.delenv("CLEARANCE_DEBUG", raising=False)
    monkeypatch.setattr(cli, "app", boom)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == int(ExitCode.INTERNAL) == 70
    assert "internal error: RuntimeError: bug" in capsys.readouterr().err


def test_cli_errors_exit_with_their_class_code(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "clearance.toml").write_text("scanners = 3\n")
    bad_config = runner.invoke(cli.app, ["gate", str(tmp_path), "--quiet"])
    assert bad_config.exit_code == int(ExitCode.CONFIG), bad_config.output
    usage = runner.invoke(cli.app, ["gate", str(tmp_path), "--history", "--base", "main"])
    assert usage.exit_code == int(ExitCode.USAGE), usage.output
    key = tmp_path / "not-a-key.pub"
    key.write_text("hello\n")
    bad_key = runner.invoke(cli.app, ["verify", str(tmp_path / "b.tar.gz"), "--key", str(key)])
    assert bad_key.exit_code == int(ExitCode.USAGE), bad_key.output
    (tmp_path / "b.tar.gz").write_bytes(b"\x00" * 64)
    pub = tmp_path / "k.pub"
    assert runner.invoke(cli.app, ["keygen", "-o", str(tmp_path / "k"), "--public", str(pub)]).exit_code == 0
    invalid = runner.invoke(cli.app, ["verify", str(tmp_path / "b.tar.gz"), "--key", str(pub)])
    assert invalid.exit_code == 1, invalid.output


def _literal_exit_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = ast.unparse(node.func)
        # any integer literal in the argument (`Exit(1)`, `Exit(0 if ok else 1)`) chooses a code here
        literal_ints = [
            n for n in ast.walk(node.args[0]) if isinstance(n, ast.Constant) and type(n.value) is int
        ]
        if name in ("typer.Exit", "sys.exit", "Exit", "SystemExit") and literal_ints:
            hits.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    return hits


def test_no_exit_code_is_chosen_outside_decision_py() -> None:
    hits = [h for p in sorted(SRC.rglob("*.py")) for h in _literal_exit_calls(p)]
    assert hits == []
    errors_src = (SRC / "errors.py").read_text(encoding="utf-8")
    assert re.search(r"exit_code\s*(:[^=]*)?=\s*\d", errors_src) is None


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--help"],  # Rich's output (help, tables, the console verdict): its own pipe handling
        ["gate", "{repo}", "--format", "json", "--scanners", "secrets"],  # click.echo of a report
    ],
)
def test_a_reader_that_goes_away_is_not_blocked_or_invalid(tmp_path: Path, args: list[str]) -> None:
    """`clearance gate … | head -1`: the reader closes the pipe; the exit says so (141), never 1."""
    import subprocess
    import sys

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("".join(f"value_{i} = {i}\n" for i in range(50)))
    cmd = [sys.executable, "-c", "from clearance.entry import main; main()"]
    cmd += [a.replace("{repo}", str(repo)) for a in args]
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    proc = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "80"})
    os.close(write)
    assert proc.returncode == int(ExitCode.OUTPUT_CLOSED) == 141, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr and b"Exception ignored" not in proc.stderr
