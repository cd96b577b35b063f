"""The spine: target → source → scanners → ScanResult → policy → Decision → report data.

Read top to bottom:

- `scan(request)` — 1. open the source and collect its files once, 2. run each selected scanner
  over the files it applies to, 3. keep what the change touched (PR mode), 4. de-duplicate and
  sort. Returns a `ScanRun` (the `ScanResult` and what reports need).
- `gate(request)` — the clock is read once; `scan`, then in PR mode the baseline (the same scan
  loop over the merge base's side of the files that carry findings), then the policy decides,
  and the run's report data is built once. Returns a `GateRun`; its `exit_code` is the process's.

Nothing here formats, prints or exits: the CLI parses options into a request, calls one of
these, and writes every output from the returned run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clearance import __version__
from clearance import baseline as baseline_cache
from clearance.config import Settings, repository_root
from clearance.decision import Decision, ExitCode
from clearance.model import (
    Baseline,
    ChangeSet,
    Component,
    Finding,
    RuleInfo,
    ScanError,
    ScannerRun,
    ScannerStatus,
    ScanResult,
    Severity,
    SkippedFile,
    Target,
)
from clearance.scanners.base import ScanContext, Scanner, ScannerOutput
from clearance.scanners.registry import build_scanners, placeholder_value, secret_detector
from clearance.sources import files as files_source
from clearance.sources.base import Source, SourceFile
from clearance.sources.image import ImageSpec, image_spec_for

if TYPE_CHECKING:  # the policy engine (and CEL) load only when a gate runs; the report package
    # (every renderer) only when a scan produces report data
    from clearance.policy.approvals import ReviewsClient
    from clearance.policy.context import PolicyContext
    from clearance.policy.engine import DecisionInputs
    from clearance.policy.gate import GateOptions
    from clearance.report.base import ReportContext, ReportData
    from clearance.sources.image.source import ImageContext

Clock = Callable[[], dt.datetime]

CATALOG_GLOBS = ("**/catalog-info.yaml", "**/catalog-info.yml")


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
    explicit: bool = False
    """`paths` is the one path the user named: ignore files above it do not hide it."""
    jobs: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))
    offline: bool = False
    """Refuse scanners that need the network (`ScannerSpec.requires_network`)."""
    platform: str | None = None
    """Image targets: which platform of a multi-platform image (`linux/arm64`)."""


@dataclass(frozen=True)
class ScanRequest:
    """What to scan and how: the target, its settings and the run options."""

    target: Path
    settings: Settings
    options: RunOptions = field(default_factory=RunOptions)
    verbose: bool = False
    """Reports show info-severity and ignored findings too."""
    min_severity: Severity | None = None
    """Human reports hide non-blocking findings below this severity (display only)."""


@dataclass(frozen=True)
class ScanRun:
    """A finished scan: the result, the change it covered (PR mode) and the report data."""

    result: ScanResult
    change: ChangeSet | None
    report: ReportData
    scanners: tuple[Scanner, ...]

    @property
    def exit_code(self) -> ExitCode:
        """`clearance scan` fails only when a scanner could not run at all."""
        from clearance.decision import scan_exit_code

        return scan_exit_code(self.result)


@dataclass(frozen=True)
class GateRequest:
    """A `ScanRequest` plus what the policy stage needs (environment, approvals, CI context...)."""

    scan: ScanRequest
    policy: GateOptions
    policy_from_base: bool = True
    """PR mode: replace `scan.settings` by the merge base's configuration (`base_policy`). Only a
    library caller whose settings do not come from the repository under review turns this off."""


@dataclass(frozen=True)
class GateRun:
    """A finished gate: scan result, decision, the report data every output renders, and `now`."""

    result: ScanResult
    decision: Decision
    report: ReportData
    inputs: DecisionInputs
    """What the policy saw (for `--explain`)."""
    now: dt.datetime
    """The one clock reading of the run: the report's `decided_at`, the evidence's time."""
    baseline: Baseline | None = None

    @property
    def exit_code(self) -> ExitCode:
        """The process exit status for this run's decision."""
        return self.decision.exit_code()


# --------------------------------------------------------------------------- the stages


def scan(
    request: ScanRequest,
    now: dt.datetime,
    progress: Progress | None = None,
    change: ChangeSet | None = None,
    ignore_files: Mapping[str, str] | None = None,
) -> ScanRun:
    """Scan the request's target and return everything found, with what could not be read.

    `change`, `ignore_files`: in PR mode, the change set and the merge base's `.clearanceignore`
    files if the caller already read them (`gate` does)."""
    started = time.perf_counter()
    request = from_repository_root(request)
    settings, options = request.settings, request.options
    scanner_ids = list(options.scanners) if options.scanners is not None else list(settings.scanners)
    if options.offline:
        _refuse_network(scanner_ids)
    target = request.target
    source = open_source(target, options, change, ignore_files)
    scanners = build_scanners(scanner_ids, source.kind)

    # 1. Collect the files once.
    collected = source.collect(list(settings.ignore), settings.max_file_size)
    collected.make_printable()  # names that are not UTF-8 are escaped once, here
    change = source.change()

    # 2. Run each scanner over the files it applies to.
    context = ScanContext(
        root=target if target.is_dir() else target.parent,
        settings=settings,
        now=now,
        jobs=options.jobs,
        progress=progress.advance if progress else None,
        all_paths=tuple(f.path for f in collected.files),
        secret_detector=secret_detector,
        placeholder_check=placeholder_value,
        image=_image_context(source),
    )
    scanned = _scan_files(scanners, collected.files, context, progress)
    for f in collected.files:
        f.release()

    # 3. Keep what the change adds: in PR mode the findings on added lines; for a history range
    #    (`main..topic`) the findings its boundary (main) did not already have.
    findings = scanned.findings
    if change is not None:
        findings = _only_added_lines(findings, collected.files)
    boundary = source.boundary()
    if boundary:
        present = _fingerprints_at(boundary, target, findings, scanners, settings, now)
        findings = [f for f in findings if f.fingerprint not in present]

    # 4. Deterministic order, one finding per fingerprint (in history, the earliest commit's).
    unique: dict[str, Finding] = {}
    for finding in sorted(findings, key=_earliest_first):
        unique.setdefault(finding.fingerprint, finding)
    skipped = {s.path: s for s in collected.skipped}
    for s in scanned.skipped:
        skipped.setdefault(s.path, s)
    skipped_binary = {p for p, s in skipped.items() if s.reason.startswith("binary")}
    read = [s for s in collected.files if s.path in scanned.read and s.path not in skipped_binary]
    errors = [*collected.errors, *scanned.errors]
    result = ScanResult(
        target=source.target(),
        findings=tuple(sorted(unique.values(), key=Finding.sort_key)),
        components=tuple(
            sorted(scanned.components, key=lambda c: (c.location.path, c.ecosystem, c.name, c.version))
        ),
        runs=tuple(scanned.runs),
        skipped=tuple(sorted(skipped.values(), key=lambda s: s.path)),
        errors=tuple(sorted(errors, key=lambda e: (e.path, e.scanner, e.message))),
        warnings=tuple(dict.fromkeys([*collected.warnings, *scanned.warnings])),
        files_scanned=len(read),
        bytes_scanned=sum(f.size for f in read),
        duration_s=round(time.perf_counter() - started, 4),
    )
    from clearance.report.base import ReportData

    report = ReportData(
        result=result,
        decision=None,
        rules=rules_of(scanners, settings),
        tool_version=__version__,
        verbose=request.verbose,
        min_severity=request.min_severity,
    )
    return ScanRun(result, change, report, tuple(scanners))


def gate(
    request: GateRequest,
    clock: Clock = system_clock,
    progress: Progress | None = None,
    reviews_client: ReviewsClient | None = None,
) -> GateRun:
    """Scan, compare with the base (PR mode), decide, and build the report data — with one `now`."""
    from clearance.policy.gate import PolicyAtBase, run_policy

    now = clock()
    request = dataclasses.replace(request, scan=from_repository_root(request.scan))
    settings = request.scan.settings
    root = request.scan.target if request.scan.target.is_dir() else request.scan.target.parent

    # 0. PR mode: the change is read once, and the configuration and policy are the merge base's
    #    (the change under review must not choose the rules that judge it).
    change = at_base = None
    if request.scan.options.base is not None and request.scan.target.is_dir() and request.policy_from_base:
        from clearance.base_policy import policy_at_base
        from clearance.sources import git

        scope = _git_scope(request.scan.target, request.scan.options)
        change = git.change_set(request.scan.target, request.scan.options.base, scope)
        at_base = policy_at_base(root, change, settings, request.policy.config_path)
        settings = at_base.settings
        request = dataclasses.replace(
            request,
            scan=dataclasses.replace(request.scan, settings=settings),
            # the working tree's file is not where these rules come from: no line numbers from it
            policy=dataclasses.replace(request.policy, config_path=None),
        )

    # 1. Scan.
    scanned = scan(request.scan, now, progress, change, at_base.ignore_files if at_base else None)
    result = scanned.result

    # 2. PR mode: what was already on the base (same scan loop over the merge base's files).
    baseline = None
    if scanned.change is not None:
        cache_dir = request.policy.cache_dir
        baseline = compute_baseline(root, scanned.change, result, settings, scanned.scanners, now, cache_dir)

    # 3. Decide.
    catalog_files = None
    if root.is_dir():
        from clearance.sources import git

        # PR mode on a directory: the change set already walked the working tree for untracked files.
        in_pr = scanned.change is not None and request.scan.target.is_dir()
        changed = [c.path for c in scanned.change.changed] if in_pr and scanned.change else None
        catalog_files = git.listed_files(root, CATALOG_GLOBS, changed=changed)
    decided = run_policy(
        root,
        settings,
        result,
        request.policy,
        now,
        change=scanned.change,
        baseline=baseline,
        read_changed=_changed_file_reader(root, settings.max_file_size),
        catalog_files=catalog_files,
        reviews_client=reviews_client,
        at_base=PolicyAtBase(at_base.origin, at_base.edited, at_base.exceptions_at_base) if at_base else None,
    )

    # 4. The report data every output renders.
    from clearance.report.base import ReportData

    report = ReportData(
        result=result,
        decision=decided.decision,
        rules=scanned.report.rules,
        tool_version=__version__,
        verbose=request.scan.verbose,
        min_severity=request.scan.min_severity,
        context=_report_context(decided.inputs.context, now),
    )
    return GateRun(result, decided.decision, report, decided.inputs, now, baseline)


def run(
    target: Path, settings: Settings, options: RunOptions, now: dt.datetime, progress: Progress | None = None
) -> ScanResult:
    """Scan `target` and return the `ScanResult` (library shorthand for `scan(...).result`)."""
    return scan(ScanRequest(target, settings, options), now, progress).result


def _image_context(source: Source) -> ImageContext | None:
    """An image target's context for the scanners (None for files and git)."""
    if source.kind != "image":
        return None
    from clearance.sources.image.source import ImageSource  # loaded only for image targets

    return source.context if isinstance(source, ImageSource) else None


def open_source(
    target: Path,
    options: RunOptions,
    change: ChangeSet | None = None,
    ignore_files: Mapping[str, str] | None = None,
) -> Source:
    """The source for a target and options: a container image, git history, git diff (PR mode), or
    the working tree."""
    if (spec := image_spec_for(target)) is not None:
        if options.history or options.base is not None or options.paths:
            from clearance.errors import UsageError

            raise UsageError(
                f"{spec.text} is a container image: --history, --base and extra paths apply to git checkouts",
                hint="scan the image alone (clearance gate IMAGE), and the source tree in a separate run",
            )
        from clearance.scanners.deps.ospkg import ImageInventory
        from clearance.sources.image.source import ImageSource

        return ImageSource(spec, platform=options.platform, inventory=ImageInventory())
    if options.history or options.base is not None:
        from clearance.sources import git

        scope = _git_scope(target, options)
        if options.history:
            return git.GitHistorySource(target, tuple(options.refs), scope=scope)
        assert options.base is not None
        return git.GitDiffSource(
            target, options.base, scope=scope, _change=change, _ignore_files=ignore_files
        )
    from clearance.sources.worktree import WorkTreeSource

    return WorkTreeSource(target, tuple(options.paths), explicit=options.explicit)


def from_repository_root(request: ScanRequest) -> ScanRequest:
    """`--base` / `--history` on a directory or file inside a git working tree: the same scan from
    the repository's root, limited to the target (`options.paths`), as the working-tree mode is.

    Every path a report names is then relative to the repository root in every mode (GitHub
    resolves SARIF URIs from there), and the root's ignore files, catalog and — in PR mode — the
    configuration at the merge base apply to a subdirectory too."""
    options = request.options
    if not (options.history or options.base is not None) or options.paths:
        return request
    target = request.target.resolve()
    top = repository_root(target if target.is_dir() else target.parent)
    if top is None or top == target:
        return request
    return dataclasses.replace(request, target=top, options=dataclasses.replace(options, paths=(target,)))


def _git_scope(target: Path, options: RunOptions) -> tuple[str, ...]:
    """`options.paths` relative to the git target (the repository root), POSIX."""
    root = target.resolve()
    scope = []
    for path in options.paths:
        try:
            scope.append(path.resolve().relative_to(root).as_posix())
        except ValueError:
            from clearance.errors import UsageError

            raise UsageError(f"{path} is outside the repository {target}") from None
    return tuple(scope)


def compute_baseline(
    root: Path,
    change: ChangeSet,
    result: ScanResult,
    settings: Settings,
    scanners: Sequence[Scanner],
    now: dt.datetime,
    cache_dir: Path | None,
) -> Baseline:
    """Scan the merge base's version of the files that carry findings now; cached by base tree."""
    from clearance.sources import git

    tree = git.tree_id(root, change.merge_base)
    paths = tuple(sorted({f.location.path for f in result.findings}))
    key = baseline_cache.cache_key(tree, paths, [(s.id, s.version) for s in scanners], settings)
    cached = baseline_cache.read_cache(cache_dir, key)
    if cached is not None:
        return Baseline(change.base, change.merge_base, tree, cached, paths, cached=True)
    files = git.files_at(root, change.merge_base, list(paths)) if paths else []
    context = ScanContext(
        root=root,
        settings=settings,
        now=now,
        jobs=1,
        all_paths=tuple(f.path for f in files),
        secret_detector=secret_detector,
        placeholder_check=placeholder_value,
    )
    scanned = _scan_files(scanners, files, context, None, skip_idle=True)
    found = frozenset(f.fingerprint for f in scanned.findings)
    complete = not scanned.errors and all(r.status is not ScannerStatus.FAILED for r in scanned.runs)
    if complete:
        baseline_cache.write_cache(cache_dir, key, found)
    return Baseline(change.base, change.merge_base, tree, found, paths, cached=False, complete=complete)


def rules_of(scanners: Sequence[Scanner], settings: Settings) -> Mapping[str, RuleInfo]:
    """Rule metadata of the given scanners by id (every report reads it)."""
    return {r.id: r for s in scanners for r in s.rules(settings)}


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


# --------------------------------------------------------------------------- the scan loop


@dataclass
class _Scanned:
    """What every scanner produced over one set of files (HEAD or the baseline's base side)."""

    findings: list[Finding] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)
    runs: list[ScannerRun] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    read: set[str] = field(default_factory=set)
    """Paths some scanner was given."""


def _scan_files(
    scanners: Sequence[Scanner],
    files: list[SourceFile],
    context: ScanContext,
    progress: Progress | None,
    *,
    skip_idle: bool = False,
) -> _Scanned:
    """Run each scanner over the files it applies to (`skip_idle`: not at all when there are none)."""
    with _start_up_objects_frozen():
        return _scan_files_with(scanners, files, context, progress, skip_idle)


@contextlib.contextmanager
def _start_up_objects_frozen() -> Iterator[None]:
    """Keep the objects alive before the scan (modules, compiled rules, configuration: ~60,000) out
    of the cyclic garbage collector's full passes while the scanners allocate findings by the
    thousand (`gc.freeze`; they return to the collector afterwards). Those passes re-walked them
    hundreds of times: 0.23 of 1.05 CPU-seconds on the deps stress benchmark (bench/RESULTS.md).

    When the caller has already frozen its own start-up objects (the console script, `entry.py`,
    freezes the loaded command line), this stage still freezes what was built since (settings,
    rules, scanner modules) but hands nothing back: `gc.unfreeze` cannot release only a part, and
    the caller's objects must stay frozen."""
    caller_froze = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not caller_froze:
            gc.unfreeze()


def _scan_files_with(
    scanners: Sequence[Scanner],
    files: list[SourceFile],
    context: ScanContext,
    progress: Progress | None,
    skip_idle: bool,
) -> _Scanned:
    out = _Scanned()
    for scanner in scanners:
        selected = [f for f in files if scanner.applies_to(f.path)]
        if skip_idle and not selected:
            continue
        if not scanner.streams_large_files:
            unscanned = [f for f in selected if f.over_cap]
            selected = [f for f in selected if not f.over_cap]
            _record_over_cap(out, scanner.id, unscanned, context.settings)
        out.read.update(f.path for f in selected)
        output, seconds = _run_scanner(scanner, selected, context, progress)
        out.findings.extend(output.findings)
        out.components.extend(output.components)
        out.errors.extend(output.errors)
        out.warnings.extend(output.warnings)
        out.skipped.extend(output.skipped)
        out.runs.append(
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
    return out


def _record_over_cap(out: _Scanned, scanner: str, files: list[SourceFile], settings: Settings) -> None:
    """Files above the size cap a scanner cannot stream: unscanned, never silently.

    Under the default cap that makes the scan incomplete (a 45 MB lockfile is not a reason to
    pass); a cap the configuration set on purpose turns it into a reported skip."""
    cap = settings.max_file_size
    for f in files:
        what = f"larger than the size cap ({f.size} > {cap} bytes): not parsed by {scanner}"
        if settings.size_cap_is_default():
            hint = "; raise max_file_size (or set it to 0 for no cap) to scan it"
            out.errors.append(ScanError(path=f.path, message=what + hint, scanner=scanner))
        else:
            out.skipped.append(SkippedFile(f.path, what + " (max_file_size is set in the configuration)"))


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


def _fingerprints_at(
    revisions: Sequence[str],
    root: Path,
    findings: Sequence[Finding],
    scanners: Sequence[Scanner],
    settings: Settings,
    now: dt.datetime,
) -> frozenset[str]:
    """Fingerprints found at `revisions` in the files that carry `findings` (same scan loop)."""
    from clearance.sources import git

    paths = sorted({f.location.path for f in findings})
    found: set[str] = set()
    for rev in revisions if paths else ():
        files = git.files_at(root, rev, paths)
        context = ScanContext(
            root=root,
            settings=settings,
            now=now,
            jobs=1,
            all_paths=tuple(f.path for f in files),
            secret_detector=secret_detector,
            placeholder_check=placeholder_value,
        )
        found.update(
            f.fingerprint for f in _scan_files(scanners, files, context, None, skip_idle=True).findings
        )
    return frozenset(found)


def _refuse_network(scanner_ids: Sequence[str]) -> None:
    from clearance.errors import UsageError
    from clearance.scanners.registry import spec

    online = [i for i in scanner_ids if spec(i).requires_network]
    if online:
        raise UsageError(
            f"--offline: scanner(s) {', '.join(online)} need the network",
            hint="drop them from --scanners, or run without --offline",
        )


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


def _report_context(context: PolicyContext, now: dt.datetime) -> ReportContext:
    """What reports say about the service and the CI run, from what the policy saw."""
    from clearance.report.base import CatalogEntry, ReportContext

    service = context.catalog.primary
    return ReportContext(
        service=service.name or None,
        owner=service.owner or None,
        exposure=service.exposure,
        data_classification=service.data_classification,
        environment=context.env or None,
        components=tuple(CatalogEntry(c.name, c.directory, c.owner) for c in context.catalog.components),
        ci=context.ci,
        decided_at=now.isoformat(),
    )


def _changed_file_reader(root: Path, cap: int) -> Callable[[str], bytes | None]:
    """Reads a changed file's current content on demand (the approvals' `contains` check):
    regular files up to the size cap only, symlinks never followed."""

    def read(path: str) -> bytes | None:
        disk = root / path
        try:
            st = disk.lstat()
            if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
                return None
            return disk.read_bytes()
        except OSError:
            return None

    return read
