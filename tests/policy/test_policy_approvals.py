"""High-risk paths need their risk owner's approval; GitHub reviews from a file or the API."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from policy_builders import FIXTURES, context, result, vulnerability

from clearance.config import Settings, settings_from_mapping
from clearance.decision import ExitCode
from clearance.errors import PolicyError
from clearance.errors import ScanError as ScanFailure
from clearance.model import Outcome
from clearance.policy.approvals import (
    Approvals,
    ChangedFile,
    GitHubReviewsClient,
    approvals_from_reviews,
    check_approvals,
    high_risk_paths,
    load_approvals_file,
    required_approvals,
)
from clearance.policy.engine import decide_with_settings

APPROVALS = FIXTURES / "approvals"
RECORDED = APPROVALS / "recorded"


def _requirements(files: list[ChangedFile], approvals: Approvals, settings: Settings | None = None) -> list:  # type: ignore[type-arg]
    s = settings or Settings()
    return check_approvals(required_approvals(files, high_risk_paths(s.policy)), approvals, s.policy.teams)


def test_auth_change_without_the_risk_owners_approval_needs_approval(now: dt.datetime) -> None:
    settings = settings_from_mapping(
        {
            "policy": {
                "high_risk_paths": {
                    "**/auth/**": {"owners": ["@acme/security"], "reason": "authentication code"}
                }
            }
        }
    )
    reqs = _requirements(
        [ChangedFile("services/api/auth/login.py", b"def login(): ...")],
        load_approvals_file(APPROVALS / "github-reviews.json"),
        settings,
    )
    d = decide_with_settings(result(), settings, now, env="prod", context=context(), approvals=reqs)
    assert d.outcome is Outcome.NEEDS_APPROVAL
    assert d.exit_code() is ExitCode.BLOCKED
    assert d.reasons == (
        "needs approval: services/api/auth/login.py (authentication code, **/auth/**) needs "
        "approval from @acme/security",
    )
    assert d.extra["approvals"][0]["owners"] == ["@acme/security"]
    assert d.extra["approvals"][0]["satisfied"] is False


def test_approval_by_a_team_member_satisfies_the_team(now: dt.datetime) -> None:
    settings = settings_from_mapping(
        {
            "policy": {
                "high_risk_paths": {"**/auth/**": ["@acme/security"]},
                "teams": {"acme/security": ["sec-lead", "sec-2"]},
            }
        }
    )
    reqs = _requirements(
        [ChangedFile("auth/login.py")], load_approvals_file(APPROVALS / "simple.json"), settings
    )
    assert reqs[0].satisfied and reqs[0].approved_by == ("@acme/security",)
    reviews = approvals_from_reviews([], "none")
    assert not _requirements([ChangedFile("auth/login.py")], reviews, settings)[0].satisfied
    d = decide_with_settings(result(), settings, now, env="prod", context=context(), approvals=reqs)
    assert d.outcome is Outcome.PASS


def test_block_wins_over_needs_approval(now: dt.datetime) -> None:
    from clearance.model import Scope, Severity

    reqs = _requirements([ChangedFile("auth/x.py")], Approvals())
    v = vulnerability(severity=Severity.CRITICAL, scope=Scope.RUNTIME)
    d = decide_with_settings(result(v), Settings(), now, env="prod", context=context(), approvals=reqs)
    assert d.outcome is Outcome.BLOCK


def test_github_reviews_latest_state_per_user_counts() -> None:
    approvals = load_approvals_file(APPROVALS / "github-reviews.json")
    # octocat approved; sec-lead requested changes, then only commented (a comment does not clear it).
    assert approvals.approvers == frozenset({"octocat"})


def test_defaults_cover_auth_iam_payments_terraform_iam_and_gateways() -> None:
    paths = high_risk_paths(Settings().policy)
    files = [
        ChangedFile("src/auth/session.py"),
        ChangedFile("pkg/iam/roles.go"),
        ChangedFile("app/payments/charge.py"),
        ChangedFile("infra/roles.tf", b'resource "aws_iam_role_policy" "x" {}'),
        ChangedFile("infra/bucket.tf", b'resource "aws_s3_bucket" "x" {}'),
        ChangedFile("deploy/k8s/public-ingress.yaml"),
        ChangedFile("README.md"),
    ]
    reqs = required_approvals(files, paths)
    touched = sorted(p for r in reqs for p in r.paths)
    assert touched == [
        "app/payments/charge.py",
        "deploy/k8s/public-ingress.yaml",
        "infra/roles.tf",
        "pkg/iam/roles.go",
        "src/auth/session.py",
    ]
    assert all(r.owners == ("@security",) for r in reqs)


def test_bad_approvals_files(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text("{nope")
    with pytest.raises(PolicyError, match="not valid JSON"):
        load_approvals_file(bad)
    bad.write_text(json.dumps({"who": "me"}))
    with pytest.raises(PolicyError, match="unrecognised approvals format"):
        load_approvals_file(bad)


class _Recorded(http.server.BaseHTTPRequestHandler):
    """Serves the recorded GitHub reviews pages, with a Link header like the API's."""

    requests: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        _Recorded.requests.append((self.path, self.headers.get("Authorization")))
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/repos/acme/shop/pulls/431/reviews?per_page=100":
            body, link = (
                (RECORDED / "reviews-page1.json").read_bytes(),
                (
                    f'<{host}/repositories/1/pulls/431/reviews?per_page=100&page=2>; rel="next", '
                    f'<{host}/repositories/1/pulls/431/reviews?per_page=100&page=2>; rel="last"'
                ),
            )
        elif self.path == "/repositories/1/pulls/431/reviews?per_page=100&page=2":
            body, link = (RECORDED / "reviews-page2.json").read_bytes(), None
        else:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"message": "Not Found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if link:
            self.send_header("Link", link)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def github() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorded.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_github_client_follows_pages_and_sends_the_token(github: str) -> None:
    client = GitHubReviewsClient(token="ghs_testtoken", base_url=github)
    reviews = client.reviews("acme/shop", 431)
    assert [(r.login, r.state) for r in reviews] == [
        ("dev-one", "APPROVED"),
        ("Sec-Lead", "CHANGES_REQUESTED"),
        ("Sec-Lead", "APPROVED"),
    ]
    assert [a for _, a in _Recorded.requests] == ["Bearer ghs_testtoken", "Bearer ghs_testtoken"]
    approvals = approvals_from_reviews(reviews, "github")
    assert approvals.approvers == frozenset({"dev-one", "sec-lead"})


def test_github_client_reports_http_errors(github: str) -> None:
    with pytest.raises(ScanFailure, match="GitHub returned 404"):
        GitHubReviewsClient(base_url=github).reviews("acme/other", 1)


def test_github_client_reports_unreachable_server() -> None:
    with pytest.raises(ScanFailure, match="cannot fetch the reviews"):
        GitHubReviewsClient(base_url="http://127.0.0.1:9", timeout=2).reviews("acme/shop", 1)


def test_gate_fetches_reviews_from_github_for_a_pr(github: str, tmp_path: Path, now: dt.datetime) -> None:
    import subprocess

    from clearance.pipeline import GateRequest, RunOptions, ScanRequest, gate
    from clearance.policy.gate import GateOptions

    repo = tmp_path / "shop"
    (repo / "src" / "auth").mkdir(parents=True)
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "d@example.com"],
        ["config", "user.name", "D"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    (repo / "src" / "auth" / "login.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "base"], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-qb", "pr"], check=True, capture_output=True)
    (repo / "src" / "auth" / "login.py").write_text("x = 2\n")
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "change"], check=True, capture_output=True)

    settings = settings_from_mapping({"policy": {"high_risk_paths": {"**/auth/**": ["@Sec-Lead"]}}})
    scan = ScanRequest(repo, settings, RunOptions(scanners=["secrets"], base="main", jobs=1))
    options = GateOptions(
        approvals="github",
        environ={"GITHUB_API_URL": github, "GITHUB_TOKEN": "t0k"},
        ci_overrides={"repository": "acme/shop", "pr": 431},
    )
    # these settings are the test's, not the repository's: keep them in PR mode
    run = gate(GateRequest(scan, options, policy_from_base=False), lambda: now)
    assert run.decision.outcome is Outcome.PASS
    assert run.decision.extra["approvals"][0]["approved_by"] == ["sec-lead"]
    assert run.decision.extra["approvals_source"] == "github:acme/shop#431"
    assert run.report.context.ci is not None
    assert (run.report.context.ci.repository, run.report.context.ci.pr) == ("acme/shop", 431)

    missing = GateOptions(approvals="github", environ={"GITHUB_API_URL": github})
    from clearance.errors import UsageError

    with pytest.raises(UsageError, match="needs the repository and pull request number"):
        gate(GateRequest(scan, missing, policy_from_base=False), lambda: now)


def test_invalid_high_risk_pattern_is_a_config_error() -> None:
    from clearance.errors import ConfigError

    with pytest.raises(ConfigError, match=r"invalid path pattern '\*\*/\[z-a\]'"):
        settings_from_mapping({"policy": {"high_risk_paths": {"**/[z-a]": ["@x"]}}})


def test_approval_time_is_recorded_for_evidence() -> None:
    settings = settings_from_mapping({"policy": {"high_risk_paths": {"**/auth/**": ["octocat"]}}})
    reqs = _requirements(
        [ChangedFile("auth/x.py")], load_approvals_file(APPROVALS / "github-reviews.json"), settings
    )
    assert reqs[0].as_dict()["at"] == "2026-09-10T10:00:00Z"
    assert reqs[0].as_dict()["approved_by"] == ["octocat"]
