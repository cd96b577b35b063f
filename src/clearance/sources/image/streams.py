"""Byte streams with a budget: transparent gzip/zstd decompression and an inflated-size cap.

Every decompressed byte of an image is counted against one `Budget`, so a gzip or zstd bomb
stops with a clear `ImageError` instead of filling memory or running forever.
"""

from __future__ import annotations

import gzip
import zlib
from typing import IO, Protocol

from clearance.sources.image.model import ImageError
from clearance.sources.image.spec import compression_of

_PEEK = 4
TAR_BUFFER = 64 * 1024
"""Read size of streamed tars: tarfile's default (10 KiB) makes a Python call per 10 KiB."""


class Readable(Protocol):
    """Anything with `read(size)`."""

    def read(self, size: int = -1, /) -> bytes:
        """Read up to `size` bytes."""
        ...


class Budget:
    """Counts decompressed bytes over a whole image and refuses to go past the cap."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.used = 0
        self.what = what

    def take(self, n: int) -> None:
        """Account for `n` more bytes; raises ImageError past the cap."""
        self.used += n
        if self.used > self.limit:
            raise ImageError(
                f"{self.what} inflates to more than {self.limit:,} bytes; refusing it "
                "(a decompression bomb, or an image larger than the configured cap)",
                hint="if the image is genuinely this large, raise the limit in code (sources/image/model.py Limits)",
            )


class CountingReader:
    """Wraps a stream; every byte read is taken from the budget (and optionally hashed)."""

    def __init__(self, inner: Readable, budget: Budget, hasher: _Hasher | None = None) -> None:
        self._inner = inner
        self._budget = budget
        self._hasher = hasher

    def read(self, size: int = -1, /) -> bytes:
        """Read up to `size` bytes (the whole rest when negative)."""
        data = self._inner.read(size)
        if data:
            self._budget.take(len(data))
            if self._hasher is not None:
                self._hasher.update(data)
        return data

    def drain(self, chunk: int = 1 << 20) -> None:
        """Read to the end (so a hash covers every byte)."""
        while self.read(chunk):
            pass


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class _Prefixed:
    """A stream whose first bytes were already peeked."""

    def __init__(self, head: bytes, inner: Readable) -> None:
        self._head = head
        self._inner = inner

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._inner.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._inner.read(size - len(data))
            return data
        return self._inner.read(size)


def decompressed(raw: Readable, budget: Budget, hasher: _Hasher | None = None) -> CountingReader:
    """`raw` decompressed according to its magic bytes, counted against `budget`."""
    head = raw.read(_PEEK)
    stream: Readable = _Prefixed(head, raw)
    kind = compression_of(head)
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[call-overload]
    elif kind == "zstd":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)  # type: ignore[arg-type]
    return CountingReader(stream, budget, hasher)


STREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, ValueError)
"""What a corrupt or truncated compressed stream raises (zstandard raises ZstdError, a ValueError... or not)."""


def stream_errors() -> tuple[type[BaseException], ...]:
    """What reading a corrupt tar, gzip or zstd stream raises (STREAM_ERRORS, TarError, ZstdError)."""
    import tarfile

    import zstandard

    return (*STREAM_ERRORS, tarfile.TarError, zstandard.ZstdError)


def read_capped(stream: IO[bytes] | Readable, cap: int, what: str) -> bytes:
    """Read a whole member that must be small (JSON metadata), refusing more than `cap` bytes."""
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise ImageError(f"{what} is larger than {cap:,} bytes; refusing it")
    return data
