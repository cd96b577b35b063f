"""Console report: a Rich table grouped by severity, the blocking details, and a one-line verdict.

`render_console` writes to a Rich `Console` (colour only when that console is a terminal);
`render_console_text` returns the same report as plain text for `--output console:FILE`.
User data is always passed as `Text`, never as markup, so `[brackets]` in paths stay literal.
"""

from __future__ import annotations

from io import StringIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clearance.model import Action, Finding, Outcome, Severity, printable
from clearance.report.base import (
    SEVERITY_ORDER,
    ReportData,
    action_of,
    count,
    exception_command,
    headline,
    human_bytes,
    is_blocking,
    is_quiet,
    ordered,
    owner_of,
    remediation_of,
    skipped_by_reason,
    verdict_of,
    why,
)

PLAIN_WIDTH = 120
MAX_TABLE_ROWS = 1000
"""Table rows shown without `verbose` (most severe first); blocking details are always all shown."""

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.UNKNOWN: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}

_ACTION_STYLE = {
    Action.BLOCK: "bold red",
    Action.WARN: "yellow",
    Action.PASS: "green",
    Action.EXCEPTED: "magenta",
    Action.IGNORE: "dim",
}

_OUTCOME_STYLE = {
    Outcome.BLOCK: "bold white on red",
    Outcome.NEEDS_APPROVAL: "bold white on red",
    Outcome.INCOMPLETE: "bold black on yellow",
    Outcome.WARN: "bold black on yellow",
    Outcome.PASS: "bold white on green",
}


def render_console(data: ReportData, console: Console) -> None:
    """Write the report to a Rich console (the terminal, or a file-backed console)."""
    findings = [f for f in ordered(data.result.findings) if data.verbose or not is_quiet(data, f)]
    hidden = len(data.result.findings) - len(findings)
    if findings:
        limit = len(findings) if data.verbose else MAX_TABLE_ROWS
        console.print(_table(data, findings[:limit]))
        if len(findings) > limit:
            console.print(
                Text(f"… and {len(findings) - limit} more in the table (use --verbose, or --format json)")
            )
    else:
        console.print(Text("No findings to show."))
    blocking = [f for f in findings if is_blocking(data, f)]
    if blocking:
        console.print()
        console.print(Text(f"Blocking findings ({len(blocking)})", style="bold"))
        for f in blocking:
            console.print(_blocking_detail(data, f), soft_wrap=True)
    excepted = [f for f in findings if action_of(data, f) is Action.EXCEPTED]
    if excepted:
        console.print()
        console.print(Text(f"Excepted findings ({len(excepted)})", style="bold"))
        for f in excepted:
            line = Text("  ~ ", style="magenta")
            line.append(
                f"{f.location.display()}  {f.rule_id} ({f.severity.value}): {why(verdict_of(data, f))}"
            )
            console.print(line, soft_wrap=True)
    if hidden:
        console.print(
            Text(
                f"{count(hidden, 'informational or ignored finding')} not shown (use --verbose)", style="dim"
            )
        )
    _coverage(data, console)
    console.print(_verdict_line(data), soft_wrap=True)


def render_console_text(data: ReportData) -> str:
    """The console report as plain text without colour or control codes."""
    buffer = StringIO()
    console = Console(
        file=buffer,
        no_color=True,
        width=PLAIN_WIDTH,
        force_terminal=False,
        color_system=None,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    render_console(data, console)
    text = buffer.getvalue()
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _table(data: ReportData, findings: list[Finding]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", overflow="fold")
    table.add_column("Location", overflow="fold")
    table.add_column("Evidence", overflow="fold", max_width=28)
    table.add_column("Verdict", overflow="fold")
    previous: Severity | None = None
    for f in findings:
        if previous is not None and f.severity is not previous:
            table.add_section()
        previous = f.severity
        table.add_row(
            Text(f.severity.value, style=_SEVERITY_STYLE[f.severity]),
            Text(f.rule_id),
            Text(f.location.display()),
            Text(_evidence(f)),
            _verdict_cell(data, f),
        )
    return table


def _evidence(f: Finding) -> str:
    if f.evidence:
        return f.evidence
    if f.component is not None:
        return f"{f.component.name}@{f.component.version}"
    return ""


def _verdict_cell(data: ReportData, f: Finding) -> Text:
    verdict = verdict_of(data, f)
    if verdict is not None:
        return Text(verdict.action.value, style=_ACTION_STYLE[verdict.action])
    if f.suppression is not None:
        return Text("suppressed", style="dim")
    return Text("")


def _blocking_detail(data: ReportData, f: Finding) -> Text:
    text = Text("  ✗ ", style="bold red")
    text.append(f"{f.location.display()}", style="bold")
    text.append(f"  {f.rule_id} ({f.severity.value}) {f.title}")
    if f.evidence:
        text.append(f"\n    evidence: {f.evidence}")
    if f.component is not None:
        text.append(f"\n    component: {f.component.purl}")
    text.append(f"\n    why: {why(verdict_of(data, f))}")
    text.append(f"\n    fix: {remediation_of(data, f)}")
    owner = owner_of(data, f)
    if owner:
        text.append(f"\n    owner: {owner}")
    text.append(f"\n    exception: {exception_command(data, f)}", style="dim")
    return text


def _coverage(data: ReportData, console: Console) -> None:
    result = data.result
    console.print()
    line = Text(f"{count(result.files_scanned, 'file')} scanned ({human_bytes(result.bytes_scanned)})")
    reasons = skipped_by_reason(data)
    if reasons:
        line.append(f", {len(result.skipped)} skipped (")
        line.append(", ".join(f"{n} {reason}" for reason, n in reasons.items()))
        line.append(")")
    else:
        line.append(", 0 skipped")
    line.append(f", {count(len(result.errors), 'error')} in {result.duration_s:.2f}s")
    counts = {s.value: 0 for s in SEVERITY_ORDER}
    for f in result.findings:
        counts[f.severity.value] += 1
    line.append(
        "; findings: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) if result.findings else ""
    )
    console.print(line)
    for e in result.errors:
        console.print(
            Text(f"  error: {printable(e.path)} ({e.scanner}): {printable(e.message)}", style="red")
        )
    for w in result.warnings:
        console.print(Text(f"  warning: {w}", style="yellow"))


def _verdict_line(data: ReportData) -> Text:
    word = headline(data)
    if data.decision is None:
        style = "bold" if data.result.complete else "bold black on yellow"
        detail = f"{count(len(data.result.findings), 'finding')}, no policy decision (clearance scan)"
    else:
        style = _OUTCOME_STYLE[data.decision.outcome]
        c = data.decision.counts()
        detail = f"{c['block']} blocking, {count(c['warn'], 'warning')}, {c['excepted']} excepted · policy {data.decision.policy}"
        if data.decision.reasons:
            detail += " · " + "; ".join(data.decision.reasons)
    text = Text(f" {word} ", style=style)
    text.append(f" {detail}")
    return text
