"""PDM `pdm.lock` (TOML): `groups` per package (`default` → runtime, any other group → dev).

Dependencies are PEP 508 strings and give the graph; git/URL/path packages are reported
unpinned.
"""

from __future__ import annotations

from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_list,
    list_field,
    load_toml,
    normalize_name,
    purl_for,
    split_hash,
    text_field,
)

ECOSYSTEM = "PyPI"


def parse(lock: Lockfile) -> None:
    """Add the packages of a pdm.lock to `lock`."""
    doc = load_toml(lock.text)
    if "package" not in doc and "metadata" not in doc:
        raise MalformedLockfile("no [[package]] or [metadata] table: not a pdm.lock")
    packages = [p for p in as_list(doc.get("package"), '"package"') if isinstance(p, dict)]
    versions = {normalize_name(ECOSYSTEM, text_field(p, "name")): text_field(p, "version") for p in packages}
    for package in packages:
        raw_name = text_field(package, "name")
        line = lock.lines.next(f'name = "{raw_name}"')
        if not raw_name:
            lock.error("package without a name", line)
            continue
        version = text_field(package, "version")
        qualifiers = _qualifiers(package)
        pinned = bool(version) and not qualifiers and not text_field(package, "path")
        lock.add(
            ECOSYSTEM,
            raw_name,
            version,
            line=line,
            scope=_scope(package),
            hashes=_hashes(package),
            dependencies=_dependencies(package, versions),
            pinned=pinned,
            qualifiers=qualifiers,
        )


def _scope(package: dict[str, Any]) -> Scope:
    groups = package.get("groups")
    if not isinstance(groups, list) or not groups:
        return Scope.UNKNOWN
    return Scope.RUNTIME if "default" in groups else Scope.DEV


def _dependencies(package: dict[str, Any], versions: dict[str, str]) -> list[str]:
    purls = []
    for spec in list_field(package, "dependencies"):
        try:
            name = normalize_name(ECOSYSTEM, Requirement(str(spec)).name)
        except InvalidRequirement:
            continue
        if versions.get(name):
            purls.append(purl_for(ECOSYSTEM, name, versions[name]))
    return purls


def _hashes(package: dict[str, Any]) -> list[tuple[str, str]]:
    hashes: list[tuple[str, str]] = []
    for item in list_field(package, "files"):
        value = item.get("hash") if isinstance(item, dict) else None
        parsed = split_hash(value) if isinstance(value, str) else None
        if parsed:
            hashes.append(parsed)
    return hashes


def _qualifiers(package: dict[str, Any]) -> dict[str, str]:
    git = text_field(package, "git")
    if git:
        revision = text_field(package, "revision") or text_field(package, "ref")
        return {"vcs_url": f"git+{git}@{revision}" if revision else f"git+{git}"}
    url = text_field(package, "url")
    return {"download_url": url} if url else {}
