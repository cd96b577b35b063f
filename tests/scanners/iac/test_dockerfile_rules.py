"""Every Dockerfile rule against its positive and negative fixtures.

Fixtures live in `tests/fixtures/iac/dockerfile/<topic>/<scenario>.Dockerfile` for the
rule `iac.docker-<topic>`. Dockerfiles have no trailing comments, so a positive fixture
marks the line where the rule must fire with a full-line comment right above it:
`# expect-next: <rule-id>` (comment lines inside continuations and heredocs are allowed).
The rule must fire at exactly the marked lines; without a marker the fixture is negative.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from clearance.config import Settings
from clearance.scanners.base import ScanContext
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.parsers import dockerfile
from clearance.scanners.iac.rules.base import IacRule, RuleContext
from clearance.scanners.iac.rules.dockerfile import RULES
from clearance.scanners.iac.scanner import IacScanner
from clearance.scanners.registry import placeholder_value
from clearance.sources.base import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "dockerfile"
_EXPECT = re.compile(r"^\s*#\s*expect-next:\s*([\w.,\s-]+)$")
_BY_ID = {r.id: r for r in RULES}
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _cases() -> list[tuple[str, Path]]:
    return [
        (f"iac.docker-{p.parent.name}", p)
        for p in sorted(FIXTURES.glob("*/*.Dockerfile"))
        if not p.parent.name.startswith("_")
    ]


def expected_lines(text: str, rule_id: str) -> set[int]:
    """The line after each `# expect-next: <rule_id>` marker (skipping further comment lines)."""
    lines = text.splitlines()
    out = set()
    for i, line in enumerate(lines):
        m = _EXPECT.match(line)
        if not m or rule_id not in {s.strip() for s in m.group(1).split(",")}:
            continue
        j = i + 1
        while j < len(lines) and lines[j].lstrip().startswith("#"):
            j += 1
        out.add(j + 1)
    return out


def fired_lines(rule: IacRule, resources: list[Resource]) -> list[int]:
    """The lines where the rule fires over the stages of one Dockerfile."""
    ctx = RuleContext(resources, placeholder_value)  # as the pipeline passes it
    lines = []
    for res in resources:
        for hit in rule.check(res, ctx):
            lines.append((hit.resource or res).line_of(hit.attribute))
    return lines


def scanner_lines(path: Path, rel: str, rule_id: str) -> list[int]:
    """The lines of the rule's findings when the real scanner classifies, parses and checks the file."""
    data = path.read_bytes()
    context = ScanContext(root=Path("."), settings=Settings(), now=NOW, placeholder_check=placeholder_value)
    out = IacScanner().scan([SourceFile(path=rel, size=len(data), data=data)], context)
    assert out.errors == []
    return [f.location.start_line or 0 for f in out.findings if f.rule_id == rule_id]


@pytest.mark.parametrize(("rule_id", "path"), _cases(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_rule_fires_exactly_at_marked_lines(rule_id: str, path: Path) -> None:
    text = path.read_text()
    resources = dockerfile.parse(f"docker/{path.name}", text)
    fired = fired_lines(_BY_ID[rule_id], resources)
    assert len(fired) == len(set(fired)), f"duplicate hits: {fired}"
    assert set(fired) == expected_lines(text, rule_id)
    assert sorted(scanner_lines(path, f"docker/{path.name}", rule_id)) == sorted(fired)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_positive_and_negative_fixtures(rule: IacRule) -> None:
    folder = FIXTURES / rule.id.removeprefix("iac.docker-")
    files = sorted(folder.glob("*.Dockerfile"))
    positives = [f for f in files if expected_lines(f.read_text(), rule.id)]
    assert positives, f"{rule.id}: no positive fixture in {folder}"
    assert len(positives) < len(files), f"{rule.id}: no negative fixture in {folder}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule: IacRule) -> None:
    assert rule.id.startswith("iac.docker-")
    assert rule.title and rule.risk.endswith(".") and rule.risk.count(". ") == 0
    assert "\n" in rule.remediation, "remediation carries a corrected snippet"
    assert rule.references and rule.resource_types == frozenset({"dockerfile"})


def test_secret_values_never_reach_evidence() -> None:
    path = FIXTURES / "secret-env" / "env-api-token.Dockerfile"
    resources = dockerfile.parse("Dockerfile", path.read_text())
    hits = [h for r in resources for h in _BY_ID["iac.docker-secret-env"].check(r, RuleContext(resources))]
    assert hits
    assert all("sk_live_51HxExampleExampleExample0000" not in str(h.value) for h in hits)
    assert all("STRIPE_API_KEY" in str(h.value) for h in hits)


def test_the_pipeline_passes_the_secrets_placeholder_filters(tmp_path: Path) -> None:
    """The placeholder filters come from the secrets family through `ScanContext` (no import
    across families): through the CLI `GOOGLE_API_KEY_VAL` and friends are not literal secrets;
    a scanner given no placeholder check falls back to its own heuristics and reports them."""
    import json

    from typer.testing import CliRunner

    from clearance.cli import app

    src = FIXTURES / "secret-env" / "placeholder-values.Dockerfile"
    (tmp_path / "Dockerfile").write_bytes(src.read_bytes())
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--scanners", "iac", "--format", "json"])
    rules = {f["rule_id"] for f in json.loads(result.stdout)["findings"]}
    assert "iac.docker-secret-env" not in rules
    data = src.read_bytes()
    bare = ScanContext(root=Path("."), settings=Settings(), now=NOW)
    out = IacScanner().scan([SourceFile(path="Dockerfile", size=len(data), data=data)], bare)
    assert "iac.docker-secret-env" in {f.rule_id for f in out.findings}
