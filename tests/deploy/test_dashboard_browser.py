"""The dashboard in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium, never a
downloaded build) against a server this test starts on loopback, over a ledger seeded by the demo
(real gate runs through the real ingest). Log in, open every page, search an advisory, and check
that the numbers on the page equal the API's; team scoping and CSRF are checked too.

`CLEARANCE_UPDATE_SCREENSHOTS=1 pytest tests/deploy/test_dashboard_browser.py` refreshes the
screenshots in docs/screenshots/ (linked from docs/dashboard.md).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


@dataclass
class Server:
    """A running dashboard with its tokens."""

    url: str
    admin: str
    reader: str

    def api(self, path: str, token: str, **params: Any) -> Any:
        r = httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from clearance.cli import demo
    from clearance.ledger import db
    from clearance.ledger.audit import LogKey
    from clearance.ledger.service import Ledger
    from clearance.server.app import create_app
    from clearance.server.settings import ServerSettings

    work = tmp_path_factory.mktemp("dash")
    url = f"sqlite:///{work / 'ledger.db'}"
    engine = db.create_engine(url)
    db.migrate(engine)
    ledger = Ledger(engine, log_key=LogKey.load_or_create(work / "log.key"))
    services = (
        demo.DemoService("billing", "payments", "leaky", 1),
        demo.DemoService("checkout", "payments", "clean", 2),
        demo.DemoService("storefront", "web", "clean", 2),
    )
    result = demo.seed(ledger, work, now=dt.datetime.now(dt.UTC), services=services)
    engine.dispose()
    tokens = dict(line.split(": ", 1) for line in result.tokens_file.read_text().splitlines())
    app = create_app(ServerSettings(db_url=url, log_key_path=work / "log.key"))
    with serving(app) as base:
        yield Server(base, tokens["admin (all teams)"], tokens["payments (read)"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def login(browser: Any, server: Server, token: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/ui/")
    assert page.url.endswith("/ui/login")
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_url(server.url + "/ui/")
    return page


def shot(page: Any, name: str) -> None:
    if os.environ.get("CLEARANCE_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)


def metric(page: Any, name: str) -> str:
    el = page.locator(f'[data-metric="{name}"]').first
    value = el.get_attribute("data-value")
    return str(value if value is not None else el.inner_text()).strip()


def test_pages_render_and_numbers_match_the_api(browser: Any, server: Server) -> None:
    page = login(browser, server, server.admin)
    cookie = next(c for c in page.context.cookies() if c["name"] == "clearance_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"

    dora = server.api("/api/v1/metrics/dora", server.admin, window="90d")
    sec = server.api("/api/v1/metrics/security", server.admin, window="90d")
    assert dora["deployments"] > 0 and sec["decisions_by_answer"]
    assert metric(page, "dora.deployments") == str(dora["deployments"])
    assert metric(page, "dora.lead_time_median_s") == str(dora["lead_time_median_s"])
    assert metric(page, "dora.change_failure_rate") == str(dora["change_failure_rate"])
    assert metric(page, "security.evidence_coverage") == str(sec["evidence_coverage"])
    assert metric(page, "security.approval_wait_median_s") == str(sec["approval_wait_median_s"])
    assert page.locator("svg.chart").count() == 3
    shot(page, "overview")

    page.goto(server.url + "/ui/teams/payments")
    assert page.locator("h1").inner_text() == "Team payments"
    team_dora = server.api("/api/v1/metrics/dora", server.admin, team="payments", window="90d")
    assert metric(page, "dora.deployments") == str(team_dora["deployments"])
    overdue = server.api("/api/v1/findings", server.admin, team="payments", overdue="true")
    assert metric(page, "team.overdue") == str(overdue["count"])
    shot(page, "team")

    page.goto(server.url + "/ui/services/checkout")
    assert page.locator("h1").inner_text() == "Service checkout"
    assert "prod" in page.locator("table").first.inner_text()
    shot(page, "service")

    page.goto(server.url + "/ui/affected")
    page.fill("#q", "CVE-2024-56326")
    page.click("#search")
    page.wait_for_selector("#result-count")
    affected = server.api("/api/v1/affected", server.admin, advisory="CVE-2024-56326")
    assert affected["results"], "the demo's jinja2 pin is affected"
    assert page.locator("#result-count").get_attribute("data-count") == str(len(affected["results"]))
    assert page.locator("tr.affected-row").count() == len(affected["results"])
    shot(page, "affected")

    page.goto(server.url + "/ui/deploys")
    log = server.api("/api/v1/gates/deploy/decisions", server.admin, limit=200)
    assert page.locator("tr.decision").count() == len(log["decisions"])
    assert page.locator("td.deny").count() >= 1  # billing's blocked run was refused
    shot(page, "deploys")

    page.goto(server.url + "/ui/audit")
    size = server.api("/api/v1/audit/entries", server.admin, limit=1)["size"]
    assert page.locator("#audit-size").get_attribute("data-size") == str(size)
    shot(page, "audit")
    page.close()


def test_team_scoping_login_errors_and_csrf(browser: Any, server: Server) -> None:
    page = login(browser, server, server.reader)
    assert "web" not in [a.inner_text() for a in page.locator("table a").all()]
    r = page.goto(server.url + "/ui/teams/web")
    assert r is not None and r.status == 403
    r = page.goto(server.url + "/ui/audit")
    assert r is not None and r.status == 403
    page.close()

    page = browser.new_page()
    page.goto(server.url + "/ui/login")
    page.fill("#token", "clr_not-a-token")
    page.click("#login")
    assert "unknown" in page.locator("#login-error").inner_text()
    page.close()

    # A forged cross-site logout (no CSRF token) is refused; a login without the form's cookie too.
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/ui/login", data={"token": server.admin, "csrf": "x"})
        assert r.status_code == 403
        page_cookie = c.get("/ui/login").cookies.get("clearance_login_csrf")
        r = c.post("/ui/login", data={"token": server.admin, "csrf": page_cookie})
        assert r.status_code == 303
        assert c.post("/ui/logout", data={"csrf": "forged"}).status_code == 403
