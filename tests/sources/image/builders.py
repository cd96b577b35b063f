"""Build small, real-format images in memory for tests: layer tars, docker save archives, OCI layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Member:
    """One tar member: a file (data), a directory, a symlink or hard link (link), or a device."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    link: str = ""
    mode: int = 0o644
    size: int | None = None
    """Declared size when it must differ from len(data) (huge-member tests)."""


def layer_tar(members: list[Member]) -> bytes:
    """An uncompressed layer tar, deterministic."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = m.kind
            info.mode = m.mode
            info.mtime = 0
            if m.kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = m.link
                tar.addfile(info)
            elif m.kind == tarfile.REGTYPE:
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))
            else:
                tar.addfile(info)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ImageBuild:
    """Layers (uncompressed tars) plus config details."""

    layers: list[bytes]
    user: str = ""
    env: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] | None = None
    architecture: str = "amd64"
    exposed: list[str] = field(default_factory=list)

    def config(self) -> bytes:
        history = self.history
        if history is None:
            history = [
                {"created_by": f"/bin/sh -c #(nop) ADD file:{i} in / "} for i in range(len(self.layers))
            ]
        doc = {
            "architecture": self.architecture,
            "os": "linux",
            "config": {
                "User": self.user,
                "Env": self.env,
                "ExposedPorts": {p: {} for p in self.exposed},
            },
            "created": "2026-01-01T00:00:00Z",
            "history": history,
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in self.layers]},
        }
        return json.dumps(doc, sort_keys=True).encode()


def _tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def docker_archive(
    build: ImageBuild, *, tag: str = "test/image:1", compress_layers: str | None = None
) -> bytes:
    """A legacy `docker save` tar: manifest.json, <config>.json, <n>/layer.tar."""
    config = build.config()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    files: dict[str, bytes] = {config_name: config}
    names = []
    for i, layer in enumerate(build.layers):
        blob = _compress(layer, compress_layers)
        name = f"layer{i}/layer.tar"
        files[name] = blob
        names.append(name)
    files["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
    ).encode()
    return _tar_of(files)


def oci_layout(builds: list[ImageBuild], *, compress_layers: str | None = "gzip") -> dict[str, bytes]:
    """The files of an OCI layout; several builds make a multi-platform index."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    descriptors = []
    for build in builds:
        config = build.config()
        files[f"blobs/sha256/{hashlib.sha256(config).hexdigest()}"] = config
        layer_descs = []
        for layer in build.layers:
            blob = _compress(layer, compress_layers)
            files[f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}"] = blob
            layer_descs.append(
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(blob),
                    "size": len(blob),
                }
            )
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config)},
                "layers": layer_descs,
            }
        ).encode()
        files[f"blobs/sha256/{hashlib.sha256(manifest).hexdigest()}"] = manifest
        descriptors.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(manifest),
                "size": len(manifest),
                "platform": {"os": "linux", "architecture": build.architecture},
            }
        )
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": descriptors}).encode()
    return files


def write_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def tar_bytes(files: dict[str, bytes]) -> bytes:
    return _tar_of(files)


def _compress(data: bytes, how: str | None) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data
