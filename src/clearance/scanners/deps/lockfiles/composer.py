"""PHP Composer `composer.lock`: `packages` are runtime, `packages-dev` dev.

Branch versions (`dev-main`, `1.x-dev`) are reported unpinned; `require` gives the graph
(platform requirements such as `php` and `ext-*` are not packages).
"""

from __future__ import annotations

from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    as_list,
    load_json,
    purl_for,
    text_field,
)

ECOSYSTEM = "Packagist"


def parse(lock: Lockfile) -> None:
    """Add the packages of a composer.lock to `lock`."""
    doc = as_dict(load_json(lock.text), "the document")
    if "packages" not in doc and "packages-dev" not in doc:
        raise MalformedLockfile('no "packages" list: not a composer.lock')
    sections = [
        (as_list(doc.get("packages"), '"packages"'), Scope.RUNTIME),
        (as_list(doc.get("packages-dev"), '"packages-dev"'), Scope.DEV),
    ]
    versions = {
        text_field(p, "name").lower(): text_field(p, "version")
        for packages, _ in sections
        for p in packages
        if isinstance(p, dict)
    }
    for packages, scope in sections:
        for package in packages:
            if not isinstance(package, dict):
                continue
            name = text_field(package, "name")
            line = lock.lines.json_key("name", name)
            version = text_field(package, "version")
            if not name or not version:
                lock.error("package without a name or version", line)
                continue
            pinned = not (version.startswith("dev-") or version.endswith("-dev"))
            lock.add(
                ECOSYSTEM,
                name,
                version,
                line=line,
                scope=scope,
                hashes=_hashes(package),
                dependencies=[
                    purl_for(ECOSYSTEM, dep.lower(), versions[dep.lower()])
                    for dep in as_dict(package.get("require"), "require")
                    if versions.get(dep.lower())
                ],
                pinned=pinned,
                qualifiers=None if pinned else _source(package),
            )


def _hashes(package: dict[str, Any]) -> list[tuple[str, str]]:
    dist = package.get("dist")
    shasum = text_field(dist, "shasum") if isinstance(dist, dict) else ""
    return [("sha1", shasum)] if shasum else []


def _source(package: dict[str, Any]) -> dict[str, str] | None:
    source = package.get("source")
    if not isinstance(source, dict) or not text_field(source, "url"):
        return None
    reference = text_field(source, "reference")
    url = f"{text_field(source, 'type') or 'git'}+{text_field(source, 'url')}"
    return {"vcs_url": f"{url}@{reference}" if reference else url}
