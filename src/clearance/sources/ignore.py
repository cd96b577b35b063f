"""Ignore rules shared by every source: gitignore semantics (via `pathspec`) for `.gitignore`,
`.clearanceignore` and the configured `ignore` globs.

A pattern that cannot be compiled (e.g. too long for the matcher) is left out with a warning:
the scan then covers *more* files, never fewer, so it stays complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from clearance.globs import path_glob
from clearance.model import ScanError

__all__ = ["IgnoreRules", "compile_rules", "is_ignored", "path_glob", "read_rules"]

IGNORE_FILES = (".gitignore", ".clearanceignore")
MAX_PATTERN_CHARS = 4096
MAX_FAST_PATTERNS = 1000


HYPERSCAN_AFTER = 100_000
"""Pattern checks (files checked × patterns) after which a rule set moves to Hyperscan.

Hyperscan compiles a set in tens of milliseconds (every ignore file in a tree costs that, on every
run) and then checks a path against all its patterns in one pass; the plain-regex backend
compiles in microseconds and costs ~0.3 µs per pattern per path. A set starts on the plain
backend and moves once its checks would have paid for the compile: a 148-line `.gitignore` after
~700 paths, a 5-line one after 20,000. Both backends implement the same gitignore semantics."""


class _Matcher:
    """A gitignore pattern set that starts on the plain-regex backend and moves to Hyperscan
    (`HYPERSCAN_AFTER`) when it is used enough; a set Hyperscan refuses stays plain."""

    __slots__ = ("_budget", "_lines", "_spec")

    def __init__(self, lines: list[str], spec: pathspec.PathSpec[Any], upgrade: bool) -> None:
        self._lines = lines
        self._spec = spec
        patterns = sum(1 for p in spec.patterns if getattr(p, "include", None) is not None)
        self._budget = HYPERSCAN_AFTER // max(patterns, 1) if upgrade else -1

    def check_file(self, path: str) -> Any:
        """pathspec's `CheckResult` for `path` (its `include`: True, False, or None if no pattern matched)."""
        if self._budget > 0:
            self._budget -= 1
            if self._budget == 0:
                self._upgrade()
        return self._spec.check_file(path)

    def _upgrade(self) -> None:
        try:
            self._spec = pathspec.GitIgnoreSpec.from_lines(self._lines, backend=None)
        except Exception:  # Hyperscan refuses a pattern: the plain backend keeps answering the same
            pass
        finally:
            self._lines = []


@dataclass(frozen=True)
class IgnoreRules:
    """Compiled patterns and the directory (repo-relative, '' for the root) they are relative to."""

    base: str
    spec: _Matcher


def compile_rules(base: str, lines: Iterable[str], origin: str, warnings: list[str]) -> IgnoreRules | None:
    """Compile gitignore-style lines; unusable patterns are dropped with a warning naming `origin`."""
    kept = []
    for n, line in enumerate(lines, start=1):
        if len(line) > MAX_PATTERN_CHARS:
            warnings.append(
                f"{origin}:{n}: ignore pattern longer than {MAX_PATTERN_CHARS} characters not used"
            )
            continue
        kept.append(line)
    if not any(line.strip() and not line.lstrip().startswith("#") for line in kept):
        return None
    # Plain regexes first (see `HYPERSCAN_AFTER`); Hyperscan compiles large sets very slowly
    # (10,000 lines: ~18 s), so a set above `MAX_FAST_PATTERNS` never moves to it.
    upgrade = len(kept) <= MAX_FAST_PATTERNS
    try:
        return IgnoreRules(
            base, _Matcher(kept, pathspec.GitIgnoreSpec.from_lines(kept, backend="simple"), upgrade)
        )
    except Exception as e:  # a pattern the plain backend refuses: try Hyperscan, then warn and scan more
        problem: Exception = e
    if upgrade:
        try:
            return IgnoreRules(
                base, _Matcher(kept, pathspec.GitIgnoreSpec.from_lines(kept, backend=None), False)
            )
        except Exception as e:
            problem = e
    warnings.append(f"{origin}: ignore patterns not used ({type(problem).__name__}: {problem})")
    return None


def read_rules(
    path: Path, base: str, rel: str, errors: list[ScanError], warnings: list[str]
) -> IgnoreRules | None:
    """Read and compile one ignore file (missing → None; unreadable → an error entry)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as e:
        errors.append(ScanError(path=rel, message=f"cannot read ignore file: {e.strerror}"))
        return None
    return compile_rules(base, text.splitlines(), rel, warnings)


def is_ignored(rules: Sequence[IgnoreRules], path: str, *, is_dir: bool) -> bool:
    """Whether `path` is ignored; later rule sets (deeper directories) override earlier ones."""
    ignored = False
    for r in rules:
        if r.base:
            if not path.startswith(r.base + "/"):
                continue
            sub = path[len(r.base) + 1 :]
        else:
            sub = path
        result = r.spec.check_file(sub + "/" if is_dir else sub)
        if result.include is not None:
            ignored = result.include
    return ignored
