"""Configuration: `clearance.toml` at the target root, or `[tool.clearance]` in pyproject.toml.

Validated with pydantic in strict mode at load time; anything unknown, malformed or of the
wrong type (`fail_closed = "false"` is a string, not a boolean) is a `ConfigError` (exit 4)
that names the file, the key, its line and the expected type. Nesting deeper than
`MAX_NESTING` is refused before parsing, so a hostile file cannot exhaust the stack.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clearance.errors import ConfigError
from clearance.model import Severity
from clearance.scanners.deps.settings import DepsSettings as DepsSettings
from clearance.scanners.iac.settings import IacLimitsSettings as IacLimitsSettings
from clearance.scanners.iac.settings import IacSettings as IacSettings
from clearance.scanners.registry import SCANNERS, scanner_ids
from clearance.scanners.secrets.settings import CustomSecretRule as CustomSecretRule
from clearance.scanners.secrets.settings import SecretsSettings as SecretsSettings

CONFIG_FILE = "clearance.toml"
MAX_CONFIG_BYTES = 1024 * 1024
"""A configuration file larger than this is refused (exit 4)."""
MAX_NESTING = 32
"""Deepest array/inline-table nesting accepted in a configuration file (exit 4 beyond)."""
NO_SIZE_CAP = 2**63 - 1
"""`max_file_size = 0` means no cap: stored as the largest file size there can be."""
DEFAULT_SCANNERS = tuple(spec.id for spec in SCANNERS if spec.default)
"""The scanners that run when `scanners` is not set: the registry's defaults."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


PolicyAction = Literal["block", "warn", "ignore"]


class PolicyRuleSettings(_Section):
    """One `[[policy.rules]]` entry: a CEL condition and what to do when it holds."""

    name: str = Field(min_length=1)
    when: str = Field(min_length=1)
    """CEL expression over `finding`, `service`, `env`, `change`; must evaluate to a bool."""
    action: PolicyAction
    message: str = ""


class EnvironmentPolicySettings(_Section):
    """`[policy.environments.<name>]`: rules and threshold for one target environment."""

    rules: list[PolicyRuleSettings] = Field(default_factory=list)
    """Evaluated before the general `[[policy.rules]]`."""
    fail_on: Severity | None = None
    """Replace the built-in default policy by a severity threshold in this environment."""

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, v: object) -> object:
        return Severity.parse(v) if isinstance(v, str) else v


class ExceptionLimitSettings(_Section):
    """`[policy.exceptions]`: where exceptions live and how long they may last."""

    file: str = ".clearance/exceptions.yaml"
    max_days_critical: int = Field(default=30, ge=1)
    max_days_high: int = Field(default=90, ge=1)
    max_days_other: int = Field(default=180, ge=1)
    expiring_soon_days: int = Field(default=14, ge=0)
    allow_wildcards: bool = False
    """Allow exceptions whose match excepts every rule (`rule: '*'`, or only `path: '**'`)."""

    def max_days(self, severity: Severity) -> int:
        """The longest an exception for a finding of `severity` may last."""
        if severity is Severity.CRITICAL:
            return self.max_days_critical
        if severity is Severity.HIGH:
            return self.max_days_high
        return self.max_days_other


class HighRiskPathSettings(_Section):
    """A high-risk path pattern with the risk owner(s) who must approve changes to it."""

    owners: list[str] = Field(min_length=1)
    reason: str = ""
    contains: list[str] = Field(default_factory=list)
    """Only when the changed file contains one of these strings (e.g. `aws_iam_` in *.tf)."""


class InlineSuppressionSettings(_Section):
    """`[policy.inline_suppression]`: which findings a `clearance:ignore` comment may not pass.

    Inline suppressions need a reason either way; these refuse them outright (the finding is
    then decided as if the comment were not there, with a note saying why)."""

    refuse_kinds: list[Literal["secret", "vulnerability", "misconfiguration", "imported"]] = Field(
        default_factory=list
    )
    """Kinds that may not be suppressed inline, e.g. `["secret"]` (use an exception instead)."""
    refuse_at: Severity | None = None
    """Findings at or above this severity may not be suppressed inline, e.g. `"critical"`."""


class PolicySettings(_Section):
    """`[policy]`: rules, environments, exceptions, PR mode and high-risk paths."""

    rules: list[PolicyRuleSettings] = Field(default_factory=list)
    """Evaluated in order before the built-in default policy; the first match wins."""
    builtin: bool = True
    """Append the built-in default policy after your rules (false: your rules, then warn)."""
    fail_on: Severity | None = None
    """Replace the built-in default policy by a plain severity threshold."""
    epss_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    environments: dict[str, EnvironmentPolicySettings] = Field(default_factory=dict)
    exceptions: ExceptionLimitSettings = Field(default_factory=ExceptionLimitSettings)
    inline_suppression: InlineSuppressionSettings = Field(default_factory=InlineSuppressionSettings)
    pre_existing: Literal["warn", "policy"] = "warn"
    """PR mode: findings already on the base ref warn (`warn`) or follow the policy (`policy`)."""
    high_risk_paths: dict[str, HighRiskPathSettings] | None = None
    """Pattern → risk owners; None = the documented defaults."""
    teams: dict[str, list[str]] = Field(default_factory=dict)
    """Team → member logins, so an approval by a member counts for `@org/team` owners."""
    default_risk_owner: str = "@security"
    """Risk owner of the built-in high-risk paths."""
    max_rule_cost: int = Field(default=100_000, ge=1)
    """Refuse rules whose estimated cost (sub-expression evaluations per run) is above this."""
    rule_time_budget_ms: int = Field(default=250, ge=1)
    """One evaluation of one rule longer than this fails closed, and the rule is not run again."""

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, v: object) -> object:
        return Severity.parse(v) if isinstance(v, str) else v

    @field_validator("high_risk_paths", mode="before")
    @classmethod
    def _owners_shorthand(cls, v: object) -> object:
        if isinstance(v, dict):
            return {
                k: ({"owners": [o]} if isinstance(o, str) else {"owners": o} if isinstance(o, list) else o)
                for k, o in v.items()
            }
        return v

    @field_validator("high_risk_paths")
    @classmethod
    def _patterns_compile(
        cls, v: dict[str, HighRiskPathSettings] | None
    ) -> dict[str, HighRiskPathSettings] | None:
        import pathspec

        for pattern in v or {}:
            try:
                pathspec.PathSpec.from_lines("gitignore", [pattern]).match_file("x")
            except (ValueError, TypeError, re.error) as e:
                raise ValueError(f"invalid path pattern {pattern!r}: {e}") from None
        return v

    @field_validator("environments")
    @classmethod
    def _environment_names(
        cls, v: dict[str, EnvironmentPolicySettings]
    ) -> dict[str, EnvironmentPolicySettings]:
        return {name.strip().lower(): section for name, section in v.items()}


class ServiceSettings(_Section):
    """`[service]`: who owns this repository's service and how exposed it is."""

    name: str = ""
    owner: str = ""
    lifecycle: str = ""
    system: str = ""
    tags: list[str] = Field(default_factory=list)
    exposure: Literal["internet", "internal", "none", ""] = ""
    data_classification: Literal[
        "public", "internal", "confidential", "restricted", "pii", "payments", "health", ""
    ] = ""
    tier: str = ""


class Settings(_Section):
    """Validated settings for one run."""

    scanners: list[str] = Field(default_factory=lambda: list(DEFAULT_SCANNERS))
    ignore: list[str] = Field(default_factory=list)
    """gitignore-style globs never scanned (on top of .gitignore and .clearanceignore)."""
    max_file_size: int = Field(default=5 * 1024 * 1024, ge=0)
    """Bytes. Larger files are streamed by the secrets scanner and not parsed by the others
    (incomplete under the default; skipped when set explicitly). 0 = no cap."""
    fail_on: Severity = Severity.HIGH
    fail_closed: bool = True
    """Treat an incomplete scan (unreadable input) as a failure of the gate (exit 3)."""
    # One section per scanner family: the registry's `ScannerSpec.settings` (a test checks they agree).
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    deps: DepsSettings = Field(default_factory=DepsSettings)
    iac: IacSettings = Field(default_factory=IacSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, v: object) -> object:
        return Severity.parse(v) if isinstance(v, str) else v

    @field_validator("max_file_size")
    @classmethod
    def _no_cap(cls, v: int) -> int:
        return NO_SIZE_CAP if v == 0 else v

    def size_cap_is_default(self) -> bool:
        """True unless the configuration set `max_file_size` (raised, lowered or disabled it)."""
        return "max_file_size" not in self.model_fields_set

    @field_validator("scanners")
    @classmethod
    def _known_scanners(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in scanner_ids()]
        if unknown:
            raise ValueError(f"unknown scanner(s) {unknown}; available: {', '.join(scanner_ids())}")
        return v


Source = Literal["defaults", "clearance.toml", "pyproject.toml"]


def load_settings(root: Path, explicit: Path | None = None) -> tuple[Settings, Path | None]:
    """Load settings for a target directory.

    Looks for `explicit`, else `<root>/clearance.toml`, else `[tool.clearance]` in
    `<root>/pyproject.toml`, else defaults. Returns the settings and the file used.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"configuration file {explicit} does not exist")
        return _from_file(explicit, table=None), explicit
    candidate = root / CONFIG_FILE if root.is_dir() else None
    if candidate is not None and candidate.is_file():
        return _from_file(candidate, table=None), candidate
    pyproject = root / "pyproject.toml" if root.is_dir() else None
    if pyproject is not None and pyproject.is_file():
        data = _read_toml(pyproject)
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "clearance" in tool:
            return _validate(tool["clearance"], pyproject, prefix="tool.clearance"), pyproject
    return Settings(), None


def repository_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` that holds `.git` (a directory, or the file a
    worktree or submodule has), or None outside a repository. A plain filesystem walk: no git."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return None


def discover_settings(
    start: Path, stop: Path | None, explicit: Path | None = None
) -> tuple[Settings, Path | None]:
    """Load the settings that apply to `start`, found the way git and ruff find theirs.

    `explicit` wins; else the nearest `clearance.toml` (or `pyproject.toml` with
    `[tool.clearance]`) in `start` or a parent directory, up to and including `stop` (the
    repository root; without one only `start` is looked at); else the defaults.
    """
    if explicit is not None:
        return load_settings(start, explicit)
    here = start.resolve()
    last = stop.resolve() if stop is not None else here
    for directory in (here, *here.parents):
        settings, found = load_settings(directory)
        if found is not None:
            return settings, found
        if directory == last or last not in directory.parents:
            break
    return Settings(), None


def settings_from_text(text: str, origin: str, *, pyproject: bool) -> Settings | None:
    """Validate configuration text read from elsewhere than the working tree (e.g. a file at a
    git revision): a `clearance.toml`, or a pyproject.toml's `[tool.clearance]` table (None
    when it has none). Same checks and errors as `load_settings`, naming `origin`."""
    data = _parse_toml(text, origin)
    if not pyproject:
        return _validate(data, Path(origin), prefix="", text=text)
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "clearance" in tool:
        return _validate(tool["clearance"], Path(origin), prefix="tool.clearance", text=text)
    return None


def config_table(text: str, origin: str, *, pyproject: bool) -> object:
    """The raw configuration table in `text` (what `settings_from_text` validates), for comparing
    two versions of a file; None for a pyproject.toml without `[tool.clearance]`."""
    data = _parse_toml(text, origin)
    if not pyproject:
        return data
    tool = data.get("tool", {})
    return tool.get("clearance") if isinstance(tool, dict) else None


def settings_from_mapping(data: dict[str, Any], origin: str = "<mapping>") -> Settings:
    """Validate a mapping (e.g. from tests) as settings."""
    return _validate(data, Path(origin), prefix="")


def _from_file(path: Path, table: str | None) -> Settings:
    data = _read_toml(path)
    return _validate(data, path, prefix="")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})", hint="save the file as UTF-8") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    return _parse_toml(text, str(path))


def _parse_toml(text: str, path: str) -> dict[str, Any]:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    depth, line = _nesting(text)
    if depth > MAX_NESTING:
        raise ConfigError(
            f"{path}:{line}: arrays or inline tables nested deeper than {MAX_NESTING} levels",
            hint="no clearance setting needs this much nesting; remove it",
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"{path}: not valid TOML: {e}", hint="fix the syntax error at the position shown"
        ) from e
    except RecursionError as e:  # belt and braces: _nesting() should have refused it
        raise ConfigError(f"{path}: nested too deeply to read") from e


def _nesting(text: str) -> tuple[int, int]:
    """The deepest `[`/`{` nesting outside strings and comments, and the line where it is reached.

    An over-estimate is harmless (it only guards the parser): table headers count one level.
    """
    depth = deepest = 0
    line = deepest_line = 1
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if quote in ('"', "'"):
                quote = ""  # single-line strings end at the line (a syntax error tomllib reports)
        elif quote:
            if c == "\\" and quote in ('"', '"""'):
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            continue
        elif c in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest, deepest_line


def _validate(data: object, path: Path, prefix: str, text: str | None = None) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        text = _text_or_empty(path) if text is None else text
        lines = []
        for err in e.errors():
            parts = [str(p) for p in err["loc"]]
            loc = ".".join(parts)
            key = f"{prefix}.{loc}" if prefix and loc else (loc or prefix or "<root>")
            line = _key_line(text, [*prefix.split("."), *parts] if prefix else parts)
            where = f"{key} (line {line})" if line else key
            lines.append(f"  {where}: {_message(err)}")
        raise ConfigError(
            f"{path}: invalid configuration\n" + "\n".join(lines),
            hint="see docs/configuration.md for every key; `clearance init` writes a commented starter file",
        ) from e


_EXPECTED = {
    "bool_type": "a boolean (true or false, without quotes)",
    "int_type": "an integer (without quotes)",
    "float_type": "a number (without quotes)",
    "string_type": "a string (in quotes)",
    "list_type": "an array ([...])",
    "dict_type": "a table",
    "model_type": "a table",
}


def _message(err: Any) -> str:
    """Pydantic's message, plus the expected TOML type and what was given for type errors."""
    expected = _EXPECTED.get(err["type"])
    if expected is None:
        return str(err["msg"])
    given = err.get("input")
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}
    return f"expected {expected}, got {kind.get(type(given), type(given).__name__)} {_short(given)}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return ""


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _key_line(text: str, loc: list[str]) -> int | None:
    """The 1-based line that sets `loc` (e.g. `policy.rules.0.when`) in TOML text, else the line
    of its closest enclosing key or table; None when nothing matches (e.g. defaults)."""
    if not text:
        return None
    table: list[str] = []
    arrays: dict[tuple[str, ...], int] = {}
    best: tuple[int, int] | None = None  # (matched parts, line)
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            names = _dotted(header.group(2))
            if header.group(1) == "[[":
                index = arrays.get(tuple(names), -1) + 1
                arrays[tuple(names)] = index
                table = [*_with_indices(names, arrays), str(index)]
            else:
                table = _with_indices(names, arrays)
            full = table
        else:
            key = _KEY.match(raw)
            if not key:
                continue
            full = [*table, *_dotted(key.group(1))]
        matched = _common(full, loc)
        if matched == len(full) and (best is None or matched > best[0]):
            best = (matched, number)
            if matched == len(loc):
                return number
    return best[1] if best else None


def _dotted(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def _with_indices(names: list[str], arrays: dict[tuple[str, ...], int]) -> list[str]:
    """`[policy.rules.x]` inside the second `[[policy.rules]]` → policy.rules.1.x."""
    out: list[str] = []
    for name in names:
        out.append(name)
        if tuple(out) in arrays and name != names[-1]:
            out.append(str(arrays[tuple(out)]))
    return out


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
