"""`--help` written for people: metavars that say what goes there, and real examples per command.

Typer would show Python types (`<list[Path]>`, `<bool>`). `HelpfulGroup`, the root command's
class, names every value once before the CLI runs (`METAVARS`: by option or argument name; flags
show nothing) and appends each command's examples (`EXAMPLES`: by command path) to its help.
A test walks every command: no Python type in any help text, examples for every command.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from typer.core import TyperGroup

METAVARS: dict[str, str] = {
    "path": "PATH",
    "paths": "PATH",
    "bundle": "BUNDLE",
    "fingerprint": "FINGERPRINT",
    "file": "FILE",
    "scanners": "IDS",
    "fmt": "FORMAT",
    "output": "FORMAT:FILE",
    "ref": "REF",
    "base": "REF",
    "config": "FILE",
    "jobs": "N",
    "fail_on": "SEVERITY",
    "min_severity": "SEVERITY",
    "baseline": "REPORT.json",
    "evidence": "DIR",
    "key": "KEY",
    "artifact": "FILE",
    "artifact_digest": "NAME@sha256:HEX",
    "env": "ENV",
    "approvals": "FILE|github",
    "explain": "FINGERPRINT",
    "repository": "OWNER/REPO",
    "commit": "SHA",
    "branch": "BRANCH",
    "pr": "N",
    "run_url": "URL",
    "actor": "LOGIN",
    "annotations": "FILE",
    "gitlab_reports": "DIR",
    "db_max_age": "DAYS",
    "platform": "OS/ARCH",
    "public": "FILE",
    "key_type": "TYPE",
    "name": "NAME",
    "at": "DATE",
    "ecosystem": "ECOSYSTEM",
    "ecosystems": "ECOSYSTEM",
    "db_dir": "DIR",
    "root": "DIR",
    "owner": "TEAM",
    "reason": "TEXT",
    "expires": "30d|YYYY-MM-DD",
    "rule": "RULE",
    "component": "PURL",
    "advisory": "ID",
    "approved_by": "LOGIN",
    "control": "TEXT",
    "ticket": "URL",
    "severity": "SEVERITY",
    "ident": "EXC-N",
    "server": "URL",
    "db_url": "URL",
    "token": "TOKEN",
    "service": "SERVICE",
    "version": "VERSION",
    "digest": "sha256:HEX",
    "team": "TEAM",
    "report": "FILE",
    "log_key": "FILE",
    "advisory_db": "DIR",
    "deploy_policy": "FILE",
    "link_base": "URL",
    "host": "HOST",
    "port": "PORT",
    "within_days": "DAYS",
    "expires_days": "DAYS",
    "days": "DAYS",
    "interval": "SECONDS",
    "limit": "N",
    "detail": "TEXT",
    "author": "NAME",
    "comment": "TEXT",
    "requester": "NAME",
    "changed": "FILE",
    "changed_lines": "N",
    "started": "TIME",
    "finished": "TIME",
    "external_id": "ID",
    "plan": "FILE|-",
    "exit_code": "CODE",
    "query": "ADVISORY|PURL",
    "version_range": "RANGE",
    "push": "URL",
    "public_key": "FILE",
    "token_id": "ID",
    "workdir": "DIR",
    "examples": "DIR",
    "window": "DAYS",
    "kind": "dora|security",
    "scope": "SCOPES",
    "tier": "TIER",
    "state": "STATE",
    "status": "STATUS",
    "justification": "JUSTIFICATION",
    "response": "RESPONSE",
}
"""What goes in each value, by parameter name (the same name means the same thing everywhere)."""

COMMAND_METAVARS: dict[str, str] = {
    "keygen:output": "FILE",
    "sbom:output": "FILE",
    "deploy check:output": "FORMAT",
    "ledger metrics:output": "FORMAT",
    "deploy record:commit": "SHA=TIME",
    "ledger demo:db": "URL",
    "ledger metrics:window": "DURATION",
}
"""Where one command uses a name for something else (`command path:parameter name`)."""

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "clearance gate .",
        "clearance gate . --base origin/main --update-db",
        "clearance exceptions add --fingerprint FP --owner team-a --reason WHY --expires 30d",
    ),
    "scan": (
        "clearance scan .",
        "clearance scan . --format json --output sarif:results.sarif",
        "clearance scan --history --ref main",
    ),
    "gate": (
        "clearance gate .",
        "clearance gate . --base origin/main --env prod --update-db",
        "clearance gate . --baseline baseline.json --min-severity high",
    ),
    "init": ("clearance init", "clearance init services/api --force"),
    "keygen": (
        "clearance keygen --output release.key --public release.pub",
        "clearance keygen --output ci.key --type ecdsa-p256 --passphrase",
    ),
    "sbom": ("clearance sbom . --format cyclonedx --output sbom.json", "clearance sbom . --format spdx"),
    "verify": (
        "clearance verify bundle.json --key release.pub",
        "clearance verify bundle.json --key release.pub --artifact dist/app.tar.gz --require-pass",
    ),
    "rules list": ("clearance rules list", "clearance rules list --scanners iac --format json"),
    "db import": (
        "clearance db import PyPI-all.zip npm-all.zip",
        "clearance db import examples/advisories --db-dir .demo-db",
    ),
    "db update": ("clearance db update", "clearance db update --ecosystem PyPI --no-epss"),
    "db status": ("clearance db status", "clearance db status --format json"),
    "db import-kev": (
        "clearance db import-kev known_exploited_vulnerabilities.json",
        "clearance db import-kev known_exploited_vulnerabilities.json --db-dir /var/cache/clearance",
    ),
    "db import-epss": (
        "clearance db import-epss epss_scores-current.csv.gz",
        "clearance db import-epss epss_scores-current.csv.gz --db-dir /var/cache/clearance",
    ),
    "policy explain": (
        "clearance policy explain 9356ff15137ff5b111ecaa888866ccb9",
        "clearance policy explain 9356ff15137ff5b111ecaa888866ccb9 . --env prod --format json",
    ),
    "exceptions list": ("clearance exceptions list", "clearance exceptions list --format json"),
    "exceptions add": (
        'clearance exceptions add --fingerprint 9356ff15137ff5b111ecaa888866ccb9 --owner team-a --reason "test key" --expires 30d',
        'clearance exceptions add --advisory GHSA-j8r2-6x86-q33q --owner team-a --reason "not reachable" --expires 2027-01-31',
    ),
    "exceptions check": ("clearance exceptions check", "clearance exceptions check --root services/api"),
    "rules": ("clearance rules list", "clearance rules list --scanners secrets --format json"),
    "db": ("clearance db update", "clearance db status"),
    "policy": ("clearance policy explain 9356ff15",),
    "exceptions": ("clearance exceptions list", "clearance exceptions check"),
    "push": (
        "clearance push out/myrepo.bundle.tar.gz --server https://ledger.internal",
        "clearance push run.json --server https://ledger.internal --service billing",
    ),
    "affected": (
        "clearance affected CVE-2024-56326 --server https://ledger.internal",
        "clearance affected pkg:pypi/jinja2 --range '<3.1.5'",
    ),
    "ledger": ("clearance ledger serve", "clearance ledger findings --team payments --overdue"),
    "ledger serve": (
        "clearance ledger serve",
        "clearance ledger serve --db postgresql+psycopg://ledger@db.internal/ledger --host 0.0.0.0 --port 8080",
        "clearance ledger serve --routing routing.toml --deploy-policy deploy-policy.yaml",
    ),
    "ledger migrate": (
        "clearance ledger migrate",
        "clearance ledger migrate --db postgresql+psycopg://ledger@db.internal/ledger",
    ),
    "ledger findings": (
        "clearance ledger findings --team payments --overdue",
        "clearance ledger findings --service billing --severity critical --format csv",
    ),
    "ledger debt": ("clearance ledger debt", "clearance ledger debt --within-days 14 --format json"),
    "ledger verify-log": ("clearance ledger verify-log", "clearance ledger verify-log --key ledger-log.pub"),
    "ledger sync-catalog": (
        "clearance ledger sync-catalog .",
        "clearance ledger sync-catalog ../billing ../payments-api",
    ),
    "ledger rematch": (
        "clearance ledger rematch",
        "clearance ledger rematch --advisory-db .demo-db --format json",
    ),
    "ledger triage": (
        "clearance ledger triage --service billing --component pkg:pypi/jinja2@2.11.2 --advisory CVE-2024-56326 "
        "--state not_affected --justification code_not_reachable",
        "clearance ledger triage --service billing --component pkg:pypi/jinja2@2.11.2 --advisory CVE-2024-56326 "
        "--state in_triage --server https://ledger.internal",
    ),
    "ledger worker": (
        "clearance ledger worker --routing routing.toml",
        "clearance ledger worker --routing routing.toml --db postgresql+psycopg://ledger@db/ledger --once",
    ),
    "ledger routing-check": (
        "clearance ledger routing-check routing.toml",
        "clearance ledger routing-check deploy/notifications/routing.toml",
    ),
    "ledger metrics": (
        "clearance ledger metrics dora --team payments --window 90d",
        "clearance ledger metrics security --format json",
    ),
    "ledger demo": ("clearance ledger demo", "clearance ledger demo --workdir /tmp/clearance-demo"),
    "ledger sla": ("clearance ledger sla show --tier tier-1",),
    "ledger sla set": (
        "clearance ledger sla set --tier tier-1 --severity critical --days 3",
        "clearance ledger sla set --severity high --days 30",
    ),
    "ledger sla show": ("clearance ledger sla show", "clearance ledger sla show --tier tier-1 --format json"),
    "ledger token": ("clearance ledger token create --team payments --scope ingest,read --name ci",),
    "ledger token create": (
        "clearance ledger token create --team payments --scope ingest,read --name ci",
        "clearance ledger token create --scope admin --name security-team --expires-days 30",
    ),
    "ledger token list": ("clearance ledger token list", "clearance ledger token list --format json"),
    "ledger token revoke": (
        "clearance ledger token revoke 3",
        "clearance ledger token revoke 3 --db postgresql+psycopg://ledger@db.internal/ledger",
    ),
    "ledger key": ("clearance ledger key add --team payments payments-ci.pub",),
    "ledger key add": (
        "clearance ledger key add --team payments payments-ci.pub",
        "clearance ledger key add --team platform release.pub --db postgresql+psycopg://ledger@db.internal/ledger",
    ),
    "ledger deliveries": (
        "clearance ledger deliveries --state dead",
        "clearance ledger deliveries --team payments --format json",
    ),
    "ledger deliveries retry": (
        "clearance ledger deliveries retry",
        "clearance ledger deliveries retry 12 13",
    ),
    "deploy": (
        "clearance deploy check --service billing --env prod --digest $DIGEST",
        "clearance deploy record --service billing --env prod --digest $DIGEST --started 2026-12-06T10:00:00Z",
    ),
    "deploy check": (
        "clearance deploy check --service billing --env prod --digest $DIGEST",
        "clearance deploy check --service billing --env prod --version 1.4.2",
        "clearance deploy check --service billing --env staging --digest $DIGEST --changed-files changed.txt "
        "--format json",
    ),
    "deploy releases": (
        "clearance deploy releases --service billing",
        "clearance deploy releases --service billing --version 1.4.2 --format json",
    ),
    "deploy approve": (
        "clearance deploy approve --service billing --env prod --digest $DIGEST",
        'clearance deploy approve --service billing --env prod --digest $DIGEST --comment "reviewed the diff"',
    ),
    "deploy record": (
        "clearance deploy record --service billing --env prod --digest $DIGEST --started 2026-12-06T10:00:00Z",
        "clearance deploy record --service billing --env prod --digest $DIGEST --status failed "
        "--started 2026-12-06T10:00:00Z --id deploy-4711",
    ),
    "drift": ("clearance drift report --service billing --env prod --plan drift.json",),
    "drift report": (
        "clearance drift report --service billing --env prod --plan drift.json",
        "clearance drift report --service billing --env prod --exit-code 2",
    ),
}
"""Real invocations per command and group, by command path: every command shows them (a test
walks the whole CLI)."""


class HelpfulGroup(TyperGroup):
    """The root command: names every parameter's value and adds examples before running."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Describe every command once, then run as usual."""
        describe(self)
        return super().main(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        """Run the command. An EOFError escaping it is a bug (a stream that ended early and was not
        turned into a clear error), not the user closing a prompt: Click would print "Aborted." and
        exit 1 — the code of a policy block — so it becomes an internal error (exit 70) instead."""
        try:
            return super().invoke(ctx)
        except EOFError as e:
            raise StrayEndOfInput(f"unexpected end of input: {e}") from e


class StrayEndOfInput(RuntimeError):
    """An EOFError that reached the command line (reported as an internal error, exit 70)."""


def describe(root: Any, path: tuple[str, ...] = ()) -> None:
    """Set metavars and example epilogs on `root` (at command `path`) and every command under it
    that is already built (idempotent; lazily imported commands are described when built)."""
    for path_str, command in walk(root, path, built_only=True):
        for param in command.params:
            _name_value(param, path_str)
        if not getattr(command, "_clearance_help", False):
            command.get_help_option = _flag_help_option(command.get_help_option)
            command._clearance_help = True
        summary = inspect.cleandoc(command.help or "").split("\n\n")[0].strip()
        if command.short_help is None and "\n" in summary:
            # a group's command list keeps a docstring's line breaks (Typer's rich mode): one line
            command.short_help = " ".join(summary.split())
        examples = EXAMPLES.get(path_str)
        if examples and not command.epilog:
            command.epilog = "Examples:\n\n" + "\n\n".join(f"  $ {e}" for e in examples)


def _name_value(param: Any, path: str = "") -> None:
    """A flag shows no value; anything else its metavar; an argument's name is its metavar."""
    if getattr(param, "is_flag", False):
        param.metavar = ""
    elif param.metavar is None:
        param.metavar = (
            COMMAND_METAVARS.get(f"{path}:{param.name}")
            or METAVARS.get(param.name)
            or str(param.name).upper().replace("_", "-")
        )
    if param.param_type_name == "argument":
        param.display_type_rich = _no_type  # the name (PATH, BUNDLE...) already says what goes there


def _no_type(ctx: Any = None) -> None:
    return None


def _flag_help_option(original: Any) -> Any:
    def help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
        return option

    return help_option


def walk(command: Any, path: tuple[str, ...] = (), *, built_only: bool = False) -> Iterator[tuple[str, Any]]:
    """(`"db update"`, command) for `command` and every command and group under it (root: `""`).
    `built_only`: skip the root's commands whose modules are not imported yet (`cli.COMMANDS`)."""
    yield " ".join(path), command
    commands = getattr(command, "commands", None) or {}
    if built_only and hasattr(commands, "loaded"):
        commands = commands.loaded()
    for name, sub in commands.items():
        yield from walk(sub, (*path, name), built_only=built_only)
