"""Helpers for the lockfile parser tests: load a scenario fixture as a repo file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clearance.model import Component
from clearance.scanners.deps.lockfiles import LockfileResult, parse
from clearance.sources.base import SourceFile

LOCKFILES = Path(__file__).resolve().parents[3] / "fixtures" / "deps" / "lockfiles"

Row = tuple[str, str, int | None, bool | None, str]
"""(name, version, line, direct, scope) — what the table-driven tests compare."""


def load(fixture: str, as_path: str) -> LockfileResult:
    """Parse the fixture `fixture` (relative to the lockfile fixtures) as if it were at `as_path`."""
    disk = LOCKFILES / fixture
    return parse(SourceFile(path=as_path, size=disk.stat().st_size, disk_path=disk))


def rows(result: LockfileResult) -> list[Row]:
    """The comparable summary of each component, in result order."""
    return [(c.name, c.version, c.location.start_line, c.direct, c.scope.value) for c in result.components]


def by_name(result: LockfileResult, name: str, version: str | None = None) -> Component:
    """The one component called `name` (and `version` when given)."""
    found = [c for c in result.components if c.name == name and (version is None or c.version == version)]
    assert len(found) == 1, f"{name} {version}: {found}"
    return found[0]


@pytest.fixture
def lockfile() -> Callable[[str, str], LockfileResult]:
    """`load` as a fixture."""
    return load


Case = tuple[str, str, list[Row], list[str]]
"""(fixture, path the file has in the repo, expected rows, expected error fragments)."""


def check_case(case: Case) -> LockfileResult:
    """Parse a scenario and compare its rows and errors (each error must contain its fragment)."""
    fixture, as_path, expected, errors = case
    result = load(fixture, as_path)
    assert rows(result) == expected
    messages = [e.message for e in result.errors]
    assert len(messages) == len(errors), messages
    for message, fragment in zip(messages, errors, strict=True):
        assert fragment in message, (fragment, message)
        assert message.startswith(result.format), message
    assert all(e.scanner == "deps" for e in result.errors)
    return result


def case_id(case: Case) -> str:
    """A readable test id: the fixture path."""
    return case[0]
