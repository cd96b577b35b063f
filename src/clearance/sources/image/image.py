"""Open an image: find its manifest and config, name it by digest, and stream its layers.

Formats (detected from the content when no prefix is given):
- `docker save` archives: `manifest.json` first; Docker ≥ 25 also writes an OCI `index.json`,
  which is the fallback when `manifest.json` is missing.
- OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as a directory or a tar
  (plain, gzip or zstd); nested indexes are followed, a multi-platform index is narrowed by
  `--platform` (default: the host's platform, then the only one).
- `docker:NAME[:TAG]`: `docker save` into a private temporary file, then read as above.
"""

from __future__ import annotations

import hashlib
import json
import platform as host
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance.sources.image.archive import Container, open_container
from clearance.sources.image.layers import ContentSink, Counter, FileSystem, read_layer
from clearance.sources.image.model import (
    HistoryStep,
    ImageConfig,
    ImageError,
    ImageFormat,
    ImageIdentity,
    Layer,
    Limits,
)
from clearance.sources.image.spec import (
    ImageSpec,
    is_oci_layout,
)
from clearance.sources.image.streams import Budget

_INDEX_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)
_DIGEST = re.compile(r"^(sha256|sha512):[0-9a-f]{64,128}$")
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}


def looks_like_image(path: Path) -> bool:
    """True for an OCI layout directory, or an archive file that holds an image."""
    if path.is_dir():
        return is_oci_layout(path)
    return detect_format(path) is not None


def detect_format(path: Path, limits: Limits | None = None) -> ImageFormat | None:
    """The image format of an archive file, or None if it is a tar but not an image (or not a tar).
    Raises ImageError only for a file that cannot be read at all."""
    limits = limits or Limits()
    try:
        container = open_container(path, limits, Budget(limits.max_inflated_bytes, str(path)))
    except ImageError:
        return None
    try:
        return _format_of(container)
    finally:
        container.close()


def _format_of(container: Container) -> ImageFormat | None:
    if container.has("manifest.json"):
        return ImageFormat.DOCKER_ARCHIVE
    if container.has("index.json"):
        return ImageFormat.OCI
    return None


@contextmanager
def open_image(
    spec: ImageSpec, *, platform: str | None = None, limits: Limits | None = None
) -> Iterator[Image]:
    """Open the image named by `spec` (the docker temp file lives as long as the context)."""
    limits = limits or Limits()
    if spec.docker_name is not None:
        with _docker_save(spec.docker_name) as path:
            with _open_path(path, spec, platform, limits, source=spec.text) as image:
                yield image
        return
    assert spec.path is not None
    with _open_path(spec.path, spec, platform, limits, source=str(spec.path)) as image:
        yield image


@contextmanager
def _open_path(
    path: Path, spec: ImageSpec, platform: str | None, limits: Limits, source: str
) -> Iterator[Image]:
    if not path.exists():
        raise ImageError(
            f"{path} does not exist", hint="give a `docker save` tarball, an OCI layout or docker:NAME"
        )
    budget = Budget(limits.max_inflated_bytes, str(path))
    container = open_container(path, limits, budget)
    try:
        found = _format_of(container)
        if found is None:
            raise ImageError(
                f"{path} is an archive but not a container image (no manifest.json or index.json in it)",
                hint="clearance scans directories, git repositories and images; unpack other archives first",
            )
        if spec.format is ImageFormat.OCI and not container.has("index.json"):
            raise ImageError(f"{path} is not an OCI image layout (no index.json)")
        yield _load(
            container, found if spec.format is None else spec.format, platform, limits, budget, source
        )
    finally:
        container.close()


@contextmanager
def _docker_save(name: str) -> Iterator[Path]:
    docker = shutil.which("docker")
    if docker is None:
        raise ImageError(
            f"docker:{name} needs the docker CLI, which is not installed",
            hint=f"run `docker save {name} -o image.tar` where docker runs, then `clearance scan image.tar`",
        )
    with tempfile.TemporaryDirectory(prefix="clearance-image-") as tmp:
        out = Path(tmp) / "image.tar"
        try:
            proc = subprocess.run(
                [docker, "save", "--output", str(out), name],
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ImageError(f"`docker save {name}` could not run: {e}") from e
        if proc.returncode != 0:
            raise ImageError(
                f"`docker save {name}` failed: {proc.stderr.strip()[:500] or 'no message'}",
                hint="is the docker daemon running and the image pulled? Without a daemon, scan a saved tarball",
            )
        yield out


@dataclass
class Image:
    """An opened image: identity, config facts, layers; `walk()` streams the layers once."""

    identity: ImageIdentity
    config: ImageConfig
    layers: tuple[Layer, ...]
    limits: Limits
    _container: Container
    _budget: Budget

    def walk(self, sink: ContentSink) -> FileSystem:
        """Stream every layer once (in storage order), giving wanted content to `sink`."""
        counter = Counter(self.limits.max_members)
        by_blob: dict[str, list[Layer]] = {}
        for layer in self.layers:
            by_blob.setdefault(layer.blob, []).append(layer)
        entries: list[list[Any]] = [[] for _ in self.layers]
        for names, raw in self._container.blobs(list(by_blob)):
            sharing = [layer for name in names for layer in by_blob[name]]
            first = sharing[0]
            got = read_layer(
                first,
                raw,
                limits=self.limits,
                budget=self._budget,
                counter=counter,
                sink=sink,
                what=self.identity.source,
            )
            for layer in sharing:
                if layer.diff_id != first.diff_id:
                    raise ImageError(f"{self.identity.source}: one blob is listed with two diff_ids")
                entries[layer.index] = [e if layer is first else _moved(e, layer.index) for e in got]
        return FileSystem(layers=self.layers, entries=entries, limits=self.limits)


def _moved(entry: Any, index: int) -> Any:
    from dataclasses import replace

    return replace(entry, layer=index)


def _load(
    container: Container, fmt: ImageFormat, platform: str | None, limits: Limits, budget: Budget, source: str
) -> Image:
    if fmt is ImageFormat.DOCKER_ARCHIVE and container.has("manifest.json"):
        return _from_docker_manifest(container, platform, limits, budget, source)
    if container.has("index.json"):
        return _from_oci_index(container, fmt, platform, limits, budget, source)
    raise ImageError(f"{source}: neither manifest.json nor index.json is readable")


def _json(container: Container, name: str, source: str) -> Any:
    data = container.read_small(name)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"{source}: {name} is not valid JSON: {e}") from e


def _from_docker_manifest(
    container: Container, platform: str | None, limits: Limits, budget: Budget, source: str
) -> Image:
    manifest = _json(container, "manifest.json", source)
    if not isinstance(manifest, list) or not manifest or not all(isinstance(m, dict) for m in manifest):
        raise ImageError(f"{source}: manifest.json is not a list of images")
    candidates = []
    for entry in manifest:
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ImageError(f"{source}: a manifest.json entry lacks Config or Layers")
        config_bytes = container.read_small(config_name)
        candidates.append((entry, config_bytes, _parse_config(config_bytes, source)))
    entry, config_bytes, (config, diff_ids) = _choose(candidates, platform, source)
    layer_names = [str(n) for n in entry["Layers"]]
    tags = tuple(str(t) for t in entry.get("RepoTags") or () if isinstance(t, str))
    manifest_digest = _oci_manifest_digest(container, config_bytes, source)
    identity = ImageIdentity(
        config_digest="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        manifest_digest=manifest_digest,
        repo_tags=tags,
        repo_digests=(),
        format=ImageFormat.DOCKER_ARCHIVE,
        source=source,
    )
    layers = _layers(layer_names, diff_ids, [""] * len(layer_names), config, source)
    return Image(identity, config, layers, limits, container, budget)


def _oci_manifest_digest(container: Container, config_bytes: bytes, source: str) -> str | None:
    """Docker ≥ 25 archives also carry index.json: the manifest whose config is ours names the image."""
    if not container.has("index.json"):
        return None
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    try:
        for descriptor, manifest in _manifests(container, _json(container, "index.json", source), source, 0):
            if isinstance(manifest.get("config"), dict) and manifest["config"].get("digest") == config_digest:
                return str(descriptor["digest"])
    except ImageError:
        return None
    return None


def _from_oci_index(
    container: Container, fmt: ImageFormat, platform: str | None, limits: Limits, budget: Budget, source: str
) -> Image:
    index = _json(container, "index.json", source)
    candidates = []
    for descriptor, manifest in _manifests(container, index, source, 0):
        config_desc = manifest.get("config")
        layer_descs = manifest.get("layers")
        if not isinstance(config_desc, dict) or not isinstance(layer_descs, list):
            continue  # attestation manifests and other artifacts
        config_bytes = _blob(container, config_desc, source)
        parsed = _parse_config(config_bytes, source)
        candidates.append(((descriptor, manifest), config_bytes, parsed))
    if not candidates:
        raise ImageError(f"{source}: index.json names no image manifest")
    (descriptor, manifest), config_bytes, (config, diff_ids) = _choose(candidates, platform, source)
    layer_descs = [d for d in manifest["layers"] if isinstance(d, dict)]
    names = [_blob_name(d, source) for d in layer_descs]
    annotations = descriptor.get("annotations") or {}
    tags = tuple(
        str(annotations[k])
        for k in ("io.containerd.image.name", "org.opencontainers.image.ref.name")
        if isinstance(annotations.get(k), str)
    )
    identity = ImageIdentity(
        config_digest="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        manifest_digest=str(descriptor["digest"]),
        repo_tags=tags,
        repo_digests=(),
        format=fmt if fmt is ImageFormat.DOCKER_ARCHIVE else ImageFormat.OCI,
        source=source,
    )
    media = [str(d.get("mediaType", "")) for d in layer_descs]
    layers = _layers(names, diff_ids, media, config, source)
    return Image(identity, config, layers, limits, container, budget)


def _manifests(
    container: Container, index: Any, source: str, depth: int
) -> Iterator[tuple[dict[str, Any], Any]]:
    if depth > 4:
        raise ImageError(f"{source}: image indexes nested too deep")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise ImageError(f"{source}: an image index has no manifests list")
    for descriptor in index["manifests"]:
        if not isinstance(descriptor, dict):
            continue
        data = _blob(container, descriptor, source)
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise ImageError(f"{source}: manifest {descriptor.get('digest')} is not JSON: {e}") from e
        if not isinstance(doc, dict):
            continue
        if descriptor.get("mediaType") in _INDEX_TYPES or doc.get("mediaType") in _INDEX_TYPES:
            yield from _manifests(container, doc, source, depth + 1)
        else:
            yield descriptor, doc


def _blob_name(descriptor: dict[str, Any], source: str) -> str:
    digest = descriptor.get("digest")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ImageError(f"{source}: descriptor with an invalid digest {digest!r}")
    alg, hexdigest = digest.split(":", 1)
    return f"blobs/{alg}/{hexdigest}"


def _blob(container: Container, descriptor: dict[str, Any], source: str) -> bytes:
    """A small blob (manifest, config), checked against its descriptor's digest."""
    name = _blob_name(descriptor, source)
    data = container.read_small(name)
    alg, expected = str(descriptor["digest"]).split(":", 1)
    if hashlib.new(alg, data).hexdigest() != expected:
        raise ImageError(f"{source}: {name} does not match its digest; the layout was altered")
    return data


def _parse_config(data: bytes, source: str) -> tuple[ImageConfig, list[str]]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"{source}: the image config is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ImageError(f"{source}: the image config is not an object")
    rootfs = doc.get("rootfs") if isinstance(doc.get("rootfs"), dict) else {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and _DIGEST.match(d) for d in diff_ids):
        raise ImageError(f"{source}: the image config has no valid rootfs.diff_ids")
    inner = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    assert isinstance(inner, dict)
    steps: list[HistoryStep] = []
    layer_no = 0
    for item in doc.get("history") or ():
        if not isinstance(item, dict):
            continue
        empty = bool(item.get("empty_layer"))
        steps.append(
            HistoryStep(
                created_by=str(item.get("created_by") or ""),
                empty_layer=empty,
                layer=None if empty else layer_no,
            )
        )
        if not empty:
            layer_no += 1
    labels = inner.get("Labels") if isinstance(inner.get("Labels"), dict) else {}
    assert isinstance(labels, dict)
    config = ImageConfig(
        os=str(doc.get("os") or ""),
        architecture=str(doc.get("architecture") or ""),
        variant=str(doc.get("variant") or ""),
        user=str(inner.get("User") or ""),
        env=tuple(str(e) for e in inner.get("Env") or () if isinstance(e, str)),
        exposed_ports=tuple(sorted(str(p) for p in (inner.get("ExposedPorts") or {}))),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        history=tuple(steps),
        created=str(doc.get("created") or ""),
    )
    return config, list(diff_ids)


def _choose(
    candidates: list[tuple[Any, bytes, tuple[ImageConfig, list[str]]]], platform: str | None, source: str
) -> tuple[Any, bytes, tuple[ImageConfig, list[str]]]:
    def matches(config: ImageConfig, wanted: str) -> bool:
        parts = wanted.split("/")
        return [config.os, config.architecture, config.variant][: len(parts)] == parts

    if platform:
        chosen = [c for c in candidates if matches(c[2][0], platform)]
        if not chosen:
            have = ", ".join(sorted({c[2][0].platform for c in candidates}))
            raise ImageError(f"{source} has no image for platform {platform} (it has: {have})")
        return chosen[0]
    if len(candidates) == 1:
        return candidates[0]
    hosted = f"linux/{_ARCH.get(host.machine().lower(), host.machine().lower())}"
    chosen = [c for c in candidates if matches(c[2][0], hosted)]
    if chosen:
        return chosen[0]
    have = ", ".join(sorted({c[2][0].platform for c in candidates}))
    raise ImageError(f"{source} holds several images ({have}); choose one with --platform")


def _layers(
    names: list[str], diff_ids: list[str], media: list[str], config: ImageConfig, source: str
) -> tuple[Layer, ...]:
    if len(names) != len(diff_ids):
        raise ImageError(f"{source}: {len(names)} layers but {len(diff_ids)} diff_ids in the config")
    made_by = {s.layer: s.created_by for s in config.history if s.layer is not None}
    return tuple(
        Layer(
            index=i,
            diff_id=diff_ids[i],
            blob=posixpath.normpath(names[i]),
            media_type=media[i],
            created_by=made_by.get(i, ""),
        )
        for i in range(len(names))
    )
