"""Build a large, realistic `docker save` archive from files already on this machine (stdlib only).

    python bench/images/make_large_image.py bench/.work/large-image.tar
    python bench/images/make_large_image.py --no-jars bench/.work/large-nojars.tar   # for trivy offline

The image is a Debian 12 filesystem assembled from the host's real package data: the host's own
dpkg status (every installed package) and os-release, shared libraries and binaries from /usr/lib,
Python distributions (dist-info directories with their code), Node packages (node_modules),
Java jars and Go binaries — spread over more than 20 layers, with a whiteout that deletes a file
holding a fake token in an upper layer (the secret must still be found in its layer). Layers are
uncompressed tars (as `docker save` writes them); the archive is deterministic for the same host
files (sorted entries, mtime 0, uid/gid 0). Nothing here is committed: it lives in bench/.work.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

LAYER_BYTES = 28 * 1024 * 1024
MIN_TOTAL = 520 * 1024 * 1024
FAKE_TOKEN = "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"


def main(out: Path, jars: bool = True) -> None:
    groups = [(label, files) for label, files in _groups() if jars or label != "jars"]
    layers: list[bytes] = []
    history: list[dict[str, str]] = []
    for label, files in groups:
        for chunk in _chunks(files):
            layers.append(_layer(chunk))
            history.append({"created_by": f"COPY {label} # bench/images/make_large_image.py"})
    layers.append(_layer_bytes({"srv/release.env": f"GITHUB_TOKEN={FAKE_TOKEN}\n".encode()}))
    history.append({"created_by": "COPY release.env /srv/ # buildkit"})
    layers.append(_layer_bytes({"srv/.wh.release.env": b""}))
    history.append({"created_by": "RUN /bin/sh -c rm /srv/release.env # buildkit"})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"User": "", "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
            "created": "2026-12-06T00:00:00Z",
            "history": history,
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers],
            },
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    out.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with tarfile.open(out, "w") as tar:
        _add(tar, config_name, config)
        for layer in layers:
            name = f"{hashlib.sha256(layer).hexdigest()}/layer.tar"
            _add(tar, name, layer)
            names.append(name)
        manifest = [{"Config": config_name, "RepoTags": ["bench/large:1"], "Layers": names}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    total = sum(len(x) for x in layers)
    print(
        f"wrote {out}: {len(layers)} layers, {total / 1e6:.0f} MB of layers, {out.stat().st_size / 1e6:.0f} MB file"
    )
    if total < MIN_TOTAL or len(layers) < 20:
        sys.exit("host files too small for the benchmark image")


def _groups() -> list[tuple[str, list[tuple[str, Path]]]]:
    """(label, [(path in image, host path)]) in layer order."""
    base = [
        ("etc/os-release", Path("/etc/os-release")),
        ("usr/lib/os-release", Path("/usr/lib/os-release")),
        ("etc/debian_version", Path("/etc/debian_version")),
        ("var/lib/dpkg/status", Path("/var/lib/dpkg/status")),
    ]
    libs = _tree(Path("/usr/lib/x86_64-linux-gnu"), "usr/lib/x86_64-linux-gnu", limit=230 * 1024 * 1024)
    python = _tree(
        Path(sys.base_prefix) / "lib/python3.11/site-packages", "usr/local/lib/python3.11/site-packages"
    )
    python += _tree(Path("/usr/lib/python3/dist-packages"), "usr/lib/python3/dist-packages")
    venv = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages"
    python += _tree(venv, "opt/app/.venv/lib/python3.11/site-packages", limit=150 * 1024 * 1024)
    node = _tree(Path("/usr/lib/node_modules"), "usr/lib/node_modules", limit=120 * 1024 * 1024)
    jars = [
        (f"usr/share/java/{p.name}", p) for p in sorted(Path("/usr/share/java").glob("*.jar")) if p.is_file()
    ]
    jetty = Path(
        "/usr/lib/google-cloud-sdk/platform/google_appengine/google/appengine/tools/java/jetty12/jetty-home/lib"
    )
    jars += [
        (f"opt/jetty/lib/{p.relative_to(jetty)}", p) for p in sorted(jetty.rglob("*.jar")) if p.is_file()
    ]
    for repo in (Path.home() / ".m2/repository", Path("/usr/share/maven-repo")):
        jars += [
            (f"opt/app/lib/{p.name}", p)
            for p in sorted(repo.rglob("*.jar"))
            if p.is_file() and not p.is_symlink()
        ]
    maven = Path("/usr/share/maven/lib")
    jars += [
        (f"usr/share/maven/lib/{p.name}", p)
        for p in sorted(maven.glob("*.jar"))
        if p.is_file() and not p.is_symlink()
    ]
    go = [
        (f"usr/local/bin/{name}", Path(os.path.realpath(f"/usr/bin/{name}")))
        for name in ("kubectl", "kpt", "gke-gcloud-auth-plugin")
        if Path(f"/usr/bin/{name}").exists()
    ]
    return [
        ("base", base),
        ("libs", libs),
        ("python", python),
        ("node", node),
        ("jars", jars),
        ("go", go),
    ]


def _tree(root: Path, prefix: str, limit: int | None = None) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    used = 0
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or "__pycache__" in path.parts:
            continue
        size = path.stat().st_size
        if limit is not None and used + size > limit:
            break
        used += size
        out.append((f"{prefix}/{path.relative_to(root).as_posix()}", path))
    return out


def _chunks(files: list[tuple[str, Path]]) -> list[list[tuple[str, Path]]]:
    chunks: list[list[tuple[str, Path]]] = [[]]
    size = 0
    for item in files:
        n = item[1].stat().st_size
        if chunks[-1] and size + n > LAYER_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += n
    return [c for c in chunks if c]


def _layer(files: list[tuple[str, Path]]) -> bytes:
    return _layer_bytes(
        {name: path.read_bytes() for name, path in files},
        modes={name: path.stat().st_mode & 0o755 for name, path in files},
    )


def _layer_bytes(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = (modes or {}).get(name, 0o644) or 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-jars"]
    main(Path(args[0] if args else "bench/.work/large-image.tar"), jars="--no-jars" not in sys.argv)
