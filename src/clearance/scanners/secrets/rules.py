"""Secret rules: data in `rules.toml` (plus custom rules from configuration), validated at load.

A rule names one credential type: an id (`secret.<kind>`), a title, a severity, a Python
regular expression whose capture group (the group named `secret`, else group 1) is the
secret, cheap literal `keywords`, an optional Shannon-entropy minimum, optional validators,
allow patterns and examples. A malformed rule is a `RuleError` that names the rule.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, AnyStr, cast

from clearance.errors import ConfigError
from clearance.model import RuleInfo, Severity

if TYPE_CHECKING:
    from clearance.scanners.secrets.settings import SecretsSettings

RULE_ID_RE = re.compile(r"^secret\.[a-z0-9][a-z0-9.-]*$")
_RULE_ID_LINE = re.compile(r'^id\s*=\s*"([^"]*)"', re.M)
CATEGORIES = frozenset(
    {
        "cloud",
        "vcs",
        "chat",
        "payment",
        "messaging",
        "registry",
        "ai",
        "observability",
        "saas",
        "infrastructure",
        "private-key",
        "token",
        "database",
        "url",
        "generic",
        "custom",
    }
)
DEFAULT_WINDOW = 256
"""Bytes examined on each side of a candidate match when confirming it."""

_ALLOWED_KEYS = frozenset(
    {
        "id",
        "title",
        "severity",
        "description",
        "category",
        "regex",
        "prefilter",
        "keywords",
        "entropy",
        "validators",
        "require_valid",
        "allow",
        "examples",
        "negative_examples",
        "window",
        "remediation",
        "references",
        "lookbehind",
        "assignment",
    }
)


class RuleError(ConfigError):
    """A secret rule (built-in or custom) is malformed; the message names the rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated, compiled secret rule."""

    id: str
    title: str
    severity: Severity
    regex: str
    pattern: re.Pattern[bytes]
    secret_group: str | int
    keywords: tuple[str, ...]
    category: str = "token"
    description: str = ""
    prefilter: str | None = None
    """Hyperscan expression for the cheap pass (default: `regex`)."""
    entropy: float | None = None
    validators: tuple[str, ...] = ()
    require_valid: bool = False
    """Drop a candidate whose validator says it is malformed (else it is kept, unverified)."""
    allow: tuple[re.Pattern[str], ...] = ()
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    window: int = DEFAULT_WINDOW
    """Bytes examined after a candidate (and before it, unless `lookbehind` is smaller)."""
    lookbehind: int = DEFAULT_WINDOW
    """Bytes examined before a candidate's end: where the full match may start."""
    assignment: bool = False
    """The Hyperscan expression ends at an assignment operator and the regex starts at the key
    token right before it: confirm with one anchored match instead of a window search."""
    remediation: str = ""
    references: tuple[str, ...] = ()
    builtin: bool = True

    @property
    def generic(self) -> bool:
        """True for key-name based rules (their findings yield to specific rules)."""
        return self.category == "generic"

    def info(self) -> RuleInfo:
        """Documentation of this rule for `clearance rules list` and SARIF."""
        return RuleInfo(
            id=self.id,
            title=self.title,
            severity=self.severity,
            scanner="secrets",
            description=self.description,
            remediation=self.remediation or _DEFAULT_REMEDIATION,
            references=self.references,
            tags=("secret", self.category) if self.builtin else ("secret", self.category, "custom"),
        )


_DEFAULT_REMEDIATION = (
    "Revoke and rotate the credential, remove it from the code (and history), and load it from a "
    "secret manager or the environment at run time."
)


@dataclass(frozen=True)
class RuleSet:
    """The active rules (built-in + custom, minus disabled) and their digest."""

    rules: tuple[Rule, ...]
    digest: str = field(default="")

    def by_index(self, index: int) -> Rule:
        """The rule at `index` (the Hyperscan expression id)."""
        return self.rules[index]


def builtin_rule_data() -> list[dict[str, Any]]:
    """The raw entries of the packaged `rules.toml`."""
    return _parse_builtin(_builtin_text())


def _builtin_text() -> str:
    return resources.files("clearance.scanners.secrets").joinpath("rules.toml").read_text("utf-8")


def _parse_builtin(text: str) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RuleError(f"built-in rules.toml is not valid TOML: {e}") from e
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise RuleError("built-in rules.toml: expected an array of [[rule]] tables")
    return entries


@functools.lru_cache(maxsize=1)
def _builtin_rules() -> tuple[Rule, ...]:
    """The built-in rules, validated and compiled once per process.

    Parsing the 140 kB `rules.toml` and measuring every pattern's widest match cost ~0.1 s of
    CPU on every run, so both results are cached (as JSON, keyed by the file's sha256 and the
    Python version whose regex parser measured them) next to the compiled Hyperscan database.
    The cached entries go through the same validation as freshly parsed ones (a cache that
    fails it is ignored and rewritten)."""
    text = _builtin_text()
    path = cache_directory() / "secrets" / f"rules-{_sha(sys.version, text)}.json"
    try:
        cached = json.loads(path.read_bytes())
        # The same rule ids as the file's `id = "..."` lines: a truncated or edited cache is
        # re-parsed. (The directory is trusted like the Hyperscan database
        # beside it: whoever can write there can also replace that database.)
        if sorted(entry["id"] for entry in cached) == sorted(_RULE_ID_LINE.findall(text)):
            return tuple(compile_rule(entry, builtin=True, lazy=True) for entry in cached)
    except (OSError, ValueError, TypeError, AttributeError, KeyError, RuleError):
        pass
    entries = _parse_builtin(text)
    rules = tuple(compile_rule(entry, builtin=True, lazy=True) for entry in entries)
    measured = [{**entry, "lookbehind": rule.lookbehind} for entry, rule in zip(entries, rules, strict=True)]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(measured), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs a re-parse next time
    return rules


def _sha(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def cache_directory() -> Path:
    """Where compiled rules and databases are cached: `$CLEARANCE_CACHE_DIR` or the user cache dir."""
    env = os.environ.get("CLEARANCE_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("clearance"))


def load_rules(settings: SecretsSettings | None = None) -> RuleSet:
    """Built-in rules plus the configured custom rules, minus the disabled ones, validated."""
    rules = list(_builtin_rules())
    if settings is not None:
        for custom in settings.rules:
            entry = custom.model_dump()
            entry["severity"] = custom.severity.value
            entry.setdefault("category", "custom")
            rules.append(compile_rule(entry, builtin=False))
    _check_unique(rules)
    disabled = set(settings.disable) if settings is not None else set()
    active = tuple(r for r in rules if r.id not in disabled)
    return RuleSet(rules=active, digest=rules_digest(active))


_PATTERN_ATTRIBUTES = ("match", "search", "finditer", "fullmatch", "findall", "sub", "groupindex", "groups")
"""What callers read from a lazy pattern: bound to the compiled regex's own, so that after the
first use each access costs what it costs on an `re.Pattern` (without it: ~30,000 Python-level
`__getattr__` hops on the secrets benchmark corpus, ~0.6 µs each)."""


class LazyPattern:
    """A compiled regex that compiles itself on first use (behaves as the `re.Pattern` it wraps).

    For patterns known to compile (the packaged rules, which the test suite compiles one by one,
    and the filters' fixed expressions): a run over a few files does not pay for regexes it never
    reaches."""

    __slots__ = ("_compiled", "_flags", "_source", *_PATTERN_ATTRIBUTES)

    def __init__(self, source: str | bytes, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        # Reached only for attributes not yet bound: before the first use, or not in the list.
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source, self._flags)
            for attribute in _PATTERN_ATTRIBUTES:
                setattr(self, attribute, getattr(compiled, attribute))
        return getattr(compiled, name)

    def __reduce__(self) -> tuple[Any, ...]:  # worker processes receive rules by pickling
        return (LazyPattern, (self._source, self._flags))


def lazy_regex(source: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """`re.compile(source, flags)`, compiled on first use (see `LazyPattern`)."""
    return cast("re.Pattern[AnyStr]", LazyPattern(source, flags))


def compile_rule(entry: dict[str, Any], *, builtin: bool, lazy: bool = False) -> Rule:
    """Validate one raw rule entry and compile it; raise `RuleError` naming the rule.

    `lazy` (the packaged rules only, which the test suite compiles one by one): the regex is
    compiled on first use instead of now."""
    rid = str(entry.get("id", "<missing id>"))

    def fail(msg: str) -> RuleError:
        origin = "rules.toml" if builtin else "configuration [secrets.rules]"
        return RuleError(
            f"secret rule {rid!r} ({origin}): {msg}", hint="see docs/secrets.md for the rule format"
        )

    unknown = set(entry) - _ALLOWED_KEYS
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}")
    if not RULE_ID_RE.match(rid):
        raise fail("id must look like 'secret.<kind>' (lowercase letters, digits, '.', '-')")
    for key in ("title", "regex"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise fail(f"missing or empty {key!r}")
    try:
        severity = Severity.parse(str(entry.get("severity", "high")))
    except ValueError as e:
        raise fail(str(e)) from None
    category = str(entry.get("category", "custom" if not builtin else "token"))
    if category not in CATEGORIES:
        raise fail(f"unknown category {category!r}")
    regex = str(entry["regex"])
    pattern: re.Pattern[bytes]
    if lazy:
        # Built-in rules are known to compile (the test suite compiles every one); Python's `re`
        # compiles each only when Hyperscan first reports a candidate for it, so a run over a
        # few files does not pay for 150 regexes it never needs.
        pattern = lazy_regex(regex.encode("utf-8"))
        group: str | int = "secret" if "(?P<secret>" in regex else 1
    else:
        try:
            pattern = re.compile(regex.encode("utf-8"))
        except re.error as e:
            raise fail(f"invalid regex: {e}") from None
        if "secret" in pattern.groupindex:
            group = "secret"
        elif pattern.groups >= 1:
            group = 1
        else:
            raise fail("regex needs a capture group for the secret (a group named 'secret', or group 1)")
    keywords = tuple(str(k) for k in entry.get("keywords", ()))
    if any(not k for k in keywords):
        raise fail("empty keyword")
    allow: list[re.Pattern[str]] = []
    for a in entry.get("allow", ()):
        try:
            allow.append(re.compile(str(a)))
        except re.error as e:
            raise fail(f"invalid allow pattern {a!r}: {e}") from None
    entropy = entry.get("entropy")
    if entropy is not None and not (isinstance(entropy, int | float) and 0 <= float(entropy) <= 8):
        raise fail("entropy must be a number between 0 and 8")
    from clearance.scanners.secrets.validators import VALIDATORS

    validators = tuple(str(v) for v in entry.get("validators", ()))
    for v in validators:
        if v not in VALIDATORS:
            raise fail(f"unknown validator {v!r} (known: {', '.join(sorted(VALIDATORS))})")
    window = int(entry.get("window", DEFAULT_WINDOW))
    if not 16 <= window <= 65536:
        raise fail("window must be between 16 and 65536 bytes")
    examples = tuple(str(x) for x in entry.get("examples", ()))
    negatives = tuple(str(x) for x in entry.get("negative_examples", ()))
    if builtin and (len(examples) < 2 or len(negatives) < 2):
        raise fail("built-in rules need at least two examples and two negative_examples")
    prefilter = entry.get("prefilter")
    lookbehind = entry.get("lookbehind")
    if lookbehind is None:
        lookbehind = _default_lookbehind(str(prefilter or regex), window)
    elif not 16 <= int(lookbehind) <= 65536:
        raise fail("lookbehind must be between 16 and 65536 bytes")
    return Rule(
        id=rid,
        title=str(entry["title"]),
        severity=severity,
        regex=regex,
        pattern=pattern,
        secret_group=group,
        keywords=keywords,
        category=category,
        description=str(entry.get("description", "")),
        prefilter=str(prefilter) if prefilter else None,
        entropy=float(entropy) if entropy is not None else None,
        validators=validators,
        require_valid=bool(entry.get("require_valid", False)),
        allow=tuple(allow),
        examples=examples,
        negative_examples=negatives,
        window=window,
        lookbehind=int(lookbehind),
        assignment=bool(entry.get("assignment", False)),
        remediation=str(entry.get("remediation", "")),
        references=tuple(str(r) for r in entry.get("references", ())),
        builtin=builtin,
    )


def _default_lookbehind(expression: str, window: int) -> int:
    """How far before a Hyperscan match end the full regex may start: the widest match of the
    Hyperscan expression plus a margin for leading context (key names, boundaries)."""
    try:
        # The stdlib regex parser (private, but stable since 3.11) knows a pattern's widest match.
        parser: Any = importlib.import_module("re._parser")
        _lo, hi = parser.parse(expression).getwidth()
    except Exception:  # not every Hyperscan expression is valid Python syntax
        return window
    return min(window, int(hi) + 64)


def rules_digest(rules: Iterable[Rule]) -> str:
    """sha256 over everything that changes what the rules match (for caches and evidence)."""
    h = hashlib.sha256()
    for r in rules:
        h.update(
            json.dumps(
                [
                    r.id,
                    r.regex,
                    r.prefilter,
                    list(r.keywords),
                    r.entropy,
                    list(r.validators),
                    r.require_valid,
                    [a.pattern for a in r.allow],
                    r.window,
                    r.category,
                    r.severity.value,
                ],
                sort_keys=True,
            ).encode()
        )
    return h.hexdigest()


def rule_infos(rules: Sequence[Rule]) -> list[RuleInfo]:
    """RuleInfo for each rule, sorted by id."""
    return sorted((r.info() for r in rules), key=lambda i: i.id)


def _check_unique(rules: Sequence[Rule]) -> None:
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RuleError(
                f"secret rule {r.id!r} is defined twice",
                hint="custom rules must use ids that differ from the built-in ones",
            )
        seen.add(r.id)
