"""`affected` over a portfolio where one vulnerable component is everywhere (the popular-component
case of bench/ledger/affected.py, small): ~165 services, ~600 releases, more rows than a page.
On SQLite and PostgreSQL: the totals (count, services, not_affected) against what was shipped,
every row's release, latest flag, environments and finding status, pages that add up to the
whole answer, team scoping, and the dashboard's pages with their links."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from clearance.ledger.affected import MAX_LIMIT, affected_query, rematch
from clearance.ledger.matching import AdvisoryMatcher
from clearance.ledger.service import Ledger
from clearance.ledger.tables import CurrentDeployment, Deployment, Environment, Finding, Release
from clearance.scanners.vulns.advisories import OsvSource, database_path, import_osv

from .conftest import REPO, T0, Api

ADVISORY = "CVE-2024-56326"  # jinja2 < 3.1.5 (examples/advisories)
OLD, NEWER = "pkg:pypi/jinja2@2.11.2", "pkg:pypi/jinja2@3.1.4"  # both affected
OTHER = "pkg:pypi/pyyaml@5.3.1"  # affected by another advisory only
SAFE = "pkg:pypi/jinja2@3.1.5"  # fixed for ADVISORY


@dataclass
class Portfolio:
    shipped: dict[tuple[str, int], set[str]]
    """(service, release id) → the affected jinja2 purls it ships."""
    latest: dict[str, int]
    team_of: dict[str, str]
    not_affected: str
    excepted: str
    fixed: str
    prod: dict[int, list[str]]
    """release id → environments running it (by rank)."""


@pytest.fixture(scope="module")
def advisories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("advisories")
    import_osv(database_path(d), [OsvSource(REPO / "examples" / "advisories" / "PyPI")], now=T0)
    return d


def build(ledger: Ledger, advisories: Path) -> Portfolio:
    """Teams, ~165 services with 1–6 releases each; nearly every release ships jinja2 2.11.2, some
    3.1.4 as well or instead, some the fixed 3.1.5; findings by a re-match, then VEX, an
    exception and a fix on three services; two environments running some releases."""
    shipped: dict[tuple[str, int], set[str]] = {}
    latest: dict[str, int] = {}
    team_of: dict[str, str] = {}
    names = [f"svc-{i:03d}" for i in range(160)] + ["Zeta", "alpha", "beta-2", "beta_1", "édition"]
    with ledger.write() as store:
        teams = [store.ensure_team(t) for t in ("payments", "search", "infra")]
        ids = store.ensure_components(
            [
                (OLD, "PyPI", "jinja2", "2.11.2"),
                (NEWER, "PyPI", "jinja2", "3.1.4"),
                (SAFE, "PyPI", "jinja2", "3.1.5"),
                (OTHER, "PyPI", "pyyaml", "5.3.1"),
            ]
        )
        for i, name in enumerate(names):
            team = teams[i % 3]
            svc, _ = store.upsert_service(name, team=team, source="test")
            team_of[name] = team.name
            for r in range(1 + (i * 7) % 6):
                rel = Release(
                    service_id=svc.id,
                    version=f"1.{r}.0",
                    commit=f"{i:04d}{r:036d}",
                    created_at=T0 + dt.timedelta(hours=i * 10 + r),
                )
                store.session.add(rel)
                store.session.flush()
                comps = {OTHER: "runtime"} if (i + r) % 4 == 0 else {}
                if (i + r) % 9 == 8:
                    comps[SAFE] = "runtime"
                else:
                    comps[OLD] = "runtime"
                    if (i + r) % 5 == 0:
                        comps[NEWER] = "runtime"
                store.link_components(rel, {ids[p]: s for p, s in comps.items()})
                hit = {p for p in comps if p in (OLD, NEWER)}
                if hit:
                    shipped[(name, rel.id)] = hit
                latest[name] = rel.id
    matcher = AdvisoryMatcher.open(advisories)
    try:
        with ledger.write() as store:
            rematch(store, matcher, "test")
    finally:
        matcher.close()
    not_affected, excepted, fixed = "svc-004", "svc-010", "beta_1"
    prod: dict[int, list[str]] = {}
    with ledger.write() as store:
        s = store.session
        sid = {n: store.service(n).id for n in (not_affected, excepted, fixed)}  # type: ignore[union-attr]
        s.execute(
            update(Finding)
            .where(Finding.service_id == sid[not_affected], Finding.component_purl == OLD)
            .values(analysis_state="not_affected")
        )
        s.execute(
            update(Finding)
            .where(Finding.service_id == sid[excepted])
            .values(excepted_until=T0 + dt.timedelta(days=20))
        )
        s.execute(
            update(Finding)
            .where(Finding.service_id == sid[fixed], Finding.component_purl == OLD)
            .values(status="fixed", fixed_at=T0)
        )
        envs = [Environment(name="staging", rank=1), Environment(name="prod", rank=10)]
        s.add_all(envs)
        s.flush()
        for name in ("svc-001", "svc-002", "Zeta"):
            svc = store.service(name)
            assert svc is not None
            for env in envs if name != "svc-002" else envs[:1]:
                dep = Deployment(
                    release_id=latest[name], environment_id=env.id, status="succeeded", started_at=T0
                )
                s.add(dep)
                s.flush()
                s.add(
                    CurrentDeployment(
                        service_id=svc.id,
                        environment_id=env.id,
                        release_id=latest[name],
                        deployment_id=dep.id,
                        since=T0,
                    )
                )
                prod.setdefault(latest[name], []).append(env.name)
    return Portfolio(shipped, latest, team_of, not_affected, excepted, fixed, prod)


def whole(ledger: Ledger, **query: object) -> dict:  # type: ignore[type-arg]
    with ledger.read() as store:
        return affected_query(store, limit=MAX_LIMIT, **query)  # type: ignore[arg-type]


def test_a_component_everywhere_is_counted_paged_and_described_exactly(api: Api, advisories: Path) -> None:
    p = build(api.ledger, advisories)
    answer = whole(api.ledger, advisory=ADVISORY)
    links = sum(len(v) for v in p.shipped.values())
    assert links > 500  # more than one page of the API's and the dashboard's default size
    assert answer["count"] == links and len(answer["results"]) == links
    assert answer["next_offset"] is None
    suppressed = sum(OLD in v for (n, _), v in p.shipped.items() if n == p.not_affected)
    assert answer["not_affected"] == suppressed > 0
    services = {n for n, _ in p.shipped}
    only_suppressed = {
        n for n in services if all(v == {OLD} for (m, _), v in p.shipped.items() if m == n)
    } & {p.not_affected}
    assert answer["services"] == sorted(services - only_suppressed)

    # every row: one per (release, component), by service name, newest release first, then purl
    ids = {rid: n for n, rid in p.shipped}
    got = [(r["service"], r["release_id"], r["component"]) for r in answer["results"]]
    want = sorted(
        ((n, rid, purl) for (n, rid), purls in p.shipped.items() for purl in purls),
        key=lambda t: (t[0], -t[1], t[2]),
    )
    assert got == want
    for r in answer["results"]:
        name = ids[r["release_id"]]
        assert r["team"] == p.team_of[name]
        assert r["latest"] is (p.latest[name] == r["release_id"])
        assert r["environments"] == p.prod.get(r["release_id"], [])
        assert (
            r["advisory_id"] in answer["query"]["names"] and r["severity"] and "3.1.5" in r["fixed_versions"]
        )
        if name == p.not_affected and r["component"] == OLD:
            assert r["analysis_state"] == "not_affected" and r["finding_status"] == "not_affected"
        elif name == p.excepted:
            assert r["finding_status"] == "excepted" and r["excepted_until"].startswith("2026-11-21")
        elif name == p.fixed and r["component"] == OLD:
            assert r["finding_status"] == "fixed"
        else:
            assert r["finding_status"] == "open" and r["analysis_state"] is None
    assert {e for envs in p.prod.values() for e in envs} == {"staging", "prod"}
    assert answer["results"][[r["service"] for r in answer["results"]].index("Zeta")]["environments"] == [
        "staging",
        "prod",
    ]

    # pages, in order, are the whole answer; totals are the same on every page
    for limit in (7, 500):
        rows, offset, pages = [], 0, 0
        while offset is not None:
            with api.ledger.read() as store:
                page = affected_query(store, advisory=ADVISORY, limit=limit, offset=offset)
            assert (page["count"], page["services"], page["not_affected"]) == (
                answer["count"],
                answer["services"],
                answer["not_affected"],
            )
            assert len(page["results"]) == min(limit, links - offset)
            rows += page["results"]
            offset, pages = page["next_offset"], pages + 1
        assert rows == answer["results"] and pages == -(-links // limit)

    # by purl: the same releases for that component; by package: both affected versions
    by_purl = whole(api.ledger, purl=NEWER)
    assert [(r["service"], r["release_id"]) for r in by_purl["results"]] == [
        (n, rid) for n, rid, purl in want if purl == NEWER
    ]
    by_package = whole(api.ledger, purl="pkg:pypi/jinja2")
    assert [
        (r["service"], r["release_id"], r["component"])
        for r in by_package["results"]
        if r["component"] in (OLD, NEWER)
    ] == want
    names = set(answer["query"]["names"])
    assert all(
        names & set(r["advisories"]) and r["advisory_id"] in r["advisories"]
        for r in by_package["results"]
        if r["component"] in (OLD, NEWER)
    )

    # a team's view: its services only, counted alone
    with api.ledger.read() as store:
        search = store.team("search")
        assert search is not None
        scoped = affected_query(store, advisory=ADVISORY, team_ids=[search.id], limit=MAX_LIMIT)
    mine = [t for t in want if p.team_of[t[0]] == "search"]
    assert (
        scoped["count"] == len(mine)
        and [(r["service"], r["release_id"], r["component"]) for r in scoped["results"]] == mine
    )


def test_the_dashboard_pages_the_answer_like_the_api(api: Api, advisories: Path) -> None:
    build(api.ledger, advisories)
    nonce = api.client.get("/ui/login").cookies.get("clearance_login_csrf")
    r = api.client.post("/ui/login", data={"token": api.admin, "csrf": nonce}, follow_redirects=False)
    assert r.status_code == 303, r.text
    pages, url = [], f"/ui/affected?q={ADVISORY}"
    while url:
        html = api.client.get(url).text
        api_page = api.client.get(
            "/api/v1/affected",
            params={"advisory": ADVISORY, "offset": len(pages) * 500},
            headers=api.auth(api.admin),
        ).json()
        count = int(re.search(r'id="result-count" data-count="(\d+)"', html).group(1))  # type: ignore[union-attr]
        assert count == api_page["count"] > 500
        shown = re.findall(
            r'<tr class="affected-row"><td><a href="/ui/services/([^"]+)">[^<]*</a></td><td>[^<]*</td>'
            r"<td>([^<]+?)(?: \(latest\))?</td>",
            html,
        )
        assert shown == [(x["service"], x["version"]) for x in api_page["results"]]
        first, last = re.search(r'id="page-rows" data-first="(\d+)" data-last="(\d+)"', html).groups()  # type: ignore[union-attr]
        assert (int(first), int(last)) == (len(pages) * 500 + 1, len(pages) * 500 + len(shown))
        if len(pages):
            assert 'id="previous-page" href="/ui/affected?q=CVE-2024-56326&amp;offset=0"' in html
        pages.append(shown)
        nxt = re.search(r'id="next-page" href="([^"]+)"', html)
        assert (nxt is None) == (api_page["next_offset"] is None)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert len(pages) == 2 and sum(map(len, pages)) == count
    bad = api.client.get("/ui/affected?q=pkg:nonsense")
    assert bad.status_code == 200 and 'id="query-error"' in bad.text
