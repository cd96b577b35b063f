"""What an SBOM lists: every component it counts, unpinned ones too, canonical PyPI purls (issue 10 #21)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import pytest
from packageurl import PackageURL
from typer.testing import CliRunner

from clearance.cli import app
from clearance.evidence import sbom
from clearance.model import Component, Location, Scope
from clearance.scanners.deps.lockfiles.base import normalize_name, purl_for

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
SPELLINGS = Path(__file__).resolve().parents[1] / "fixtures" / "deps" / "sbom" / "pypi-spellings"


def _indirect_only() -> list[Component]:
    loc = Location("go.mod", 5)
    return [
        Component(
            "Go", "golang.org/x/net", "v0.17.0", "pkg:golang/golang.org/x/net@v0.17.0", loc, direct=False
        ),
        Component(
            "Go", "golang.org/x/text", "v0.13.0", "pkg:golang/golang.org/x/text@v0.13.0", loc, direct=False
        ),
    ]


def test_unpinned_components_are_written_without_a_version_and_counted() -> None:
    loc = Location("requirements.txt", 3)
    components = [
        Component("PyPI", "django", "<5,>=4.2", "pkg:pypi/django", loc, direct=True, pinned=False),
        Component("PyPI", "attrs", "23.2.0", "pkg:pypi/attrs@23.2.0", loc, direct=True, scope=Scope.RUNTIME),
    ]
    document = sbom.render_sbom(sbom.SbomFormat.CYCLONEDX_JSON, components, name="app", now=NOW)
    sbom.validate_cyclonedx(document.text)
    listed = {c["purl"]: c for c in json.loads(document.text)["components"]}
    assert document.components == len(listed) == 2
    assert "version" not in listed["pkg:pypi/django"]
    props = {p["name"]: p["value"] for p in listed["pkg:pypi/django"]["properties"]}
    assert props["clearance:pinned"] == "false" and props["clearance:version-constraint"] == "<5,>=4.2"
    assert listed["pkg:pypi/attrs@23.2.0"]["version"] == "23.2.0"
    spdx = sbom.render_sbom(sbom.SbomFormat.SPDX_JSON, components, name="app", now=NOW)
    packages = {p["name"]: p for p in json.loads(spdx.text)["packages"]}
    assert spdx.components == len(packages) - 1 == 2  # the root package is not a component
    assert "versionInfo" not in packages["django"] and "not pinned" in packages["django"]["comment"]


def test_library_warning_goes_to_the_log_not_stderr(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="clearance.evidence.sbom"):
        text = sbom.cyclonedx_json(_indirect_only(), name="app", now=NOW)
    sbom.validate_cyclonedx(text)
    assert capfd.readouterr().err == ""
    assert any("no defined dependencies" in r.getMessage() for r in caplog.records), caplog.records


@pytest.mark.parametrize(
    "spelling", ["Zope.Interface", "zope_interface", "ZOPE-interface", "zope__.interface"]
)
def test_pypi_names_and_purls_are_pep503_normalized(spelling: str) -> None:
    assert normalize_name("PyPI", spelling) == "zope-interface"
    purl = purl_for("PyPI", normalize_name("PyPI", spelling), "6.0")
    assert purl == "pkg:pypi/zope-interface@6.0"
    # already canonical for packageurl-python (lower case, no `_`): parsing and printing keep it
    assert PackageURL.from_string(purl).to_string() == purl


def test_sbom_cli_counts_what_it_writes_and_spells_pypi_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SPELLINGS, project)
    out = tmp_path / "bom.json"
    result = CliRunner().invoke(app, ["sbom", str(project), "--output", str(out)])
    assert result.exit_code == 0, result.output
    components = json.loads(out.read_text())["components"]
    assert f"with {len(components)} components" in result.output
    purls = sorted(c["purl"] for c in components)
    assert purls == [
        "pkg:pypi/django",
        "pkg:pypi/internal-tools?vcs_url=git%2Bhttps://github.com/acme/internal-tools.git%40v1.2%23egg%3DInternal_Tools",
        "pkg:pypi/ruamel-yaml@0.18.5",
        "pkg:pypi/zope-interface@6.0",
    ]
    assert "Warning" not in result.output


def test_indexed_dependency_graph_matches_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    from cyclonedx.model.bom import Bom

    loc = Location("package-lock.json", 1)
    components = [
        Component(
            "npm",
            f"pkg-{i}",
            "1.0.0",
            f"pkg:npm/pkg-{i}@1.0.0",
            loc,
            direct=i % 3 == 0,
            dependencies=(f"pkg:npm/pkg-{(i + 1) % 40}@1.0.0", f"pkg:npm/pkg-{(i * 7) % 40}@1.0.0"),
        )
        for i in range(40)
    ]
    ours = sbom.cyclonedx_json(components, name="app", now=NOW, commit="c" * 40)
    monkeypatch.setattr(sbom, "_indexed_bom", lambda serial_number: Bom(serial_number=serial_number))
    library = sbom.cyclonedx_json(components, name="app", now=NOW, commit="c" * 40)
    assert ours == library
    sbom.validate_cyclonedx(ours)
    deps = {d["ref"]: d.get("dependsOn", []) for d in json.loads(ours)["dependencies"]}
    assert deps["pkg:npm/pkg-1@1.0.0"] == ["pkg:npm/pkg-2@1.0.0", "pkg:npm/pkg-7@1.0.0"]
