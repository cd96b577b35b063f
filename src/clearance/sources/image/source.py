"""The image as a scan source: every layer's text files for the file scanners (secrets), and the
image facts (identity, config, layers, squashed view) for the package inventory and image rules.

Files keep the path inside the image and the layer that holds that copy (`SourceFile.layer`),
so a key added in one layer and deleted in a later one is still found, and reported with the
layer that holds it. Binary files, files above `max_file_size`, ignored paths and the pseudo
file systems (`proc/`, `sys/`, `dev/`) are not handed to scanners.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from clearance.model import Component, ScanError, SkippedFile, Target
from clearance.sources.base import SourceFile
from clearance.sources.files import WalkResult
from clearance.sources.ignore import IgnoreRules, compile_rules, is_ignored
from clearance.sources.image.image import open_image
from clearance.sources.image.layers import ContentSink, FileSystem
from clearance.sources.image.model import ImageConfig, ImageIdentity, Layer, LayerEntry, Limits
from clearance.sources.image.spec import ImageSpec

_PSEUDO = ("proc/", "sys/", "dev/")
_BINARY_PROBE = 8000


@dataclass(frozen=True)
class ImageContext:
    """What scanners know about an image target (passed in `ScanContext.image`)."""

    identity: ImageIdentity
    config: ImageConfig
    layers: tuple[Layer, ...]
    fs: FileSystem
    components: tuple[Component, ...] = ()
    """The package inventory of the squashed view (filled by the pipeline's inventory step)."""
    inventory_errors: tuple[ScanError, ...] = ()
    inventory_warnings: tuple[str, ...] = ()
    distro: str = ""
    """`PRETTY_NAME` of os-release, or "" when unknown."""

    def layer(self, diff_id: str | None) -> Layer | None:
        """The layer with this diff_id."""
        return next((layer for layer in self.layers if layer.diff_id == diff_id), None)


class InventoryResult(Protocol):
    """What a package inventory found in the squashed view."""

    @property
    def components(self) -> tuple[Component, ...]:
        """Packages, located by path and layer."""
        ...

    @property
    def errors(self) -> tuple[ScanError, ...]:
        """Package data that could not be read."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """Notices for every report (e.g. a release without advisory data)."""
        ...

    @property
    def distro_name(self) -> str:
        """The distribution's name, or ""."""
        ...


class PackageInventory(ContentSink, Protocol):
    """A sink that inventories packages while the layers stream (`scanners/deps/ospkg`)."""

    def components(self, fs: FileSystem) -> InventoryResult:
        """The packages the squashed view shows."""
        ...


class ImageSource:
    """A `Source` over a container image (docker save archive, OCI layout, docker:NAME).

    `inventory` (the pipeline passes `scanners.deps.ospkg.ImageInventory`) sees the same single
    stream; its result is in `context` after `collect`."""

    def __init__(
        self,
        spec: ImageSpec,
        *,
        platform: str | None = None,
        inventory: PackageInventory | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.spec = spec
        self.platform = platform
        self.inventory = inventory
        self.limits = limits or Limits()
        self.context: ImageContext | None = None

    def collect(self, ignore: list[str], max_file_size: int) -> WalkResult:
        """Stream the image once: text files of every layer for the scanners, packages for the inventory."""
        warnings: list[str] = []
        rules = compile_rules("", ignore, "configuration `ignore`", warnings) if ignore else None
        files = _LayerFiles(max_file_size, [rules] if rules is not None else [])
        sinks: list[ContentSink] = [files] if self.inventory is None else [files, self.inventory]
        with open_image(self.spec, platform=self.platform, limits=self.limits) as image:
            fs = image.walk(_Tee(sinks))
            context = ImageContext(image.identity, image.config, image.layers, fs)
        if self.inventory is not None:
            found = self.inventory.components(fs)
            context = dataclasses.replace(
                context,
                components=found.components,
                inventory_errors=found.errors,
                inventory_warnings=found.warnings,
                distro=found.distro_name,
            )
        self.context = context
        files.result.warnings.extend(warnings)
        return files.result

    def target(self) -> Target:
        """`image`, named by its source and its config digest (the evidence subject)."""
        if self.context is None:
            return Target(kind="image", path=self.spec.text)
        return image_target(self.spec.text, self.context.identity, self.context.layers)

    kind = "image"

    def change(self) -> None:
        """Images have no PR mode."""
        return None

    def boundary(self) -> tuple[str, ...]:
        """An image scan is relative to nothing."""
        return ()


def image_target(source: str, identity: ImageIdentity, layers: Sequence[Layer]) -> Target:
    """The `Target` of an image scan: its source, config digest, manifest digest, tag and layers."""
    return Target(
        kind="image",
        path=source,
        digest=identity.config_digest,
        manifest_digest=identity.manifest_digest,
        name=identity.name,
        layers=tuple(layer.diff_id for layer in layers),
    )


@dataclass
class _LayerFiles:
    """Keeps the text files of every layer as in-memory `SourceFile`s."""

    max_file_size: int
    rules: list[IgnoreRules]
    result: WalkResult = field(default_factory=WalkResult)

    def wants(self, path: str, size: int, mode: int) -> bool:
        if path.startswith(_PSEUDO):
            return False
        if self.rules and is_ignored(self.rules, path, is_dir=False):
            self.result.skipped.append(SkippedFile(path, "ignored"))
            return False
        if size > self.max_file_size:
            self.result.skipped.append(SkippedFile(path, f"larger than max_file_size ({size:,} bytes)"))
            return False
        return True

    def file(self, layer: Layer, entry: LayerEntry, data: bytes) -> None:
        if b"\x00" in data[:_BINARY_PROBE]:
            return  # binary: not text for the file scanners (the inventory reads what it needs)
        self.result.files.append(SourceFile(path=entry.path, size=len(data), data=data, layer=layer.diff_id))


class _Tee:
    """Several sinks over one stream: a file is read if any wants it, and given to those that do."""

    def __init__(self, sinks: Sequence[ContentSink]) -> None:
        self._sinks = sinks
        self._wanting: list[ContentSink] = []

    def wants(self, path: str, size: int, mode: int) -> bool:
        self._wanting = [s for s in self._sinks if s.wants(path, size, mode)]
        return bool(self._wanting)

    def file(self, layer: Layer, entry: LayerEntry, data: bytes) -> None:
        for sink in self._wanting:
            sink.file(layer, entry, data)
