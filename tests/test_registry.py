"""The scanner registry is data that configuration, help, `init`, the pipeline and evidence read."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.cli.scan import init_template
from clearance.config import DEFAULT_SCANNERS, Settings
from clearance.decision import ExitCode
from clearance.errors import UsageError
from clearance.model import FindingKind, RuleInfo
from clearance.pipeline import RunOptions, ScanRequest, scan
from clearance.scanners import registry
from clearance.scanners.base import ScanContext, ScannerOutput
from clearance.scanners.iac.scanner import evidence
from clearance.scanners.registry import SCANNERS, ScannerSpec, build_scanners, scanner_ids
from clearance.scanners.secrets.settings import SecretsSettings
from clearance.sources.base import SourceFile

runner = CliRunner()
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def test_every_scanner_has_its_settings_section_and_nothing_else_does() -> None:
    sections = {
        name: f.annotation
        for name, f in Settings.model_fields.items()
        if isinstance(f.annotation, type) and issubclass(f.annotation, registry.ScannerSettings)
    }
    assert sections == {s.id: s.settings for s in SCANNERS}
    assert DEFAULT_SCANNERS == tuple(s.id for s in SCANNERS if s.default)
    assert Settings().scanners == list(DEFAULT_SCANNERS)


def test_help_and_init_list_the_registry() -> None:
    result = runner.invoke(app, ["scan", "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert ",".join(scanner_ids()) in result.output
    text = init_template()
    assert tomllib.loads(text)["scanners"] == list(DEFAULT_SCANNERS)
    for s in SCANNERS:
        assert f"\n#   {s.id}: {s.summary}\n" in text  # not "deps (… (offline advisory database))"


def test_unknown_scanner_in_configuration_names_the_registry() -> None:
    from clearance.config import settings_from_mapping
    from clearance.errors import ConfigError

    with pytest.raises(ConfigError, match="available: " + ", ".join(scanner_ids())):
        settings_from_mapping({"scanners": ["secrets", "nope"]})


@dataclass
class _NetworkScanner:
    """A scanner that would call a web service."""

    id: str = "online"
    version: str = "1"
    requires_network: bool = True
    streams_large_files: bool = False

    def applies_to(self, path: str) -> bool:
        return True

    def scan(self, files: Sequence[SourceFile], context: ScanContext) -> ScannerOutput:
        raise AssertionError("an offline run must never start a network scanner")

    def rules(self, settings: Settings) -> Sequence[RuleInfo]:
        return ()


ONLINE = ScannerSpec(
    "online", "a web lookup", _NetworkScanner, SecretsSettings, frozenset({FindingKind.IMPORTED}), True
)


def test_offline_refuses_scanners_that_need_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "SCANNERS", (*SCANNERS, ONLINE))
    (tmp_path / "a.py").write_text("x = 1\n")
    request = ScanRequest(
        tmp_path, Settings(), RunOptions(scanners=["secrets", "online"], offline=True, jobs=1)
    )
    with pytest.raises(UsageError, match="--offline: scanner\\(s\\) online need the network"):
        scan(request, NOW)
    done = scan(replace(request, options=RunOptions(scanners=["secrets"], offline=True, jobs=1)), NOW)
    assert [r.scanner for r in done.result.runs] == ["secrets"]


def test_offline_refuses_network_commands(tmp_path: Path) -> None:
    gate = runner.invoke(
        app, ["gate", str(tmp_path), "--base", "main", "--approvals", "github", "--offline", "-q"]
    )
    assert gate.exit_code == 2 and "--approvals github" in gate.output
    update = runner.invoke(app, ["db", "update", "--db-dir", str(tmp_path)], env={"CLEARANCE_OFFLINE": "1"})
    assert update.exit_code == 2 and "CLEARANCE_OFFLINE" in update.output


def test_scanners_run_only_on_the_targets_they_declare(monkeypatch: pytest.MonkeyPatch) -> None:
    only_dirs = replace(ONLINE, targets=frozenset({"directory"}))
    monkeypatch.setattr(registry, "SCANNERS", (*SCANNERS, only_dirs))
    assert [s.id for s in build_scanners(["secrets", "online"], "git-history")] == ["secrets"]
    assert [s.id for s in build_scanners(["secrets", "online"], "directory")] == ["secrets", "online"]


def test_iac_redacts_through_the_secret_detector_it_is_given() -> None:
    """Cross-family help comes in as an argument (from the scan context), not an import."""
    value = "deploy-key zq8Xw2LmVt4Kp7Zs"  # too regular for the IaC heuristics alone
    assert evidence("description", value) == f'description = "{value}"'
    redacted = evidence("description", value, lambda text: "zq8Xw2LmVt4Kp7Zs" in text)
    assert "zq8Xw2LmVt4Kp7Zs" not in redacted and redacted.startswith("description = ")


def test_the_pipeline_hands_scanners_the_secret_detector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ScanContext] = []

    @dataclass
    class Probe(_NetworkScanner):
        id: str = "probe"
        requires_network: bool = False

        def scan(self, files: Sequence[SourceFile], context: ScanContext) -> ScannerOutput:
            seen.append(context)
            return ScannerOutput()

    probe = ScannerSpec("probe", "probe", Probe, SecretsSettings, frozenset({FindingKind.IMPORTED}))
    monkeypatch.setattr(registry, "SCANNERS", (*SCANNERS, probe))
    (tmp_path / "a.py").write_text("x = 1\n")
    scan(ScanRequest(tmp_path, Settings(), RunOptions(scanners=["probe"], jobs=1)), NOW)
    assert [c.secret_detector for c in seen] == [registry.secret_detector]
    assert registry.secret_detector('AWS_SECRET_ACCESS_KEY = "mihA/2O76UMFxFkM/R5Kjp1vRt+1fjORS/6ilQ9z"')
    assert not registry.secret_detector("description = a plain sentence")


def test_the_init_file_changes_no_default(tmp_path: Path) -> None:
    """ "The values shown are the defaults": a project after `clearance init` is gated exactly
    as before it. Some keys mean more when written out (an explicit `max_file_size` turns an
    oversized IaC file or lockfile from an error into a reported skip): those stay commented."""
    from clearance.config import settings_from_mapping

    written = settings_from_mapping(tomllib.loads(init_template()))
    assert written == Settings()
    assert written.size_cap_is_default(), "init sets max_file_size, which turns errors into skips"
    # Through the real CLI: an IaC file above the default cap still makes the gate incomplete.
    (tmp_path / "main.tf").write_text("# padding\n" * 530_000 + 'resource "aws_s3_bucket" "b" {}\n')
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    gated = runner.invoke(app, ["gate", str(tmp_path), "--scanners", "iac", "-q"])
    assert gated.exit_code == int(ExitCode.INCOMPLETE), gated.output
