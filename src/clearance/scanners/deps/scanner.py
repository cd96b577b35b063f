"""The deps scanner: lockfiles → components → OSV matches → one finding per vulnerability.

1. Parse every lockfile (`lockfiles.parse`) into components (all of them go to the SBOM).
2. Open the offline advisory store; without one the scanner fails (exit 3) and says how to
   get one; a store older than `[deps] max_db_age_days` is a warning in every report.
3. Match each pinned component against the advisories of its package (`match.evaluate`),
   merge records that describe the same vulnerability (overlapping ids/aliases, e.g.
   PYSEC + GHSA + CVE), and attach severity, fix versions, KEV/EPSS and reachability.

Rule ids are `vuln.<primary id>`: the GHSA id when any merged record is or names one (GHSA
ids are shared by every OSV source, so the id stays stable whichever dump you import), else
the lowest record id.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clearance import errors
from clearance.model import (
    Component,
    Epss,
    Finding,
    FindingKind,
    RuleInfo,
    ScanError,
    Severity,
    Signals,
    SignalValue,
    SkippedFile,
    fingerprint,
)
from clearance.scanners.base import ScanContext, ScannerOutput
from clearance.scanners.deps import lockfiles
from clearance.scanners.vulns.advisories import (
    KNOWN_ECOSYSTEMS,
    Advisory,
    AdvisoryStore,
    AffectedEntry,
    database_dir,
    database_path,
)
from clearance.scanners.vulns.match import (
    MatchResult,
    UnsupportedEcosystem,
    VersionParseError,
    base_ecosystem,
    evaluate,
    parse_version,
    sort_versions,
)
from clearance.scanners.vulns.reach import (
    ImportIndex,
    ImportScope,
    PythonDistributions,
    reachability,
    unreachable_transitives,
)

if TYPE_CHECKING:
    from clearance.config import Settings
    from clearance.sources.base import SourceFile

SCANNER_ID = "deps"
_ANALYSED = frozenset({"PyPI", "npm", "Go"})
"""Ecosystems with an import analysis (reach.py); the source tree is only read for these."""
_NO_SCOPE = ImportScope()
_SEVERITY_ORDER = {s.value: s.sort_key() for s in Severity}
MAX_MESSAGE = 4000

_INFORMATIONAL = {"unmaintained": Severity.INFO, "notice": Severity.INFO, "unsound": Severity.LOW}
"""RustSec informational advisories without a CVSS vector: not vulnerabilities in the CVE sense."""


class DepsScanner:
    """Known-vulnerable dependencies from lockfiles, matched offline against OSV data."""

    id = SCANNER_ID
    version = "1.0.0"
    requires_network = False
    streams_large_files = False

    def applies_to(self, path: str) -> bool:
        """Lockfiles and manifests the inventory can parse, and recognised ones it cannot (by file name)."""
        return lockfiles.is_lockfile(path) or lockfiles.skip_reason(path) is not None

    def rules(self, settings: Settings) -> Sequence[RuleInfo]:
        """One rule family: `vuln.<advisory id>` for every OSV advisory in the store."""
        return [
            RuleInfo(
                id="vuln.*",
                title="Known vulnerability in a dependency",
                severity=Severity.UNKNOWN,
                scanner=SCANNER_ID,
                description="A locked dependency version is affected by an OSV advisory (rule id `vuln.<GHSA or "
                "record id>`); severity from the advisory's CVSS vector or its database's rating.",
                remediation="Upgrade to a fixed version, or record a risk exception with an expiry.",
                references=("https://ossf.github.io/osv-schema/",),
                tags=("dependency", "vulnerability"),
            )
        ]

    def scan(self, files: Sequence[SourceFile], context: ScanContext) -> ScannerOutput:
        """Inventory every lockfile, then match its components against the advisory store."""
        out = ScannerOutput()
        per_file: list[tuple[str, list[Component]]] = []
        if context.image is not None:  # an image: its inventory (squashed view), not the layer files
            files = ()
            image = context.image
            out.components.extend(image.components)
            out.errors.extend(image.inventory_errors)
            out.warnings.extend(image.inventory_warnings)
            by_path: dict[str, list[Component]] = {}
            for c in image.components:
                by_path.setdefault(c.location.path, []).append(c)
            per_file.extend(by_path.items())
            out.detail["image_packages"] = len(image.components)
        for f in files:
            reason = lockfiles.skip_reason(f.path)
            if reason is not None:  # recognised, not read: reported, never silently ignored
                out.skipped.append(SkippedFile(f.path, reason))
                continue
            result = lockfiles.parse(f)
            out.components.extend(result.components)
            out.errors.extend(result.errors)
            out.files += 1
            out.bytes += f.size
            per_file.append((f.path, result.components))
            if context.progress:
                context.progress(1, f.size)
        out.detail["lockfiles"] = out.files
        if not out.components:
            return out  # nothing to match: no database needed
        settings = context.settings.deps
        db = database_path(database_dir(settings.db_dir, context.root))
        try:
            store = AdvisoryStore.open(db)
        except errors.ScanError as e:
            out.failed = True
            out.errors.append(ScanError(path=str(db), message=e.diagnostics(), scanner=SCANNER_ID))
            return out
        try:
            with store:
                self._match_all(store, per_file, context, out)
        except sqlite3.Error as e:  # a database damaged after it was opened: the scan cannot be trusted
            out.failed = True
            out.errors.append(
                ScanError(
                    path=str(db),
                    scanner=SCANNER_ID,
                    message=f"advisory database {db} could not be read: {e}; run `clearance db update` "
                    "(or `clearance db import`) to rebuild it",
                )
            )
            out.findings.clear()
            return out
        out.detail["vulnerabilities"] = len(out.findings)
        return out

    def _match_all(
        self,
        store: AdvisoryStore,
        per_file: list[tuple[str, list[Component]]],
        context: ScanContext,
        out: ScannerOutput,
    ) -> None:
        settings = context.settings.deps
        out.warnings.extend(freshness_warnings(store, out.components, context.now, settings.max_db_age_days))
        out.errors.extend(
            missing_ecosystem_errors(store, per_file, settings.accept_missing_ecosystems, out.warnings)
        )
        out.detail["advisory_db"] = {
            s.ecosystem: {
                "records": s.records,
                "imported_at": s.imported_at,
                "newest_modified": s.newest_modified,
            }
            for s in store.ecosystems()
        }
        configured = Path(settings.python_env) if settings.python_env else None
        if configured is not None and not configured.is_absolute():
            configured = context.root / configured
        envs: dict[Path | None, PythonDistributions] = {}
        unevaluable: set[str] = set()
        matcher = VulnerabilityMatcher(
            store,
            index_factory=(
                None
                if context.image is not None
                else lambda: ImportIndex.walk(context.root, context.all_paths)
            ),
        )
        for path, components in per_file:
            distributions = None
            if context.image is None and any(base_ecosystem(c.ecosystem) == "PyPI" for c in components):
                env = configured or python_env_near(context.root, path)
                if env not in envs:
                    envs[env] = PythonDistributions.from_env(env)
                distributions = envs[env]
            outcome = matcher.match(components, distributions)
            out.findings.extend(outcome.findings)
            out.errors.extend(outcome.errors)
            out.warnings.extend(outcome.warnings)
            unevaluable.update(outcome.unevaluable)
        if unevaluable:
            out.detail["unevaluable_advisories"] = sorted(unevaluable)


def python_env_near(root: Path, lockfile: str) -> Path | None:
    """A virtualenv (`.venv` or `venv` with a `pyvenv.cfg`) next to the lockfile or at the scanned root."""
    for directory in (root / posixpath.dirname(lockfile), root):
        for name in (".venv", "venv"):
            candidate = directory / name
            if (candidate / "pyvenv.cfg").is_file():
                return candidate
    return None


def freshness_warnings(
    store: AdvisoryStore, components: Iterable[Component], now: dt.datetime, max_age_days: int
) -> list[str]:
    """Warnings for ecosystems in use whose advisories are missing or older than `max_age_days`."""
    status = {s.ecosystem: s for s in store.ecosystems()}
    used: dict[str, int] = {}
    for c in components:
        eco = base_ecosystem(c.ecosystem)
        used[eco] = used.get(eco, 0) + 1
    warnings = []
    for eco in sorted(used):
        s = status.get(eco)
        if s is None and eco not in KNOWN_ECOSYSTEMS:
            warnings.append(
                f"{eco} is not an OSV ecosystem (no advisory source exists for it): {used[eco]} {eco} "
                "component(s) are in the inventory and the SBOM but cannot be checked for vulnerabilities"
            )
            continue
        if s is None:
            continue  # not stale but absent: `missing_ecosystem_errors` reports it
        imported = _parse_time(s.imported_at)
        if imported is None:
            continue
        if imported > now + CLOCK_SKEW:
            # A future import date would never count as stale: clamp it to now and say so.
            warnings.append(
                f"advisory database for {eco} claims to be imported in the future ({s.imported_at}); "
                "its age cannot be trusted: run `clearance db update`"
            )
            imported = now
        age = now - imported
        if age > dt.timedelta(days=max_age_days):
            warnings.append(
                f"advisory database for {eco} is {age.days} days old (imported {s.imported_at}, limit "
                f"{max_age_days} days): run `clearance db update`"
            )
    return warnings


CLOCK_SKEW = dt.timedelta(days=1)


def missing_ecosystem_errors(
    store: AdvisoryStore,
    per_file: Sequence[tuple[str, Sequence[Component]]],
    accepted: Sequence[str],
    warnings: list[str],
) -> list[ScanError]:
    """One error per ecosystem in use that the database has no data for (its components were
    not checked: the scan is incomplete), unless `[deps] accept_missing_ecosystems` accepts it,
    in which case it is a warning. The error names the first lockfile holding that ecosystem."""
    present = {s.ecosystem for s in store.ecosystems()}
    count: dict[str, int] = {}
    first: dict[str, str] = {}
    for path, components in sorted(per_file, key=lambda item: item[0]):
        for c in components:
            eco = base_ecosystem(c.ecosystem)
            if eco in present or eco not in KNOWN_ECOSYSTEMS:
                continue  # (an ecosystem no advisory source covers is a warning of its own)
            count[eco] = count.get(eco, 0) + 1
            first.setdefault(eco, path)
    accept = {a.lower() for a in accepted}
    errors = []
    for eco in sorted(count):
        what = (
            f"advisory database has no {eco} data: {count[eco]} {eco} component(s) were not checked "
            f"(run `clearance db update --ecosystem {eco}`"
        )
        if "*" in accept or eco.lower() in accept:
            warnings.append(f"{what}; accepted by [deps] accept_missing_ecosystems)")
        else:
            errors.append(
                ScanError(
                    path=first[eco],
                    scanner=SCANNER_ID,
                    message=f'{what}, or accept it with [deps] accept_missing_ecosystems = ["{eco}"])',
                )
            )
    return errors


@dataclass
class MatchOutcome:
    """Findings for one lockfile's components, plus what could not be decided."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unevaluable: list[str] = field(default_factory=list)
    """Ids of advisory records whose ranges could not be evaluated for some component."""


@dataclass(frozen=True)
class _Hit:
    entry: AffectedEntry
    advisory: Advisory
    result: MatchResult


class VulnerabilityMatcher:
    """Matches components against an open store and builds de-duplicated findings."""

    def __init__(
        self,
        store: AdvisoryStore,
        *,
        distributions: PythonDistributions | None = None,
        index_factory: Callable[[], ImportIndex] | None = None,
    ) -> None:
        self.store = store
        self.distributions = distributions or PythonDistributions()
        self._index_factory = index_factory
        self._index: ImportIndex | None = None
        self._scopes: dict[str, ImportScope] = {}

    def match(
        self, components: Iterable[Component], distributions: PythonDistributions | None = None
    ) -> MatchOutcome:
        """Findings for `components` (one per component and vulnerability).

        `distributions` overrides the matcher's Python distribution → import name mapping
        (e.g. the virtualenv next to this lockfile).
        """
        out = MatchOutcome()
        dists = distributions or self.distributions
        components = list(components)
        groups: list[tuple[Component, list[_Hit]]] = []
        for component in components:
            groups.extend((component, g) for g in self._match_one(component, out))
        cves = {
            i
            for _, g in groups
            for h in g
            for i in (h.advisory.id, *h.advisory.aliases)
            if i.startswith("CVE-")
        }
        epss = self.store.epss(cves) if cves and self.store.feed("epss") else {}
        unreachable = self._graph_unreachable(components, groups, dists)
        for component, group in groups:
            out.findings.append(
                self._finding(
                    component, group, epss, dists, (component.location.path, component.purl) in unreachable
                )
            )
        return out

    def _graph_unreachable(
        self,
        components: list[Component],
        groups: list[tuple[Component, list[_Hit]]],
        distributions: PythonDistributions,
    ) -> frozenset[tuple[str, str]]:
        """(lockfile, purl) of transitive components the lockfile's dependency graph proves unreachable."""
        paths = {c.location.path for c, _ in groups if c.direct is not True}
        out: set[tuple[str, str]] = set()
        for path in sorted(paths):
            same_file = [c for c in components if c.location.path == path]
            proven = unreachable_transitives(same_file, self._scope(same_file[0]), distributions)
            out.update((path, purl) for purl in proven)
        return frozenset(out)

    def _match_one(self, component: Component, out: MatchOutcome) -> list[list[_Hit]]:
        name, version = component.advisory_key  # distributions: the source package advisories name
        entries = self.store.affected(component.ecosystem, name)
        if not entries:
            return []
        where = component.location.path
        if not component.pinned or not version:
            out.warnings.append(
                f"{where}: {component.name} is not pinned to a version; {len(entries)} advisory record(s) for it "
                "could not be checked"
            )
            return []
        try:
            parsed = parse_version(component.ecosystem, version)
        except (VersionParseError, UnsupportedEcosystem) as e:
            out.errors.append(
                ScanError(
                    path=where,
                    scanner=SCANNER_ID,
                    message=f"{component.name} {component.version}: {e}; not checked against "
                    f"{len({x.advisory_id for x in entries})} advisory record(s)",
                )
            )
            return []
        hits: list[_Hit] = []
        for entry in entries:
            try:
                result = evaluate(entry.spec, version, parsed)
            except Exception as e:  # the boundary: odd advisory data must not abort the scan
                self._unevaluable(out, component, entry.advisory_id, f"{type(e).__name__}: {e}")
                continue
            if result.affected:
                hits.append(_Hit(entry, self.store.advisory(entry.advisory_id), result))
            elif result.undecided:
                self._unevaluable(out, component, entry.advisory_id, "; ".join(result.undecided))
        return _merge(hits)

    @staticmethod
    def _unevaluable(out: MatchOutcome, component: Component, advisory_id: str, reason: str) -> None:
        """An advisory record that cannot be evaluated for this version: the record's fault, not the user's.

        Reported by id (a warning and `unevaluable`), never as a finding and never as a scan
        error: one bad record must not make every scan of a popular package incomplete.
        """
        out.unevaluable.append(advisory_id)
        out.warnings.append(
            f"{component.location.path}: {component.name} {component.version}: advisory {advisory_id} cannot be "
            f"evaluated ({reason}); reported as unevaluable, not as a finding"
        )

    def _finding(
        self,
        component: Component,
        hits: list[_Hit],
        epss_scores: dict[str, tuple[float, float]],
        distributions: PythonDistributions,
        graph_unreachable: bool = False,
    ) -> Finding:
        eco = base_ecosystem(component.ecosystem)
        advisories = {h.advisory.id: h.advisory for h in hits}
        record_ids = sorted(advisories)
        all_ids = set(record_ids) | {a for adv in advisories.values() for a in adv.aliases}
        ghsa = sorted(i for i in all_ids if i.startswith("GHSA-"))
        primary = ghsa[0] if ghsa else record_ids[0]
        aliases = sorted(all_ids - {primary})
        main = advisories.get(primary) or advisories[record_ids[0]]
        rated = max(advisories.values(), key=lambda a: (_SEVERITY_ORDER[a.severity], a.score or 0.0))
        severity = Severity(rated.severity)
        informational = next(
            (
                str(h.entry.database_specific.get("informational"))
                for h in hits
                if h.entry.database_specific.get("informational")
            ),
            None,
        )
        if severity is Severity.UNKNOWN and informational in _INFORMATIONAL:
            severity = _INFORMATIONAL[informational]
        malicious = any(i.startswith("MAL-") for i in record_ids)
        if malicious and severity is Severity.UNKNOWN:
            severity = Severity.CRITICAL  # a malicious release compromises whatever installs it
        fixes = sort_versions(eco, (v for h in hits for v in h.result.fix_versions))
        cves = sorted(i for i in all_ids if i.upper().startswith("CVE-"))
        kev = self.store.kev(cves)
        epss = {c: epss_scores[c] for c in cves if c in epss_scores}
        epss_feed = self.store.feed("epss") if epss else None
        best_epss = max(epss.values()) if epss else None
        reach, reason = reachability(
            component, [h.entry for h in hits], self._scope(component), distributions, graph_unreachable
        )
        summary = next((a.summary for a in [main, *advisories.values()] if a.summary), "")
        if not summary:
            first_line = next((line.strip() for line in main.details.splitlines() if line.strip()), "")
            summary = first_line[:160] or primary
        references = tuple(dict.fromkeys(r for a in [main, *advisories.values()] for r in a.references))
        extra: dict[str, SignalValue] = {
            "advisories": tuple(record_ids),
            "cvss_vector": rated.vector,
            "fix": "available" if fixes else "none",
            "kev_date_added": min((d for d in kev.values() if d), default=None),
            "reachable_reason": reason,
            "ecosystem": eco,
            "package": component.name,
            "installed_version": component.version,
            "malicious": malicious,
        }
        if informational:
            extra["informational"] = informational
        signals = Signals(
            reachable=reach.value,
            kev=bool(kev),
            epss=Epss(best_epss[0], best_epss[1], epss_feed.newest if epss_feed else None)
            if best_epss
            else None,
            fix_versions=tuple(fixes),
            aliases=tuple(aliases),
            cvss_score=rated.score,
            scope=component.scope.value,
            direct=component.direct,
            extra=extra,
        )
        return Finding(
            kind=FindingKind.VULNERABILITY,
            rule_id=f"vuln.{primary}",
            title=f"{component.name} {component.version}: {summary}",
            severity=severity,
            location=component.location,
            fingerprint=fingerprint(
                "vuln", eco, component.name, component.version, primary, component.location.path
            ),
            scanner=SCANNER_ID,
            message=_clip(main.details or summary),
            remediation=_remediation(component, fixes),
            references=references,
            component=component,
            signals=signals,
        )

    def _scope(self, component: Component) -> ImportScope:
        if base_ecosystem(component.ecosystem) not in _ANALYSED:
            return _NO_SCOPE  # no import analysis for this ecosystem: do not read the tree for it
        directory = posixpath.dirname(component.location.path)
        scope = self._scopes.get(directory)
        if scope is None:
            if self._index is None:
                self._index = self._index_factory() if self._index_factory else ImportIndex([])
            scope = self._index.scope(directory)
            self._scopes[directory] = scope
        return scope


def _merge(hits: list[_Hit]) -> list[list[_Hit]]:
    """Group hits whose advisories share an id or alias (union-find over identifiers)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for h in hits:
        ids = [h.advisory.id, *h.advisory.aliases]
        root = find(ids[0])
        for other in ids[1:]:
            parent[find(other)] = root
    groups: dict[str, list[_Hit]] = {}
    for h in hits:
        groups.setdefault(find(h.advisory.id), []).append(h)
    return sorted(groups.values(), key=lambda g: min(h.advisory.id for h in g))


def _remediation(component: Component, fixes: Sequence[str]) -> str:
    if fixes:
        more = f" (fixed in: {', '.join(fixes)})" if len(fixes) > 1 else ""
        return f"Upgrade {component.name} from {component.version} to ≥ {fixes[0]}{more}."
    return (
        f"No fixed version of {component.name} is published: remove or replace it, or record a risk "
        "exception with a compensating control."
    )


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _parse_time(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
