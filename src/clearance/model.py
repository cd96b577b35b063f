"""Core types shared by every stage of the pipeline.

Plain frozen dataclasses with no behaviour beyond small helpers. Scanners produce
`Finding`s and `Component`s; everything downstream knows nothing about how a finding
was found.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.StrEnum):
    """How bad a finding is. Ordered: info < low < medium < high < critical.

    `unknown` is for advisories without a usable score; for thresholds it ranks like
    `medium` (fail safe: an unscored vulnerability is not treated as harmless).
    """

    INFO = "info"
    LOW = "low"
    UNKNOWN = "unknown"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Numeric rank used for thresholds (unknown ranks with medium)."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Parse a severity name case-insensitively; raises ValueError with the valid names."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of: {names})") from None

    def at_least(self, other: Severity) -> bool:
        """True if this severity is at or above `other` for threshold purposes."""
        return self.rank >= other.rank

    def sort_key(self) -> tuple[int, int]:
        """Total order key (rank, then declaration order) for deterministic sorting."""
        return _SEVERITY_SORT_KEY[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.UNKNOWN: 2,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}
_SEVERITY_SORT_KEY = {s: (_SEVERITY_RANK[s], i) for i, s in enumerate(Severity)}
"""`Severity.sort_key`, computed once (findings are sorted by it several times per run, by the thousand)."""


class FindingKind(enum.StrEnum):
    """The family a finding belongs to."""

    SECRET = "secret"
    VULNERABILITY = "vulnerability"
    MISCONFIGURATION = "misconfiguration"
    IMPORTED = "imported"


class Scope(enum.StrEnum):
    """Whether a component ships at run time or only in development/test."""

    RUNTIME = "runtime"
    DEV = "dev"
    OPTIONAL = "optional"
    UNKNOWN = "unknown"


class Reachability(enum.StrEnum):
    """Import-level reachability of a vulnerable component: an honest tri-state."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding or component was seen. `path` is repo-relative and POSIX."""

    path: str
    start_line: int | None = None
    end_line: int | None = None
    start_column: int | None = None
    commit: str | None = None
    commit_author: str | None = None
    commit_date: str | None = None
    blob: str | None = None
    layer: str | None = None

    def display(self) -> str:
        """`path:line` (or just the path) for humans, with the image layer when there is one;
        control characters in the path are escaped so a hostile file name cannot rewrite a
        terminal or CI log."""
        path = printable(self.path)
        shown = f"{path}:{self.start_line}" if self.start_line else path
        return f"{shown} (layer {self.layer[:19]})" if self.layer else shown


@dataclass(frozen=True, slots=True)
class Component:
    """A package found in a lockfile, manifest or image layer."""

    ecosystem: str
    name: str
    version: str
    purl: str
    location: Location
    direct: bool | None = None
    scope: Scope = Scope.UNKNOWN
    hashes: tuple[tuple[str, str], ...] = ()
    dependencies: tuple[str, ...] = ()
    """purls (or names) of the components this one depends on, where the format says."""
    pinned: bool = True
    """False for entries that name no exact version (VCS/URL/editable requirement lines)."""
    source_name: str | None = None
    """OS packages: the source package advisories name (dpkg `Source:`, apk origin, rpm SRPM)."""
    source_version: str | None = None
    """OS packages: the source package's version when it differs from `version` (dpkg)."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a component independent of where it was declared."""
        return (self.ecosystem, self.name, self.version)

    @property
    def advisory_key(self) -> tuple[str, str]:
        """(name, version) as advisories of the component's ecosystem name it: the source
        package for distributions, the package itself everywhere else."""
        return (self.source_name or self.name, self.source_version or self.version)


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding is suppressed inline (the finding is kept, marked)."""

    reason: str
    source: str
    """Where the suppression came from, e.g. `inline:app.py:12`."""
    expires: str | None = None


SignalValue = str | int | float | bool | None | tuple["SignalValue", ...] | Mapping[str, "SignalValue"]
"""A scanner-specific fact: plain JSON-like data."""


@dataclass(frozen=True, slots=True)
class Epss:
    """FIRST EPSS: the probability of exploitation in the next 30 days, and its percentile."""

    score: float
    percentile: float = 0.0
    date: str | None = None
    """The day of the EPSS feed the score comes from."""


_set_attribute = object.__setattr__


@dataclass(frozen=True, init=False)
class Signals:
    """The facts about a finding that the policy, reports and evidence read.

    Every field is optional: None means the scanner did not say (reports show only what was
    said; the policy substitutes a neutral default). Scanner-specific facts go into `extra`.

    Built once per finding (thousands per scan): `__init__` stores all fields with one write
    of the instance dict instead of the frozen dataclass's one `object.__setattr__` per field
    (half the cost); its parameters are the fields, in order (a test holds them together).
    """

    in_test_path: bool | None = None
    """Secrets: the file is a test, fixture or example."""
    verified: bool | None = None
    """Secrets: the value checked out as real (checksum, structure or a live check)."""
    confidence: str | None = None
    """high | medium | low."""
    category: str | None = None
    """Rule category (e.g. `cloud-credential`, `public-access`)."""
    exposure: str | None = None
    """IaC: how exposed the resource is (e.g. `internet`)."""
    reachable: str | None = None
    """Vulnerabilities: `yes` | `no` | `unknown` (import-level reachability)."""
    kev: bool | None = None
    """Vulnerabilities: in CISA's Known Exploited Vulnerabilities catalog."""
    epss: Epss | None = None
    fix_versions: tuple[str, ...] | None = None
    aliases: tuple[str, ...] | None = None
    """Other ids of the advisory (CVE-…, GHSA-…)."""
    cvss_score: float | None = None
    scope: str | None = None
    """Vulnerabilities: the component's scope (runtime, dev, optional, unknown)."""
    direct: bool | None = None
    """Vulnerabilities: the component is a direct dependency."""
    extra: Mapping[str, SignalValue] = field(default_factory=dict)
    """Scanner-specific facts (e.g. `resource`, `advisories`, `cvss_vector`)."""

    def __init__(
        self,
        in_test_path: bool | None = None,
        verified: bool | None = None,
        confidence: str | None = None,
        category: str | None = None,
        exposure: str | None = None,
        reachable: str | None = None,
        kev: bool | None = None,
        epss: Epss | None = None,
        fix_versions: tuple[str, ...] | None = None,
        aliases: tuple[str, ...] | None = None,
        cvss_score: float | None = None,
        scope: str | None = None,
        direct: bool | None = None,
        extra: Mapping[str, SignalValue] | None = None,
    ) -> None:
        _set_attribute(
            self,
            "__dict__",
            {
                "in_test_path": in_test_path,
                "verified": verified,
                "confidence": confidence,
                "category": category,
                "exposure": exposure,
                "reachable": reachable,
                "kev": kev,
                "epss": epss,
                "fix_versions": fix_versions,
                "aliases": aliases,
                "cvss_score": cvss_score,
                "scope": scope,
                "direct": direct,
                "extra": {} if extra is None else extra,
            },
        )

    @classmethod
    def of(cls, values: Mapping[str, object]) -> Signals:
        """Signals from a mapping: known names fill the typed fields, the rest goes to `extra`."""
        known: dict[str, object] = {}
        extra: dict[str, SignalValue] = {}
        for key, value in values.items():
            if key in _SIGNAL_FIELDS:
                known[key] = _signal_field(key, value)
            else:
                extra[str(key)] = _signal_value(value)
        return cls(**known, extra=extra)  # type: ignore[arg-type]

    def get(self, key: str, default: object = None) -> object:
        """One signal by name (typed field or `extra`), `default` when the scanner did not say."""
        if key in _SIGNAL_FIELDS:
            value = getattr(self, key)
            return default if value is None else value
        return self.extra.get(key, default)

    def __getitem__(self, key: str) -> object:
        """`signals["name"]`: a typed field (None when unset) or an `extra` fact (KeyError when unset)."""
        if key in _SIGNAL_FIELDS:
            return getattr(self, key)
        return self.extra[key]

    def __contains__(self, key: object) -> bool:
        """True if the scanner set this signal."""
        return isinstance(key, str) and self.get(key) is not None

    def as_dict(self) -> dict[str, object]:
        """The signals the scanner set (typed fields first, then `extra`), as reports show them."""
        out: dict[str, object] = {k: getattr(self, k) for k in _SIGNAL_FIELDS if getattr(self, k) is not None}
        if self.epss is not None:
            out["epss"] = {
                "score": self.epss.score,
                "percentile": self.epss.percentile,
                "date": self.epss.date,
            }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


_SIGNAL_FIELDS = (
    "in_test_path",
    "verified",
    "confidence",
    "category",
    "exposure",
    "reachable",
    "kev",
    "epss",
    "fix_versions",
    "aliases",
    "cvss_score",
    "scope",
    "direct",
)


def _signal_field(key: str, value: object) -> object:
    if value is None:
        return None
    if key == "epss":
        if isinstance(value, Epss):
            return value
        if isinstance(value, Mapping):
            return Epss(
                float(value.get("score") or 0.0), float(value.get("percentile") or 0.0), value.get("date")
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Epss(float(value))
        return None
    if key in ("fix_versions", "aliases"):
        return (
            tuple(str(v) for v in value)
            if isinstance(value, list | tuple | set | frozenset)
            else (str(value),)
        )
    if key in ("in_test_path", "verified", "kev", "direct"):
        return bool(value)
    if key == "cvss_score":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def signal_value(value: object) -> SignalValue:
    """A scanner's fact as plain JSON-like data for `Signals.extra` (lists become tuples, sets
    sorted tuples, enums their values, anything else its text)."""
    return _signal_value(value)


def _signal_value(value: object) -> SignalValue:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return _signal_value(value.value)
    if isinstance(value, Mapping):
        return {str(k): _signal_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_signal_value(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(str(_signal_value(v)) for v in value))
    return str(value)


@dataclass(frozen=True, init=False)
class Finding:
    """One problem found by a scanner. One type for every kind.

    `fingerprint` is stable across runs and line moves and never contains a secret.
    `evidence` is already redacted. `signals` carries what the policy needs (`Signals`); a
    plain mapping given here is converted (`Signals.of`). Findings are never rewritten after the
    scan: what the policy decides (verdict, owner) lives on the `Decision`.
    """

    kind: FindingKind
    rule_id: str
    title: str
    severity: Severity
    location: Location
    fingerprint: str
    scanner: str
    message: str = ""
    evidence: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    component: Component | None = None
    signals: Signals = field(default_factory=Signals)
    suppression: Suppression | None = None

    def __init__(
        self,
        kind: FindingKind,
        rule_id: str,
        title: str,
        severity: Severity,
        location: Location,
        fingerprint: str,
        scanner: str,
        message: str = "",
        evidence: str = "",
        remediation: str = "",
        references: tuple[str, ...] = (),
        component: Component | None = None,
        signals: Signals | Mapping[str, object] | None = None,
        suppression: Suppression | None = None,
    ) -> None:
        # One write of the instance dict, not one `object.__setattr__` per field (as `Signals`).
        _set_attribute(
            self,
            "__dict__",
            {
                "kind": kind,
                "rule_id": rule_id,
                "title": title,
                "severity": severity,
                "location": location,
                "fingerprint": fingerprint,
                "scanner": scanner,
                "message": message,
                "evidence": evidence,
                "remediation": remediation,
                "references": references,
                "component": component,
                "signals": signals
                if isinstance(signals, Signals)
                else Signals()
                if signals is None
                else Signals.of(signals),
                "suppression": suppression,
            },
        )

    @property
    def suppressed(self) -> bool:
        """True if an inline suppression applies to this finding."""
        return self.suppression is not None

    def sort_key(self) -> tuple[Any, ...]:
        """Deterministic order: most severe first, then by place and rule."""
        rank, order = self.severity.sort_key()
        return (
            -rank,
            -order,
            self.location.path,
            self.location.start_line or 0,
            self.rule_id,
            self.fingerprint,
        )


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Documentation of one rule, for `clearance rules list`, SARIF rule metadata and reports."""

    id: str
    title: str
    severity: Severity
    scanner: str
    description: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file the source deliberately did not scan, with the reason (size, binary, ignored...)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScanError:
    """Something a scanner or source was asked to read but could not. Data, not an exception."""

    path: str
    message: str
    scanner: str = "source"


class ScannerStatus(enum.StrEnum):
    """Outcome of one scanner over the whole target."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ScannerRun:
    """What one scanner did: counts, bytes, duration, status and versions."""

    scanner: str
    version: str
    status: ScannerStatus
    files: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    detail: Mapping[str, Any] = field(default_factory=dict)
    """Scanner-specific facts for reports and evidence (rule-set digest, advisory DB age...)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What was scanned."""

    kind: str
    """`directory`, `git-history`, `git-diff`, `image`..."""
    path: str
    commit: str | None = None
    base: str | None = None
    refs: tuple[str, ...] = ()
    digest: str | None = None
    """Images: the config digest (image ID), which evidence binds to."""
    manifest_digest: str | None = None
    """Images: the manifest digest, when the archive records one."""
    name: str | None = None
    """Images: the first repository tag."""
    layers: tuple[str, ...] = ()
    """Images: the layers' diff_ids, lowest first."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a scan produced, before any policy decision."""

    target: Target
    findings: tuple[Finding, ...]
    components: tuple[Component, ...]
    runs: tuple[ScannerRun, ...]
    skipped: tuple[SkippedFile, ...] = ()
    errors: tuple[ScanError, ...] = ()
    warnings: tuple[str, ...] = ()
    """Non-fatal notices every report must show (e.g. a stale advisory database)."""
    files_scanned: int = 0
    bytes_scanned: int = 0
    duration_s: float = 0.0

    @property
    def complete(self) -> bool:
        """False if any source or scanner could not read what it was asked to read."""
        return not self.errors and all(
            r.status in (ScannerStatus.SUCCEEDED, ScannerStatus.SKIPPED) for r in self.runs
        )


class Action(enum.StrEnum):
    """What the policy decided for one finding."""

    BLOCK = "block"
    WARN = "warn"
    PASS = "pass"
    EXCEPTED = "excepted"
    IGNORE = "ignore"


class Outcome(enum.StrEnum):
    """Overall gate outcome."""

    PASS = "pass"
    WARN = "warn"
    BLOCK = "block"
    NEEDS_APPROVAL = "needs-approval"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's decision on one finding, with the rule (or exception) that decided it."""

    fingerprint: str
    action: Action
    rule: str
    message: str = ""
    exception_id: str | None = None
    notes: tuple[str, ...] = ()
    """Extra facts for humans, e.g. "exception EXC-12 (owner team-x) expired on 2026-10-01"."""
    owner: str = ""
    """Who the finding is routed to (CODEOWNERS, else the service owner), decided once by the policy."""


@dataclass(frozen=True, slots=True)
class CIContext:
    """What a report and the evidence need to know about the CI run."""

    provider: str | None = "local"
    """github | gitlab | ci (another CI) | local; None when a caller did not say."""
    repository: str | None = None
    commit: str | None = None
    branch: str | None = None
    pr: int | None = None
    run_url: str | None = None
    actor: str | None = None
    base_ref: str | None = None
    server_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, as a plain mapping."""
        return {k: getattr(self, k) for k in _CI_FIELDS if getattr(self, k) is not None}


_CI_FIELDS = (
    "provider",
    "repository",
    "commit",
    "branch",
    "pr",
    "run_url",
    "actor",
    "base_ref",
    "server_url",
)


def printable(text: str) -> str:
    """`text` with control and other non-printable characters shown as `\\xNN` escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def fingerprint(*parts: str | int | None) -> str:
    """A stable, non-reversible identifier built from the given parts (sha256, 32 hex chars).

    Callers must never pass a raw secret alone where it could be brute-forced; secrets are
    hashed together with the rule id and path by the secrets scanner.
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(b"\x1f")
        h.update(b"" if part is None else str(part).encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ChangedPath:
    """One path a change adds or modifies (PR mode), relative to the scanned root, POSIX."""

    path: str
    added_lines: frozenset[int] | None = None
    """1-based lines the change adds; None: every line counts (new, untracked or binary file)."""
    mode: str = "100644"
    """Git mode on the new side (120000 symlink, 160000 submodule)."""


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What a change touches compared with its base, read from git once (PR mode).

    The scan reads the changed files' current content and keeps findings on added lines; the
    policy uses the same paths for high-risk approvals and the merge base for the baseline.
    `changed` lists every changed path, including ones the scan ignores (an ignore rule never
    hides a path from the approval check).
    """

    base: str
    """The base ref as given (e.g. `origin/main`)."""
    merge_base: str
    """The commit the change forked from (resolved once)."""
    changed: tuple[ChangedPath, ...] = ()
    deleted: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Every touched path (changed and deleted), sorted."""
        return tuple(sorted({c.path for c in self.changed} | set(self.deleted)))


@dataclass(frozen=True, slots=True)
class Baseline:
    """Fingerprints already present at the merge base (PR mode), and how they were obtained."""

    base: str
    merge_base: str
    tree: str
    fingerprints: frozenset[str]
    paths: tuple[str, ...]
    """The base-side paths scanned (those that carry findings now)."""
    cached: bool = False
    complete: bool = True
    """False if a scanner could not read part of the base (those findings then count as new)."""

    def pre_existing(self, result: ScanResult) -> frozenset[str]:
        """Fingerprints of `result` that were already on the base."""
        return frozenset(f.fingerprint for f in result.findings if f.fingerprint in self.fingerprints)
