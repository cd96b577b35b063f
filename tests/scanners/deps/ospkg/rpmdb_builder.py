"""Build an rpmdb.sqlite in rpm's own layout: a `Packages(hnum, blob)` table of header blobs."""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from pathlib import Path

NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
INT32, STRING = 4, 6


def header_blob(tags: dict[int, str | int]) -> bytes:
    """An rpm header blob (index entries + data store), as rpm stores it in the database."""
    index = b""
    store = b""
    for tag in sorted(tags):
        value = tags[tag]
        if isinstance(value, int):
            while len(store) % 4:
                store += b"\0"
            index += struct.pack(">IIII", tag, INT32, len(store), 1)
            store += struct.pack(">I", value)
        else:
            index += struct.pack(">IIII", tag, STRING, len(store), 1)
            store += value.encode() + b"\0"
    return struct.pack(">II", len(tags), len(store)) + index + store


def rpmdb(packages: list[dict[int, str | int]]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rpmdb.sqlite"
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
        for tags in packages:
            con.execute("INSERT INTO Packages (blob) VALUES (?)", (header_blob(tags),))
        con.commit()
        con.close()
        return path.read_bytes()


ROCKY_PACKAGES: list[dict[int, str | int]] = [
    {
        NAME: "openssl-libs",
        VERSION: "3.0.7",
        RELEASE: "27.el9",
        EPOCH: 1,
        ARCH: "x86_64",
        SOURCERPM: "openssl-3.0.7-27.el9.src.rpm",
    },
    {NAME: "bash", VERSION: "5.1.8", RELEASE: "9.el9", ARCH: "x86_64", SOURCERPM: "bash-5.1.8-9.el9.src.rpm"},
    {NAME: "gpg-pubkey", VERSION: "350d275d", RELEASE: "6395f3a8"},
]
