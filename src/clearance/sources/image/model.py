"""Types of the image reader: identity, layers, config facts, layer entries and limits."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from clearance.errors import SourceError


class ImageError(SourceError):
    """An image could not be read, or is hostile (traversal, bomb, loop): the scan is incomplete (exit 3)."""


class ImageFormat(enum.StrEnum):
    """How the image is stored on disk."""

    DOCKER_ARCHIVE = "docker-archive"
    """`docker save` output: `manifest.json` (+ `index.json` from Docker 25 on)."""
    OCI = "oci"
    """An OCI image layout (`oci-layout`, `index.json`, `blobs/`), as a directory or a tarball."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep one hostile image bounded in time and memory."""

    max_members: int = 2_000_000
    """Members over every layer (and the outer archive)."""
    max_member_bytes: int = 8 * 1024**3
    """One file inside a layer."""
    max_inflated_bytes: int = 64 * 1024**3
    """Decompressed bytes read over the whole image."""
    max_metadata_bytes: int = 8 * 1024**2
    """One manifest, index or config JSON."""
    max_symlink_hops: int = 40
    """Symbolic links followed while resolving one path (as Linux's ELOOP)."""
    max_index_depth: int = 4
    """Nested OCI image indexes."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One filesystem layer, lowest first (`index` 0)."""

    index: int
    diff_id: str
    """`sha256:…` of the uncompressed layer tar (from the config's `rootfs.diff_ids`)."""
    blob: str
    """Where the layer lives in the archive (member name or blob path)."""
    media_type: str = ""
    created_by: str = ""
    """The history step that made the layer (`RUN …`, `COPY …`), when recorded."""

    @property
    def short(self) -> str:
        """`sha256:` plus the first 12 hex digits, for humans."""
        return self.diff_id[:19]


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One entry of the config's `history`."""

    created_by: str
    empty_layer: bool
    layer: int | None
    """Index of the layer this step produced (None for metadata-only steps)."""


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The facts of the image config that scanners and rules use."""

    os: str
    architecture: str
    variant: str
    user: str
    env: tuple[str, ...]
    exposed_ports: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    history: tuple[HistoryStep, ...]
    created: str

    @property
    def platform(self) -> str:
        """`os/arch[/variant]`."""
        tail = f"/{self.variant}" if self.variant else ""
        return f"{self.os}/{self.architecture}{tail}"


@dataclass(frozen=True, slots=True)
class ImageIdentity:
    """How the image is named: the config digest (image ID) is the one that binds evidence."""

    config_digest: str
    manifest_digest: str | None
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    format: ImageFormat
    source: str
    """The path (or `docker:NAME`) the image was read from."""

    @property
    def name(self) -> str:
        """The first tag, else the short image ID."""
        return self.repo_tags[0] if self.repo_tags else self.config_digest[:19]


class EntryKind(enum.StrEnum):
    """What one member of a layer tar is."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    WHITEOUT = "whiteout"
    """`.wh.NAME`: deletes NAME from the layers below."""
    OPAQUE = "opaque"
    """`.wh..wh..opq`: hides every lower entry in its directory."""
    OTHER = "other"
    """Device, fifo: never read."""


@dataclass(frozen=True, slots=True)
class LayerEntry:
    """One member of a layer, with a normalized path (no leading `/` or `./`)."""

    path: str
    layer: int
    kind: EntryKind
    size: int = 0
    mode: int = 0
    uid: int = 0
    link: str = ""
    """Symlink target (as written) or hard-link target (normalized path)."""
