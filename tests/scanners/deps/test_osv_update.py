"""`db update` over HTTP against a local server: conditional requests, KEV/EPSS, failures."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from osv_fixtures import IMPORTED_AT, OSV

from clearance.errors import ScanError
from clearance.scanners.vulns.advisories import AdvisoryStore, database_path, update_osv
from clearance.scanners.vulns.exploit import EPSS_URL_ENV, KEV_URL_ENV, update_feeds


def _zip_dir(directory: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(directory.glob("*.json")):
            zf.writestr(f.name, f.read_bytes())
    return buf.getvalue()


@dataclass
class Mirror:
    """A tiny OSV/KEV/EPSS mirror on 127.0.0.1 that honours If-None-Match."""

    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    m = Mirror(
        files={
            "/osv/PyPI/all.zip": _zip_dir(OSV / "synthetic" / "PyPI"),
            "/osv/npm/all.zip": _zip_dir(OSV / "synthetic" / "npm"),
            "/kev.json": (OSV / "feeds" / "kev.json").read_bytes(),
            "/epss.csv.gz": (OSV / "feeds" / "epss.csv.gz").read_bytes(),
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            m.requests.append((self.path, self.headers.get("If-None-Match")))
            body = m.files.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Fri, 20 Nov 2026 08:00:00 GMT")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    m.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield m
    finally:
        server.shutdown()
        server.server_close()


def test_update_downloads_imports_and_then_asks_conditionally(tmp_path: Path, mirror: Mirror) -> None:
    db = database_path(tmp_path / "db")
    seen: list[tuple[str, int, int | None]] = []
    with httpx.Client() as client:
        first = update_osv(
            db,
            ["PyPI", "npm"],
            client=client,
            now=IMPORTED_AT,
            base_url=f"{mirror.url}/osv",
            progress=lambda label, n, total: seen.append((label, n, total)),
        )
        assert [(o.ecosystem, o.outcome, o.records) for o in first] == [
            ("PyPI", "updated", 4),
            ("npm", "updated", 3),
        ]
        assert {label for label, _, _ in seen} == {"PyPI", "npm"}
        assert sum(n for label, n, _ in seen if label == "npm") == len(mirror.files["/osv/npm/all.zip"])
        second = update_osv(db, ["PyPI", "npm"], client=client, now=IMPORTED_AT, base_url=f"{mirror.url}/osv")
    assert [(o.ecosystem, o.outcome) for o in second] == [("PyPI", "not modified"), ("npm", "not modified")]
    assert all(etag for path, etag in mirror.requests[2:])  # the second round sent If-None-Match
    with AdvisoryStore.open(db) as store:
        status = {s.ecosystem: s for s in store.ecosystems()}
    assert status["npm"].source == f"{mirror.url}/osv/npm/all.zip"
    assert status["npm"].etag and status["npm"].last_modified == "Fri, 20 Nov 2026 08:00:00 GMT"
    assert [p.name for p in db.parent.iterdir()] == [db.name]  # downloads cleaned up


def test_changed_dump_is_downloaded_again(tmp_path: Path, mirror: Mirror) -> None:
    db = database_path(tmp_path / "db")
    with httpx.Client() as client:
        update_osv(db, ["npm"], client=client, now=IMPORTED_AT, base_url=f"{mirror.url}/osv")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("GHSA-x.json", (OSV / "synthetic" / "npm" / "GHSA-4w2v-q235-vp99.json").read_text())
        mirror.files["/osv/npm/all.zip"] = buf.getvalue()
        (outcome,) = update_osv(db, ["npm"], client=client, now=IMPORTED_AT, base_url=f"{mirror.url}/osv")
    assert (outcome.outcome, outcome.records) == ("updated", 1)


def test_missing_dump_fails_without_touching_the_database(tmp_path: Path, mirror: Mirror) -> None:
    db = database_path(tmp_path / "db")
    with httpx.Client() as client:
        update_osv(db, ["npm"], client=client, now=IMPORTED_AT, base_url=f"{mirror.url}/osv")
        before = db.read_bytes()
        with pytest.raises(ScanError, match="HTTP 404"):
            update_osv(
                db, ["PyPI", "NoSuchEcosystem"], client=client, now=IMPORTED_AT, base_url=f"{mirror.url}/osv"
            )
    assert db.read_bytes() == before
    assert [p.name for p in db.parent.iterdir()] == [db.name]


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with httpx.Client() as client, pytest.raises(ScanError) as info:
        update_osv(
            database_path(tmp_path), ["npm"], client=client, now=IMPORTED_AT, base_url="http://127.0.0.1:9"
        )
    assert "clearance db import" in info.value.diagnostics()


def test_feeds_update_with_env_urls(tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEV_URL_ENV, f"{mirror.url}/kev.json")
    monkeypatch.setenv(EPSS_URL_ENV, f"{mirror.url}/epss.csv.gz")
    db = database_path(tmp_path / "db")
    with httpx.Client() as client:
        first = update_feeds(db, ["kev", "epss"], client=client, now=IMPORTED_AT)
        second = update_feeds(db, ["kev", "epss"], client=client, now=IMPORTED_AT)
    assert [(u.feed, u.outcome, u.records) for u in first] == [("kev", "updated", 3), ("epss", "updated", 5)]
    assert [(u.feed, u.outcome) for u in second] == [("kev", "not modified"), ("epss", "not modified")]
    with AdvisoryStore.open(db) as store:
        assert store.kev(["CVE-2020-14343"]) == {"CVE-2020-14343": "2023-01-10"}
        assert store.feed("epss") is not None


def test_cli_update_uses_the_mirror(tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from clearance.cli import app

    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "db"))
    monkeypatch.setenv("CLEARANCE_OSV_URL", f"{mirror.url}/osv")
    monkeypatch.setenv(KEV_URL_ENV, f"{mirror.url}/kev.json")
    monkeypatch.setenv(EPSS_URL_ENV, f"{mirror.url}/epss.csv.gz")
    runner = CliRunner()
    first = runner.invoke(app, ["db", "update", "--ecosystem", "npm", "-e", "PyPI", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "npm: updated (3 advisories)" in first.output and "KEV: updated (3 entries)" in first.output
    again = runner.invoke(
        app, ["db", "update", "--quiet", "--no-epss"]
    )  # defaults to the imported ecosystems
    assert again.exit_code == 0, again.output
    assert "PyPI: not modified" in again.output and "npm: not modified" in again.output
    assert "EPSS" not in again.output
