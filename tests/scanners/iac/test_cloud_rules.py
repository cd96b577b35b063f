"""Every cloud IaC rule (Terraform, CloudFormation, IAM JSON) against its scenario fixtures.

Fixtures live in `tests/fixtures/iac/<rule id without "iac.">/<scenario>.<tf|yaml|json>`.
A positive fixture marks each line where the rule must fire with a trailing
`# expect: <rule-id>` (where a comment cannot go, e.g. JSON or a heredoc opener: a sibling
`<file>.expect` listing `<rule-id> <line>`);
the rule must fire at exactly those lines. A fixture without a marker for the rule is
negative: the rule must not fire. Each fixture is scanned alone (its own module) through
the real scanner, so classification, parsing, joins and line mapping are all exercised.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from clearance.config import Settings
from clearance.scanners.base import ScanContext
from clearance.scanners.iac.rules.base import IacRule
from clearance.scanners.iac.rules.registry import all_rules
from clearance.scanners.iac.scanner import IacScanner
from clearance.sources.base import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iac"
_EXPECT = re.compile(r"(?:#|//)\s*expect:\s*([\w.,\s-]+)$")
_OWN = ("aws-", "gcp-", "azure-")
CLOUD_RULES = [r for r in all_rules() if r.id.removeprefix("iac.").startswith(_OWN)]
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _cases() -> list[tuple[str, Path]]:
    return [
        (f"iac.{path.parent.name}", path)
        for path in sorted(FIXTURES.glob("*/*"))
        if path.parent.name.startswith(_OWN) and path.suffix in (".tf", ".yaml", ".json")
    ]


def expected_lines(path: Path, rule_id: str) -> set[int]:
    """Marked lines for the rule (inline markers, or the `.expect` sidecar of a JSON file)."""
    lines: set[int] = set()
    sidecar = path.with_name(path.name + ".expect")
    if sidecar.exists():  # for syntaxes where a comment cannot sit on the line (JSON, heredoc openers)
        pairs = (line.split() for line in sidecar.read_text().splitlines() if line.strip())
        lines |= {int(n) for rid, n in pairs if rid == rule_id}
    if path.suffix == ".json":
        return lines
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        m = _EXPECT.search(line)
        if m and rule_id in {s.strip() for s in m.group(1).split(",")}:
            lines.add(number)
    return lines


def scan_fixture(path: Path, settings: Settings | None = None) -> list[tuple[str, int]]:
    """(rule id, line) of every finding when the fixture is scanned alone."""
    rel = f"{path.parent.name}/{path.stem}/{path.name}"
    files = [SourceFile(path=rel, size=path.stat().st_size, data=path.read_bytes())]
    scanner = IacScanner()
    assert scanner.applies_to(rel)
    ctx = ScanContext(root=path.parent, settings=settings or Settings(), now=NOW)
    out = scanner.scan(files, ctx)
    assert not out.errors, out.errors
    assert out.files == 1, "fixture was not recognised as IaC"
    return [(f.rule_id, f.location.start_line or 0) for f in out.findings]


@pytest.mark.parametrize(("rule_id", "path"), _cases(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_rule_fires_exactly_at_marked_lines(rule_id: str, path: Path) -> None:
    fired = [line for rid, line in scan_fixture(path) if rid == rule_id]
    assert len(fired) == len(set(fired)), f"duplicate hits: {fired}"
    assert set(fired) == expected_lines(path, rule_id)


@pytest.mark.parametrize("rule", CLOUD_RULES, ids=lambda r: r.id)
def test_every_rule_has_positive_and_negative_fixtures(rule: IacRule) -> None:
    folder = FIXTURES / rule.id.removeprefix("iac.")
    files = [f for f in sorted(folder.glob("*")) if f.suffix in (".tf", ".yaml", ".json")]
    positives = [f for f in files if expected_lines(f, rule.id)]
    assert positives, f"{rule.id}: no positive fixture in {folder}"
    assert len(positives) < len(files), f"{rule.id}: no negative fixture in {folder}"


@pytest.mark.parametrize("rule", CLOUD_RULES, ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule: IacRule) -> None:
    assert re.fullmatch(r"iac\.(aws|gcp|azure)-[a-z0-9-]+", rule.id)
    assert rule.title and rule.risk.endswith(".")
    assert "\n" in rule.remediation, "remediation carries a corrected snippet"
    assert rule.references and rule.resource_types


def test_rule_count() -> None:
    assert len(CLOUD_RULES) >= 60
    assert len(all_rules()) >= 80
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids))
