"""Service catalog, CODEOWNERS, environment and CI context."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from policy_builders import FIXTURES

from clearance.config import ServiceSettings
from clearance.policy.context import (
    CIContext,
    ci_context,
    load_catalog,
    load_codeowners,
    parse_codeowners,
    prod_bound,
    resolve_env,
)


def test_monorepo_nearest_catalog_component_owns_the_path() -> None:
    catalog = load_catalog(FIXTURES / "catalog-monorepo")
    pay = catalog.for_path("services/payments/src/Charge.java")
    assert (pay.name, pay.owner, pay.exposure, pay.data_classification, pay.tier) == (
        "payments-api",
        "group:team-payments",
        "internet",
        "restricted",
        "1",
    )
    assert pay.source == "services/payments/catalog-info.yaml"
    web = catalog.for_path("services/web/index.ts")
    assert (web.name, web.exposure, web.lifecycle) == ("web-frontend", "internal", "experimental")
    assert not web.internet_facing
    other = catalog.for_path("services/paymentsx/a.py")  # a sibling prefix is not a child
    assert other.name == "" and other.exposure == "unknown" and other.internet_facing


def test_service_settings_fill_gaps_in_a_monorepo() -> None:
    catalog = load_catalog(
        FIXTURES / "catalog-monorepo", ServiceSettings(owner="team-fallback", exposure="internal")
    )
    assert catalog.for_path("services/web/x").owner == "group:team-web"  # the component's own value wins
    assert catalog.for_path("README.md").owner == "team-fallback"
    assert catalog.for_path("README.md").exposure == "internal"


def test_single_repo_service_settings_win_over_the_catalog(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "catalog-monorepo" / "services" / "payments" / "catalog-info.yaml", tmp_path)
    catalog = load_catalog(tmp_path, ServiceSettings(exposure="internal"))
    svc = catalog.for_path("src/app.py")
    assert (svc.name, svc.exposure, svc.data_classification) == ("payments-api", "internal", "restricted")
    assert svc.source == "clearance.toml + catalog-info.yaml"


def test_unreadable_catalog_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text("kind: Component\nmetadata: [unclosed\n")
    catalog = load_catalog(tmp_path)
    assert catalog.primary.exposure == "unknown"
    assert "catalog-info.yaml: cannot read" in catalog.warnings[0]


def test_codeowners_last_match_wins() -> None:
    owners = load_codeowners(FIXTURES / "codeowners")
    assert owners.source == ".github/CODEOWNERS"
    assert owners.owners_of("src/app.py") == ("@acme/platform",)
    assert owners.owners_of("web/app.js") == ("@acme/frontend",)
    assert owners.owners_of("infra/main.tf") == ("@acme/sre", "@alice")
    assert owners.owners_of("sub/infra/main.tf") == ("@acme/platform",)  # /infra/ is anchored
    assert owners.owners_of("services/payments/api/x.py") == ("@acme/payments",)
    assert owners.owners_of("docs/guide.md") == ("docs@example.com",)
    assert owners.owners_of("docs/deep/guide.md") == ("@acme/platform",)  # docs/* is one level
    assert owners.owners_of("build/logs/out.txt") == ()
    assert owners.pattern_for("web/app.js") == "*.js"


def test_codeowners_escaped_hash_and_inline_comment() -> None:
    owners = parse_codeowners("\\#notes.md @team-a  # trailing comment\n")
    assert owners.owners_of("#notes.md") == ("@team-a",)


def test_env_and_prod_bound() -> None:
    assert resolve_env("Staging", {"CLEARANCE_ENV": "prod"}) == "staging"
    assert resolve_env(None, {"CLEARANCE_ENV": "prod"}) == "prod"
    assert resolve_env(None, {}) == ""
    assert prod_bound("prod") and prod_bound("production") and not prod_bound("dev")
    assert prod_bound("") and not prod_bound("", "experimental")


def test_github_actions_context(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 431}}))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": "abc123",
        "GITHUB_HEAD_REF": "fix-auth",
        "GITHUB_REF": "refs/heads/fix-auth",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_RUN_ID": "99",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_BASE_REF": "main",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    ctx = ci_context(env)
    assert ctx == CIContext(
        provider="github",
        repository="acme/shop",
        commit="abc123",
        branch="fix-auth",
        pr=431,
        run_url="https://github.com/acme/shop/actions/runs/99/attempts/2",
        actor="octocat",
        base_ref="main",
        server_url="https://github.com",
    )
    assert ci_context({**env, "GITHUB_REF": "refs/pull/7/merge"}).pr == 7


def test_gitlab_context_and_flag_overrides() -> None:
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_PATH": "acme/shop",
        "CI_COMMIT_SHA": "def456",
        "CI_MERGE_REQUEST_IID": "12",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feat",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/shop/-/pipelines/5",
        "GITLAB_USER_LOGIN": "dev1",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_COMMIT_REF_NAME": "feat",
    }
    ctx = ci_context(env, {"actor": "release-bot", "pr": None})
    assert (ctx.provider, ctx.repository, ctx.pr, ctx.branch, ctx.actor, ctx.base_ref) == (
        "gitlab",
        "acme/shop",
        12,
        "feat",
        "release-bot",
        "main",
    )
    assert ctx.run_url == "https://gitlab.example.com/acme/shop/-/pipelines/5"
    assert ci_context({}).provider == "local"
