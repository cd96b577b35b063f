"""The spine: target → sources → scanners → ScanResult → decision.

Read top to bottom: 1. collect the files, 2. run each selected scanner over the files it
applies to, 3. keep what the change touched (PR mode), 4. sort. No formatting here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clearance.config import Settings
from clearance.model import (
    Component,
    Finding,
    ScanError,
    ScannerRun,
    ScannerStatus,
    ScanResult,
    SkippedFile,
    Target,
)
from clearance.scanners.base import ScanContext, Scanner, ScannerOutput
from clearance.scanners.registry import build_scanners
from clearance.sources import files as files_source
from clearance.sources.base import SourceFile
from clearance.sources.image import ImageSpec, image_spec_for

if TYPE_CHECKING:
    from clearance.sources.image.source import ImageContext

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The real clock (UTC). Only the CLI passes this in; logic takes `now` as an argument."""
    return dt.datetime.now(dt.UTC)


class Progress(Protocol):
    """Where long work reports its progress (the CLI shows a bar; tests pass nothing)."""

    def start(self, label: str, total_files: int, total_bytes: int) -> None:
        """A stage begins."""

    def advance(self, files: int, nbytes: int) -> None:
        """Some files/bytes were done."""

    def finish(self) -> None:
        """The stage ended."""


@dataclass(frozen=True)
class RunOptions:
    """How to scan: which scanners, which slice of git, how many workers."""

    scanners: Sequence[str] | None = None
    """Scanner ids; None = the configured ones."""
    history: bool = False
    refs: Sequence[str] = ()
    """For history scans: refs to walk (default: all refs)."""
    base: str | None = None
    """PR mode: scan only what changed since the merge base of this ref and HEAD."""
    paths: Sequence[Path] = ()
    """Scan only these files/directories under the target (e.g. staged files from pre-commit)."""
    jobs: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))
    platform: str | None = None
    """Image targets: which platform of a multi-platform image (`linux/arm64`)."""


def run(
    target: Path, settings: Settings, options: RunOptions, now: dt.datetime, progress: Progress | None = None
) -> ScanResult:
    """Scan `target` and return everything found, with what could not be read."""
    started = time.perf_counter()
    scanner_ids = list(options.scanners) if options.scanners is not None else list(settings.scanners)
    scanners = build_scanners(scanner_ids)

    # 1. Collect the files (an image also yields its package inventory and config).
    image = None
    if (spec := image_spec_for(target)) is not None:
        collected, tgt, image = _collect_image(spec, settings, options)
    else:
        collected, tgt = _collect(target, settings, options)

    # 2. Run each scanner over the files it applies to.
    context = ScanContext(
        root=target if target.is_dir() else target.parent,
        settings=settings,
        now=now,
        jobs=options.jobs,
        progress=progress.advance if progress else None,
        all_paths=tuple(f.path for f in collected.files),
        image=image,
    )
    findings: list[Finding] = []
    components: list[Component] = []
    runs: list[ScannerRun] = []
    errors: list[ScanError] = list(collected.errors)
    skipped: dict[str, SkippedFile] = {s.path: s for s in collected.skipped}
    warnings: list[str] = list(collected.warnings)
    read_by_some_scanner: set[str] = set()
    for scanner in scanners:
        selected = [f for f in collected.files if scanner.applies_to(f.path)]
        read_by_some_scanner.update(f.path for f in selected)
        output, seconds = _run_scanner(scanner, selected, context, progress)
        findings.extend(output.findings)
        components.extend(output.components)
        errors.extend(output.errors)
        warnings.extend(output.warnings)
        for s in output.skipped:
            skipped.setdefault(s.path, s)
        runs.append(
            ScannerRun(
                scanner=scanner.id,
                version=scanner.version,
                status=output.status,
                files=output.files,
                bytes=output.bytes,
                duration_s=round(seconds, 4),
                detail=dict(output.detail),
            )
        )
    for source in collected.files:
        source.release()

    # 3. In PR mode keep only findings on added lines.
    if options.base is not None:
        findings = _only_added_lines(findings, collected.files)

    # 4. Deterministic order, one finding per fingerprint (in history, the earliest commit's).
    unique: dict[str, Finding] = {}
    for finding in sorted(findings, key=_earliest_first):
        unique.setdefault(finding.fingerprint, finding)
    ordered = sorted(unique.values(), key=Finding.sort_key)
    skipped_binary = {p for p, s in skipped.items() if s.reason.startswith("binary")}
    scanned = [s for s in collected.files if s.path in read_by_some_scanner and s.path not in skipped_binary]
    return ScanResult(
        target=tgt,
        findings=tuple(ordered),
        components=tuple(sorted(components, key=lambda c: (c.location.path, c.ecosystem, c.name, c.version))),
        runs=tuple(runs),
        skipped=tuple(sorted(skipped.values(), key=lambda s: s.path)),
        errors=tuple(sorted(errors, key=lambda e: (e.path, e.scanner, e.message))),
        warnings=tuple(dict.fromkeys(warnings)),
        files_scanned=len(scanned),
        bytes_scanned=sum(f.size for f in scanned),
        duration_s=round(time.perf_counter() - started, 4),
    )


def _collect(target: Path, settings: Settings, options: RunOptions) -> tuple[files_source.WalkResult, Target]:
    if options.history or options.base is not None:
        from clearance.sources import git

        if options.history:
            walked = git.history_files(
                target, refs=list(options.refs), ignore=settings.ignore, max_file_size=settings.max_file_size
            )
            return walked, Target(kind="git-history", path=str(target), refs=tuple(options.refs))
        assert options.base is not None
        walked = git.changed_files(
            target, base=options.base, ignore=settings.ignore, max_file_size=settings.max_file_size
        )
        return walked, Target(
            kind="git-diff", path=str(target), base=options.base, commit=git.head_commit(target)
        )
    if options.paths:
        walked = files_source.walk_paths(
            target, list(options.paths), ignore=settings.ignore, max_file_size=settings.max_file_size
        )
    else:
        walked = files_source.walk(target, ignore=settings.ignore, max_file_size=settings.max_file_size)
    commit = None
    if target.is_dir():
        from clearance.sources import git

        commit = git.head_commit(target)
    return walked, Target(kind="directory", path=str(target), commit=commit)


def _collect_image(
    spec: ImageSpec, settings: Settings, options: RunOptions
) -> tuple[files_source.WalkResult, Target, ImageContext]:
    """Stream the image once: layer files for the file scanners, its inventory for deps."""
    from clearance.scanners.deps.ospkg import ImageInventory
    from clearance.sources.image.source import ImageSource

    inventory = ImageInventory()
    source = ImageSource(spec, platform=options.platform, sinks=[inventory])
    walked = source.collect(list(settings.ignore), settings.max_file_size)
    assert source.context is not None
    found = inventory.components(source.context.fs)
    context = dataclasses.replace(
        source.context,
        components=found.components,
        inventory_errors=found.errors,
        inventory_warnings=found.warnings,
        distro=(found.distro.pretty_name or found.distro.id) if found.distro else "",
    )
    return walked, source.target(), context


def _run_scanner(
    scanner: Scanner, files: list[SourceFile], context: ScanContext, progress: Progress | None
) -> tuple[ScannerOutput, float]:
    t0 = time.perf_counter()
    if progress:
        progress.start(scanner.id, len(files), sum(f.size for f in files))
    try:
        output = scanner.scan(files, context)
    finally:
        if progress:
            progress.finish()
    return output, time.perf_counter() - t0


def _earliest_first(f: Finding) -> tuple[str, tuple[object, ...]]:
    return (f.location.commit_date or "\uffff", f.sort_key())


def _only_added_lines(findings: list[Finding], files: list[SourceFile]) -> list[Finding]:
    added = {f.path: f.added_lines for f in files}
    kept = []
    for finding in findings:
        lines = added.get(finding.location.path)
        if lines is None:  # whole file is new, or finding not tied to a changed file's lines
            kept.append(finding)
            continue
        start = finding.location.start_line
        end = finding.location.end_line or start
        if start is None or any(n in lines for n in range(start, (end or start) + 1)):
            kept.append(finding)
    return kept


def status_failed(result: ScanResult) -> list[ScannerRun]:
    """Scanner runs that did not fully succeed."""
    return [r for r in result.runs if r.status not in (ScannerStatus.SUCCEEDED, ScannerStatus.SKIPPED)]


def image_inventory(
    spec: ImageSpec, platform: str | None = None
) -> tuple[list[Component], list[ScanError], list[str], Target]:
    """An image's package inventory (squashed view) without matching, and the image as a Target."""
    from clearance.scanners.deps.ospkg import ImageInventory
    from clearance.sources.image import open_image
    from clearance.sources.image.source import image_target

    with open_image(spec, platform=platform) as image:
        found = ImageInventory()
        result = found.components(image.walk(found))
        target = image_target(spec.text, image.identity, image.layers)
    return list(result.components), list(result.errors), list(result.warnings), target


def inventory(target: Path, settings: Settings) -> tuple[list[Component], list[ScanError]]:
    """The package inventory only (lockfiles → components), without advisory matching: for SBOMs."""
    from clearance.scanners.deps import lockfiles

    walked = files_source.walk(target, ignore=settings.ignore, max_file_size=settings.max_file_size)
    components: list[Component] = []
    errors: list[ScanError] = list(walked.errors)
    for f in walked.files:
        if lockfiles.is_lockfile(f.path):
            parsed = lockfiles.parse(f)
            components.extend(parsed.components)
            errors.extend(parsed.errors)
            f.release()
    return components, errors
