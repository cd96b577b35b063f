"""PR mode on a real git repository: new findings follow the policy, pre-existing ones warn."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from policy_builders import context

from clearance.config import Settings, settings_from_mapping
from clearance.model import Action, Baseline, Outcome, ScanResult
from clearance.pipeline import RunOptions, ScanRequest, compute_baseline, run, scan
from clearance.policy.engine import decide_with_settings
from clearance.policy.inputs import ChangeInfo
from clearance.scanners.registry import build_scanners
from clearance.sources.git import change_set

OLD_KEY = "AKIAQYLPMN5HHHFPZAM2"
NEW_KEY = "AKIAZ7VRSQ5TJN2BWXYC"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main has one hard-coded key; the feature branch touches that line and adds a new key elsewhere."""
    root = tmp_path / "shop"
    (root / "app").mkdir(parents=True)
    _git(root.parent, "init", "-q", "-b", "main", str(root))
    _git(root, "config", "user.email", "dev@example.com")
    _git(root, "config", "user.name", "Dev")
    (root / "app" / "settings.py").write_text(f'import os\n\nAWS_KEY = "{OLD_KEY}"\n')
    (root / "app" / "auth").mkdir()
    (root / "app" / "auth" / "login.py").write_text("def login(user):\n    return user\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "base")
    _git(root, "checkout", "-qb", "feature")
    (root / "app" / "settings.py").write_text(f'import os\n\n# rotate me\nAWS_KEY = "{OLD_KEY}"  # legacy\n')
    (root / "app" / "client.py").write_text(f'TOKEN = "{NEW_KEY}"\n')
    (root / "app" / "auth" / "login.py").write_text("def login(user):\n    return user.strip()\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "feature")
    return root


def _baseline(
    repo: Path, res: ScanResult, settings: Settings, now: dt.datetime, cache: Path | None
) -> Baseline:
    return compute_baseline(
        repo, change_set(repo, "main"), res, settings, build_scanners(["secrets"]), now, cache
    )


def test_pr_mode_separates_new_from_pre_existing(repo: Path, now: dt.datetime, tmp_path: Path) -> None:
    settings = Settings()
    res = run(repo, settings, RunOptions(scanners=["secrets"], base="main", jobs=1), now)
    by_path = {f.location.path: f for f in res.findings}
    assert set(by_path) == {"app/settings.py", "app/client.py"}

    baseline = _baseline(repo, res, settings, now, tmp_path / "cache")
    pre = baseline.pre_existing(res)
    assert pre == {by_path["app/settings.py"].fingerprint}
    assert not baseline.cached

    change = ChangeInfo(mode="pr", base="main", files=("app/client.py", "app/settings.py"), pre_existing=pre)
    # verified=False from the scanner for AWS key ids: use a policy that blocks every secret.
    strict = settings_from_mapping(
        {
            "policy": {
                "rules": [
                    {
                        "name": "no-secrets",
                        "when": "finding.kind == 'secret'",
                        "action": "block",
                        "message": "no secrets",
                    }
                ]
            }
        }
    )
    d = decide_with_settings(res, strict, now, env="prod", context=context(), change=change)
    old, new = (
        d.verdicts[by_path["app/settings.py"].fingerprint],
        d.verdicts[by_path["app/client.py"].fingerprint],
    )
    assert (new.action, new.rule) == (Action.BLOCK, "no-secrets")
    assert (old.action, old.rule) == (Action.WARN, "baseline.pre-existing")
    assert old.notes[0] == "policy rule no-secrets would block: no secrets"
    assert d.outcome is Outcome.BLOCK
    assert d.extra["baseline"]["pre_existing"] == [by_path["app/settings.py"].fingerprint]
    assert d.extra["baseline"]["new"] == [by_path["app/client.py"].fingerprint]
    assert any("1 new finding(s), 1 pre-existing (1 would block)" in r for r in d.reasons)


def test_pre_existing_can_follow_the_policy(repo: Path, now: dt.datetime, tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "policy": {
                "pre_existing": "policy",
                "rules": [{"name": "no-secrets", "when": "finding.kind == 'secret'", "action": "block"}],
            }
        }
    )
    res = run(repo, settings, RunOptions(scanners=["secrets"], base="main", jobs=1), now)
    baseline = _baseline(repo, res, settings, now, None)
    change = ChangeInfo(mode="pr", base="main", pre_existing=baseline.pre_existing(res))
    d = decide_with_settings(res, settings, now, env="prod", context=context(), change=change)
    assert all(v.action is Action.BLOCK for v in d.verdicts.values())


def test_base_results_are_cached_by_tree(repo: Path, now: dt.datetime, tmp_path: Path) -> None:
    settings = Settings()
    res = run(repo, settings, RunOptions(scanners=["secrets"], base="main", jobs=1), now)
    cache = tmp_path / "cache"
    first = _baseline(repo, res, settings, now, cache)
    second = _baseline(repo, res, settings, now, cache)
    assert (first.cached, second.cached) == (False, True)
    assert first.fingerprints == second.fingerprints
    assert len(list(cache.glob("baseline-*.json"))) == 1


def test_one_change_set_serves_scan_and_policy(repo: Path, now: dt.datetime) -> None:
    """PR mode reads the change once: the scan's files and the policy's paths come from one ChangeSet."""
    (repo / "app" / "auth" / "login.py").unlink()
    done = scan(ScanRequest(repo, Settings(), RunOptions(scanners=["secrets"], base="main", jobs=1)), now)
    change = done.change
    assert change is not None and change.base == "main"
    assert (
        change.merge_base
        == subprocess.run(
            ["git", "-C", str(repo), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert {c.path for c in change.changed} == {"app/client.py", "app/settings.py"}
    assert change.deleted == ("app/auth/login.py",)
    assert change.paths == ("app/auth/login.py", "app/client.py", "app/settings.py")
    settings_change = next(c for c in change.changed if c.path == "app/settings.py")
    assert settings_change.added_lines == frozenset({3, 4})
