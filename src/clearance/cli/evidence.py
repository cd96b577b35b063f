"""`clearance keygen`, `clearance sbom` and `clearance verify`; evidence options of `gate` live in cli/scan.py."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from pathlib import Path

import typer
from rich.console import Console

from clearance.cli.common import errors_to_exit, stderr
from clearance.config import load_settings
from clearance.decision import ExitCode, verify_exit_code
from clearance.errors import EvidenceError, UsageError
from clearance.evidence.sbom import SbomFormat, render_sbom
from clearance.pipeline import system_clock


def register(app: typer.Typer) -> None:
    """Add keygen, sbom and verify to the root app."""
    app.command("keygen")(keygen)
    app.command("sbom")(sbom_command)
    app.command("verify")(verify)


def keygen(
    output: Path = typer.Option(
        Path("clearance.key"), "--output", "-o", help="Private key file (mode 0600)."
    ),
    public: Path | None = typer.Option(None, "--public", help="Public key file (default: <output>.pub)."),
    key_type: str = typer.Option("ed25519", "--type", help="ed25519 or ecdsa-p256."),
    passphrase: bool = typer.Option(
        False, "--passphrase", help="Encrypt the private key (prompted, or CLEARANCE_KEY_PASSPHRASE)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Generate a signing key pair for evidence (ed25519 by default)."""
    from clearance.evidence import keys as keymod

    with errors_to_exit():
        try:
            kind = keymod.KeyType(key_type)
        except ValueError:
            raise UsageError(f"unknown key type {key_type!r}", hint="use ed25519 or ecdsa-p256") from None
        secret: bytes | None = None
        if passphrase:
            try:
                value = os.environ.get(keymod.PASSPHRASE_ENV) or getpass.getpass("passphrase: ")
            except EOFError:
                raise UsageError(
                    "no passphrase: standard input is closed", hint=f"set {keymod.PASSPHRASE_ENV}"
                ) from None
            if not value:
                raise UsageError("empty passphrase")
            secret = value.encode()
        pub = public or output.with_name(output.name + ".pub")
        keymod.write_key_pair(keymod.generate(kind, secret), output, pub, force=force)
        stderr.print(f"wrote private key {output} (mode 0600) and public key {pub}")


def sbom_command(
    path: Path = typer.Argument(Path("."), help="Directory or container image to inventory."),
    fmt: SbomFormat = typer.Option(
        SbomFormat.CYCLONEDX_JSON, "--format", "-f", help="cyclonedx-json or spdx-json."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to a file instead of stdout."),
    name: str | None = typer.Option(
        None, "--name", help="Name of the described application (default: directory name)."
    ),
    platform: str | None = typer.Option(
        None, "--platform", help="Image targets: the platform of a multi-platform image (e.g. linux/arm64)."
    ),
) -> None:
    """Write an SBOM of the lockfiles and manifests under PATH, or of a container image's OS and
    language packages (docs/images.md); no advisory database needed."""
    with errors_to_exit():
        from clearance.sources.image import image_spec_for

        spec = image_spec_for(path)
        image = None
        warnings: list[str] = []
        if spec is not None:
            from clearance.pipeline import image_inventory

            components, errors, warnings, image = image_inventory(spec, platform)
            commit = None
            default_name = image.name or path.name
        else:
            if not path.is_dir():
                raise UsageError(f"{path} is neither a directory nor a container image")
            from clearance.pipeline import inventory
            from clearance.sources import git

            settings, _ = load_settings(path)
            components, errors = inventory(path, settings)
            commit = git.head_commit(path)
            default_name = path.resolve().name
        document = render_sbom(
            fmt, components, name=name or default_name, now=system_clock(), commit=commit, image=image
        )
        for e in errors:
            stderr.print(f"[yellow]warning:[/] {e.path}: {e.message}", markup=True, highlight=False)
        for w in warnings:
            stderr.print(f"[yellow]warning:[/] {w}", markup=True, highlight=False)
        if output is None:
            typer.echo(document.text, nl=False)
        else:
            output.write_text(document.text, encoding="utf-8")
            stderr.print(f"wrote {fmt.value} SBOM with {document.components} components to {output}")
    if errors:
        raise typer.Exit(int(ExitCode.INCOMPLETE))


def verify(
    bundle: Path = typer.Argument(..., help="The release bundle (.tar.gz) to verify."),
    key: list[Path] = typer.Option(..., "--key", "-k", help="Public key(s) that may have signed it."),
    artifact: Path | None = typer.Option(
        None, "--artifact", help="The artifact file the bundle must be about."
    ),
    artifact_digest: str | None = typer.Option(
        None, "--artifact-digest", help="sha256:<hex> the bundle must be about."
    ),
    require_pass: bool = typer.Option(False, "--require-pass", help="Also fail unless the decision passed."),
    at: str | None = typer.Option(
        None, "--at", help="Check exceptions as of this time (ISO 8601; default now)."
    ),
) -> None:
    """Verify a release bundle offline: signatures, digests, subjects, decision and exception expiry."""
    from clearance.evidence import keys as keymod
    from clearance.evidence.attest import summary_lines
    from clearance.evidence.bundle import verify_bundle

    with errors_to_exit():
        if artifact and artifact_digest:
            raise UsageError("give --artifact or --artifact-digest, not both")
        from clearance.evidence.statements import Subject, artifact_subject, digest_subject

        subject: Subject | None = None
        try:
            if artifact is not None:
                subject = artifact_subject(artifact)
            elif artifact_digest is not None:
                subject = digest_subject(artifact_digest, "artifact")
        except EvidenceError as e:  # what the user typed, not the bundle, is wrong
            raise UsageError(e.message, hint=e.hint) from e
        when = _parse_at(at) if at else system_clock()
        keys = [keymod.load_public_key(k) for k in key]
        report = verify_bundle(bundle, keys, artifact=subject, at=when, require_pass=require_pass)
    out = Console()
    for check in report.checks:
        out.print(f"[green]ok[/]   {check}", highlight=False)
    if report.decision:
        for line in summary_lines(report.decision):
            out.print(f"     {line}", highlight=False, markup=False)
    if not report.valid:
        for problem in report.problems:
            stderr.print(f"[bold red]INVALID:[/] {problem}", highlight=False)
    else:
        out.print(f"[bold green]VALID[/] {bundle}", highlight=False)
    raise typer.Exit(int(verify_exit_code(report.valid)))


def _parse_at(value: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {value!r} is not an ISO 8601 time", hint="e.g. 2027-01-31 or 2027-01-31T12:00:00Z"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
