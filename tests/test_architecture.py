"""The shape of the house, checked: no import cycle, the policy stage imports no scanner or source,
and only `sources/git.py` runs git."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "clearance"

POLICY_MAY_IMPORT = {
    "clearance.model",
    "clearance.config",
    "clearance.decision",
    # foundations below every stage: the error family, the safe YAML loader, path globs
    "clearance.errors",
    "clearance.safe_yaml",
    "clearance.globs",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """Modules of the package `name` imports at run time (module level or inside functions);
    imports under `if TYPE_CHECKING:` are left out (they never run)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    saved = dict(GRAPH)
    try:
        GRAPH["clearance.model"] = GRAPH["clearance.model"] | {"clearance.decision"}
        assert ["clearance.decision", "clearance.model"] in _cycles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_policy_imports_nothing_above_model_config_and_decision() -> None:
    policy = [m for m in MODULES if m.startswith("clearance.policy")]
    assert policy
    wrong = {
        m: sorted(i for i in GRAPH[m] if i not in POLICY_MAY_IMPORT and not i.startswith("clearance.policy"))
        for m in policy
    }
    assert {m: w for m, w in wrong.items() if w} == {}


def test_only_sources_run_processes() -> None:
    """git runs only through the hardened runner in sources/git.py; `docker save` only in the image
    source. No scanner, policy or report module starts a process."""
    runs_processes = sorted(
        name for name, path in MODULES.items() if "subprocess" in path.read_text(encoding="utf-8")
    )
    assert runs_processes == ["clearance.sources.git", "clearance.sources.image.image"]


SHARED = {"clearance.scanners.vulns"}
"""Packages every family may use (the shared vulnerability matcher)."""

KNOWN_CROSSINGS: set[tuple[str, str]] = set()
"""Crossings that exist today, listed so that no new one slips in (none: what one family needs of
another — the secrets engine's detector, its placeholder filters — is passed in through
`ScanContext`, built by the pipeline from `scanners/registry.py`)."""


def _family(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "scanners" and parts[2] not in ("base", "registry", "suppression"):
        return ".".join(parts[:3])
    return None


def test_scanner_families_do_not_import_each_other() -> None:
    crossing = sorted(
        (m, i)
        for m in MODULES
        if (own := _family(m)) is not None
        for i in GRAPH[m]
        if (other := _family(i)) is not None and other != own and other not in SHARED
    )
    assert set(crossing) <= KNOWN_CROSSINGS, sorted(set(crossing) - KNOWN_CROSSINGS)
