"""apk's database: `lib/apk/db/installed` (blank-line separated records of `X:value` lines)."""

from __future__ import annotations

from clearance.errors import MalformedInput
from clearance.scanners.deps.ospkg.packages import OsPackage

INSTALLED = "lib/apk/db/installed"


def parse_installed(text: str) -> list[OsPackage]:
    """`P:` name, `V:` version, `A:` arch, `o:` origin (the source package advisories name)."""
    packages: list[OsPackage] = []
    record: dict[str, str] = {}
    start = 0
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if not line.strip():
            if record:
                packages.append(_package(record, start))
            record = {}
            continue
        if len(line) < 2 or line[1] != ":":
            raise MalformedInput(f"expected 'X:value', got {line[:60]!r}", number)
        if not record:
            start = number
        record.setdefault(line[0], line[2:])
    return packages


def _package(record: dict[str, str], line: int) -> OsPackage:
    name, version = record.get("P", ""), record.get("V", "")
    if not name or not version:
        raise MalformedInput("record without P: (name) or V: (version)", line)
    return OsPackage(
        name=name,
        version=version,
        arch=record.get("A", ""),
        source_name=record.get("o", "") or name,
        line=line,
    )
