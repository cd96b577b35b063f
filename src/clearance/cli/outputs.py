"""Every output of `scan` and `gate`, written one way: reports (stdout and files), GitHub
annotations, GitLab security reports and the signed evidence bundle.

The CLI checks the requested outputs before the scan starts (`plan_outputs`), then hands the
finished run's `ReportData` to `write_outputs`. Renderers never write; this module does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from clearance.cli.common import OutputTarget, parse_outputs, stderr
from clearance.errors import EvidenceError, UsageError

if TYPE_CHECKING:
    from clearance.report.base import ReportData


@dataclass(frozen=True)
class EvidencePlan:
    """What `--evidence` asked for, checked before the scan starts."""

    out_dir: Path
    signer: Any
    subjects: list[Any]


@dataclass(frozen=True)
class OutputPlan:
    """Every output one command writes."""

    reports: list[OutputTarget]
    annotations: Path | None = None
    """GitHub workflow commands; `-` is stdout."""
    gitlab_dir: Path | None = None
    evidence: EvidencePlan | None = None
    quiet: bool = False
    bundle_name: str = "release"
    extra: dict[str, Any] = field(default_factory=dict)


def plan_outputs(
    fmt: str | None,
    outputs: list[str],
    *,
    quiet: bool,
    annotations: Path | None = None,
    gitlab_dir: Path | None = None,
    evidence: EvidencePlan | None = None,
    bundle_name: str = "release",
) -> OutputPlan:
    """Combine the output options; a wrong one is a usage error before anything is scanned."""
    from clearance.report import Format

    names = {f.value for f in Format}
    reports = parse_outputs(fmt, outputs, lambda name: name in names)
    return OutputPlan(reports, annotations, gitlab_dir, evidence, quiet, bundle_name)


def plan_evidence(
    out_dir: Path | None, key: Path | None, artifacts: list[Path], digests: list[str]
) -> EvidencePlan | None:
    """`--evidence DIR --key KEY --artifact FILE --artifact-digest D`, checked (key loaded) up front."""
    if out_dir is None:
        if key or artifacts or digests:
            raise UsageError("--key/--artifact/--artifact-digest need --evidence DIR")
        return None
    from clearance.evidence.keys import load_signer
    from clearance.evidence.statements import artifact_subject, digest_subject

    try:  # artifacts and digests are command-line inputs: a wrong one is a usage error
        subjects = [artifact_subject(a) for a in artifacts]
        for spec in digests:
            name, sep, digest = spec.rpartition("@")
            subjects.append(digest_subject(digest, name if sep else "artifact"))
    except EvidenceError as e:
        raise UsageError(e.message, hint=e.hint) from e
    return EvidencePlan(out_dir, load_signer(key), subjects)


def write_outputs(plan: OutputPlan, data: ReportData, now: dt.datetime | None = None) -> None:
    """Write every planned output of a finished run (`now`: the run's clock reading, for evidence)."""
    _write_reports(plan, data)
    if plan.annotations is not None:
        _write_annotations(plan.annotations, data)
    if plan.gitlab_dir is not None:
        _write_gitlab(plan, data)
    if plan.evidence is not None:
        assert now is not None and data.decision is not None, "evidence needs a decided run"
        _write_evidence(plan, plan.evidence, data, now)


def _write_reports(plan: OutputPlan, data: ReportData) -> None:
    from clearance.report import Format, render, render_console

    for t in plan.reports:
        fmt = Format(t.fmt)
        if t.path is None:
            if fmt is Format.console:
                render_console(data, Console())
            else:
                typer.echo(render(fmt, data), nl=False)
            continue
        _write_file(t.path, render(fmt, data))
        if not plan.quiet:
            stderr.print(f"wrote {fmt.value} report to {t.path}")


def _write_annotations(path: Path, data: ReportData) -> None:
    from clearance.report.annotations import render_annotations

    text = render_annotations(data)
    if str(path) == "-":
        typer.echo(text, nl=False)
    else:
        _write_file(path, text)


def _write_gitlab(plan: OutputPlan, data: ReportData) -> None:
    from clearance.report.gitlab import GITLAB_REPORTS

    assert plan.gitlab_dir is not None
    for name, render in GITLAB_REPORTS:
        _write_file(plan.gitlab_dir / name, render(data))
        if not plan.quiet:
            stderr.print(f"wrote {plan.gitlab_dir / name}")


def _write_evidence(plan: OutputPlan, evidence: EvidencePlan, data: ReportData, now: dt.datetime) -> None:
    from clearance.evidence.attest import produce
    from clearance.evidence.statements import commit_subject
    from clearance.report import Format, render

    assert data.decision is not None
    result = data.result
    build = {k: v for k, v in data.context.items() if isinstance(v, str | int | float | bool)}
    build = {k: v for k, v in build.items() if v not in (None, "")}
    subjects = list(evidence.subjects)
    if result.target.kind == "image" and result.target.digest:  # the image ID is the subject
        from clearance.evidence.statements import digest_subject

        image = digest_subject(result.target.digest, result.target.name or "image")
        if all(s.digest != image.digest for s in subjects):
            subjects.insert(0, image)
    if not subjects:
        if not result.target.commit:
            raise UsageError(
                "nothing to attest: pass --artifact/--artifact-digest, or scan a git checkout",
                hint="the evidence needs a subject: a built artifact or the source commit",
            )
        repository = build.get("repository")
        subjects.append(commit_subject(str(repository) if repository else None, result.target.commit))
    bundled = dataclasses.replace(data, verbose=False)  # the run's report, as machines read it
    reports = {"results.sarif": render(Format.sarif, bundled), "results.json": render(Format.json, bundled)}
    out = produce(
        evidence.out_dir,
        result=result,
        decision=data.decision,
        subjects=subjects,
        signer=evidence.signer,
        now=now,
        started=now,
        name=plan.bundle_name,
        build=build,
        reports=reports,
    )
    if not plan.quiet:
        stderr.print(f"wrote evidence bundle {out.bundle} (sha256 {out.bundle_sha256[:16]}…)")


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
