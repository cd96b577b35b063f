"""Ignore rules: a set starts on the plain-regex backend and moves to Hyperscan once it has been
used enough (`HYPERSCAN_AFTER`); the answers never change with the backend."""

from __future__ import annotations

import pathspec
import pytest

from clearance.sources import ignore
from clearance.sources.ignore import compile_rules, is_ignored

LINES = [
    "# build output",
    "*.pyc",
    "!keep.pyc",
    "/dist/",
    "build/",
    "docs/**/*.tmp",
    "secret[0-9].txt",
    "",
]
PATHS = [  # (path, is a directory)
    ("a.pyc", False),
    ("pkg/keep.pyc", False),
    ("dist", True),
    ("pkg/dist", True),
    ("pkg/build", True),
    ("docs/x/y/z.tmp", False),
    ("docs/z.tmp", False),
    ("secret7.txt", False),
    ("secretX.txt", False),
    ("src/app.py", False),
    ("src/app.pyc", False),
]
IGNORED = [True, False, True, False, True, True, True, True, False, False, True]


def _backend(rules: ignore.IgnoreRules) -> str:
    return type(rules.spec._spec._backend).__name__


def test_a_rule_set_moves_to_hyperscan_after_its_budget_and_answers_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ignore, "HYPERSCAN_AFTER", 6 * 20)  # 6 patterns: 20 checks on the plain backend
    rules = compile_rules("", LINES, ".gitignore", [])
    assert rules is not None and _backend(rules) == "SimpleGiBackend"
    reference = pathspec.GitIgnoreSpec.from_lines(LINES, backend="simple")
    answers = []
    for _ in range(3):
        for path, is_dir in PATHS:
            candidate = path + "/" if is_dir else path
            answers.append(is_ignored([rules], path, is_dir=is_dir))
            assert answers[-1] == bool(reference.check_file(candidate).include), (path, _backend(rules))
    assert _backend(rules) == "HyperscanGiBackend"
    assert answers[: len(PATHS)] == answers[-len(PATHS) :]
    assert answers[: len(PATHS)] == IGNORED


def test_a_small_set_used_a_little_never_pays_the_hyperscan_compile() -> None:
    rules = compile_rules("", LINES, ".gitignore", [])
    assert rules is not None
    for path, is_dir in PATHS * 100:
        is_ignored([rules], path, is_dir=is_dir)
    assert _backend(rules) == "SimpleGiBackend"  # 1,100 checks × 6 patterns < HYPERSCAN_AFTER


def test_a_set_above_the_fast_limit_never_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ignore, "HYPERSCAN_AFTER", 1)
    monkeypatch.setattr(ignore, "MAX_FAST_PATTERNS", 3)
    rules = compile_rules("", LINES, ".gitignore", [])
    assert rules is not None
    for path, is_dir in PATHS:
        is_ignored([rules], path, is_dir=is_dir)
    assert _backend(rules) == "SimpleGiBackend"


def test_patterns_neither_backend_takes_are_left_out_with_a_warning() -> None:
    warnings: list[str] = []
    assert compile_rules("", ["ok.txt", "x" * 5000], ".gitignore", warnings) is not None
    assert warnings == [".gitignore:2: ignore pattern longer than 4096 characters not used"]
