"""NuGet `packages.config` (the pre-PackageReference format).

Every installed package is one `<package id="…" version="…" targetFramework="…"/>`, direct
and transitive alike (the file does not say which), with an exact version.
`developmentDependency="true"` marks a build-time package (dev scope). XML with DOCTYPE or
ENTITY declarations is refused before parsing.
"""

from __future__ import annotations

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import Lockfile, MalformedLockfile, load_xml

ECOSYSTEM = "NuGet"


def parse(lock: Lockfile) -> None:
    """Add the packages of a packages.config to `lock`."""
    root = load_xml(lock)
    if root.tag != "packages":
        raise MalformedLockfile(f"root element is <{root.tag}>, expected <packages>")
    for package in root.iter("package"):
        name = (package.get("id") or "").strip()
        version = (package.get("version") or "").strip()
        line = lock.lines.next(f'id="{name}"', f"id='{name}'") if name else None
        if not name or not version:
            lock.error("<package> without id or version", line)
            continue
        dev = (package.get("developmentDependency") or "").lower() == "true"
        pinned = not version.startswith(("[", "("))  # an allowedVersions-style range is not a pin
        lock.add(
            ECOSYSTEM, name, version, line=line, scope=Scope.DEV if dev else Scope.RUNTIME, pinned=pinned
        )
