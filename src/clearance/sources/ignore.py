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


@dataclass(frozen=True)
class IgnoreRules:
    """Compiled patterns and the directory (repo-relative, '' for the root) they are relative to."""

    base: str
    spec: pathspec.PathSpec[Any]


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
    # pathspec's default (Hyperscan) backend matches fast but compiles large sets very slowly
    # (10,000 lines: ~18 s) and refuses some patterns; the plain-regex backend is the fallback.
    backends = ("simple",) if len(kept) > MAX_FAST_PATTERNS else (None, "simple")
    problem: Exception | None = None
    for backend in backends:
        try:
            return IgnoreRules(base, pathspec.GitIgnoreSpec.from_lines(kept, backend=backend))
        except Exception as e:  # a backend refuses a pattern: try the next, then warn and scan more
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
