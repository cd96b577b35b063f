"""Console report, written for the person reading a CI log at 80 columns.

Order: the verdict and the counts first; then every blocking finding as one compact block
(location, rule, severity, evidence, why it blocks, the one command that excepts it); then the
warnings grouped — vulnerabilities by package ("django 3.2.12 — 16 advisories, fixed in
3.2.25"), everything else by rule — unless `verbose`, which lists every finding; then what was
excepted or suppressed inline; then coverage, errors and notices; and the verdict again as the
last line (a CI log opens at its end).

Lines wrap at spaces only: a rule id, a path or a fingerprint is never split. The report uses
the terminal's width up to `MAX_WIDTH`. User data is always passed as `Text`, never as markup,
so `[brackets]` in paths stay literal; colour only when the console is a terminal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import StringIO

from rich.console import Console
from rich.text import Text

from clearance.model import Action, Finding, FindingKind, Outcome, Severity, printable
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

PLAIN_WIDTH = 100
"""Width of the plain-text report written to a file (`--output console:FILE`)."""
MAX_WIDTH = 160
"""Wider terminals still get lines of at most this many columns (long lines are hard to read)."""
MAX_LOCATIONS = 3
"""Locations listed per grouped warning before "+N more"."""

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.UNKNOWN: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}

_OUTCOME_STYLE = {
    Outcome.BLOCK: "bold white on red",
    Outcome.NEEDS_APPROVAL: "bold white on red",
    Outcome.INCOMPLETE: "bold black on yellow",
    Outcome.WARN: "bold black on yellow",
    Outcome.PASS: "bold white on green",
}

_INDENT = "    "


def render_console(data: ReportData, console: Console) -> None:
    """Write the report to a Rich console (the terminal, or a file-backed console)."""
    out = _Writer(console, min(console.width, MAX_WIDTH))
    shown = [f for f in ordered(data.result.findings) if not is_quiet(data, f)]
    hidden = len(data.result.findings) - len(shown)
    _header(data, out)
    blocking = [f for f in shown if is_blocking(data, f)]
    if blocking:
        _blocking(data, blocking, out)
    rest = [f for f in shown if not is_blocking(data, f) and not _set_aside(data, f)]
    warnings = [f for f in rest if action_of(data, f) in (Action.WARN, None)]
    if warnings:
        _others(data, "Warnings" if data.decision is not None else "Findings", warnings, out)
    passed = [f for f in rest if action_of(data, f) not in (Action.WARN, None)]
    if passed:
        _others(data, "Passed by policy", passed, out)
    _set_aside_sections(data, shown, out)
    if not data.result.findings:
        out.blank()
        out.line(Text("No findings."))
    below = 0
    if data.min_severity is not None:
        floor = data.min_severity
        below = sum(
            1 for f in data.result.findings if not f.severity.at_least(floor) and not is_blocking(data, f)
        )
    if hidden - below:
        out.blank()
        out.line(
            Text(
                f"{count(hidden - below, 'informational or ignored finding')} not shown (--verbose shows them)"
            )
        )
    if below and data.min_severity is not None:
        out.line(
            Text(f"{count(below, 'finding')} below {data.min_severity.value} not shown (--min-severity)")
        )
    if shown and not data.verbose:
        out.line(Text("--verbose adds titles, fixes and every warning on its own line", style="dim"))
    out.blank()
    out.line(_verdict_line(data))


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


# --- sections ------------------------------------------------------------------------------


def _header(data: ReportData, out: _Writer) -> None:
    out.line(_verdict_line(data))
    result = data.result
    facts = [f"{count(result.files_scanned, 'file')} scanned ({human_bytes(result.bytes_scanned)})"]
    reasons = skipped_by_reason(data)
    if reasons:
        detail = ", ".join(f"{n} {reason}" for reason, n in reasons.items())
        facts.append(f"{len(result.skipped)} skipped ({detail})")
    else:
        facts.append("0 skipped")
    facts.append(f"{count(len(result.errors), 'error')} in {result.duration_s:.2f}s")
    out.wrapped(Text(", ".join(facts)))
    if result.findings:
        c = Counter(f.severity for f in result.findings)
        out.wrapped(Text("findings: " + ", ".join(f"{c[s]} {s.value}" for s in SEVERITY_ORDER if c[s])))
    if data.decision is not None:
        line = Text(f"policy {data.decision.policy}")
        for reason in data.decision.reasons:
            line.append(f"; {reason}")
        out.wrapped(line)
    for e in result.errors:
        first, *more = e.message.splitlines() or [""]
        out.wrapped(Text(f"error: {printable(e.path)} ({e.scanner}): {printable(first)}", style="red"))
        for extra in more:  # a multi-line message (e.g. its hint) keeps its lines, never a literal \x0a
            out.wrapped(Text(f"  {printable(extra.strip())}", style="red"))
    for w in result.warnings:
        first, *more = w.splitlines() or [""]
        out.wrapped(Text(f"warning: {printable(first)}", style="yellow"))
        for extra in more:
            out.wrapped(Text(f"  {printable(extra.strip())}", style="yellow"))


def _blocking(data: ReportData, findings: list[Finding], out: _Writer) -> None:
    out.blank()
    out.wrapped(Text(f"Blocking ({len(findings)}) — fix each, or except it with its $ command", style="bold"))
    explained: set[str] = set()
    fixes_shown: set[str] = set()
    for f in findings:
        first = Text.assemble(("✗ ", "bold red"))
        first.append(f.location.display(), style="bold")
        first.append(f"  {f.rule_id}  ")
        first.append(f.severity.value, style=_SEVERITY_STYLE[f.severity])
        if evidence := _evidence(f):
            first.append(f"  {evidence}")
        out.wrapped(first)
        if data.verbose:
            out.wrapped(Text(f"{_INDENT}{printable(f.title)}"))
        out.wrapped(Text(f"{_INDENT}why: {_why_once(data, f, explained)}"))
        fix = remediation_of(data, f).strip().splitlines() or [""]
        if data.verbose:
            out.wrapped(Text(f"{_INDENT}fix: {printable(fix[0])}"))
            for line in fix[1:]:
                out.line(Text(f"{_INDENT}     {printable(line)}".rstrip()))
        elif fix[0] not in fixes_shown:  # the same advice once, not once per secret
            fixes_shown.add(fix[0])
            out.wrapped(Text(f"{_INDENT}fix: {printable(fix[0].rstrip(':'))}"))
        owner = owner_of(data, f)
        if owner:
            out.wrapped(Text(f"{_INDENT}owner: {printable(owner)}"))
        out.command(exception_command(data, f), prefix=f"{_INDENT}$ ")


def _others(data: ReportData, label: str, findings: list[Finding], out: _Writer) -> None:
    out.blank()
    if data.verbose:
        out.line(Text(f"{label} ({len(findings)})", style="bold"))
        for f in findings:
            line = Text.assemble(("! " if label == "Warnings" else "- ", "yellow"))
            line.append(f"{f.location.display()}  {f.rule_id}  ")
            line.append(f.severity.value, style=_SEVERITY_STYLE[f.severity])
            if evidence := _evidence(f):
                line.append(f"  {evidence}")
            verdict = verdict_of(data, f)
            if verdict is not None:
                line.append(f" — {verdict.action.value}: {why(verdict)}")
            out.wrapped(line)
        return
    groups = _groups(findings)
    out.line(
        Text(
            f"{label} ({len(findings)}, in {count(len(groups), 'group')}; --verbose lists each)", style="bold"
        )
    )
    for group in groups:
        out.wrapped(group.render("! " if label == "Warnings" else "- "))


def _set_aside(data: ReportData, f: Finding) -> bool:
    return f.suppression is not None or action_of(data, f) is Action.EXCEPTED


def _set_aside_sections(data: ReportData, findings: Sequence[Finding], out: _Writer) -> None:
    excepted = [f for f in findings if action_of(data, f) is Action.EXCEPTED and f.suppression is None]
    if excepted:
        out.blank()
        out.line(Text(f"Excepted ({len(excepted)})", style="bold"))
        for f in excepted:
            line = Text.assemble(("~ ", "magenta"))
            line.append(
                f"{f.location.display()}  {f.rule_id} ({f.severity.value}): {why(verdict_of(data, f))}"
            )
            out.wrapped(line)
    suppressed = [f for f in findings if f.suppression is not None]
    if suppressed:
        out.blank()
        out.line(Text(f"Suppressed inline ({len(suppressed)})", style="bold"))
        for f in suppressed:
            assert f.suppression is not None
            line = Text.assemble(("~ ", "magenta"))
            line.append(
                f"{f.location.display()}  {f.rule_id} ({f.severity.value}): {printable(f.suppression.reason)}"
            )
            if f.suppression.expires:
                line.append(f" (until {f.suppression.expires})")
            out.wrapped(line)


# --- grouping -------------------------------------------------------------------------------


@dataclass
class _Group:
    """Warnings shown as one line: one vulnerable package, or one rule."""

    title: str
    severity: Severity
    findings: list[Finding]
    package: bool

    def render(self, mark: str) -> Text:
        text = Text.assemble((mark, "yellow"))
        text.append(self.title, style="bold")
        n = len(self.findings)
        severities = Counter(f.severity for f in self.findings)
        mix = ", ".join(f"{severities[s]} {s.value}" for s in SEVERITY_ORDER if severities[s])
        if self.package:
            text.append(f" — {count(n, 'advisory').replace('advisorys', 'advisories')} ({mix})")
            fixed = _fixed_in(self.findings)
            text.append(f", fixed in {fixed}" if fixed else ", no fixed version")
            return text
        text.append("  ")
        text.append(self.severity.value, style=_SEVERITY_STYLE[self.severity])
        text.append(f" ×{n}: " if n > 1 else ": ")
        places = list(dict.fromkeys(f.location.display() for f in self.findings))
        text.append(", ".join(places[:MAX_LOCATIONS]))
        if len(places) > MAX_LOCATIONS:
            text.append(f" +{len(places) - MAX_LOCATIONS} more")
        return text


def _groups(findings: Iterable[Finding]) -> list[_Group]:
    """Vulnerabilities by package (and where it is declared), everything else by rule; the most
    severe group first, then by size."""
    groups: dict[tuple[str, ...], _Group] = {}
    for f in findings:
        component = f.component
        if f.kind is FindingKind.VULNERABILITY and component is not None:
            key: tuple[str, ...] = ("pkg", component.name, component.version, component.location.path)
            title = (
                f"{printable(component.name)} {printable(component.version)} ({component.location.display()})"
            )
            package = True
        else:
            key, title, package = ("rule", f.rule_id), f.rule_id, False
        group = groups.setdefault(key, _Group(title, f.severity, [], package))
        group.findings.append(f)
        if f.severity.sort_key() > group.severity.sort_key():
            group.severity = f.severity
    return sorted(
        groups.values(),
        key=lambda g: (-g.severity.sort_key()[0], -g.severity.sort_key()[1], -len(g.findings)),
    )


def _fixed_in(findings: Sequence[Finding]) -> str | None:
    """The lowest version that fixes every advisory of one package, when each advisory names one.

    Per advisory the first fixed version above the installed one counts; the answer is the
    highest of those (in the ecosystem's version order)."""
    component = findings[0].component
    if component is None:
        return None
    from clearance.scanners.vulns.match import sort_versions  # only when vulnerabilities are shown

    needed: list[str] = []
    for f in findings:
        fixes = [str(v) for v in f.signals.fix_versions or ()]
        if not fixes:
            return None
        order = sort_versions(component.ecosystem, [*fixes, component.version])
        later = order[order.index(component.version) + 1 :] if component.version in order else order
        if not later:
            return None
        needed.append(later[0])
    return printable(sort_versions(component.ecosystem, needed)[-1])


# --- pieces ---------------------------------------------------------------------------------


def _evidence(f: Finding) -> str:
    if f.evidence:
        return printable(f.evidence)
    if f.component is not None:
        return printable(f"{f.component.name}@{f.component.version}")
    return ""


def _why_once(data: ReportData, f: Finding, explained: set[str]) -> str:
    """Why a finding blocks: the policy rule with its message the first time, the rule alone after."""
    verdict = verdict_of(data, f)
    if verdict is None:
        return ""
    key = f"{verdict.rule}\x00{verdict.message}"
    if key in explained and verdict.message:
        parts = [f"{verdict.rule} (as above)"]
        if verdict.exception_id:
            parts.append(f"exception {verdict.exception_id}")
        parts.extend(verdict.notes)
        return printable("; ".join(parts))
    explained.add(key)
    return printable(why(verdict))


def _verdict_line(data: ReportData) -> Text:
    word = headline(data)
    if data.decision is None:
        style = "bold" if data.result.complete else "bold black on yellow"
        detail = f"{count(len(data.result.findings), 'finding')}, no policy decision (clearance scan)"
    else:
        style = _OUTCOME_STYLE[data.decision.outcome]
        c = data.decision.counts()
        suppressed = sum(1 for f in data.result.findings if f.suppression is not None)
        detail = (
            f"{c['block']} blocking · {count(c['warn'], 'warning')} · {c['excepted']} excepted · "
            f"{suppressed} suppressed inline"
        )
    text = Text(f" {word} ", style=style)
    text.append(f" {detail}")
    return text


class _Writer:
    """Prints lines no wider than `width`, wrapping at spaces only (identifiers stay whole)."""

    def __init__(self, console: Console, width: int) -> None:
        self.console = console
        self.width = max(width, 40)

    def line(self, text: Text) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def blank(self) -> None:
        self.console.print()

    def wrapped(self, text: Text) -> None:
        """Wrap at spaces; continuation lines are indented under the text."""
        plain = text.plain
        lead = len(plain) - len(plain.lstrip(" "))
        hang = " " * (lead + 2)
        offsets: list[int] = []
        start = 0
        for word in re.finditer(r"\S+", plain):
            limit = self.width - (len(hang) if offsets else 0)
            if word.end() - start > limit and word.start() > start + lead:
                offsets.append(word.start())
                start = word.start()
        for i, part in enumerate(text.divide(offsets)):
            part.rstrip()
            self.line(Text(hang) + part if i else part)

    def command(self, command: str, prefix: str) -> None:
        """A shell command, wrapped at spaces with `\\` continuations so it still pastes."""
        words = _shell_words(command)
        indent = " " * (len(prefix) + 4)
        current = prefix + (words[0] if words else "")
        for word in words[1:]:
            if len(current) + 1 + len(word) + 2 > self.width:
                self.line(Text(current + " \\", style="dim"))
                current = indent + word
            else:
                current = f"{current} {word}"
        self.line(Text(current, style="dim"))


def _shell_words(command: str) -> list[str]:
    """Split a command at spaces outside quotes (quoted arguments stay one word)."""
    words: list[str] = []
    current: list[str] = []
    quote: str | None = None
    escaped = False
    for c in command:
        if escaped:
            current.append(c)
            escaped = False
        elif c == "\\" and not quote:
            current.append(c)
            escaped = True
        elif quote:
            current.append(c)
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            current.append(c)
        elif c == " ":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words
