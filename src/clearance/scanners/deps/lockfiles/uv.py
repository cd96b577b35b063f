"""uv `uv.lock` (TOML, version 1).

Workspace members (packages whose `source` is `editable`, `virtual` or a workspace
`directory`) are first-party: they are not components, but their `dependencies`,
`optional-dependencies` and `dev-dependencies` are the direct dependencies, and the scope
of every package follows from which of those it is reachable through (runtime wins).
Packages from git/URL/path sources are reported unpinned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    as_list,
    load_toml,
    normalize_name,
    propagate_scopes,
    purl_for,
    split_hash,
    text_field,
)

ECOSYSTEM = "PyPI"
_FIRST_PARTY = ("editable", "virtual")


@dataclass
class _Package:
    name: str
    version: str
    line: int | None
    entry: dict[str, Any]
    source: dict[str, Any]

    @property
    def node(self) -> str:
        return f"{self.name}@{self.version}"


def parse(lock: Lockfile) -> None:
    """Add the packages of a uv.lock to `lock`."""
    doc = load_toml(lock.text)
    if "version" not in doc:
        raise MalformedLockfile("no top-level version: not a uv.lock")
    packages: list[_Package] = []
    for raw in as_list(doc.get("package"), '"package"'):
        if not isinstance(raw, dict):
            continue
        raw_name = text_field(raw, "name")
        line = lock.lines.next(f'name = "{raw_name}"')
        if not raw_name:
            lock.error("package without a name", line)
            continue
        source = as_dict(raw.get("source"), f"source of {raw_name}")
        packages.append(
            _Package(normalize_name(ECOSYSTEM, raw_name), text_field(raw, "version"), line, raw, source)
        )
    by_name: dict[str, list[_Package]] = {}
    for package in packages:
        by_name.setdefault(package.name, []).append(package)
    members = [p for p in packages if _is_member(p)]
    edges = {p.node: [d.node for d in _deps(p, by_name, "dependencies")] for p in packages}
    for p in packages:
        for group in ("optional-dependencies", "dev-dependencies"):
            edges[p.node] += [d.node for d in _deps(p, by_name, group)]
    seeds: list[tuple[str, Scope]] = []
    direct: set[str] = set()
    for member in members:
        for group, scope in (
            ("dependencies", Scope.RUNTIME),
            ("optional-dependencies", Scope.OPTIONAL),
            ("dev-dependencies", Scope.DEV),
        ):
            for dep in _deps(member, by_name, group):
                seeds.append((dep.node, scope))
                direct.add(dep.node)
    scopes = propagate_scopes(edges, seeds)
    member_nodes = {m.node for m in members}
    for package in packages:
        if package.node in member_nodes:
            continue
        pinned = bool(package.version) and not _is_unpinned_source(package.source)
        lock.add(
            ECOSYSTEM,
            package.name,
            package.version,
            line=package.line,
            direct=(package.node in direct) if members else None,
            scope=scopes.get(package.node, Scope.UNKNOWN),
            hashes=_hashes(package.entry),
            dependencies=[
                purl_for(ECOSYSTEM, d.name, d.version) for d in _deps(package, by_name, "dependencies")
            ],
            pinned=pinned,
            qualifiers=_qualifiers(package.source) if not pinned else None,
        )


def _is_member(package: _Package) -> bool:
    return any(key in package.source for key in _FIRST_PARTY)


def _is_unpinned_source(source: dict[str, Any]) -> bool:
    return any(key in source for key in ("git", "url", "path", "directory"))


def _deps(package: _Package, by_name: dict[str, list[_Package]], group: str) -> list[_Package]:
    """The locked packages a package's `group` names (a list, or a table of lists)."""
    value = package.entry.get(group)
    items: list[Any] = []
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        for listed in value.values():
            if isinstance(listed, list):
                items.extend(listed)
    found: list[_Package] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        candidates = by_name.get(normalize_name(ECOSYSTEM, text_field(item, "name")), [])
        wanted = text_field(item, "version")
        match = [c for c in candidates if c.version == wanted] if wanted else candidates
        if match:
            found.append(match[0])
    return found


def _hashes(entry: dict[str, Any]) -> list[tuple[str, str]]:
    artifacts: list[Any] = []
    if isinstance(entry.get("sdist"), dict):
        artifacts.append(entry["sdist"])
    if isinstance(entry.get("wheels"), list):
        artifacts.extend(entry["wheels"])
    hashes: list[tuple[str, str]] = []
    for artifact in artifacts:
        value = artifact.get("hash") if isinstance(artifact, dict) else None
        parsed = split_hash(value) if isinstance(value, str) else None
        if parsed:
            hashes.append(parsed)
    return hashes


def _qualifiers(source: dict[str, Any]) -> dict[str, str]:
    if text_field(source, "git"):
        return {"vcs_url": "git+" + text_field(source, "git")}
    if text_field(source, "url"):
        return {"download_url": text_field(source, "url")}
    return {}
