"""Pipenv `Pipfile.lock` (JSON): `default` packages are runtime, `develop` packages dev.

Versions are `==x.y.z`; git/path/file entries (no `version`) are reported unpinned.
"""

from __future__ import annotations

from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    list_field,
    load_json,
    split_hash,
    text_field,
)

ECOSYSTEM = "PyPI"
_SECTIONS = (("default", Scope.RUNTIME), ("develop", Scope.DEV))


def parse(lock: Lockfile) -> None:
    """Add the packages of a Pipfile.lock to `lock`."""
    doc = as_dict(load_json(lock.text), "the document")
    if not any(section in doc for section, _ in _SECTIONS):
        raise MalformedLockfile('no "default" or "develop" section: not a Pipfile.lock')
    for section, scope in _SECTIONS:
        lock.lines.json_key(section)
        for name, raw in as_dict(doc.get(section), f'"{section}"').items():
            line = lock.lines.json_key(name)
            if not isinstance(raw, dict):
                lock.error(f"package {name!r} is not an object", line)
                continue
            _add(lock, name, raw, scope, line)


def _add(lock: Lockfile, name: str, entry: dict[str, Any], scope: Scope, line: int | None) -> None:
    version = text_field(entry, "version")
    hashes = [h for h in (split_hash(v) for v in list_field(entry, "hashes") if isinstance(v, str)) if h]
    if version.startswith("==="):
        version, pinned = version[3:], True
    elif version.startswith("=="):
        version, pinned = version[2:], True
    else:
        pinned = False
    qualifiers: dict[str, str] = {}
    for vcs in ("git", "hg", "svn", "bzr"):
        url = text_field(entry, vcs)
        if url:
            ref = text_field(entry, "ref")
            qualifiers["vcs_url"] = f"{vcs}+{url}@{ref}" if ref else f"{vcs}+{url}"
    if text_field(entry, "file"):
        qualifiers["download_url"] = text_field(entry, "file")
    if qualifiers or text_field(entry, "path"):
        version, pinned = "", False
    lock.add(
        ECOSYSTEM, name, version, line=line, scope=scope, hashes=hashes, pinned=pinned, qualifiers=qualifiers
    )
