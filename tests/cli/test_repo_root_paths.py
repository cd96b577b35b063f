"""A scan of a subdirectory names paths relative to the repository root in every mode (working
tree, `--base`, `--history`) and in every format that carries paths, and covers only the
subdirectory — through the real CLI, git and sources."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from report import sarif_checks  # noqa: E402

runner = CliRunner()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main has a token outside `sub/`; the topic branch adds the same token in `sub/k2.py`."""
    repo = tmp_path / "mono"
    (repo / "other").mkdir(parents=True)
    (repo / "sub").mkdir()
    source = (REPO / "examples" / "leaky-repo" / "app" / "github_sync.py").read_text(encoding="utf-8")
    token = next(line for line in source.splitlines() if "ghp_" in line).strip() + "\n"
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("mono\n", encoding="utf-8")
    (repo / "other" / "k.py").write_text(token, encoding="utf-8")
    (repo / "sub" / "app.py").write_text("x = 1\n", encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "main")
    _git(repo, "checkout", "-q", "-b", "topic")
    (repo / "sub" / "k2.py").write_text(token, encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "topic")
    return repo


MODES = {"working tree": [], "base": ["--base", "main"], "history": ["--history"]}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("where", ["from the root", "from inside"])
def test_a_subdirectory_scan_names_repository_root_paths_in_every_format(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, where: str
) -> None:
    monkeypatch.chdir(repo if where == "from the root" else repo / "sub")
    target = "sub" if where == "from the root" else "."
    out = tmp_path / "out"
    args = ["gate", target, *MODES[mode], "--scanners", "secrets", "--quiet", "--format", "json"]
    for fmt, ext in (("sarif", "sarif"), ("junit", "xml"), ("console", "txt")):
        args += ["--output", f"{fmt}:{out}/r.{ext}"]
    result = runner.invoke(app, [*args, "--gitlab-reports", str(out / "gl")])
    assert result.exit_code == 1, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    paths = {f["location"]["path"] for f in report["findings"]}
    assert paths == {"sub/k2.py"}, f"{mode}: only the subdirectory, named from the repository root"

    sarif = json.loads((out / "r.sarif").read_text(encoding="utf-8"))
    run = sarif["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"sub/k2.py"}, "GitHub resolves artifact URIs from the repository root"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    assert sarif_checks.problems(sarif) == []

    junit = ET.fromstring((out / "r.xml").read_bytes())
    failures = [c for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failures and all("sub/k2.py:1" in ET.tostring(c, encoding="unicode") for c in failures)

    console = (out / "r.txt").read_text(encoding="utf-8")
    assert "✗ sub/k2.py:1 " in console and "other/k.py" not in console

    gitlab = json.loads((out / "gl" / "gl-secret-detection-report.json").read_text(encoding="utf-8"))
    assert {v["location"]["file"] for v in gitlab["vulnerabilities"]} == {"sub/k2.py"}


def test_a_root_ignore_file_applies_to_a_subdirectory_in_pr_mode(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / ".clearanceignore").write_text("sub/k2.py\n", encoding="utf-8")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "add", ".clearanceignore")
    _git(repo, "commit", "-q", "-m", "ignore")
    _git(repo, "checkout", "-q", "topic")
    _git(repo, "rebase", "-q", "main")
    monkeypatch.chdir(repo)
    result = runner.invoke(
        app, ["gate", "sub", "--base", "main", "--scanners", "secrets", "--quiet", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []
