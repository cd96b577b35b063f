"""The advisory store: offline import from zips/dirs, atomic rebuilds, per-ecosystem replacement."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from osv_fixtures import IMPORTED_AT, OSV

from clearance.errors import ScanError
from clearance.scanners.vulns.advisories import (
    AdvisoryStore,
    OsvSource,
    database_dir,
    database_path,
    import_osv,
    status,
)


def _zip(path: Path, records: dict[str, dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rid, rec in records.items():
            zf.writestr(f"{rid}.json", json.dumps(rec))
    return path


def _record(
    rid: str,
    ecosystem: str,
    name: str,
    fixed: str = "2.0",
    modified: str = "2024-01-01T00:00:00Z",
    **extra: object,
) -> dict[str, object]:
    rec: dict[str, object] = {
        "id": rid,
        "modified": modified,
        "details": f"test {rid}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
    }
    rec.update(extra)
    return rec


def test_import_zip_named_like_the_official_dump(tmp_path: Path) -> None:
    dump = _zip(
        tmp_path / "dl" / "PyPI" / "all.zip",
        {
            "PYSEC-1": _record("PYSEC-1", "PyPI", "Jinja2", aliases=["CVE-1"]),
            "PYSEC-2": _record("PYSEC-2", "PyPI", "jw.util", modified="2025-02-03T04:05:06Z"),
        },
    )
    db = database_path(tmp_path / "db")
    report = import_osv(db, [dump], now=IMPORTED_AT)
    assert report.records == {"PyPI": 2}
    assert report.size == db.stat().st_size > 0
    with AdvisoryStore.open(db) as store:
        assert [e.advisory_id for e in store.affected("PyPI", "jinja2")] == ["PYSEC-1"]
        assert [e.advisory_id for e in store.affected("PyPI", "JW_Util")] == ["PYSEC-2"]  # PEP 503 both sides
        assert store.advisory("PYSEC-1").aliases == ("CVE-1",)
        assert store.raw("PYSEC-2")["details"] == "test PYSEC-2"
        (eco,) = store.ecosystems()
    assert (eco.ecosystem, eco.records, eco.newest_modified) == ("PyPI", 2, "2025-02-03T04:05:06Z")
    assert eco.imported_at == "2026-11-20T08:00:00Z"
    assert eco.source == str(dump.resolve())


def test_import_directory_and_several_paths_at_once(tmp_path: Path) -> None:
    db = database_path(tmp_path / "db")
    report = import_osv(db, [OSV / "synthetic" / "PyPI", OSV / "synthetic" / "npm"], now=IMPORTED_AT)
    assert report.records == {"PyPI": 4, "npm": 3}
    assert report.withdrawn == 1
    ecosystems, feeds = status(db)
    assert [(s.ecosystem, s.records) for s in ecosystems] == [("PyPI", 4), ("npm", 3)]
    assert feeds == []


def test_importing_one_ecosystem_keeps_the_others(tmp_path: Path) -> None:
    db = database_path(tmp_path / "db")
    import_osv(db, [OSV / "synthetic" / "PyPI", OSV / "synthetic" / "npm"], now=IMPORTED_AT)
    newer = _zip(tmp_path / "npm.zip", {"GHSA-new": _record("GHSA-new", "npm", "left-pad", fixed="1.3.0")})
    import_osv(db, [newer], now=IMPORTED_AT)
    with AdvisoryStore.open(db) as store:
        assert store.affected("npm", "lodash") == []  # npm replaced as a whole
        assert [e.advisory_id for e in store.affected("npm", "left-pad")] == ["GHSA-new"]
        assert {e.advisory_id for e in store.affected("PyPI", "jinja2")} == {
            "PYSEC-2024-TEST1",
            "GHSA-h5c8-rqwp-cp95",
        }
        assert {s.ecosystem: s.records for s in store.ecosystems()} == {"PyPI": 4, "npm": 1}


def test_entries_for_other_ecosystems_come_from_their_own_dump(tmp_path: Path) -> None:
    # A record affecting PyPI and npm inside PyPI/all.zip only replaces PyPI.
    both = _record("GHSA-both", "PyPI", "shared")
    both["affected"].append({"package": {"ecosystem": "npm", "name": "shared"}, "ranges": []})  # type: ignore[attr-defined]
    dump = _zip(tmp_path / "PyPI" / "all.zip", {"GHSA-both": both})
    db = database_path(tmp_path / "db")
    report = import_osv(db, [dump], now=IMPORTED_AT)
    assert report.records == {"PyPI": 1}
    with AdvisoryStore.open(db) as store:
        assert store.affected("npm", "shared") == []
        assert len(store.affected("PyPI", "shared")) == 1


def test_ecosystem_suffixes_are_indexed_by_base_ecosystem(tmp_path: Path) -> None:
    src = tmp_path / "debian"
    src.mkdir()
    (src / "DSA-1.json").write_text(
        json.dumps(_record("DSA-1", "Debian:11", "openssl", fixed="1.1.1n-0+deb11u4"))
    )
    (src / "DSA-2.json").write_text(
        json.dumps(_record("DSA-2", "Debian:12", "openssl", fixed="3.0.11-1~deb12u2"))
    )
    db = database_path(tmp_path / "db")
    assert import_osv(db, [src], now=IMPORTED_AT).records == {"Debian": 2}
    with AdvisoryStore.open(db) as store:
        assert {e.advisory_id for e in store.affected("Debian", "openssl")} == {"DSA-1", "DSA-2"}
        (entry,) = store.affected("Debian:11", "openssl")
        assert (entry.advisory_id, entry.ecosystem) == ("DSA-1", "Debian:11")


def test_newest_modified_wins_for_duplicate_ids(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "X-1.json").write_text(
        json.dumps(_record("X-1", "PyPI", "pkg", fixed="1.0", modified="2024-01-01T00:00:00Z"))
    )
    (b / "X-1.json").write_text(
        json.dumps(_record("X-1", "PyPI", "pkg", fixed="1.5", modified="2025-01-01T00:00:00Z"))
    )
    db = database_path(tmp_path / "db")
    import_osv(db, [b, a], now=IMPORTED_AT)
    with AdvisoryStore.open(db) as store:
        (entry,) = store.affected("PyPI", "pkg")
    assert entry.spec.ranges[0].events[-1].version == "1.5"


@pytest.mark.parametrize("damage", ["truncated", "not-a-zip", "bad-json", "not-an-object"])
def test_failed_import_leaves_previous_database_intact(tmp_path: Path, damage: str) -> None:
    db = database_path(tmp_path / "db")
    import_osv(db, [OSV / "synthetic" / "PyPI"], now=IMPORTED_AT)
    before = db.read_bytes()
    bad = tmp_path / "PyPI.zip"
    if damage == "truncated":
        good = _zip(tmp_path / "good.zip", {f"P-{i}": _record(f"P-{i}", "PyPI", f"p{i}") for i in range(50)})
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "not-a-zip":
        bad.write_bytes(b"<html>proxy error</html>")
    elif damage == "bad-json":
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("P-1.json", json.dumps(_record("P-1", "PyPI", "p")))
            zf.writestr("P-2.json", "{ not json")
    else:
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("P-1.json", "[1, 2, 3]")
    with pytest.raises(ScanError) as info:
        import_osv(db, [bad], now=IMPORTED_AT)
    assert str(bad) in info.value.message
    assert "nothing was imported" in info.value.diagnostics()
    assert db.read_bytes() == before
    assert [p.name for p in db.parent.iterdir()] == [db.name]  # no temporary file left behind


def test_interrupted_import_leaves_previous_database_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database_path(tmp_path / "db")
    import_osv(db, [OSV / "synthetic" / "PyPI"], now=IMPORTED_AT)
    before = db.read_bytes()
    from clearance.scanners.vulns import advisories

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(advisories, "_insert_records", boom)
    with pytest.raises(KeyboardInterrupt):
        import_osv(db, [OSV / "synthetic" / "npm"], now=IMPORTED_AT)
    assert db.read_bytes() == before
    assert [p.name for p in db.parent.iterdir()] == [db.name]


def test_no_records_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ScanError, match="no OSV records"):
        import_osv(database_path(tmp_path / "db"), [empty], now=IMPORTED_AT)
    with pytest.raises(ScanError, match="does not exist"):
        import_osv(database_path(tmp_path / "db"), [tmp_path / "missing.zip"], now=IMPORTED_AT)


def test_corrupt_existing_database_is_reported(tmp_path: Path) -> None:
    db = database_path(tmp_path / "db")
    db.parent.mkdir()
    db.write_bytes(b"garbage" * 100)
    with pytest.raises(ScanError) as info:
        AdvisoryStore.open(db)
    assert "delete it" in info.value.diagnostics()
    with pytest.raises(ScanError):
        import_osv(db, [OSV / "synthetic" / "npm"], now=IMPORTED_AT)
    assert db.read_bytes() == b"garbage" * 100


def test_missing_database_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ScanError) as info:
        AdvisoryStore.open(database_path(tmp_path))
    text = info.value.diagnostics()
    assert "clearance db update" in text and "clearance db import" in text


def test_explicit_ecosystem_claim(tmp_path: Path) -> None:
    db = database_path(tmp_path / "db")
    report = import_osv(
        db, [OsvSource(OSV / "synthetic" / "npm", ecosystem="npm", label="mirror")], now=IMPORTED_AT
    )
    assert report.records == {"npm": 3}
    ecosystems, _ = status(db)
    assert ecosystems[0].source == "mirror"


def test_database_dir_precedence(tmp_path: Path) -> None:
    assert database_dir("x", tmp_path, {"CLEARANCE_DB_DIR": "/env/dir"}) == Path("/env/dir")
    assert database_dir("rel/db", tmp_path, {}) == tmp_path / "rel/db"
    assert database_dir("/abs/db", tmp_path, {}) == Path("/abs/db")
    assert database_dir(None, tmp_path, {}).name == "clearance"


def test_schema_has_the_package_index(real_db: Path) -> None:
    with sqlite3.connect(real_db) as con:
        plan = con.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM affected WHERE ecosystem='PyPI' AND name='x'"
        ).fetchall()
    assert "affected_package" in str(plan)


def test_odd_field_types_are_tolerated(tmp_path: Path) -> None:
    src = tmp_path / "odd"
    src.mkdir()
    odd = _record("ODD-1", "PyPI", "pkg", aliases="CVE-1", references={"url": "x"})
    odd["affected"][0]["versions"] = "1.0"  # type: ignore[index]
    odd["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}, "junk", {"fixed": 2}]  # type: ignore[index]
    (src / "ODD-1.json").write_text(json.dumps(odd))
    (src / "ODD-2.json").write_text(json.dumps({"id": "ODD-2", "affected": 7}))
    db = database_path(tmp_path / "db")
    report = import_osv(db, [src], now=IMPORTED_AT)
    assert (report.records, report.skipped) == ({"PyPI": 1}, 1)
    with AdvisoryStore.open(db) as store:
        (entry,) = store.affected("PyPI", "pkg")
        assert store.advisory("ODD-1").aliases == ()
    assert [(e.kind, e.version) for e in entry.spec.ranges[0].events] == [("introduced", "0"), ("fixed", "2")]
