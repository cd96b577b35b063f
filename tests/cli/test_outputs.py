"""--format / --output parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.cli.common import OutputTarget, parse_outputs
from clearance.errors import UsageError

KNOWN = {"console", "json", "sarif", "markdown", "junit"}.__contains__


def test_default_is_console_on_stdout() -> None:
    assert parse_outputs(None, [], KNOWN) == [OutputTarget("console", None)]


def test_prefixed_outputs_keep_console_on_stdout() -> None:
    assert parse_outputs(None, ["sarif:out/r.sarif", "markdown:summary.md"], KNOWN) == [
        OutputTarget("console", None),
        OutputTarget("sarif", Path("out/r.sarif")),
        OutputTarget("markdown", Path("summary.md")),
    ]


def test_bare_output_takes_stdout_format() -> None:
    assert parse_outputs("json", ["r.json"], KNOWN) == [OutputTarget("json", Path("r.json"))]
    assert parse_outputs(None, ["r.sarif"], KNOWN) == [OutputTarget("sarif", Path("r.sarif"))]


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_outputs("yaml", [], KNOWN)
    with pytest.raises(UsageError):
        parse_outputs(None, ["results.bin"], KNOWN)
