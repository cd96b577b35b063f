"""Image misconfiguration rules over built images (config, history, squashed files)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from sources.image.builders import ImageBuild, Member, docker_archive, layer_tar

from clearance.config import Settings
from clearance.scanners.iac.rules.image import IMAGE_RULES, scan_image
from clearance.scanners.registry import placeholder_value
from clearance.sources.image import ImageSpec
from clearance.sources.image.source import ImageSource

TOKEN = "npm_" + "Zq3XbT8vKw2LmN5pR7sY9uA1cE4gH6jJ0oQd"


def _context(tmp_path: Path, build: ImageBuild):  # type: ignore[no-untyped-def]
    path = tmp_path / "image.tar"
    path.write_bytes(docker_archive(build))
    source = ImageSource(ImageSpec(path=path))
    source.collect([], 5 * 1024 * 1024)
    assert source.context is not None
    return source.context


def _risky(tmp_path: Path):  # type: ignore[no-untyped-def]
    base = layer_tar(
        [
            Member("usr/bin/passwd", b"\x7fELF", mode=0o4755),
            Member("tmp", kind=tarfile.DIRTYPE, mode=0o1777),
        ]
    )
    app = layer_tar(
        [
            Member("usr/sbin/sshd", b"\x7fELF", mode=0o755),
            Member("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", b"x" * 100),
            Member("var/lib/apt/lists/lock", b""),
            Member("usr/local/bin/helper", b"#!/bin/sh\n", mode=0o4755),
        ]
    )
    top = layer_tar([Member("app/config.yaml", b"debug: true\n", mode=0o666)])
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {"created_by": f"RUN |2 NPM_TOKEN={TOKEN} HTTP_PROXY=http://proxy:3128 /bin/sh -c npm ci # buildkit"},
        {"created_by": "ADD https://example.com/tool.tar.gz /opt/ # buildkit"},
        {"created_by": "EXPOSE map[22/tcp:{}]", "empty_layer": True},
    ]
    build = ImageBuild(
        layers=[base, app, top],
        user="",
        env=["PATH=/usr/bin", "API_TOKEN=Hq7TzR2mXw9LpV4sKd8NfB3cY6", "TOKEN_FILE=/run/secrets/token"],
        history=history,
        exposed=["22/tcp", "8080/tcp"],
    )
    return _context(tmp_path, build)


def test_risky_image(tmp_path: Path) -> None:
    image = _risky(tmp_path)
    out = scan_image(image, Settings(), placeholder_value)
    got = {(f.rule_id, f.location.path, f.location.layer) for f in out.findings}
    l0, l1, l2 = (layer.diff_id for layer in image.layers)
    assert got == {
        ("iac.docker-root-user", "image-config", None),
        ("iac.docker-secret-env", "image-config", None),
        ("iac.image-secret-build-arg", "image-history/1", l1),
        ("iac.docker-add-url", "image-history/2", l2),
        ("iac.docker-expose-ssh", "image-config", None),
        ("iac.image-ssh-server", "usr/sbin/sshd", l1),
        ("iac.image-package-cache", "var/lib/apt/lists", l1),
        ("iac.image-setuid-added", "usr/local/bin/helper", l1),
        ("iac.image-setuid-base", "usr/bin/passwd", l0),
        ("iac.image-world-writable", "app/config.yaml", l2),
    }
    text = " ".join(f"{f.evidence} {f.message}" for f in out.findings)
    assert TOKEN not in text and "Hq7TzR2mXw9LpV4sKd8NfB3cY6" not in text  # redacted
    assert len({f.fingerprint for f in out.findings}) == len(out.findings)


def test_clean_image(tmp_path: Path) -> None:
    layer = layer_tar(
        [Member("tmp", kind=tarfile.DIRTYPE, mode=0o1777), Member("app/main.py", b"print(1)\n")]
    )
    build = ImageBuild(
        layers=[layer],
        user="10001",
        env=["PATH=/usr/bin", "TOKEN_FILE=/run/secrets/token", "PASSWORD=${PASSWORD}"],
        history=[{"created_by": "COPY app /app # buildkit"}],
        exposed=["8080/tcp"],
    )
    assert scan_image(_context(tmp_path, build), Settings(), placeholder_value).findings == []


def test_rules_can_be_disabled_and_are_documented(tmp_path: Path) -> None:
    image = _risky(tmp_path)
    settings = Settings.model_validate({"iac": {"disable": ["iac.image-*"]}})
    assert {f.rule_id for f in scan_image(image, settings, placeholder_value).findings} <= {
        r.id for r in IMAGE_RULES if r.id.startswith("iac.docker-")
    }
    docs = (Path(__file__).resolve().parents[3] / "docs" / "images.md").read_text()
    for rule in IMAGE_RULES:
        assert rule.id in docs


@pytest.mark.parametrize("user", ["root", "0", "0:0"])
def test_root_spellings(tmp_path: Path, user: str) -> None:
    build = ImageBuild(layers=[layer_tar([Member("a", b"x")])], user=user)
    ids = {f.rule_id for f in scan_image(_context(tmp_path, build), Settings(), placeholder_value).findings}
    assert "iac.docker-root-user" in ids
