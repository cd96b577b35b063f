"""NuGet `packages.lock.json`: per target framework, `Direct` and `Transitive` packages.

`Project` entries (project references) are first-party and skipped; `CentralTransitive`
entries are transitive. `contentHash` is a base64 sha512.
"""

from __future__ import annotations

from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    load_json,
    purl_for,
    text_field,
)

ECOSYSTEM = "NuGet"


def parse(lock: Lockfile) -> None:
    """Add the packages of a packages.lock.json to `lock`."""
    doc = as_dict(load_json(lock.text), "the document")
    if "dependencies" not in doc:
        raise MalformedLockfile('no "dependencies" object: not a packages.lock.json')
    for framework, raw in as_dict(doc["dependencies"], '"dependencies"').items():
        packages = as_dict(raw, f"target {framework}")
        lock.lines.json_key(framework)
        resolved = {
            name.lower(): (name, text_field(p, "resolved"))
            for name, p in packages.items()
            if isinstance(p, dict)
        }
        for name, entry in packages.items():
            line = lock.lines.json_key(name)
            if not isinstance(entry, dict):
                lock.error(f"package {name!r} is not an object", line)
                continue
            kind = text_field(entry, "type")
            if kind == "Project":
                continue
            version = text_field(entry, "resolved")
            if not version:
                lock.error(f"package {name!r} has no resolved version", line)
                continue
            content_hash = text_field(entry, "contentHash")
            lock.add(
                ECOSYSTEM,
                name,
                version,
                line=line,
                direct=kind == "Direct",
                hashes=[("sha512", content_hash)] if content_hash else [],
                dependencies=[
                    purl_for(ECOSYSTEM, *resolved[dep.lower()])
                    for dep in as_dict(entry.get("dependencies"), "dependencies")
                    if resolved.get(dep.lower(), ("", ""))[1]
                ],
            )
