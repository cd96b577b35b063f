"""OSV affected-range evaluation with each ecosystem's own version order.

Implements the OSV schema's evaluation rules exactly: only `ECOSYSTEM` and `SEMVER`
ranges are evaluated (`GIT` ranges are skipped, never a reason to stop), the events of a
range are sorted by the ecosystem's version order before they are walked, `introduced`
opens a vulnerable interval (`"0"` means "since the first version"), `fixed` closes it
exclusively, `last_affected` closes it inclusively, `limit` caps the whole range, and a
range may hold several intervals. `affected[].versions` lists are an exact enumeration
checked in addition to the ranges.

Version order: PEP 440 via `packaging` for PyPI; `univers` for every other ecosystem
(SemVer for npm/crates.io, Go module versions with pseudo-versions and `+incompatible`,
RubyGems, Maven, NuGet, Packagist/Composer...). A version that does not parse raises
`VersionParseError`: the caller reports it, it is never silently safe or vulnerable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

SUPPORTED_RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})

_TIE_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 1, "limit": 2}
"""Order of events at the same version: an interval `introduced X, fixed X` is empty."""


class VersionParseError(ValueError):
    """A version string is not valid in its ecosystem's version scheme."""

    def __init__(self, ecosystem: str, version: str, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"{version!r} is not a valid {ecosystem} version{detail}")
        self.ecosystem = ecosystem
        self.version = version


class UnsupportedEcosystem(ValueError):
    """No version scheme is known for this ecosystem (ranges cannot be evaluated)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One OSV range event: `kind` is introduced | fixed | last_affected | limit."""

    kind: str
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    """One OSV range: its type (ECOSYSTEM, SEMVER, GIT) and its events as written."""

    type: str
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class AffectedSpec:
    """The version part of one `affected[]` entry."""

    ecosystem: str
    ranges: tuple[Range, ...]
    versions: tuple[str, ...] = ()
    canonical_versions: str | None = None
    """`versions_blob` of the canonical forms of `versions`, when precomputed (the store does so at
    import and then leaves `versions` empty)."""

    @property
    def has_versions(self) -> bool:
        """True if the entry enumerates affected versions."""
        return bool(self.versions) or bool(self.canonical_versions)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Whether one installed version is affected by one `affected[]` entry.

    `fix_versions`: per range that affects the version, the lowest `fixed` above it.
    `undecided`: reasons a range could not be evaluated (bad event versions, unknown
    scheme) when the `versions` list could not decide either.
    """

    affected: bool
    fix_versions: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()


def base_ecosystem(ecosystem: str) -> str:
    """`Debian:11` → `Debian`; OSV ecosystems may carry a `:suffix` (release, variant)."""
    return ecosystem.split(":", 1)[0].strip()


_PEP503 = re.compile(r"[-_.]+")


def normalize_name(ecosystem: str, name: str) -> str:
    """The name under which a package is indexed: PEP 503 for PyPI, case-folded where the
    ecosystem is case-insensitive (crates.io, NuGet, Packagist), verbatim otherwise."""
    eco = base_ecosystem(ecosystem)
    name = name.strip()
    if eco == "PyPI":
        return _PEP503.sub("-", name).lower()
    if eco in ("crates.io", "NuGet", "Packagist", "Pub", "Hex"):
        return name.lower()
    return name


def parse_version(ecosystem: str, version: str) -> Any:
    """A comparable version object for `version` in `ecosystem`'s scheme (cached).

    Raises `VersionParseError` if it does not parse, `UnsupportedEcosystem` if the
    ecosystem has no known scheme.
    """
    return _parse_cached(base_ecosystem(ecosystem), version.strip())


def version_key(ecosystem: str) -> Callable[[str], Any]:
    """A sort key for version strings of one ecosystem (unparseable ones sort first, by text)."""
    eco = base_ecosystem(ecosystem)

    def key(v: str) -> tuple[int, Any]:
        try:
            return (1, _parse_cached(eco, v.strip()))
        except (VersionParseError, UnsupportedEcosystem):
            return (0, v)

    return key


def sort_versions(ecosystem: str, versions: Iterable[str]) -> list[str]:
    """Distinct version strings in the ecosystem's order."""
    unique = list(dict.fromkeys(versions))
    if len(unique) < 2:
        return unique
    try:
        return sorted(unique, key=version_key(ecosystem))
    except TypeError:  # mixed parse/non-parse never compares across kinds, but be safe
        return sorted(unique)


def evaluate(spec: AffectedSpec, version: str, parsed: Any | None = None) -> MatchResult:
    """Is `version` affected by `spec`? Raises `VersionParseError` if `version` does not parse."""
    eco = base_ecosystem(spec.ecosystem)
    if parsed is None:
        parsed = _parse_cached(eco, version.strip())
    affected = False
    fixes: list[str] = []
    undecided: list[str] = []
    for rng in spec.ranges:
        if rng.type not in SUPPORTED_RANGE_TYPES:
            continue
        try:
            hit, fix = _evaluate_range(eco, rng, parsed)
        except (VersionParseError, UnsupportedEcosystem) as e:
            undecided.append(f"{rng.type} range not evaluated: {e}")
            continue
        if hit:
            affected = True
            if fix is not None:
                fixes.append(fix)
    if spec.has_versions:
        undecided = []  # the enumeration decides where a range could not
        if not affected:
            affected = _in_versions_list(eco, spec, version, parsed)
    return MatchResult(
        affected=affected,
        fix_versions=tuple(sort_versions(eco, fixes)),
        undecided=tuple(undecided) if not affected else (),
    )


def canonical_version(ecosystem: str, version: str) -> str:
    """A string form under which equal versions compare equal, for `versions` list membership.

    PyPI: PEP 440 normalization without trailing zero release segments (`2015.04.28` and
    `2015.4.28.0` → `2015.4.28`); Go/SemVer ecosystems: without a leading `v`; else verbatim.
    """
    return _canonical(base_ecosystem(ecosystem), version.strip())


def canonical_versions(ecosystem: str, versions: Iterable[str]) -> list[str]:
    """Sorted distinct `canonical_version`s of a `versions` list (precomputed by the store at import)."""
    eco = base_ecosystem(ecosystem)
    return sorted({_canonical(eco, v.strip()) for v in versions})


def versions_blob(versions: Iterable[str]) -> str:
    """Versions as one newline-delimited string (`"\\n1.0\\n1.1\\n"`): membership is a substring test."""
    return "\n" + "\n".join(versions) + "\n"


def _canonical(eco: str, v: str) -> str:
    if eco == "PyPI":
        m = _PEP440_CANONICAL.match(v)
        if m is None:  # rare: non-canonical spellings (1.0-RC1, 2015.04.28, v1.0, 1.0-1 ...)
            try:
                return canonicalize_version(Pep440Version(v), strip_trailing_zero=True)
            except InvalidVersion:
                return v
        rest = m.group("rest")
        release = v[: len(v) - len(rest)]
        while release.endswith(".0"):
            release = release[:-2]
        return release + rest
    if eco in _V_PREFIXED:
        return v[1:] if v.startswith("v") else v
    return v


_PEP440_CANONICAL = re.compile(
    r"^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*"
    r"(?P<rest>(?:(?:a|b|rc)(?:0|[1-9]\d*))?(?:\.post(?:0|[1-9]\d*))?(?:\.dev(?:0|[1-9]\d*))?)$"
)
"""Versions already in PEP 440 canonical form (most of them): no parse needed."""
_V_PREFIXED = frozenset({"Go", "npm", "crates.io", "Hex", "Pub", "SwiftURL", "Packagist"})


def _evaluate_range(eco: str, rng: Range, v: Any) -> tuple[bool, str | None]:
    """Walk one range's sorted events. Returns (affected, lowest fixed above v in this range).

    Raises `VersionParseError` only when an event version does not parse *and* the answer
    depends on it: what the other events decide is decided (see `_placed_events`).
    """
    try:  # the common case, every bound parses: no bookkeeping for unknown places
        keyed = sorted(
            ((_event_key(eco, e), i, e) for i, e in enumerate(rng.events) if e.kind in _TIE_ORDER),
            key=lambda t: (t[0], t[1]),
        )
    except VersionParseError:
        pass
    else:
        return _walk(keyed, v)
    placed, unknown = _placed_events(eco, rng, v)
    if not unknown:
        return _walk(placed, v)
    # An event whose bound is unknown can be anywhere. Openings (introduced) only add
    # vulnerable versions and closings (fixed, last_affected, limit) only remove them, so:
    openings = [e for e, _ in unknown if e.kind == "introduced"]
    most = placed + [((0, None, _TIE_ORDER["introduced"]), -1, e) for e in openings]
    if not _walk(sorted(most, key=lambda t: (t[0], t[1])), v)[0]:
        return False, None  # not affected even if every unknown opening were at the start
    if len(openings) == len(unknown):
        hit, fix = _walk(placed, v)
        if hit:
            return True, fix  # affected even without the unknown openings
    raise unknown[0][1]


def _placed_events(
    eco: str, rng: Range, v: Any
) -> tuple[list[tuple[Any, int, Event]], list[tuple[Event, VersionParseError]]]:
    """The range's events with comparable bounds (sorted), and those whose place relative to `v` is unknown.

    A PyPI bound that does not parse but starts with a release number (`2.6.0-cu124`,
    `0.14.0-NA`) lies among that release's versions, `2.6.0.dev0` ≤ bound < `2.6.0.1.dev0`:
    for a version outside that span its side is certain, and it is placed at the span's start
    (unless another bound falls inside the span, which would make their order unknown).
    """
    placed: list[tuple[Any, int, Event]] = []
    spans: list[tuple[Any, Any, int, Event, VersionParseError]] = []
    unknown: list[tuple[Event, VersionParseError]] = []
    for index, event in enumerate(rng.events):
        if event.kind not in _TIE_ORDER:
            continue
        try:
            placed.append((_event_key(eco, event), index, event))
        except VersionParseError as e:
            span = _release_span(eco, event.version)
            if span is None or span[0] <= v < span[1]:
                unknown.append((event, e))
            else:
                spans.append((span[0], span[1], index, event, e))
    for position, (low, high, index, event, error) in enumerate(spans):
        others = [k[1] for k, _, _ in placed if k[1] is not None]
        others += [other[0] for j, other in enumerate(spans) if j != position]
        if any(low <= bound < high for bound in others):
            unknown.append((event, error))  # another bound inside the span: their order is unknown
        else:
            placed.append(((1, low, _TIE_ORDER[event.kind]), index, event))
    return sorted(placed, key=lambda t: (t[0], t[1])), unknown


_RELEASE_PREFIX = re.compile(r"^v?(\d+(?:\.\d+)*)(?=[^\d.]|$)")


def _release_span(eco: str, version: str) -> tuple[Any, Any] | None:
    """For PyPI: the versions an unparseable `X.Y.Z<junk>` bound may stand for, [X.Y.Z.dev0, X.Y.Z.1.dev0)."""
    if eco != "PyPI":
        return None
    match = _RELEASE_PREFIX.match(version.strip())
    if match is None:
        return None
    release = match.group(1)
    return Pep440Version(f"{release}.dev0"), Pep440Version(f"{release}.1.dev0")


def _walk(keyed: list[tuple[Any, int, Event]], v: Any) -> tuple[bool, str | None]:
    """The OSV walk over sorted (key, index, event) triples."""
    vulnerable = False
    limits: list[Any] = []
    for key, _, event in keyed:
        bound = key[1]
        if event.kind == "introduced":
            if bound is None or v >= bound:
                vulnerable = True
        elif event.kind == "fixed":
            if bound is not None and v >= bound:
                vulnerable = False
        elif event.kind == "last_affected":
            if bound is not None and v > bound:
                vulnerable = False
        elif event.kind == "limit" and event.version != "*":
            limits.append(bound)
    if vulnerable and limits and not any(lim is not None and v < lim for lim in limits):
        vulnerable = False
    if not vulnerable:
        return False, None
    fixed_above = [
        (k[1], e.version) for k, _, e in keyed if e.kind == "fixed" and k[1] is not None and k[1] > v
    ]
    return True, (min(fixed_above, key=lambda p: p[0])[1] if fixed_above else None)


def _event_key(eco: str, event: Event) -> tuple[int, Any, int]:
    """Sort key (group, bound, tie order) of an event.

    `introduced: 0` sorts below every version and `limit: *` above (their bound is None).
    """
    tie = _TIE_ORDER[event.kind]
    if event.kind == "introduced" and event.version.strip() == "0":
        return (0, None, tie)
    if event.kind == "limit" and event.version.strip() == "*":
        return (2, None, tie)
    return (1, parse_version(eco, event.version), tie)


def _in_versions_list(eco: str, spec: AffectedSpec, version: str, parsed: Any) -> bool:
    """Exact membership in an `affected[].versions` enumeration, by `canonical_version`.

    PEP 440: `2015.04.28 == 2015.4.28`, and a local label is ignored (`1.0+ubuntu1` counts as `1.0`).
    """
    if version in spec.versions:
        return True
    canon = spec.canonical_versions
    if canon is None:
        canon = versions_blob(canonical_versions(eco, spec.versions))
    installed = parsed.public if eco == "PyPI" and isinstance(parsed, Pep440Version) else version
    return f"\n{_canonical(eco, installed.strip())}\n" in canon


@functools.lru_cache(maxsize=262_144)
def _parse_cached(eco: str, version: str) -> Any:
    parser = _PARSERS.get(eco)
    if parser is None:
        raise UnsupportedEcosystem(f"no version scheme known for ecosystem {eco!r}")
    if not version:
        raise VersionParseError(eco, version, "empty")
    try:
        return parser(version)
    except VersionParseError:
        raise
    except Exception as e:  # univers raises a zoo of types (InvalidVersion, ValueError, TypeError)
        raise VersionParseError(eco, version, type(e).__name__) from None


def _pep440(version: str) -> Any:
    try:
        return Pep440Version(version)
    except InvalidVersion:
        raise VersionParseError("PyPI", version, "not PEP 440") from None


def _univers(class_name: str) -> Callable[[str], Any]:
    def parse(version: str) -> Any:
        from univers import versions as uv

        cls = getattr(uv, class_name)
        return cls(version)

    return parse


_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def _semver(version: str) -> Any:
    """Strict SemVer 2.0 (univers would coerce `1.x` or `1.2` into a different version)."""
    if not _SEMVER.match(version):
        raise VersionParseError("SemVer", version, "not SemVer 2.0")
    return _univers("SemverVersion")(version)


def _go(version: str) -> Any:
    v = version
    if v.startswith("go"):  # stdlib / toolchain versions as written by `go version`
        v = v[2:]
    return _univers("GolangVersion")(v)


_R_VERSION = re.compile(r"^\d+(?:[.-]\d+)+$")


def _r_package_version(version: str) -> tuple[int, ...]:
    """R's `package_version` order (CRAN, Bioconductor): at least two integers split by `.` or `-`."""
    if not _R_VERSION.match(version):
        raise VersionParseError("CRAN", version, "not an R package version")
    return tuple(int(part) for part in re.split(r"[.-]", version))


_PARSERS: dict[str, Callable[[str], Any]] = {
    "PyPI": _pep440,
    "npm": _semver,
    "crates.io": _semver,
    "Hex": _semver,
    "Pub": _semver,
    "SwiftURL": _semver,
    "Go": _go,
    "RubyGems": _univers("RubygemsVersion"),
    "Maven": _univers("MavenVersion"),
    "NuGet": _univers("NugetVersion"),
    "Packagist": _univers("ComposerVersion"),
    "Debian": _univers("DebianVersion"),
    "Ubuntu": _univers("DebianVersion"),
    "Alpine": _univers("AlpineLinuxVersion"),
    "Red Hat": _univers("RpmVersion"),
    "Rocky Linux": _univers("RpmVersion"),
    "AlmaLinux": _univers("RpmVersion"),
    "ConanCenter": _univers("ConanVersion"),
    "CRAN": _r_package_version,
    "Bioconductor": _r_package_version,
}
"""Version schemes per OSV base ecosystem."""


def supported_ecosystems() -> tuple[str, ...]:
    """Base ecosystems whose ranges can be evaluated."""
    return tuple(_PARSERS)
