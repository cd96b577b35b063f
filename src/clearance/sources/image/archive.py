"""Containers that hold an image's blobs: a directory, or a tar archive (plain, gzip or zstd).

Nothing is extracted to disk. A plain tar is read with random access; a compressed one is read
as a stream, twice at most: once for the names and the small JSON members (manifests, configs;
`docker save` writes them *after* the layers), once more for the large layer blobs, in the order
they are stored. Member names are normalized; `..`, absolute paths and links that leave the
archive are refused.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from clearance.sources.image.model import ImageError, Limits
from clearance.sources.image.spec import compression_of
from clearance.sources.image.streams import (
    TAR_BUFFER,
    Budget,
    Readable,
    decompressed,
    read_capped,
    stream_errors,
)

_SMALL_KEEP_TOTAL = 64 * 1024**2
"""Compressed outer archives: small members kept in memory from the first pass, in total."""


class Container(Protocol):
    """Where the image's files live."""

    description: str

    def has(self, name: str) -> bool:
        """True if the archive holds a regular file (or a link to one) under `name`."""
        ...

    def read_small(self, name: str) -> bytes:
        """A small member (JSON metadata), capped."""
        ...

    def blobs(self, names: Sequence[str]) -> Iterator[tuple[tuple[str, ...], Readable]]:
        """Each stored blob once, as a raw (still compressed) stream, in the cheapest order, with
        the requested names that lead to it (two names may be links to one member)."""
        ...

    def close(self) -> None:
        """Release open files."""
        ...


def normalize_member(name: str, *, what: str) -> str:
    """`./a/b/` → `a/b`; refuses absolute names and `..` (ImageError)."""
    if name.startswith("/") or "\x00" in name:
        raise ImageError(f"{what}: member {name!r} has an absolute path; refusing the image")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ImageError(f"{what}: member {name!r} escapes the archive with '..'; refusing the image")
    return "/".join(parts)


def open_container(path: Path, limits: Limits, budget: Budget) -> Container:
    """A directory or a tar archive (by content, not by name)."""
    if path.is_dir():
        return DirContainer(path, limits)
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError as e:
        raise ImageError(f"cannot read {path}: {e.strerror}") from e
    kind = compression_of(head)
    if kind == "none":
        if not _is_tar_header(head):
            raise ImageError(f"{path} is not a tar archive, an OCI layout directory or a docker save tarball")
        return PlainTarContainer(path, limits)
    return StreamTarContainer(path, limits, budget)


def _is_tar_header(block: bytes) -> bool:
    return len(block) >= 262 and block[257:262] == b"ustar"


class DirContainer:
    """An OCI layout (or an unpacked docker save) directory. Symlinks must stay inside it."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self._real = root.resolve()
        self._limits = limits
        self.description = str(root)

    def _path(self, name: str) -> Path:
        rel = normalize_member(name, what=self.description)
        candidate = (self.root / rel).resolve()
        if candidate != self._real and self._real not in candidate.parents:
            raise ImageError(
                f"{self.description}: {name!r} resolves outside the image directory; refusing it"
            )
        return candidate

    def has(self, name: str) -> bool:
        """True for a regular file inside the directory."""
        try:
            return self._path(name).is_file()
        except ImageError:
            return False

    def read_small(self, name: str) -> bytes:
        """Read a capped metadata file."""
        try:
            with self._path(name).open("rb") as fh:
                return read_capped(fh, self._limits.max_metadata_bytes, f"{self.description}/{name}")
        except OSError as e:
            raise ImageError(f"cannot read {self.description}/{name}: {e.strerror}") from e

    def blobs(self, names: Sequence[str]) -> Iterator[tuple[tuple[str, ...], Readable]]:
        """Open each blob file in turn."""
        groups: dict[Path, list[str]] = {}
        for name in dict.fromkeys(names):
            groups.setdefault(self._path(name), []).append(name)
        for path, group in groups.items():
            try:
                with path.open("rb") as fh:
                    yield tuple(group), fh
            except OSError as e:
                raise ImageError(f"cannot read {self.description}/{group[0]}: {e.strerror}") from e

    def close(self) -> None:
        """Nothing stays open."""


class PlainTarContainer:
    """An uncompressed tar (what `docker save` writes): random access by member offset."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.description = str(path)
        self._limits = limits
        try:
            self._tar = tarfile.open(path, mode="r:")
        except (tarfile.TarError, OSError) as e:
            raise ImageError(f"{path} is not a readable tar archive: {e}") from e
        self._members: dict[str, tarfile.TarInfo] = {}
        try:
            for n, member in enumerate(self._tar):
                if n >= limits.max_members:
                    raise ImageError(f"{path} has more than {limits.max_members:,} members; refusing it")
                self._members[normalize_member(member.name, what=self.description)] = member
        except stream_errors() as e:
            raise ImageError(f"{path} is a corrupt tar archive: {e}") from e

    def _member(self, name: str) -> tarfile.TarInfo:
        key = normalize_member(name, what=self.description)
        for _ in range(8):
            member = self._members.get(key)
            if member is None:
                raise ImageError(f"{self.description} has no member {name!r}")
            if member.isreg():
                return member
            if member.issym() or member.islnk():
                base = posixpath.dirname(key) if member.issym() else ""
                key = _join_inside(base, member.linkname, self.description)
                continue
            raise ImageError(f"{self.description}: member {name!r} is not a regular file")
        raise ImageError(f"{self.description}: too many links resolving {name!r}")

    def has(self, name: str) -> bool:
        """True for a regular file (or a link to one)."""
        try:
            self._member(name)
        except ImageError:
            return False
        return True

    def read_small(self, name: str) -> bytes:
        """Read a capped metadata member."""
        with self._open(name) as fh:
            return read_capped(fh, self._limits.max_metadata_bytes, f"{self.description}:{name}")

    @contextmanager
    def _open(self, name: str) -> Iterator[IO[bytes]]:
        member = self._member(name)
        fh = self._tar.extractfile(member)
        if fh is None:  # pragma: no cover - isreg() members always extract
            raise ImageError(f"{self.description}: cannot read {name!r}")
        try:
            yield fh
        finally:
            fh.close()

    def blobs(self, names: Sequence[str]) -> Iterator[tuple[tuple[str, ...], Readable]]:
        """Each blob once, in archive order (sequential reads)."""
        groups: dict[int, list[str]] = {}
        for name in dict.fromkeys(names):
            groups.setdefault(self._member(name).offset_data, []).append(name)
        for offset in sorted(groups):
            with self._open(groups[offset][0]) as fh:
                yield tuple(groups[offset]), fh

    def close(self) -> None:
        """Close the archive file."""
        self._tar.close()


class StreamTarContainer:
    """A gzip- or zstd-compressed tar: read as a stream (no random access into compressed data)."""

    def __init__(self, path: Path, limits: Limits, budget: Budget) -> None:
        self.description = str(path)
        self._path = path
        self._limits = limits
        self._budget = budget
        self._names: set[str] = set()
        self._links: dict[str, str] = {}
        self._small: dict[str, bytes] = {}
        kept = 0
        try:
            for name, member, tar in self._stream():
                self._names.add(name)
                if member.issym() or member.islnk():
                    base = posixpath.dirname(name) if member.issym() else ""
                    self._links[name] = _join_inside(base, member.linkname, self.description)
                elif member.isreg() and member.size <= limits.max_metadata_bytes and kept < _SMALL_KEEP_TOTAL:
                    fh = tar.extractfile(member)
                    assert fh is not None
                    self._small[name] = fh.read()  # reads the compressed stream: may end early
                    kept += member.size
        except ImageError:
            raise
        except stream_errors() as e:
            raise ImageError(f"{self.description} is corrupt or truncated: {e}") from e

    def _stream(self) -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
        try:
            with self._path.open("rb") as raw:
                stream = decompressed(raw, self._budget)
                with tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFFER) as tar:  # type: ignore[call-overload]
                    for n, member in enumerate(tar):
                        if n >= self._limits.max_members:
                            raise ImageError(
                                f"{self.description} has more than {self._limits.max_members:,} members; refusing it"
                            )
                        yield normalize_member(member.name, what=self.description), member, tar
        except OSError as e:
            if isinstance(e, ImageError):
                raise
            raise ImageError(f"{self.description} is corrupt or truncated: {e}") from e
        except stream_errors() as e:
            raise ImageError(f"{self.description} is corrupt or truncated: {e}") from e

    def _resolve(self, name: str) -> str:
        key = normalize_member(name, what=self.description)
        for _ in range(8):
            if key in self._links:
                key = self._links[key]
                continue
            if key in self._names:
                return key
            raise ImageError(f"{self.description} has no member {name!r}")
        raise ImageError(f"{self.description}: too many links resolving {name!r}")

    def has(self, name: str) -> bool:
        """True for a member (or a link to one)."""
        try:
            self._resolve(name)
        except ImageError:
            return False
        return True

    def read_small(self, name: str) -> bytes:
        """A metadata member kept from the first pass."""
        key = self._resolve(name)
        if key not in self._small:
            raise ImageError(
                f"{self.description}: {name!r} is larger than {self._limits.max_metadata_bytes:,} bytes; refusing it"
            )
        return self._small[key]

    def blobs(self, names: Sequence[str]) -> Iterator[tuple[tuple[str, ...], Readable]]:
        """Blobs kept in memory first, then one more streaming pass for the rest."""
        wanted: dict[str, list[str]] = {}
        for name in dict.fromkeys(names):
            wanted.setdefault(self._resolve(name), []).append(name)
        for key in [k for k in wanted if k in self._small]:
            yield tuple(wanted.pop(key)), io.BytesIO(self._small[key])
        if not wanted:
            return
        for key, member, tar in self._stream():
            if key in wanted and member.isreg():
                fh = tar.extractfile(member)
                assert fh is not None
                yield tuple(wanted.pop(key)), fh
                if not wanted:
                    return
        if wanted:
            raise ImageError(f"{self.description}: blob {next(iter(wanted))!r} vanished between two reads")

    def close(self) -> None:
        """Drop the kept metadata."""
        self._small.clear()


def _join_inside(base: str, target: str, what: str) -> str:
    """A link target resolved against `base`, refused if it leaves the archive."""
    joined = posixpath.normpath(posixpath.join(base, target)) if not target.startswith("/") else target
    return normalize_member(joined, what=what)
