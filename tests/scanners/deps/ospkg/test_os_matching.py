"""OS advisory matching: distribution version order, source packages, the right release — checked
against the converted Alpine/Debian OSV data and its expected-matches.json (../shared/data/osv-os)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearance.model import Component, Location
from clearance.scanners.deps.ospkg import ImageInventory
from clearance.scanners.deps.scanner import VulnerabilityMatcher
from clearance.scanners.vulns.advisories import AdvisoryStore, OsvSource, database_path, import_osv
from clearance.scanners.vulns.match import parse_version
from clearance.sources.image import ImageSpec, open_image

_REPO = Path(__file__).resolve().parents[4]
_DATA = Path(os.environ.get("CLEARANCE_SHARED_DIR") or _REPO.parent / "shared") / "data"
OSV_OS = _DATA / "osv-os"


@pytest.fixture(scope="module")
def os_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryStore]:
    if not (OSV_OS / "Alpine.zip").is_file():
        pytest.skip(f"shared OSV OS data not found at {OSV_OS}")
    path = database_path(tmp_path_factory.mktemp("os-db"))
    import_osv(
        path,
        [OsvSource(OSV_OS / "Alpine.zip"), OsvSource(OSV_OS / "Debian.zip")],
        now=dt.datetime(2026, 12, 6, tzinfo=dt.UTC),
    )
    with AdvisoryStore.open(path) as store:
        yield store


def _expected() -> dict[str, object]:
    path = OSV_OS / "expected-matches.json"
    if not path.is_file():
        pytest.skip("expected-matches.json not found")
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def _ids(store: AdvisoryStore, component: Component) -> set[str]:
    outcome = VulnerabilityMatcher(store).match([component])
    assert not outcome.errors
    return {a for f in outcome.findings for a in f.signals["advisories"]}


def test_synthetic_queries(os_store: AdvisoryStore) -> None:
    queries = _expected()["synthetic_queries"]
    assert isinstance(queries, list) and len(queries) >= 14
    for q in queries:
        component = Component(
            ecosystem=q["ecosystem"],
            name=f"bin-{q['name']}",  # a binary package name: matching must use the source name
            version=q["version"],
            purl="",
            location=Location("var/lib/dpkg/status"),
            source_name=q["name"],
        )
        expected = {m["id"] for m in q["matches"]}
        assert _ids(os_store, component) == expected, q


@pytest.mark.parametrize(
    "image", ["alpine-310.tar.gz", "alpine-311.tar.gz", "debian-bookworm-small.oci.tar.gz"]
)
def test_shared_images_os_packages(os_store: AdvisoryStore, image: str) -> None:
    """The real images: no OS matches (the data predates them), boundary records not affected."""
    expected = _expected()["images"][image]  # type: ignore[index]
    with open_image(ImageSpec(path=_DATA / "images" / image)) as opened:
        inventory = ImageInventory()
        found = inventory.components(opened.walk(inventory))
    os_components = [c for c in found.components if c.source_name is not None]
    want = {
        (p["name"], p["version"]): p for p in expected["squashed_packages"] if p["type"] in ("apk", "dpkg")
    }
    assert {(c.name, c.version) for c in os_components} == set(want)
    outcome = VulnerabilityMatcher(os_store).match(os_components)
    assert not outcome.errors
    assert outcome.findings == []
    not_affected = sum(len(p["not_affected"]) for p in want.values())
    assert (not_affected > 0) == image.startswith("alpine")


def test_release_matters(os_store: AdvisoryStore) -> None:
    def musl(ecosystem: str) -> Component:
        return Component(
            ecosystem, "musl", "1.1.22-r3", "", Location("lib/apk/db/installed"), source_name="musl"
        )

    assert _ids(os_store, musl("Alpine:v3.10")) == set()  # fixed in 1.1.22-r3 on v3.10
    assert _ids(os_store, musl("Alpine:v3.11")) == {"ALPINE-CVE-2019-14697"}  # v3.11 fix is 1.1.23-r2
    assert _ids(os_store, musl("Alpine:v3.99")) == set()  # a release without data matches nothing


def test_debian_matches_the_source_package_not_the_binary(os_store: AdvisoryStore) -> None:
    libssl = Component(
        "Debian:11",
        "libssl1.1",
        "1.1.1n-0+deb11u3",
        "",
        Location("var/lib/dpkg/status"),
        source_name="openssl",
    )
    assert _ids(os_store, libssl) == {"DSA-5343-1"}
    unnamed = Component("Debian:11", "libssl1.1", "1.1.1n-0+deb11u3", "", Location("var/lib/dpkg/status"))
    assert _ids(os_store, unnamed) == set()


@pytest.mark.parametrize(
    ("ecosystem", "lower", "higher"),
    [
        ("Debian", "1.2.13-1", "1:1.0-1"),  # an epoch outranks everything
        ("Debian", "1.0~rc1-1", "1.0-1"),  # tilde sorts before the release
        ("Debian", "111.0.5563.110-1~deb11u1", "111.0.5563.110-1"),
        ("Debian", "2.36-9+deb12u3", "2.36-9+deb12u14"),  # numeric, not lexical
        ("Debian", "1.0-1", "1.0-1+b1"),
        ("Alpine", "1.1.1d-r2", "1.1.1d-r10"),
        ("Alpine", "1.1.1-r0", "1.1.1a-r0"),  # a letter suffix is a later version
        ("Alpine", "1.2.3_rc1-r0", "1.2.3-r0"),  # _rc is a pre-release
        ("Alpine", "1.30.1-r2", "1.30.1-r3"),
        ("Rocky Linux", "3.0.7-28.el9", "1:3.0.7-27.el9"),  # rpm epoch
        ("Rocky Linux", "3.0.7-27.el9", "3.0.7-27.el9_4"),
        ("Rocky Linux", "1.0~rc1-1", "1.0-1"),
        ("AlmaLinux", "2.9-1.el9", "2.10-1.el9"),
    ],
)
def test_distribution_version_order(ecosystem: str, lower: str, higher: str) -> None:
    assert parse_version(ecosystem, lower) < parse_version(ecosystem, higher)


def _store_of(tmp_path: Path, records: list[Path]) -> AdvisoryStore:
    path = database_path(tmp_path / "db")
    import_osv(path, [OsvSource(r) for r in records], now=dt.datetime(2026, 12, 6, tzinfo=dt.UTC))
    return AdvisoryStore.open(path)


def test_official_osv_records_import_and_match(tmp_path: Path) -> None:
    """Verbatim osv.dev records (Alpine without the ALPINE- prefix, a DSA) import and match."""
    examples = OSV_OS / "official-examples"
    if not examples.is_dir():
        pytest.skip("official OSV examples not found")
    with _store_of(tmp_path, [examples]) as store:
        mariadb = Component(
            "Alpine:v3.13", "mariadb-client", "10.5.15-r0", "", Location("x"), source_name="mariadb"
        )
        assert _ids(store, mariadb) == {"CVE-2022-27449"}
        fixed = Component(
            "Alpine:v3.13", "mariadb-client", "10.5.16-r0", "", Location("x"), source_name="mariadb"
        )
        assert _ids(store, fixed) == set()
        nginx = Component(
            "Debian:7", "nginx-full", "1.2.1-2.2+wheezy2", "", Location("x"), source_name="nginx"
        )
        assert _ids(store, nginx) == {"DSA-3029-1"}


def test_ubuntu_lts_records_apply_to_the_release(tmp_path: Path) -> None:
    record = {
        "id": "USN-6000-1",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "openssl"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.9"}]}
                ],
            },
            {
                "package": {"ecosystem": "Ubuntu:Pro:18.04:LTS", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}],
            },
        ],
    }
    source = tmp_path / "USN-6000-1.json"
    source.write_text(json.dumps(record))
    with _store_of(tmp_path, [source]) as store:
        jammy = Component(
            "Ubuntu:22.04", "libssl3", "3.0.2-0ubuntu1.8", "", Location("x"), source_name="openssl"
        )
        assert _ids(store, jammy) == {"USN-6000-1"}
        bionic = Component(
            "Ubuntu:18.04", "libssl1.1", "1.1.1-1ubuntu2.1", "", Location("x"), source_name="openssl"
        )
        assert _ids(store, bionic) == set()  # Pro (ESM) records are not the release's own
