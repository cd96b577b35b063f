"""A deterministic measure of work for tests that guard against blow-ups (no wall-clock asserts).

`calls(fn)` counts every Python and C function call made while `fn` runs (via `sys.setprofile`),
so a quadratic loop or an unbounded expansion shows as a count, the same on a loaded CI machine as
on an idle laptop. Timing belongs in bench/.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


def calls(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Run `fn` and return (number of function calls it made, its result)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        result = fn()
    finally:
        sys.setprofile(previous)
        threading.setprofile(None)  # type: ignore[arg-type]
    return count, result


def assert_linear(run: Callable[[int], Any], n: int, *, slack: float = 2.3) -> None:
    """Doubling the input size (`run(n)` vs `run(2n)`) at most about doubles the calls made."""
    small, _ = calls(lambda: run(n))
    large, _ = calls(lambda: run(2 * n))
    assert large <= slack * small + 1000, f"work grew from {small} to {large} calls when the input doubled"
