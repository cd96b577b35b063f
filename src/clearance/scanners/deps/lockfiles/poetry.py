"""Poetry `poetry.lock` (lock-version 1.1 through 2.x).

Scope comes from `category` (1.1: main/dev) or `groups` (2.x: `main` → runtime, any
other group → dev); `optional = true` packages (installed only through extras) are
optional. Hashes come from `files` (2.x) or `[metadata.files]` (1.1). Packages from git,
URL, file or directory sources are reported unpinned. `[package.dependencies]` gives the
graph.
"""

from __future__ import annotations

from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    as_list,
    load_toml,
    normalize_name,
    purl_for,
    split_hash,
    text_field,
)

ECOSYSTEM = "PyPI"
_UNPINNED_SOURCES = ("git", "url", "file", "directory")


def parse(lock: Lockfile) -> None:
    """Add the packages of a poetry.lock to `lock`."""
    doc = load_toml(lock.text)
    packages = [p for p in as_list(doc.get("package"), '"package"') if isinstance(p, dict)]
    if "package" not in doc and "metadata" not in doc:
        raise MalformedLockfile("no [[package]] or [metadata] table: not a poetry.lock")
    legacy_files = as_dict(as_dict(doc.get("metadata"), "[metadata]").get("files"), "[metadata.files]")
    legacy_hashes = {normalize_name(ECOSYSTEM, k): v for k, v in legacy_files.items()}
    versions = {normalize_name(ECOSYSTEM, text_field(p, "name")): text_field(p, "version") for p in packages}
    for package in packages:
        raw_name = text_field(package, "name")
        version = text_field(package, "version")
        line = lock.lines.next(f'name = "{raw_name}"')
        if not raw_name or not version:
            lock.error("package without a name or version", line)
            continue
        name = normalize_name(ECOSYSTEM, raw_name)
        source = as_dict(package.get("source"), f"source of {raw_name}")
        source_type = text_field(source, "type")
        pinned = source_type not in _UNPINNED_SOURCES
        qualifiers = _source_qualifiers(source) if not pinned else None
        files = package.get("files") if "files" in package else legacy_hashes.get(name)
        dependencies = [
            purl_for(ECOSYSTEM, dep, versions[dep])
            for dep in (
                normalize_name(ECOSYSTEM, d) for d in as_dict(package.get("dependencies"), "dependencies")
            )
            if versions.get(dep)
        ]
        lock.add(
            ECOSYSTEM,
            name,
            version,
            line=line,
            scope=_scope(package),
            hashes=_hashes(files),
            dependencies=dependencies,
            pinned=pinned,
            qualifiers=qualifiers,
        )


def _scope(package: dict[str, Any]) -> Scope:
    category = text_field(package, "category")
    groups = package.get("groups")
    if isinstance(groups, list) and groups:
        scope = Scope.RUNTIME if "main" in groups else Scope.DEV
    elif category:
        scope = Scope.DEV if category == "dev" else Scope.RUNTIME
    else:
        return Scope.OPTIONAL if package.get("optional") is True else Scope.UNKNOWN
    if scope is Scope.RUNTIME and package.get("optional") is True:
        return Scope.OPTIONAL
    return scope


def _hashes(files: Any) -> list[tuple[str, str]]:
    hashes: list[tuple[str, str]] = []
    for item in files if isinstance(files, list) else []:
        value = item.get("hash") if isinstance(item, dict) else None
        parsed = split_hash(value) if isinstance(value, str) else None
        if parsed:
            hashes.append(parsed)
    return hashes


def _source_qualifiers(source: dict[str, Any]) -> dict[str, str]:
    url = text_field(source, "url")
    if not url or text_field(source, "type") == "directory":
        return {}
    if text_field(source, "type") == "git":
        ref = text_field(source, "resolved_reference") or text_field(source, "reference")
        return {"vcs_url": f"git+{url}@{ref}" if ref else f"git+{url}"}
    return {"download_url": url}
