"""The server's deploy policy: what each environment requires before an artifact may run there.

Read from a YAML or TOML file (`clearance ledger serve --deploy-policy FILE`, documented in
docs/deploy.md) and validated completely at load time: an invalid file is refused with the
offending key, never half-applied. Environments that the file does not name fall under
`default`, which denies by default (the lesson of policy-controller: deny what no policy matches).
"""

from __future__ import annotations

import datetime as dt
import enum
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clearance.errors import ConfigError, MalformedInput
from clearance.globs import path_glob
from clearance.model import Severity
from clearance.safe_yaml import load_plain

MAX_POLICY_BYTES = 1024 * 1024
OWNERS_GROUP = "owners"
"""The approver group that stands for the service's owning team."""

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enforcement(enum.StrEnum):
    """What a failing check does in an environment."""

    DENY = "deny"
    WARN = "warn"
    OFF = "off"


class FreezeWindow(_Strict):
    """A period in which deploys are high-risk (need approvals) or denied.

    Either a one-off window (`start`/`end`, UTC timestamps) or a weekly one (`days` plus
    `from`/`to` times of day, UTC); deny overrides allow, as Argo CD's sync windows do.
    """

    name: str = "freeze"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(default_factory=list)
    from_time: dt.time | None = Field(default=None, alias="from")
    to_time: dt.time | None = Field(default=None, alias="to")
    action: Literal["require-approval", "deny"] = "require-approval"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> FreezeWindow:
        one_off = self.start is not None or self.end is not None
        weekly = bool(self.days) or self.from_time is not None or self.to_time is not None
        if one_off == weekly:
            raise ValueError("a freeze window is either start/end or days/from/to")
        if one_off:
            if self.start is None or self.end is None:
                raise ValueError("a one-off freeze window needs both start and end")
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError("freeze window start/end need a time zone (e.g. 2026-12-20T00:00:00Z)")
            if self.end <= self.start:
                raise ValueError("freeze window end must be after its start")
        elif not self.days:
            raise ValueError("a weekly freeze window needs days")
        return self

    def contains(self, now: dt.datetime) -> bool:
        """True if `now` (aware) falls in this window."""
        now = now.astimezone(dt.UTC)
        if self.start is not None and self.end is not None:
            return self.start <= now < self.end
        if _WEEKDAYS[now.weekday()] not in self.days:
            return False
        t = now.time().replace(tzinfo=None)
        lo = self.from_time or dt.time(0, 0)
        hi = self.to_time
        return lo <= t and (hi is None or t < hi)


class AutoApproval(_Strict):
    """When a change is low-risk enough to be approved by a rule instead of people."""

    enabled: bool = False
    rule: str = "low-risk-change"
    """The name recorded as the approver when this rule approves."""
    low_risk_paths: list[str] = Field(
        default_factory=lambda: ["docs/**", "**/*.md", "tests/**", "test/**", "**/*_test.go", "config/**"]
    )
    """Every changed path must match one of these (gitignore-style globs)."""
    high_risk_paths: list[str] = Field(
        default_factory=lambda: [
            "**/auth/**",
            "**/iam/**",
            "**/payments/**",
            "**/*.tf",
            ".clearance/**",
            "clearance.toml",
            "CODEOWNERS",
            ".github/**",
        ]
    )
    """A change touching any of these is high-risk, even if it also matches a low-risk path."""
    max_changed_lines: int = Field(default=200, ge=0)
    max_changed_files: int = Field(default=20, ge=0)

    @field_validator("low_risk_paths", "high_risk_paths")
    @classmethod
    def _globs(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if not pattern.strip():
                raise ValueError("empty path pattern")
            path_glob(pattern)
        return v


class EnvironmentPolicy(_Strict):
    """What one environment requires (every check configurable)."""

    rank: int = Field(default=0, ge=0)
    """Higher is closer to production (used for ordering only)."""
    evidence: Enforcement = Enforcement.DENY
    """A verified bundle for this exact digest whose decision passed."""
    required_approvals: int = Field(default=0, ge=0, le=20)
    approver_groups: list[str] = Field(default_factory=lambda: [OWNERS_GROUP, "security"])
    """Teams whose members may approve; `owners` is the service's owning team."""
    drift: Enforcement = Enforcement.WARN
    """Open drift for (service, environment): deny blocks, warn admits with a warning."""
    open_risk: Enforcement = Enforcement.DENY
    blocking_severities: list[Severity] = Field(default_factory=lambda: [Severity.CRITICAL, Severity.HIGH])
    """Open findings of these severities past their SLA deny (with `open_risk: deny`)."""
    digests_required: bool = True
    """Images referenced by tag only are denied (admission) and digests must be sha256."""
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    auto_approval: AutoApproval = Field(default_factory=AutoApproval)
    first_deploy_needs_approval: bool = True
    """The first deploy of a service to this environment is a high-risk change."""
    admission: Literal["enforce", "warn"] = "enforce"
    """`warn`: the admission webhook admits what it would deny, with warnings."""

    @field_validator("evidence", "drift", "open_risk", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        # YAML 1.1 reads an unquoted `off` as false.
        return Enforcement.OFF if v is False else v

    @field_validator("blocking_severities", mode="before")
    @classmethod
    def _severities(cls, v: object) -> object:
        if isinstance(v, list):
            return [Severity.parse(s) if isinstance(s, str) else s for s in v]
        return v

    @field_validator("approver_groups")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        return [g.strip().lstrip("@").lower() for g in v if g.strip()]

    @model_validator(mode="after")
    def _approvers_exist(self) -> EnvironmentPolicy:
        if self.required_approvals and not self.approver_groups:
            raise ValueError("required_approvals > 0 needs at least one approver group")
        return self


def _deny_all() -> EnvironmentPolicy:
    return EnvironmentPolicy(evidence=Enforcement.DENY, required_approvals=1, drift=Enforcement.DENY)


class DeployPolicy(_Strict):
    """The whole file: named environments plus the policy of every other environment."""

    version: Literal[1] = 1
    environments: dict[str, EnvironmentPolicy] = Field(default_factory=dict)
    default: EnvironmentPolicy = Field(default_factory=_deny_all)
    """Environments not named above: deny-by-default unless configured otherwise."""

    @field_validator("environments")
    @classmethod
    def _names(cls, v: dict[str, EnvironmentPolicy]) -> dict[str, EnvironmentPolicy]:
        out: dict[str, EnvironmentPolicy] = {}
        for name, env in v.items():
            key = name.strip().lower()
            if not key or key in out:
                raise ValueError(f"environment name {name!r} is empty or repeated")
            out[key] = env
        return out

    def for_env(self, env: str) -> EnvironmentPolicy:
        """The policy of `env` (case-insensitive), or the default."""
        return self.environments.get(env.strip().lower(), self.default)

    def is_known(self, env: str) -> bool:
        """True if the file names `env`."""
        return env.strip().lower() in self.environments


def default_policy() -> DeployPolicy:
    """The built-in policy used when the server has no policy file: staging and dev are open,
    prod needs evidence, two approvals and no drift; anything else is denied by default."""
    return DeployPolicy(
        environments={
            "dev": EnvironmentPolicy(
                rank=1,
                evidence=Enforcement.WARN,
                drift=Enforcement.OFF,
                open_risk=Enforcement.WARN,
                digests_required=False,
                first_deploy_needs_approval=False,
            ),
            "staging": EnvironmentPolicy(
                rank=2, evidence=Enforcement.DENY, drift=Enforcement.WARN, first_deploy_needs_approval=False
            ),
            "prod": EnvironmentPolicy(
                rank=3,
                evidence=Enforcement.DENY,
                required_approvals=2,
                drift=Enforcement.DENY,
                auto_approval=AutoApproval(enabled=True),
            ),
        }
    )


def parse_policy(text: str, fmt: Literal["yaml", "toml"], origin: str = "<policy>") -> DeployPolicy:
    """Validate a deploy policy document; raises ConfigError naming the first bad key."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        raise ConfigError(f"{origin}: deploy policy larger than {MAX_POLICY_BYTES} bytes")
    try:
        raw = tomllib.loads(text) if fmt == "toml" else load_plain(text, max_bytes=MAX_POLICY_BYTES)
    except (tomllib.TOMLDecodeError, MalformedInput) as e:
        raise ConfigError(f"{origin}: not valid {fmt.upper()}: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the deploy policy must be a mapping")
    try:
        return DeployPolicy.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(
            f"{origin}: invalid deploy policy at {where}: {first['msg']}",
            hint="see docs/deploy.md for the file's keys",
        ) from None


def load_policy(path: Path) -> DeployPolicy:
    """Read and validate a deploy policy file (`.toml`, otherwise YAML)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read deploy policy {path}: {e.strerror}") from None
    if len(data) > MAX_POLICY_BYTES:
        raise ConfigError(f"{path}: deploy policy larger than {MAX_POLICY_BYTES} bytes")
    fmt: Literal["yaml", "toml"] = "toml" if path.suffix.lower() == ".toml" else "yaml"
    return parse_policy(data.decode("utf-8", "replace"), fmt, str(path))
