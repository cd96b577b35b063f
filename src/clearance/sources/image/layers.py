"""Layer tars, streamed: member guards, whiteouts, the squashed view and link resolution.

`read_layer` streams one layer blob once (gzip, zstd or plain), refuses unsafe members,
verifies the layer's diff_id, and hands the content of the files a `ContentSink` asks for to
that sink (nothing else is kept: the index of entries is all that stays in memory).
`FileSystem` squashes the layers lowest to highest — `.wh.NAME` deletes NAME, `.wh..wh..opq`
hides what lower layers had in its directory — which is the view `docker run` shows, and
resolves symbolic links inside the image only (absolute targets start at the image root,
`..` stops at the root, at most `Limits.max_symlink_hops` links).
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from clearance.sources.image.archive import normalize_member
from clearance.sources.image.model import EntryKind, ImageError, Layer, LayerEntry, Limits
from clearance.sources.image.streams import TAR_BUFFER, Budget, Readable, decompressed, stream_errors

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class ContentSink(Protocol):
    """Decides which files' bytes are read, and receives them (one layer at a time)."""

    def wants(self, path: str, size: int, mode: int) -> bool:
        """True to receive this regular file's content."""
        ...

    def file(self, layer: Layer, entry: LayerEntry, data: bytes) -> None:
        """The content of one wanted file (hard links arrive with their target's bytes)."""
        ...


class LinkError(ImageError):
    """A symbolic link could not be resolved inside the image (loop, too deep)."""


@dataclass
class Counter:
    """Members read over the whole image, against the cap."""

    limit: int
    seen: int = 0

    def add(self, what: str) -> None:
        """Count one member; raises ImageError past the cap."""
        self.seen += 1
        if self.seen > self.limit:
            raise ImageError(f"{what} has more than {self.limit:,} members; refusing the image")


def read_layer(
    layer: Layer,
    raw: Readable,
    *,
    limits: Limits,
    budget: Budget,
    counter: Counter,
    sink: ContentSink,
    what: str,
) -> list[LayerEntry]:
    """Stream one layer, returning its entries; wanted content goes to `sink`."""
    hasher = hashlib.sha256()
    label = f"{what} layer {layer.index + 1} ({layer.short})"
    entries: list[LayerEntry] = []
    kept: dict[str, bytes] = {}
    try:
        stream = decompressed(raw, budget, hasher)
        with tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFFER) as tar:  # type: ignore[call-overload]
            for member in tar:
                counter.add(what)
                entry = _entry(member, layer.index, limits, label)
                if entry is None:
                    continue
                entries.append(entry)
                if entry.kind is EntryKind.FILE and sink.wants(entry.path, entry.size, entry.mode):
                    fh = tar.extractfile(member)
                    assert fh is not None
                    data = fh.read()
                    if len(data) != entry.size:
                        raise ImageError(f"{label}: {entry.path!r} is truncated")
                    kept[entry.path] = data
                    sink.file(layer, entry, data)
                elif (
                    entry.kind is EntryKind.HARDLINK
                    and entry.link in kept
                    and sink.wants(entry.path, 0, entry.mode)
                ):
                    sink.file(layer, entry, kept[entry.link])
        stream.drain()
    except ImageError:
        raise
    except stream_errors() as e:
        raise ImageError(f"{label} is corrupt or truncated: {e}") from e
    digest = "sha256:" + hasher.hexdigest()
    if layer.diff_id and digest != layer.diff_id:
        raise ImageError(
            f"{label}: content digest {digest} does not match the config's diff_id {layer.diff_id}; "
            "the image was altered after it was built, refusing it"
        )
    return entries


def _entry(member: tarfile.TarInfo, index: int, limits: Limits, label: str) -> LayerEntry | None:
    path = normalize_member(member.name, what=label)
    if not path:
        return None  # the root directory itself
    if member.size > limits.max_member_bytes:
        raise ImageError(
            f"{label}: member {path!r} declares {member.size:,} bytes, more than the "
            f"{limits.max_member_bytes:,}-byte cap; refusing the image"
        )
    directory, base = posixpath.split(path)
    if base == OPAQUE_MARKER:
        return LayerEntry(path=directory, layer=index, kind=EntryKind.OPAQUE)
    if base.startswith(WHITEOUT_PREFIX):
        return LayerEntry(
            path=posixpath.join(directory, base[len(WHITEOUT_PREFIX) :]), layer=index, kind=EntryKind.WHITEOUT
        )
    common = {"path": path, "layer": index, "mode": member.mode, "uid": member.uid}
    if member.isreg():
        return LayerEntry(kind=EntryKind.FILE, size=member.size, **common)  # type: ignore[arg-type]
    if member.isdir():
        return LayerEntry(kind=EntryKind.DIR, **common)  # type: ignore[arg-type]
    if member.issym():
        return LayerEntry(kind=EntryKind.SYMLINK, link=member.linkname, **common)  # type: ignore[arg-type]
    if member.islnk():
        target = normalize_member(member.linkname, what=label)
        return LayerEntry(kind=EntryKind.HARDLINK, link=target, **common)  # type: ignore[arg-type]
    return LayerEntry(kind=EntryKind.OTHER, **common)  # type: ignore[arg-type]


@dataclass
class FileSystem:
    """Every layer's entries, and the squashed view over them."""

    layers: Sequence[Layer]
    entries: list[list[LayerEntry]]
    limits: Limits = field(default_factory=Limits)
    _squashed: dict[str, LayerEntry] | None = None

    def squashed(self) -> dict[str, LayerEntry]:
        """path → the entry `docker run` would show (whiteouts and opaque markers applied)."""
        if self._squashed is None:
            self._squashed = _squash(self.entries)
        return self._squashed

    def visible(self, layer: int, path: str) -> bool:
        """True if `path` as written by `layer` is what the squashed view shows."""
        entry = self.squashed().get(path)
        return entry is not None and entry.layer == layer

    def resolve(self, path: str) -> LayerEntry | None:
        """The squashed entry at `path` after following symbolic links (and hard links) inside the
        image; None if nothing is there. Raises LinkError on a loop or too many links."""
        view = self.squashed()
        hops = 0
        pending = [p for p in path.split("/") if p not in ("", ".")]
        done: list[str] = []
        while pending:
            part = pending.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            current = "/".join([*done, part])
            entry = view.get(current)
            if entry is not None and entry.kind is EntryKind.SYMLINK:
                hops += 1
                if hops > self.limits.max_symlink_hops:
                    raise LinkError(
                        f"too many symbolic links (a loop?) resolving /{path} in the image; "
                        f"gave up after {self.limits.max_symlink_hops}"
                    )
                target = [p for p in entry.link.split("/") if p not in ("", ".")]
                if entry.link.startswith("/"):
                    done = []
                pending = target + pending
                continue
            done.append(part)
        final = "/".join(done)
        entry = view.get(final)
        if entry is not None and entry.kind is EntryKind.HARDLINK:
            return view.get(entry.link, entry)
        return entry


def _squash(per_layer: list[list[LayerEntry]]) -> dict[str, LayerEntry]:
    """Top-down: an entry is visible unless a higher layer replaced it, deleted it (or an
    ancestor), made an ancestor opaque, or replaced an ancestor directory with a non-directory."""
    seen: dict[str, LayerEntry] = {}
    deleted: set[str] = set()
    opaque: set[str] = set()
    for entries in reversed(per_layer):
        layer_whiteouts: list[str] = []
        layer_opaque: list[str] = []
        for entry in reversed(entries):  # within one tar the last member wins
            if entry.kind is EntryKind.WHITEOUT:
                layer_whiteouts.append(entry.path)
                continue
            if entry.kind is EntryKind.OPAQUE:
                layer_opaque.append(entry.path)
                continue
            if entry.path in seen or _hidden(entry.path, seen, deleted, opaque):
                continue
            seen[entry.path] = entry
        deleted.update(layer_whiteouts)
        opaque.update(layer_opaque)
    return seen


def _hidden(path: str, seen: dict[str, LayerEntry], deleted: set[str], opaque: set[str]) -> bool:
    if path in deleted:
        return True
    end = path.find("/")
    while end != -1:
        ancestor = path[:end]
        if ancestor in deleted or ancestor in opaque:
            return True
        above = seen.get(ancestor)
        if above is not None and above.kind is not EntryKind.DIR:
            return True
        end = path.find("/", end + 1)
    return False
