"""pnpm `pnpm-lock.yaml`: lockfile versions 5.x, 6.x and 9.x.

Package keys (`/name/1.0.0_peer@2` in v5, `/name@1.0.0(peer@2)` in v6,
`name@1.0.0(peer@2)` in v9) are split into name and version with the peer suffix
stripped. Importers (or, for single-project v5/v6 files, the top-level dependency maps)
say which packages are direct and in which group; scope is then propagated through the
dependency graph (v9 `snapshots`, v5/v6 `packages`), runtime winning. v5/v6 `dev: true`
flags are used when present. Aliases (`x: npm:y@^1` → `y@1.2.3`) report the real package;
`link:` entries are first-party and skipped.
"""

from __future__ import annotations

import re
from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    load_yaml,
    propagate_scopes,
    purl_for,
)

ECOSYSTEM = "npm"
_GROUPS = (
    ("dependencies", Scope.RUNTIME),
    ("optionalDependencies", Scope.OPTIONAL),
    ("devDependencies", Scope.DEV),
)
_V5_KEY = re.compile(r"^/((?:@[^/]+/)?[^/@]+)/(\d[^/_]*)(?:_.*)?$")


def parse(lock: Lockfile) -> None:
    """Add the packages of a pnpm lockfile to `lock`."""
    doc = as_dict(load_yaml(lock.text), "the document")
    if "lockfileVersion" not in doc:
        raise MalformedLockfile("no lockfileVersion: not a pnpm lockfile")
    packages = as_dict(doc.get("packages"), '"packages"')
    graph_source = as_dict(doc.get("snapshots"), '"snapshots"') or packages
    edges: dict[str, list[str]] = {}
    for key, raw in graph_source.items():
        node = node_of(str(key))
        if node and isinstance(raw, dict):
            edges.setdefault(node, []).extend(_dependency_nodes(raw))
    importers = as_dict(doc.get("importers"), '"importers"') or {".": doc}
    seeds: list[tuple[str, Scope]] = []
    for importer in importers.values():
        if not isinstance(importer, dict):
            continue
        for group, scope in _GROUPS:
            for dep, spec in as_dict(importer.get(group), group).items():
                node = _resolve(str(dep), spec)
                if node:
                    seeds.append((node, scope))
    direct = {node for node, _ in seeds}
    scopes = propagate_scopes(edges, seeds)
    for key, raw in packages.items():
        key = str(key)
        line = lock.lines.next(f"  {key}:", f"  '{key}':", f'  "{key}":')
        entry: dict[str, Any] = raw if isinstance(raw, dict) else {}
        node = node_of(key)
        if not node and entry.get("name") and entry.get("version"):
            node = f"{entry['name']}@{entry['version']}"  # git/tarball keys without name@version
        if not node:
            lock.error(f"cannot read package key {key!r}", line)
            continue
        name, version = split_node(node)
        if "version" in entry and not _is_semverish(version):
            version = str(entry["version"])  # tarball/git keys: the version field says
        resolution = as_dict(entry.get("resolution"), f"resolution of {key}")
        pinned = "tarball" not in resolution and "repo" not in resolution and _is_semverish(version)
        lock.add(
            ECOSYSTEM,
            str(entry.get("name") or name),
            version,
            line=line,
            direct=node in direct,
            scope=_scope(entry, scopes.get(node)),
            hashes=_integrity(str(resolution.get("integrity", ""))),
            dependencies=[
                purl_for(ECOSYSTEM, *split_node(d)) for d in edges.get(node, []) if split_node(d)[1]
            ],
            pinned=pinned,
            qualifiers=None if pinned else _qualifiers(resolution),
        )


def node_of(key: str) -> str:
    """`name@version` of a package key in any lockfile version (peer suffix stripped)."""
    key = key.strip()
    v5 = _V5_KEY.match(key)
    if v5:
        return f"{v5.group(1)}@{v5.group(2)}"
    paren = key.find("(")
    bare = (key[:paren] if paren > 0 else key).removeprefix("/")
    at = bare.find("@", 1)
    return bare if 0 < at < len(bare) - 1 else ""


def split_node(node: str) -> tuple[str, str]:
    """(`name`, `version`) of a `name@version` node."""
    at = node.find("@", 1)
    return (node[:at], node[at + 1 :]) if at > 0 else (node, "")


def _resolve(name: str, spec: Any) -> str:
    """The node an importer/snapshot dependency value points at ('' for links)."""
    version = str(spec.get("version", "")) if isinstance(spec, dict) else str(spec)
    if not version or version.startswith("link:"):
        return ""
    paren = version.find("(")
    if paren > 0:
        version = version[:paren]
    if version[:1].isdigit():
        version = version.split("_", 1)[0]  # v5 peer suffix
    if version.startswith("/") or "@" in version[1:]:
        return node_of(version)  # alias: the real package's key
    return f"{name}@{version}"


def _dependency_nodes(entry: dict[str, Any]) -> list[str]:
    nodes = []
    for group in ("dependencies", "optionalDependencies"):
        for dep, spec in as_dict(entry.get(group), group).items():
            node = _resolve(str(dep), spec)
            if node:
                nodes.append(node)
    return nodes


def _scope(entry: dict[str, Any], propagated: Scope | None) -> Scope:
    if entry.get("dev") is True:
        return Scope.DEV
    if entry.get("optional") is True:
        return Scope.OPTIONAL
    if entry.get("dev") is False:
        return Scope.RUNTIME
    return propagated or Scope.UNKNOWN


def _is_semverish(version: str) -> bool:
    return bool(re.match(r"^\d+\.\d+\.\d+", version))


def _integrity(value: str) -> list[tuple[str, str]]:
    algorithm, sep, digest = value.partition("-")
    return [(algorithm.lower(), digest)] if sep and digest else []


def _qualifiers(resolution: dict[str, Any]) -> dict[str, str] | None:
    if "tarball" in resolution:
        return {"download_url": str(resolution["tarball"])}
    if "repo" in resolution:
        commit = str(resolution.get("commit", ""))
        return {"vcs_url": f"git+{resolution['repo']}@{commit}" if commit else f"git+{resolution['repo']}"}
    return None
