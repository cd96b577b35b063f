"""`clearance scan|gate|sbom IMAGE` end to end: findings by layer and path, the image digest as the
report's target and the evidence subject, SBOMs that validate, hostile images → exit 3."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import stat
import tarfile
from pathlib import Path

import pytest
from sources.image.builders import ImageBuild, Member, docker_archive, layer_tar, tar_bytes
from typer.testing import CliRunner

from clearance.cli import app
from clearance.evidence.sbom import validate_cyclonedx
from clearance.scanners.vulns.advisories import OsvSource, database_path, import_osv

runner = CliRunner()
ALPINE_ID = "sha256:af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e"
GITHUB_TOKEN = "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sources.image.conftest import IMAGES

    alpine = IMAGES.parent / "osv-os" / "Alpine.zip"
    if not alpine.is_file():
        pytest.skip("shared Alpine OSV data not found")
    directory = tmp_path_factory.mktemp("db")
    import_osv(database_path(directory), [OsvSource(alpine)], now=dt.datetime.now(dt.UTC))
    return directory


@pytest.fixture
def env(db_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db_dir))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _json(args: list[str]) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, [*args, "--format", "json", "--quiet"])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_gate_alpine_names_the_digest_and_locates_findings(images: Path, env: Path) -> None:
    code, report = _json(["gate", str(images / "alpine-310.tar.gz")])
    assert code == 0  # warnings only: the advisory data predates the image (expected-matches.json)
    target = report["target"]
    assert isinstance(target, dict)
    assert target["kind"] == "image" and target["digest"] == ALPINE_ID
    assert target["layers"] == ["sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028"]
    findings = report["findings"]
    assert isinstance(findings, list)
    assert [f["rule_id"] for f in findings] == ["iac.docker-root-user"]
    console = runner.invoke(app, ["gate", str(images / "alpine-310.tar.gz"), "--quiet"])
    assert "iac.docker-root-user" in console.output and "image-config" in console.output


def _secret_image(tmp_path: Path) -> tuple[Path, list[str]]:
    config = f"GITHUB_TOKEN={GITHUB_TOKEN}\n".encode()
    layers = [
        layer_tar(
            [Member("etc/os-release", b"ID=alpine\nVERSION_ID=3.10.4\n"), Member("srv/app.py", b"print(1)\n")]
        ),
        layer_tar([Member("srv/deploy.env", config)]),
        layer_tar([Member("srv/.wh.deploy.env")]),  # "deleted" in the next layer: still in the image
    ]
    build = ImageBuild(layers=layers, user="10001")
    path = tmp_path / "app.tar"
    path.write_bytes(docker_archive(build))
    from sources.image.builders import sha256

    return path, [sha256(layer) for layer in layers]


def test_secret_deleted_in_an_upper_layer_is_still_reported(env: Path) -> None:
    path, diff_ids = _secret_image(env)
    code, report = _json(["gate", str(path)])
    assert code == 1  # a live-format token blocks
    findings = report["findings"]
    assert isinstance(findings, list)
    secrets = [f for f in findings if f["kind"] == "secret"]
    assert len(secrets) == 1
    assert secrets[0]["location"]["path"] == "srv/deploy.env"
    assert secrets[0]["location"]["layer"] == diff_ids[1]
    assert GITHUB_TOKEN not in json.dumps(report)


def test_evidence_binds_to_the_image_digest(images: Path, env: Path) -> None:
    assert runner.invoke(app, ["keygen", "--output", str(env / "k")]).exit_code == 0
    out = env / "evidence"
    result = runner.invoke(
        app,
        [
            "gate",
            str(images / "alpine-310.tar.gz"),
            "--quiet",
            "--evidence",
            str(out),
            "--key",
            str(env / "k"),
        ],
    )
    assert result.exit_code == 0, result.output
    bundle = next(out.glob("*.bundle.tar.gz"))
    ok = runner.invoke(
        app, ["verify", str(bundle), "--key", str(env / "k.pub"), "--artifact-digest", ALPINE_ID]
    )
    assert ok.exit_code == 0, ok.output
    other = "sha256:" + "0" * 64
    bad = runner.invoke(app, ["verify", str(bundle), "--key", str(env / "k.pub"), "--artifact-digest", other])
    assert bad.exit_code != 0
    sbom = json.loads(next(out.glob("*.sbom.cdx.json")).read_text())
    assert sbom["metadata"]["component"]["version"] == ALPINE_ID


def test_sbom_of_an_image(images: Path, env: Path) -> None:
    result = runner.invoke(app, ["sbom", str(images / "debian-bookworm-small.oci.tar.gz")])
    assert result.exit_code == 0, result.output
    validate_cyclonedx(result.stdout)
    bom = json.loads(result.stdout)
    root = bom["metadata"]["component"]
    assert root["type"] == "container"
    assert root["version"] == "sha256:c94a7bdb6ec70e3043446f73b26bc93b076526e6b757e3e120a0dc71eb0cc2b5"
    props = {p["name"]: p["value"] for p in root["properties"]}
    assert props["clearance:image:manifest-digest"].startswith("sha256:053066fc")
    assert props["clearance:image:layer:1"].startswith("sha256:b054b7c0")
    names = {c["name"] for c in bom["components"]}
    assert names == {"base-files", "libc6", "libgcc-s1", "libssl3", "zlib1g", "urllib3", "debug"}
    spdx = runner.invoke(app, ["sbom", str(images / "alpine-310.tar.gz"), "--format", "spdx-json"])
    doc = json.loads(spdx.stdout)
    assert doc["packages"][0]["primaryPackagePurpose"] == "CONTAINER"
    assert len(doc["packages"]) == 15


def _hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.tar"
    if kind == "traversal":
        path.write_bytes(
            docker_archive(ImageBuild(layers=[layer_tar([Member("../../etc/cron.d/x", b"* * * * * id")])]))
        )
    elif kind == "symlink-loop":
        loop = layer_tar(
            [
                Member("etc/os-release", kind=tarfile.SYMTYPE, link="os-release.d"),
                Member("etc/os-release.d", kind=tarfile.SYMTYPE, link="/etc/os-release"),
                Member("lib/apk/db/installed", b"P:musl\nV:1.1.22-r3\no:musl\n\n"),
            ]
        )
        path.write_bytes(docker_archive(ImageBuild(layers=[loop])))
    elif kind == "gzip-bomb":
        path = tmp_path / "bomb.tar.gz"  # 32 MiB of zeros in a gzip layer, the whole archive gzipped again
        bomb = ImageBuild(layers=[layer_tar([Member("zeros", b"\0" * (32 << 20))])])
        path.write_bytes(gzip.compress(docker_archive(bomb, compress_layers="gzip")))
    elif kind == "truncated":
        path.write_bytes(
            docker_archive(ImageBuild(layers=[layer_tar([Member("a", b"x" * 50_000)])]))[:30_000]
        )
    elif kind == "not-an-image":
        path.write_bytes(gzip.compress(tar_bytes({"src/main.c": b"int main(){}"})))
    elif kind == "truncated-gzip":  # the real alpine docker save, gzipped, cut while its first pass reads it
        from sources.image.conftest import IMAGES

        path = tmp_path / "truncated.tar.gz"
        path.write_bytes((IMAGES / "alpine-310.tar.gz").read_bytes()[:1_000_000])
    elif kind == "garbage-named-tar-gz":  # not gzip at all: must not be skipped as "a binary file"
        path = tmp_path / "image.tar.gz"
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "empty-tar-gz":
        path = tmp_path / "image.tar.gz"
        path.write_bytes(b"")
    return path


HOSTILE = ["traversal", "truncated", "not-an-image", "truncated-gzip", "garbage-named-tar-gz", "empty-tar-gz"]


@pytest.mark.parametrize("command", ["scan", "gate"])
@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_images_exit_3_without_traceback(env: Path, kind: str, command: str) -> None:
    result = runner.invoke(app, [command, str(_hostile(env, kind)), "--quiet"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "Aborted" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_gzip_bomb_is_stopped(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clearance.sources.image import model, source

    monkeypatch.setattr(source, "Limits", lambda: model.Limits(max_inflated_bytes=8 << 20))
    path = _hostile(env, "gzip-bomb")
    assert path.stat().st_size < 200_000
    result = runner.invoke(app, ["scan", str(path), "--quiet"])
    assert result.exit_code == 3, result.output
    assert "inflates to more than" in result.output
    assert "Traceback" not in result.output


def test_symlink_loop_is_a_per_file_problem_not_a_hang(env: Path) -> None:
    code, report = _json(["scan", str(_hostile(env, "symlink-loop"))])
    warnings = report["warnings"]
    assert isinstance(warnings, list)
    assert any("not checked for vulnerabilities" in w for w in warnings)  # release unknown: os-release loops
    assert code == 0


def test_docker_without_a_daemon(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = env / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(fake.parent))
    result = runner.invoke(app, ["scan", "docker:alpine:3.10", "--quiet"])
    assert result.exit_code == 3
    assert "docker save alpine:3.10" in result.output and "Cannot connect" in result.output


def test_a_plain_file_is_still_scanned_as_a_file(env: Path) -> None:
    note = env / "settings.py"
    note.write_text(f'TOKEN = "{GITHUB_TOKEN}"\n')
    code, report = _json(["scan", str(note)])
    assert code == 0
    assert report["target"]["kind"] != "image"  # type: ignore[index]
    assert [f["location"]["path"] for f in report["findings"]] == ["settings.py"]  # type: ignore[union-attr]


def test_platform_option_reaches_the_reader(images: Path, env: Path) -> None:
    result = runner.invoke(
        app, ["scan", str(images / "alpine-310.tar.gz"), "--platform", "linux/arm64", "--quiet"]
    )
    assert result.exit_code == 3
    assert "no image for platform linux/arm64" in result.output


def test_image_with_pr_mode_is_a_usage_error(images: Path, env: Path) -> None:
    result = runner.invoke(app, ["scan", str(images / "alpine-310.tar.gz"), "--base", "main", "--quiet"])
    assert result.exit_code == 2
    assert "is a container image" in result.output
