"""rpm's database: `rpmdb.sqlite` (RHEL ≥ 9, Fedora ≥ 33, Rocky/Alma 9, Amazon Linux 2023).

The SQLite file is opened in memory (`sqlite3.Connection.deserialize`, read-only, no disk), and
each row's header blob is parsed here: an index of (tag, type, offset, count) entries and a data
store. BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases are reported as unsupported.
"""

from __future__ import annotations

import sqlite3
import struct

from clearance.errors import MalformedInput
from clearance.scanners.deps.ospkg.packages import OsPackage

SQLITE_PATHS = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
UNSUPPORTED_PATHS = {
    "var/lib/rpm/Packages": "BerkeleyDB",
    "usr/lib/sysimage/rpm/Packages": "BerkeleyDB",
    "var/lib/rpm/Packages.db": "NDB",
    "usr/lib/sysimage/rpm/Packages.db": "NDB",
}

_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_MAX_INDEX = 0xFFFF
_MAX_DATA = 256 * 1024 * 1024
_MAX_ROWS = 100_000


def parse_sqlite(data: bytes) -> list[OsPackage]:
    """Every package of an rpmdb.sqlite image (bytes), except the gpg-pubkey pseudo packages."""
    if not data.startswith(b"SQLite format 3\x00"):
        raise MalformedInput("not an SQLite database")
    con = sqlite3.connect(":memory:")
    try:
        con.deserialize(data)
        con.execute("PRAGMA query_only = ON")
        con.execute("PRAGMA trusted_schema = OFF")
        rows = con.execute(
            "SELECT hnum, blob FROM Packages ORDER BY hnum LIMIT ?", (_MAX_ROWS + 1,)
        ).fetchall()
    except sqlite3.Error as e:
        raise MalformedInput(f"cannot read the Packages table: {e}") from e
    finally:
        con.close()
    if len(rows) > _MAX_ROWS:
        raise MalformedInput(f"more than {_MAX_ROWS:,} packages")
    packages = []
    for hnum, blob in rows:
        if not isinstance(blob, bytes):
            raise MalformedInput(f"package row {hnum} has no header blob")
        tags = parse_header(blob, str(hnum))
        name = _text(tags.get(_NAME))
        if not name or name == "gpg-pubkey":
            continue
        version, release = _text(tags.get(_VERSION)), _text(tags.get(_RELEASE))
        epoch = tags.get(_EPOCH)
        epoch_text = str(epoch[0]) if isinstance(epoch, list) and epoch and isinstance(epoch[0], int) else ""
        source_name, source_version = _source(_text(tags.get(_SOURCERPM)))
        full = f"{version}-{release}" if release else version
        packages.append(
            OsPackage(
                name=name,
                version=full,
                arch=_text(tags.get(_ARCH)),
                source_name=source_name or name,
                source_version=source_version,
                epoch=epoch_text,
            )
        )
    return packages


def parse_header(blob: bytes, what: str) -> dict[int, str | list[str] | list[int]]:
    """The tags clearance reads from one header blob (bounds-checked)."""
    if len(blob) < 8:
        raise MalformedInput(f"header {what} is truncated")
    count, size = struct.unpack_from(">II", blob, 0)
    start = 8 + 16 * count
    if count > _MAX_INDEX or size > _MAX_DATA or start + size > len(blob):
        raise MalformedInput(f"header {what} has an impossible size")
    store = blob[start : start + size]
    wanted = {_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM}
    out: dict[int, str | list[str] | list[int]] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack_from(">IIII", blob, 8 + 16 * i)
        if tag not in wanted:
            continue
        if offset >= len(store):
            raise MalformedInput(f"header {what}: tag {tag} points outside the data")
        if kind == _INT32:
            if offset + 4 * n > len(store):
                raise MalformedInput(f"header {what}: tag {tag} overruns the data")
            out[tag] = list(struct.unpack_from(f">{n}I", store, offset))
        elif kind in (_STRING, _STRING_ARRAY, _I18NSTRING):
            end = store.find(b"\x00", offset)
            if end == -1:
                raise MalformedInput(f"header {what}: tag {tag} is not NUL-terminated")
            out[tag] = store[offset:end].decode("utf-8", "replace")
    return out


def _text(value: str | list[str] | list[int] | None) -> str:
    return value if isinstance(value, str) else ""


def _source(srpm: str) -> tuple[str, str]:
    """`openssl-3.0.7-27.el9.src.rpm` → (`openssl`, `3.0.7-27.el9`)."""
    if not srpm.endswith(".rpm"):
        return "", ""
    stem = srpm[: -len(".rpm")]
    stem = stem.rsplit(".", 1)[0] if stem.endswith((".src", ".nosrc")) else stem
    parts = stem.rsplit("-", 2)
    if len(parts) != 3:
        return "", ""
    return parts[0], f"{parts[1]}-{parts[2]}"
