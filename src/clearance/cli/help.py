"""`--help` written for people: metavars that say what goes there, and real examples per command.

Typer would show Python types (`<list[Path]>`, `<bool>`). `HelpfulGroup`, the root command's
class, names every value once before the CLI runs (`METAVARS`: by option or argument name; flags
show nothing) and appends each command's examples (`EXAMPLES`: by command path) to its help.
A test walks every command: no Python type in any help text, examples for every command.
"""

from __future__ import annotations

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
}
"""What goes in each value, by parameter name (the same name means the same thing everywhere)."""

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
    "keygen": ("clearance keygen --output release.key --public release.pub",),
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
    "db import-kev": ("clearance db import-kev known_exploited_vulnerabilities.json",),
    "db import-epss": ("clearance db import-epss epss_scores-current.csv.gz",),
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
}
"""Two or three real invocations per command, by command path (every command a new user meets
first has them; commands without an entry show none)."""


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
            _name_value(param)
        if not getattr(command, "_clearance_help", False):
            command.get_help_option = _flag_help_option(command.get_help_option)
            command._clearance_help = True
        examples = EXAMPLES.get(path_str)
        if examples and not command.epilog:
            command.epilog = "Examples:\n\n" + "\n\n".join(f"  $ {e}" for e in examples)


def _name_value(param: Any) -> None:
    """A flag shows no value; anything else its metavar; an argument's name is its metavar."""
    if getattr(param, "is_flag", False):
        param.metavar = ""
    elif param.metavar is None:
        param.metavar = METAVARS.get(param.name) or str(param.name).upper().replace("_", "-")
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
