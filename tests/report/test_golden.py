"""Golden files: the exact output of every format over the hand-built sample (review diffs)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clearance.report import Format, render
from report.report_sample import gate_data, scan_data

_SUFFIX = {
    Format.console: "txt",
    Format.json: "json",
    Format.sarif: "sarif",
    Format.markdown: "md",
    Format.junit: "xml",
}


@pytest.mark.parametrize("fmt", list(Format))
def test_gate_report_matches_golden(fmt: Format, golden: Callable[[str, str], None]) -> None:
    golden(f"report-gate.{_SUFFIX[fmt]}", render(fmt, gate_data()))


@pytest.mark.parametrize("fmt", list(Format))
def test_scan_report_matches_golden(fmt: Format, golden: Callable[[str, str], None]) -> None:
    golden(f"report-scan.{_SUFFIX[fmt]}", render(fmt, scan_data()))


@pytest.mark.parametrize("fmt", list(Format))
def test_rendering_is_deterministic(fmt: Format) -> None:
    assert render(fmt, gate_data()) == render(fmt, gate_data())
