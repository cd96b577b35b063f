"""Context the policy needs besides the finding: who owns it, how exposed it is, where it goes.

- Service catalog, in order of precedence: `clearance.toml` `[service]`, Backstage
  `catalog-info.yaml` files (several in a monorepo: a finding belongs to the component whose
  directory is the nearest ancestor of its path), then fail-safe defaults (unknown exposure
  counts as internet-facing, an unnamed environment counts as prod-bound).
- `CODEOWNERS` (GitHub syntax, last matching line wins) for routing and reports.
- The target environment (`--env` or `CLEARANCE_ENV`).
- The CI context (repository, commit, branch, PR, run URL, actor) from GitHub Actions or
  GitLab CI variables, overridable by flags.

Everything here reads files and a mapping of environment variables that is passed in;
nothing reads `os.environ` itself, and nothing runs git (the pipeline passes in what git knows).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import pathspec

from clearance.config import ServiceSettings
from clearance.errors import MalformedInput
from clearance.globs import path_glob
from clearance.model import CIContext

EXPOSURES = ("internet", "internal", "none", "unknown")
DATA_CLASSES = ("public", "internal", "confidential", "restricted", "unknown")
_RESTRICTED_ALIASES = {"pii", "payments", "payment", "pci", "health", "phi", "hipaa"}
PROD_ENVIRONMENTS = ("prod", "production", "live")
CATALOG_FILES = ("catalog-info.yaml", "catalog-info.yml")
CODEOWNERS_LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
_PRUNE_DIRS = {"node_modules", "vendor", "venv", "__pycache__", "dist", "build", "target", "site-packages"}
_MAX_CATALOG_BYTES = 1024 * 1024
_ANNOTATION = "clearance.dev/"


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Who owns a piece of software and how exposed it is (one catalog component)."""

    name: str = ""
    owner: str = ""
    lifecycle: str = ""
    system: str = ""
    tags: tuple[str, ...] = ()
    exposure: str = "unknown"
    """internet | internal | none | unknown (unknown counts as internet for blocking)."""
    data_classification: str = "unknown"
    """public | internal | confidential | restricted | unknown."""
    tier: str = ""
    directory: str = ""
    """Repo-relative directory the component covers ('' = the whole repository)."""
    source: str = "defaults"
    """Where the values came from: `clearance.toml`, a catalog-info.yaml path, or `defaults`."""

    @property
    def internet_facing(self) -> bool:
        """True if reachable from the internet, or if nobody said (fail safe)."""
        return self.exposure in ("internet", "unknown")

    @property
    def sensitive_data(self) -> bool:
        """True for confidential or restricted data."""
        return self.data_classification in ("confidential", "restricted")

    def as_cel(self, env: str) -> dict[str, Any]:
        """The `service` value CEL rules see."""
        return {
            "name": self.name,
            "owner": self.owner,
            "lifecycle": self.lifecycle,
            "system": self.system,
            "tags": list(self.tags),
            "exposure": self.exposure,
            "data_classification": self.data_classification,
            "tier": self.tier,
            "internet_facing": self.internet_facing,
            "sensitive_data": self.sensitive_data,
            "prod_bound": prod_bound(env, self.lifecycle),
            "source": self.source,
        }


def prod_bound(env: str, lifecycle: str = "") -> bool:
    """True if the target environment is production, or unnamed (fail safe)."""
    if env:
        return env.lower() in PROD_ENVIRONMENTS
    return lifecycle.lower() not in ("experimental", "development", "dev", "deprecated")


def normalize_exposure(value: object) -> str:
    """Map a free-form exposure value to internet | internal | none | unknown."""
    text = str(value or "").strip().lower()
    aliases = {
        "public": "internet",
        "external": "internet",
        "private": "internal",
        "internal-only": "internal",
    }
    text = aliases.get(text, text)
    return text if text in EXPOSURES else "unknown"


def normalize_data_class(value: object) -> str:
    """Map a data classification (PII, payments and health count as restricted)."""
    text = str(value or "").strip().lower()
    if text in _RESTRICTED_ALIASES:
        return "restricted"
    return text if text in DATA_CLASSES else "unknown"


@dataclass(frozen=True)
class ServiceCatalog:
    """Every known component and the repo-wide default, with a nearest-directory lookup."""

    default: ServiceContext = field(default_factory=ServiceContext)
    components: tuple[ServiceContext, ...] = ()
    warnings: tuple[str, ...] = ()

    def for_path(self, path: str) -> ServiceContext:
        """The component owning `path`: the one whose directory is the nearest ancestor."""
        best: ServiceContext | None = None
        for comp in self.components:
            if _contains(comp.directory, path) and (
                best is None or len(comp.directory) > len(best.directory)
            ):
                best = comp
        return best if best is not None else self.default

    @property
    def primary(self) -> ServiceContext:
        """The service a whole-repository report is about (root component or the default)."""
        return self.for_path("")


def _contains(directory: str, path: str) -> bool:
    if not directory:
        return True
    return path == directory or path.startswith(directory + "/")


def load_catalog(
    root: Path, service: ServiceSettings | None = None, listed: Sequence[str] | None = None
) -> ServiceCatalog:
    """Build the catalog of `root` from `[service]` and any catalog-info.yaml files.

    `listed`: the catalog files git knows under `root` (the pipeline asks git once); None walks
    the directory instead.

    One catalog component (or none): `[service]` values win over the catalog's. Several
    (a monorepo): each component's own values win, `[service]` fills what they leave out.
    Unreadable catalog files are warnings, not errors (the catalog belongs to other tools).
    """
    warnings: list[str] = []
    found: list[ServiceContext] = []
    candidates = (
        [p for p in listed if (root / p).is_file()] if listed is not None else _find_catalog_files(root)
    )
    for rel in candidates:
        comp, problem = _read_catalog_file(root / rel, rel)
        if problem:
            warnings.append(problem)
        if comp is not None:
            found.append(comp)
    configured = _from_settings(service) if service is not None else {}
    if len(found) <= 1:
        base = found[0] if found else ServiceContext()
        merged = replace(base, **configured) if configured else base
        if configured:
            merged = replace(
                merged, source="clearance.toml" if not found else f"clearance.toml + {base.source}"
            )
        if found and merged.directory:
            return ServiceCatalog(
                default=_fill(ServiceContext(), configured), components=(merged,), warnings=tuple(warnings)
            )
        return ServiceCatalog(default=merged, warnings=tuple(warnings))
    default = _fill(ServiceContext(), configured)
    components = tuple(_fill(comp, configured) for comp in found)
    return ServiceCatalog(default=default, components=components, warnings=tuple(warnings))


def _fill(comp: ServiceContext, configured: Mapping[str, Any]) -> ServiceContext:
    """Fill fields the component left empty/unknown from `[service]`."""
    if not configured:
        return comp
    blank = ServiceContext()
    updates = {k: v for k, v in configured.items() if getattr(comp, k) == getattr(blank, k)}
    if not updates:
        return comp
    source = "clearance.toml" if comp.source == "defaults" else comp.source
    return replace(comp, **updates, source=source)


def _from_settings(service: ServiceSettings) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in ("name", "owner", "lifecycle", "system", "tier"):
        v = getattr(service, key)
        if v:
            values[key] = v
    if service.tags:
        values["tags"] = tuple(service.tags)
    if service.exposure:
        values["exposure"] = normalize_exposure(service.exposure)
    if service.data_classification:
        values["data_classification"] = normalize_data_class(service.data_classification)
    return values


def _find_catalog_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _PRUNE_DIRS)
        for name in CATALOG_FILES:
            if name in filenames:
                rel = Path(dirpath, name).relative_to(root).as_posix()
                out.append(rel)
    return sorted(out)


def _read_catalog_file(path: Path, rel: str) -> tuple[ServiceContext | None, str | None]:
    try:
        if path.stat().st_size > _MAX_CATALOG_BYTES:
            return None, f"{rel}: larger than {_MAX_CATALOG_BYTES} bytes, ignored"
        from clearance import safe_yaml  # only when a catalog file exists

        docs = [d.value for d in safe_yaml.load_all(path.read_text(encoding="utf-8"))]
    except (OSError, UnicodeDecodeError, MalformedInput) as e:
        return None, f"{rel}: cannot read the catalog entity ({e}), ignored"
    for doc in docs:
        if isinstance(doc, dict) and str(doc.get("kind", "")).lower() == "component":
            return _component(doc, rel), None
    return None, None


def _component(doc: Mapping[str, Any], rel: str) -> ServiceContext:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    assert isinstance(metadata, dict) and isinstance(spec, dict)
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    assert isinstance(annotations, dict)
    tags = tuple(str(t) for t in metadata.get("tags", []) or [] if isinstance(t, str | int))
    data_class = normalize_data_class(annotations.get(_ANNOTATION + "data-classification"))
    if data_class == "unknown" and any(t.lower() in _RESTRICTED_ALIASES for t in tags):
        data_class = "restricted"
    directory = str(PurePosixPath(rel).parent)
    return ServiceContext(
        name=str(metadata.get("name", "") or ""),
        owner=str(spec.get("owner", "") or ""),
        lifecycle=str(spec.get("lifecycle", "") or ""),
        system=str(spec.get("system", "") or ""),
        tags=tags,
        exposure=normalize_exposure(annotations.get(_ANNOTATION + "exposure")),
        data_classification=data_class,
        tier=str(annotations.get(_ANNOTATION + "tier", "") or ""),
        directory="" if directory == "." else directory,
        source=rel,
    )


# --- CODEOWNERS ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeOwners:
    """A parsed CODEOWNERS file: GitHub syntax, the last matching line wins."""

    entries: tuple[tuple[str, tuple[str, ...], pathspec.PathSpec[Any]], ...] = ()
    """(pattern, owners, compiled pattern) in file order."""
    source: str | None = None

    def owners_of(self, path: str) -> tuple[str, ...]:
        """Owners of a repo-relative path (empty if none, or explicitly unowned)."""
        for _pattern, owners, spec in reversed(self.entries):
            if spec.match_file(path):
                return tuple(owners)
        return ()

    def pattern_for(self, path: str) -> str | None:
        """The pattern that decided ownership of `path`, for explanations."""
        for pattern, _owners, spec in reversed(self.entries):
            if spec.match_file(path):
                return str(pattern)
        return None


def load_codeowners(root: Path) -> CodeOwners:
    """Read the first CODEOWNERS in GitHub's search order (.github/, root, docs/)."""
    for rel in CODEOWNERS_LOCATIONS:
        path = root / rel
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            return parse_codeowners(text, source=rel)
    return CodeOwners()


def parse_codeowners(text: str, source: str | None = None) -> CodeOwners:
    """Parse CODEOWNERS text (comments, escaped `\\#`, patterns without owners)."""
    entries = []
    for raw in text.splitlines():
        line = _strip_comment(raw).strip()
        if not line:
            continue
        parts = line.split()
        pattern = parts[0].replace("\\#", "#").replace("\\ ", " ")
        owners = tuple(p for p in parts[1:] if p.startswith("@") or "@" in p)
        try:
            spec = path_glob(parts[0])
            spec.match_file("x")
        except (ValueError, TypeError, re.error):
            continue  # GitHub ignores lines it cannot parse too
        entries.append((pattern, owners, spec))
    return CodeOwners(entries=tuple(entries), source=source)


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for ch in line:
        if ch == "#" and not escaped:
            break
        escaped = ch == "\\" and not escaped
        out.append(ch)
    return "".join(out)


# --- environment and CI ---------------------------------------------------------------------


def resolve_env(flag: str | None, environ: Mapping[str, str]) -> str:
    """The target environment: `--env`, else `CLEARANCE_ENV`, else '' (unnamed)."""
    value = flag if flag else environ.get("CLEARANCE_ENV", "")
    return value.strip().lower()


def ci_context(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> CIContext:
    """Read the CI context from GitHub Actions / GitLab CI variables; flags override."""
    if environ.get("GITHUB_ACTIONS") == "true":
        ctx = _github(environ)
    elif environ.get("GITLAB_CI") == "true":
        ctx = _gitlab(environ)
    else:
        ctx = CIContext(provider="ci" if environ.get("CI") else "local")
    if overrides:
        given = {k: v for k, v in overrides.items() if v is not None and k in CIContext.__slots__}
        ctx = replace(ctx, **given)
    return ctx


def _github(env: Mapping[str, str]) -> CIContext:
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    repo = env.get("GITHUB_REPOSITORY") or None
    run_url = None
    if repo and env.get("GITHUB_RUN_ID"):
        run_url = f"{server}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
        if env.get("GITHUB_RUN_ATTEMPT") and env["GITHUB_RUN_ATTEMPT"] != "1":
            run_url += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
    pr = _github_pr_number(env)
    branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None
    commit = env.get("GITHUB_SHA") or None
    return CIContext(
        provider="github",
        repository=repo,
        commit=commit,
        branch=branch,
        pr=pr,
        run_url=run_url,
        actor=env.get("GITHUB_ACTOR") or None,
        base_ref=env.get("GITHUB_BASE_REF") or None,
        server_url=server,
    )


def _github_pr_number(env: Mapping[str, str]) -> int | None:
    ref = env.get("GITHUB_REF", "")
    parts = ref.split("/")
    if len(parts) >= 3 and parts[0] == "refs" and parts[1] == "pull" and parts[2].isdigit():
        return int(parts[2])
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            with open(event_path, encoding="utf-8") as fh:
                event = json.load(fh)
        except (OSError, ValueError):
            return None
        pr = event.get("pull_request") if isinstance(event, dict) else None
        if isinstance(pr, dict) and isinstance(pr.get("number"), int):
            return int(pr["number"])
    return None


def _gitlab(env: Mapping[str, str]) -> CIContext:
    iid = env.get("CI_MERGE_REQUEST_IID", "")
    return CIContext(
        provider="gitlab",
        repository=env.get("CI_PROJECT_PATH") or None,
        commit=env.get("CI_COMMIT_SHA") or None,
        branch=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME") or None,
        pr=int(iid) if iid.isdigit() else None,
        run_url=env.get("CI_PIPELINE_URL") or env.get("CI_JOB_URL") or None,
        actor=env.get("GITLAB_USER_LOGIN") or None,
        base_ref=env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None,
        server_url=env.get("CI_SERVER_URL") or None,
    )


# --- everything together --------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyContext:
    """All context for one decision: catalog, owners, environment, CI run."""

    catalog: ServiceCatalog = field(default_factory=ServiceCatalog)
    codeowners: CodeOwners = field(default_factory=CodeOwners)
    env: str = ""
    ci: CIContext = field(default_factory=CIContext)

    def owner_of(self, path: str) -> str:
        """Who to route a finding at `path` to: CODEOWNERS, else the service owner, else ''."""
        owners = self.codeowners.owners_of(path)
        if owners:
            return " ".join(owners)
        return self.catalog.for_path(path).owner

    def as_report_context(self) -> dict[str, Any]:
        """The mapping reports show (service, owner, environment, CI)."""
        svc = self.catalog.primary
        out: dict[str, Any] = {
            "service": svc.name or None,
            "owner": svc.owner or None,
            "exposure": svc.exposure,
            "data_classification": svc.data_classification,
            "environment": self.env or None,
            "ci": self.ci.as_dict(),
        }
        if self.catalog.components:
            out["components"] = [
                {"name": c.name, "directory": c.directory, "owner": c.owner} for c in self.catalog.components
            ]
        return out


def load_context(
    root: Path,
    service: ServiceSettings | None,
    env: str,
    ci: CIContext,
    catalog_files: Sequence[str] | None = None,
) -> PolicyContext:
    """Read the catalog and CODEOWNERS of `root` and combine them with env and CI."""
    return PolicyContext(
        catalog=load_catalog(root, service, catalog_files),
        codeowners=load_codeowners(root),
        env=env,
        ci=ci,
    )
