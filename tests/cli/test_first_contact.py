"""What a new user meets first, through the real CLI on the demo repository: every standard
format validates against its published schema (SARIF 2.1.0, GitLab 15.2.4) and shows every finding."""

from __future__ import annotations

import json
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "leaky-repo"
SCHEMAS = REPO / "tests" / "fixtures" / "schemas"
sys.path.insert(0, str(REPO / "tests"))
from report import sarif_checks  # noqa: E402

runner = CliRunner()


@cache
def _validator(name: str) -> Any:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo repository with the demo advisories imported into a throw-away database."""
    target = tmp_path / "leaky-repo"
    shutil.copytree(EXAMPLE, target)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "db"))
    imported = runner.invoke(app, ["db", "import", str(REPO / "examples" / "advisories")])
    assert imported.exit_code == 0, imported.output
    return target


def _gate(demo: Path, *extra: str) -> Any:
    return runner.invoke(app, ["gate", str(demo), "--quiet", *extra])


def test_the_demo_sarif_validates_and_passes_the_multitool_rules(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    result = _gate(demo, "--output", f"sarif:{out}")
    assert result.exit_code == 1, result.output
    log = json.loads(out.read_text(encoding="utf-8"))
    assert not [e.message for e in _validator("sarif-2.1.0-rtm.5.json").iter_errors(log)]
    assert sarif_checks.problems(log) == []
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert any("CIS" in ref for r in rules for ref in r["properties"].get("references", ()))
    assert all(r["helpUri"].startswith(("https://", "http://")) for r in rules if "helpUri" in r)


def test_the_demo_junit_shows_every_blocking_finding_in_junit2html(demo: Path, tmp_path: Path) -> None:
    from junit2htmlreport import parser as junit2html

    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    result = _gate(demo, "--output", f"junit:{junit}", "--output", f"json:{report}")
    assert result.exit_code == 1, result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    blocking = [f for f in data["findings"] if (f.get("verdict") or {}).get("action") == "block"]
    assert len(blocking) >= 13
    html = junit2html.Junit(str(junit)).html()
    failures = [el for el in _junit_cases(junit) if el.find("failure") is not None]
    assert len(failures) == len(blocking)
    for f in blocking:
        line = f["location"].get("start_line")
        where = f"{f['location']['path']}:{line}" if line else f["location"]["path"]
        assert f"{f['rule_id']} at {where}" in html


def _junit_cases(path: Path) -> list[Any]:
    import xml.etree.ElementTree as ET

    return list(ET.parse(path).getroot().iter("testcase"))


def test_the_demo_gitlab_reports_validate_and_name_the_real_commit(demo: Path, tmp_path: Path) -> None:
    import subprocess

    git = ["git", "-C", str(demo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "demo"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    out = tmp_path / "gl"
    result = _gate(demo, "--gitlab-reports", str(out))
    assert result.exit_code == 1, result.output
    deps = json.loads((out / "gl-dependency-scanning-report.json").read_text(encoding="utf-8"))
    assert not [
        e.message for e in _validator("gitlab/dependency-scanning-report-format.json").iter_errors(deps)
    ]
    assert deps["version"] == "15.2.4" and deps["vulnerabilities"]
    sast = json.loads((out / "gl-sast-report.json").read_text(encoding="utf-8"))
    assert sast["scan"]["type"] == "sast" and {v["location"]["file"] for v in sast["vulnerabilities"]} >= {
        "infra/main.tf",
        "k8s/deployment.yaml",
    }
    secrets = json.loads((out / "gl-secret-detection-report.json").read_text(encoding="utf-8"))
    assert {v["location"]["commit"]["sha"] for v in secrets["vulnerabilities"]} == {head}


# --- inline suppression: a reason is required, it is counted, and the policy may refuse it ----


def _suppressed_repo(tmp_path: Path, comment: str, config: str = "") -> Path:
    repo = tmp_path / "svc"
    (repo / "app").mkdir(parents=True)
    key = "AKIA" + "QWERTYUIOPASDFGH"  # assembled so this test file holds no key
    (repo / "app" / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key}"  {comment}\n', encoding="utf-8")
    if config:
        (repo / "clearance.toml").write_text(config, encoding="utf-8")
    return repo


def _gate_json(repo: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["gate", str(repo), "--scanners", "secrets", "--quiet", "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_bare_inline_suppression_does_not_apply_and_says_why(tmp_path: Path) -> None:
    code, report = _gate_json(_suppressed_repo(tmp_path, "# clearance:ignore"))
    assert code == 1
    (finding,) = report["findings"]
    assert finding["verdict"]["action"] == "block"
    assert any("gives no reason" in note for note in finding["verdict"]["notes"])


def test_a_suppression_with_a_reason_passes_and_is_counted(tmp_path: Path) -> None:
    repo = _suppressed_repo(tmp_path, '# clearance:ignore[secret.*] reason="documented example key"')
    code, report = _gate_json(repo)
    assert code == 0 and report["findings"][0]["verdict"]["rule"] == "inline-suppression"
    console = runner.invoke(app, ["gate", str(repo), "--scanners", "secrets", "--quiet"]).stdout
    assert "1 suppressed inline" in console.splitlines()[0]
    assert "documented example key" in console


def test_the_policy_can_refuse_inline_suppression_of_secrets(tmp_path: Path) -> None:
    config = '[policy.inline_suppression]\nrefuse_kinds = ["secret"]\n'
    repo = _suppressed_repo(tmp_path, '# clearance:ignore reason="trust me"', config)
    code, report = _gate_json(repo)
    assert code == 1
    notes = report["findings"][0]["verdict"]["notes"]
    assert any("refused: policy.inline_suppression refuses secret findings" in n for n in notes)


# --- gate --update-db: one line in CI fetches the advisories when they are missing or old ------


def test_update_db_fetches_only_when_missing_or_older_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from clearance.cli import advisories

    fetched: list[Path] = []
    monkeypatch.setattr(advisories, "download", lambda db, ecosystems, **kw: fetched.append(db))
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "db"))
    repo = tmp_path / "svc"
    repo.mkdir()
    (repo / "requirements.txt").write_text("requests==2.31.0\n", encoding="utf-8")
    args = ["gate", str(repo), "--scanners", "deps", "--quiet", "--update-db"]
    runner.invoke(app, args)
    assert fetched == [tmp_path / "db" / "advisories.sqlite3"], "missing: fetched"
    assert runner.invoke(app, ["db", "import", str(REPO / "examples" / "advisories")]).exit_code == 0
    fetched.clear()
    assert runner.invoke(app, args).exit_code == 0 and fetched == [], "fresh: not fetched"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assert "3 days ago" in (advisories.stale_reason(tmp_path / "db" / "advisories.sqlite3", 1, later) or "")
    runner.invoke(app, [*args, "--db-max-age", "0"])
    assert fetched == [tmp_path / "db" / "advisories.sqlite3"], "older than the limit: fetched"


# --- configuration found like git/ruff; every report path relative to the repository root -------


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """A git repository whose root clearance.toml turns one secret rule off, with the key deeper."""
    import subprocess

    repo = tmp_path / "mono"
    (repo / "sub" / "deeper").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    source = (EXAMPLE / "app" / "github_sync.py").read_text(encoding="utf-8")  # the demo's fake token
    token = next(line for line in source.splitlines() if "ghp_" in line)
    (repo / "sub" / "k2.py").write_text(token.strip() + "\n", encoding="utf-8")
    (repo / "sub" / "deeper" / "k3.py").write_text(token.strip() + "\n", encoding="utf-8")
    return repo


def _findings(
    args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[dict[str, Any]]]:
    monkeypatch.chdir(cwd)
    result = runner.invoke(app, ["gate", *args, "--scanners", "secrets", "--quiet", "--format", "json"])
    return result.exit_code, json.loads(result.stdout)["findings"]


def test_a_root_config_applies_to_a_subdirectory_and_to_passed_files(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, found = _findings(["sub"], monorepo, monkeypatch)
    assert code == 1 and sorted(f["location"]["path"] for f in found) == ["sub/deeper/k3.py", "sub/k2.py"]
    rule = found[0]["rule_id"]
    (monorepo / "clearance.toml").write_text(f'[secrets]\ndisable = ["{rule}"]\n', encoding="utf-8")
    for args, cwd in (
        (["sub"], monorepo),  # a subdirectory target
        (["sub/k2.py"], monorepo),  # pre-commit passes one file
        (["sub/k2.py", "sub/deeper/k3.py"], monorepo),  # ... or several
        (["."], monorepo / "sub" / "deeper"),  # run from deep inside
        ([str(monorepo / "sub")], monorepo / "sub"),
    ):
        code, found = _findings(args, cwd, monkeypatch)
        assert code == 0 and rule not in {f["rule_id"] for f in found}, (args, cwd)


def test_paths_are_repository_relative_in_every_format(
    monorepo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(monorepo / "sub")
    out = tmp_path / "out"
    args = ["gate", "k2.py", "--scanners", "secrets", "--quiet", "--format", "json"]
    for fmt, ext in (("sarif", "sarif"), ("junit", "xml"), ("markdown", "md"), ("console", "txt")):
        args += ["--output", f"{fmt}:{out}/r.{ext}"]
    result = runner.invoke(app, [*args, "--gitlab-reports", str(out / "gl")])
    assert result.exit_code == 1
    assert [f["location"]["path"] for f in json.loads(result.stdout)["findings"]] == ["sub/k2.py"]
    sarif = json.loads((out / "r.sarif").read_text(encoding="utf-8"))
    run = sarif["runs"][0]
    (uri,) = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uri == "sub/k2.py", "GitHub resolves artifact URIs from the repository root"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == monorepo.resolve().as_uri() + "/"
    assert sarif_checks.problems(sarif) == []
    for name in ("r.xml", "r.md", "r.txt"):
        assert "sub/k2.py:1" in (out / name).read_text(encoding="utf-8"), name
    secrets = json.loads((out / "gl" / "gl-secret-detection-report.json").read_text(encoding="utf-8"))
    assert secrets["vulnerabilities"][0]["location"]["file"] == "sub/k2.py"


# --- --baseline REPORT and --min-severity -----------------------------------------------------


def test_a_saved_report_is_a_baseline_new_findings_still_block(demo: Path, tmp_path: Path) -> None:
    saved = tmp_path / "baseline.json"
    first = _gate(demo, "--scanners", "secrets,iac", "--format", "json")
    assert first.exit_code == 1
    saved.write_text(first.stdout, encoding="utf-8")
    again = _gate(demo, "--scanners", "secrets,iac", "--format", "json", "--baseline", str(saved))
    assert again.exit_code == 0, "everything in the baseline is existing debt: it warns"
    findings = json.loads(again.stdout)["findings"]
    debt = [f for f in findings if f["verdict"]["rule"] == "baseline.pre-existing"]
    assert debt and all("baseline baseline.json" in f["verdict"]["message"] for f in debt)
    (demo / "app" / "new.py").write_text((demo / "app" / "github_sync.py").read_text().replace("\n", "\n\n"))
    sarif = tmp_path / "baseline.sarif"
    assert _gate(demo, "--scanners", "secrets,iac", "--output", f"sarif:{sarif}").exit_code == 1
    with_new = _gate(demo, "--scanners", "secrets,iac", "--format", "json", "--baseline", str(saved))
    assert with_new.exit_code == 1, "a finding the baseline does not have blocks"
    blocking = [f for f in json.loads(with_new.stdout)["findings"] if f["verdict"]["action"] == "block"]
    assert {f["location"]["path"] for f in blocking} == {"app/new.py"}
    assert _gate(demo, "--scanners", "secrets,iac", "--baseline", str(sarif)).exit_code == 0, (
        "SARIF works too"
    )


def test_a_broken_baseline_is_a_usage_error(demo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    result = _gate(demo, "--baseline", str(bad))
    assert result.exit_code == 2 and "neither a clearance JSON report nor SARIF" in result.output


def test_min_severity_filters_the_display_not_the_decision(demo: Path) -> None:
    full = _gate(demo, "--format", "json")
    filtered = _gate(demo, "--format", "json", "--min-severity", "high")
    assert full.exit_code == filtered.exit_code == 1
    assert json.loads(full.stdout)["decision"] == json.loads(filtered.stdout)["decision"]
    assert json.loads(full.stdout)["findings"] == json.loads(filtered.stdout)["findings"], "JSON keeps all"
    console = _gate(demo, "--min-severity", "high").stdout
    everything = _gate(demo).stdout
    assert console.splitlines()[0] == everything.splitlines()[0], "same verdict and counts"
    assert "django 3.2.12" in everything and "django 3.2.12" not in console  # unknown and low only
    assert "below high not shown (--min-severity)" in console
    assert "iac.aws-s3-public-access-block" in console, "a blocking medium finding is always shown"


# --- start-up: bounds on work, not on time (bench/startup measures the time) -------------------


def test_version_answers_without_importing_the_cli() -> None:
    import subprocess

    code = (
        "import sys; sys.argv = ['clearance', '--version']\n"
        "from clearance.entry import main; main()\n"
        "heavy = sorted(m for m in ('typer', 'rich', 'pydantic', 'httpx', 'hyperscan', 'clearance.cli') "
        "if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0].startswith("clearance ") and out.splitlines()[1] == "heavy: []"


def test_pr_mode_runs_each_git_query_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    repo = tmp_path / "pr"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    repo.mkdir()
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for i in range(5):
        (repo / f"f{i}.py").write_text(f"x = {i}\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    subprocess.run([*git, "checkout", "-qb", "topic"], check=True)
    (repo / "f1.py").write_text("x = 10\n")
    (repo / "f2.py").unlink()
    subprocess.run([*git, "commit", "-qam", "change"], check=True)
    seen: list[str] = []
    real = subprocess.Popen

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, argv: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(argv, (list, tuple)) and argv and str(argv[0]).endswith("git"):
                words = [str(a) for a in argv[1:] if a != "-c" and not str(a).startswith("core.")]
                seen.append(words[0])
            super().__init__(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Spy)
    monkeypatch.chdir(repo)
    result = runner.invoke(app, ["gate", ".", "--base", "main", "--scanners", "secrets", "--quiet"])
    assert result.exit_code == 0, result.output
    # Each query of the change runs once: the diff, the merge base, the base's tree and files
    # (PR mode judges with the base's policy); only cheap `rev-parse` probes and the two
    # listings (work tree, untracked) repeat by name.
    for query in ("diff", "merge-base", "ls-tree", "cat-file"):
        assert seen.count(query) <= 1, (query, seen)
    assert seen.count("diff") == 1 and seen.count("merge-base") == 1, seen
    assert seen.count("ls-files") <= 2, seen


def test_a_named_target_is_scanned_even_under_an_ignored_directory(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (monorepo / ".clearanceignore").write_text("sub/\n", encoding="utf-8")
    code, found = _findings(["sub"], monorepo, monkeypatch)
    assert code == 1 and {f["location"]["path"] for f in found} == {"sub/k2.py", "sub/deeper/k3.py"}
    code, found = _findings(["."], monorepo, monkeypatch)
    assert code == 0 and found == [], "the whole repository honours the ignore file"
    code, found = _findings(["sub/k2.py", "sub/deeper/k3.py"], monorepo, monkeypatch)
    assert code == 0 and found == [], "a list of files (pre-commit) honours it too"
