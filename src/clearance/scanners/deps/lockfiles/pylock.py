"""PEP 751 `pylock.toml` / `pylock.<name>.toml`.

Packages carry a `version` (absent for VCS/directory/archive packages, which are
reported unpinned); hashes come from `sdist`, `wheels` and `archive`. A package whose
`marker` selects it by dependency group is dev, by extra optional, otherwise runtime.
"""

from __future__ import annotations

import re
from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_list,
    list_field,
    load_toml,
    normalize_name,
    purl_for,
    text_field,
)

ECOSYSTEM = "PyPI"
_GROUP_MARKER = re.compile(r"""['"]([^'"]+)['"]\s+in\s+dependency_groups""")


def parse(lock: Lockfile) -> None:
    """Add the packages of a pylock.toml to `lock`."""
    doc = load_toml(lock.text)
    if "lock-version" not in doc:
        raise MalformedLockfile('no "lock-version" key: not a PEP 751 lock file')
    default_groups = {str(g) for g in as_list(doc.get("default-groups"), "default-groups")}
    packages = [p for p in as_list(doc.get("packages"), '"packages"') if isinstance(p, dict)]
    versions: dict[str, str] = {}
    for package in packages:
        versions.setdefault(
            normalize_name(ECOSYSTEM, text_field(package, "name")), text_field(package, "version")
        )
    for package in packages:
        raw_name = text_field(package, "name")
        line = lock.lines.next(f'name = "{raw_name}"')
        if not raw_name:
            lock.error("package without a name", line)
            continue
        version = text_field(package, "version")
        qualifiers = _qualifiers(package)
        pinned = bool(version) and not qualifiers and "directory" not in package
        dependencies = [
            purl_for(ECOSYSTEM, name, versions[name])
            for name in (
                normalize_name(ECOSYSTEM, text_field(d, "name"))
                for d in list_field(package, "dependencies")
                if isinstance(d, dict)
            )
            if versions.get(name)
        ]
        lock.add(
            ECOSYSTEM,
            raw_name,
            version,
            line=line,
            scope=_scope(text_field(package, "marker"), default_groups),
            hashes=_hashes(package),
            dependencies=dependencies,
            pinned=pinned,
            qualifiers=qualifiers,
        )


def _scope(marker: str, default_groups: set[str]) -> Scope:
    groups = set(_GROUP_MARKER.findall(marker))
    if groups and not groups & default_groups:
        return Scope.DEV
    if re.search(r"\bin\s+extras\b", marker):
        return Scope.OPTIONAL
    return Scope.RUNTIME


def _hashes(package: dict[str, Any]) -> list[tuple[str, str]]:
    artifacts: list[Any] = []
    for key in ("sdist", "archive"):
        if isinstance(package.get(key), dict):
            artifacts.append(package[key])
    if isinstance(package.get("wheels"), list):
        artifacts.extend(package["wheels"])
    hashes: list[tuple[str, str]] = []
    for artifact in artifacts:
        table = artifact.get("hashes") if isinstance(artifact, dict) else None
        if isinstance(table, dict):
            hashes.extend((str(k).lower(), str(v)) for k, v in table.items())
    return hashes


def _qualifiers(package: dict[str, Any]) -> dict[str, str]:
    vcs = package.get("vcs")
    if isinstance(vcs, dict) and text_field(vcs, "url"):
        kind = text_field(vcs, "type") or "git"
        commit = text_field(vcs, "commit-id")
        url = f"{kind}+{text_field(vcs, 'url')}"
        return {"vcs_url": f"{url}@{commit}" if commit else url}
    archive = package.get("archive")
    if isinstance(archive, dict) and text_field(archive, "url"):
        return {"download_url": text_field(archive, "url")}
    return {}
