"""The image reader on the shared real images and on built (including hostile) images."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pytest
from sources.image.builders import (
    ImageBuild,
    Member,
    docker_archive,
    layer_tar,
    oci_layout,
    tar_bytes,
    write_dir,
)

from clearance.sources.image import (
    EntryKind,
    ImageError,
    ImageFormat,
    ImageSpec,
    Layer,
    LayerEntry,
    Limits,
    LinkError,
    detect_format,
    open_image,
    parse_spec,
)

DEBIAN_ID = "sha256:c94a7bdb6ec70e3043446f73b26bc93b076526e6b757e3e120a0dc71eb0cc2b5"
DEBIAN_LAYERS = [
    "sha256:e2d11bff76bb2b91680d18593cac4d99c0f1f3db8334c3816b2da52cbe907bb5",
    "sha256:b054b7c07528ca5e44c669599bfd5933de99c75c752915ff82087485aff3c365",
]


class Recorder:
    """A sink that keeps every regular file of every layer."""

    def __init__(self) -> None:
        self.files: dict[tuple[int, str], bytes] = {}

    def wants(self, path: str, size: int, mode: int) -> bool:
        return True

    def file(self, layer: Layer, entry: LayerEntry, data: bytes) -> None:
        self.files[(layer.index, entry.path)] = data


def _open(path: Path, **kw: object):  # type: ignore[no-untyped-def]
    return open_image(ImageSpec(path=path), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "config", "diff_id", "tag"),
    [
        (
            "alpine-310.tar.gz",
            "sha256:af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e",
            "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028",
            "alpine:3.10",
        ),
        (
            "alpine-311.tar.gz",
            "sha256:a187dde48cd289ac374ad8539930628314bc581a481cdb41409c9289419ddb72",
            "sha256:beee9f30bc1f711043e78d4a2be0668955d4b761d587d6f60c2c8dc081efb203",
            "alpine:3.11",
        ),
    ],
)
def test_alpine_identity(images: Path, name: str, config: str, diff_id: str, tag: str) -> None:
    with _open(images / name) as image:
        assert image.identity.config_digest == config
        assert image.identity.manifest_digest is None  # a legacy docker save carries none
        assert image.identity.repo_tags == (tag,)
        assert image.identity.format is ImageFormat.DOCKER_ARCHIVE
        assert [layer.diff_id for layer in image.layers] == [diff_id]
        assert image.config.platform == "linux/amd64"
        fs = image.walk(Recorder())
        assert fs.resolve("etc/alpine-release") is not None


@pytest.mark.parametrize("name", ["debian-bookworm-small.docker.tar.gz", "debian-bookworm-small.oci.tar.gz"])
def test_debian_squash_both_formats(images: Path, name: str) -> None:
    with _open(images / name) as image:
        assert image.identity.config_digest == DEBIAN_ID
        assert [layer.diff_id for layer in image.layers] == DEBIAN_LAYERS
        if name.endswith(".oci.tar.gz"):
            assert image.identity.format is ImageFormat.OCI
            assert image.identity.manifest_digest == (
                "sha256:053066fc6915187d73bb4b24fe2c8022c8ea33b30bd0f164c91a1f1e0ac432d5"
            )
            assert "clearance-test/debian-small:bookworm" in image.identity.repo_tags
        recorder = Recorder()
        fs = image.walk(recorder)
    view = fs.squashed()
    dist = "usr/local/lib/python3.11/dist-packages"
    # hidden by `.wh.Jinja2-2.10.dist-info` and by the opaque marker in node_modules
    assert f"{dist}/Jinja2-2.10.dist-info/METADATA" not in view
    assert "opt/app/node_modules/chalk/package.json" not in view
    assert f"{dist}/urllib3-1.26.4.dist-info/METADATA" in view
    assert view["var/lib/dpkg/status"].layer == 1
    # every layer's copy was still streamed (secrets in deleted files are reported)
    assert (0, f"{dist}/Jinja2-2.10.dist-info/METADATA") in recorder.files
    os_release = fs.resolve("etc/os-release")  # a relative symlink to ../usr/lib/os-release
    assert os_release is not None and os_release.path == "usr/lib/os-release"


def test_detect_format(images: Path, tmp_path: Path) -> None:
    assert detect_format(images / "alpine-310.tar.gz") is ImageFormat.DOCKER_ARCHIVE
    assert detect_format(images / "debian-bookworm-small.oci.tar.gz") is ImageFormat.OCI
    plain = tmp_path / "src.tar"
    plain.write_bytes(tar_bytes({"README.md": b"hello"}))
    assert detect_format(plain) is None
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    assert detect_format(text) is None


def test_spec_prefixes() -> None:
    spec = parse_spec("oci:/tmp/layout")
    assert spec is not None and spec.format is ImageFormat.OCI and spec.path == Path("/tmp/layout")
    spec = parse_spec("docker:alpine:3.10")
    assert spec is not None and spec.docker_name == "alpine:3.10"
    assert parse_spec("./repo") is None
    with pytest.raises(ImageError):
        parse_spec("docker:")


def test_tar_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "source.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes({"src/app.py": b"print(1)"})))
    with pytest.raises(ImageError, match="not a container image"), _open(path):
        pass


def test_docker_without_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with (
        pytest.raises(ImageError, match="docker CLI"),
        open_image(ImageSpec(path=None, docker_name="alpine")),
    ):
        pass


def _build(members: list[list[Member]], **kw: object) -> ImageBuild:
    return ImageBuild(layers=[layer_tar(m) for m in members], **kw)  # type: ignore[arg-type]


def test_whiteouts_opaque_and_replaced_directories(tmp_path: Path) -> None:
    build = _build(
        [
            [
                Member("app/keep.txt", b"a"),
                Member("app/gone.txt", b"b"),
                Member("data/x/old.txt", b"c"),
                Member("lib/sub/file.txt", b"d"),
            ],
            [
                Member("app/.wh.gone.txt"),
                Member("data/x/.wh..wh..opq"),
                Member("data/x/new.txt", b"e"),
                Member("lib", kind=tarfile.SYMTYPE, link="usr/lib"),
            ],
        ]
    )
    path = tmp_path / "img.tar"
    path.write_bytes(docker_archive(build))
    with _open(path) as image:
        fs = image.walk(Recorder())
    view = fs.squashed()
    assert set(view) >= {"app/keep.txt", "data/x/new.txt", "lib"}
    assert "app/gone.txt" not in view
    assert "data/x/old.txt" not in view
    assert "lib/sub/file.txt" not in view  # a directory replaced by a symlink hides its old content
    assert view["lib"].kind is EntryKind.SYMLINK


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
def test_oci_layout_directory_multi_platform(tmp_path: Path, compression: str | None) -> None:
    amd = _build([[Member("etc/arch", b"amd64")]], architecture="amd64")
    arm = _build([[Member("etc/arch", b"arm64")]], architecture="arm64")
    root = write_dir(tmp_path / "layout", oci_layout([amd, arm], compress_layers=compression))
    with open_image(ImageSpec(path=root), platform="linux/arm64") as image:
        recorder = Recorder()
        image.walk(recorder)
        assert recorder.files[(0, "etc/arch")] == b"arm64"
        assert image.identity.format is ImageFormat.OCI
    with pytest.raises(ImageError, match="no image for platform linux/s390x"):
        with open_image(ImageSpec(path=root), platform="linux/s390x"):
            pass


def test_symlink_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    build = _build(
        [
            [
                Member("etc/os-release", kind=tarfile.SYMTYPE, link="../a"),
                Member("a", kind=tarfile.SYMTYPE, link="b"),
                Member("b", kind=tarfile.SYMTYPE, link="/etc/os-release"),
            ]
        ]
    )
    path = tmp_path / "loop.tar"
    path.write_bytes(docker_archive(build))
    with _open(path) as image:
        fs = image.walk(Recorder())
    with pytest.raises(LinkError, match="too many symbolic links"):
        fs.resolve("etc/os-release")


def test_symlinks_do_not_leave_the_image(tmp_path: Path) -> None:
    build = _build(
        [
            [
                Member("etc/passwd", b"root:x:0:0"),
                Member("app/link", kind=tarfile.SYMTYPE, link="../../../../etc/passwd"),
            ]
        ]
    )
    path = tmp_path / "img.tar"
    path.write_bytes(docker_archive(build))
    with _open(path) as image:
        fs = image.walk(Recorder())
    entry = fs.resolve("app/link")  # `..` stops at the image root, as in a chroot
    assert entry is not None and entry.path == "etc/passwd"


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (Member("../../etc/cron.d/evil", b"x"), "escapes"),
        (Member("/etc/evil", b"x"), "absolute"),
    ],
)
def test_hostile_layer_members(tmp_path: Path, member: Member, message: str) -> None:
    path = tmp_path / "evil.tar"
    path.write_bytes(docker_archive(_build([[member]])))
    with pytest.raises(ImageError, match=message), _open(path) as image:
        image.walk(Recorder())


def test_hostile_outer_member(tmp_path: Path) -> None:
    path = tmp_path / "evil.tar"
    path.write_bytes(tar_bytes({"manifest.json": b"[]", "../escape": b"x"}))
    with pytest.raises(ImageError, match="escapes"), _open(path):
        pass


def test_huge_member(tmp_path: Path) -> None:
    path = tmp_path / "big.tar"
    path.write_bytes(docker_archive(_build([[Member("big.bin", b"\0" * 4096)]])))
    with pytest.raises(ImageError, match="cap"), _open(path, limits=Limits(max_member_bytes=1024)) as image:
        image.walk(Recorder())


def test_gzip_bomb_layer(tmp_path: Path) -> None:
    bomb = layer_tar([Member("zeros", b"\0" * (8 * 1024 * 1024))])
    path = tmp_path / "bomb.tar"
    path.write_bytes(docker_archive(ImageBuild(layers=[bomb]), compress_layers="gzip"))
    assert path.stat().st_size < 100_000
    with (
        pytest.raises(ImageError, match="inflates"),
        _open(path, limits=Limits(max_inflated_bytes=1024 * 1024)) as image,
    ):
        image.walk(Recorder())


def test_gzip_bomb_outer(tmp_path: Path) -> None:
    inner = docker_archive(ImageBuild(layers=[layer_tar([Member("zeros", b"\0" * (8 * 1024 * 1024))])]))
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(gzip.compress(inner))
    with (
        pytest.raises(ImageError, match="inflates"),
        _open(path, limits=Limits(max_inflated_bytes=1024 * 1024)),
    ):
        pass


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "many.tar"
    path.write_bytes(docker_archive(_build([[Member(f"f{i}", b"") for i in range(50)]])))
    with (
        pytest.raises(ImageError, match="more than 20 members"),
        _open(path, limits=Limits(max_members=20)) as image,
    ):
        image.walk(Recorder())


def test_truncated_layer(tmp_path: Path) -> None:
    good = layer_tar([Member("file", b"x" * 10_000)])
    build = ImageBuild(layers=[good])
    archive = docker_archive(build)
    # replace the layer with its first half, keeping the config's diff_id
    cut = tar_bytes({**_members(archive), "layer0/layer.tar": good[:5000]})
    path = tmp_path / "cut.tar"
    path.write_bytes(cut)
    with pytest.raises(ImageError), _open(path) as image:
        image.walk(Recorder())


def test_altered_layer_fails_the_diff_id_check(tmp_path: Path) -> None:
    build = _build([[Member("file", b"original")]])
    archive = _members(docker_archive(build))
    archive["layer0/layer.tar"] = layer_tar([Member("file", b"tampered")])
    path = tmp_path / "altered.tar"
    path.write_bytes(tar_bytes(archive))
    with pytest.raises(ImageError, match="does not match"), _open(path) as image:
        image.walk(Recorder())


def test_hard_link_content_and_devices(tmp_path: Path) -> None:
    build = _build(
        [
            [
                Member("bin/tool", b"#!/bin/sh\n"),
                Member("bin/alias", kind=tarfile.LNKTYPE, link="bin/tool"),
                Member("dev/null", kind=tarfile.CHRTYPE),
            ]
        ]
    )
    path = tmp_path / "links.tar"
    path.write_bytes(docker_archive(build))
    recorder = Recorder()
    with _open(path) as image:
        fs = image.walk(recorder)
    assert recorder.files[(0, "bin/alias")] == b"#!/bin/sh\n"
    assert fs.squashed()["dev/null"].kind is EntryKind.OTHER
    resolved = fs.resolve("bin/alias")
    assert resolved is not None and resolved.path == "bin/tool"


def _members(archive: bytes) -> dict[str, bytes]:
    import io

    out = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for m in tar:
            fh = tar.extractfile(m)
            if fh is not None:
                out[m.name] = fh.read()
    return out
