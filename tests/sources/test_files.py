"""The working-tree walker: ignore files, limits, symlink safety, odd files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clearance.errors import SourceError
from clearance.sources.files import walk, walk_paths


def _tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def paths(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.path for f in result.files]


def test_gitignore_nested_and_negation(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "*.log\n!keep.log\nbuild/\n",
            "a.log": "x",
            "keep.log": "x",
            "src/app.py": "x",
            "build/out.txt": "x",
            "src/.gitignore": "generated.py\n",
            "src/generated.py": "x",
            "generated.py": "x",
        },
    )
    assert paths(walk(tmp_path, max_file_size=1000)) == [
        ".gitignore",
        "generated.py",
        "keep.log",
        "src/.gitignore",
        "src/app.py",
    ]


def test_clearanceignore_and_config_ignore(tmp_path: Path) -> None:
    _tree(tmp_path, {".clearanceignore": "vendor/\n", "vendor/lib.js": "x", "docs/a.md": "x", "main.go": "x"})
    result = walk(tmp_path, ignore=["docs/**"], max_file_size=1000)
    assert paths(result) == [".clearanceignore", "main.go"]


def test_git_dir_never_entered(tmp_path: Path) -> None:
    _tree(tmp_path, {".git/config": "x", "a.txt": "x"})
    assert paths(walk(tmp_path, max_file_size=1000)) == ["a.txt"]


def test_size_cap_is_counted_and_reported(tmp_path: Path) -> None:
    _tree(tmp_path, {"big.txt": "x" * 2000, "small.txt": "x"})
    result = walk(tmp_path, max_file_size=1000)
    # handed on, marked: the secrets scanner streams it, the pipeline reports it for the others
    assert [(f.path, f.over_cap) for f in result.files] == [("big.txt", True), ("small.txt", False)]
    assert result.skipped == []


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    _tree(outside, {"secret.txt": "x"})
    _tree(root, {"real.txt": "x", "sub/inner.txt": "x"})
    os.symlink(outside / "secret.txt", root / "escape.txt")
    os.symlink(outside, root / "escape-dir")
    os.symlink(root / "missing", root / "dangling")
    os.symlink(root / "real.txt", root / "alias.txt")
    os.symlink(root, root / "sub" / "loop")
    result = walk(root, max_file_size=1000)
    assert paths(result) == ["real.txt", "sub/inner.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["escape.txt"].startswith("symlink pointing outside")
    assert reasons["escape-dir"].startswith("symlink pointing outside")
    assert reasons["dangling"] == "broken symlink"
    assert reasons["alias.txt"].startswith("symlink (not followed")
    assert reasons["sub/loop"].startswith("symlink (not followed")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read everything")
def test_unreadable_directory_is_an_error(tmp_path: Path) -> None:
    _tree(tmp_path, {"locked/a.txt": "x", "ok.txt": "x"})
    (tmp_path / "locked").chmod(0)
    try:
        result = walk(tmp_path, max_file_size=1000)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert paths(result) == ["ok.txt"]
    assert result.errors and result.errors[0].path == "locked"


def test_fifo_is_skipped_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    result = walk(tmp_path, max_file_size=1000)
    assert [(s.path, s.reason) for s in result.skipped] == [("pipe", "not a regular file")]


def test_single_file_target(tmp_path: Path) -> None:
    _tree(tmp_path, {"one.py": "x"})
    assert paths(walk(tmp_path / "one.py", max_file_size=10)) == ["one.py"]


def test_missing_target_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        walk(tmp_path / "nope", max_file_size=10)


def test_walk_paths_honours_ignores_and_rejects_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, {".clearanceignore": "*.min.js\n", "a.py": "x", "b.min.js": "x", "sub/c.py": "x"})
    monkeypatch.chdir(tmp_path)
    result = walk_paths(
        tmp_path, [Path("a.py"), Path("b.min.js"), Path("sub"), Path("/etc/hostname")], max_file_size=1000
    )
    assert paths(result) == ["a.py", "sub/c.py"]
    assert [e.path for e in result.errors] == ["/etc/hostname"]


def test_odd_file_names(tmp_path: Path) -> None:
    _tree(tmp_path, {"spaces in name.txt": "x", "ünïcødé.py": "x", "new\nline.txt": "x"})
    assert sorted(paths(walk(tmp_path, max_file_size=1000))) == [
        "new\nline.txt",
        "spaces in name.txt",
        "ünïcødé.py",
    ]
