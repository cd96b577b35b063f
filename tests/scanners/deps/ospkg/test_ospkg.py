"""OS and language package inventory: parsers, purls, and the shared images' golden lists."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest
from rpmdb_builder import ROCKY_PACKAGES, rpmdb
from sources.image.builders import ImageBuild, Member, docker_archive, layer_tar

from clearance.errors import MalformedInput
from clearance.scanners.deps.ospkg import (
    ImageInventory,
    Inventory,
    apk,
    dpkg,
    gobuild,
    lang,
    parse_os_release,
    rpm,
)
from clearance.sources.image import ImageSpec, open_image

_REPO = Path(__file__).resolve().parents[4]
_SHARED = Path(os.environ.get("CLEARANCE_SHARED_DIR") or _REPO.parent / "shared") / "data" / "images"


def _inventory(path: Path) -> Inventory:
    with open_image(ImageSpec(path=path)) as image:
        inventory = ImageInventory()
        fs = image.walk(inventory)
        return inventory.components(fs)


@pytest.fixture
def images() -> Path:
    if not _SHARED.is_dir():
        pytest.skip(f"shared images not found at {_SHARED}")
    return _SHARED


ALPINE_310 = {
    ("musl", "1.1.22-r3", "musl"),
    ("busybox", "1.30.1-r3", "busybox"),
    ("alpine-baselayout", "3.1.2-r0", "alpine-baselayout"),
    ("alpine-keys", "2.1-r2", "alpine-keys"),
    ("libcrypto1.1", "1.1.1d-r2", "openssl"),
    ("libssl1.1", "1.1.1d-r2", "openssl"),
    ("ca-certificates-cacert", "20190108-r0", "ca-certificates"),
    ("libtls-standalone", "2.9.1-r0", "libtls-standalone"),
    ("ssl_client", "1.30.1-r3", "busybox"),
    ("zlib", "1.2.11-r1", "zlib"),
    ("apk-tools", "2.10.4-r2", "apk-tools"),
    ("scanelf", "1.2.3-r0", "pax-utils"),
    ("musl-utils", "1.1.22-r3", "musl"),
    ("libc-utils", "0.7.1-r0", "libc-dev"),
}
ALPINE_311 = {
    ("musl", "1.1.24-r2", "musl"),
    ("busybox", "1.31.1-r9", "busybox"),
    ("alpine-baselayout", "3.2.0-r3", "alpine-baselayout"),
    ("alpine-keys", "2.1-r2", "alpine-keys"),
    ("libcrypto1.1", "1.1.1d-r3", "openssl"),
    ("libssl1.1", "1.1.1d-r3", "openssl"),
    ("ca-certificates-cacert", "20191127-r1", "ca-certificates"),
    ("libtls-standalone", "2.9.1-r0", "libtls-standalone"),
    ("ssl_client", "1.31.1-r9", "busybox"),
    ("zlib", "1.2.11-r3", "zlib"),
    ("apk-tools", "2.10.4-r3", "apk-tools"),
    ("scanelf", "1.2.4-r0", "pax-utils"),
    ("musl-utils", "1.1.24-r2", "musl"),
    ("libc-utils", "0.7.2-r0", "libc-dev"),
}


@pytest.mark.parametrize(
    ("name", "expected", "ecosystem", "release"),
    [
        ("alpine-310.tar.gz", ALPINE_310, "Alpine:v3.10", "3.10.4"),
        ("alpine-311.tar.gz", ALPINE_311, "Alpine:v3.11", "3.11.5"),
    ],
)
def test_alpine_golden(
    images: Path, name: str, expected: set[tuple[str, str, str]], ecosystem: str, release: str
) -> None:
    result = _inventory(images / name)
    assert not result.errors and not result.warnings
    assert result.distro is not None and result.distro.version_id == release
    assert {(c.name, c.version, c.source_name) for c in result.components} == expected
    assert {c.ecosystem for c in result.components} == {ecosystem}
    musl = next(c for c in result.components if c.name == "musl")
    assert musl.purl == f"pkg:apk/alpine/musl@{musl.version}?arch=x86_64&distro={release}"
    assert musl.location.path == "lib/apk/db/installed" and musl.location.layer is not None


DEBIAN_L1 = "sha256:e2d11bff76bb2b91680d18593cac4d99c0f1f3db8334c3816b2da52cbe907bb5"
DEBIAN_L2 = "sha256:b054b7c07528ca5e44c669599bfd5933de99c75c752915ff82087485aff3c365"


@pytest.mark.parametrize("name", ["debian-bookworm-small.docker.tar.gz", "debian-bookworm-small.oci.tar.gz"])
def test_debian_golden(images: Path, name: str) -> None:
    result = _inventory(images / name)
    assert not result.errors
    got = {
        (c.ecosystem, c.name, c.version, c.source_name, c.location.path, c.location.layer)
        for c in result.components
    }
    status = "var/lib/dpkg/status"
    dist = "usr/local/lib/python3.11/dist-packages"
    assert got == {
        ("Debian:12", "base-files", "12.4+deb12u15", "base-files", status, DEBIAN_L1),
        ("Debian:12", "libc6", "2.36-9+deb12u14", "glibc", status, DEBIAN_L1),
        ("Debian:12", "libgcc-s1", "12.2.0-14+deb12u1", "gcc-12", status, DEBIAN_L1),
        ("Debian:12", "libssl3", "3.0.22-1~deb12u2", "openssl", status, DEBIAN_L2),
        ("Debian:12", "zlib1g", "1:1.2.13.dfsg-1+deb12u1", "zlib", status, DEBIAN_L1),
        ("PyPI", "urllib3", "1.26.4", None, f"{dist}/urllib3-1.26.4.dist-info/METADATA", DEBIAN_L2),
        ("npm", "debug", "4.4.1", None, "opt/app/node_modules/debug/package.json", DEBIAN_L2),
    }
    libssl = next(c for c in result.components if c.name == "libssl3")
    assert (
        libssl.purl == "pkg:deb/debian/libssl3@3.0.22-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    )
    assert libssl.advisory_key == ("openssl", "3.0.22-1~deb12u2")


def test_dpkg_status_fields() -> None:
    text = (
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9)\n"
        "Version: 2.36-9+b1\nDescription: GNU C Library\n continuation\n\n"
        "Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
        "Package: plain\nStatus: install ok installed\nVersion: 2:1.0~rc1-3\n"
    )
    packages = dpkg.parse_status(text)
    assert [(p.name, p.version, p.source_name, p.source_version, p.line) for p in packages] == [
        ("libc6", "2.36-9+b1", "glibc", "2.36-9", 1),
        ("plain", "2:1.0~rc1-3", "plain", "2:1.0~rc1-3", 13),
    ]
    with pytest.raises(MalformedInput):
        dpkg.parse_status("Package: x\nno colon here\n")


def test_dpkg_distroless_status_d(tmp_path: Path) -> None:
    assert dpkg.is_dpkg_db("var/lib/dpkg/status.d/base")
    assert not dpkg.is_dpkg_db("var/lib/dpkg/status.d/base.md5sums")
    build = ImageBuild(
        layers=[
            layer_tar(
                [
                    Member("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
                    Member(
                        "var/lib/dpkg/status.d/libssl3",
                        b"Package: libssl3\nVersion: 3.0.11-1~deb12u2\n"
                        b"Architecture: amd64\nSource: openssl\n",
                    ),
                    Member(
                        "var/lib/dpkg/status.d/tzdata",
                        b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
                    ),
                ]
            )
        ]
    )
    path = tmp_path / "distroless.tar"
    path.write_bytes(docker_archive(build))
    result = _inventory(path)
    assert {(c.name, c.source_name, c.purl) for c in result.components} == {
        (
            "libssl3",
            "openssl",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
        ),
        ("tzdata", "tzdata", "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12"),
    }


def test_apk_installed_errors() -> None:
    assert apk.parse_installed("P:x\nV:1-r0\no:y\n\n")[0].source_name == "y"
    with pytest.raises(MalformedInput):
        apk.parse_installed("P:x\n\n")
    with pytest.raises(MalformedInput):
        apk.parse_installed("garbage line\n")


def test_rpm_sqlite(tmp_path: Path) -> None:
    packages = rpm.parse_sqlite(rpmdb(ROCKY_PACKAGES))
    assert [(p.name, p.version, p.epoch, p.arch, p.source_name, p.source_version) for p in packages] == [
        ("openssl-libs", "3.0.7-27.el9", "1", "x86_64", "openssl", "3.0.7-27.el9"),
        ("bash", "5.1.8-9.el9", "", "x86_64", "bash", "5.1.8-9.el9"),
    ]
    build = ImageBuild(
        layers=[
            layer_tar(
                [
                    Member(
                        "etc/os-release", b'ID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3"\n'
                    ),
                    Member("var/lib/rpm/rpmdb.sqlite", rpmdb(ROCKY_PACKAGES)),
                ]
            )
        ]
    )
    path = tmp_path / "rocky.tar"
    path.write_bytes(docker_archive(build))
    result = _inventory(path)
    openssl = next(c for c in result.components if c.name == "openssl-libs")
    assert openssl.ecosystem == "Rocky Linux:9"
    assert openssl.version == "1:3.0.7-27.el9"
    assert openssl.advisory_key == ("openssl", "1:3.0.7-27.el9")
    assert openssl.purl == "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1"


def test_rpm_damaged_and_berkeleydb(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput):
        rpm.parse_sqlite(b"not sqlite")
    with pytest.raises(MalformedInput):
        rpm.parse_header(struct.pack(">II", 5000, 10), "1")
    build = ImageBuild(
        layers=[
            layer_tar(
                [
                    Member("etc/os-release", b"ID=centos\nVERSION_ID=7\n"),
                    Member("var/lib/rpm/Packages", b"\0" * 64),
                ]
            )
        ]
    )
    path = tmp_path / "centos7.tar"
    path.write_bytes(docker_archive(build))
    result = _inventory(path)
    assert [e.path for e in result.errors] == ["var/lib/rpm/Packages"]
    assert "BerkeleyDB database is not supported" in result.errors[0].message


def test_os_release() -> None:
    distro = parse_os_release('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n# comment\n')
    assert distro is not None and distro.osv_ecosystem == "Ubuntu:22.04"
    assert parse_os_release("NAME=x\n") is None
    debian = parse_os_release('ID=debian\nVERSION_ID="11"\n')
    assert debian is not None and debian.osv_ecosystem == "Debian:11" and debian.purl_distro == "debian-11"


def test_unknown_release_is_listed_but_not_matched(tmp_path: Path) -> None:
    build = ImageBuild(
        layers=[layer_tar([Member("lib/apk/db/installed", b"P:musl\nV:1.2.3-r0\no:musl\n\n")])]
    )
    path = tmp_path / "no-os-release.tar"
    path.write_bytes(docker_archive(build))
    result = _inventory(path)
    assert [c.ecosystem for c in result.components] == ["Alpine:unknown"]
    assert "not checked for vulnerabilities" in result.warnings[0]


def _go_binary(version: str, modinfo: str) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            byte = n & 0x7F
            n >>= 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out

    info = (
        b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
        + modinfo.encode()
        + b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
    )
    header = gobuild.MAGIC + bytes([8, 2]) + b"\0" * 16
    body = header + varint(len(version)) + version.encode() + varint(len(info)) + info
    return b"\x7fELF" + b"\0" * 12 + body + b"\0" * 2048


def test_go_build_info(tmp_path: Path) -> None:
    modinfo = (
        "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
        "dep\tgolang.org/x/net\tv0.17.0\th1:abc=\n"
        "dep\tgithub.com/old/lib\tv1.0.0\t\n=>\tgithub.com/new/lib\tv1.2.0\th1:def=\n"
    )
    data = _go_binary("go1.21.3", modinfo)
    info = gobuild.find_build_info(data)
    assert info is not None and info.go_version == "go1.21.3"
    assert [(m.path, m.version) for m in info.modules] == [
        ("example.com/app", "(devel)"),
        ("golang.org/x/net", "v0.17.0"),
        ("github.com/new/lib", "v1.2.0"),
    ]
    assert gobuild.find_build_info(b"\x7fELF" + b"\0" * 100) is None
    build = ImageBuild(layers=[layer_tar([Member("usr/local/bin/app", data, mode=0o755)])])
    path = tmp_path / "go.tar"
    path.write_bytes(docker_archive(build))
    result = _inventory(path)
    assert {(c.name, c.version, c.purl) for c in result.components} == {
        ("golang.org/x/net", "v0.17.0", "pkg:golang/golang.org/x/net@v0.17.0"),
        ("github.com/new/lib", "v1.2.0", "pkg:golang/github.com/new/lib@v1.2.0"),
        ("stdlib", "v1.21.3", "pkg:golang/stdlib@v1.21.3"),
    }
    assert {c.location.path for c in result.components} == {"usr/local/bin/app"}


def _jar(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def test_jar_pom_properties_and_nested_jars() -> None:
    inner = _jar(
        {
            "META-INF/maven/org.yaml/snakeyaml/pom.properties": b"groupId=org.yaml\nartifactId=snakeyaml\nversion=1.33\n"
        }
    )
    outer = _jar(
        {
            "META-INF/maven/com.example/app/pom.properties": b"#Generated\ngroupId=com.example\nartifactId=app\nversion=1.0.0\n",
            "BOOT-INF/lib/snakeyaml-1.33.jar": inner,
        }
    )
    assert lang.jar_packages(outer) == [("com.example:app", "1.0.0"), ("org.yaml:snakeyaml", "1.33")]
    with pytest.raises(MalformedInput):
        lang.jar_packages(b"PK META-INF/maven/x/y/pom.properties, not a zip")


def test_language_paths() -> None:
    assert lang.is_node_package("app/node_modules/@scope/pkg/package.json")
    assert lang.is_node_package("node_modules/debug/package.json")
    assert not lang.is_node_package("app/node_modules/debug/test/fixtures/package.json")
    assert lang.is_python_metadata("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA")
    assert lang.is_python_metadata("usr/lib/python3/dist-packages/foo-1.0.egg-info/PKG-INFO")
    assert lang.is_python_metadata("usr/lib/python3/dist-packages/foo-1.0.egg-info")
    assert not lang.is_python_metadata("app/METADATA")


def test_lockfile_in_image_but_not_in_installed_packages(tmp_path: Path) -> None:
    build = ImageBuild(
        layers=[
            layer_tar(
                [
                    Member("app/requirements.txt", b"requests==2.19.0\n"),
                    Member("usr/lib/python3/dist-packages/x/tests/requirements.txt", b"flask==0.1\n"),
                ]
            )
        ]
    )
    path = tmp_path / "app.tar"
    path.write_bytes(docker_archive(build))
    result = _inventory(path)
    assert [(c.name, c.version, c.location.path) for c in result.components] == [
        ("requests", "2.19.0", "app/requirements.txt")
    ]
    assert result.components[0].location.layer is not None
