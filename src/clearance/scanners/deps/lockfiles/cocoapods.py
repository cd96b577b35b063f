"""CocoaPods `Podfile.lock`.

`PODS` lists every installed pod as `Name (version)` (or `Name/Subspec (version)`), each
optionally with the pods it depends on; subspecs are reported as their pod. `DEPENDENCIES`
names what the Podfile asks for (direct). Pods under `EXTERNAL SOURCES` (`:git`, `:path`,
`:podspec`) are unpinned, with `CHECKOUT OPTIONS` giving the commit of git pods. `SPEC
CHECKSUMS` are the SHA-1 of each podspec. CocoaPods is not an OSV ecosystem: the packages
go into the inventory and the SBOM (`pkg:cocoapods/…`); no advisories exist for them.
"""

from __future__ import annotations

import re
from typing import Any

from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    as_list,
    load_yaml,
    purl_for,
)

ECOSYSTEM = "CocoaPods"
_POD = re.compile(r"^(?P<name>[^\s(]+)(?:\s+\((?P<version>[^)]*)\))?$")


def parse(lock: Lockfile) -> None:
    """Add the pods of a Podfile.lock to `lock`."""
    doc = as_dict(load_yaml(lock.text), "the document")
    if "PODS" not in doc:
        raise MalformedLockfile('no "PODS": not a Podfile.lock')
    direct = {
        _root(m.group("name")) for m in map(_pod, as_list(doc.get("DEPENDENCIES"), '"DEPENDENCIES"')) if m
    }
    external = as_dict(doc.get("EXTERNAL SOURCES"), '"EXTERNAL SOURCES"')
    checkout = as_dict(doc.get("CHECKOUT OPTIONS"), '"CHECKOUT OPTIONS"')
    checksums = as_dict(doc.get("SPEC CHECKSUMS"), '"SPEC CHECKSUMS"')
    pods: list[tuple[str, str, list[str], int | None]] = []
    for item in as_list(doc.get("PODS"), '"PODS"'):
        spec, needs = _entry(item)
        match = _pod(spec)
        line = lock.lines.next(f"  - {spec}", f'  - "{spec}"')
        if match is None or not match.group("version"):
            lock.error(f"pod entry {str(spec)[:80]!r} is not `Name (version)`", line)
            continue
        pods.append((_root(match.group("name")), match.group("version").strip(), needs, line))
    versions = {name: version for name, version, _, _ in pods}
    for name, version, needs, line in pods:
        source = as_dict(external.get(name), f"external source of {name}")
        pinned = not source
        dependencies = [
            purl_for(ECOSYSTEM, _root(m.group("name")), versions[_root(m.group("name"))])
            for m in map(_pod, needs)
            if m and _root(m.group("name")) in versions and _root(m.group("name")) != name
        ]
        checksum = checksums.get(name)
        lock.add(
            ECOSYSTEM,
            name,
            version,
            line=line,
            direct=name in direct,
            hashes=[("sha1", checksum)] if isinstance(checksum, str) and checksum else [],
            dependencies=dependencies,
            pinned=pinned,
            qualifiers=None
            if pinned
            else _source(source, as_dict(checkout.get(name), f"checkout of {name}")),
        )


def _entry(item: Any) -> tuple[str, list[str]]:
    """(`Name (version)`, [what it depends on]) of one PODS item."""
    if isinstance(item, dict) and len(item) == 1:
        ((spec, needs),) = item.items()
        return str(spec), [str(n) for n in needs] if isinstance(needs, list) else []
    return str(item), []


def _pod(value: Any) -> re.Match[str] | None:
    return _POD.match(value.strip()) if isinstance(value, str) else None


def _root(name: str) -> str:
    return name.split("/", 1)[0]


def _source(source: dict[str, Any], checkout: dict[str, Any]) -> dict[str, str] | None:
    git = str(source.get(":git") or checkout.get(":git") or "")
    if git:
        ref = str(
            checkout.get(":commit")
            or checkout.get(":tag")
            or source.get(":tag")
            or source.get(":commit")
            or ""
        )
        return {"vcs_url": f"git+{git}@{ref}" if ref else f"git+{git}"}
    for key in (":path", ":podspec"):
        if source.get(key):
            value = str(source[key])
            return {"download_url": value if "://" in value else f"file:{value}"}
    return None
