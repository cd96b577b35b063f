"""Is a scan target an image? The few checks every scan makes, without the image readers.

A pre-commit run or a PR gate names files and directories; deciding that they are not images
must not import the archive, layer and manifest readers (`image.py` and below), which load only
when a target is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clearance.sources.image.model import ImageFormat

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_PREFIXES = {"docker-archive:": "docker-archive", "oci:": "oci"}
"""Format prefixes and the `ImageFormat` value each names."""

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst")
"""File names that say "an image archive" when given as a scan target."""


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """What the user named: a path (maybe with a format prefix) or `docker:NAME`."""

    path: Path | None
    docker_name: str | None = None
    format: ImageFormat | None = None

    @property
    def text(self) -> str:
        """As typed, for messages."""
        return f"docker:{self.docker_name}" if self.docker_name else str(self.path)


def parse_spec(target: str) -> ImageSpec | None:
    """`docker:NAME`, `docker-archive:PATH`, `oci:PATH` → a spec; anything else → None (a path)."""
    if target.startswith("docker:"):
        name = target[len("docker:") :]
        if not name or name.startswith("-"):
            from clearance.sources.image.model import ImageError

            raise ImageError(f"{target!r}: expected docker:NAME[:TAG]")
        return ImageSpec(path=None, docker_name=name)
    for prefix, fmt in _PREFIXES.items():
        if target.startswith(prefix):
            from clearance.sources.image.model import ImageFormat

            return ImageSpec(path=Path(target[len(prefix) :]), format=ImageFormat(fmt))
    return None


def image_spec_for(target: Path) -> ImageSpec | None:
    """The image a scan target names, or None for a directory/file to scan as files.

    `docker:`, `docker-archive:` and `oci:` prefixes always name images; an OCI layout directory
    (`oci-layout` + `index.json`) is an image; a file that is an archive (tar, gzip, zstd) is read
    as an image — and refused with a clear error later if it holds no image, never scanned as
    an empty directory. A file named like an archive (`.tar`, `.tar.gz`, `.tgz`, `.tar.zst`) is
    read as one too, whatever its bytes: garbage or an empty file under that name is refused, not
    skipped as an unscanned binary while the gate passes.
    """
    spec = parse_spec(str(target))
    if spec is not None:
        return spec
    if target.is_dir():
        return ImageSpec(path=target) if is_oci_layout(target) else None
    if target.is_file() and (is_archive(target) or target.name.lower().endswith(ARCHIVE_SUFFIXES)):
        return ImageSpec(path=target)
    return None


def is_oci_layout(path: Path) -> bool:
    """True for an OCI image layout directory (`oci-layout` and `index.json`)."""
    return (path / "oci-layout").is_file() and (path / "index.json").is_file()


def compression_of(head: bytes) -> str:
    """`gzip`, `zstd` or `none` from the first bytes of a blob."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def is_archive(path: Path) -> bool:
    """True for a tar (by its header), gzip or zstd file (by magic bytes)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    return compression_of(head) != "none" or (len(head) >= 262 and head[257:262] == b"ustar")
