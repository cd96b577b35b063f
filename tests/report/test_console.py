"""Console: a table grouped by severity, a one-line verdict, colour only on a terminal."""

from __future__ import annotations

import dataclasses
import io
import shlex

from rich.console import Console

from clearance.model import Action, Outcome, ScanError, Severity, Verdict
from clearance.report import Format, render, render_console
from clearance.report import console as console_report
from clearance.report.base import exception_command, exception_template
from report.report_sample import DECISION, INFO, MISCONFIG, RESULT, SECRET, VULN, gate_data, scan_data


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


def test_blocking_before_warnings_most_severe_first() -> None:
    lines = render(Format.console, gate_data(verbose=True)).splitlines()
    marks = [line.split()[1] for line in lines if line.startswith(("✗ ", "! "))]
    assert marks == ["deploy/settings.py:12", "requirements.txt:4", "infra/storage.tf:3"]
    assert lines[0].strip().startswith("BLOCKED"), "the verdict comes first"


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
    text = render(
        Format.console, gate_data(result=dataclasses.replace(RESULT, findings=(odd,)), verbose=True)
    )
    assert "[bold]not markup[/bold]" in text and "[red]x.py:12" in text


def test_scan_without_decision_says_so() -> None:
    last = render(Format.console, scan_data()).splitlines()[-1]
    assert last.strip().startswith("INCOMPLETE") and "no policy decision" in last
    clean = dataclasses.replace(RESULT, errors=(), runs=RESULT.runs[:2])
    data = dataclasses.replace(scan_data(), result=clean)
    assert render(Format.console, data).splitlines()[-1].strip().startswith("SCANNED")


def _narrow(data: object, width: int) -> str:
    buffer = io.StringIO()
    render_console(data, Console(file=buffer, width=width, color_system=None))  # type: ignore[arg-type]
    return buffer.getvalue()


def _many_blocking(n: int) -> object:
    findings = tuple(
        dataclasses.replace(
            SECRET,
            rule_id="secret.aws-secret-access-key-with-a-long-name",
            fingerprint=f"{i:032x}",
            location=dataclasses.replace(
                SECRET.location, path=f"services/payments/settings/production_{i}.py"
            ),
        )
        for i in range(15)
    )
    verdicts = {
        f.fingerprint: Verdict(f.fingerprint, Action.BLOCK, "r", "a long explanation " * 6) for f in findings
    }
    return gate_data(
        result=dataclasses.replace(RESULT, findings=findings),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
    )


def test_every_blocking_finding_gets_a_block_and_identifiers_are_never_broken() -> None:
    data = _many_blocking(15)
    text = _narrow(data, 80)
    assert text.count("✗ services/payments/settings/production_") == 15
    words = set(text.split())
    assert "secret.aws-secret-access-key-with-a-long-name" in words
    assert {f"{i:032x}" for i in range(15)} <= words, "every fingerprint whole on one line"
    assert max(len(line) for line in text.splitlines()) <= 80
    assert " ".join(text.split()).count("a long explanation") == 6, "the same reason is explained once"


def _pasted(text: str, start: str) -> str:
    """The command starting at `start`, joined back from its `\\` continuation lines."""
    lines = []
    for line in text[text.index(start) :].splitlines():
        lines.append(line.strip())
        if not line.endswith("\\"):
            break
    return " ".join(part.removesuffix("\\").strip() for part in lines).removeprefix("$ ")


def test_the_exception_command_pastes_as_one_command_after_wrapping() -> None:
    data = gate_data(context={}, verbose=True)
    pasted = _pasted(_narrow(data, 80), "$ clearance exceptions add --fingerprint " + SECRET.fingerprint)
    assert shlex.split(pasted) == shlex.split(exception_command(data, SECRET))
    assert "--compensating-control" in pasted, "critical findings need a control to be excepted"


def test_the_compact_report_gives_the_exception_command_once_as_a_template() -> None:
    data = gate_data(context={})
    text = _narrow(data, 80)
    assert text.count("clearance exceptions add") == 1
    pasted = _pasted(text, "$ clearance exceptions add --fingerprint FP ")
    assert shlex.split(pasted) == shlex.split(exception_template(data, [SECRET, VULN]))
    assert "--compensating-control" in pasted, "one of them is critical: the template says what it needs"
    words = text.split()
    for finding in (SECRET, VULN):  # each blocking finding carries the fingerprint to put in it
        assert words[words.index(finding.fingerprint) - 1] == "fp"
    without_critical = exception_template(data, [VULN])
    assert "--compensating-control" not in without_critical and "--fingerprint FP" in without_critical


def test_width_is_capped_on_wide_terminals() -> None:
    text = _narrow(_many_blocking(3), 400)
    assert max(len(line) for line in text.splitlines()) <= console_report.MAX_WIDTH


def test_warnings_are_grouped_by_package_unless_verbose() -> None:
    advisories = tuple(
        dataclasses.replace(
            VULN,
            rule_id=f"vuln.GHSA-{i}",
            fingerprint=f"{i:032x}",
            severity=Severity.UNKNOWN if i else Severity.LOW,
            signals={"fix_versions": (f"2.{27 + i}.0", "3.0.0")},
        )
        for i in range(17)
    )
    verdicts = {f.fingerprint: Verdict(f.fingerprint, Action.WARN, "default", "warn") for f in advisories}
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=advisories),
        decision=dataclasses.replace(DECISION, outcome=Outcome.WARN, verdicts=verdicts),
    )
    text = render(Format.console, data)
    assert "! 17 advisories in requirements.txt (16 unknown, 1 low): requests 2.25.0 ×17 → 2.43.0" in text
    assert "vuln.GHSA-3" not in text
    verbose = render(Format.console, dataclasses.replace(data, verbose=True))
    assert all(f"vuln.GHSA-{i} " in verbose for i in range(17))


def test_other_warnings_are_grouped_by_kind_then_file() -> None:
    misconfigs = tuple(
        dataclasses.replace(
            MISCONFIG,
            fingerprint=f"{i:032x}",
            location=dataclasses.replace(MISCONFIG.location, path=f"m{min(i, 2)}.tf", start_line=i + 1),
        )
        for i in range(5)
    )
    verdicts = {f.fingerprint: Verdict(f.fingerprint, Action.WARN, "default", "warn") for f in misconfigs}
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=misconfigs),
        decision=dataclasses.replace(DECISION, outcome=Outcome.WARN, verdicts=verdicts),
    )
    text = " ".join(render(Format.console, data).split())
    assert "! 5 misconfigurations (5 medium): m0.tf:1 iac.aws-s3-public-access, " in text
    assert "m1.tf:2 iac.aws-s3-public-access, m2.tf ×3" in text
    few = dataclasses.replace(data, result=dataclasses.replace(RESULT, findings=misconfigs[:2]))
    assert "m0.tf:1 iac.aws-s3-public-access, m1.tf:2 iac.aws-s3-public-access" in " ".join(
        render(Format.console, few).split()
    )


def test_excepted_findings_are_listed_with_their_exception() -> None:
    why = "excepted by EXC-7 (owner team-shop, expires 2026-12-01): accepted until the bucket moves"
    verdicts = {
        **DECISION.verdicts,
        VULN.fingerprint: Verdict(VULN.fingerprint, Action.EXCEPTED, "default", why, "EXC-7"),
    }
    text = render(Format.console, gate_data(decision=dataclasses.replace(DECISION, verdicts=verdicts)))
    assert "Excepted (1)" in text
    text = " ".join(text.split())
    assert f"requirements.txt:4 {VULN.rule_id} (high): default: {why}; exception EXC-7" in text
    assert "BLOCKED 1 blocking · 1 warning · 1 excepted" in text


def test_inline_suppressions_are_listed_and_counted_in_the_headline() -> None:
    text = render(Format.console, gate_data())
    assert "Suppressed inline (1)" in text
    assert "tests/fixtures/db.env:2  secret.generic-password (high): test fixture database" in text
    assert "1 suppressed inline" in text.splitlines()[0] and "1 suppressed inline" in text.splitlines()[-1]


def test_a_multi_line_error_prints_its_lines_not_an_escape() -> None:
    error = ScanError(
        "db/advisories.sqlite3", "no advisory database at db\n  hint: run `clearance db update`", "deps"
    )
    text = render(Format.console, gate_data(result=dataclasses.replace(RESULT, errors=(error,))))
    assert "\\x0a" not in text
    assert (
        "error: db/advisories.sqlite3 (deps): no advisory database at db\n  hint: run `clearance db update`"
        in text
    )
    hostile = ScanError("x\x1b[2J.py", "bad\x1b[31m", "iac")
    text = render(Format.console, gate_data(result=dataclasses.replace(RESULT, errors=(hostile,))))
    assert "\x1b" not in text and "x\\x1b[2J.py" in text


def test_only_the_markers_are_coloured_not_the_whole_line() -> None:
    tty = io.StringIO()
    render_console(gate_data(), Console(file=tty, force_terminal=True, color_system="standard", width=100))
    line = next(x for x in tty.getvalue().splitlines() if "deploy/settings.py:12" in x and "✗" in x)
    assert line.count("\x1b[") >= 3, "the marker, the location and the severity carry their own styles"
    assert "\x1b[1;31m✗ \x1b[0m" in line
