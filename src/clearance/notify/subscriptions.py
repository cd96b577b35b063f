"""Who hears what, and where: the routing file (TOML or YAML), validated at load.

```toml
[channels.payments-slack]
type = "slack"
url_env = "PAYMENTS_SLACK_WEBHOOK"      # secrets come from the environment, never the file

[[subscriptions]]
team = "team-payments"                  # or: org = true (every team; for a security group)
events = ["finding.new", "finding.reopened", "sla.breached"]
min_severity = "high"
environments = ["prod"]                 # empty: every environment
channel = "payments-slack"
```
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clearance import safe_yaml
from clearance.errors import ConfigError, MalformedInput
from clearance.model import Severity
from clearance.notify.channels.base import Channel
from clearance.notify.events import Event, EventKind

MAX_FILE_BYTES = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _UrlChannel(_Strict):
    url: str | None = None
    url_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> _UrlChannel:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of url or url_env")
        return self

    def resolved_url(self, environ: Mapping[str, str]) -> str:
        """The URL, read from the environment when configured by name."""
        return self.url or _env(environ, self.url_env or "")


class WebhookConfig(_UrlChannel):
    """A generic signed webhook."""

    type: Literal["webhook"]
    secret_env: str


class SlackConfig(_UrlChannel):
    """A Slack incoming webhook."""

    type: Literal["slack"]


class TeamsConfig(_UrlChannel):
    """A Microsoft Teams incoming webhook."""

    type: Literal["teams"]


class EmailConfig(_Strict):
    """An SMTP relay and the recipients."""

    type: Literal["email"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "clearance@localhost"
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    tls: bool = False
    username: str | None = None
    password_env: str | None = None
    digest: Literal["none", "daily"] = "none"


class GitHubConfig(_Strict):
    """GitHub Issues in one repository."""

    type: Literal["github"]
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    token_env: str
    api: str = "https://api.github.com"
    labels: list[str] = []


class JiraConfig(_Strict):
    """Jira issues in one project."""

    type: Literal["jira"]
    url: str
    project: str
    api_version: Literal[2, 3] = 2
    issue_type: str = "Bug"
    email: str | None = None
    """With `token_env`: Jira Cloud basic auth (email + API token); without: a bearer PAT."""
    token_env: str
    components_from_owner: bool = False


ChannelConfig = Annotated[
    WebhookConfig | SlackConfig | TeamsConfig | EmailConfig | GitHubConfig | JiraConfig,
    Field(discriminator="type"),
]


class SubscriptionConfig(_Strict):
    """One routing rule: these events, for this team (or the whole org), to this channel."""

    name: str = ""
    team: str | None = None
    org: bool = False
    events: list[EventKind] = Field(min_length=1)
    min_severity: Severity | None = None
    environments: list[str] = []
    channel: str

    @field_validator("events", mode="before")
    @classmethod
    def _kinds(cls, value: object) -> object:
        if isinstance(value, list):
            return [
                EventKind(v) if isinstance(v, str) and v in EventKind._value2member_map_ else v for v in value
            ]
        return value

    @field_validator("min_severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        return Severity.parse(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _scope(self) -> SubscriptionConfig:
        if bool(self.team) == self.org:
            raise ValueError("give either team = NAME or org = true")
        return self

    def matches(self, event: Event) -> bool:
        """True when this subscription wants `event`."""
        if event.kind not in self.events:
            return False
        if not self.org and event.team != self.team:
            return False
        if self.environments and (event.env or "") not in self.environments:
            return False
        if self.min_severity is not None:
            if event.severity is None or not event.severity.at_least(self.min_severity):
                return False
        return True


class RoutingConfig(_Strict):
    """The whole routing file."""

    channels: dict[str, ChannelConfig] = {}
    subscriptions: list[SubscriptionConfig] = []
    escalation: dict[Severity, int] = {}
    """Days after an SLA breach at which a still-open finding escalates, per severity."""

    @field_validator("escalation", mode="before")
    @classmethod
    def _escalation(cls, value: object) -> object:
        if isinstance(value, dict):
            return {Severity.parse(k) if isinstance(k, str) else k: v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _known_channels(self) -> RoutingConfig:
        for i, sub in enumerate(self.subscriptions):
            if sub.channel not in self.channels:
                known = ", ".join(sorted(self.channels)) or "none"
                raise ValueError(f"subscriptions[{i}]: unknown channel {sub.channel!r} (known: {known})")
        return self

    def routes(self, event: Event) -> list[tuple[int, SubscriptionConfig]]:
        """The (index, subscription) pairs that want `event`, in file order."""
        return [(i, s) for i, s in enumerate(self.subscriptions) if s.matches(event)]


def load(path: Path) -> RoutingConfig:
    """Read and validate a routing file (.toml, .yaml/.yml or .json); ConfigError (exit 4) otherwise."""
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read routing file: {exc}") from exc
    try:
        if path.suffix == ".toml":
            data: object = tomllib.loads(raw)
        else:
            data = safe_yaml.load_plain(raw, max_bytes=MAX_FILE_BYTES)
    except (tomllib.TOMLDecodeError, MalformedInput, ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from exc
    return parse(data, str(path))


def parse(data: object, origin: str = "routing") -> RoutingConfig:
    """Validate already-parsed routing data."""
    try:
        return RoutingConfig.model_validate(data, strict=False)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise ConfigError(f"{origin}: invalid routing configuration: {problems}") from None


def _env(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set (named by the routing configuration)")
    return value


def build_channel(
    config: ChannelConfig,
    *,
    environ: Mapping[str, str] | None = None,
    http: object | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Channel:
    """The adapter for one configured channel (secrets resolved from `environ` now)."""
    import base64
    from datetime import UTC

    from clearance.notify.channels.chat import SlackChannel, TeamsChannel
    from clearance.notify.channels.email import EmailChannel, SmtpSettings
    from clearance.notify.channels.tickets import GitHubIssuesChannel, JiraChannel
    from clearance.notify.channels.webhook import WebhookChannel
    from clearance.notify.http import Http

    env = os.environ if environ is None else environ
    client = http if isinstance(http, Http) else Http()
    now = clock or (lambda: datetime.now(UTC))
    match config:
        case WebhookConfig():
            return WebhookChannel(
                config.resolved_url(env), _env(env, config.secret_env).encode(), client, now
            )
        case SlackConfig():
            return SlackChannel(config.resolved_url(env), client)
        case TeamsConfig():
            return TeamsChannel(config.resolved_url(env), client)
        case EmailConfig():
            password = _env(env, config.password_env) if config.password_env else None
            smtp = SmtpSettings(
                config.host,
                config.port,
                config.sender,
                config.starttls,
                config.tls,
                config.username,
                password,
            )
            return EmailChannel(smtp, config.to)
        case GitHubConfig():
            return GitHubIssuesChannel(
                config.repo, _env(env, config.token_env), client, config.api, config.labels
            )
        case JiraConfig():
            token = _env(env, config.token_env)
            if config.email:
                auth = "Basic " + base64.b64encode(f"{config.email}:{token}".encode()).decode()
            else:
                auth = f"Bearer {token}"
            return JiraChannel(
                config.url,
                config.project,
                client,
                auth_header=auth,
                api_version=config.api_version,
                issue_type=config.issue_type,
                components_from_owner=config.components_from_owner,
            )


def channel_names(config: RoutingConfig) -> Sequence[str]:
    """The configured channel names, sorted."""
    return sorted(config.channels)
