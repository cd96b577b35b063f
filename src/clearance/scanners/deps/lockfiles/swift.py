"""Swift Package Manager `Package.resolved` (versions 1, 2 and 3).

v1 lists `object.pins[]` with `package`, `repositoryURL` and `state`; v2 and v3 list `pins[]`
with `identity`, `kind`, `location` and `state` (v3 adds `originHash`). A pin whose `state`
has a `version` is pinned; a branch or revision-only pin is unpinned with its commit in a
`vcs_url` qualifier. Packages are named as OSV's `SwiftURL` ecosystem names them: the
repository URL without scheme, user and `.git` (`github.com/apple/swift-nio`); registry pins
(`kind: registry`) keep their identity (`scope.name`), and local checkouts
(`localSourceControl`, `fileSystem`) are unpinned under their identity. Package.resolved
records neither a graph nor which packages are direct.
"""

from __future__ import annotations

import re
from typing import Any

from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    as_list,
    load_json_with_trailing_commas,
    text_field,
)

ECOSYSTEM = "SwiftURL"
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.+)$")


def parse(lock: Lockfile) -> None:
    """Add the pins of a Package.resolved to `lock`."""
    doc = as_dict(load_json_with_trailing_commas(lock.text), "the document")
    version = doc.get("version")
    if version == 1:
        pins = as_list(as_dict(doc.get("object"), '"object"').get("pins"), '"object.pins"')
    elif version in (2, 3):
        pins = as_list(doc.get("pins"), '"pins"')
    else:
        raise MalformedLockfile(f"unsupported Package.resolved version {version!r}")
    for pin in pins:
        identity = text_field(pin, "identity") or text_field(pin, "package")
        location = text_field(pin, "location") or text_field(pin, "repositoryURL")
        line = lock.lines.json_key("identity", identity) or lock.lines.json_key("package", identity)
        if not isinstance(pin, dict) or not (identity or location):
            lock.error("pin without an identity or location", line)
            continue
        state = as_dict(pin.get("state"), f"state of {identity}")
        _add(lock, pin, identity, location, state, line)


def _add(
    lock: Lockfile, pin: dict[str, Any], identity: str, location: str, state: dict[str, Any], line: int | None
) -> None:
    kind = text_field(pin, "kind")
    version = text_field(state, "version")
    revision = text_field(state, "revision")
    if kind in ("localSourceControl", "fileSystem"):  # a checkout on the developer's disk
        qualifiers = {"download_url": f"file:{location}"} if location else None
        lock.add(
            ECOSYSTEM, identity or package_name(location), "", line=line, pinned=False, qualifiers=qualifiers
        )
        return
    name = identity if kind == "registry" or not location else package_name(location)
    pinned = bool(version)
    qualifiers = None
    if not pinned and location:
        qualifiers = {"vcs_url": f"git+{location}@{revision}" if revision else f"git+{location}"}
    lock.add(ECOSYSTEM, name, version if pinned else "", line=line, pinned=pinned, qualifiers=qualifiers)


def package_name(location: str) -> str:
    """The SwiftURL name of a repository URL: `https://github.com/apple/swift-nio.git` → `github.com/apple/swift-nio`."""
    url = location.strip()
    if "://" in url:
        url = url.split("://", 1)[1]
        url = url.rsplit("@", 1)[-1] if "@" in url.split("/", 1)[0] else url
    else:
        scp = _SCP.match(url)  # git@github.com:apple/swift-nio.git
        if scp:
            url = f"{scp.group('host')}/{scp.group('path')}"
    url = url.rstrip("/")
    return url[:-4] if url.endswith(".git") else url
