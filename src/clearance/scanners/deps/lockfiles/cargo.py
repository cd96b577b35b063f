"""Rust `Cargo.lock` (versions 1–4 of the TOML layout with `[[package]]`).

Packages without a `source` are workspace members or path dependencies: first-party, not
components; the crates they depend on are the direct dependencies. Crates from git
sources are reported unpinned. `checksum` is the sha256 of the crate archive.
"""

from __future__ import annotations

from typing import Any

from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_list,
    list_field,
    load_toml,
    purl_for,
    text_field,
)

ECOSYSTEM = "crates.io"


def parse(lock: Lockfile) -> None:
    """Add the crates of a Cargo.lock to `lock`."""
    doc = load_toml(lock.text)
    if "package" not in doc:
        if "version" in doc or "metadata" in doc:
            return  # a workspace with no dependencies at all
        raise MalformedLockfile("no [[package]] table: not a Cargo.lock")
    packages = [p for p in as_list(doc.get("package"), '"package"') if isinstance(p, dict)]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in packages:
        by_name.setdefault(text_field(package, "name"), []).append(package)
    direct: set[tuple[str, str]] = set()
    for package in packages:
        if not text_field(package, "source"):
            for dep in _dependencies(package, by_name):
                direct.add((text_field(dep, "name"), text_field(dep, "version")))
    for package in packages:
        name, version = text_field(package, "name"), text_field(package, "version")
        line = lock.lines.next(f'name = "{name}"\nversion = "{version}"', f'name = "{name}"')
        source = text_field(package, "source")
        if not source:
            continue
        if not name or not version:
            lock.error("package without a name or version", line)
            continue
        git = source.startswith("git+")
        checksum = text_field(package, "checksum")
        lock.add(
            ECOSYSTEM,
            name,
            version,
            line=line,
            direct=(name, version) in direct,
            hashes=[("sha256", checksum)] if checksum else [],
            dependencies=[
                purl_for(ECOSYSTEM, text_field(d, "name"), text_field(d, "version"))
                for d in _dependencies(package, by_name)
                if text_field(d, "source")
            ],
            pinned=not git,
            qualifiers={"vcs_url": source} if git else None,
        )


def _dependencies(package: dict[str, Any], by_name: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The locked packages a package's `dependencies` entries (`name`, `name version`, `name version (source)`) name."""
    found = []
    for entry in list_field(package, "dependencies"):
        parts = str(entry).split()
        if not parts:
            continue
        candidates = by_name.get(parts[0], [])
        if len(parts) >= 2:
            candidates = [c for c in candidates if text_field(c, "version") == parts[1]]
        if candidates:
            found.append(candidates[0])
    return found
