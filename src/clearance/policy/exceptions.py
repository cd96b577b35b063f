"""Exceptions: time-boxed risk acceptance, kept in the repository and reviewed like code.

`.clearance/exceptions.yaml` holds a list under `exceptions:`; each entry says what it
matches (`rule`, `fingerprint`, `component`, `path`, `advisory` — all given keys must hold),
who owns the risk, why, until when. Validation happens at load with the file's line numbers
(a `PolicyError`, exit 4). Expiry is decided against an injected `now`: an expired exception
no longer applies and the decision says which one expired and who owns it.

Writes (`clearance exceptions add`) go through ruamel.yaml's round-trip mode, so the file's
comments, order and quoting survive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import functools
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pathspec

from clearance.config import ExceptionLimitSettings
from clearance.errors import PolicyError
from clearance.globs import path_glob
from clearance.model import Finding, Severity

if TYPE_CHECKING:
    # The YAML round-trip library, purl and version parsing load only when an exceptions file
    # exists (most gate runs have none): about 25 ms of start-up otherwise paid by every run.
    from packageurl import PackageURL
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

MAX_FILE_BYTES = 1024 * 1024
ENTRY_KEYS = (
    "id",
    "match",
    "owner",
    "reason",
    "compensating_control",
    "created",
    "expires",
    "approved_by",
    "ticket",
    "severity",
)
REQUIRED_KEYS = ("id", "match", "owner", "reason", "created", "expires")
"""Critical findings also need `approved_by` and `compensating_control`."""
MATCH_KEYS = ("rule", "fingerprint", "component", "path", "advisory")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RELATIVE = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
EARLIEST_CREATED = dt.date(2000, 1, 1)
"""A `created` date before this is not a real exception's (e.g. `0001-01-01` to dodge the length cap)."""
CLOCK_SKEW = dt.timedelta(days=1)
"""How far in the future `created` may be (clock skew between the author's machine and CI)."""
WILDCARD_RULE_PROBES = ("secret.a", "iac.b", "deps.c", "x")
"""Rule ids from different families: a `rule` pattern matching all of them matches every rule."""
WILDCARD_PATH_PROBES = ("a", "x/y/z.tf", ".github/workflows/w.yml", "src/deep/dir/f.py")
"""Paths of different shapes: a `path` glob matching all of them matches every file."""
_HEADER = (
    "Time-boxed risk acceptance, reviewed like code. See docs/policy.md#exceptions.\n"
    "Every entry needs: id, match, owner, reason, created, expires\n"
    "(and approved_by + compensating_control for critical findings)."
)


@dataclass(frozen=True)
class ComponentMatch:
    """A component criterion: a purl (version optional) or a name with a version range."""

    purl: PackageURL | None = None
    name: str | None = None
    ecosystem: str | None = None
    version_range: str | None = None

    def matches(self, finding: Finding) -> bool:
        """True if the finding's component is this one (and in range)."""
        comp = finding.component
        if comp is None:
            return False
        if self.purl is not None:
            from packageurl import PackageURL

            try:
                other = PackageURL.from_string(comp.purl)
            except ValueError:
                return False
            if (self.purl.type.lower(), _norm(self.purl.namespace or ""), _norm(self.purl.name)) != (
                other.type.lower(),
                _norm(other.namespace or ""),
                _norm(other.name),
            ):
                return False
            return self.purl.version is None or self.purl.version == other.version
        if self.name is not None and _norm(self.name) != _norm(comp.name):
            return False
        if self.ecosystem is not None and self.ecosystem.lower() != comp.ecosystem.lower():
            return False
        return self.version_range is None or version_in_range(comp.version, self.version_range)

    def describe(self) -> str:
        """Human text for listings."""
        if self.purl is not None:
            return self.purl.to_string()
        return f"{self.name}{' ' + self.version_range if self.version_range else ''}"


@dataclass(frozen=True)
class ExceptionMatch:
    """What an exception applies to; every given criterion must hold."""

    rule: str | None = None
    fingerprint: str | None = None
    component: ComponentMatch | None = None
    path: str | None = None
    advisory: str | None = None

    def matches(self, finding: Finding) -> bool:
        """True if the finding meets every criterion."""
        if self.fingerprint is not None and self.fingerprint != finding.fingerprint:
            return False
        if self.rule is not None and not fnmatch.fnmatchcase(finding.rule_id, self.rule):
            return False
        if self.path is not None and not _path_spec(self.path).match_file(finding.location.path):
            return False
        if self.advisory is not None and not _advisory_matches(self.advisory, finding):
            return False
        return self.component is None or self.component.matches(finding)

    def wildcards(self) -> tuple[str, ...]:
        """The criteria that match everything (`rule: '*'`, `path: '**'`), in MATCH_KEYS order."""
        found = []
        if self.rule is not None and all(fnmatch.fnmatchcase(r, self.rule) for r in WILDCARD_RULE_PROBES):
            found.append("rule")
        if self.path is not None and all(_path_spec(self.path).match_file(p) for p in WILDCARD_PATH_PROBES):
            found.append("path")
        return tuple(found)

    def matches_every_rule(self) -> bool:
        """True if nothing but wildcards narrows this match: it would except any kind of finding."""
        if "rule" in self.wildcards():
            return True
        narrowing = (self.rule, self.fingerprint, self.component, self.advisory)
        return all(v is None for v in narrowing) and (self.path is None or "path" in self.wildcards())

    def describe(self) -> str:
        """`rule=… path=…` for listings."""
        parts = []
        for key in MATCH_KEYS:
            value = getattr(self, key)
            if value is not None:
                parts.append(f"{key}={value.describe() if isinstance(value, ComponentMatch) else value}")
        return " ".join(parts)


@dataclass(frozen=True)
class RiskException:
    """One accepted risk, valid until `expires` (exclusive: it has expired on that day)."""

    id: str
    match: ExceptionMatch
    owner: str
    reason: str
    created: dt.date
    expires: dt.date
    approved_by: str
    compensating_control: str = ""
    ticket: str = ""
    severity: Severity | None = None
    line: int = 0
    """1-based line of the entry in its file (0 if not from a file)."""
    source: str = ""
    pending: bool = False
    """PR mode: added or changed by the change under review; applies only once approved."""

    def terms(self) -> tuple[object, ...]:
        """What the entry says (not where it is): equal terms = the same exception."""
        return (
            self.id,
            self.match,
            self.owner,
            self.reason,
            self.created,
            self.expires,
            self.approved_by,
            self.compensating_control,
            self.ticket,
            self.severity,
        )

    def expired(self, now: dt.datetime) -> bool:
        """True once the expiry date has been reached (in UTC)."""
        return _utc_date(now) >= self.expires

    def days_left(self, now: dt.datetime) -> int:
        """Whole days until expiry (negative once expired)."""
        return (self.expires - _utc_date(now)).days

    def applicable_to(self, finding: Finding, limits: ExceptionLimitSettings, now: dt.datetime) -> str | None:
        """Why this exception may not cover `finding` (length or control rules), or None.

        The length counts from `created` and from today, whichever is longer, so a `created`
        date in the future cannot stretch an exception past the maximum.
        """
        allowed = limits.max_days(finding.severity)
        length = max((self.expires - self.created).days, self.days_left(now))
        if length > allowed:
            return (
                f"exception {self.id} lasts {length} days, longer than the {allowed}-day maximum for "
                f"{finding.severity.value} findings"
            )
        if finding.severity is Severity.CRITICAL and not self.compensating_control:
            return f"exception {self.id} has no compensating_control, which critical findings require"
        if finding.severity is Severity.CRITICAL and not self.approved_by:
            return f"exception {self.id} has no approved_by, which {finding.severity.value} findings require"
        return None

    def where(self) -> str:
        """`file:line` of the entry."""
        return f"{self.source}:{self.line}" if self.source else self.id


@dataclass(frozen=True)
class ExceptionSet:
    """All exceptions of a repository, in file order."""

    entries: tuple[RiskException, ...] = ()
    source: str | None = None
    warnings: tuple[str, ...] = ()
    """Load-time warnings (e.g. wildcard matches), one line each with `file:line`."""

    def matching(self, finding: Finding) -> list[RiskException]:
        """Entries whose criteria match the finding (expired or not)."""
        return [e for e in self.entries if e.match.matches(finding)]

    def against_base(self, base: ExceptionSet) -> ExceptionSet:
        """This set with every entry the base does not hold word for word marked `pending`
        (added, or extended/changed, by the change under review)."""
        held = {e.id: e.terms() for e in base.entries}
        entries = tuple(
            e if held.get(e.id) == e.terms() else dataclasses.replace(e, pending=True) for e in self.entries
        )
        return dataclasses.replace(self, entries=entries)

    def pending(self) -> tuple[RiskException, ...]:
        """Entries added or changed by the change under review."""
        return tuple(e for e in self.entries if e.pending)


def parse_expiry(text: str, now: dt.datetime) -> dt.date:
    """`30d`, `2w` or an ISO date → the expiry date."""
    m = _RELATIVE.match(text)
    if m:
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        return _utc_date(now) + dt.timedelta(days=days)
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise PolicyError(
            f"cannot read expiry {text!r}", hint="use a duration like 30d or 2w, or a date YYYY-MM-DD"
        ) from None


def load_exceptions(
    path: Path,
    limits: ExceptionLimitSettings,
    display: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> ExceptionSet:
    """Read and validate an exceptions file; a missing file is an empty set.

    `now` (default: the current time) is the clock `created` dates are checked against.
    """
    name = display or str(path)
    if not path.is_file():
        return ExceptionSet(source=None)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PolicyError(f"{name}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{name}: not UTF-8 text") from None
    except OSError as e:
        raise PolicyError(f"{name}: cannot read: {e.strerror}") from e
    return parse_exceptions(text, name, limits, now=now)


def parse_exceptions(
    text: str, source: str, limits: ExceptionLimitSettings, *, now: dt.datetime | None = None
) -> ExceptionSet:
    """Validate exceptions YAML text; all problems are reported at once with line numbers.

    `created` may not lie in the future (beyond a day of clock skew) or before 2000; the
    maximum length counts from today as well as from `created`. A wildcard match (`rule: '*'`,
    `path: '**'`) is a warning, and an error unless `allow_wildcards` is set.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    today = _utc_date(now or dt.datetime.now(dt.UTC))
    data = _load_yaml(text, source)
    if data is None:
        return ExceptionSet(source=source)
    if not isinstance(data, CommentedMap):
        raise PolicyError(f"{source}:1: expected a mapping with an `exceptions:` list")
    unknown_top = [k for k in data if k not in ("exceptions", "version")]
    problems: list[str] = [f"{source}:{_key_line(data, k)}: unknown key {k!r}" for k in unknown_top]
    items = data.get("exceptions")
    if items is None:
        items = CommentedSeq()
    if not isinstance(items, CommentedSeq):
        problems.append(f"{source}:{_key_line(data, 'exceptions')}: `exceptions` must be a list")
        items = CommentedSeq()
    entries: list[RiskException] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        line = _item_line(items, index)
        if not isinstance(item, CommentedMap):
            problems.append(f"{source}:{line}: entry #{index + 1} must be a mapping")
            continue
        entry, entry_problems = _entry(item, source, line, limits, today)
        problems.extend(entry_problems)
        if entry is not None:
            wild = entry.match.wildcards()
            if entry.match.matches_every_rule() and not limits.allow_wildcards:
                problems.append(
                    f"{source}:{line}: exception {entry.id!r}: match {entry.match.describe()} excepts "
                    "every rule; name the rule (or set [policy.exceptions] allow_wildcards = true)"
                )
            elif wild:
                warnings.append(
                    f"{source}:{line}: exception {entry.id!r} uses a wildcard "
                    f"({', '.join(f'{k}={getattr(entry.match, k)}' for k in wild)}): it excepts every "
                    f"matching finding"
                )
            if entry.id in seen:
                problems.append(f"{source}:{line}: id {entry.id!r} is already used on line {seen[entry.id]}")
            seen.setdefault(entry.id, line)
            entries.append(entry)
    if problems:
        raise PolicyError(
            f"{source}: invalid exceptions file\n" + "\n".join(f"  {p}" for p in problems),
            hint="see docs/policy.md#exceptions; `clearance exceptions add` writes a valid entry",
        )
    return ExceptionSet(entries=tuple(entries), source=source, warnings=tuple(warnings))


def _load_yaml(text: str, source: str) -> Any:
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import AliasEvent

    yaml = _yaml()
    try:
        for event in yaml.parse(io.StringIO(text)):
            if isinstance(event, AliasEvent):
                mark = event.start_mark
                raise PolicyError(
                    f"{source}:{mark.line + 1}: YAML aliases are not allowed in exceptions files"
                )
        return yaml.load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise PolicyError(f"{source}{line}: not valid YAML: {problem}") from None


def _entry(
    item: CommentedMap,
    source: str,
    line: int,
    limits: ExceptionLimitSettings,
    today: dt.date,
) -> tuple[RiskException | None, list[str]]:
    problems: list[str] = []
    where = f"{source}:{line}"
    ident = str(item.get("id", "")) if item.get("id") is not None else ""
    label = f"exception {ident!r}" if ident else "exception"

    def at(key: str) -> str:
        return f"{source}:{_key_line(item, key)}" if key in item else where

    for key in item:
        if key not in ENTRY_KEYS:
            problems.append(f"{at(key)}: {label}: unknown key {key!r} (expected: {', '.join(ENTRY_KEYS)})")
    for key in REQUIRED_KEYS:
        if key not in item or item[key] in (None, ""):
            problems.append(f"{where}: {label}: missing required field `{key}`")
    if ident and not _ID.match(ident):
        problems.append(f"{at('id')}: {label}: id must be letters, digits, '.', '_' or '-' (max 64)")
    match = _match(item.get("match"), at("match"), label, problems) if "match" in item else None
    created = _date(item.get("created"), at("created"), label, "created", problems)
    expires = _date(item.get("expires"), at("expires"), label, "expires", problems)
    severity: Severity | None = None
    if item.get("severity") is not None:
        try:
            severity = Severity.parse(str(item["severity"]))
        except ValueError as e:
            problems.append(f"{at('severity')}: {label}: {e}")
    if created and created < EARLIEST_CREATED:
        problems.append(f"{at('created')}: {label}: created {created} is before {EARLIEST_CREATED}")
        created = None
    elif created and created > today + CLOCK_SKEW:
        problems.append(f"{at('created')}: {label}: created {created} is in the future (today is {today})")
        created = None
    if created and expires:
        if expires <= created:
            problems.append(f"{at('expires')}: {label}: expires {expires} is not after created {created}")
        else:
            allowed = limits.max_days(severity) if severity else limits.max_days_other
            length = max((expires - created).days, (expires - today).days)
            if length > allowed:
                what = f"{severity.value} findings" if severity else "an exception"
                problems.append(
                    f"{at('expires')}: {label}: lasts {length} days; the maximum for {what} is {allowed}"
                )
    if severity is Severity.CRITICAL and not item.get("approved_by"):
        problems.append(f"{where}: {label}: {severity.value} exceptions need `approved_by`")
    if severity is Severity.CRITICAL and not item.get("compensating_control"):
        problems.append(f"{where}: {label}: critical exceptions need a `compensating_control`")
    for key in ("owner", "reason", "approved_by", "compensating_control", "ticket"):
        if key in item and item[key] is not None and not isinstance(item[key], str):
            problems.append(f"{at(key)}: {label}: `{key}` must be text")
    ticket = item.get("ticket")
    if isinstance(ticket, str) and ticket and not ticket.startswith(("https://", "http://")):
        problems.append(f"{at('ticket')}: {label}: `ticket` must be a URL (https://...)")
    if problems or match is None or created is None or expires is None:
        return None, problems
    return RiskException(
        id=ident,
        match=match,
        owner=str(item["owner"]),
        reason=str(item["reason"]),
        created=created,
        expires=expires,
        approved_by=str(item.get("approved_by") or ""),
        compensating_control=str(item.get("compensating_control") or ""),
        ticket=str(item.get("ticket") or ""),
        severity=severity,
        line=line,
        source=source,
    ), problems


def _match(value: object, where: str, label: str, problems: list[str]) -> ExceptionMatch | None:
    if not isinstance(value, Mapping) or not value:
        problems.append(
            f"{where}: {label}: `match` must be a mapping with at least one of {', '.join(MATCH_KEYS)}"
        )
        return None
    unknown = [k for k in value if k not in MATCH_KEYS]
    if unknown:
        from ruamel.yaml.comments import CommentedMap

        if isinstance(value, CommentedMap):
            where = f"{where.rsplit(':', 1)[0]}:{_key_line(value, unknown[0])}"
        problems.append(
            f"{where}: {label}: unknown match key {unknown[0]!r} (expected: {', '.join(MATCH_KEYS)})"
        )
        return None
    texts: dict[str, str] = {}
    for key in ("rule", "fingerprint", "path", "advisory"):
        if key in value:
            if not isinstance(value[key], str) or not value[key].strip():
                problems.append(f"{where}: {label}: match.{key} must be non-empty text")
                return None
            texts[key] = value[key].strip()
    if "path" in texts:
        try:
            _path_spec(texts["path"]).match_file("x")
        except (ValueError, TypeError, re.error) as e:
            problems.append(f"{where}: {label}: match.path {texts['path']!r} is not a valid glob: {e}")
            return None
    component = None
    if "component" in value:
        component = _component(value["component"], where, label, problems)
        if component is None:
            return None
    return ExceptionMatch(
        rule=texts.get("rule"),
        fingerprint=texts.get("fingerprint"),
        component=component,
        path=texts.get("path"),
        advisory=texts.get("advisory"),
    )


def _component(value: object, where: str, label: str, problems: list[str]) -> ComponentMatch | None:
    from packageurl import PackageURL

    if isinstance(value, str):
        try:
            return ComponentMatch(purl=PackageURL.from_string(value))
        except ValueError as e:
            problems.append(f"{where}: {label}: match.component is not a valid purl: {e}")
            return None
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        unknown = [k for k in value if k not in ("name", "version", "ecosystem")]
        if unknown:
            problems.append(f"{where}: {label}: match.component: unknown key {unknown[0]!r}")
            return None
        rng = value.get("version")
        if rng is not None:
            rng = str(rng)
            problem = _range_problem(rng)
            if problem:
                problems.append(f"{where}: {label}: match.component.version: {problem}")
                return None
        eco = value.get("ecosystem")
        return ComponentMatch(name=value["name"], version_range=rng, ecosystem=str(eco) if eco else None)
    problems.append(
        f"{where}: {label}: match.component must be a purl or a mapping with `name` (and `version`)"
    )
    return None


def _date(value: object, where: str, label: str, key: str, problems: list[str]) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: {label}: `{key}` must be a date YYYY-MM-DD, not {value!r}")
        return None


def version_in_range(version: str, spec: str) -> bool:
    """True if `version` is inside `spec` (`vers:` URI via univers, else PEP 440 specifiers)."""
    if spec.startswith("vers:"):
        from univers.version_range import VersionRange

        try:
            rng = VersionRange.from_string(spec)  # type: ignore[no-untyped-call]
            return bool(rng.version_class(version) in rng)
        except Exception:  # univers raises many types for unparsable versions
            return False
    text = spec.strip()
    if text and text[0].isalnum():
        return version == text
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(text, prereleases=True)
    except (InvalidVersion, InvalidSpecifier):
        return False


def _range_problem(spec: str) -> str | None:
    if spec.startswith("vers:"):
        from univers.version_range import VersionRange

        try:
            VersionRange.from_string(spec)  # type: ignore[no-untyped-call]
        except Exception as e:  # univers raises many types
            return f"invalid vers range {spec!r}: {e}"
        return None
    if spec.strip() and spec.strip()[0].isalnum():
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        return f"invalid version range {spec!r} (use e.g. '<2.32', '>=1.0,<2.0' or 'vers:npm/<4.17.21')"
    return None


def _advisory_matches(advisory: str, finding: Finding) -> bool:
    wanted = advisory.lower()
    rule = finding.rule_id.lower()
    if rule == wanted or rule.endswith("." + wanted):
        return True
    ids: list[str] = []
    for key in ("aliases", "advisories", "advisory", "advisory_id", "id"):
        value = finding.signals.get(key)
        if isinstance(value, str):
            ids.append(value)
        elif isinstance(value, list | tuple):
            ids.extend(str(v) for v in value)
    return any(i.lower() == wanted for i in ids)


def _path_spec(pattern: str) -> pathspec.PathSpec[Any]:
    return path_glob(pattern)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _utc_date(now: dt.datetime) -> dt.date:
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC)
    return now.date()


def _key_line(mapping: CommentedMap, key: str) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (KeyError, AttributeError, TypeError):
        return int(getattr(mapping.lc, "line", 0)) + 1


def _item_line(seq: CommentedSeq, index: int) -> int:
    try:
        return int(seq.lc.item(index)[0]) + 1
    except (KeyError, AttributeError, TypeError):
        return 0


@functools.cache
def _constructor() -> type:
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.nodes import ScalarNode

    class _Constructor(RoundTripConstructor):
        """Round-trip constructor that leaves an impossible date (`2027-02-30`) as text, so the
        entry's validation reports it with its line instead of the YAML library raising."""

        def construct_yaml_timestamp(self, node: ScalarNode, values: Any = None) -> Any:
            try:
                return super().construct_yaml_timestamp(node, values)
            except ValueError:
                return self.construct_scalar(node)

    _Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)
    return _Constructor


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Constructor = _constructor()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewException:
    """What `clearance exceptions add` was asked to write."""

    owner: str
    reason: str
    expires: dt.date
    approved_by: str = ""
    rule: str | None = None
    fingerprint: str | None = None
    component: str | None = None
    path: str | None = None
    advisory: str | None = None
    compensating_control: str = ""
    ticket: str = ""
    severity: Severity | None = None
    id: str | None = None


def add_exception(
    path: Path,
    new: NewException,
    limits: ExceptionLimitSettings,
    now: dt.datetime,
    display: str | None = None,
) -> RiskException:
    """Append a validated entry to the file (created if missing), keeping comments and order."""
    name = display or str(path)
    today = _utc_date(now)
    if new.expires <= today:
        raise PolicyError(f"expiry {new.expires} is not in the future (today is {today})")
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    existing = load_exceptions(path, limits, display=name, now=now)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    yaml = _yaml()
    data = yaml.load(text) if text.strip() else None
    if data is None:
        data = CommentedMap()
        data.yaml_set_start_comment(_HEADER)
    if "exceptions" not in data or data["exceptions"] is None:
        data["exceptions"] = CommentedSeq()
    ident = new.id or next_id([e.id for e in existing.entries])
    entry = CommentedMap()
    entry["id"] = ident
    match = CommentedMap()
    for key in MATCH_KEYS:
        value = getattr(new, key)
        if value:
            match[key] = value
    if not match:
        raise PolicyError(
            "an exception needs at least one match criterion",
            hint="give --rule, --fingerprint, --component, --path or --advisory",
        )
    match.fa.set_flow_style()
    entry["match"] = match
    entry["owner"] = new.owner
    entry["reason"] = new.reason
    if new.compensating_control:
        entry["compensating_control"] = new.compensating_control
    if new.severity is not None:
        entry["severity"] = new.severity.value
    entry["created"] = today
    entry["expires"] = new.expires
    if new.approved_by:
        entry["approved_by"] = new.approved_by
    if new.ticket:
        entry["ticket"] = new.ticket
    data["exceptions"].append(entry)
    out = io.StringIO()
    yaml.dump(data, out)
    rendered = out.getvalue()
    parsed = parse_exceptions(rendered, name, limits, now=now)  # never write an invalid file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(rendered, encoding="utf-8")
    tmp.replace(path)
    return next(e for e in parsed.entries if e.id == ident)


def next_id(existing: Sequence[str]) -> str:
    """The next free `EXC-<n>` id."""
    numbers = [int(m.group(1)) for i in existing if (m := re.fullmatch(r"EXC-(\d+)", i))]
    return f"EXC-{max(numbers, default=0) + 1}"
