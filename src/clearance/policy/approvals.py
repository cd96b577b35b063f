"""Risk-owner approvals for changes to high-risk paths.

A change that touches a high-risk path (`[policy.high_risk_paths]`, or the documented
defaults: auth, IAM, payments, Terraform touching IAM, edge/API gateway configuration) needs
an approval from that path's risk owner. Approvals come from `--approvals FILE` — the JSON
GitHub's `GET /repos/{owner}/{repo}/pulls/{n}/reviews` returns, or a simple
`{"approved_by": [...]}` — or from the GitHub API through `GitHubReviewsClient`.

GitHub semantics: a reviewer's latest APPROVED / CHANGES_REQUESTED / DISMISSED review counts;
COMMENTED reviews do not change it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pathspec

from clearance.config import HighRiskPathSettings, PolicySettings
from clearance.errors import PolicyError
from clearance.errors import ScanError as ScanFailure
from clearance.globs import path_glob

IAM_MARKERS = (
    "aws_iam_",
    "google_project_iam",
    "google_organization_iam",
    "google_folder_iam",
    "google_service_account",
    "azurerm_role_assignment",
    "azurerm_role_definition",
    "kubernetes_cluster_role",
    "kubernetes_role",
)
_MAX_APPROVALS_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class HighRiskPath:
    """A path pattern whose changes need a named risk owner's approval."""

    pattern: str
    owners: tuple[str, ...]
    reason: str = ""
    contains: tuple[str, ...] = ()
    """Only files whose content includes one of these strings (empty: any file)."""

    def touches(self, change: ChangedFile) -> bool:
        """True if the changed file falls under this pattern (and content condition)."""
        if not _spec(self.pattern).match_file(change.path):
            return False
        if not self.contains:
            return True
        content = change.load()
        if content is None:
            return True  # cannot read it (deleted, too big): fail safe
        text = content.decode("utf-8", errors="replace")
        return any(marker in text for marker in self.contains)


def default_high_risk_paths(owner: str) -> list[HighRiskPath]:
    """The documented default high-risk paths, all owned by `owner`."""
    o = (owner,)
    return [
        HighRiskPath("**/auth/**", o, "authentication code"),
        HighRiskPath("**/iam/**", o, "identity and access management"),
        HighRiskPath("**/payments/**", o, "payment handling"),
        HighRiskPath("**/*.tf", o, "Terraform that changes IAM", IAM_MARKERS),
        HighRiskPath("**/api-gateway/**", o, "edge / API gateway configuration"),
        HighRiskPath("**/apigateway/**", o, "edge / API gateway configuration"),
        HighRiskPath("**/gateway/**", o, "edge / API gateway configuration"),
        HighRiskPath("**/*ingress*.yaml", o, "edge ingress configuration"),
        HighRiskPath("**/*ingress*.yml", o, "edge ingress configuration"),
        HighRiskPath("**/nginx/**", o, "edge proxy configuration"),
        HighRiskPath("**/envoy/**", o, "edge proxy configuration"),
        HighRiskPath("**/kong/**", o, "API gateway configuration"),
        HighRiskPath("**/traefik/**", o, "edge proxy configuration"),
    ]


def high_risk_paths(settings: PolicySettings) -> list[HighRiskPath]:
    """Configured high-risk paths, or the defaults owned by `default_risk_owner`."""
    if settings.high_risk_paths is None:
        return default_high_risk_paths(settings.default_risk_owner)
    return [_from_settings(pattern, hrp) for pattern, hrp in settings.high_risk_paths.items()]


def _from_settings(pattern: str, hrp: HighRiskPathSettings) -> HighRiskPath:
    return HighRiskPath(
        pattern, tuple(hrp.owners), hrp.reason or f"matches high-risk path {pattern}", tuple(hrp.contains)
    )


@dataclass(frozen=True)
class ChangedFile:
    """A file the change touched, with its new content when available."""

    path: str
    content: bytes | None = None
    reader: Callable[[], bytes | None] | None = None
    """Reads the new content on demand (only a pattern with `contains` needs it)."""

    def load(self) -> bytes | None:
        """The new content: given, read on demand, or None (deleted, unreadable, too big)."""
        if self.content is not None:
            return self.content
        return self.reader() if self.reader is not None else None


@dataclass(frozen=True)
class Requirement:
    """One approval the change needs: owners of a pattern, for these paths."""

    pattern: str
    reason: str
    owners: tuple[str, ...]
    paths: tuple[str, ...]
    approved_by: tuple[str, ...] = ()
    approved_at: str | None = None
    """When the latest counted approval was submitted (GitHub reviews only)."""

    @property
    def satisfied(self) -> bool:
        """True if any risk owner (or a member of an owning team) approved."""
        return bool(self.approved_by)

    def describe(self) -> str:
        """One line: who must approve and why."""
        shown = ", ".join(self.paths[:3]) + (
            f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
        )
        who = " or ".join(self.owners)
        if self.satisfied:
            return f"{shown} ({self.reason}, {self.pattern}): approved by {', '.join(self.approved_by)}"
        return f"{shown} ({self.reason}, {self.pattern}) needs approval from {who}"

    def as_dict(self) -> dict[str, Any]:
        """Plain mapping for reports and evidence."""
        return {
            "pattern": self.pattern,
            "reason": self.reason,
            "owners": list(self.owners),
            "paths": list(self.paths),
            "approved_by": list(self.approved_by),
            "at": self.approved_at,
            "satisfied": self.satisfied,
        }


@dataclass(frozen=True)
class Review:
    """One pull-request review."""

    login: str
    state: str
    submitted_at: str = ""


@dataclass(frozen=True)
class Approvals:
    """Who approved the change (logins, lowercased) and teams asserted to have approved."""

    approvers: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    source: str = "none"
    submitted: Mapping[str, str] = field(default_factory=dict)
    """Login → time of the approving review (when the source says)."""


def required_approvals(changed: Iterable[ChangedFile], paths: Sequence[HighRiskPath]) -> list[Requirement]:
    """The approvals a change needs: one requirement per touched pattern."""
    touched: dict[int, list[str]] = {}
    for change in changed:
        for index, hrp in enumerate(paths):
            if hrp.touches(change):
                touched.setdefault(index, []).append(change.path)
    return [
        Requirement(paths[i].pattern, paths[i].reason, paths[i].owners, tuple(sorted(set(p))))
        for i, p in sorted(touched.items())
    ]


def check_approvals(
    requirements: Sequence[Requirement], approvals: Approvals, teams: Mapping[str, Sequence[str]]
) -> list[Requirement]:
    """Fill in `approved_by` for each requirement an owner approved."""
    members = {_owner_key(t): {m.lower().lstrip("@") for m in ms} for t, ms in teams.items()}
    out = []
    for req in requirements:
        by: list[str] = []
        for owner in req.owners:
            key = _owner_key(owner)
            if key in approvals.approvers:
                by.append(key)
            elif key in approvals.teams:
                by.append(f"@{key}")
            else:
                by.extend(sorted(members.get(key, set()) & approvals.approvers))
        approved_by = tuple(dict.fromkeys(by))
        times = [approvals.submitted[b] for b in approved_by if approvals.submitted.get(b)]
        out.append(
            Requirement(req.pattern, req.reason, req.owners, req.paths, approved_by, max(times, default=None))
        )
    return out


def _owner_key(owner: str) -> str:
    return owner.strip().lstrip("@").lower()


def approvals_from_reviews(reviews: Iterable[Review], source: str) -> Approvals:
    """Who currently approves, under GitHub's latest-review-per-user rule."""
    latest: dict[str, tuple[str, str]] = {}
    for _, review in sorted(enumerate(reviews), key=lambda ir: (ir[1].submitted_at, ir[0])):
        state = review.state.upper()
        if state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.login.lower()] = (state, review.submitted_at)
    approved = {u: at for u, (state, at) in latest.items() if state == "APPROVED"}
    return Approvals(approvers=frozenset(approved), source=source, submitted=approved)


def load_approvals_file(path: Path) -> Approvals:
    """Read `--approvals FILE`: GitHub reviews JSON or `{"approved_by": [...]}`."""
    try:
        if path.stat().st_size > _MAX_APPROVALS_BYTES:
            raise PolicyError(f"{path}: larger than {_MAX_APPROVALS_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PolicyError(f"{path}: cannot read the approvals file: {e.strerror}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: the approvals file is not valid JSON: {e}") from e
    return parse_approvals(data, str(path))


def parse_approvals(data: object, source: str) -> Approvals:
    """Interpret decoded approvals JSON (either format)."""
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return approvals_from_reviews(_reviews(data, source), source)
    if isinstance(data, dict) and isinstance(data.get("approved_by"), list):
        names = [str(n).strip() for n in data["approved_by"] if str(n).strip()]
        logins = frozenset(_owner_key(n) for n in names if "/" not in n)
        teams = frozenset(_owner_key(n) for n in names if "/" in n)
        return Approvals(approvers=logins, teams=teams, source=source)
    raise PolicyError(
        f"{source}: unrecognised approvals format",
        hint='give the JSON of GET /repos/{owner}/{repo}/pulls/{n}/reviews, or {"approved_by": ["alice", "@org/team"]}',
    )


def _reviews(items: Sequence[Mapping[str, Any]], source: str) -> list[Review]:
    out = []
    for index, item in enumerate(items):
        user = item.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        state = item.get("state")
        if not isinstance(login, str) or not isinstance(state, str):
            raise PolicyError(f"{source}: review #{index + 1} has no user.login or state")
        out.append(Review(login=login, state=state, submitted_at=str(item.get("submitted_at") or "")))
    return out


class ReviewsClient(Protocol):
    """Where pull-request reviews come from (GitHub API, a recording in tests...)."""

    def reviews(self, repository: str, pr: int) -> list[Review]:
        """All reviews of pull request `pr` in `owner/repo`."""
        ...


@dataclass
class GitHubReviewsClient:
    """Fetch reviews from the GitHub REST API (token from `GITHUB_TOKEN`, paginated)."""

    token: str | None = None
    base_url: str = "https://api.github.com"
    timeout: float = 15.0
    max_pages: int = 20

    def reviews(self, repository: str, pr: int) -> list[Review]:
        """All reviews of pull request `pr`, following `Link: rel="next"` pages."""
        import httpx

        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "clearance",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url: str | None = f"{self.base_url.rstrip('/')}/repos/{repository}/pulls/{pr}/reviews?per_page=100"
        items: list[Mapping[str, Any]] = []
        try:
            with httpx.Client(timeout=self.timeout, headers=headers, follow_redirects=True) as client:
                for _ in range(self.max_pages):
                    if url is None:
                        break
                    response = client.get(url)
                    if response.status_code != 200:
                        raise ScanFailure(
                            f"GitHub returned {response.status_code} for the reviews of {repository}#{pr}",
                            hint="check GITHUB_TOKEN (needs pull-requests: read) or pass --approvals FILE",
                        )
                    page = response.json()
                    if not isinstance(page, list):
                        raise ScanFailure(f"unexpected reviews response for {repository}#{pr}")
                    items.extend(p for p in page if isinstance(p, dict))
                    nxt = response.links.get("next", {}).get("url")
                    url = str(nxt) if nxt else None
        except httpx.HTTPError as e:
            raise ScanFailure(
                f"cannot fetch the reviews of {repository}#{pr}: {e}",
                hint="pass --approvals FILE when the API is unreachable",
            ) from e
        except ValueError as e:
            raise ScanFailure(f"the reviews of {repository}#{pr} are not valid JSON") from e
        try:
            return _reviews(items, f"{repository}#{pr}")
        except PolicyError as e:
            raise ScanFailure(e.message) from e


def _spec(pattern: str) -> pathspec.PathSpec[Any]:
    return path_glob(pattern)
