"""Misconfiguration rules for a built image, read from its config, history and squashed files.

Where a rule means the same as a Dockerfile rule it reuses that rule's id and documentation
(`iac.docker-root-user`, `iac.docker-secret-env`, `iac.docker-add-url`, `iac.docker-expose-ssh`),
so an exception written for the Dockerfile also covers the image it builds. Rules that only the
built image can answer have `iac.image-*` ids.

Locations: config facts are reported at `image-config` (Env, User, ExposedPorts), history facts
at `image-history/<step>` with the layer that step produced, file facts at the file's path with
the layer that holds it. Secret values are never shown: evidence is redacted.
"""

from __future__ import annotations

import fnmatch
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clearance.model import (
    Finding,
    FindingKind,
    Location,
    RuleInfo,
    Severity,
    Signals,
    fingerprint,
    signal_value,
)
from clearance.redaction import redact
from clearance.scanners.base import ScannerOutput
from clearance.scanners.iac.rules.base import Category, IacRule
from clearance.scanners.iac.rules.dockerfile import RULES as DOCKERFILE_RULES
from clearance.scanners.iac.rules.dockerfile import literal_secret_value, secret_name
from clearance.sources.image import EntryKind, LayerEntry

if TYPE_CHECKING:
    from clearance.config import Settings
    from clearance.scanners.base import PlaceholderCheck
    from clearance.sources.image.source import ImageContext

CONFIG_PATH = "image-config"
HISTORY_PATH = "image-history"
_ROOT_USERS = frozenset({"", "root", "0", "0:0", "root:root", "root:0", "0:root"})
_ADD_URL = re.compile(r"\bADD\b(?:\s+--\S+)*\s+[\"']?https?://", re.I)
_BUILD_ARGS = re.compile(r"^\s*(?:RUN\s+)?\|(\d+)\s+(.*)$", re.S)
_SSH_SERVERS = ("usr/sbin/sshd", "usr/sbin/dropbear")
_CACHES: tuple[tuple[str, str], ...] = (
    ("var/cache/apt/archives/", "apt package archives"),
    ("var/lib/apt/lists/", "apt package lists"),
    ("var/cache/apk/", "apk cache"),
    ("var/cache/yum/", "yum cache"),
    ("var/cache/dnf/", "dnf cache"),
    ("root/.cache/pip/", "pip cache"),
    ("root/.npm/_cacache/", "npm cache"),
)
_CACHE_IGNORED = ("lock", "partial", ".wh..opq")


@dataclass(frozen=True, slots=True)
class ImageHit:
    """One offending fact of an image."""

    path: str
    layer: str | None = None
    evidence: str = ""
    message: str = ""
    key: str = ""
    """What distinguishes two hits of one rule at one path (e.g. the variable name)."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageRule:
    """A rule over a built image: documentation plus one check."""

    id: str
    title: str
    severity: Severity
    risk: str
    remediation: str
    category: Category
    check: Callable[..., Iterable[ImageHit]]
    """`check(image)`, or `check(image, is_placeholder)` when `needs_placeholder`."""
    references: tuple[str, ...] = ()
    needs_placeholder: bool = False
    """The check takes the secrets family's placeholder check (from the scan context) too."""

    def info(self, scanner: str = "iac") -> RuleInfo:
        """Documentation for `clearance rules list` and SARIF."""
        return RuleInfo(
            self.id,
            self.title,
            self.severity,
            scanner,
            self.risk,
            self.remediation,
            self.references,
            (self.category, "image"),
        )


def scan_image(
    image: ImageContext, settings: Settings, is_placeholder: PlaceholderCheck | None = None
) -> ScannerOutput:
    """Every enabled image rule over one image (`is_placeholder`: the scan context's placeholder
    check, for the literal-secret rules)."""
    out = ScannerOutput()
    disabled = settings.iac.disable
    for rule in IMAGE_RULES:
        if any(fnmatch.fnmatchcase(rule.id, d) for d in disabled):
            continue
        hits = rule.check(image, is_placeholder) if rule.needs_placeholder else rule.check(image)
        for hit in hits:
            out.findings.append(_finding(rule, hit, image))
    out.detail["image_rules"] = len(IMAGE_RULES)
    return out


def new_rules() -> list[RuleInfo]:
    """Image-only rules (the reused Dockerfile ids are documented with the Dockerfile rules)."""
    return [r.info() for r in IMAGE_RULES if r.id.startswith("iac.image-")]


def _finding(rule: ImageRule, hit: ImageHit, image: ImageContext) -> Finding:
    return Finding(
        kind=FindingKind.MISCONFIGURATION,
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        location=Location(path=hit.path, layer=hit.layer),
        fingerprint=fingerprint(rule.id, image.identity.config_digest, hit.path, hit.key),
        scanner="iac",
        message=rule.risk if not hit.message else f"{rule.risk} {hit.message}",
        evidence=hit.evidence,
        remediation=rule.remediation,
        references=rule.references,
        signals=Signals(
            confidence="high",
            category=rule.category,
            exposure="internal",
            extra={
                "resource": image.identity.name,
                "resource_type": "container_image",
                "source": "image",
                **{str(k): signal_value(v) for k, v in hit.details.items()},
            },
        ),
    )


# --- checks ------------------------------------------------------------------------------


def _root_user(image: ImageContext) -> Iterable[ImageHit]:
    user = image.config.user.strip()
    if user in _ROOT_USERS:
        shown = user or "(none)"
        yield ImageHit(
            CONFIG_PATH, evidence=f"User = {shown}", message="The image config sets no unprivileged USER."
        )


def _env_secrets(image: ImageContext, is_placeholder: PlaceholderCheck | None) -> Iterable[ImageHit]:
    for item in image.config.env:
        key, sep, value = item.partition("=")
        if sep and secret_name(key) and literal_secret_value(value, key, is_placeholder):
            yield ImageHit(
                CONFIG_PATH,
                evidence=f"Env {key}={redact(value)}",
                message=f"Env {key} holds a literal value in the image config.",
                key=key,
            )


def _build_arg_secrets(image: ImageContext, is_placeholder: PlaceholderCheck | None) -> Iterable[ImageHit]:
    """`RUN |2 API_TOKEN=… OTHER=… /bin/sh -c …`: the builder records build args with their values."""
    for n, step in enumerate(image.config.history):
        match = _BUILD_ARGS.match(step.created_by)
        if not match:
            continue
        count, rest = int(match.group(1)), match.group(2).split()
        for pair in rest[: min(count, 64)]:
            key, sep, value = pair.partition("=")
            if sep and secret_name(key) and literal_secret_value(value, key, is_placeholder):
                yield ImageHit(
                    f"{HISTORY_PATH}/{n}",
                    layer=_layer_of(image, step.layer),
                    evidence=f"{key}={redact(value)}",
                    message=f"Build argument {key} is recorded with its value in the image history.",
                    key=key,
                )


def _add_url(image: ImageContext) -> Iterable[ImageHit]:
    for n, step in enumerate(image.config.history):
        if _ADD_URL.search(step.created_by):
            yield ImageHit(
                f"{HISTORY_PATH}/{n}",
                layer=_layer_of(image, step.layer),
                evidence=step.created_by.strip()[:160],
                key=str(n),
            )


def _expose_ssh(image: ImageContext) -> Iterable[ImageHit]:
    for port in image.config.exposed_ports:
        if port.split("/")[0] == "22":
            yield ImageHit(CONFIG_PATH, evidence=f"ExposedPorts {port}", key=port)


def _ssh_server(image: ImageContext) -> Iterable[ImageHit]:
    view = image.fs.squashed()
    for path in _SSH_SERVERS:
        entry = view.get(path)
        if entry is not None and entry.kind in (EntryKind.FILE, EntryKind.HARDLINK):
            yield ImageHit(path, layer=_layer_of(image, entry.layer), evidence=path, key=path)


def _package_caches(image: ImageContext) -> Iterable[ImageHit]:
    found: dict[str, tuple[int, int, LayerEntry]] = {}
    for path, entry in image.fs.squashed().items():
        if entry.kind is not EntryKind.FILE:
            continue
        for prefix, _ in _CACHES:
            if path.startswith(prefix) and path.rsplit("/", 1)[-1] not in _CACHE_IGNORED:
                files, size, top = found.get(prefix, (0, 0, entry))
                found[prefix] = (files + 1, size + entry.size, entry if entry.layer > top.layer else top)
    for prefix, label in _CACHES:
        if prefix in found:
            files, size, top = found[prefix]
            yield ImageHit(
                prefix.rstrip("/"),
                layer=_layer_of(image, top.layer),
                evidence=f"{files} files, {size:,} bytes",
                message=f"The {label} was left in the image ({files} files, {size:,} bytes).",
                key=prefix,
                details={"cache": label, "files": files, "bytes": size},
            )


def _setuid(image: ImageContext, *, added: bool) -> Iterable[ImageHit]:
    for path, entry in sorted(image.fs.squashed().items()):
        if entry.kind is not EntryKind.FILE or not entry.mode & (stat.S_ISUID | stat.S_ISGID):
            continue
        if (entry.layer > 0) != added:
            continue
        bits = "setuid" if entry.mode & stat.S_ISUID else "setgid"
        yield ImageHit(
            path,
            layer=_layer_of(image, entry.layer),
            evidence=f"{bits} mode {entry.mode & 0o7777:04o} uid {entry.uid}",
            key=path,
            details={"mode": f"{entry.mode & 0o7777:04o}"},
        )


def _world_writable(image: ImageContext) -> Iterable[ImageHit]:
    if not image.layers:
        return
    top = len(image.layers) - 1
    for path, entry in sorted(image.fs.squashed().items()):
        if entry.layer != top or entry.kind not in (EntryKind.FILE, EntryKind.DIR):
            continue
        mode = entry.mode & 0o7777
        if not mode & stat.S_IWOTH:
            continue
        if entry.kind is EntryKind.DIR and mode & stat.S_ISVTX:
            continue  # /tmp-style sticky directories are meant to be shared
        yield ImageHit(
            path,
            layer=_layer_of(image, entry.layer),
            evidence=f"{entry.kind.value} mode {mode:04o}",
            key=path,
            details={"mode": f"{mode:04o}"},
        )


def _layer_of(image: ImageContext, index: int | None) -> str | None:
    if index is None or not 0 <= index < len(image.layers):
        return None
    return image.layers[index].diff_id


# --- the rule table ------------------------------------------------------------------------


def _reuse(
    rule_id: str, check: Callable[..., Iterable[ImageHit]], needs_placeholder: bool = False
) -> ImageRule:
    """An image rule with the documentation of the Dockerfile rule that means the same."""
    base: IacRule = next(r for r in DOCKERFILE_RULES if r.id == rule_id)
    return ImageRule(
        base.id,
        base.title,
        base.severity,
        base.risk,
        base.remediation,
        base.category,
        check,
        tuple(base.references),
        needs_placeholder,
    )


_DOCKLE = "https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md"
IMAGE_RULES: Sequence[ImageRule] = (
    _reuse("iac.docker-root-user", _root_user),
    _reuse("iac.docker-secret-env", _env_secrets, needs_placeholder=True),
    _reuse("iac.docker-add-url", _add_url),
    _reuse("iac.docker-expose-ssh", _expose_ssh),
    ImageRule(
        "iac.image-secret-build-arg",
        "Secret build argument recorded in the image history",
        Severity.HIGH,
        "The builder recorded a secret-named build argument with its value in the image history, readable by anyone who can pull the image.",
        "Rotate the value, then pass it as a build secret instead of an ARG:\nRUN --mount=type=secret,id=api_token ./fetch-deps.sh",
        "supply-chain",
        _build_arg_secrets,
        ("https://docs.docker.com/build/building/secrets/", _DOCKLE),
        needs_placeholder=True,
    ),
    ImageRule(
        "iac.image-ssh-server",
        "SSH server installed in the image",
        Severity.MEDIUM,
        "An SSH daemon in the image is a remote login surface that bypasses the orchestrator's access controls.",
        "Remove the SSH server package (e.g. `apt-get purge openssh-server`) and debug with `docker exec` / `kubectl exec`.",
        "network",
        _ssh_server,
        ("https://www.cisecurity.org/benchmark/docker", _DOCKLE),
    ),
    ImageRule(
        "iac.image-package-cache",
        "Package manager cache left in the image",
        Severity.LOW,
        "Package caches and index lists make the image larger and ship stale package metadata nobody needs at run time.",
        "Clean up in the same RUN step:\nRUN apt-get update && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*",
        "supply-chain",
        _package_caches,
        (_DOCKLE,),
    ),
    ImageRule(
        "iac.image-setuid-added",
        "setuid/setgid file added on top of the base layer",
        Severity.MEDIUM,
        "A setuid or setgid file added by the build runs with its owner's privileges, a privilege-escalation path if it can be abused.",
        "Drop the bit unless it is needed:\nRUN chmod u-s,g-s /usr/local/bin/tool",
        "privilege-escalation",
        lambda image: _setuid(image, added=True),
        (_DOCKLE,),
    ),
    ImageRule(
        "iac.image-setuid-base",
        "setuid/setgid file in the base layer",
        Severity.LOW,
        "The base layer ships a setuid or setgid file; review whether the application needs it.",
        "Remove the bit in your build if the application does not need it:\nRUN chmod u-s /usr/bin/passwd",
        "privilege-escalation",
        lambda image: _setuid(image, added=False),
        (_DOCKLE,),
    ),
    ImageRule(
        "iac.image-world-writable",
        "World-writable file in the final layer",
        Severity.MEDIUM,
        "A file or directory any user can write in the final layer lets a compromised process change what the application runs or reads.",
        "Fix the permissions in the build:\nRUN chmod o-w /app/config.yaml",
        "workload",
        _world_writable,
        (_DOCKLE,),
    ),
)
