"""Reports: one renderer per output format, chosen through the `Format` enum.

A new format is one module plus one enum member and one `case` in `render()`; the
`assert_never` makes a forgotten member a type error, and a test renders every member.
"""

from __future__ import annotations

import enum
from typing import assert_never

from clearance.report.base import ReportData
from clearance.report.console import render_console, render_console_text

__all__ = ["Format", "ReportData", "render", "render_console"]


class Format(str, enum.Enum):
    """The output formats `--format` and `--output FORMAT:FILE` accept."""

    console = "console"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"
    junit = "junit"


def render(fmt: Format, data: ReportData) -> str:
    """Render a report as text (console → plain text without colour, for files)."""
    match fmt:
        case Format.console:
            return render_console_text(data)
        # Each renderer loads when asked for: a run prints one or two formats, not all five.
        case Format.json:
            from clearance.report.json import render_json

            return render_json(data)
        case Format.sarif:
            from clearance.report.sarif import render_sarif

            return render_sarif(data)
        case Format.markdown:
            from clearance.report.markdown import render_markdown

            return render_markdown(data)
        case Format.junit:
            from clearance.report.junit import render_junit

            return render_junit(data)
        case _:
            assert_never(fmt)
