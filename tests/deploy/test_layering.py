"""`clearance.deploy` is a pure domain layer the ledger may use: its modules import only the core
types and foundations (never the ledger, the server, the CLI, scanners or sources); only its HTTP
client (`client.py`, used by the CLI) talks to the network."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "clearance"
MAY_IMPORT = (
    "clearance.deploy",
    "clearance.model",
    "clearance.decision",
    "clearance.errors",
    "clearance.safe_yaml",
    "clearance.globs",
)


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_deploy_is_a_pure_layer() -> None:
    bad = {}
    for path in sorted((SRC / "deploy").glob("*.py")):
        mods = _imports(path)
        wrong = [
            m for m in mods if m.startswith("clearance") and m != "clearance" and not m.startswith(MAY_IMPORT)
        ]
        if path.name != "client.py" and "httpx" in mods:
            wrong.append("httpx")
        if wrong:
            bad[path.name] = sorted(wrong)
    assert bad == {}
