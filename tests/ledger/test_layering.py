"""The ledger's imports: model, decision, evidence, errors and the advisory store — never the
scanner pipeline, the CLI or the server. The server never imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "clearance"
LEDGER_MAY_IMPORT = (
    "clearance.ledger",
    "clearance.model",
    "clearance.decision",
    "clearance.evidence",
    "clearance.errors",
    # the deploy gate's pure domain types and rules (no I/O; see tests/deploy/test_layering.py)
    "clearance.deploy.gonogo",
    "clearance.deploy.policy",
    "clearance.deploy.drift",
    "clearance.deploy.incidents",
    "clearance.deploy.dora",
    "clearance.deploy",
)
ADVISORY_STORE = ("clearance.scanners.vulns.advisories", "clearance.scanners.vulns.match")


def _clearance_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clearance"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("clearance"))
    return out


def test_ledger_imports_only_its_allowed_layers() -> None:
    bad = {}
    for path in (SRC / "ledger").rglob("*.py"):
        for module in _clearance_imports(path):
            if module == "clearance" or module.startswith(LEDGER_MAY_IMPORT) or module in ADVISORY_STORE:
                continue
            bad.setdefault(str(path.relative_to(SRC)), []).append(module)
    assert bad == {}


def test_server_never_imports_the_cli_or_scanners_pipeline() -> None:
    for path in (SRC / "server").rglob("*.py"):
        for module in _clearance_imports(path):
            assert not module.startswith(("clearance.cli", "clearance.pipeline", "clearance.scanners")), (
                path,
                module,
            )
