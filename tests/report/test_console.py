"""Console: a table grouped by severity, a one-line verdict, colour only on a terminal."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console

from clearance.model import Action, Verdict
from clearance.report import Format, render, render_console
from clearance.report import console as console_report
from report.report_sample import DECISION, INFO, RESULT, SECRET, VULN, gate_data, scan_data


def test_plain_text_has_no_control_codes() -> None:
    text = render(Format.console, gate_data())
    assert "\x1b" not in text
    assert text.splitlines()[-1].strip().startswith("BLOCKED")


def test_terminal_console_gets_colour_and_a_pipe_does_not() -> None:
    tty = io.StringIO()
    render_console(gate_data(), Console(file=tty, force_terminal=True, color_system="standard", width=120))
    assert "\x1b[" in tty.getvalue()
    pipe = io.StringIO()
    render_console(gate_data(), Console(file=pipe, width=120))
    assert "\x1b" not in pipe.getvalue()


def test_grouped_by_severity_most_severe_first() -> None:
    text = render(Format.console, gate_data(verbose=True))
    rows = [
        line.split()[0]
        for line in text.splitlines()
        if line.split() and line.split()[0] in {"critical", "high", "medium", "info"}
    ]
    assert rows == ["critical", "high", "high", "medium", "info"]


def test_info_findings_only_with_verbose() -> None:
    assert INFO.rule_id not in render(Format.console, gate_data())
    assert INFO.rule_id in render(Format.console, gate_data(verbose=True))


def test_counts_errors_and_warnings_are_shown() -> None:
    text = render(Format.console, gate_data())
    assert "148 files scanned (823.2 kB), 2 skipped (1 binary, 1 larger than 5 MB), 1 error" in text
    assert "error: infra/broken.tf (iac): HCL parse error" in text
    assert "warning: advisory database is 9 days old" in text


def test_markup_in_findings_is_printed_literally() -> None:
    odd = dataclasses.replace(
        SECRET,
        title="[bold]not markup[/bold]",
        location=dataclasses.replace(SECRET.location, path="[red]x.py"),
    )
    text = render(Format.console, gate_data(result=dataclasses.replace(RESULT, findings=(odd,))))
    assert "[bold]not markup[/bold]" in text and "[red]x.py:12" in text


def test_scan_without_decision_says_so() -> None:
    last = render(Format.console, scan_data()).splitlines()[-1]
    assert last.strip().startswith("INCOMPLETE") and "no policy decision" in last
    clean = dataclasses.replace(RESULT, errors=(), runs=RESULT.runs[:2])
    data = dataclasses.replace(scan_data(), result=clean)
    assert render(Format.console, data).splitlines()[-1].strip().startswith("SCANNED")


def test_long_tables_are_capped_but_every_blocking_finding_is_detailed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console_report, "MAX_TABLE_ROWS", 10)
    findings = tuple(
        dataclasses.replace(
            SECRET, fingerprint=f"{i:032x}", location=dataclasses.replace(SECRET.location, path=f"f{i}.py")
        )
        for i in range(15)
    )
    verdicts = {f.fingerprint: Verdict(f.fingerprint, Action.BLOCK, "r", "m") for f in findings}
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=findings),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
    )
    text = render(Format.console, data)
    assert "… and 5 more in the table" in text
    assert text.count("✗ f") == 15
    assert "more in the table" not in render(Format.console, dataclasses.replace(data, verbose=True))


def test_excepted_findings_are_listed_with_their_exception() -> None:
    why = "excepted by EXC-7 (owner team-shop, expires 2026-12-01): accepted until the bucket moves"
    verdicts = {
        **DECISION.verdicts,
        VULN.fingerprint: Verdict(VULN.fingerprint, Action.EXCEPTED, "default", why, "EXC-7"),
    }
    text = render(Format.console, gate_data(decision=dataclasses.replace(DECISION, verdicts=verdicts)))
    assert "Excepted findings (1)" in text
    assert f"requirements.txt:4  {VULN.rule_id} (high): default: {why}; exception EXC-7" in text
