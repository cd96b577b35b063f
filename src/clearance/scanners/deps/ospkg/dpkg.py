"""dpkg's database: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*` (deb822 paragraphs)."""

from __future__ import annotations

from clearance.errors import MalformedInput
from clearance.scanners.deps.ospkg.packages import OsPackage

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"


def is_dpkg_db(path: str) -> bool:
    """The status file, or one file of the distroless status.d directory (not its .md5sums)."""
    if path == STATUS:
        return True
    return path.startswith(STATUS_D) and "/" not in path[len(STATUS_D) :] and not path.endswith(".md5sums")


def parse_status(text: str) -> list[OsPackage]:
    """Installed packages (`Status: … installed`; status.d files have no Status and are installed)."""
    packages = []
    for fields, line in _paragraphs(text):
        name = fields.get("package", "")
        version = fields.get("version", "")
        if not name:
            continue
        if not version:
            raise MalformedInput(f"package {name!r} has no Version", line)
        status = fields.get("status")
        if status is not None and status.split()[-1:] != ["installed"]:
            continue
        source_name, source_version = name, version
        source = fields.get("source", "")
        if source:
            src, _, rest = source.partition(" ")
            source_name = src.strip()
            rest = rest.strip()
            if rest.startswith("(") and rest.endswith(")"):
                source_version = rest[1:-1].strip()
        packages.append(
            OsPackage(
                name=name,
                version=version,
                arch=fields.get("architecture", ""),
                source_name=source_name,
                source_version=source_version,
                line=line,
            )
        )
    return packages


def _paragraphs(text: str) -> list[tuple[dict[str, str], int]]:
    out: list[tuple[dict[str, str], int]] = []
    fields: dict[str, str] = {}
    start = 0
    key = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            if fields:
                out.append((fields, start))
            fields, key = {}, ""
            continue
        if raw[0] in " \t":
            if not key:
                raise MalformedInput("continuation line outside a field", number)
            continue  # multi-line values (Description, Conffiles) are not needed
        name, sep, value = raw.partition(":")
        if not sep:
            raise MalformedInput(f"expected 'Field: value', got {raw[:60]!r}", number)
        if not fields:
            start = number
        key = name.strip().lower()
        fields[key] = value.strip()
    if fields:
        out.append((fields, start))
    return out
