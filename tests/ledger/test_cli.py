"""The CLI against a live server (uvicorn on loopback) and a local database, on both engines:
token create, push, gate --push, findings (table/json/csv), affected, verify-log with tampering,
sync-catalog, and the zero-day re-match."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from served import serving
from sqlalchemy import text
from typer.testing import CliRunner

from clearance.cli import app as cli_app
from clearance.server.app import create_app
from clearance.server.settings import ServerSettings

from .conftest import REPO, Clock, DemoRuns, LedgerDB

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = runner.invoke(cli_app, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


class Live:
    def __init__(self, url: str, db: LedgerDB, key: Path, advisory_dir: Path) -> None:
        self.url, self.db, self.key, self.advisory_dir = url, db, key, advisory_dir

    def admin(self, *args: str) -> tuple[int, str, str]:
        """A `clearance ledger …` command on the server's database."""
        return cli("ledger", *args, "--db", self.db.url, "--log-key", str(self.key))


@pytest.fixture
def live(ledger_db: LedgerDB, tmp_path: Path, demo_runs: DemoRuns) -> Iterator[Live]:
    key = tmp_path / "log.key"
    advisories = tmp_path / "server-advisories"
    shutil.copytree(demo_runs.advisory_dir, advisories)
    settings = ServerSettings(
        db_url=ledger_db.url, log_key_path=key, migrate=False, advisory_db_dir=advisories
    )
    app = create_app(settings, clock=Clock(), engine=ledger_db.engine)
    with serving(app) as url:
        yield Live(url, ledger_db, key, advisories)


def _token(live: Live, team: str, scopes: str) -> str:
    code, out, err = live.admin("token", "create", "--team", team, "--scope", scopes)
    assert code == 0, err
    return out.strip()


def test_push_findings_affected_through_the_cli(live: Live, demo_runs: DemoRuns, tmp_path: Path) -> None:
    tok = _token(live, "payments", "ingest,read")
    assert tok.startswith("clr_")
    code, out, _ = cli("ledger", "token", "list", "--db", live.db.url, "--format", "json")
    assert tok not in out and json.loads(out)[0]["team"] == "payments"
    (tmp_path / "r1.json").write_bytes(demo_runs.report1)
    (tmp_path / "r2.json").write_bytes(demo_runs.report2)
    code, out, err = cli(
        "push", str(tmp_path / "r1.json"), "--server", live.url, "--token", tok, "--service", "billing"
    )
    assert code == 0, err
    assert "billing release" in out and "fixed 0" in out
    code, out, err = cli(
        "push",
        str(tmp_path / "r2.json"),
        "--server",
        live.url,
        "--service",
        "billing",
        env={"CLEARANCE_TOKEN": tok},
    )
    assert code == 0, err
    assert "fixed 1," in out and "reopened 0" in out
    # findings via the server (json, csv) and from the database directly (table)
    code, out, err = cli(
        "ledger", "findings", "--server", live.url, "--token", tok, "--team", "payments", "--format", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert rows and {r["service"] for r in rows} == {"billing"}
    code, out, _ = cli(
        "ledger",
        "findings",
        "--server",
        live.url,
        "--token",
        tok,
        "--severity",
        "critical",
        "--format",
        "csv",
    )
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert parsed and all(r["severity"] == "critical" for r in parsed) and "rule_id" in parsed[0]
    code, out, _ = cli(
        "ledger", "findings", "--db", live.db.url, "--service", "billing", env={"COLUMNS": "300"}
    )
    assert code == 0 and "secret.github-pat" in out
    # affected, remote and local
    code, out, err = cli(
        "affected", "CVE-2024-56326", "--server", live.url, "--token", tok, "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["services"] == ["billing"] and data["results"][0]["team"] == "payments"
    code, out, _ = cli(
        "affected", "pkg:pypi/jinja2", "--range", "<3.1.5", "--db", live.db.url, env={"COLUMNS": "300"}
    )
    assert code == 0 and "billing" in out
    # a malformed query is the caller's mistake (usage, 2), found before any request is sent
    for args in (
        ["affected", "pkg:pypi/jinja2", "--range", "<<<"],
        ["affected", "pkg:pypi/jinja2@2.11.2", "--range", "<3.1.5"],
        ["affected", "CVE-2024-56326", "--range", "<3.1.5"],
        ["affected", "pkg:"],
        ["ledger", "findings", "--severity", "bogus"],
        ["ledger", "findings", "--status", "closed"],
    ):
        code, _, err = cli(*args, "--server", "http://127.0.0.1:9", "--token", tok)
        assert code == 2, (args, err)
        assert "refused" not in err and "Traceback" not in err
    # another team's token is refused by the server, with the reason
    other = _token(live, "search", "ingest,read")
    code, _, err = cli(
        "push", str(tmp_path / "r1.json"), "--server", live.url, "--token", other, "--service", "billing"
    )
    assert code != 0 and "403" in err and "another team" in err
    code, out, err = cli("ledger", "debt", "--server", live.url, "--token", tok, "--format", "json")
    assert code == 0 and "aging" in json.loads(out)


def test_gate_push_sends_the_bundle(live: Live, demo_runs: DemoRuns, tmp_path: Path) -> None:
    tok = _token(live, "payments", "ingest,read")
    code, _, err = live.admin("key", "add", str(demo_runs.public_key), "--team", "payments")
    assert code == 0, err
    repo = tmp_path / "leaky-repo"
    shutil.copytree(REPO / "examples" / "leaky-repo", repo)
    from .conftest import _commit

    env = dict(os.environ, CLEARANCE_DB_DIR=str(demo_runs.advisory_dir), CLEARANCE_TOKEN=tok)
    _commit(repo, env, "initial")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clearance",
            "gate",
            str(repo),
            "-q",
            "--evidence",
            str(tmp_path / "ev"),
            "--key",
            str(demo_runs.private_key),
            "--push",
            live.url,
            "--format",
            "json",
        ],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr.decode()  # blocked, and pushed
    code, out, _ = cli("ledger", "findings", "--server", live.url, "--token", tok, "--format", "json")
    assert len(json.loads(out)) == len(json.loads(proc.stdout)["findings"])
    # a failed push (bad token) exits 3 so a pipeline notices
    env["CLEARANCE_TOKEN"] = "clr_wrong"
    proc = subprocess.run(
        [sys.executable, "-m", "clearance", "gate", str(repo), "-q", "--push", live.url],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 3 and b"401" in proc.stderr


def test_verify_log_detects_an_edited_and_a_deleted_entry(
    live: Live, demo_runs: DemoRuns, tmp_path: Path
) -> None:
    tok = _token(live, "payments", "ingest,read")
    (tmp_path / "r1.json").write_bytes(demo_runs.report1)
    for i in range(2):
        (tmp_path / "r.json").write_bytes(demo_runs.report1 + b" " * i)
        assert (
            cli(
                "push", str(tmp_path / "r.json"), "--server", live.url, "--token", tok, "--service", "billing"
            )[0]
            == 0
        )
    _token(live, "search", "read")
    code, out, err = live.admin("verify-log")
    assert code == 0 and "audit log OK: 4 entries" in out, err
    with live.db.engine.begin() as c:
        original = c.execute(text("SELECT entry FROM audit_entries WHERE seq = 1")).scalar_one()
        c.execute(
            text("UPDATE audit_entries SET entry = :e WHERE seq = 1"),
            {"e": original.replace('"fixed":0', '"fixed":9')},
        )
    code, _, err = live.admin("verify-log", "--rebuild-subtree-hashes")
    assert (
        code == 1
        and "entry 1 does not match its leaf hash" in err
        and "first entry that no longer matches: 1" in err
        and "not rebuilding the stored subtree hashes" in err
    )
    # an attacker who also rewrites the stored leaf hash is caught by the signed checkpoints
    import hashlib

    with live.db.engine.begin() as c:
        forged = c.execute(text("SELECT entry FROM audit_entries WHERE seq = 1")).scalar_one()
        c.execute(
            text("UPDATE audit_entries SET leaf_hash = :h WHERE seq = 1"),
            {"h": hashlib.sha256(b"\0" + forged.encode()).hexdigest()},
        )
    code, _, err = live.admin("verify-log")
    assert (
        code == 1
        and "no longer matches the checkpoint of size 2" in err
        and "first entry that no longer matches: 1" in err
    )
    with live.db.engine.begin() as c:
        c.execute(
            text("UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE seq = 1"),
            {"e": original, "h": hashlib.sha256(b"\0" + original.encode()).hexdigest()},
        )
    assert live.admin("verify-log")[0] == 0
    # a stored subtree hash (what proofs are built from) edited: the entries still match
    with live.db.engine.begin() as c:
        node = c.execute(text("SELECT hash FROM audit_nodes WHERE level = 1 AND idx = 1")).scalar_one()
        c.execute(text("UPDATE audit_nodes SET hash = :h WHERE level = 1 AND idx = 1"), {"h": "ab" * 32})
    code, _, err = live.admin("verify-log")
    assert (
        code == 1
        and "the stored hash of entries 2–3 (level 1) does not match the entries" in err
        and "stored subtree hashes proofs are built from do not (first: entries 2–3)" in err
    )
    # … rewritten from the entries' leaf hashes on request, the repair itself logged
    code, out, err = live.admin("verify-log", "--rebuild-subtree-hashes")
    assert code == 0 and "rebuilt 3 stored subtree hashes" in out and "audit log OK: 5 entries" in out, err
    with live.db.engine.begin() as c:
        assert (
            c.execute(text("SELECT hash FROM audit_nodes WHERE level = 1 AND idx = 1")).scalar_one() == node
        )
        assert (
            "audit.subtree_hashes_rebuilt"
            in c.execute(text("SELECT action FROM audit_entries WHERE seq = 4")).scalar_one()
        )
    with live.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    code, _, err = live.admin("verify-log")
    assert (
        code == 1 and "entry 2 is missing (deleted)" in err and "first entry that no longer matches: 2" in err
    )
    with live.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    code, _, err = live.admin("verify-log")
    assert code == 1 and "checkpoint signed 5 entries but the log holds 3" in err


def test_verify_log_detects_an_edited_actor_action_or_time_column(
    live: Live, demo_runs: DemoRuns, tmp_path: Path
) -> None:
    """The dashboard's audit page shows `actor`, `action` and `at` from their own columns; an edit
    there (a push blamed on someone else) must break verification like an edit of the entry."""
    tok = _token(live, "payments", "ingest,read")
    (tmp_path / "r.json").write_bytes(demo_runs.report1)
    assert cli("push", str(tmp_path / "r.json"), "--server", live.url, "--token", tok)[0] == 0
    assert live.admin("verify-log")[0] == 0
    edits = {
        "actor": "UPDATE audit_entries SET actor = 'cli' WHERE seq = 1",
        "action": "UPDATE audit_entries SET action = 'token.revoked' WHERE seq = 1",
        "at": "UPDATE audit_entries SET at = :at WHERE seq = 1",
    }
    for column, statement in edits.items():
        with live.db.engine.begin() as c:
            before = c.execute(text(f"SELECT {column} FROM audit_entries WHERE seq = 1")).scalar_one()
            c.execute(text(statement), {"at": __import__("datetime").datetime(2020, 1, 1)})
        code, _, err = live.admin("verify-log")
        assert code == 1 and f"entry 1: its {column} column differs from the signed entry" in err, (
            column,
            err,
        )
        with live.db.engine.begin() as c:
            c.execute(text(f"UPDATE audit_entries SET {column} = :v WHERE seq = 1"), {"v": before})
        assert live.admin("verify-log")[0] == 0, column


def test_sync_catalog_sets_owners_and_codeowners(live: Live, demo_runs: DemoRuns, tmp_path: Path) -> None:
    repo = tmp_path / "billing-repo"
    repo.mkdir()
    (repo / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: billing\n  annotations:\n"
        "    clearance.dev/exposure: internet\n    clearance.dev/data-classification: confidential\n    clearance.dev/tier: tier-1\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n",
        encoding="utf-8",
    )
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text(
        "* @acme/payments\ninfra/ @acme/platform\n", encoding="utf-8"
    )
    code, out, err = live.admin("sync-catalog", str(repo))
    assert code == 0, err
    assert "created service billing (team payments, tier tier-1, 2 CODEOWNERS rules)" in out
    # tier-1 SLAs apply; infra/ findings belong to platform (CODEOWNERS), the rest to payments
    code, out, err = live.admin("sla", "set", "--tier", "tier-1", "--severity", "critical", "--days", "3")
    assert code == 0 and "tier-1/critical: 3 days" in out, err
    code, out, _ = cli("ledger", "sla", "show", "--tier", "tier-1", "--db", live.db.url, "--format", "json")
    assert {"severity": "critical", "days": 3} in json.loads(out) and {
        "severity": "high",
        "days": 30,
    } in json.loads(out)
    tok = _token(live, "payments", "ingest,read")
    report = json.loads(demo_runs.report1)
    for f in report["findings"]:
        f["signals"].pop("owner", None)
    (tmp_path / "r.json").write_text(json.dumps(report), encoding="utf-8")
    code, out, err = cli(
        "push", str(tmp_path / "r.json"), "--server", live.url, "--token", tok, "--service", "billing"
    )
    assert code == 0, err
    code, out, _ = cli("ledger", "findings", "--db", live.db.url, "--format", "json")
    rows = json.loads(out)
    infra = [r for r in rows if (r["path"] or "").startswith("infra/")]
    assert infra and all(r["team"] == "platform" for r in infra)  # CODEOWNERS: the owning team
    assert all(r["team"] == "payments" for r in rows if r not in infra)
    from clearance.ledger.store import FindingFilter, Store

    with live.db.sessions() as s:
        store = Store(s, Clock()())
        views = store.findings(FindingFilter(service="billing"))
        owners = {v.path: v for v in views}
        crit = [v for v in views if v.severity == "critical"]
        assert crit and all((v.due_at - v.first_seen).days == 3 for v in crit if v.due_at)
        by_team = {
            t["team"]
            for t in Store(s, Clock()() + __import__("datetime").timedelta(days=60)).overdue_by_team()
        }
    assert {"payments", "platform"} <= by_team
    assert owners


@pytest.fixture(scope="module")
def zero_day(tmp_path_factory: pytest.TempPathFactory, demo_runs: DemoRuns) -> tuple[Path, bytes]:
    """A signed gate run made while the advisory database lacked the pyyaml advisory."""
    base = tmp_path_factory.mktemp("zero-day")
    partial = base / "advisories-src" / "PyPI"
    partial.mkdir(parents=True)
    for f in (REPO / "examples" / "advisories" / "PyPI").glob("*.json"):
        if f.name != "PYSEC-2021-142.json":
            shutil.copy(f, partial / f.name)
    env = dict(os.environ, CLEARANCE_DB_DIR=str(base / "db"))
    subprocess.run(
        [sys.executable, "-m", "clearance", "db", "import", str(partial)],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    repo = base / "leaky-repo"
    shutil.copytree(REPO / "examples" / "leaky-repo", repo)
    from .conftest import _commit

    _commit(repo, env, "initial")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "clearance",
            "gate",
            str(repo),
            "-q",
            "--evidence",
            str(base / "ev"),
            "--key",
            str(demo_runs.private_key),
            "--format",
            "json",
        ],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    return base / "db", next((base / "ev").glob("*.bundle.tar.gz")).read_bytes()


def _push_last_months_release(
    live: Live, demo_runs: DemoRuns, zero_day: tuple[Path, bytes], tmp_path: Path
) -> tuple[Path, str]:
    """The server's advisory database without the pyyaml advisory; billing's verified bundle
    (pyyaml 5.3.1 in its SBOM) pushed. Returns (advisory dir, read token)."""
    partial_db, bundle = zero_day
    advisory_dir = live.advisory_dir
    shutil.rmtree(advisory_dir)
    shutil.copytree(partial_db, advisory_dir)
    assert live.admin("key", "add", str(demo_runs.public_key), "--team", "payments")[0] == 0
    tok = _token(live, "payments", "ingest,read")
    (tmp_path / "b.tar.gz").write_bytes(bundle)
    code, out, err = cli(
        "push", str(tmp_path / "b.tar.gz"), "--server", live.url, "--token", tok, "--service", "billing"
    )
    assert code == 0, err
    code, out, _ = cli("affected", "PYSEC-2021-142", "--db", live.db.url, "--format", "json")
    assert json.loads(out)["results"] == []
    return advisory_dir, tok


def test_db_import_rematches_the_configured_ledger(
    live: Live, demo_runs: DemoRuns, zero_day: tuple[Path, bytes], tmp_path: Path
) -> None:
    advisory_dir, tok = _push_last_months_release(live, demo_runs, zero_day, tmp_path)
    advisory = str(REPO / "examples" / "advisories" / "PyPI" / "PYSEC-2021-142.json")
    ledger_env = {"CLEARANCE_DB_DIR": str(advisory_dir), "CLEARANCE_LEDGER_DB": live.db.url}
    # --no-ledger: the advisory database changes, the ledger does not
    code, out, err = cli("db", "import", advisory, "--no-ledger", env=ledger_env)
    assert code == 0, err
    assert out == "" and "re-matched" not in err
    code, out, _ = cli("affected", "PYSEC-2021-142", "--db", live.db.url, "--format", "json")
    assert json.loads(out)["results"] == []
    # a ledger configured ($CLEARANCE_LEDGER_DB): the import re-matches it and lists the release
    code, out, err = cli(
        "db", "import", advisory, "--log-key", str(live.key), env={**ledger_env, "COLUMNS": "200"}
    )
    assert code == 0, err
    assert "1 new matches, 1 newly affected releases, 1 findings recorded" in err
    assert "billing" in out and "pkg:pypi/pyyaml@5.3.1" in out and "PYSEC-2021-142" in out
    code, out, _ = cli("affected", "CVE-2020-14343", "--server", live.url, "--token", tok, "--format", "json")
    data = json.loads(out)
    assert data["services"] == ["billing"] and data["results"][0]["finding_status"] == "open"
    findings = json.loads(
        cli("ledger", "findings", "--service", "billing", "--db", live.db.url, "--format", "json")[1]
    )
    assert [f["rule_id"] for f in findings if f["scanner"] == "ledger"] == ["vuln.PYSEC-2021-142"]
    # the same import again (--ledger-db given explicitly): nothing is newly affected
    code, out, err = cli(
        "db",
        "import",
        advisory,
        "--ledger-db",
        live.db.url,
        "--log-key",
        str(live.key),
        "--format",
        "json",
        env={"CLEARANCE_DB_DIR": str(advisory_dir)},
    )
    assert code == 0, err
    assert json.loads(out)["new_matches"] == 0 and json.loads(out)["newly_affected"] == []
    assert live.admin("verify-log")[0] == 0


def test_rematch_finds_last_months_release_for_todays_advisory(
    live: Live, demo_runs: DemoRuns, zero_day: tuple[Path, bytes], tmp_path: Path
) -> None:
    partial_db, bundle = zero_day
    advisory_dir = live.advisory_dir  # the server's advisory database: without the pyyaml advisory
    shutil.rmtree(advisory_dir)
    shutil.copytree(partial_db, advisory_dir)
    assert live.admin("key", "add", str(demo_runs.public_key), "--team", "payments")[0] == 0
    tok = _token(live, "payments", "ingest,read")
    (tmp_path / "b.tar.gz").write_bytes(bundle)
    code, out, err = cli(
        "push",
        str(tmp_path / "b.tar.gz"),
        "--server",
        live.url,
        "--token",
        tok,
        "--service",
        "billing",
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["verified"] is True
    code, out, _ = cli("affected", "PYSEC-2021-142", "--db", live.db.url, "--format", "json")
    assert json.loads(out)["results"] == []
    # today's advisory arrives: import it, re-match every stored release
    env = {"CLEARANCE_DB_DIR": str(advisory_dir)}
    code, _, err = cli(
        "db", "import", str(REPO / "examples" / "advisories" / "PyPI" / "PYSEC-2021-142.json"), env=env
    )
    assert code == 0, err
    code, out, err = cli(
        "ledger",
        "rematch",
        "--db",
        live.db.url,
        "--log-key",
        str(live.key),
        "--advisory-db",
        str(advisory_dir),
        "--format",
        "json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["findings_recorded"] == 1
    assert [(a["service"], a["component"], a["advisory_id"]) for a in result["newly_affected"]] == [
        ("billing", "pkg:pypi/pyyaml@5.3.1", "PYSEC-2021-142")
    ]
    code, out, _ = cli("affected", "CVE-2020-14343", "--server", live.url, "--token", tok, "--format", "json")
    data = json.loads(out)
    assert data["services"] == ["billing"] and data["results"][0]["finding_status"] == "open"
    assert "5.4" in data["results"][0]["fixed_versions"]
    # re-matching again finds nothing new
    code, out, _ = cli(
        "ledger",
        "rematch",
        "--db",
        live.db.url,
        "--log-key",
        str(live.key),
        "--advisory-db",
        str(advisory_dir),
        "--format",
        "json",
    )
    assert json.loads(out)["new_matches"] == 0
    assert live.admin("verify-log")[0] == 0


def test_gate_runs_take_over_and_fix_the_findings_a_rematch_recorded(
    live: Live, demo_runs: DemoRuns, zero_day: tuple[Path, bytes], tmp_path: Path
) -> None:
    """A re-match records pyyaml's advisory for last month's release (scanner `ledger`). A later full
    run that no longer ships pyyaml fixes it; a run whose deps scanner reports it continues the
    same finding (linked by component + advisory group, never a duplicate)."""
    advisory_dir, tok = _push_last_months_release(live, demo_runs, zero_day, tmp_path)
    advisory = str(REPO / "examples" / "advisories" / "PyPI" / "PYSEC-2021-142.json")
    code, _, err = cli(
        "db",
        "import",
        advisory,
        "--ledger-db",
        live.db.url,
        "--log-key",
        str(live.key),
        env={"CLEARANCE_DB_DIR": str(advisory_dir)},
    )
    assert code == 0, err

    def pyyaml() -> list[dict[str, object]]:
        out = cli("ledger", "findings", "--status", "all", "--db", live.db.url, "--format", "json")[1]
        return [f for f in json.loads(out) if (f["component_purl"] or "").startswith("pkg:pypi/pyyaml")]

    [recorded] = pyyaml()
    assert recorded["scanner"] == "ledger" and recorded["status"] == "open"

    def push(report: bytes, version: str) -> dict[str, object]:
        path = tmp_path / f"{version}.json"
        path.write_bytes(report)
        code, out, err = cli(
            "push", str(path), "--server", live.url, "--token", tok, "--service", "billing",
            "--version", version, "--format", "json",
        )  # fmt: skip
        assert code == 0, err
        result: dict[str, object] = json.loads(out)
        return result

    full = json.loads(demo_runs.report1)
    assert full["target"].get("base") is None  # a full run
    assert {s["id"]: s["status"] for s in full["tool"]["scanners"]}["deps"] == "succeeded"
    upgraded = dict(
        full,
        findings=[
            f for f in full["findings"] if "pyyaml" not in ((f.get("component") or {}).get("purl") or "")
        ],
    )
    assert len(upgraded["findings"]) < len(full["findings"])
    # pyyaml upgraded: the deps scanner no longer reports it, the release no longer ships 5.3.1
    res = push(json.dumps(upgraded).encode(), "2.0")
    fixed = [f for f in res["findings"] if f["finding_id"] == recorded["id"]]  # type: ignore[attr-defined]
    assert [f["result"] for f in fixed] == ["fixed"] and "ledger" in res["closed_scanners"]  # type: ignore[operator]
    [after] = pyyaml()
    assert after["status"] == "fixed" and after["id"] == recorded["id"]
    # it comes back and the gate now knows the advisory: the same finding, reopened, taken over
    res = push(demo_runs.report1, "3.0")
    linked = [f for f in res["findings"] if f["finding_id"] == recorded["id"]]  # type: ignore[attr-defined]
    assert [(f["result"], f["matched"]) for f in linked] == [("reopened", "service+component+advisory")]
    [again] = pyyaml()
    assert again["id"] == recorded["id"] and again["scanner"] == "deps" and again["status"] == "reopened"
    # pushed again (new bytes, same findings): matched by its new fingerprint, nothing duplicated
    res = push(demo_runs.report1 + b"\n", "3.0")
    assert res["counts"]["created"] == 0 and res["counts"]["fixed"] == 0  # type: ignore[index]
    assert [f["id"] for f in pyyaml()] == [recorded["id"]]
    assert live.admin("verify-log")[0] == 0


def test_a_rematch_finding_stays_open_while_the_release_still_ships_the_component(
    live: Live, demo_runs: DemoRuns, zero_day: tuple[Path, bytes], tmp_path: Path
) -> None:
    """The gate's advisory data may lag the server's: a full run of the same release (it still
    ships pyyaml 5.3.1) does not fix the ledger's finding just because its deps scanner, on the old
    advisory database, does not report it."""
    from clearance.evidence.bundle import read_bundle

    advisory_dir, tok = _push_last_months_release(live, demo_runs, zero_day, tmp_path)
    advisory = str(REPO / "examples" / "advisories" / "PyPI" / "PYSEC-2021-142.json")
    code, _, err = cli(
        "db", "import", advisory, "--ledger-db", live.db.url, "--log-key", str(live.key),
        env={"CLEARANCE_DB_DIR": str(advisory_dir)},
    )  # fmt: skip
    assert code == 0, err
    _, bundle = zero_day
    (tmp_path / "again.tar.gz").write_bytes(bundle)
    rerun = read_bundle(tmp_path / "again.tar.gz")["results.json"] + b"\n"  # same commit, new bytes
    (tmp_path / "rerun.json").write_bytes(rerun)
    code, out, err = cli(
        "push", str(tmp_path / "rerun.json"), "--server", live.url, "--token", tok,
        "--service", "billing", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["duplicate"] is False and res["mode"] == "full"
    assert res["counts"]["fixed"] == 0 and res["counts"]["created"] == 0
    out = cli("ledger", "findings", "--db", live.db.url, "--format", "json")[1]
    ledger_findings = [f for f in json.loads(out) if f["scanner"] == "ledger"]
    assert [(f["rule_id"], f["status"]) for f in ledger_findings] == [("vuln.PYSEC-2021-142", "open")]


def test_ledger_tables_fit_80_columns_without_breaking_identifiers(
    live: Live, demo_runs: DemoRuns, tmp_path: Path
) -> None:
    tok = _token(live, "payments", "ingest,read")
    _token(live, "search", "read")
    (tmp_path / "r1.json").write_bytes(demo_runs.report1)
    code, _, err = cli("push", str(tmp_path / "r1.json"), "--server", live.url, "--token", tok)
    assert code == 0, err
    narrow = {"COLUMNS": "80"}
    findings = json.loads(cli("ledger", "findings", "--db", live.db.url, "--format", "json")[1])
    affected = json.loads(cli("affected", "CVE-2024-56326", "--db", live.db.url, "--format", "json")[1])
    tokens = json.loads(cli("ledger", "token", "list", "--db", live.db.url, "--format", "json")[1])
    for args, whole in (
        (["ledger", "findings", "--db", live.db.url], [(f["service"], f["rule_id"]) for f in findings]),
        (["affected", "CVE-2024-56326", "--db", live.db.url], [(r["service"], r["component"]) for r in affected["results"]]),
        (["ledger", "token", "list", "--db", live.db.url], [(str(t["id"]), t["prefix"]) for t in tokens]),
    ):  # fmt: skip
        code, out, err = cli(*args, env=narrow)
        assert code == 0, err
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= 80, out
        for ids in whole:  # each identifier whole, on one line with the others of its row
            assert any(all(i in line for i in ids) for line in lines), (ids, out)
    # the wide terminal shows every column; the narrow one says which it left out
    code, out, err = cli("ledger", "findings", "--db", live.db.url, env={"COLUMNS": "250"})
    assert "days_open" in out and "left out" not in err
    code, out, err = cli("ledger", "findings", "--db", live.db.url, env=narrow)
    assert "days_open" not in out and "left out at 80 columns" in err and "days_open" in err


@pytest.fixture
def small_server(ledger_db: LedgerDB, tmp_path: Path) -> Iterator[tuple[str, list[tuple[str, str, int]]]]:
    """A live server that accepts pushes of at most 300 kB and records every request it reads
    (method, path, body bytes)."""
    seen: list[tuple[str, str, int]] = []
    settings = ServerSettings(
        db_url=ledger_db.url,
        log_key_path=tmp_path / "log.key",
        migrate=False,
        max_request_bytes=300_000,
        max_bundle_bytes=200_000,
    )
    app = create_app(settings, clock=Clock(), engine=ledger_db.engine)

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        index = len(seen)
        seen.append((scope["method"], scope["path"], 0))

        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                method, path, n = seen[index]
                seen[index] = (method, path, n + len(message.get("body", b"")))
            return message

        await app(scope, counted, send)

    with serving(recorded) as url:
        yield url, seen


def test_push_refuses_an_oversized_bundle_before_uploading_it(
    small_server: tuple[str, list[tuple[str, str, int]]], ledger_db: LedgerDB, tmp_path: Path
) -> None:
    url, seen = small_server
    code, tok, err = cli("ledger", "token", "create", "--team", "payments", "--scope", "ingest",
                         "--db", ledger_db.url, "--log-key", str(tmp_path / "log.key"))  # fmt: skip
    assert code == 0, err
    big = tmp_path / "big.bundle.tar.gz"
    big.write_bytes(b"\x1f\x8b" + os.urandom(250_000))
    code, _, err = cli("push", str(big), "--server", url, "--token", tok.strip(), env={"COLUMNS": "200"})
    assert code != 0
    assert "the bundle is 250,002 bytes" in err and "at most 200,000 bytes (max_bundle_bytes)" in err
    assert "nothing was uploaded" in err and "Traceback" not in err
    assert [(m, p) for m, p, _ in seen] == [("GET", "/api/v1/limits")]  # never POSTed
    assert sum(n for _, _, n in seen) == 0


def test_a_token_in_the_server_url_is_used_and_never_shown(
    live: Live, demo_runs: DemoRuns, tmp_path: Path
) -> None:
    tok = _token(live, "payments", "ingest,read")
    host = live.url.removeprefix("http://")
    (tmp_path / "r1.json").write_bytes(demo_runs.report1)
    code, out, err = cli(
        "push", str(tmp_path / "r1.json"), "--server", f"http://ci:{tok}@{host}", "--service", "billing"
    )
    assert code == 0, err
    assert "created" in out and tok not in out + err
    code, out, err = cli("ledger", "findings", "--server", f"http://{tok}@{host}", "--format", "json")
    assert code == 0, err and json.loads(out)
    # a different token in the URL and on the command line: refused, the secret not echoed
    other = _token(live, "payments", "read")
    code, out, err = cli(
        "affected", "CVE-2024-56326", "--server", f"http://ci:{tok}@{host}", "--token", other
    )
    assert code != 0 and "differs" in err and tok not in out + err and other not in out + err
    # an unreachable server named in an error: without its credentials
    code, out, err = cli("ledger", "findings", "--server", f"http://ci:{tok}@127.0.0.1:9")
    assert code != 0 and "127.0.0.1:9" in err and tok not in out + err


def test_counts_by_severity_read_as_words_worst_first(capsys: pytest.CaptureFixture[str]) -> None:
    """`ledger debt`'s overdue table showed `{'critical': 3, 'high': 10}` (a Python dict)."""
    from clearance.cli.ledger import _emit

    rows = [{"team": "payments", "by_severity": {"high": 10, "info": 1, "critical": 3, "unknown": 2}}]
    _emit(rows, ["team", "by_severity"], "table", "overdue by team")
    out = capsys.readouterr().out
    assert "critical 3, high 10, unknown 2, info 1" in out and "{" not in out


@pytest.mark.parametrize(
    ("title", "said"),
    [
        ("0 findings", "0 findings"),
        ("CVE-2024-56326: 0 services affected", "CVE-2024-56326: 0 services affected"),
        ("overdue by team", "overdue by team: none"),
    ],
)
def test_an_empty_table_says_so_instead_of_drawing_bare_headers(
    capsys: pytest.CaptureFixture[str], title: str, said: str
) -> None:
    from clearance.cli.ledger import _emit

    _emit([], ["team", "by_severity"], "table", title)
    out = capsys.readouterr().out
    assert out.strip() == said and "┃" not in out


def test_serve_on_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    """`ledger serve --db postgresql+psycopg://…` with nothing listening said "internal error …
    please report this" (exit 70); like every other ledger command it is exit 3 with the reason,
    and the URL's password is never shown."""
    url = "postgresql+psycopg://postgres:S3cretPW@127.0.0.1:1/ledger"
    code, out, err = cli("ledger", "serve", "--db", url, "--log-key", str(tmp_path / "k"), "--port", "1")
    assert code == 3, (code, err)
    assert "ledger database error" in err and "internal error" not in err
    assert "S3cretPW" not in out + err


def test_asking_an_empty_local_ledger_says_so(tmp_path: Path) -> None:
    """Without --server (or $CLEARANCE_SERVER) the CLI reads the local database, created empty on
    first use: "CVE-…: 0 service(s) affected" from it must not pass for an answer."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for args in (["affected", "CVE-2024-56326"], ["ledger", "findings"]):
        code, _, err = cli(*args, "--db", url, env={"COLUMNS": "80", "CLEARANCE_SERVER": ""})
        assert code == 0, err
        assert "holds no services" in err and "--server" in err, (args, err)
