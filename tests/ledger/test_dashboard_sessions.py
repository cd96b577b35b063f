"""Dashboard sessions outlive the process: the signing key is read from a key file, so a
restarted server — or a second worker over the same ledger — accepts the cookie."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from clearance.server.app import create_app
from clearance.server.settings import ServerSettings

from .conftest import Api


def test_a_session_survives_a_restart_and_works_on_another_worker(api: Api, tmp_path: Path) -> None:
    nonce = api.client.get("/ui/login").cookies.get("clearance_login_csrf")
    r = api.client.post("/ui/login", data={"token": api.admin, "csrf": nonce}, follow_redirects=False)
    assert r.status_code == 303, r.text
    cookie = r.cookies.get("clearance_session")
    assert cookie

    settings = ServerSettings(db_url=api.db.url, log_key_path=tmp_path / "log.key", migrate=False)
    assert settings.session_keys_file() == tmp_path / "dashboard-session.key"
    worker = create_app(settings, clock=api.clock, engine=api.db.engine)  # same key file, new process
    with TestClient(worker) as other:
        page = other.get("/ui/", cookies={"clearance_session": cookie}, follow_redirects=False)
        assert page.status_code == 200, page.status_code
        assert "Organisation" in page.text

    elsewhere = ServerSettings(
        db_url=api.db.url,
        log_key_path=tmp_path / "log.key",
        session_key_path=tmp_path / "other.key",
        migrate=False,
    )
    stranger = create_app(elsewhere, clock=api.clock, engine=api.db.engine)  # another key: no session
    with TestClient(stranger) as other:
        page = other.get("/ui/", cookies={"clearance_session": cookie}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/ui/login"
