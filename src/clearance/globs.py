"""Single path globs with gitignore semantics (CODEOWNERS entries, exception `path`, high-risk
paths), shared by the source stage (ignore rules) and the policy stage."""

from __future__ import annotations

import functools
import re
from typing import Any

import pathspec


@functools.lru_cache(maxsize=4096)
def path_glob(pattern: str) -> pathspec.PathSpec[Any]:
    """One gitignore-style glob, compiled once. Uses the plain-regex backend: no pattern-length
    limit, no per-pattern database build. Raises ValueError for a pattern that cannot be compiled."""
    try:
        return pathspec.PathSpec.from_lines("gitignore", [pattern], backend="simple")
    except (ValueError, TypeError, re.error) as e:
        raise ValueError(f"invalid path pattern {pattern!r}: {e}") from e
