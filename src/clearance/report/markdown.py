"""Markdown report for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

Verdict first, then the blocking findings (with `path:line` links when the context names
the repository), then warnings folded in `<details>`, then what could not be scanned. The
whole text stays under GitHub's 65,536-character comment limit: rows that do not fit are
counted ("… and N more"), never silently dropped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clearance.model import Action, Finding
from clearance.report.base import (
    ReportData,
    action_counts,
    context_value,
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
    source_link,
    verdict_of,
    why,
)

MAX_CHARS = 65_000
"""Hard ceiling for the whole text (GitHub rejects comments over 65,536 characters)."""

_CELL_MAX = 300
_EVIDENCE_MAX = 80
_LIST_MAX = 20
"""Errors and warnings listed one per line before the rest is counted."""


def render_markdown(data: ReportData, max_chars: int = MAX_CHARS) -> str:
    """The markdown summary, at most `max_chars` characters."""
    findings = ordered(data.result.findings)
    shown = [f for f in findings if not is_quiet(data, f)]
    hidden = len(findings) - len(shown)
    if data.decision is None:
        sections = [_Section("Findings", shown, _FINDING_COLUMNS, _finding_row, folded=False)]
    else:
        warn = [f for f in shown if _has_action(data, f, Action.WARN)]
        sections = [
            _Section(
                "Blocking findings", [f for f in shown if is_blocking(data, f)], _BLOCK_COLUMNS, _blocking_row
            ),
            _Section("Warnings", warn, _OTHER_COLUMNS, _other_row, folded=True),
            _Section(
                "Excepted, suppressed and passed",
                [f for f in shown if not is_blocking(data, f) and not _has_action(data, f, Action.WARN)],
                _OTHER_COLUMNS,
                _other_row,
                folded=True,
            ),
        ]
    note = (
        f"{count(hidden, 'informational or ignored finding')} not shown (use `--verbose`).\n\n"
        if hidden
        else ""
    )
    head, tail = _head(data), _tail(data)
    # Each section may use what is left once every later section has room for its one-line stand-in.
    budget = max_chars - len(head) - len(tail) - len(note)
    reserved = [sum(len(later.stand_in()) for later in sections[i + 1 :]) for i in range(len(sections))]
    body: list[str] = []
    for section, later in zip(sections, reserved, strict=True):
        text = section.render(data, budget - later)
        body.append(text)
        budget -= len(text)
    return head + "".join(body) + note + tail


def _has_action(data: ReportData, finding: Finding, action: Action) -> bool:
    verdict = verdict_of(data, finding)
    return verdict is not None and verdict.action is action


# --- header and footer -------------------------------------------------------------


def _head(data: ReportData) -> str:
    result = data.result
    lines = [f"## clearance: {headline(data)}", ""]
    counts = action_counts(data)
    if counts is not None:
        parts = [f"**{counts['block']} blocking**", count(counts["warn"], "warning")]
        labels = {"excepted": "excepted", "pass": "passed", "ignore": "ignored"}
        parts += [f"{counts[a]} {label}" for a, label in labels.items() if counts[a]]
        suppressed = sum(1 for f in result.findings if f.suppression is not None)
        if suppressed:
            parts.append(f"{suppressed} suppressed inline")
    else:
        parts = [f"**{count(len(result.findings), 'finding')}**"]
    scanned = f"{count(result.files_scanned, 'file')} scanned ({human_bytes(result.bytes_scanned)})"
    parts += [scanned, f"{len(result.skipped)} skipped", count(len(result.errors), "error")]
    lines.append(" · ".join(parts))
    service = _service_line(data)
    if data.decision is not None or service:
        lines.append("")
    if service:
        lines.append(service)
    if data.decision is not None:
        lines.append(f"Policy `{_code_text(data.decision.policy)}`")
        lines.extend(f"- {_cell(r)}" for r in data.decision.reasons[:_LIST_MAX])
        if len(data.decision.reasons) > _LIST_MAX:
            lines.append(f"- … and {len(data.decision.reasons) - _LIST_MAX} more")
    if not result.complete:
        lines += ["", "**Scan incomplete:** some files or scanners could not be read; see below."]
    return "\n".join(lines) + "\n\n"


def _service_line(data: ReportData) -> str:
    """`Service payments · owner @acme/pay · environment prod · exposure internet`, from the context."""
    labels = ("service", "owner", "environment", "exposure")
    parts = [
        f"{label} {_code(value, in_table=False)}" for label in labels if (value := context_value(data, label))
    ]
    if parts:
        parts[0] = parts[0].capitalize()
    return " · ".join(parts)


def _tail(data: ReportData) -> str:
    result = data.result
    lines: list[str] = []
    if result.warnings:
        lines += ["### Notices", ""]
        lines += [f"- {_cell(w)}" for w in result.warnings[:_LIST_MAX]]
        if len(result.warnings) > _LIST_MAX:
            lines.append(f"- … and {len(result.warnings) - _LIST_MAX} more")
        lines.append("")
    if result.errors:
        lines += [f"### Could not scan ({len(result.errors)})", ""]
        lines += [
            f"- {_code(_clip(e.path, _CELL_MAX), in_table=False)} ({_cell(e.scanner)}): {_cell(e.message)}"
            for e in result.errors[:_LIST_MAX]
        ]
        if len(result.errors) > _LIST_MAX:
            lines.append(f"- … and {len(result.errors) - _LIST_MAX} more (see the JSON report)")
        lines.append("")
    reasons = skipped_by_reason(data)
    if reasons:
        detail = ", ".join(f"{n} {_text(reason)}" for reason, n in reasons.items())
        lines += [f"Skipped {count(len(result.skipped), 'file')}: {detail}.", ""]
    footer = [
        f"clearance {_text(data.tool_version)}",
        f"target {_code(_clip(result.target.path, _CELL_MAX), in_table=False)}",
    ]
    run_url = context_value(data, "run_url")
    if run_url and run_url.startswith(("https://", "http://")):
        footer.append(f"[CI run](<{_link_target(run_url)}>)")
    lines.append(f"<sub>{' · '.join(footer)}</sub>")
    return "\n".join(lines) + "\n"


# --- tables --------------------------------------------------------------------------

RowFn = Callable[[ReportData, Finding], list[str]]

_FINDING_COLUMNS = ("Where", "Rule", "Severity", "Evidence", "How to fix")
_BLOCK_COLUMNS = ("Where", "Rule", "Severity", "Evidence", "Why it blocks", "How to fix")
_OTHER_COLUMNS = ("Where", "Rule", "Severity", "Evidence", "Verdict")


@dataclass(frozen=True)
class _Section:
    """A titled table of findings that fits a character budget."""

    title: str
    findings: Sequence[Finding]
    columns: Sequence[str]
    row: RowFn
    folded: bool = False

    def render(self, data: ReportData, budget: int) -> str:
        """As many rows as fit in `budget` characters, then a count of the rest."""
        if not self.findings:
            return self.stand_in()
        opening, closing = self._frame()
        header = "| " + " | ".join(self.columns) + " |\n|" + "---|" * len(self.columns) + "\n"
        room = budget - len(opening) - len(header) - len(closing) - _MORE_RESERVE
        rows: list[str] = []
        for f in self.findings:
            line = "| " + " | ".join(self.row(data, f)) + " |\n"
            if len(line) > room:
                break
            rows.append(line)
            room -= len(line)
        if not rows:
            return self.stand_in()
        rest = len(self.findings) - len(rows)
        more = f"\n… and {rest} more not shown (see the JSON or SARIF report).\n" if rest else ""
        return opening + header + "".join(rows) + more + "\n" + closing

    def stand_in(self) -> str:
        """The section when no row fits (or there are none): its title and count only."""
        if not self.findings:
            return "" if self.folded else f"### {self.title} (0)\n\nNone.\n\n"
        opening, closing = self._frame()
        return f"{opening}{len(self.findings)} not shown: the summary is at its size limit.\n\n{closing}"

    def _frame(self) -> tuple[str, str]:
        if self.folded:
            return f"<details><summary>{self.title} ({len(self.findings)})</summary>\n\n", "</details>\n\n"
        return f"### {self.title} ({len(self.findings)})\n\n", ""


_MORE_RESERVE = 90
"""Room kept for the "… and N more" line."""


def _finding_row(data: ReportData, f: Finding) -> list[str]:
    fix = _cell(remediation_of(data, f))
    if f.suppression is not None:
        fix = f"Suppressed inline: {_cell(f.suppression.reason)}<br>{fix}"
    return [_where(data, f), _rule(f), f.severity.value, _evidence(f), fix]


def _blocking_row(data: ReportData, f: Finding) -> list[str]:
    fix = _cell(remediation_of(data, f))
    owner = owner_of(data, f)
    if owner:
        fix += f"<br>Owner: {_cell(owner)}"
    fix += f"<br>Exception: {_code(exception_command(data, f))}"
    return [_where(data, f), _rule(f), f.severity.value, _evidence(f), _cell(why(verdict_of(data, f))), fix]


def _other_row(data: ReportData, f: Finding) -> list[str]:
    verdict = verdict_of(data, f)
    label = verdict.action.value if verdict is not None else ""
    reason = why(verdict)
    if f.suppression is not None and not reason:
        reason = f"suppressed: {f.suppression.reason}"
    return [
        _where(data, f),
        _rule(f),
        f.severity.value,
        _evidence(f),
        _cell(f"{label}: {reason}" if reason else label),
    ]


def _where(data: ReportData, f: Finding) -> str:
    text = _code(f.location.display())
    link = source_link(data, f)
    return f"[{text}]({_link_target(link)})" if link else text


def _link_target(url: str) -> str:
    return url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20").replace("|", "%7C")


def _rule(f: Finding) -> str:
    text = _code(f.rule_id)
    if f.component is not None:
        text += f"<br>{_code(f'{f.component.name}@{f.component.version}')}"
    return text + f"<br>{_cell(f.title)}"


def _evidence(f: Finding) -> str:
    return _code(_clip(f.evidence, _EVIDENCE_MAX)) if f.evidence else ""


# --- escaping ------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|#!])")


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(value: str) -> str:
    """Plain text safe inside markdown: HTML escaped, markdown punctuation backslash-escaped, one line."""
    one_line = " ".join(value.split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def _cell(value: str) -> str:
    """A table cell's text: like `_text`, clipped."""
    return _text(_clip(" ".join(value.split()), _CELL_MAX))


def _code(value: str, *, in_table: bool = True) -> str:
    """Inline code that survives backticks in `value` and, inside a GFM table, pipes and backslashes.

    GFM splits table cells before parsing inlines, treating `\\x` as one escaped character:
    a backslash right before an escaped pipe would re-expose it, so such values become
    `<code>` with escaped text instead of a code span.
    """
    one_line = " ".join(value.split())
    if not one_line:
        return ""
    if in_table:
        if "\\" in one_line:
            return f"<code>{_text(one_line)}</code>"
        one_line = one_line.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def _code_text(value: str) -> str:
    """Text placed inside an existing single-backtick span."""
    return " ".join(value.replace("`", "'").split())
