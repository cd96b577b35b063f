"""Bundler `Gemfile.lock`.

Gems come from `GEM` specs (and `GIT` specs, reported unpinned; `PATH` gems are
first-party and skipped). Names listed under `DEPENDENCIES` are direct. Platform
suffixes (`1.16.2-x86_64-linux`) are stripped from versions. The `CHECKSUMS` section
(Bundler 2.5+) gives sha256 hashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from clearance.scanners.deps.lockfiles.base import Lockfile, MalformedLockfile, purl_for

ECOSYSTEM = "RubyGems"
_SPEC = re.compile(r"^    ([^\s(]+) \(([^)\s]+)\)\s*$")
_SPEC_DEP = re.compile(r"^      ([^\s(!]+)")
_DEPENDENCY = re.compile(r"^  ([^\s(!]+)(!)?")
_CHECKSUM = re.compile(r"^  ([^\s(]+) \(([^)\s]+)\) sha256=([0-9a-f]{64})")
_SECTION = re.compile(r"^([A-Z][A-Z ]+)$")


@dataclass
class _Gem:
    name: str
    version: str
    line: int
    section: str
    remote: str = ""
    revision: str = ""
    dependencies: list[str] = field(default_factory=list)


def parse(lock: Lockfile) -> None:
    """Add the gems of a Gemfile.lock to `lock`."""
    gems: list[_Gem] = []
    direct: set[str] = set()
    checksums: dict[tuple[str, str], str] = {}
    section = ""
    remote = revision = ""
    sections_seen = 0
    for number, line in enumerate(lock.text.splitlines(), 1):
        heading = _SECTION.match(line)
        if heading:
            section, remote, revision = heading.group(1), "", ""
            sections_seen += 1
            continue
        if section in ("GEM", "GIT", "PATH"):
            if line.startswith("  remote: "):
                remote = line.split(":", 1)[1].strip()
            elif line.startswith("  revision: "):
                revision = line.split(":", 1)[1].strip()
            elif spec := _SPEC.match(line):
                gems.append(
                    _Gem(spec.group(1), _strip_platform(spec.group(2)), number, section, remote, revision)
                )
            elif (dep := _SPEC_DEP.match(line)) and gems:
                gems[-1].dependencies.append(dep.group(1))
        elif section == "DEPENDENCIES" and (dependency := _DEPENDENCY.match(line)):
            direct.add(dependency.group(1))
        elif section == "CHECKSUMS" and (checksum := _CHECKSUM.match(line)):
            checksums[(checksum.group(1), _strip_platform(checksum.group(2)))] = checksum.group(3)
    if sections_seen == 0:
        raise MalformedLockfile("no GEM/DEPENDENCIES sections: not a Gemfile.lock")
    versions = {g.name: g.version for g in gems}
    for gem in gems:
        if gem.section == "PATH":
            continue
        git = gem.section == "GIT"
        lock.add(
            ECOSYSTEM,
            gem.name,
            gem.version,
            line=gem.line,
            direct=gem.name in direct,
            hashes=[("sha256", checksums[(gem.name, gem.version)])]
            if (gem.name, gem.version) in checksums
            else [],
            dependencies=[purl_for(ECOSYSTEM, d, versions[d]) for d in gem.dependencies if d in versions],
            pinned=not git,
            qualifiers={"vcs_url": f"git+{gem.remote}@{gem.revision}"} if git and gem.remote else None,
        )


def _strip_platform(version: str) -> str:
    return version.split("-", 1)[0]
