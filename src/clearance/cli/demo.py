"""`clearance ledger demo`: a living ledger in one command.

Seeds a ledger with a small organisation — three teams, four services, three months of gate
runs, deploy decisions, approvals, deployments, incidents, runtime signals, drift — generated
from the example repositories through the real paths: the `gate` command runs on each release
(in process, with its real options) and signs its evidence; the reports and bundles go through
the ledger's ingest; deploy decisions come from the same go/no-go the API answers with. Only
the clock (and the commit times it implies) is simulated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clearance.deploy import drift as tf_drift
from clearance.deploy.gonogo import ChangeFacts, DeployRequest, decide
from clearance.deploy.incidents import IncidentEvent
from clearance.deploy.policy import DeployPolicy, default_policy
from clearance.errors import UsageError
from clearance.evidence.keys import generate, load_public_key, write_key_pair
from clearance.ledger import store_deploy as sd
from clearance.ledger.ingest import Limits, Principal, Upload, ingest
from clearance.ledger.service import Ledger, create_token
from clearance.ledger.store import Store

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoService:
    """One service of the demo organisation."""

    name: str
    team: str
    source: str
    """`leaky` (examples/leaky-repo: the gate blocks) or `clean` (a generated repository that passes)."""
    releases: int


SERVICES = (
    DemoService("billing", "payments", "leaky", 2),
    DemoService("checkout", "payments", "clean", 5),
    DemoService("storefront", "web", "clean", 6),
    DemoService("auth-gateway", "platform", "clean", 3),
)
DAYS = 90


@dataclass(frozen=True)
class DemoResult:
    """What the demo created: where the tokens are, and counts."""

    tokens_file: Path
    runs: int
    deployments: int
    decisions: int


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def examples_dir() -> Path:
    """The repository's examples/ (the demo runs from a clone)."""
    return Path(__file__).resolve().parents[3] / "examples"


def seed(
    ledger: Ledger,
    workdir: Path,
    *,
    now: dt.datetime,
    examples: Path | None = None,
    policy: DeployPolicy | None = None,
    progress: Progress = lambda _: None,
    services: tuple[DemoService, ...] = SERVICES,
) -> DemoResult:
    """Fill `ledger` (empty, migrated) with the demo organisation; `now` is the end of the timeline."""
    examples = examples or examples_dir()
    if not (examples / "leaky-repo").is_dir() or not (examples / "advisories").is_dir():
        raise UsageError(
            f"{examples} has no leaky-repo/ and advisories/", hint="run from a clone of clearance"
        )
    policy = policy or default_policy()
    (workdir / "reports").mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261201)
    progress("importing the demo advisories")
    from clearance.scanners.vulns.advisories import OsvSource, database_path, import_osv

    advisories = workdir / "advisories"
    import_osv(database_path(advisories), [OsvSource(examples / "advisories")], now=now)
    key = workdir / "demo-signing.key"
    if not key.exists():
        write_key_pair(generate(), key, key.with_suffix(".key.pub"))
    pem = key.with_suffix(".key.pub").read_text()
    key_id = load_public_key(key.with_suffix(".key.pub")).keyid

    # The example repositories are copied outside any enclosing git repository (a target inside one
    # is scanned from that repository's root, with its ignore rules), and removed afterwards.
    repos = Path(tempfile.mkdtemp(prefix="clearance-demo-repos-"))
    clock = _Clock(now - dt.timedelta(days=DAYS))
    real_clock = ledger.clock
    ledger.clock = clock
    runs = deployments = decisions = 0
    try:
        with ledger.write() as store:
            for team in ("payments", "web", "platform", "security"):
                store.add_trusted_key(store.ensure_team(team), key_id, pem)
        for svc in services:
            progress(f"{svc.name}: {svc.releases} releases")
            start = now - dt.timedelta(days=DAYS - 3 - rng.randint(0, 5))
            step = dt.timedelta(days=(DAYS - 10) / svc.releases)
            for i in range(svc.releases):
                clock.now = start + step * i + dt.timedelta(hours=rng.randint(0, 8))
                r, d, n = _release(
                    ledger, clock, svc, i, workdir, examples, key, advisories, policy, rng, now.date(), repos
                )
                runs, deployments, decisions = runs + r, deployments + d, decisions + n
        clock.now = now - dt.timedelta(days=1)
        with ledger.write() as store:
            prod = sd.ensure_environment(store.session, "prod", policy.for_env("prod"))
            report = tf_drift.DriftReport(
                tf_drift.DriftStatus.DRIFTED,
                (tf_drift.DriftedResource("aws_security_group.gateway", ("update",), "resource_drift"),),
                "1.9.5",
                "1 resource(s) differ",
            )
            sd.record_drift(
                store.session,
                service=next((s.name for s in services if s.name == "auth-gateway"), services[-1].name),
                env=prod,
                report=report,
                source="terraform",
                actor="drift-job",
                now=store.now,
                audit=store.append_audit,
            )
        clock.now = now
        with ledger.write() as store:
            admin, _ = create_token(store, team=None, scopes=["admin"], name="demo-admin", expires_in_days=30)
            reader, _ = create_token(
                store, team="payments", scopes=["read"], name="payments-reader", expires_in_days=30
            )
    finally:
        ledger.clock = real_clock
        shutil.rmtree(repos, ignore_errors=True)
    tokens = workdir / "demo-tokens.txt"
    tokens.write_text(f"admin (all teams): {admin}\npayments (read): {reader}\n", encoding="utf-8")
    os.chmod(tokens, 0o600)
    return DemoResult(tokens, runs, deployments, decisions)


@contextmanager
def _advisory_db(directory: Path) -> Iterator[None]:
    saved = os.environ.get("CLEARANCE_DB_DIR")
    os.environ["CLEARANCE_DB_DIR"] = str(directory)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CLEARANCE_DB_DIR", None)
        else:
            os.environ["CLEARANCE_DB_DIR"] = saved


def _gate(
    repo: Path, report: Path, evidence: Path, key: Path, artifact: str, scanners: list[str] | None
) -> bytes:
    """The `gate` command on `repo`, as CI runs it (JSON report to a file, signed evidence) — invoked
    through its command line, so the demo follows every option the command gains."""
    import click
    import typer

    from clearance.cli import scan as scan_commands

    app = typer.Typer()  # the gate command alone (importing the root app would be an import cycle)

    @app.callback()
    def _root() -> None:
        """Keep `gate` a subcommand."""

    scan_commands.register(app)

    args = ["gate", str(repo), "--format", "json", "--output", str(report), "--quiet", "--jobs", "1"]
    args += ["--evidence", str(evidence), "--key", str(key), "--artifact-digest", artifact, "--env", "prod"]
    if scanners:
        args += ["--scanners", ",".join(scanners)]
    try:
        app(args, prog_name="clearance", standalone_mode=False)
    except click.exceptions.Exit as e:
        if e.exit_code not in (0, 1):
            raise UsageError(f"the demo gate run on {repo.name} failed (exit {e.exit_code})") from None
    except click.ClickException as e:
        raise UsageError(f"the demo gate run on {repo.name} failed: {e.format_message()}") from None
    return report.read_bytes()


def _exceptions(path: Path, today: dt.date) -> None:
    """Time-boxed risk acceptances as a team would declare them: one expiring soon, one still
    open, one expired (the gate then decides that finding again and says so)."""
    entries = [
        (
            "EXC-101",
            "iac.aws-s3-versioning",
            "infra/**",
            -30,
            10,
            "versioning lands with the bucket migration (PAY-88)",
        ),
        (
            "EXC-102",
            "iac.k8s-seccomp-unset",
            "k8s/**",
            -20,
            60,
            "runtime default profile enforced by the cluster",
        ),
        (
            "EXC-103",
            "iac.docker-healthcheck-missing",
            "Dockerfile",
            -40,
            -5,
            "health checked by the orchestrator",
        ),
    ]
    lines = ["exceptions:"]
    for ident, rule, glob, created, expires, reason in entries:
        lines += [
            f"  - id: {ident}",
            f"    match: {{rule: {rule}, path: '{glob}'}}",
            "    owner: payments",
            f"    reason: {reason}",
            f"    created: {today + dt.timedelta(days=created)}",
            f"    expires: {today + dt.timedelta(days=expires)}",
            "    approved_by: sec-oncall",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _repo(svc: DemoService, i: int, repos: Path, examples: Path, today: dt.date) -> Path:
    repo = repos / svc.name
    if i == 0:
        shutil.rmtree(repo, ignore_errors=True)
        if svc.source == "leaky":
            shutil.copytree(examples / "leaky-repo", repo)
            _exceptions(repo / ".clearance" / "exceptions.yaml", today)
        else:
            (repo / "app").mkdir(parents=True)
            (repo / "README.md").write_text(f"# {svc.name}\n\nOwned by {svc.team}.\n")
    if svc.source == "clean":
        (repo / "app" / "main.py").write_text(
            f'VERSION = "1.{i}.0"\n\n\ndef handler(event):\n    return {{"status": 200}}\n'
        )
        (repo / "docs").mkdir(exist_ok=True)
        (repo / "docs" / "CHANGELOG.md").write_text("".join(f"- 1.{k}.0\n" for k in range(i + 1)))
    elif i == 1:
        (repo / "deploy" / "deploy_key").unlink(missing_ok=True)
    return repo


def _release(
    ledger: Ledger,
    clock: _Clock,
    svc: DemoService,
    i: int,
    workdir: Path,
    examples: Path,
    key: Path,
    advisories: Path,
    policy: DeployPolicy,
    rng: random.Random,
    today: dt.date,
    repos: Path,
) -> tuple[int, int, int]:
    commit_time = clock.now - dt.timedelta(hours=rng.randint(4, 60))
    repo = _repo(svc, i, repos, examples, today)
    version = f"1.{i}.0"
    digest = "sha256:" + hashlib.sha256(f"{svc.name}-{version}".encode()).hexdigest()
    evidence = workdir / "evidence" / svc.name / version
    shutil.rmtree(evidence, ignore_errors=True)
    with _advisory_db(advisories):
        report = _gate(
            repo,
            workdir / "reports" / f"{svc.name}-{version}.json",
            evidence,
            key,
            f"ghcr.io/acme/{svc.name}@{digest}",
            ["secrets", "iac"] if svc.source == "clean" else None,
        )
    bundle = next(iter(sorted(evidence.glob("*.bundle.tar.gz"))), None)
    with ledger.write() as store:
        team = store.ensure_team(svc.team)
        ingest(
            store,
            Upload(
                report=report,
                bundle=bundle.read_bytes() if bundle else None,
                service=svc.name,
                version=version,
            ),
            Principal(actor=f"ci:{svc.name}", team_id=team.id, admin=False),
            Limits(),
        )
        service = store.service(svc.name)
        if service is not None and service.team_id is None:
            service.team_id = team.id
    decisions = deployments = 0
    owner, security = f"{svc.team}-lead", "sec-oncall"
    requester = f"{svc.team}-dev"
    for env_name in ("staging", "prod"):
        clock.now += dt.timedelta(minutes=rng.randint(20, 90))
        with ledger.write() as store:
            answer = _check(store, policy, svc.name, env_name, digest, version, requester, i)
            decisions += 1
            if answer == "needs-approval":
                for approver, group in ((owner, svc.team), (security, "security")):
                    clock.now += dt.timedelta(minutes=rng.randint(15, 240))
                    store.now = clock.now
                    sd.add_approval(
                        store.session,
                        service=svc.name,
                        env=env_name,
                        digest=digest,
                        approver=approver,
                        groups=[group],
                        comment="",
                        now=store.now,
                        audit=store.append_audit,
                    )
                store.now = clock.now
                answer = _check(store, policy, svc.name, env_name, digest, version, requester, i)
                decisions += 1
            if answer != "allow":
                continue
            env_row = sd.ensure_environment(store.session, env_name, policy.for_env(env_name))
            failed = env_name == "prod" and rng.random() < 0.18
            started = clock.now
            finished = started + dt.timedelta(minutes=rng.randint(3, 12))
            dep = sd.record_deployment(
                store.session,
                service=svc.name,
                env=env_row,
                digest=digest,
                version=version,
                commit=None,
                status="rolled_back" if failed else "succeeded",
                started_at=started,
                finished_at=finished,
                commits=[
                    sd.CommitInfo(
                        f"{svc.name[:4]}{i}{k}".ljust(12, "0"), commit_time - dt.timedelta(hours=k * 7)
                    )
                    for k in range(3)
                ],
                deployer="argo-cd",
                source="demo",
                external_id=f"{svc.name}-{version}-{env_name}",
                now=store.now,
                audit=store.append_audit,
            )
            deployments += 1
            if env_name == "prod" and not failed and rng.random() < 0.35:
                opened = finished + dt.timedelta(hours=rng.randint(1, 30))
                resolved = opened + dt.timedelta(minutes=rng.choice((25, 50, 140, 300, 900)))
                event = IncidentEvent(
                    source="pagerduty",
                    external_id=f"P{dep.id:05d}",
                    service=svc.name,
                    env="prod",
                    title=f"{svc.name} error rate above SLO",
                    severity=rng.choice(("critical", "high", "medium")),
                    opened_at=opened,
                    resolved_at=resolved
                    if opened + dt.timedelta(days=1) < clock.now + dt.timedelta(days=30)
                    else None,
                )
                sd.record_incident(
                    store.session, event, env_row, "pagerduty", store.now, audit=store.append_audit
                )
            if env_name == "prod" and svc.name == "storefront" and i % 2 == 1:
                sd.record_signal(
                    store.session,
                    service=svc.name,
                    env=env_row,
                    digest=digest,
                    kind="falco",
                    source="falco",
                    payload={
                        "severity": "high",
                        "rule": "Terminal shell in container",
                        "message": "shell in storefront pod",
                    },
                    observed_at=finished + dt.timedelta(hours=5),
                    actor="falco",
                    now=store.now,
                    audit=store.append_audit,
                )
    return 1, deployments, decisions


def _check(
    store: Store,
    policy: DeployPolicy,
    service: str,
    env: str,
    digest: str,
    version: str,
    requester: str,
    i: int,
) -> str:
    env_policy = policy.for_env(env)
    sd.ensure_environment(store.session, env, env_policy)
    request = DeployRequest(service=service, env=env, digest=digest, version=version, requester=requester)
    change = (
        ChangeFacts(("docs/CHANGELOG.md",), 3)
        if i % 3 == 2
        else ChangeFacts(("app/main.py", "docs/CHANGELOG.md"), 12)
    )
    facts = sd.gather_facts(store.session, request, env_policy, store.now, change)
    decision = decide(facts, env_policy, store.now)
    sd.record_decision(store.session, decision, "demo-pipeline", audit=store.append_audit)
    return decision.answer.value
