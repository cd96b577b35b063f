"""Hostile inputs through the whole CLI: every one must end in a clear error, a finding or a
reported skip of its own, with the documented exit code (README: 0 pass, 1 blocked, 2 usage,
3 incomplete, 4 invalid configuration) and never a traceback, a silent pass or a hang.

Big inputs are generated in tmp_path at test time; the table-driven cases share one helper that
runs `clearance gate --format json` in-process and checks the JSON `errors[]`/`skipped[]`.
Cases that fail because of a known bug are marked `xfail(strict=True)` with the bug in one line.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from clearance.cli import app
from clearance.evidence import bundle as bundle_module

REPO = Path(__file__).resolve().parents[1]
ADVISORIES = REPO / "examples" / "advisories"
runner = CliRunner()

EXIT_PASS, EXIT_BLOCKED, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INVALID = 0, 1, 2, 3, 4

# A fake AWS secret access key (40 characters, mixed case, digits and `/`), as in the demo.
FAKE_AWS_SECRET = "mihA/2O76UMFxFkM/R5Kjp1vRt+1fjORS/6ilQ9z"
FAKE_STRIPE_KEY = "sk_live_dUStPKR0CsTy4Qwb8DwkNhFq"


def alias_bomb(levels: int = 9) -> str:
    """A billion-laughs YAML prefix: each anchor repeats the previous one nine times."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def invoke(args: list[str]) -> Result:
    """Run the CLI in-process and fail on anything a user would see as a crash."""
    result = runner.invoke(app, [*args, "--quiet"] if args[0] in ("scan", "gate") else args)
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text, text
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"unexpected {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    return result


def gate_json(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """`clearance gate ROOT --format json` with one worker; the exit code and the parsed report."""
    result = invoke(["gate", str(root), "--format", "json", "--jobs", "1", *extra])
    assert result.stdout.strip(), f"no JSON on stdout (exit {result.exit_code}): {result.output}"
    return result.exit_code, json.loads(result.stdout)


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Write files (text or bytes) under root, creating folders."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")


@pytest.fixture
def advisory_db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away advisory database from the bundled demo advisories (no network)."""
    db = tmp_path_factory.mktemp("db")
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db))
    result = invoke(["db", "import", str(ADVISORIES)])
    assert result.exit_code == 0, result.output
    return db


# --- table: hostile files in the scanned tree -------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile tree: files to write, scanners to run, the exit code and what must be named."""

    id: str
    files: dict[str, str | bytes]
    scanners: str
    exit_code: int
    errors: tuple[str, ...] = ()  # paths that must appear in errors[]
    skipped: tuple[str, ...] = ()  # paths that must appear in skipped[]
    rules: tuple[str, ...] = ()  # rule ids that must be found
    message: str = ""  # text that must appear in the named error or skip
    marks: tuple[Any, ...] = field(default=())


def _deep_hcl(depth: int) -> str:
    opening = "".join(f'{"  " * i}dynamic "d{i}" {{\n' for i in range(depth))
    return 'resource "null_resource" "n" {\n' + opening + "}\n" * depth + "}\n"


def _deep_json(depth: int) -> str:
    body = '{"a":' * depth + "1" + "}" * depth
    return (
        '{"AWSTemplateFormatVersion":"2010-09-09","Resources":{"B":{"Type":"AWS::S3::Bucket",'
        f'"Properties":{body}}}}}}}'
    )


POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx}]\n"
CFN = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  B:\n    Type: AWS::S3::Bucket\n"

CASES = [
    Case(
        "one-nul-byte-does-not-hide-a-secret",
        {"config.py": b'\x00k = "' + FAKE_STRIPE_KEY.encode() + b'"\n', "ok.py": "x = 1\n"},
        "secrets",
        EXIT_BLOCKED,
        rules=("secret.stripe-secret-key",),
    ),
    Case(
        "invalid-utf8-around-a-secret-still-finds-it",
        {
            "app.py": b"# \xff\xfe\xc3\x28\n"
            + f'AWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\n'.encode()
            + b"\xe2\x82"
        },
        "secrets",
        EXIT_BLOCKED,
        rules=("secret.aws-secret-access-key",),
    ),
    Case(
        "100k-character-minified-line-with-a-secret",
        {"app.min.js": "var a=1;" * 6250 + f'var k="{FAKE_STRIPE_KEY}";' + "var b=2;" * 6250},
        "secrets",
        EXIT_BLOCKED,
        rules=("secret.stripe-secret-key",),
    ),
    Case(
        "package-lock-not-json",
        {"package-lock.json": "{ this is not json", "package.json": '{"name": "x"}'},
        "deps",
        EXIT_INCOMPLETE,
        errors=("package-lock.json",),
        message="JSON",
    ),
    Case(
        "poetry-lock-bad-toml",
        {"poetry.lock": '[[package]\nname = "x\n', "pyproject.toml": "[tool.poetry]\nname = 'x'\n"},
        "deps",
        EXIT_INCOMPLETE,
        errors=("poetry.lock",),
        message="TOML",
    ),
    Case(
        "yarn-lock-garbage",
        {"yarn.lock": b'\x00\xff garbage\n"@@@":\n  version "\n'},
        "deps",
        EXIT_INCOMPLETE,
        errors=("yarn.lock",),
    ),
    Case(
        "pnpm-lock-yaml-alias-bomb",
        {"pnpm-lock.yaml": "lockfileVersion: '6.0'\n" + alias_bomb() + "packages:\n  /x@1.0.0: *l9\n"},
        "deps",
        EXIT_INCOMPLETE,
        errors=("pnpm-lock.yaml",),
        message="alias",
    ),
    Case(
        "pipfile-lock-truncated-json",
        {"Pipfile.lock": "[1, 2,"},
        "deps",
        EXIT_INCOMPLETE,
        errors=("Pipfile.lock",),
    ),
    Case(
        "cargo-lock-bad-toml",
        {"Cargo.lock": "[[package]]\nname = 1\nversion = [\n"},
        "deps",
        EXIT_INCOMPLETE,
        errors=("Cargo.lock",),
    ),
    Case(
        "go-mod-unterminated-block",
        {"go.mod": "module m\nrequire (\n  github.com/x/y v1.0.0\n"},
        "deps",
        EXIT_INCOMPLETE,
        errors=("go.mod",),
    ),
    Case(
        "requirements-include-cycle",
        {
            "requirements.txt": "-r requirements.txt\n-r other.txt\n",
            "other.txt": "-r requirements.txt\nflask==2.0.0\n",
        },
        "deps",
        EXIT_INCOMPLETE,
        errors=("requirements.txt",),
        message="cycle",
    ),
    Case(
        "terraform-malformed-hcl",
        {"main.tf": 'resource "aws_s3_bucket" "b" {\n  acl = "public-read"\n  bucket = "${"\n'},
        "iac",
        EXIT_INCOMPLETE,
        errors=("main.tf",),
        message="HCL",
    ),
    Case(
        "terraform-400-nested-blocks",
        {"main.tf": _deep_hcl(400)},
        "iac",
        EXIT_PASS,
    ),
    Case(
        "kubernetes-malformed-yaml",
        {"k8s/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nspec: [\n  - {\n"},
        "iac",
        EXIT_INCOMPLETE,
        errors=("k8s/deploy.yaml",),
        message="YAML",
    ),
    Case(
        "kubernetes-alias-bomb",
        {"k8s/pod.yaml": POD + alias_bomb()},
        "iac",
        EXIT_INCOMPLETE,
        errors=("k8s/pod.yaml",),
        message="alias",
    ),
    Case(
        "cloudformation-alias-bomb",
        {"template.yaml": CFN + alias_bomb()},
        "iac",
        EXIT_INCOMPLETE,
        errors=("template.yaml",),
        message="alias",
    ),
    Case(
        "cloudformation-json-nested-5000-deep",
        {"template.json": _deep_json(5000)},
        "iac",
        EXIT_INCOMPLETE,
        errors=("template.json",),
        message="deep",
    ),
    Case(
        "cloudformation-truncated-json",
        {"template.json": '{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {'},
        "iac",
        EXIT_INCOMPLETE,
        errors=("template.json",),
        message="JSON",
    ),
    Case(
        "json-named-like-a-template-that-is-not-one",
        {
            "tests/responses/cloudformation-get-template.json": (
                '{"ResponseMetadata": {"RequestId": "4ca8b6a8"}, "TemplateBody": {'
                '"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}}'
            ),
            "a.py": "x = 1\n",
        },
        "iac",
        EXIT_PASS,
    ),
    Case(
        "kubernetes-20000-documents",
        {
            "k8s/many.yaml": "".join(
                f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(20000)
            )
        },
        "iac",
        EXIT_INCOMPLETE,
        errors=("k8s/many.yaml",),
        message="documents",
    ),
    Case(
        "garbage-catalog-info",
        {
            "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: [\n",
            "a.py": "x = 1\n",
        },
        "secrets,iac",
        EXIT_INCOMPLETE,
        errors=("catalog-info.yaml",),
    ),
    Case(
        "catalog-info-alias-bomb",
        {
            "catalog-info.yaml": alias_bomb() + "apiVersion: backstage.io/v1alpha1\nkind: Component\n",
            "a.py": "x = 1\n",
        },
        "secrets,iac",
        EXIT_INCOMPLETE,
        errors=("catalog-info.yaml",),
    ),
    Case(
        "garbage-codeowners",
        {"CODEOWNERS": b"\x00\xff[[[ \n* \n/** @\n!!!\n", "a.py": "x = 1\n"},
        "secrets",
        EXIT_PASS,
    ),
    Case(
        "codeowners-with-a-70k-character-pattern",
        {"CODEOWNERS": "/" + "a" * 70_000 + " @team\n", "a.py": "x = 1\n"},
        "secrets",
        EXIT_PASS,
    ),
    Case(
        "gitignore-with-a-70k-character-pattern",
        {".gitignore": "/" + "a" * 70_000 + "\n", "a.py": "x = 1\n"},
        "secrets",
        EXIT_PASS,
    ),
    Case(
        "clearanceignore-with-a-70k-character-pattern",
        {".clearanceignore": "/" + "a" * 70_000 + "\n", "a.py": "x = 1\n"},
        "secrets",
        EXIT_PASS,
    ),
    Case(
        "dockerfile-garbage",
        {"Dockerfile": "FROM\nRUN \\\n\\\nUSER\n" + "RUN a \\\n" * 5000},
        "iac",
        EXIT_INCOMPLETE,
        errors=("Dockerfile",),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_hostile_tree(case: Case, tmp_path: Path, advisory_db: Path) -> None:
    """Each hostile tree ends with its documented exit code and names the file it could not use."""
    root = tmp_path / "repo"
    write_tree(root, case.files)
    code, report = gate_json(root, "--scanners", case.scanners)
    errors = {e["path"]: e["message"] for e in report["errors"]}
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    rules = {f["rule_id"] for f in report["findings"]}
    assert code == case.exit_code, (code, errors, skipped, sorted(rules))
    assert report["summary"]["complete"] is (code != EXIT_INCOMPLETE)
    for path in case.errors:
        assert path in errors, errors
        assert case.message.lower() in errors[path].lower(), errors[path]
    for path in case.skipped:
        assert path in skipped, skipped
        assert case.message.lower() in skipped[path].lower(), skipped[path]
    assert set(case.rules) <= rules, rules
    if code == EXIT_PASS and not case.skipped:
        assert not errors and not skipped


# --- file-system oddities ----------------------------------------------------------------------


def test_symlinks_broken_looping_and_out_of_root_are_reported_skips(tmp_path: Path) -> None:
    """No symlink is followed out of the root; every one is a skip with its reason."""
    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    write_tree(outside, {"leak.py": f'AWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\n'})
    write_tree(root, {"a.py": "x = 1\n"})
    (root / "broken").symlink_to(tmp_path / "missing")
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    (root / "out_file.py").symlink_to(outside / "leak.py")
    (root / "out_dir").symlink_to(outside)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root)
    code, report = gate_json(root, "--scanners", "secrets")
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert code == EXIT_PASS, report["errors"]
    assert report["findings"] == []  # the secret outside the root is never read
    assert set(skipped) == {"broken", "loop1", "loop2", "out_file.py", "out_dir", "sub/up"}
    assert "outside" in skipped["out_file.py"] and "outside" in skipped["out_dir"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO would wait for a writer forever; it must be skipped by its type."""
    root = tmp_path / "repo"
    write_tree(root, {"a.py": "x = 1\n"})
    os.mkfifo(root / "pipe.py")
    code, report = gate_json(root, "--scanners", "secrets,iac")
    assert code == EXIT_PASS
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {"pipe.py": "not a regular file"}


def _single_line(path: Path, size: int, secret: str) -> None:
    with path.open("w") as fh:
        chunk = "abcdefgh" * 8192
        for _ in range(size // len(chunk)):
            fh.write(chunk)
        fh.write(f' k="{secret}"\n')


def test_file_above_the_size_cap_is_streamed_for_secrets(tmp_path: Path) -> None:
    """A 6 MB single-line file is above the 5 MB default cap: the secrets scanner streams it in
    chunks and finds the key at its end (it used to be skipped and the gate passed)."""
    root = tmp_path / "repo"
    root.mkdir()
    _single_line(root / "bundle.js", 6 * 1024 * 1024, FAKE_STRIPE_KEY)
    code, report = gate_json(root, "--scanners", "secrets")
    assert code == EXIT_BLOCKED and report["skipped"] == [] and report["summary"]["complete"]
    assert [f["rule_id"] for f in report["findings"]] == ["secret.stripe-secret-key"]


def _big_terraform(path: Path, size: int) -> None:
    """A public bucket followed by `size` bytes of comments: valid HCL above the cap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fh.write('resource "aws_s3_bucket_acl" "b" {\n  bucket = "b"\n  acl    = "public-read"\n}\n')
        line = "# " + "padding " * 12 + "\n"
        for _ in range(size // len(line) + 1):
            fh.write(line)


def test_iac_file_above_the_default_cap_makes_the_scan_incomplete(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _big_terraform(root / "infra" / "main.tf", 5_400_000)
    code, report = gate_json(root, "--scanners", "iac")
    assert code == EXIT_INCOMPLETE, report["errors"]
    (error,) = report["errors"]
    assert error["path"] == "infra/main.tf" and "not parsed by iac" in error["message"]
    assert "raise max_file_size" in error["message"] and not report["summary"]["complete"]


def test_a_configured_cap_turns_the_unparsed_file_into_a_reported_skip(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _big_terraform(root / "main.tf", 300_000)
    (root / "clearance.toml").write_text("max_file_size = 200000\n")
    code, report = gate_json(root, "--scanners", "iac")
    assert code == EXIT_PASS and report["errors"] == []
    (skip,) = report["skipped"]
    assert skip["path"] == "main.tf" and "max_file_size is set in the configuration" in skip["reason"]


def test_no_cap_parses_the_big_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _big_terraform(root / "main.tf", 5_400_000)
    (root / "clearance.toml").write_text("max_file_size = 0\n")
    code, report = gate_json(root, "--scanners", "iac")
    assert code == EXIT_BLOCKED, report["errors"]
    assert any(f["location"]["path"] == "main.tf" for f in report["findings"])


def test_lockfile_above_the_default_cap_makes_the_scan_incomplete(tmp_path: Path, advisory_db: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    padding = json.dumps({f"node_modules/p{i}": {"version": "1.0.0"} for i in range(120_000)})
    lock = '{"name": "x", "lockfileVersion": 3, "packages": ' + padding + "}"
    (root / "package-lock.json").write_text(lock)
    assert len(lock) > 5 * 1024 * 1024
    code, report = gate_json(root, "--scanners", "deps")
    assert code == EXIT_INCOMPLETE
    assert [(e["path"], "not parsed by deps" in e["message"]) for e in report["errors"]] == [
        ("package-lock.json", True)
    ]


def test_raising_the_size_cap_scans_a_big_single_line_file(tmp_path: Path) -> None:
    """With max_file_size raised in clearance.toml, the same file is read and the secret at its end found."""
    root = tmp_path / "repo"
    root.mkdir()
    _single_line(root / "bundle.js", 6 * 1024 * 1024, FAKE_STRIPE_KEY)
    (root / "clearance.toml").write_text(f"max_file_size = {16 * 1024 * 1024}\n")
    code, report = gate_json(root, "--scanners", "secrets")
    assert code == EXIT_BLOCKED, report["skipped"]
    assert [f["rule_id"] for f in report["findings"]] == ["secret.stripe-secret-key"]


def _run_without_read_override(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI as root without CAP_DAC_OVERRIDE/READ_SEARCH so file modes apply (setpriv)."""
    caps = "-dac_override,-dac_read_search"
    cmd = [
        "setpriv",
        f"--inh-caps={caps}",
        f"--bounding-set={caps}",
        "--",
        sys.executable,
        "-m",
        "clearance",
        *args,
    ]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def _unreadable_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            "secret.py": f'AWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\n',
            "closed/f.py": "x = 1\n",
            "ok.py": "x = 1\n",
        },
    )
    (root / "secret.py").chmod(0)
    (root / "closed").chmod(0)
    return root


def _assert_unreadable_reported(code: int, report: dict[str, Any]) -> None:
    errors = {e["path"]: e["message"] for e in report["errors"]}
    assert code == EXIT_INCOMPLETE, report
    assert "Permission denied" in errors["secret.py"]
    assert "Permission denied" in errors["closed"]
    assert report["summary"]["complete"] is False


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_and_directory_fail_closed(tmp_path: Path) -> None:
    """Unreadable files/folders are errors[] entries and the gate exits 3 (fail closed)."""
    root = _unreadable_tree(tmp_path)
    try:
        code, report = gate_json(root, "--scanners", "secrets")
        _assert_unreadable_reported(code, report)
    finally:
        (root / "closed").chmod(0o755)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="as root, needs setpriv to drop the read-override capabilities",
)
def test_unreadable_file_and_directory_fail_closed_as_root_without_dac_override(tmp_path: Path) -> None:
    """The same as root with the read-override capabilities dropped (CI containers run as root)."""
    root = _unreadable_tree(tmp_path)
    try:
        proc = _run_without_read_override(
            ["gate", str(root), "--format", "json", "--scanners", "secrets", "--quiet", "--jobs", "1"],
            tmp_path,
        )
        if proc.returncode != 0 and proc.stderr.startswith("setpriv:"):
            pytest.skip(f"setpriv cannot drop capabilities here: {proc.stderr.strip()}")
        assert "Traceback" not in proc.stderr
        _assert_unreadable_reported(proc.returncode, json.loads(proc.stdout))
    finally:
        (root / "closed").chmod(0o755)


def test_files_no_scanner_reads_are_not_counted_as_scanned(tmp_path: Path) -> None:
    """Random binary junk: either reported as skipped (binary) or at least not claimed as scanned."""
    root = tmp_path / "repo"
    write_tree(root, {"junk.bin": bytes(range(256)) * 800, "a.py": "x = 1\n"})
    code, report = gate_json(root, "--scanners", "secrets")
    assert code == EXIT_PASS
    skipped = {s["path"] for s in report["skipped"]}
    assert "junk.bin" in skipped or report["summary"]["files_scanned"] == 1, report["summary"]


# --- configuration, exceptions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "text", "needle"),
    [
        pytest.param("clearance.toml", "scanners = [secrets\n[[[", "not valid TOML", id="toml-syntax"),
        pytest.param(
            "clearance.toml",
            b"\xff\xfe\x00garbage",
            "clearance.toml",
            id="toml-binary",
        ),
        pytest.param(
            "clearance.toml",
            "scannerz = ['secrets']\nmax_file_size = 'big'\n",
            "scannerz",
            id="toml-unknown-key",
        ),
        pytest.param(
            "pyproject.toml",
            "[tool.clearance]\nfail_closed = 'sometimes'\n",
            "fail_closed",
            id="pyproject-wrong-type",
        ),
        pytest.param(
            ".clearance/exceptions.yaml",
            "exceptions: [\n - {id: \n",
            "exceptions.yaml",
            id="exceptions-yaml-syntax",
        ),
        pytest.param(
            ".clearance/exceptions.yaml", "exceptions: 42\n", "must be a list", id="exceptions-not-a-list"
        ),
        pytest.param(
            ".clearance/exceptions.yaml",
            alias_bomb() + "exceptions: *l9\n",
            "aliases",
            id="exceptions-alias-bomb",
        ),
        pytest.param(
            ".clearance/exceptions.yaml", b"\x00\xff\xfe binary", "exceptions.yaml", id="exceptions-binary"
        ),
    ],
)
def test_garbage_configuration_is_exit_4_naming_the_file(
    tmp_path: Path, rel: str, text: str | bytes, needle: str
) -> None:
    """A broken configuration or exceptions file stops the gate with exit 4 and says what is wrong."""
    root = tmp_path / "repo"
    write_tree(root, {rel: text, "a.py": "x = 1\n"})
    result = invoke(["gate", str(root), "--scanners", "secrets", "--jobs", "1"])
    assert result.exit_code == EXIT_INVALID, result.output
    assert needle in result.output


def test_exceptions_check_on_garbage_is_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`clearance exceptions check` validates the file on its own (pre-commit use)."""
    write_tree(tmp_path, {".clearance/exceptions.yaml": "exceptions:\n  - id: EXC-1\n    match: 7\n"})
    monkeypatch.chdir(tmp_path)
    result = invoke(["exceptions", "check"])
    assert result.exit_code == EXIT_INVALID
    assert "EXC-1" in result.output


# --- CLI usage --------------------------------------------------------------------------------


def test_unknown_output_format_prefix_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in `--output sraif:x.sarif` must not silently write a file named 'sraif:x.sarif'."""
    root = tmp_path / "repo"
    write_tree(root, {"a.py": "x = 1\n"})
    monkeypatch.chdir(tmp_path)  # today the typo becomes a relative file name: keep it in tmp_path
    result = invoke(["gate", str(root), "--scanners", "secrets", "--output", "sraif:x.sarif"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "sraif" in result.output


def test_output_to_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    """`--output json:DIR` names the problem instead of crashing after the scan."""
    root = tmp_path / "repo"
    write_tree(root, {"a.py": "x = 1\n"})
    result = invoke(["gate", str(root), "--scanners", "secrets", "--output", f"json:{tmp_path}"])
    assert result.exit_code in (EXIT_USAGE, EXIT_INCOMPLETE), result.output
    assert str(tmp_path) in result.output


def test_bad_signing_key_is_not_reported_as_blocked_by_policy(tmp_path: Path) -> None:
    """Exit 1 means 'blocked by policy'; an unusable --key is a usage or configuration error."""
    root = tmp_path / "repo"
    write_tree(root, {"a.py": "x = 1\n"})
    key = tmp_path / "not-a-key.pem"
    key.write_text("hello\n")
    result = invoke(
        ["gate", str(root), "--scanners", "secrets", "--evidence", str(tmp_path / "ev"), "--key", str(key)]
    )
    assert result.exit_code in (EXIT_USAGE, EXIT_INVALID), result.output
    assert "not-a-key.pem" in result.output


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        pytest.param(["scan", "{tmp}/missing"], EXIT_USAGE, "does not exist", id="missing-path"),
        pytest.param(["gate", "{tmp}", "--format", "bogus"], EXIT_USAGE, "bogus", id="bad-format"),
        pytest.param(["gate", "{tmp}", "--fail-on", "bogus"], EXIT_USAGE, "bogus", id="bad-severity"),
        pytest.param(["gate", "{tmp}", "--scanners", "nope"], EXIT_USAGE, "nope", id="bad-scanner"),
        pytest.param(
            ["gate", "{tmp}", "--config", "{tmp}/missing.toml"],
            EXIT_INVALID,
            "missing.toml",
            id="missing-config",
        ),
        pytest.param(["scan", "{tmp}", "--history"], EXIT_INCOMPLETE, "git", id="history-outside-git"),
        pytest.param(["gate", "{tmp}", "--base", "main"], EXIT_INCOMPLETE, "git", id="base-outside-git"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    """Wrong arguments give the documented exit code and a message naming the culprit."""
    (tmp_path / "a.py").write_text("x = 1\n")
    result = invoke([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == code, result.output
    assert needle in result.output


# --- hostile evidence bundles for `clearance verify` -------------------------------------------


@pytest.fixture
def public_key(tmp_path: Path) -> Path:
    """A fresh ed25519 key pair; returns the public key."""
    result = invoke(["keygen", "-o", str(tmp_path / "k.key")])
    assert result.exit_code == 0, result.output
    return tmp_path / "k.key.pub"


def _tarball(path: Path, add: Callable[[tarfile.TarFile], None]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar)
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


def _member(
    name: str, data: bytes = b"{}", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    return add


def _gzip_bomb(path: Path) -> Path:
    """32 MB of zeros in ~32 kB (the test lowers the unpacked cap to 8 MB to stay fast)."""
    with gzip.open(path, "wb", compresslevel=9) as fh:
        zeros = bytes(1024 * 1024)
        for _ in range(32):
            fh.write(zeros)
    return path


BUNDLES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("absolute-path", lambda p: _tarball(p, _member("/etc/passwd")), "unsafe path"),
    ("dot-dot", lambda p: _tarball(p, _member("../../evil.json")), "unsafe path"),
    ("nested-path", lambda p: _tarball(p, _member("a/b.json")), "unsafe path"),
    (
        "symlink",
        lambda p: _tarball(p, _member("manifest.json", kind=tarfile.SYMTYPE, link="/etc/passwd")),
        "not a regular file",
    ),
    (
        "hardlink",
        lambda p: _tarball(p, _member("manifest.json", kind=tarfile.LNKTYPE, link="/etc/shadow")),
        "not a regular file",
    ),
    (
        "char-device",
        lambda p: _tarball(p, _member("manifest.json", kind=tarfile.CHRTYPE)),
        "not a regular file",
    ),
    ("fifo", lambda p: _tarball(p, _member("manifest.json", kind=tarfile.FIFOTYPE)), "not a regular file"),
    ("gzip-bomb", _gzip_bomb, "too large"),
    ("not-gzip", lambda p: (p.write_bytes(b"PK\x03\x04 not a tarball"), p)[1], "gzip"),
    ("truncated", lambda p: (p.write_bytes(gzip.compress(b"x" * 10_000)[:-20]), p)[1], "truncated"),
    ("empty-tar", lambda p: _tarball(p, lambda tar: None), "manifest"),
]


@pytest.mark.parametrize(("name", "build", "needle"), BUNDLES, ids=[b[0] for b in BUNDLES])
def test_verify_refuses_hostile_bundles(
    tmp_path: Path,
    public_key: Path,
    name: str,
    build: Callable[[Path], Path],
    needle: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`clearance verify` reads nothing to disk, refuses the bundle with exit 1 and says why."""
    monkeypatch.setattr(bundle_module, "MAX_TOTAL_BYTES", 8 * 1024 * 1024)
    bundle = build(tmp_path / f"{name}.bundle.tar.gz")
    result = invoke(["verify", str(bundle), "--key", str(public_key)])
    assert result.exit_code == EXIT_BLOCKED, result.output
    assert "INVALID" in result.output or "error" in result.output.lower()
    assert needle.lower() in result.output.lower(), result.output
    assert not (tmp_path / "evil.json").exists() and not Path("/evil.json").exists()


# --- git history ranges -------------------------------------------------------------------------


def _git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "qa",
        "GIT_AUTHOR_EMAIL": "qa@example.com",
        "GIT_COMMITTER_NAME": "qa",
        "GIT_COMMITTER_EMAIL": "qa@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_history_range_reports_only_what_the_topic_adds(tmp_path: Path) -> None:
    """docs/git.md: `--history --ref main..topic` is only what topic adds on top of main."""
    root = tmp_path / "repo"
    write_tree(root, {"settings.py": f'DEBUG = False\nAWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\n'})
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "settings")
    _git(root, "checkout", "-qb", "topic")
    (root / "settings.py").write_text(
        f'DEBUG = True\nAWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\n', encoding="utf-8"
    )
    _git(root, "commit", "-qam", "debug on")
    result = invoke(
        ["scan", str(root), "--history", "--ref", "main..topic", "--format", "json", "--jobs", "1"]
    )
    assert result.exit_code == EXIT_PASS, result.output
    assert json.loads(result.stdout)["findings"] == []

    # A secret topic really adds is still reported, with topic's commit.
    (root / "deploy.py").write_text(f'SECRET = "{FAKE_STRIPE_KEY}"\n', encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "deploy")
    result = invoke(
        ["scan", str(root), "--history", "--ref", "main..topic", "--format", "json", "--jobs", "1"]
    )
    findings = json.loads(result.stdout)["findings"]
    assert [f["location"]["path"] for f in findings] == ["deploy.py"]
    assert findings[0]["location"]["commit"] is not None


def test_console_report_neutralises_control_characters_in_file_names(tmp_path: Path) -> None:
    """A hostile file name must not carry terminal escape sequences or line breaks into the report."""
    root = tmp_path / "repo"
    name = "x\x1b[2K\x1b[1A PASSED.py"
    write_tree(root, {name: f'AWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\n'})
    result = invoke(["gate", str(root), "--scanners", "secrets", "--format", "console", "--jobs", "1"])
    assert result.exit_code == EXIT_BLOCKED, result.output
    assert "\x1b" not in result.output


def test_utf16_file_with_bom_is_scanned_for_secrets(tmp_path: Path) -> None:
    """Windows PowerShell writes UTF-16 LE with a BOM; the lockfile readers already decode it."""
    root = tmp_path / "repo"
    script = f'$env:AWS_SECRET_ACCESS_KEY = "{FAKE_AWS_SECRET}"\r\n$k = "{FAKE_STRIPE_KEY}"\r\n'
    write_tree(root, {"deploy.ps1": script.encode("utf-16")})
    code, report = gate_json(root, "--scanners", "secrets")
    assert code == EXIT_BLOCKED, report["skipped"]
    assert {f["rule_id"] for f in report["findings"]} >= {"secret.stripe-secret-key"}


# --- issue 10: exceptions cannot be stretched or widened silently ------------------------------

# A critical finding; the exceptions below carry what critical exceptions need.
SECRET_LINE = f'aws_secret_access_key = "{FAKE_AWS_SECRET}"\n'


def _exception_repo(tmp_path: Path, entry: str, config: str = "") -> Path:
    """A tree with one secret finding and an exceptions file holding `entry` (YAML, indented)."""
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            "settings.py": SECRET_LINE,
            ".clearance/exceptions.yaml": "exceptions:\n" + entry,
            "clearance.toml": config,
        },
    )
    return root


def _entry(match: str, created: str, expires: str) -> str:
    return (
        f"  - id: EXC-1\n    match: {match}\n    owner: team-a\n    reason: rotating\n"
        f"    created: {created}\n    expires: {expires}\n    approved_by: sec-lead\n"
        "    compensating_control: key disabled in IAM\n"
    )


@pytest.mark.parametrize(
    ("created", "expires", "needle"),
    [
        ("2099-01-01", "2099-03-01", "created 2099-01-01 is in the future"),
        ("0001-01-01", "2099-03-01", "created 0001-01-01 is before 2000-01-01"),
        ("2026-01-01", "2027-02-30", "`expires` must be a date YYYY-MM-DD, not '2027-02-30'"),
    ],
    ids=["future-created", "year-one-created", "impossible-expiry"],
)
def test_exception_dates_that_dodge_the_length_cap_are_exit_4(
    tmp_path: Path, created: str, expires: str, needle: str
) -> None:
    root = _exception_repo(tmp_path, _entry("{rule: 'secret.*'}", created, expires))
    result = invoke(["gate", str(root), "--scanners", "secrets"])
    assert result.exit_code == EXIT_INVALID, result.output
    assert needle in result.output and ".clearance/exceptions.yaml:" in result.output
    assert "internal error" not in result.output
    check = invoke(["exceptions", "check", "--root", str(root)])
    assert check.exit_code == EXIT_INVALID and needle in check.output


def test_wildcard_rule_exception_is_refused_by_default(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    entry = _entry("{rule: '*'}", today.isoformat(), (today + dt.timedelta(days=20)).isoformat())
    root = _exception_repo(tmp_path, entry)
    result = invoke(["gate", str(root), "--scanners", "secrets"])
    assert result.exit_code == EXIT_INVALID, result.output
    assert "excepts every rule" in result.output and "allow_wildcards" in result.output


def test_allowed_wildcard_exception_applies_with_a_warning(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    entry = _entry("{path: '**'}", today.isoformat(), (today + dt.timedelta(days=20)).isoformat())
    root = _exception_repo(tmp_path, entry, "[policy.exceptions]\nallow_wildcards = true\n")
    code, report = gate_json(root, "--scanners", "secrets")
    reasons = report["decision"]["reasons"]
    assert any("EXC-1' uses a wildcard (path=**)" in r for r in reasons), reasons
    assert [e["status"] for e in report["decision"]["extra"]["exceptions"]] == ["applied"]
    assert code == EXIT_PASS


# --- issue 10: configuration types are strict, nesting is bounded -------------------------------


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ('fail_closed = "false"\n', "fail_closed (line 1): expected a boolean"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 32 levels"),
    ],
    ids=["string-false", "5000-deep-array"],
)
def test_configuration_types_and_depth_are_exit_4(tmp_path: Path, config: str, needle: str) -> None:
    root = tmp_path / "repo"
    write_tree(root, {"clearance.toml": config, "settings.py": SECRET_LINE})
    result = invoke(["gate", str(root), "--scanners", "secrets"])
    assert result.exit_code == EXIT_INVALID, result.output
    assert needle in result.output and "internal error" not in result.output


# --- issue 10: signed but self-contradicting bundles, and what `verify` is handed ----------------


def _flat(text: str) -> str:
    """Console output with rich's line wrapping undone."""
    return " ".join(text.split())


def _passing_bundle(tmp_path: Path) -> tuple[Path, Path, Path]:
    """`clearance gate --evidence` on a clean tree: (bundle, private key, public key)."""
    root = tmp_path / "clean"
    write_tree(root, {"app.py": "print('hello')\n"})
    key = tmp_path / "sign.key"
    assert invoke(["keygen", "-o", str(key)]).exit_code == 0
    evidence = tmp_path / "evidence"
    digest = "sha256:" + "ab" * 32
    args = ["--evidence", str(evidence), "--key", str(key), "--artifact-digest", digest]
    result = invoke(["gate", str(root), "--scanners", "secrets", *args])
    assert result.exit_code == EXIT_PASS, result.output
    (bundle,) = evidence.glob("*.tar.gz")
    return bundle, key, tmp_path / "sign.key.pub"


def _resign(bundle: Path, key: Path, target: Path, edit: Callable[[dict[str, list[Any]]], None]) -> Path:
    """Rewrite the statements of a bundle with `edit` and sign everything again with the real key:
    what an insider holding the key (or a buggy producer) could write."""
    from clearance.evidence import dsse, keys
    from clearance.evidence.bundle import MANIFEST, MANIFEST_ENVELOPE, read_bundle, write_bundle
    from clearance.evidence.statements import Subject

    signer = keys.load_signer(key)
    members = read_bundle(bundle)
    subjects = [Subject(s["name"], s["digest"]) for s in json.loads(members[MANIFEST])["subjects"]]
    files = {n: d for n, d in members.items() if n not in (MANIFEST, MANIFEST_ENVELOPE)}
    envelopes = {
        name: dsse.parse_jsonl(data.decode(), name)
        for name, data in files.items()
        if name.endswith(".intoto.jsonl")
    }
    old = {name: [bytes(e.payload) for e in envs] for name, envs in envelopes.items()}
    statements = {name: [json.loads(p) for p in payloads] for name, payloads in old.items()}
    edit(statements)

    def encode(body: Any) -> bytes:
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    # Keep the VSA's pins pointing at the (edited) statements, as a producer would.
    moved = {
        sha(old[n][i]): sha(encode(b))
        for n, bodies in statements.items()
        for i, b in enumerate(bodies)
        if i < len(old[n])
    }
    for bodies in statements.values():
        for body in bodies:
            for pin in (
                body["predicate"].get("inputAttestations", []) if isinstance(body["predicate"], dict) else []
            ):
                pin["digest"]["sha256"] = moved.get(pin["digest"]["sha256"], pin["digest"]["sha256"])
    for name, bodies in statements.items():
        files[name] = dsse.to_jsonl([dsse.sign(encode(b), signer) for b in bodies]).encode()
    write_bundle(target, files, subjects, signer)
    return target


def _vsa_failed(statements: dict[str, list[Any]]) -> None:
    (vsa,) = [s for bodies in statements.values() for s in bodies if "verificationResult" in s["predicate"]]
    vsa["predicate"]["verificationResult"] = "FAILED"


def _second_decision_blocks(statements: dict[str, list[Any]]) -> None:
    (name,) = [n for n, bodies in statements.items() if bodies[0]["predicate"].get("outcome")]
    blocked = json.loads(json.dumps(statements[name][0]))
    blocked["predicate"]["outcome"] = "block"
    statements[name].append(blocked)


def _decision_without_verdict_list(statements: dict[str, list[Any]]) -> None:
    (name,) = [n for n, bodies in statements.items() if bodies[0]["predicate"].get("outcome")]
    statements[name][0]["predicate"]["verdicts"] = 5


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (_vsa_failed, "verification summary says 'FAILED' but the decision outcome is 'pass'"),
        (_second_decision_blocks, "bundle holds 2 signed decision statements; exactly one is allowed"),
        (_decision_without_verdict_list, "a signed statement is malformed"),
    ],
    ids=["vsa-failed-over-pass", "two-decisions", "junk-verdicts"],
)
def test_verify_rejects_validly_signed_contradictions(
    tmp_path: Path, edit: Callable[[dict[str, list[Any]]], None], needle: str
) -> None:
    bundle, key, pub = _passing_bundle(tmp_path)
    assert invoke(["verify", str(bundle), "--key", str(pub), "--require-pass"]).exit_code == 0
    forged = _resign(bundle, key, tmp_path / "forged.tar.gz", edit)
    result = invoke(["verify", str(forged), "--key", str(pub), "--require-pass"])
    assert result.exit_code == EXIT_BLOCKED, result.output
    assert "INVALID" in _flat(result.output) and needle in _flat(result.output), result.output
    assert "internal error" not in _flat(result.output)


@pytest.mark.parametrize(
    "line",
    [
        "[" * 100_000 + "]" * 100_000,
        json.dumps(
            {"payload": "e30=", "payloadType": "application/vnd.in-toto+json", "signatures": [{"sig": {}}]}
        ),
        json.dumps({"payload": 5, "payloadType": [], "signatures": "x"}),
    ],
    ids=["100k-deep", "junk-signature", "junk-fields"],
)
def test_verify_hostile_envelope_lines_are_invalid(tmp_path: Path, public_key: Path, line: str) -> None:
    bundle = _tarball(
        tmp_path / "b.tar.gz",
        lambda tar: (_member("manifest.json")(tar), _member("manifest.intoto.jsonl", line.encode())(tar)),
    )
    result = invoke(["verify", str(bundle), "--key", str(public_key)])
    assert result.exit_code == EXIT_BLOCKED, result.output
    assert "not a DSSE envelope" in _flat(result.output) and "internal error" not in _flat(result.output)


@pytest.mark.parametrize("which", ["bundle", "key"])
def test_verify_reads_only_regular_files(tmp_path: Path, public_key: Path, which: str) -> None:
    """/dev/zero is endless and a FIFO blocks forever: both are refused at once."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    bundle = _tarball(tmp_path / "b.tar.gz", lambda tar: None)
    for special in (Path("/dev/zero"), fifo):
        args = (
            [str(special), "--key", str(public_key)]
            if which == "bundle"
            else [str(bundle), "--key", str(special)]
        )
        result = invoke(["verify", *args])
        # an invalid bundle is exit 1 (verify's contract); an unusable --key is a usage error
        assert result.exit_code == (EXIT_BLOCKED if which == "bundle" else EXIT_USAGE), result.output
        assert "is not a regular file" in _flat(result.output)


def test_verify_bundle_above_the_cap_is_invalid(
    tmp_path: Path, public_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 1024)
    big = tmp_path / "big.tar.gz"
    big.write_bytes(os.urandom(4096))
    result = invoke(["verify", str(big), "--key", str(public_key)])
    assert result.exit_code == EXIT_BLOCKED and "larger than the 1024-byte limit" in _flat(result.output)


@pytest.mark.parametrize("digest", ["sha256:xyz", "md5:" + "a" * 32, "deadbeef"])
def test_malformed_artifact_digest_is_a_usage_error(tmp_path: Path, public_key: Path, digest: str) -> None:
    bundle = _tarball(tmp_path / "b.tar.gz", lambda tar: None)
    result = invoke(["verify", str(bundle), "--key", str(public_key), "--artifact-digest", digest])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "invalid artifact digest" in _flat(result.output)


# --- issue 10: CEL rules from the repository are bounded ---------------------------------------


def test_runaway_cel_rule_is_refused_at_load(tmp_path: Path) -> None:
    """The issue's reproducer: five nested maps over 20-element lists (ran 300 s before)."""
    lst = "[" + ",".join(["'x'"] * 20) + "]"
    when = f"{lst}.map(a, {lst}.map(b, {lst}.map(c, {lst}.map(d, {lst}.map(e, 1))))).size() > 0"
    rule = f'[[policy.rules]]\nname = "r"\naction = "block"\nwhen = "{when}"\n'
    root = tmp_path / "repo"
    write_tree(root, {"clearance.toml": rule, "settings.py": SECRET_LINE})
    result = invoke(["gate", str(root), "--scanners", "secrets"])
    assert result.exit_code == EXIT_INVALID, result.output
    assert "estimated cost" in _flat(result.output) and "max_rule_cost" in _flat(result.output)


def test_division_by_zero_in_a_rule_fails_closed_not_internal_error(tmp_path: Path) -> None:
    when = "finding.path == 'settings.py' ? 1 / 0 == 1 : false"
    rule = f'[[policy.rules]]\nname = "div"\naction = "block"\nwhen = "{when}"\n'
    root = tmp_path / "repo"
    write_tree(root, {"clearance.toml": rule, "settings.py": SECRET_LINE})
    code, report = gate_json(root, "--scanners", "secrets")
    assert code == EXIT_BLOCKED
    (finding,) = report["findings"]
    assert finding["verdict"]["rule"] == "div"
    assert any("division by zero" in n for n in finding["verdict"]["notes"])


# --- issue 10: file names that are not UTF-8 -----------------------------------------------------


@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses names that are not UTF-8")
@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "markdown", "console"])
def test_file_name_with_invalid_utf8_is_scanned_and_reported_escaped(tmp_path: Path, fmt: str) -> None:
    """A name with bytes 0xff 0xfe: the secret inside is found, every format is valid UTF-8 and
    names the file as `conf\\xff\\xfe.py`."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    with open(os.fsencode(root / "src") + b"/conf\xff\xfe.py", "wb") as fh:
        fh.write(f'k = "{FAKE_STRIPE_KEY}"\n'.encode())
    out = tmp_path / f"report.{fmt}"
    result = invoke(["gate", str(root), "--scanners", "secrets", "--output", f"{fmt}:{out}"])
    assert result.exit_code == EXIT_BLOCKED, result.output
    text = out.read_bytes().decode("utf-8")  # raises if any byte is not UTF-8
    name = "src/conf\\xff\\xfe.py"
    if fmt == "json":
        (finding,) = json.loads(text)["findings"]
        assert finding["location"]["path"] == name
    elif fmt == "sarif":
        (run,) = json.loads(text)["runs"]
        (res,) = run["results"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("src/conf") and "\udcff" not in uri
    else:  # markdown escapes the backslash (`\\\\xff` renders as `\\xff`)
        assert name in text or name.replace("\\", "\\\\") in text, text[:2000]


# --- issue 10: a shallow clone's history is not the whole history --------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_history_of_a_shallow_clone_is_incomplete_and_says_unshallow(tmp_path: Path) -> None:
    """The key lives only in the first commit; a depth-1 clone cannot see it. That is exit 3 with
    the hint, never a complete scan with exit 0."""
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "-q", "-b", "main")
    (origin / "settings.py").write_text(f'k = "{FAKE_STRIPE_KEY}"\n')
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "add key")
    (origin / "settings.py").write_text("k = None\n")
    _git(origin, "commit", "-qam", "remove key")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--depth", "1", origin.as_uri(), str(clone))
    code, report = gate_json(clone, "--history", "--scanners", "secrets")
    assert code == EXIT_INCOMPLETE and report["findings"] == []
    (error,) = report["errors"]
    assert "shallow clone" in error["message"] and "git fetch --unshallow" in error["message"]
    # the full history finds the key
    code, report = gate_json(origin, "--history", "--scanners", "secrets")
    assert code == EXIT_BLOCKED and [f["rule_id"] for f in report["findings"]] == ["secret.stripe-secret-key"]


# --- issue 10: an ecosystem the advisory database knows nothing about ----------------------------

NPM_LOCK = REPO / "tests" / "fixtures" / "deps" / "lockfiles" / "npm"


@pytest.mark.parametrize("accept", [False, True], ids=["fail-closed", "accepted"])
def test_ecosystem_without_advisory_data_is_incomplete_unless_accepted(
    tmp_path: Path, advisory_db: Path, accept: bool
) -> None:
    """The demo database holds PyPI only: npm components cannot be checked."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(NPM_LOCK / "v3-scoped-dev-workspace.json", root / "package-lock.json")
    if accept:
        (root / "clearance.toml").write_text('[deps]\naccept_missing_ecosystems = ["npm"]\n')
    code, report = gate_json(root, "--scanners", "deps")
    if accept:
        assert code == EXIT_PASS and report["errors"] == []
        assert any("no npm data" in w and "accepted" in w for w in report["warnings"])
    else:
        assert code == EXIT_INCOMPLETE
        (error,) = report["errors"]
        assert error["path"] == "package-lock.json" and "no npm data" in error["message"]


# --- issue 10: in PR mode the change does not choose the policy that judges it -------------------

IGNORE_ALL = '[[policy.rules]]\nname = "ok"\naction = "ignore"\nwhen = "true"\n'


def _pr_repo(tmp_path: Path, base_files: dict[str, str], pr_files: dict[str, str]) -> Path:
    """A repository whose `main` holds `base_files` and whose checked-out `topic` adds `pr_files`."""
    root = tmp_path / "repo"
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    write_tree(root, {"a.py": "x = 1\n", **base_files})
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    _git(root, "checkout", "-qb", "topic")
    write_tree(root, pr_files)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "pr")
    return root


def _exception_entry(ident: str, days: int) -> str:
    today = dt.datetime.now(dt.UTC).date()
    return (
        f"  - id: {ident}\n    match: {{rule: secret.stripe-secret-key}}\n    owner: team-a\n"
        f"    reason: test key\n    created: {today}\n    expires: {today + dt.timedelta(days=days)}\n"
        "    approved_by: sec-lead\n    compensating_control: key disabled\n"
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("where", ["clearance.toml", "pyproject.toml"])
def test_pr_cannot_rewrite_the_policy_that_judges_it(tmp_path: Path, where: str) -> None:
    """The issue's reproducer: a PR adds a live key and an `ignore everything` rule."""
    config = (
        IGNORE_ALL
        if where == "clearance.toml"
        else "[tool.clearance]\n" + IGNORE_ALL.replace("[[policy.rules]]", "[[tool.clearance.policy.rules]]")
    )
    root = _pr_repo(tmp_path, {}, {"c.py": f'k = "{FAKE_STRIPE_KEY}"\n', where: config})
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_BLOCKED
    reasons = " | ".join(report["decision"]["reasons"])
    assert "this change edits the gate's policy: " + where in reasons, reasons
    assert (
        f"{where} (this change edits the gate's policy, gate policy) needs approval from @security" in reasons
    )
    assert [f["verdict"]["action"] for f in report["findings"]] == ["block"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pr_cannot_disable_a_scanner_rule_or_ignore_the_file(tmp_path: Path) -> None:
    config = 'ignore = ["c.py"]\n[secrets]\ndisable = ["secret.stripe-secret-key"]\n'
    root = _pr_repo(tmp_path, {}, {"c.py": f'k = "{FAKE_STRIPE_KEY}"\n', "clearance.toml": config})
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_BLOCKED
    assert [f["rule_id"] for f in report["findings"]] == ["secret.stripe-secret-key"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_exception_added_in_the_pr_needs_approval_naming_it(tmp_path: Path) -> None:
    exceptions = "exceptions:\n" + _exception_entry("EXC-7", 20)
    pr = {"c.py": f'k = "{FAKE_STRIPE_KEY}"\n', ".clearance/exceptions.yaml": exceptions}
    root = _pr_repo(tmp_path, {}, pr)
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_BLOCKED and report["decision"]["outcome"] == "needs-approval"
    reasons = " | ".join(report["decision"]["reasons"])
    assert "exception(s) EXC-7 added or extended by this change" in reasons
    assert "needs approval from @security" in reasons
    approvals = tmp_path / "approvals.json"
    approvals.write_text('{"approved_by": ["security"]}')
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets", "--approvals", str(approvals))
    assert code == EXIT_PASS, report["decision"]["reasons"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_exception_extended_in_the_pr_needs_approval_but_an_unchanged_one_applies(tmp_path: Path) -> None:
    base_exceptions = "exceptions:\n" + _exception_entry("EXC-7", 10)
    secret = {"c.py": f'k = "{FAKE_STRIPE_KEY}"\n'}
    unchanged = _pr_repo(tmp_path / "u", {".clearance/exceptions.yaml": base_exceptions}, secret)
    code, report = gate_json(unchanged, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_PASS, report["decision"]["reasons"]
    extended = {**secret, ".clearance/exceptions.yaml": "exceptions:\n" + _exception_entry("EXC-7", 25)}
    root = _pr_repo(tmp_path / "e", {".clearance/exceptions.yaml": base_exceptions}, extended)
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_BLOCKED and report["decision"]["outcome"] == "needs-approval"
    assert any("EXC-7 added or extended" in r for r in report["decision"]["reasons"])


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_inline_suppression_added_in_the_pr_needs_approval_like_an_exception(tmp_path: Path) -> None:
    line = f'k = "{FAKE_STRIPE_KEY}"  # clearance:ignore[secret.stripe-secret-key] reason="test fixture"\n'
    root = _pr_repo(tmp_path, {}, {"c.py": line})
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_BLOCKED and report["decision"]["outcome"] == "needs-approval"
    assert any(
        "inline suppression(s) added by this change: c.py:1" in r for r in report["decision"]["reasons"]
    )
    # already on the base (not added by the change): it applies as before
    root = _pr_repo(tmp_path / "old", {"c.py": line}, {"c.py": line + "y = 2\n"})
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_PASS, report["decision"]["reasons"]


# --- issue 10: the remaining reproducers, one table --------------------------------------------
# (the others have their own tests above: PR-mode policy, exceptions, verify, CEL, config types,
# size cap, binary, file names, shallow history, missing advisory data)


def _interpolation_bomb(root: Path) -> None:
    lines = ['  a0 = "' + "x" * 1000 + '"'] + [
        f'  a{i} = "' + ("${local.a" + str(i - 1) + "}") * 100 + '"' for i in range(1, 6)
    ]
    (root / "main.tf").write_text(
        "locals {\n" + "\n".join(lines) + '\n}\nresource "aws_s3_bucket" "b" {\n  bucket = local.a5\n}\n'
    )


def _dynamic_fan_out(root: Path) -> None:
    block = "content {\n x = 1\n}\n"
    for i in range(4):
        block = f'dynamic "d{i}" {{\n for_each = local.l\n content {{\n {block} }}\n}}\n'
    items = ",".join(map(str, range(64)))
    (root / "main.tf").write_text(
        f'locals {{\n  l = [{items}]\n}}\nresource "aws_security_group" "s" {{\n{block}}}\n'
    )


def _module_cycle(root: Path) -> None:
    write_tree(
        root,
        {
            "main.tf": 'module "m" {\n  source = "./m"\n}\n',
            "m/main.tf": 'module "again" {\n  source = "./"\n  count  = 8\n}\n'
            'resource "aws_s3_bucket_acl" "b" {\n  bucket = "b"\n  acl    = "public-read"\n}\n',
        },
    )


def _huge_hcl_string(root: Path) -> None:
    (root / "main.tf").write_text(
        'locals {\n  s = "'
        + "a" * 4_900_000
        + '"\n}\nresource "aws_s3_bucket" "b" {\n  bucket = local.s\n}\n'
    )


def _cfn_join_bomb(root: Path) -> None:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"P": {"Type": "String", "Default": "x" * 1_000_000}},
        "Resources": {
            "B": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Fn::Join": ["", [{"Ref": "P"}] * 50]},
                    "Tags": [{"Key": "k", "Value": {"Fn::Sub": "${P}" * 50}}],
                },
            }
        },
    }
    (root / "template.json").write_text(json.dumps(template))


def _minified_lockfile(root: Path) -> None:
    packages: dict[str, Any] = {"": {"name": "x", "version": "1.0.0"}}
    for i in range(8000):
        packages[f"node_modules/pkg{i}"] = {
            "version": f"1.0.{i}",
            "resolved": f"https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.0.{i}.tgz",
            "integrity": "sha512-" + "A" * 86 + "==",
        }
    lock = {"name": "x", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    (root / "package-lock.json").write_text(json.dumps(lock, separators=(",", ":")))
    (root / "clearance.toml").write_text('[deps]\naccept_missing_ecosystems = ["npm"]\n')


def _binary_formats(root: Path) -> None:
    for i in range(255):
        ext = (".png", ".gz", ".pdf", ".zip")[i % 4]
        (root / f"asset{i}{ext}").write_bytes(os.urandom(64))


REPRODUCERS: list[tuple[str, Callable[[Path], None], str, int, str]] = [
    ("terraform-interpolation-bomb", _interpolation_bomb, "iac", EXIT_INCOMPLETE, "max_string"),
    ("terraform-dynamic-fan-out", _dynamic_fan_out, "iac", EXIT_INCOMPLETE, "max_dynamic"),
    ("terraform-module-cycle", _module_cycle, "iac", EXIT_BLOCKED, "cycle"),
    ("terraform-4.9MB-string", _huge_hcl_string, "iac", EXIT_BLOCKED, ""),
    ("cloudformation-join-bomb", _cfn_join_bomb, "iac", EXIT_INCOMPLETE, "max_string"),
    ("minified-package-lock", _minified_lockfile, "deps", EXIT_PASS, ""),
    ("255-binary-files", _binary_formats, "secrets", EXIT_PASS, ""),
]


@pytest.mark.parametrize(
    ("build", "scanners", "code", "needle"),
    [pytest.param(b, s, c, n, id=i) for i, b, s, c, n in REPRODUCERS],
)
def test_issue_10_reproducers_end_with_their_documented_exit_code(
    tmp_path: Path, advisory_db: Path, build: Callable[[Path], None], scanners: str, code: int, needle: str
) -> None:
    """Every reproducer ends with its documented exit code, a named budget when one is hit, every
    skip counted, and never an internal error (exit 70)."""
    root = tmp_path / "repo"
    root.mkdir()
    build(root)
    got, report = gate_json(root, "--scanners", scanners)
    assert got == code, (report["errors"], report["decision"]["reasons"])
    assert got != 70
    if needle:
        assert any(needle in e["message"] for e in report["errors"]), report["errors"]
    if build is _binary_formats:  # dropped by extension, but counted and reported like every skip
        assert report["summary"]["files_skipped"] == 255
        assert all("binary format" in s["reason"] for s in report["skipped"])


def test_exceptions_check_warns_about_an_allowed_wildcard(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    entry = _entry("{path: '**'}", today.isoformat(), (today + dt.timedelta(days=20)).isoformat())
    root = _exception_repo(tmp_path, entry, "[policy.exceptions]\nallow_wildcards = true\n")
    result = invoke(["exceptions", "check", "--root", str(root)])
    assert result.exit_code == EXIT_PASS
    assert "uses a wildcard (path=**)" in _flat(result.output)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pr_adding_a_clearanceignore_cannot_hide_its_secret(tmp_path: Path) -> None:
    pr = {"c.py": f'k = "{FAKE_STRIPE_KEY}"\n', ".clearanceignore": "c.py\n"}
    root = _pr_repo(tmp_path, {}, pr)
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    # the base's ignore files apply: c.py is still scanned, and the edit is reported
    assert code == EXIT_BLOCKED and [f["location"]["path"] for f in report["findings"]] == ["c.py"]
    reasons = report["decision"]["reasons"]
    assert any("this change edits the gate's policy: .clearanceignore" in r for r in reasons)
    # an ignore file already on the base still applies
    root = _pr_repo(tmp_path / "base", {".clearanceignore": "fixtures/\n"}, {"fixtures/c.py": pr["c.py"]})
    code, report = gate_json(root, "--base", "main", "--scanners", "secrets")
    assert code == EXIT_PASS and report["findings"] == []


def test_verify_artifact_that_is_a_fifo_is_a_usage_error_not_a_hang(tmp_path: Path, public_key: Path) -> None:
    fifo = tmp_path / "artifact"
    os.mkfifo(fifo)
    bundle = _tarball(tmp_path / "b.tar.gz", lambda tar: None)
    result = invoke(["verify", str(bundle), "--key", str(public_key), "--artifact", str(fifo)])
    assert result.exit_code == EXIT_USAGE and "is not a regular file" in _flat(result.output)


# --- an EOFError escaping a command ----------------------------------------------------------------


def test_a_stray_eoferror_is_an_internal_error_not_aborted_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Click turns an EOFError into "Aborted." and exit 1 — the code of a policy block. A stream
    that ends early inside clearance is a bug: exit 70 with one line, never 1."""
    from clearance import cli, pipeline

    def ends_early(*args: Any, **kwargs: Any) -> Any:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(pipeline, "scan", ends_early)
    monkeypatch.delenv("CLEARANCE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["clearance", "scan", str(tmp_path), "--quiet"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 70
    err = capsys.readouterr().err
    assert "internal error" in err and "end of input" in err
    assert "Aborted" not in err and "Traceback" not in err


def test_keygen_passphrase_with_stdin_closed_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLEARANCE_KEY_PASSPHRASE", raising=False)
    result = runner.invoke(app, ["keygen", "--passphrase", "-o", str(tmp_path / "k.key")], input="")
    assert result.exit_code == 2, result.output
    assert "CLEARANCE_KEY_PASSPHRASE" in result.output
    assert not (tmp_path / "k.key").exists()
