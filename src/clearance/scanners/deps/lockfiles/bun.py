"""Bun's text lockfile `bun.lock` (lockfileVersion 0 and 1; JSON with trailing commas).

`workspaces` maps each workspace folder ("" is the root) to its manifest's dependency groups:
those names are direct, in the group's scope. `packages` maps an install path
(`react`, `@babel/core`, `parent/child` for a copy nested under `parent`) to an array whose
first item is the resolved `name@version`; for registry packages the array is
`[ident, registry, info, integrity]`, where `info.dependencies`/`optionalDependencies`/
`peerDependencies` name what it needs (resolved like Node: the nested copy first, then up to
the top). `workspace:` entries are first-party and skipped; `file:`, `link:`, git
(`github:`, `git+…`) and tarball URLs are unpinned. The binary `bun.lockb` is not read (it is
reported as skipped).
"""

from __future__ import annotations

import re
from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    load_json_with_trailing_commas,
    propagate_scopes,
    purl_for,
)

ECOSYSTEM = "npm"
_GROUPS = (
    ("dependencies", Scope.RUNTIME),
    ("optionalDependencies", Scope.OPTIONAL),
    ("peerDependencies", Scope.RUNTIME),
    ("devDependencies", Scope.DEV),
)
_VCS = re.compile(r"^(?:git\+|git://|github:|gitlab:|bitbucket:)", re.IGNORECASE)
_SEGMENT = re.compile(r"(?:@[^/]+/)?[^/]+")


def parse(lock: Lockfile) -> None:
    """Add the packages of a bun.lock to `lock`."""
    doc = as_dict(load_json_with_trailing_commas(lock.text), "the document")
    if "lockfileVersion" not in doc or "packages" not in doc:
        raise MalformedLockfile('no "lockfileVersion" and "packages": not a bun.lock')
    packages = as_dict(doc.get("packages"), '"packages"')
    seeds: list[tuple[str, Scope]] = []
    for workspace in as_dict(doc.get("workspaces"), '"workspaces"').values():
        for group, scope in _GROUPS:
            for dep in as_dict(workspace.get(group) if isinstance(workspace, dict) else None, group):
                if str(dep) in packages:
                    seeds.append((str(dep), scope))
    edges = {str(key): _needs(str(key), raw, packages) for key, raw in packages.items()}
    scopes = propagate_scopes(edges, seeds)
    direct = {key for key, _ in seeds}
    purls: dict[str, str] = {}
    resolved: list[tuple[str, str, str, bool, dict[str, str] | None, list[tuple[str, str]], int | None]] = []
    for key, raw in packages.items():
        key = str(key)
        line = lock.lines.json_key(key)
        if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
            lock.error(f"package {key!r} is not a [name@version, …] array", line)
            continue
        at = raw[0].find("@", 1)  # a name has no `@` after its scope; a git URL may
        name, spec = (raw[0][:at], raw[0][at + 1 :]) if at > 0 else ("", "")
        if not name or not spec:
            lock.error(f"package {key!r} has no name@version ({raw[0][:80]!r})", line)
            continue
        if spec.startswith("workspace:"):
            continue  # a workspace of this repository: first-party
        pinned = spec[:1].isdigit()
        qualifiers = None if pinned else _source(spec)
        integrity = raw[-1] if len(raw) >= 4 and isinstance(raw[-1], str) else ""
        version = spec if pinned else ""
        purls[key] = purl_for(ECOSYSTEM, name, version, qualifiers)
        resolved.append((key, name, version, pinned, qualifiers, _integrity(integrity), line))
    for key, name, version, pinned, qualifiers, hashes, line in resolved:
        lock.add(
            ECOSYSTEM,
            name,
            version,
            line=line,
            direct=key in direct,
            scope=scopes.get(key, Scope.UNKNOWN),
            hashes=hashes,
            dependencies=[purls[d] for d in edges.get(key, []) if d in purls],
            pinned=pinned,
            qualifiers=qualifiers,
        )


def _needs(key: str, raw: Any, packages: dict[str, Any]) -> list[str]:
    """Install paths of the packages the entry at `key` depends on (Node resolution)."""
    info = next((item for item in raw[1:] if isinstance(item, dict)), {}) if isinstance(raw, list) else {}
    wanted: list[str] = []
    for group in ("dependencies", "optionalDependencies", "peerDependencies"):
        value = info.get(group)
        if isinstance(value, dict):
            wanted.extend(str(d) for d in value)
    segments = _SEGMENT.findall(key)
    found = []
    for dep in wanted:
        for depth in range(len(segments), -1, -1):
            candidate = "/".join([*segments[:depth], dep])
            if candidate in packages:
                found.append(candidate)
                break
    return found


def _source(spec: str) -> dict[str, str]:
    """Where a non-registry package comes from, as a purl qualifier."""
    if _VCS.match(spec):
        return {"vcs_url": spec}
    return {"download_url": spec}


def _integrity(value: str) -> list[tuple[str, str]]:
    algorithm, sep, digest = value.partition("-")
    return [(algorithm.lower(), digest)] if sep and digest and algorithm.startswith("sha") else []
