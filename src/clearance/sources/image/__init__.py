"""Container images as a scan target: docker save archives and OCI layouts, read without a daemon.

Public surface: `parse_spec`/`looks_like_image` (is this target an image?), `open_image` (a
context manager giving an `Image`), `Image.walk(sink)` (stream every layer once, returning a
`FileSystem` with the per-layer entries and the squashed view), and the types in `model`.
"""

from __future__ import annotations

from clearance.sources.image.image import (
    Image,
    ImageSpec,
    detect_format,
    image_spec_for,
    looks_like_image,
    open_image,
    parse_spec,
)
from clearance.sources.image.layers import ContentSink, FileSystem, LinkError
from clearance.sources.image.model import (
    EntryKind,
    HistoryStep,
    ImageConfig,
    ImageError,
    ImageFormat,
    ImageIdentity,
    Layer,
    LayerEntry,
    Limits,
)

__all__ = [
    "ContentSink",
    "EntryKind",
    "FileSystem",
    "HistoryStep",
    "Image",
    "ImageConfig",
    "ImageError",
    "ImageFormat",
    "ImageIdentity",
    "ImageSpec",
    "Layer",
    "LayerEntry",
    "Limits",
    "LinkError",
    "detect_format",
    "image_spec_for",
    "looks_like_image",
    "open_image",
    "parse_spec",
]
