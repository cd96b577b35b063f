"""A credential in a lockfile URL never reaches any output (issue 10 #19), through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.evidence.bundle import read_bundle

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "deps"
    / "lockfiles"
    / "npm"
    / "v1-git-file-credentials.json"
)
SECRETS = (
    "ghp_R7bXk2Lq9TnV4sWm8YcZ1dFh6JpQ3uGe0aKo",
    "s3cr3tpassw0rd",
    "deploy:",
    "glpat-Qw8eRt6yUi4oPa2sDf0g",
    "oauth2:",
)
REQUIREMENTS = (
    "requests==2.31.0\n"
    "acme-tool @ git+https://oauth2:glpat-Qw8eRt6yUi4oPa2sDf0g@gitlab.example.com/acme/tool.git@v1.0\n"
    "-e git+https://glpat-Qw8eRt6yUi4oPa2sDf0g@gitlab.example.com/acme/cli.git#egg=acme-cli\n"
)


@pytest.fixture
def project(tmp_path: Path, project_db_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(FIXTURE, root / "package-lock.json")
    (root / "requirements.txt").write_text(REQUIREMENTS)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(project_db_dir))
    return root


def test_token_in_git_url_is_stripped_from_json_sarif_sbom_and_evidence(
    project: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    key = tmp_path / "k.pem"
    assert runner.invoke(app, ["keygen", "-o", str(key)]).exit_code == 0
    artifact = tmp_path / "app.tgz"
    artifact.write_bytes(b"built")
    out = tmp_path / "out"
    evidence = tmp_path / "evidence"
    gate = runner.invoke(
        app,
        [
            "gate",
            str(project),
            "--scanners",
            "deps",
            "--quiet",
            "--format",
            "json",
            "--output",
            f"sarif:{out}/r.sarif",
            "--output",
            f"markdown:{out}/r.md",
            "--output",
            f"junit:{out}/r.xml",
            "--artifact",
            str(artifact),
            "--key",
            str(key),
            "--evidence",
            str(evidence),
        ],
    )
    assert gate.exit_code in (0, 1), gate.output
    report = json.loads(gate.stdout)
    # lodash 4.17.15 is pinned and vulnerable; minimist's URL "version" is not a version: not matched
    assert {f["component"]["name"] for f in report["findings"]} == {"lodash"}
    assert any("minimist is not pinned" in w for w in report["warnings"]), report["warnings"]
    sbom_cdx = runner.invoke(app, ["sbom", str(project)])
    sbom_spdx = runner.invoke(app, ["sbom", str(project), "--format", "spdx-json"])
    assert sbom_cdx.exit_code == 0 and sbom_spdx.exit_code == 0, sbom_cdx.output + sbom_spdx.output
    assert (
        "pkg:npm/internal-theme?vcs_url=git%2Bhttps://github.com/acme/internal-theme.git" in sbom_cdx.stdout
    )
    bundle = next(evidence.glob("*.bundle.tar.gz"))
    texts = [gate.output, sbom_cdx.output, sbom_spdx.output]
    blobs = [f.read_bytes() for f in [*out.iterdir(), *evidence.iterdir()]] + list(
        read_bundle(bundle).values()
    )
    assert len(blobs) >= 6
    for secret in SECRETS:
        assert all(secret not in text for text in texts), secret
        assert all(secret.encode() not in blob for blob in blobs), secret
