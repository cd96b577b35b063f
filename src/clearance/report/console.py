"""Console report, written for the person reading a CI log at 80 columns.

Order: the verdict and the counts first; then the blocking findings under the policy reason
that blocks them (said once per reason), one or two lines each (location, rule, severity,
evidence, the fingerprint), with the one command that excepts a finding given once, as a
template; then the warnings grouped into a line per kind — vulnerabilities by package
("django 3.2.12 ×15 → 4.2.16": advisories and the version that fixes them all), everything
else by file; then what was excepted or suppressed inline; and the verdict again as the last
line (a CI log opens at its end). `verbose` lists every finding with its title, fix and own
exception command instead.

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
from typing import Any

from rich.console import Console
from rich.text import Text

from clearance.model import Action, Finding, FindingKind, Outcome, Severity, printable
from clearance.report.base import (
    SEVERITY_ORDER,
    ReportData,
    action_of,
    count,
    exception_command,
    exception_template,
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
"""Up to this many warnings of one kind (other than vulnerabilities) are named each with its rule;
more are summarised per file."""

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
_BLOCKED_SUMMARY = re.compile(r"^\d+ finding\(s\) blocked by policy: ")
"""The decision's reason that restates the blocking counts (the compact report shows them per rule)."""


def render_console(data: ReportData, console: Console) -> None:
    """Write the report to a Rich console (the terminal, or a file-backed console)."""
    out = _Writer(console, min(console.width, MAX_WIDTH))
    shown = [f for f in ordered(data.result.findings) if not is_quiet(data, f)]
    hidden = len(data.result.findings) - len(shown)
    below = 0
    if data.min_severity is not None:
        floor = data.min_severity
        below = sum(
            1 for f in data.result.findings if not f.severity.at_least(floor) and not is_blocking(data, f)
        )
    quiet = hidden - below  # info or ignored: listed with --verbose
    _header(data, out)
    blocking = [f for f in shown if is_blocking(data, f)]
    if blocking:
        _blocking(data, blocking, out)
    rest = [f for f in shown if not is_blocking(data, f) and not _set_aside(data, f)]
    warnings = [f for f in rest if action_of(data, f) in (Action.WARN, None)]
    if warnings:
        _others(data, "Warnings" if data.decision is not None else "Findings", warnings, out, quiet)
    passed = [f for f in rest if action_of(data, f) not in (Action.WARN, None)]
    if passed:
        _others(data, "Passed by policy", passed, out, 0 if warnings else quiet)
    _set_aside_sections(data, shown, out)
    if not data.result.findings:
        out.blank()
        out.line(Text("No findings."))
    if below and data.min_severity is not None:
        out.line(
            Text(f"{count(below, 'finding')} below {data.min_severity.value} not shown (--min-severity)")
        )
    if data.result.findings and not data.verbose and not (warnings or passed):
        # the section titles point at --verbose; without a list of warnings, say it here
        more = f" (+{quiet} info/ignored)" if quiet else ""
        out.wrapped(Text(f"--verbose lists every finding{more} with fix and exception command", style="dim"))
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
    skipped = skipped_by_reason(data)
    if skipped:
        detail = ", ".join(f"{n} {reason}" for reason, n in skipped.items())
        facts.append(f"{len(result.skipped)} skipped ({detail})")
    else:
        facts.append("0 skipped")
    facts.append(f"{count(len(result.errors), 'error')} in {result.duration_s:.2f}s")
    text = ", ".join(facts)
    reasons: list[str] = []
    if data.decision is not None:
        text += f"; policy {data.decision.policy}"
        reasons = list(data.decision.reasons)
        if not data.verbose:  # the blocking section gives the count per policy rule
            reasons = [r for r in reasons if _BLOCKED_SUMMARY.search(r) is None]
    out.wrapped(Text(text))
    if result.findings:
        c = Counter(f.severity for f in result.findings)
        out.wrapped(Text("findings: " + ", ".join(f"{c[s]} {s.value}" for s in SEVERITY_ORDER if c[s])))
    for reason in reasons:
        out.wrapped(Text(f"policy: {printable(reason)}"))
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
    if not data.verbose:
        _blocking_compact(data, findings, out)
        return
    out.wrapped(Text(f"Blocking ({len(findings)}) — fix each, or except it with its $ command", style="bold"))
    explained: set[str] = set()
    for f in findings:
        first = _finding_head(f, "✗ ", "bold red")
        if evidence := _evidence(f):
            first.append(f"  {evidence}")
        out.wrapped(first)
        out.wrapped(Text(f"{_INDENT}{printable(f.title)}"))
        out.wrapped(Text(f"{_INDENT}why: {_why_once(data, f, explained)}"))
        fix = remediation_of(data, f).strip().splitlines() or [""]
        out.wrapped(Text(f"{_INDENT}fix: {printable(fix[0])}"))
        for line in fix[1:]:
            out.line(Text(f"{_INDENT}     {printable(line)}".rstrip()))
        owner = owner_of(data, f)
        if owner:
            out.wrapped(Text(f"{_INDENT}owner: {printable(owner)}"))
        out.command(exception_command(data, f), prefix=f"{_INDENT}$ ")


def _blocking_compact(data: ReportData, findings: list[Finding], out: _Writer) -> None:
    """The blocking findings under the policy rule that blocks them (its reason said once), one
    or two lines each (where, what, how bad, the evidence, the fingerprint), then the exception
    command once, as a template."""
    out.wrapped(
        Text(f"Blocking ({len(findings)}) — fix each (--verbose: how), or except it by its fp:", style="bold")
    )
    out.command(exception_template(data, findings), prefix="  $ ", style="")
    by_reason: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        verdict = verdict_of(data, f)
        key = (verdict.rule, verdict.message) if verdict is not None else ("", "")
        by_reason.setdefault(key, []).append(f)
    for (rule, message), group in by_reason.items():
        heading = Text.assemble((printable(rule) or "blocked", "bold"), f" ({len(group)})")
        if message:
            heading.append(f": {printable(message)}")
        out.wrapped(heading)
        for f in group:
            pieces = [Text(_evidence(f))] if _evidence(f) else []
            pieces.append(Text.assemble(("fp ", "dim"), f.fingerprint))
            owner = owner_of(data, f)
            if owner:
                pieces.append(Text(f"owner {printable(owner)}"))
            verdict = verdict_of(data, f)
            if verdict is not None and (verdict.exception_id or verdict.notes):
                extra = [f"exception {verdict.exception_id}"] if verdict.exception_id else []
                pieces.append(Text(printable("; ".join([*extra, *verdict.notes]))))
            out.pieces(_finding_head(f, "✗ ", "bold red"), pieces, _INDENT)


def _finding_head(f: Finding, mark: str, style: str) -> Text:
    """`✗ path:line  rule-id  severity`: where, what and how bad, every identifier whole."""
    head = Text.assemble((mark, style))
    head.append(f.location.display(), style="bold")
    head.append(f"  {f.rule_id}  ")
    head.append(f.severity.value, style=_SEVERITY_STYLE[f.severity])
    return head


def _others(data: ReportData, label: str, findings: list[Finding], out: _Writer, quiet: int = 0) -> None:
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
    more = f", +{quiet} info/ignored" if quiet else ""
    out.wrapped(Text(f"{label} ({len(findings)}; --verbose lists each{more})", style="bold"))
    mark = "! " if label == "Warnings" else "- "
    for fam in _families(findings):
        out.items(fam.lead(mark), fam.items(), "    ")


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


_NOUN = {
    FindingKind.SECRET: ("secret", "secrets"),
    FindingKind.VULNERABILITY: ("advisory", "advisories"),
    FindingKind.MISCONFIGURATION: ("misconfiguration", "misconfigurations"),
    FindingKind.IMPORTED: ("imported finding", "imported findings"),
}


@dataclass
class _Family:
    """The non-blocking findings of one kind, summarised on one wrapped line: vulnerabilities by
    package ("django 3.2.12 ×15 → 4.2.16": advisories, and the version that fixes them all),
    everything else by file ("k8s/deployment.yaml ×6"), or by rule and place when there is one."""

    kind: FindingKind
    findings: list[Finding]

    @property
    def worst(self) -> tuple[int, int]:
        return max(f.severity.sort_key() for f in self.findings)

    def lead(self, mark: str) -> Text:
        n = len(self.findings)
        one, many = _NOUN[self.kind]
        text = Text.assemble((mark, "yellow"), (f"{n} {one if n == 1 else many}", "bold"))
        severities = Counter(f.severity for f in self.findings)
        mix = ", ".join(f"{severities[s]} {s.value}" for s in SEVERITY_ORDER if severities[s])
        text.append(f" ({mix})")
        if self.kind is FindingKind.VULNERABILITY:  # where the packages are declared
            packages = _packages(self.findings).values()
            manifests = list(dict.fromkeys(c.location.path for c, _ in packages if c is not None))
            if 1 <= len(manifests) <= 2:
                text = Text.assemble((mark, "yellow"), (f"{n} {one if n == 1 else many}", "bold"))
                text.append(f" in {', '.join(printable(m) for m in manifests)} ({mix})")
        return text.append(": ")

    def items(self) -> list[str]:
        if self.kind is FindingKind.VULNERABILITY:
            out = []
            for (name, version), (_component, found) in _packages(self.findings).items():
                fixed = _fixed_in(found)
                fix = f"→ {fixed}" if fixed else "(no fix)"
                out.append(f"{printable(name)} {printable(version)} ×{len(found)} {fix}")
            return out
        by_file: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_file.setdefault(f.location.path, []).append(f)
        if len(self.findings) <= MAX_LOCATIONS:  # few: each with its rule and line
            return [f"{f.location.display()} {f.rule_id}" for f in self.findings]
        return [
            f"{printable(path)} ×{len(found)}"
            if len(found) > 1
            else f"{found[0].location.display()} {found[0].rule_id}"
            for path, found in by_file.items()
        ]


def _families(findings: Iterable[Finding]) -> list[_Family]:
    """One family per kind of finding, the most severe first, then the largest."""
    families: dict[FindingKind, _Family] = {}
    for f in findings:
        families.setdefault(f.kind, _Family(f.kind, [])).findings.append(f)
    return sorted(families.values(), key=lambda fam: (-fam.worst[0], -fam.worst[1], -len(fam.findings)))


def _packages(findings: Iterable[Finding]) -> dict[tuple[str, str], tuple[Any, list[Finding]]]:
    """Vulnerability findings by (package, version), most findings first; the component with each."""
    by: dict[tuple[str, str], tuple[Any, list[Finding]]] = {}
    for f in findings:
        c = f.component
        key = (c.name, c.version) if c is not None else (f.rule_id, "")
        by.setdefault(key, (c, []))[1].append(f)

    def rank(kv: tuple[tuple[str, str], tuple[Any, list[Finding]]]) -> tuple[int, int, int]:
        worst = max(f.severity.sort_key() for f in kv[1][1])
        return (-worst[0], -worst[1], -len(kv[1][1]))

    return dict(sorted(by.items(), key=rank))


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

    def pieces(self, head: Text, pieces: Sequence[Text], indent: str) -> None:
        """`head`, then each piece after two spaces on the first line it fits on (first pieces
        first: a later piece may go up to a line an earlier, longer one did not fit on); a piece
        is never split unless it is wider than a line on its own, and then only at its spaces."""
        lines = [head.copy()]
        for piece in pieces:
            for line in lines:
                if line.cell_len + 2 + piece.cell_len <= self.width:
                    line.append("  ")
                    line.append_text(piece)
                    break
            else:
                lines.append(Text(indent) + piece)
        for line in lines:
            self.wrapped(line)

    def items(self, lead: Text, items: Sequence[str], indent: str, sep: str = ", ") -> None:
        """`lead` then `items` joined by `sep`, wrapped between items only (each item stays on one
        line unless it is wider than a line on its own)."""
        current = lead.copy()
        for i, item in enumerate(items):
            piece = item + (sep.rstrip() if i < len(items) - 1 else "")
            gap = "" if i == 0 else " "
            if current.cell_len + len(gap) + len(piece) <= self.width or current.plain.strip() == "":
                current.append(gap + piece)
            else:
                self.wrapped(current)
                current = Text(indent + piece)
        self.wrapped(current)

    def command(self, command: str, prefix: str, style: str = "dim") -> None:
        """A shell command, wrapped at spaces with `\\` continuations so it still pastes."""
        words = _shell_words(command)
        indent = " " * (len(prefix) + 4)
        current = prefix + (words[0] if words else "")
        for word in words[1:]:
            if len(current) + 1 + len(word) + 2 > self.width:
                self.line(Text(current + " \\", style=style))
                current = indent + word
            else:
                current = f"{current} {word}"
        self.line(Text(current, style=style))


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
