"""Yarn `yarn.lock`: classic v1 (its own line format) and Berry v2+ (YAML with `__metadata`).

An entry names one resolved package for one or more descriptors (`a@^1.0.0, a@^1.2.0`).
Aliases (`alias@npm:real@^1`) report the real package. Berry workspace/link/portal
entries are first-party and skipped; the dependencies of workspace entries are the
direct dependencies. git/URL/file resolutions are reported unpinned. yarn.lock does not
record dev vs runtime, so scope is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    load_yaml,
    purl_for,
)

ECOSYSTEM = "npm"
_BERRY_MARKER = re.compile(r"^__metadata:\s*$", re.MULTILINE)
_V1_KEY_VALUE = re.compile(r'^("(?:[^"\\]|\\.)*"|[^\s"]+)\s+(.*)$')
_FIRST_PARTY = ("workspace:", "link:", "portal:", "file:", "exec:")
_UNPINNED = ("git", "http:", "https:", "github:", "file:", "git+", "ssh:")


@dataclass
class _Entry:
    descriptors: list[str]
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    dependencies: dict[str, str] = field(default_factory=dict)


def parse(lock: Lockfile) -> None:
    """Add the packages of a yarn.lock (v1 or Berry) to `lock`."""
    if _BERRY_MARKER.search(lock.text):
        _parse_berry(lock)
    else:
        _parse_v1(lock)


def split_descriptor(descriptor: str) -> tuple[str, str]:
    """`@scope/name@range` → (`@scope/name`, `range`); an `npm:real@range` alias → the real name."""
    descriptor = descriptor.strip().strip('"')
    at = descriptor.find("@", 1)
    if at < 0:
        return descriptor, ""
    name, spec = descriptor[:at], descriptor[at + 1 :]
    if spec.startswith("npm:") and "@" in spec[5:]:
        real = spec[4:]
        at = real.find("@", 1)
        return real[:at], real[at + 1 :]
    return name, spec.removeprefix("npm:")


# --- classic v1 -----------------------------------------------------------------------


def _parse_v1(lock: Lockfile) -> None:
    entries = _read_v1(lock.text)
    if not entries and lock.text.strip() and not _only_comments(lock.text):
        raise MalformedLockfile("no entries found: not a yarn lockfile")
    by_descriptor: dict[str, _Entry] = {}
    for entry in entries:
        for descriptor in entry.descriptors:
            by_descriptor[descriptor] = entry
    for entry in entries:
        if not entry.descriptors:
            lock.error("entry header names no package", entry.line)
            continue
        name, spec = split_descriptor(entry.descriptors[0])
        version = entry.fields.get("version", "")
        if not version:
            lock.error(f"entry {entry.descriptors[0]!r} has no version", entry.line)
            continue
        resolved = entry.fields.get("resolved", "")
        pinned = not spec.startswith(_UNPINNED) and not resolved.startswith(("git", "file:"))
        dependencies = []
        for dep, range_ in entry.dependencies.items():
            target = by_descriptor.get(f"{dep}@{range_}")
            if target is not None and target.fields.get("version"):
                dependencies.append(
                    purl_for(ECOSYSTEM, split_descriptor(target.descriptors[0])[0], target.fields["version"])
                )
        lock.add(
            ECOSYSTEM,
            name,
            version,
            line=entry.line,
            hashes=_integrity(entry.fields.get("integrity", "")),
            dependencies=dependencies,
            pinned=pinned,
            qualifiers=None if pinned else ({"download_url": resolved} if resolved else None),
        )


def _read_v1(text: str) -> list[_Entry]:
    """The entries of a classic lockfile, with the line of each entry's header."""
    entries: list[_Entry] = []
    current: _Entry | None = None
    section: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            if not line.endswith(":"):
                raise MalformedLockfile(f"expected an entry header ending in ':', got {line[:60]!r}", number)
            descriptors = [d.strip().strip('"') for d in _split_header(line[:-1])]
            current = _Entry([d for d in descriptors if d], number)
            entries.append(current)
            section = None
            continue
        if current is None:
            raise MalformedLockfile("indented line before any entry", number)
        stripped = line.strip()
        if indent <= 2:
            section = None
            if stripped.endswith(":"):
                section = (
                    current.dependencies if stripped[:-1] in ("dependencies", "optionalDependencies") else {}
                )
                continue
            match = _V1_KEY_VALUE.match(stripped)
            if not match:
                raise MalformedLockfile(f"expected 'key value', got {stripped[:60]!r}", number)
            current.fields[_unquote(match.group(1))] = _unquote(match.group(2))
        elif section is not None:
            match = _V1_KEY_VALUE.match(stripped)
            if match:
                section[_unquote(match.group(1))] = _unquote(match.group(2))
    return entries


def _split_header(header: str) -> list[str]:
    """Descriptors of a header line, split at commas outside quotes."""
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(char)
    parts.append("".join(buf))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


# --- Berry (v2+) ----------------------------------------------------------------------


def _parse_berry(lock: Lockfile) -> None:
    doc = as_dict(load_yaml(lock.text), "the document")
    entries = {str(k): v for k, v in doc.items() if k != "__metadata" and isinstance(v, dict)}
    by_descriptor: dict[str, dict[str, Any]] = {}
    for key, entry in entries.items():
        for descriptor in key.split(","):
            by_descriptor[descriptor.strip()] = entry
    direct: set[str] = set()
    for entry in entries.values():
        if _is_first_party(str(entry.get("resolution", ""))):
            for dep, range_ in as_dict(entry.get("dependencies"), "dependencies").items():
                target = _berry_target(by_descriptor, str(dep), str(range_))
                if target is not None:
                    direct.add(str(target.get("resolution", "")))
    for key, entry in entries.items():
        line = lock.lines.next(f'"{key}":', f"{key}:")
        resolution = str(entry.get("resolution", ""))
        if _is_first_party(resolution):
            continue
        if not resolution or "version" not in entry:
            lock.error(f"entry {key!r} has no resolution or version", line)
            continue
        name, locator = split_descriptor(resolution)
        version = str(entry["version"])
        pinned = locator.startswith(("npm:", "patch:")) or _looks_like_version(locator)
        dependencies = []
        for dep, range_ in as_dict(entry.get("dependencies"), "dependencies").items():
            target = _berry_target(by_descriptor, str(dep), str(range_))
            if target is not None and "version" in target:
                target_name = split_descriptor(str(target.get("resolution", dep)))[0]
                dependencies.append(purl_for(ECOSYSTEM, target_name, str(target["version"])))
        checksum = str(entry.get("checksum", ""))
        lock.add(
            ECOSYSTEM,
            name,
            version,
            line=line,
            direct=resolution in direct if direct else None,
            hashes=[("sha512", checksum.split("/")[-1])] if checksum else [],
            dependencies=dependencies,
            pinned=pinned,
            qualifiers=None if pinned else {"download_url": locator},
        )


def _berry_target(by_descriptor: dict[str, dict[str, Any]], dep: str, range_: str) -> dict[str, Any] | None:
    for descriptor in (f"{dep}@{range_}", f"{dep}@npm:{range_}"):
        if descriptor in by_descriptor:
            return by_descriptor[descriptor]
    return None


def _is_first_party(resolution: str) -> bool:
    _, locator = split_descriptor(resolution)
    return locator.startswith(_FIRST_PARTY)


def _looks_like_version(value: str) -> bool:
    return bool(re.match(r"^\d+\.\d+", value))


def _integrity(value: str) -> list[tuple[str, str]]:
    algorithm, sep, digest = value.partition("-")
    return [(algorithm.lower(), digest)] if sep and digest else []
