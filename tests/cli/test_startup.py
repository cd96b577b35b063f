"""Start-up work is bounded: a command imports what it uses, not every area of the CLI.

A pre-commit hook pays the import cost on every commit, so `clearance gate FILE --scanners
secrets` must not load the ledger (SQLAlchemy), the deploy client (httpx), the server (FastAPI),
the dependency and IaC scanners, the image source, or the report formats it does not print.
These tests count modules, not seconds (timing lives in bench/startup).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clearance.cli import COMMANDS, _area, app

_RUN_AND_LIST_MODULES = """
import json, os, sys
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["clearance", *argv]
code = 0
try:
    from clearance.entry import main
    main()
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
with open(out, "w") as fh:
    plugins = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    json.dump({"exit": code, "modules": sorted(sys.modules), "plugins": plugins}, fh)
"""

NOT_FOR_A_SECRETS_GATE = (
    "httpx",
    "sqlalchemy",
    "fastapi",
    "alembic",
    "cryptography",
    "prompt_toolkit",
    "clearance.ledger",
    "clearance.server",
    "clearance.deploy",
    "clearance.notify",
    "clearance.evidence",
    "clearance.cli.ledger",
    "clearance.cli.deploy",
    "clearance.cli.notify",
    "clearance.cli.advisories",
    "clearance.cli.evidence",
    "clearance.cli.policy",
    "clearance.scanners.deps.scanner",
    "clearance.scanners.deps.lockfiles",
    "clearance.scanners.vulns",
    "clearance.scanners.iac.scanner",
    "clearance.scanners.iac.rules",
    "clearance.scanners.iac.parsers",
    "clearance.sources.image.source",
    "clearance.sources.image.image",  # a file target is told apart from an image by `image.spec` alone
    "clearance.sources.image.archive",
    "clearance.sources.image.layers",
    "clearance.sources.image.streams",
    "clearance.sources.image.model",
    "clearance.report.sarif",
    "clearance.report.junit",
    "clearance.report.markdown",
    "clearance.report.gitlab",
    "rich.progress",
    "rich.table",
    "ruamel",  # exceptions files: read only when one exists
    "yaml",  # service catalog files: read only when one exists
    "packaging",
    "packageurl",
    "concurrent.futures.process",  # worker processes: only for scans large enough to use them
)
"""Modules (and their submodules) a one-file secrets gate has no use for."""


def _run(argv: list[str], cwd: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "CLEARANCE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, str(out), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        timeout=600,
    )
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _modules_after(argv: list[str], cwd: Path, tmp_path: Path) -> tuple[int, set[str]]:
    data = _run(argv, cwd, tmp_path)
    return int(data["exit"]), set(data["modules"])


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.mark.parametrize(
    ("content", "exit_code"),
    [
        ("DEBUG = False\nTIMEOUT = 30\n", 0),
        ('STRIPE_KEY = "sk_live_' + "4eC39HqLyjWDarjtT1zdp7dc" + '"\n', 1),
    ],
    ids=["clean", "leaked-key"],
)
def test_a_one_file_secrets_gate_imports_only_what_it_uses(
    tmp_path: Path, content: str, exit_code: int
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.py").write_text(content)
    code, modules = _modules_after(["gate", "app.py", "--scanners", "secrets", "--quiet"], work, tmp_path)
    assert code == exit_code
    assert "clearance.scanners.secrets.scanner" in modules and "clearance.policy.engine" in modules
    loaded = [name for name in NOT_FOR_A_SECRETS_GATE if _loaded(modules, name)]
    assert not loaded, f"a one-file secrets gate imported {loaded}"


def test_version_imports_no_cli(tmp_path: Path) -> None:
    code, modules = _modules_after(["--version"], tmp_path, tmp_path)
    assert code == 0
    assert not [m for m in ("typer", "rich", "pydantic", "clearance.cli") if _loaded(modules, m)]


def test_pydantic_plugins_are_skipped_only_for_scans(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    assert (
        _run(["gate", "app.py", "--scanners", "secrets", "--quiet"], tmp_path, tmp_path)["plugins"]
        == "__all__"
    )
    assert _run(["ledger", "--help"], tmp_path, tmp_path)["plugins"] is None


def test_the_command_table_names_exactly_what_the_modules_register() -> None:
    registered: dict[str, tuple[str, ...]] = {}
    for modules in set(COMMANDS.values()):
        for name in typer.main.get_group(_area(modules)).commands:
            registered.setdefault(name, modules)
    assert set(registered) == set(COMMANDS)
    for name, modules in COMMANDS.items():
        assert name in typer.main.get_group(_area(modules)).commands, (name, modules)


def test_running_a_command_builds_only_its_area() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    assert root.commands.loaded() == {}  # type: ignore[attr-defined]
    ctx = typer.Context(root)
    assert root.get_command(ctx, "gate") is not None
    assert set(root.commands.loaded()) == {n for n, m in COMMANDS.items() if m == COMMANDS["gate"]}  # type: ignore[attr-defined]
    assert root.get_command(ctx, "no-such-command") is None


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    listed = {
        line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and "  " in line
    }
    assert set(COMMANDS) <= listed
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name in COMMANDS:
        summary = root.get_command(ctx, name).get_short_help_str(limit=60)  # type: ignore[union-attr]
        assert summary.split()[0] in result.output, name


def test_a_pr_gate_without_manifests_loads_no_yaml_and_no_process_pool(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    repo.mkdir()
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for i in range(3):
        (repo / f"m{i}.py").write_text(f"VALUE = {i}\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    subprocess.run([*git, "checkout", "-qb", "topic"], check=True)
    (repo / "m1.py").write_text("VALUE = 10\nTIMEOUT = 30\n")
    subprocess.run([*git, "commit", "-qam", "change"], check=True)
    code, modules = _modules_after(
        ["gate", ".", "--base", "main", "--scanners", "secrets,iac", "--quiet"], repo, tmp_path
    )
    assert code == 0
    assert "clearance.scanners.iac.scanner" in modules and "clearance.sources.git" in modules
    not_needed = (
        "yaml",
        "ruamel",
        "concurrent.futures.process",
        "httpx",
        "sqlalchemy",
        "clearance.sources.image.source",
        "clearance.sources.image.image",  # the image rules' metadata needs the model, not the readers
        "clearance.sources.image.archive",
        "clearance.sources.image.layers",
        "tarfile",
    )
    loaded = [name for name in not_needed if _loaded(modules, name)]
    assert not loaded, f"a PR gate over Python files imported {loaded}"
