"""Git source: unique history blobs with their introducing commit, and PR-mode changed files.

Every test builds a real repository in a temporary directory with fixed authors and dates.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.config import Settings
from clearance.errors import SourceError
from clearance.pipeline import RunOptions, run
from clearance.sources import git
from clearance.sources.base import SourceFile

CAP = 1_000_000
ALICE = ("Alice Liddell", "alice@example.com")
BOB = ("Bob Builder", "bob@example.com")
CAROL = ("Carol Danvers", "carol@example.com")


class Repo:
    """A throwaway git repository with deterministic commits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tick = 0
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: tuple[str, str] = ALICE) -> str:
        self._tick += 1
        date = f"2024-01-{1 + self._tick // 24:02d}T{self._tick % 24:02d}:00:00+00:00"
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        }
        proc = subprocess.run(["git", *args], cwd=self.root, env=env, capture_output=True, check=True)
        return proc.stdout.decode().strip()

    def write(self, path: str, content: str | bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit(self, message: str, *, author: tuple[str, str] = ALICE) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def date_of(self, sha: str) -> str:
        return self.git("show", "-s", "--format=%aI", sha)


def _hash(root: Path, content: str) -> str:
    return (
        subprocess.run(
            ["git", "hash-object", "--stdin"],
            cwd=root,
            input=content.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture(autouse=True)
def _no_outer_git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The code under test must not see the developer's git configuration or a stray GIT_DIR."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    yield


def by_path(files: list[SourceFile]) -> dict[str, list[SourceFile]]:
    grouped: dict[str, list[SourceFile]] = {}
    for f in files:
        grouped.setdefault(f.path, []).append(f)
    return grouped


# --------------------------------------------------------------------------- history


def test_history_reads_each_unique_blob_once(repo: Repo) -> None:
    repo.write("a.txt", "same content\n")
    repo.write("copy/a.txt", "same content\n")
    repo.write("b.txt", "one\n")
    repo.commit("first")
    repo.write("b.txt", "one\ntwo\n")
    repo.write("c.txt", "same content\n")
    repo.commit("second")

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)

    blobs = [f.blob for f in result.files]
    assert len(blobs) == len(set(blobs)) == 3
    assert {(f.path, f.read()) for f in result.files} == {
        ("a.txt", b"same content\n"),
        ("b.txt", b"one\n"),
        ("b.txt", b"one\ntwo\n"),
    }
    assert all(f.size == len(f.read()) for f in result.files)
    assert result.skipped == [] and result.errors == []


def test_history_reports_the_oldest_commit_of_a_blob_that_moves_and_comes_back(repo: Repo) -> None:
    secret = "token = 'ghp_not_a_real_token_but_a_marker_12345'\n"
    repo.write("config/settings.py", secret)
    introduced = repo.commit("add settings", author=ALICE)
    (repo.root / "config/settings.py").rename(repo.root / "settings.py")
    repo.commit("move settings", author=BOB)
    (repo.root / "settings.py").unlink()
    repo.commit("remove settings", author=BOB)
    repo.write("app/settings.py", secret)
    repo.commit("bring it back", author=CAROL)

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)

    [found] = [f for f in result.files if f.read() == secret.encode()]
    assert found.path == "config/settings.py"
    assert found.commit == introduced
    assert found.commit_author == "Alice Liddell <alice@example.com>"
    assert found.commit_date == repo.date_of(introduced)
    assert found.blob == _hash(repo.root, secret)
    loc = found.location(3)
    assert (loc.commit, loc.blob, loc.start_line) == (introduced, found.blob, 3)


def test_history_attributes_a_merge_resolution_to_the_merge_commit(repo: Repo) -> None:
    repo.write("f.txt", "base\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("f.txt", "topic\n")
    repo.commit("topic change", author=BOB)
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", "main\n")
    repo.commit("main change")
    subprocess.run(
        ["git", "merge", "-q", "topic"],
        cwd=repo.root,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull},
        check=False,
    )
    repo.write("f.txt", "resolved by hand\n")
    merge = repo.commit("merge topic", author=CAROL)

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)

    contents = {f.read(): f for f in result.files}
    assert set(contents) == {b"base\n", b"topic\n", b"main\n", b"resolved by hand\n"}
    assert contents[b"resolved by hand\n"].commit == merge
    assert contents[b"topic\n"].commit_author == "Bob Builder <bob@example.com>"


def test_history_scans_only_the_selected_refs(repo: Repo) -> None:
    repo.write("main.txt", "on main\n")
    repo.commit("main")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("feature.txt", "on feature\n")
    repo.commit("feature")
    repo.git("checkout", "-q", "main")

    def paths(refs: list[str]) -> set[str]:
        return {f.path for f in git.history_files(repo.root, refs=refs, ignore=[], max_file_size=CAP).files}

    assert paths([]) == {"main.txt", "feature.txt"}
    assert paths(["main"]) == {"main.txt"}
    assert paths(["feature"]) == {"main.txt", "feature.txt"}
    assert paths(["main..feature"]) == {"feature.txt"}
    assert paths(["--branches"]) == {"main.txt", "feature.txt"}


def test_history_unknown_or_option_like_ref_is_a_source_error(repo: Repo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("a")
    with pytest.raises(SourceError) as unknown:
        git.history_files(repo.root, refs=["no-such-branch"], ignore=[], max_file_size=CAP)
    assert "no-such-branch" in unknown.value.message
    assert unknown.value.hint is not None and "git fetch" in unknown.value.hint
    with pytest.raises(SourceError):
        git.history_files(repo.root, refs=["--output=/tmp/x"], ignore=[], max_file_size=CAP)


def test_history_honours_ignore_globs_and_clearanceignore(repo: Repo) -> None:
    repo.write("vendor/lib.js", "vendored\n")
    repo.write("fixtures/keys.pem", "fixture key\n")
    repo.write("src/app.py", "app\n")
    repo.write(".clearanceignore", "fixtures/\n")
    repo.commit("tree")
    repo.write("src/copy_of_vendored.js", "vendored\n")
    later = repo.commit("copy a vendored file into src")

    result = git.history_files(repo.root, refs=[], ignore=["vendor/"], max_file_size=CAP)

    grouped = by_path(result.files)
    assert set(grouped) == {".clearanceignore", "src/app.py", "src/copy_of_vendored.js"}
    # The vendored blob is scanned once, where it first appeared at a path that is not ignored.
    assert grouped["src/copy_of_vendored.js"][0].commit == later


def test_history_skips_blobs_over_the_size_cap(repo: Repo) -> None:
    repo.write("big.log", "x" * 5000)
    repo.write("small.txt", "small\n")
    repo.commit("files")

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=1000)

    assert [f.path for f in result.files] == ["small.txt"]
    [skipped] = result.skipped
    assert skipped.path == "big.log"
    assert "size cap" in skipped.reason and "5000" in skipped.reason


def test_history_skips_symlinks_and_includes_blobs_tagged_directly(repo: Repo) -> None:
    repo.write("real.txt", "real\n")
    os.symlink("real.txt", repo.root / "link")
    repo.commit("with link")
    tagged = _hash(repo.root, "key material kept outside any commit\n")
    repo.git(
        "tag",
        "loose-key",
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo.root,
            input=b"key material kept outside any commit\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip(),
    )

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)

    by_blob = {f.blob: f for f in result.files}
    assert {f.path for f in result.files} == {"real.txt", "refs/tags/loose-key"}
    assert by_blob[tagged].commit is None
    assert by_blob[tagged].read() == b"key material kept outside any commit\n"


def test_history_of_paths_with_spaces_unicode_and_newlines(repo: Repo) -> None:
    names = ["with space.txt", "ünïcödé/файл.txt", "new\nline.txt", 'quote"d.txt']
    for i, name in enumerate(names):
        repo.write(name, f"content {i}\n")
    repo.commit("odd names")

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)

    assert sorted(f.path for f in result.files) == sorted(names)
    assert {f.path: f.read() for f in result.files}["ünïcödé/файл.txt"] == b"content 1\n"


def test_history_of_bare_and_empty_repositories(tmp_path: Path) -> None:
    empty = Repo(tmp_path / "empty")
    assert git.history_files(empty.root, refs=[], ignore=[], max_file_size=CAP).files == []

    source = Repo(tmp_path / "source")
    source.write("a.txt", "in a bare clone\n")
    source.commit("a")
    bare = tmp_path / "bare.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(source.root), str(bare)], check=True, capture_output=True
    )
    [found] = git.history_files(bare, refs=[], ignore=[], max_file_size=CAP).files
    assert (found.path, found.read()) == ("a.txt", b"in a bare clone\n")


def test_git_environment_cannot_redirect_to_another_repository(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Repo(tmp_path / "other")
    other.write("other.txt", "other\n")
    other.commit("other")
    repo.write("mine.txt", "mine\n")
    repo.commit("mine")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("mine.txt", "mine\nmore\n")
    monkeypatch.setenv("GIT_DIR", str(other.root / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other.root))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other.root / ".git" / "index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(other.root / ".git" / "objects"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.worktree'='{other.root}'")

    history = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)
    changed = git.changed_files(repo.root, base="main", ignore=[], max_file_size=CAP)

    assert sorted({f.path for f in history.files}) == ["mine.txt"]
    assert [(f.path, f.added_lines) for f in changed.files] == [("mine.txt", frozenset({2}))]
    assert git.head_commit(repo.root) == repo.git("rev-parse", "HEAD")


def test_not_a_repository_is_a_source_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (tmp_path / ".git").mkdir()  # not a repository either: must not be mistaken for one
    for call in (
        lambda: git.history_files(plain, refs=[], ignore=[], max_file_size=CAP),
        lambda: git.changed_files(plain, base="main", ignore=[], max_file_size=CAP),
    ):
        with pytest.raises(SourceError) as err:
            call()
        assert "not inside a git repository" in err.value.message
    assert git.head_commit(plain) is None


def test_git_missing_is_a_source_error_with_a_hint(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("a")
    monkeypatch.setenv("PATH", str(repo.root / "no-bin"))
    assert git.head_commit(repo.root) is None
    with pytest.raises(SourceError) as err:
        git.changed_files(repo.root, base="main", ignore=[], max_file_size=CAP)
    assert "git is not installed" in err.value.message and err.value.hint


def test_head_commit(repo: Repo, tmp_path: Path) -> None:
    assert git.head_commit(repo.root) is None  # no commit yet
    repo.write("sub/a.txt", "a\n")
    sha = repo.commit("a")
    assert git.head_commit(repo.root) == sha
    assert git.head_commit(repo.root / "sub") == sha
    assert git.head_commit(repo.root / "sub" / "a.txt") == sha
    assert git.head_commit(tmp_path / "missing") is None


# --------------------------------------------------------------------------- PR mode


@pytest.fixture
def pr(repo: Repo) -> Repo:
    """main has a base; branch `change` forks from it; main then moves on."""
    repo.write("app.py", "".join(f"line {i}\n" for i in range(1, 11)))
    repo.write("schema.sql", "-- schema\n-- owner: data team\nCREATE TABLE t (id int);\n")
    repo.write("old_name.py", "renamed without edits\n")
    repo.write("to_edit_and_move.py", "a\nb\nc\n")
    repo.write("doomed.txt", "will be deleted\n")
    repo.write("staged.py", "x = 1\n")
    repo.write("unstaged.py", "y = 1\n")
    repo.write(".gitignore", "*.log\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write(
        "app.py",
        "".join(f"line {i}\n" + ("inserted A\ninserted B\n" if i == 4 else "") for i in range(1, 11))
        + "appended\n",
    )
    repo.write("schema.sql", "-- owner: platform team\n++ not sql\nCREATE TABLE t (id int);\n")
    repo.write("brand new.py", "print('new')\nprint('file')\n")
    (repo.root / "old_name.py").rename(repo.root / "new_name.py")
    (repo.root / "to_edit_and_move.py").unlink()
    repo.write("moved/edited.py", "a\nb\nadded\nc\n")
    (repo.root / "doomed.txt").unlink()
    repo.commit("the change", author=BOB)
    repo.git("checkout", "-q", "main")
    repo.write("main_only.py", "moved on after the fork\n")
    repo.commit("main moves on")
    repo.git("checkout", "-q", "change")
    # uncommitted work: a staged edit, an unstaged edit, an untracked file, an ignored file
    repo.write("staged.py", "x = 1\nx2 = 2\n")
    repo.git("add", "staged.py")
    repo.write("unstaged.py", "y0 = 0\ny = 1\n")
    repo.write("untracked.py", "fresh\n")
    repo.write("debug.log", "ignored by .gitignore\n")
    return repo


def test_pr_mode_files_and_added_lines(pr: Repo) -> None:
    result = git.changed_files(pr.root, base="main", ignore=[], max_file_size=CAP)

    added = {f.path: f.added_lines for f in result.files}
    assert added == {
        "app.py": frozenset({5, 6, 13}),
        "schema.sql": frozenset({1, 2}),
        "brand new.py": None,
        "new_name.py": frozenset(),
        "moved/edited.py": frozenset({3}),
        "staged.py": frozenset({2}),
        "unstaged.py": frozenset({1}),
        "untracked.py": None,
    }
    app = next(f for f in result.files if f.path == "app.py")
    assert app.disk_path == pr.root / "app.py" and app.data is None
    assert app.read() == (pr.root / "app.py").read_bytes()
    assert app.size == len(app.read())
    assert result.skipped == [] and result.errors == []


def test_pr_mode_honours_ignores_and_size_cap(pr: Repo) -> None:
    pr.write(".clearanceignore", "moved/\n")
    pr.write("huge.txt", "z" * 4000)
    result = git.changed_files(pr.root, base="main", ignore=["schema.sql"], max_file_size=3000)

    paths = {f.path for f in result.files}
    # the configured glob applies; a `.clearanceignore` the change itself adds does not (the
    # merge base's ignore files apply in PR mode: a change cannot hide its own files)
    assert "schema.sql" not in paths and "moved/edited.py" in paths
    assert ".clearanceignore" in paths and "app.py" in paths
    assert [f.path for f in result.files if f.over_cap] == ["huge.txt"] and result.skipped == []


def test_pr_mode_in_a_subdirectory_is_scoped_to_it(repo: Repo) -> None:
    repo.write("svc/a.py", "a\n")
    repo.write("other/b.py", "b\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("svc/a.py", "a\nmore\n")
    repo.write("other/b.py", "b\nmore\n")
    repo.commit("change")

    result = git.changed_files(repo.root / "svc", base="main", ignore=[], max_file_size=CAP)

    assert [(f.path, f.added_lines, f.disk_path) for f in result.files] == [
        ("a.py", frozenset({2}), repo.root / "svc" / "a.py")
    ]


def test_pr_mode_paths_with_spaces_unicode_and_newlines(repo: Repo) -> None:
    names = ["dir with space/file name.py", "ünï/çødé.py", "new\nline.py", 'tab\there "q".py']
    for name in names:
        repo.write(name, "one\ntwo\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    for name in names:
        repo.write(name, "one\ninserted\ntwo\n")
    repo.write("nouveau fichier é.py", "x\n")
    repo.commit("change")

    result = git.changed_files(repo.root, base="main", ignore=[], max_file_size=CAP)

    added = {f.path: f.added_lines for f in result.files}
    assert added == {**{n: frozenset({2}) for n in names}, "nouveau fichier é.py": None}
    assert all(f.disk_path is not None and f.disk_path.is_file() for f in result.files)


def test_pr_mode_symlinks_and_binary_files(repo: Repo) -> None:
    repo.write("data.bin", b"\x00\x01\x02")
    repo.write("target.txt", "t\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("data.bin", b"\x00\x01\x02\x03")
    os.symlink("target.txt", repo.root / "link")
    repo.commit("change")

    result = git.changed_files(repo.root, base="main", ignore=[], max_file_size=CAP)

    assert [(f.path, f.added_lines) for f in result.files] == [("data.bin", None)]
    assert [s.path for s in result.skipped] == ["link"]


def test_pr_mode_unknown_base_ref(pr: Repo) -> None:
    with pytest.raises(SourceError) as err:
        git.changed_files(pr.root, base="origin/main", ignore=[], max_file_size=CAP)
    assert "origin/main" in err.value.message
    assert err.value.hint == "fetch the base branch: git fetch origin main"
    assert err.value.exit_code == 3


def test_pr_mode_without_common_ancestor(repo: Repo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("a")
    repo.git("checkout", "-q", "--orphan", "island")
    repo.write("b.txt", "b\n")
    repo.commit("b")
    with pytest.raises(SourceError) as err:
        git.changed_files(repo.root, base="main", ignore=[], max_file_size=CAP)
    assert "no common ancestor" in err.value.message


def test_merge_base_and_files_at(pr: Repo) -> None:
    mb = git.merge_base(pr.root, "main")
    assert mb == pr.git("merge-base", "main", "HEAD")
    assert mb != pr.git("rev-parse", "main")  # main moved on after the fork

    found = git.files_at(pr.root, mb, ["app.py", "brand new.py", "schema.sql", "main_only.py"])

    assert [f.path for f in found] == ["app.py", "schema.sql"]
    assert found[1].read() == b"-- schema\n-- owner: data team\nCREATE TABLE t (id int);\n"
    assert all(f.commit == mb and f.blob for f in found)


def test_files_at_in_a_subdirectory_and_with_odd_names(repo: Repo) -> None:
    repo.write("svc/new\nline.txt", "n\n")
    repo.write("svc/sp ace.txt", "s\n")
    sha = repo.commit("base")
    found = git.files_at(
        repo.root / "svc", "HEAD", ["absent\nname.txt", "new\nline.txt", "gone", "sp ace.txt"]
    )
    assert [(f.path, f.read(), f.commit) for f in found] == [
        ("new\nline.txt", b"n\n", sha),
        ("sp ace.txt", b"s\n", sha),
    ]
    with pytest.raises(SourceError):
        git.files_at(repo.root, "nope", ["x"])


# --------------------------------------------------------------------------- diff parser


def test_parse_diff_keeps_hunk_bodies_apart_from_headers() -> None:
    output = (
        b":100644 100644 1111111111111111111111111111111111111111 0000000000000000000000000000000000000000 M\0"
        b"a b.sql\0"
        b":000000 100644 0000000000000000000000000000000000000000 2222222222222222222222222222222222222222 A\0"
        b"n\xc3\xa9w\0"
        b"\0"
        b"diff --git a/a b.sql b/a b.sql\n"
        b"index 1111111..2222222 100644\n"
        b"--- a/a b.sql\t\n"
        b"+++ b/a b.sql\t\n"
        b"@@ -1,2 +1,2 @@\n"
        b"--- removed comment\n"
        b"-diff --git a/fake b/fake\n"
        b"+++ b/not-a-header\n"
        b"+@@ -9 +9 @@\n"
        b"@@ -7,0 +8 @@ ctx\n"
        b"+tail\n"
        b"\\ No newline at end of file\n"
        b"diff --git a/n\xc3\xa9w b/n\xc3\xa9w\n"
        b"new file mode 100644\n"
        b"--- /dev/null\n"
        b"+++ b/n\xc3\xa9w\n"
        b"@@ -0,0 +1 @@\n"
        b"+x\n"
    )
    changes = git.parse_diff(output)
    assert [(c.status, c.path, c.added_lines) for c in changes] == [
        ("M", "a b.sql", frozenset({1, 2, 8})),
        ("A", "néw", None),
    ]


def test_parse_diff_quoted_names_and_renames() -> None:
    output = (
        b":100644 100644 1111111111111111111111111111111111111111 2222222222222222222222222222222222222222 R090\0"
        b"old\0"
        b"tab\there\0"
        b"\0"
        b'diff --git a/old "b/tab\\there"\n'
        b"similarity index 90%\n"
        b"rename from old\n"
        b'rename to "tab\\there"\n'
        b"--- a/old\n"
        b'+++ "b/tab\\there"\n'
        b"@@ -3,0 +4,2 @@\n"
        b"+a\n"
        b"+b\n"
    )
    [change] = git.parse_diff(output)
    assert (change.status, change.old_path, change.path, change.added_lines) == (
        "R",
        "old",
        "tab\there",
        frozenset({4, 5}),
    )


def test_parse_diff_of_nothing() -> None:
    assert git.parse_diff(b"") == []


def test_pr_mode_with_several_merge_bases(repo: Repo) -> None:
    """Criss-cross merges leave two merge bases; git diff --merge-base refuses, clearance picks one."""
    repo.write("a.txt", "a\n")
    repo.commit("A")
    repo.git("checkout", "-q", "-b", "b")
    repo.write("b.txt", "b\n")
    b1 = repo.commit("b1")
    repo.git("checkout", "-q", "-b", "c", "main")
    repo.write("c.txt", "c\n")
    c1 = repo.commit("c1")
    repo.git("merge", "-q", "--no-edit", b1)
    repo.git("checkout", "-q", "b")
    repo.git("merge", "-q", "--no-edit", c1)
    repo.write("b.txt", "b\nnew on b\n")
    repo.commit("b2")
    assert len(repo.git("merge-base", "--all", "b", "c").split()) == 2

    result = git.changed_files(repo.root, base="c", ignore=[], max_file_size=CAP)

    changed = {f.path: f.added_lines for f in result.files}
    fork = git.merge_base(repo.root, "c")
    assert fork in (b1, c1)
    # Relative to the merge base git picks: b.txt is either new (c1) or has line 2 added (b1).
    assert changed["b.txt"] == (None if fork == c1 else frozenset({2}))
    assert "a.txt" not in changed


def test_pr_mode_on_a_single_file(pr: Repo) -> None:
    result = git.changed_files(pr.root / "app.py", base="main", ignore=[], max_file_size=CAP)
    assert [(f.path, f.added_lines) for f in result.files] == [("app.py", frozenset({5, 6, 13}))]


# --------------------------------------------------------------------------- through the pipeline


def _secrets_pipeline(
    target: Path, options: RunOptions, now: dt.datetime
) -> list[tuple[str, int | None, str | None, str | None]]:
    result = run(target, Settings(scanners=["secrets"]), options, now)
    assert result.errors == ()
    return [
        (f.location.path, f.location.start_line, f.location.commit, f.location.commit_author)
        for f in result.findings
        if f.rule_id == "secret.aws-access-key-id"
    ]


def test_pipeline_pr_mode_reports_only_secrets_on_added_lines(repo: Repo, now: dt.datetime) -> None:
    old, new, other = "AKIA" + "4HKZQ7RXJ3MVTW5N", "ASIA" + "Y3DN2K7QWERTPLMC", "AKIA" + "2MQX7LRTWVZ3K5PN"
    repo.write("settings.py", f'OLD_KEY = "{old}"\nDEBUG = False\n')
    repo.commit("base with an old leak")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("settings.py", f'OLD_KEY = "{old}"\nNEW_KEY = "{new}"\nDEBUG = False\n')
    repo.write("deploy/env.py", f'KEY = "{other}"\n')
    repo.commit("add keys")

    found = _secrets_pipeline(repo.root, RunOptions(base="main", scanners=["secrets"], jobs=1), now)

    assert sorted((path, line) for path, line, _, _ in found) == [("deploy/env.py", 1), ("settings.py", 2)]


def test_pipeline_history_blames_the_commit_that_introduced_the_secret(repo: Repo, now: dt.datetime) -> None:
    key = "AKIA" + "4HKZQ7RXJ3MVTW5N"
    repo.write("app/config.py", "import os\n")
    repo.commit("config", author=ALICE)
    repo.write("app/config.py", f'import os\nAWS_KEY = "{key}"\n')
    leak = repo.commit("oops", author=BOB)
    (repo.root / "app/config.py").rename(repo.root / "settings.py")
    repo.commit("move", author=CAROL)
    repo.write("settings.py", "import os\n")
    repo.commit("remove the key", author=CAROL)

    found = _secrets_pipeline(repo.root, RunOptions(history=True, scanners=["secrets"], jobs=1), now)

    assert found == [("app/config.py", 2, leak, "Bob Builder <bob@example.com>")]


# --------------------------------------------------------------------------- property: added lines vs git


TRICKY_LINES = st.sampled_from(
    [
        "a\n",
        "b\n",
        "c\n",
        "--- a/x\n",
        "+++ b/x\n",
        "@@ -1 +1 @@\n",
        "diff --git a/x b/x\n",
        "\\ x\n",
        "-\n",
        "+\n",
        "\n",
        "d\r\n",
        "é\n",
    ]
)
CONTENTS = st.tuples(st.lists(TRICKY_LINES, max_size=12), st.sampled_from(["", "tail", "+no eol"])).map(
    lambda t: "".join(t[0]) + t[1]
)


def _lines(text: str) -> list[str]:
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=CONTENTS, new=CONTENTS)
def test_added_lines_agree_with_the_file_contents(
    tmp_path_factory: pytest.TempPathFactory, old: str, new: str
) -> None:
    """Lines not reported as added, in order, are exactly what is left of the old file after deletions."""
    repo = Repo(tmp_path_factory.mktemp("prop"))
    repo.write("f.txt", old)
    repo.write("keep.txt", "keep\n")
    repo.commit("old")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("f.txt", new)

    changed = {
        f.path: f for f in git.changed_files(repo.root, base="main", ignore=[], max_file_size=CAP).files
    }

    if old == new:
        assert "f.txt" not in changed
        return
    added = changed["f.txt"].added_lines
    assert added is not None
    new_lines, old_lines = _lines(new), _lines(old)
    assert all(1 <= n <= len(new_lines) for n in added)
    kept = [line for n, line in enumerate(new_lines, 1) if n not in added]
    remaining = iter(old_lines)
    assert all(any(line == candidate for candidate in remaining) for line in kept), (
        "kept lines are not a subsequence"
    )
    assert len(kept) == _lcs(old_lines, new_lines), (
        "git's diff of small files is minimal: nothing over-reported"
    )


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


# --------------------------------------------------------------------------- damaged repositories


def _remove_object(repo: Repo, sha: str) -> None:
    (repo.root / ".git" / "objects" / sha[:2] / sha[2:]).unlink()


def test_history_reports_a_missing_blob_and_goes_on(repo: Repo) -> None:
    repo.write("kept.txt", "kept\n")
    repo.write("lost.txt", "lost\n")
    repo.commit("two files")
    _remove_object(repo, _hash(repo.root, "lost\n"))

    result = git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)

    assert [f.path for f in result.files] == ["kept.txt"]
    assert [(e.path, "not in the local object store" in e.message) for e in result.errors] == [
        ("lost.txt", True)
    ]


def test_history_of_a_repository_missing_a_tree_is_a_source_error(repo: Repo) -> None:
    repo.write("dir/a.txt", "a\n")
    repo.commit("one")
    repo.write("dir/b.txt", "b\n")
    repo.commit("two")
    _remove_object(repo, repo.git("rev-parse", "HEAD~1:dir"))

    with pytest.raises(SourceError) as err:
        git.history_files(repo.root, refs=[], ignore=[], max_file_size=CAP)
    assert "git log failed" in err.value.message
