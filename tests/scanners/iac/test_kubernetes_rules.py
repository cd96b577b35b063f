"""Every Kubernetes rule against its positive and negative fixtures.

Fixtures live in `tests/fixtures/iac/kubernetes/<topic>/<scenario>.yaml` for the rule
`iac.k8s-<topic>`. A positive fixture marks each line where the rule must fire with a
trailing `# expect: <rule-id>`; the rule must fire at exactly those lines. A fixture
without a marker for the rule is negative: the rule must not fire at all.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from clearance.config import Settings
from clearance.scanners.base import ScanContext
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.parsers import kubernetes
from clearance.scanners.iac.rules.base import IacRule, RuleContext
from clearance.scanners.iac.rules.kubernetes import RULES
from clearance.scanners.iac.scanner import IacScanner
from clearance.scanners.registry import placeholder_value
from clearance.sources.base import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "kubernetes"
_EXPECT = re.compile(r"#\s*expect:\s*([\w.,\s-]+)$")
_BY_ID = {r.id: r for r in RULES}
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _cases() -> list[tuple[str, Path]]:
    return [
        (f"iac.k8s-{path.parent.name}", path)
        for path in sorted(FIXTURES.glob("*/*.yaml"))
        if not path.parent.name.startswith("_")
    ]


def expected_lines(text: str, rule_id: str) -> set[int]:
    """Lines carrying `# expect: <rule_id>` (several ids may share a marker, comma-separated)."""
    lines = set()
    for number, line in enumerate(text.splitlines(), start=1):
        m = _EXPECT.search(line)
        if m and rule_id in {s.strip() for s in m.group(1).split(",")}:
            lines.add(number)
    return lines


def fired_lines(rule: IacRule, resources: list[Resource]) -> list[int]:
    """The lines where the rule fires over the resources of one file."""
    ctx = RuleContext(resources, placeholder_value)  # as the pipeline passes it
    lines = []
    for res in resources:
        if res.type in rule.resource_types:
            for hit in rule.check(res, ctx):
                target = hit.resource or res
                lines.append(target.line_of(hit.attribute))
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
    rule = _BY_ID[rule_id]
    text = path.read_text()
    resources = kubernetes.parse(f"k8s/{path.name}", text)
    assert resources, "fixture must contain Kubernetes objects"
    fired = fired_lines(rule, resources)
    assert len(fired) == len(set(fired)), f"duplicate hits: {fired}"
    assert set(fired) == expected_lines(text, rule_id)
    assert sorted(scanner_lines(path, f"k8s/{path.name}", rule_id)) == sorted(fired)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_positive_and_negative_fixtures(rule: IacRule) -> None:
    folder = FIXTURES / rule.id.removeprefix("iac.k8s-")
    files = sorted(folder.glob("*.yaml"))
    positives = [f for f in files if expected_lines(f.read_text(), rule.id)]
    assert positives, f"{rule.id}: no positive fixture in {folder}"
    assert len(positives) < len(files), f"{rule.id}: no negative fixture in {folder}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule: IacRule) -> None:
    assert rule.id.startswith("iac.k8s-")
    assert rule.title and rule.risk.endswith(".") and rule.risk.count(". ") == 0
    assert "\n" in rule.remediation, "remediation carries a corrected snippet"
    assert rule.references and rule.resource_types


def test_rule_ids_are_unique() -> None:
    assert len(_BY_ID) == len(RULES)


def test_workload_behind_a_public_load_balancer_is_public() -> None:
    path = FIXTURES / "_exposure" / "public-lb-selects-privileged-deployment.yaml"
    data = path.read_bytes()
    context = ScanContext(root=Path("."), settings=Settings(), now=NOW, placeholder_check=placeholder_value)
    out = IacScanner().scan([SourceFile(path="k8s/shop.yaml", size=len(data), data=data)], context)
    privileged = {f.signals["resource"]: f.signals for f in out.findings if f.rule_id == "iac.k8s-privileged"}
    assert privileged["Deployment/shop/storefront"]["exposure"] == "public"
    assert privileged["Deployment/shop/storefront"]["exposed_by"] == "Service/shop/storefront"
    # not selected by the Service (other labels, other namespace): the rule's own exposure
    assert privileged["Deployment/shop/worker"]["exposure"] == "internal"
    assert privileged["Deployment/staging/storefront"]["exposure"] == "internal"
    assert "exposed_by" not in privileged["Deployment/shop/worker"]
