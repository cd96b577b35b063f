"""Container images as a scan target: docker save archives and OCI layouts, read without a daemon.

Public surface: `parse_spec`/`looks_like_image` (is this target an image?), `open_image` (a
context manager giving an `Image`), `Image.walk(sink)` (stream every layer once, returning a
`FileSystem` with the per-layer entries and the squashed view), and the types in `model`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clearance.sources.image.image import (
        Image,
        detect_format,
        looks_like_image,
        open_image,
    )
    from clearance.sources.image.layers import (
        ContentSink,
        FileSystem,
        LinkError,
    )
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
    from clearance.sources.image.spec import (
        ImageSpec,
        image_spec_for,
        parse_spec,
    )

_HOME = {
    "Image": "image",
    "detect_format": "image",
    "looks_like_image": "image",
    "open_image": "image",
    "ImageSpec": "spec",
    "image_spec_for": "spec",
    "parse_spec": "spec",
    "ContentSink": "layers",
    "FileSystem": "layers",
    "LinkError": "layers",
    "EntryKind": "model",
    "HistoryStep": "model",
    "ImageConfig": "model",
    "ImageError": "model",
    "ImageFormat": "model",
    "ImageIdentity": "model",
    "Layer": "model",
    "LayerEntry": "model",
    "Limits": "model",
}
"""Where each public name lives: a scan of files asks only `spec` (is this target an image?);
the readers load on first use of a name that needs them."""


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


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
