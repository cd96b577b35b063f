"""Reading the files `verify` and signing are handed: regular files only, never more than a cap.

A bundle or key path comes from the command line and may be anything: `/dev/zero` (endless),
a FIFO (blocks forever), a directory. The file is opened non-blocking, checked to be a regular
file on the open descriptor (no race between check and read), and read up to its cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from clearance.errors import EvidenceError

MAX_KEY_BYTES = 64 * 1024
"""A PEM key is a few hundred bytes; anything above this is not a key."""


def read_regular(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is an EvidenceError."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise EvidenceError(f"cannot read {what} {path}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise EvidenceError(f"{what} {path} is not a regular file")
        if st.st_size > limit:
            raise EvidenceError(f"{what} {path} is larger than the {limit}-byte limit ({st.st_size} bytes)")
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise EvidenceError(f"{what} {path} is larger than the {limit}-byte limit")
        return b"".join(chunks)
    except OSError as e:
        raise EvidenceError(f"cannot read {what} {path}: {e.strerror}") from e
    finally:
        os.close(fd)
