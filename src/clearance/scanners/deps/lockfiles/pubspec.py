"""Dart/Flutter `pubspec.lock`.

Each entry of `packages` has `dependency` ("direct main", "direct dev", "direct overridden"
or "transitive"), `source` (`hosted`, `git`, `path`, `sdk`), `version` and a `description`
(for hosted packages the `name`, the repository `url` and the archive's `sha256`). Hosted
packages are pinned; git and path packages are unpinned with their source as a purl
qualifier; `sdk` packages (flutter, flutter_test) ship with the SDK and are not reported.
pubspec.lock records no dependency graph.
"""

from __future__ import annotations

from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import Lockfile, MalformedLockfile, as_dict, load_yaml, text_field

ECOSYSTEM = "Pub"
_DIRECT = {
    "direct main": (True, Scope.RUNTIME),
    "direct dev": (True, Scope.DEV),
    "direct overridden": (True, Scope.UNKNOWN),
    "transitive": (False, Scope.UNKNOWN),
}


def parse(lock: Lockfile) -> None:
    """Add the packages of a pubspec.lock to `lock`."""
    doc = as_dict(load_yaml(lock.text), "the document")
    if "packages" not in doc and "sdks" not in doc:
        raise MalformedLockfile('no "packages": not a pubspec.lock')
    for name, raw in as_dict(doc.get("packages"), '"packages"').items():
        name = str(name)
        line = lock.lines.next(f"  {name}:", f'  "{name}":')
        if not isinstance(raw, dict):
            lock.error(f"package {name!r} is not a mapping", line)
            continue
        source = text_field(raw, "source")
        if source == "sdk":
            continue
        version = str(raw.get("version") or "").strip()
        if not version:
            lock.error(f"package {name!r} has no version", line)
            continue
        direct, scope = _DIRECT.get(text_field(raw, "dependency"), (None, Scope.UNKNOWN))
        description = raw.get("description")
        pinned = source == "hosted"
        lock.add(
            ECOSYSTEM,
            text_field(description, "name") or name,
            version,
            line=line,
            direct=direct,
            scope=scope,
            hashes=[("sha256", sha)] if (sha := text_field(description, "sha256")) else [],
            pinned=pinned,
            qualifiers=None if pinned else _source(source, description),
        )


def _source(source: str, description: Any) -> dict[str, str] | None:
    if source == "git":
        url = text_field(description, "url")
        ref = text_field(description, "resolved-ref")
        return {"vcs_url": f"git+{url}@{ref}" if ref else f"git+{url}"} if url else None
    path = text_field(description, "path") if isinstance(description, dict) else ""
    return {"download_url": f"file:{path}"} if path else None
