"""pnpm `pnpm-lock.yaml`: lockfile versions 5.x, 6.x and 9.x.

Package keys ("dependency paths") are read by their grammar (`parse_key`):

- v5: `/name/1.0.0`, `/@scope/name/1.0.0`, with a peer suffix after `_`
  (`/react-dom/18.2.0_react@18.2.0`); a package from another registry is prefixed with
  that registry's host (`registry.npmjs.org/foo/1.1.0`, `example.com/foo/1.3.0_bar@2.0.0`);
- v6: `/name@1.0.0`, peers in parentheses (`/name@1.0.0(peer@2.0.0)`), host prefix likewise;
- v9: `name@1.0.0(peer@2.0.0)`; a non-registry source is the version (`name@file:../x`,
  `name@https://host/x.tgz`, `name@git+https://…`);
- local directories and tarballs (`file:../lib`, with a v5 peer suffix `file:.._react@18.2.0`)
  and git/tarball sources (`github.com/org/repo/<commit>`, `host/name/-/name-1.0.0.tgz`):
  these keys do not hold the package's name or version; the entry's `name`/`version` fields do.

Registry packages are pinned; local, tarball and git sources are unpinned (never matched by
version) with their source as a `download_url`/`vcs_url` purl qualifier. Importers (or, for
single-project v5/v6 files, the top-level dependency maps) say which packages are direct and
in which group; scope is then propagated through the dependency graph (v9 `snapshots`,
v5/v6 `packages`), runtime winning. v5/v6 `dev: true` flags are used when present. Aliases
(`x: npm:y@^1` → `y@1.2.3`) report the real package; `link:` entries are first-party and
skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

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
Source = Literal["registry", "local", "tarball", "git"]

_NAME = r"(?:@[^/@()]+/)?[^/@()]+"
_HOST = re.compile(r"^(?P<host>[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+(?::\d+)?)(?=/)")
"""A registry or git host prefixing a v5/v6 key (`registry.npmjs.org/…`)."""
_SLASH_KEY = re.compile(rf"^/(?P<name>{_NAME})/(?P<version>\d[^/_()]*)(?:_.*)?$")
"""v5: `/name/version[_peers]` (after any host prefix)."""
_AT_KEY = re.compile(rf"^/?(?P<name>{_NAME})@(?P<version>.+)$")
"""v6 `/name@version` and v9 `name@version` (peers already cut off)."""
_LOCAL_PEERS = re.compile(r"^(?P<path>(?:file|link):.*?)_(?:@[a-z0-9.~-]+[+/])?[a-z0-9.~-]+@\d.*$", re.I)
"""A v5 local key with a peer suffix: `file:.._react-dom@18.2.0` → `file:..`."""
_GIT_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org"})
_VCS = re.compile(r"^(?:git\+|git://|github:|gitlab:|bitbucket:)", re.I)
_SEMVER = re.compile(r"^\d+\.\d+\.\d+")


@dataclass(frozen=True)
class DepPath:
    """What a pnpm package key says: name and version (empty when the key does not hold them)."""

    name: str
    version: str
    source: Source
    node: str
    """The key without its peer suffix: the package's id in the dependency graph."""
    location: str = ""
    """Where a non-registry package comes from (`file:..`, a tarball URL, a git URL)."""


def parse_key(key: str) -> DepPath | None:
    """Read a package key of any lockfile version (None when it follows no known grammar)."""
    key = key.strip()
    if not key:
        return None
    if key.startswith(("file:", "link:")):
        path = _cut_peers(key)
        local = _LOCAL_PEERS.match(path)
        path = local.group("path") if local else path
        return DepPath("", "", "local", path, path)
    host = _HOST.match(key)
    rest = key[host.end() :] if host else key
    slash = _SLASH_KEY.match(rest)
    if slash:
        name, version = slash.group("name"), slash.group("version")
        return DepPath(name, version, "registry", f"{name}@{version}")
    at = _AT_KEY.match(_cut_peers(rest))
    if at and not (host and at.group("version").startswith("/")):
        return _named(at.group("name"), at.group("version"))
    if host:  # git repository or tarball on a host, named by the entry's fields
        node = _cut_peers(key)
        if host.group("host").lower() in _GIT_HOSTS and not node.endswith((".tgz", ".tar.gz")):
            repo, _, commit = node.rpartition("/")
            return DepPath("", "", "git", node, f"git+https://{repo}#{commit}")
        return DepPath("", "", "tarball", node, f"https://{node}")
    return None


def parse(lock: Lockfile) -> None:
    """Add the packages of a pnpm lockfile to `lock`."""
    doc = as_dict(load_yaml(lock.text), "the document")
    if "lockfileVersion" not in doc:
        raise MalformedLockfile("no lockfileVersion: not a pnpm lockfile")
    packages = as_dict(doc.get("packages"), '"packages"')
    graph_source = as_dict(doc.get("snapshots"), '"snapshots"') or packages
    known = {p.node for p in map(parse_key, map(str, (*packages, *graph_source))) if p}
    edges: dict[str, list[str]] = {}
    for key, raw in graph_source.items():
        dep_path = parse_key(str(key))
        if dep_path and isinstance(raw, dict):
            edges.setdefault(dep_path.node, []).extend(_dependency_nodes(raw, known))
    importers = as_dict(doc.get("importers"), '"importers"') or {".": doc}
    seeds: list[tuple[str, Scope]] = []
    for importer in importers.values():
        if not isinstance(importer, dict):
            continue
        for group, scope in _GROUPS:
            for dep, spec in as_dict(importer.get(group), group).items():
                node = _resolve(str(dep), spec, known)
                if node:
                    seeds.append((node, scope))
    direct = {node for node, _ in seeds}
    scopes = propagate_scopes(edges, seeds)
    entries: list[tuple[_Package, dict[str, Any], int | None]] = []
    for key, raw in packages.items():
        key = str(key)
        line = lock.lines.next(f"  {key}:", f"  '{key}':", f'  "{key}":')
        entry: dict[str, Any] = raw if isinstance(raw, dict) else {}
        package = _package(key, entry)
        if package is None:
            lock.error(f"cannot read package key {key!r}", line)
            continue
        entries.append((package, entry, line))
    purls = {package.node: package.purl for package, _, _ in entries}
    for package, entry, line in entries:
        lock.add(
            ECOSYSTEM,
            package.name,
            package.version,
            line=line,
            direct=package.node in direct,
            scope=_scope(entry, scopes.get(package.node)),
            hashes=_integrity(str(as_dict(entry.get("resolution"), "resolution").get("integrity", ""))),
            dependencies=[purls[d] for d in edges.get(package.node, []) if d in purls],
            pinned=package.pinned,
            qualifiers=package.qualifiers,
        )


@dataclass(frozen=True)
class _Package:
    """One `packages` entry, ready to be added."""

    name: str
    version: str
    node: str
    pinned: bool
    qualifiers: dict[str, str] | None

    @property
    def purl(self) -> str:
        return purl_for(ECOSYSTEM, self.name, self.version if self.pinned else "", self.qualifiers)


def _package(key: str, entry: dict[str, Any]) -> _Package | None:
    """The package a `packages` entry installs: registry keys say it, other keys need the entry's fields."""
    dep_path = parse_key(key)
    name = str(entry.get("name") or "").strip()
    version = str(entry.get("version") or "").strip()
    resolution = as_dict(entry.get("resolution"), f"resolution of {key}")
    if dep_path is None:
        if not (name and version):
            return None
        from_registry = bool(_SEMVER.match(version)) and not {"tarball", "repo", "directory"} & set(
            resolution
        )
        dep_path = DepPath(name, version, "registry" if from_registry else "tarball", f"{name}@{version}")
    if dep_path.source == "registry" and _SEMVER.match(dep_path.version):
        return _Package(name or dep_path.name, dep_path.version, dep_path.node, True, None)
    name = name or dep_path.name
    if not name:
        return None
    if not _SEMVER.match(version):
        version = ""  # the key's "version" is a path or URL, not a version
    return _Package(name, version, dep_path.node, False, _qualifiers(resolution, dep_path))


def _named(name: str, version: str) -> DepPath:
    """A `name@version` key: the version is a version, or a file:/URL/git source (v9)."""
    if version[:1].isdigit():
        version = version.split("_", 1)[0]
        return DepPath(name, version, "registry", f"{name}@{version}")
    node = f"{name}@{version}"
    if version.startswith(("file:", "link:")):
        return DepPath(name, "", "local", node, version)
    if _VCS.match(version):
        return DepPath(name, "", "git", node, version)
    return DepPath(name, "", "tarball", node, version)


def _cut_peers(key: str) -> str:
    paren = key.find("(")
    return key[:paren] if paren > 0 else key


def _resolve(name: str, spec: Any, known: set[str]) -> str:
    """The node an importer/snapshot dependency value points at ('' for links)."""
    value = str(spec.get("version", "")) if isinstance(spec, dict) else str(spec)
    value = _cut_peers(value.strip())
    if not value or value.startswith("link:"):
        return ""
    candidates = [parse_key(f"{name}@{value}")]  # `18.2.0_react@18.2.0`, v9 `file:..`
    if not value[:1].isdigit():
        candidates.append(parse_key(value))  # v5/v6 paths, aliases `/y@1.0.0`, `y@1.0.0`
    nodes = [c.node for c in candidates if c is not None]
    return next((n for n in nodes if n in known), nodes[0] if nodes else "")


def _dependency_nodes(entry: dict[str, Any], known: set[str]) -> list[str]:
    nodes = []
    for group in ("dependencies", "optionalDependencies"):
        for dep, spec in as_dict(entry.get(group), group).items():
            node = _resolve(str(dep), spec, known)
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


def _integrity(value: str) -> list[tuple[str, str]]:
    algorithm, sep, digest = value.partition("-")
    return [(algorithm.lower(), digest)] if sep and digest else []


def _qualifiers(resolution: dict[str, Any], dep_path: DepPath) -> dict[str, str] | None:
    """Where a non-registry package comes from, as a purl qualifier (resolution first, else the key)."""
    if "tarball" in resolution:
        return {"download_url": str(resolution["tarball"])}
    if "repo" in resolution:
        commit = str(resolution.get("commit", ""))
        return {"vcs_url": f"git+{resolution['repo']}@{commit}" if commit else f"git+{resolution['repo']}"}
    if "directory" in resolution:
        return {"download_url": f"file:{resolution['directory']}"}
    if dep_path.location:
        key = "vcs_url" if dep_path.source == "git" else "download_url"
        return {key: dep_path.location}
    return None
