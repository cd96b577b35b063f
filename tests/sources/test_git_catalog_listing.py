"""PR mode lists service catalog files from the index plus the change set: the same files as a
full `git ls-files --cached --others`, with one walk of the working tree instead of two."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.pipeline import CATALOG_GLOBS
from clearance.sources import git

CATALOG = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  owner: team-a\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    run = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    root.mkdir()
    subprocess.run([*run, "init", "-q", "-b", "main"], check=True)
    (root / ".gitignore").write_text("build/\n")
    (root / "catalog-info.yaml").write_text(CATALOG.format(name="root"))
    (root / "svc" / "a").mkdir(parents=True)
    (root / "svc" / "a" / "catalog-info.yml").write_text(CATALOG.format(name="a"))
    (root / "svc" / "gone").mkdir(parents=True)
    (root / "svc" / "gone" / "catalog-info.yaml").write_text(CATALOG.format(name="gone"))
    (root / "app.py").write_text("x = 1\n")
    subprocess.run([*run, "add", "-A"], check=True)
    subprocess.run([*run, "commit", "-qm", "base"], check=True)
    subprocess.run([*run, "checkout", "-qb", "topic"], check=True)
    (root / "svc" / "b").mkdir(parents=True)
    (root / "svc" / "b" / "catalog-info.yaml").write_text(CATALOG.format(name="b"))  # committed on topic
    subprocess.run([*run, "add", "-A"], check=True)
    subprocess.run([*run, "commit", "-qm", "b"], check=True)
    (root / "svc" / "c").mkdir(parents=True)
    (root / "svc" / "c" / "catalog-info.yaml").write_text(CATALOG.format(name="c"))  # untracked
    (root / "build").mkdir()
    (root / "build" / "catalog-info.yaml").write_text(CATALOG.format(name="ignored"))  # ignored
    (root / "notes-catalog-info.yaml").write_text("not a catalog name\n")  # untracked, no match
    (root / "app.py").write_text("x = 2\n")  # modified
    subprocess.run([*run, "rm", "-q", "svc/gone/catalog-info.yaml"], check=True)  # staged deletion
    return root


def test_listing_from_the_change_set_equals_the_full_listing(repo: Path) -> None:
    change = git.change_set(repo, "main")
    full = git.listed_files(repo, CATALOG_GLOBS)
    from_change = git.listed_files(repo, CATALOG_GLOBS, changed=[c.path for c in change.changed])
    assert full == [
        "catalog-info.yaml",
        "svc/a/catalog-info.yml",
        "svc/b/catalog-info.yaml",
        "svc/c/catalog-info.yaml",
    ]
    assert from_change == full


def test_a_pr_gate_walks_the_working_tree_for_untracked_files_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks: list[list[str]] = []
    real = subprocess.Popen

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, argv: Any, *args: Any, **kwargs: Any) -> None:
            words = [str(a) for a in argv] if isinstance(argv, (list, tuple)) else []
            if words and words[0].endswith("git") and "ls-files" in words and "--others" in words:
                walks.append(words)
            super().__init__(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Spy)
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(app, ["gate", ".", "--base", "main", "--scanners", "secrets", "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(walks) == 1, walks
