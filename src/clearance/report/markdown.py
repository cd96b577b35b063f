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
from urllib.parse import quote

from clearance.model import Action, Finding
from clearance.report.base import (
    ReportData,
    action_counts,
    commit_of,
    exception_command,
    headline,
    human_bytes,
    is_blocking,
    is_quiet,
    ordered,
    owner_of,
    remediation_of,
    repository_url,
    skipped_by_reason,
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
    head = _head(data)
    tail = _tail(data)
    budget = max_chars - len(head) - len(tail)
    findings = ordered(data.result.findings)
    shown = [f for f in findings if data.verbose or not is_quiet(data, f)]
    hidden = len(findings) - len(shown)
    body: list[str] = []
    if data.decision is None:
        body.append(_table("Findings", shown, _FINDING_COLUMNS, _finding_row, data, budget, folded=False))
    else:
        blocking = [f for f in shown if is_blocking(data, f)]
        warnings = [f for f in shown if action_of_is(data, f, Action.WARN)]
        others = [f for f in shown if not is_blocking(data, f) and not action_of_is(data, f, Action.WARN)]
        section = _table(
            "Blocking findings", blocking, _BLOCK_COLUMNS, _blocking_row, data, budget, folded=False
        )
        body.append(section)
        budget -= len(section)
        section = _table("Warnings", warnings, _OTHER_COLUMNS, _other_row, data, budget, folded=True)
        body.append(section)
        budget -= len(section)
        body.append(
            _table(
                "Excepted, suppressed and passed",
                others,
                _OTHER_COLUMNS,
                _other_row,
                data,
                budget,
                folded=True,
            )
        )
    if hidden:
        body.append(f"{hidden} informational or ignored finding(s) not shown (use `--verbose`).\n\n")
    return head + "".join(body) + tail


def action_of_is(data: ReportData, finding: Finding, action: Action) -> bool:
    """True if the decision gave `finding` exactly `action`."""
    verdict = verdict_of(data, finding)
    return verdict is not None and verdict.action is action


# --- header and footer -------------------------------------------------------------


def _head(data: ReportData) -> str:
    result = data.result
    lines = [f"## clearance: {headline(data)}", ""]
    counts = action_counts(data)
    if counts is not None:
        parts = [f"**{counts['block']} blocking**", f"{counts['warn']} warning(s)"]
        parts += [f"{counts[a]} {a}" for a in ("excepted", "pass", "ignore") if counts[a]]
    else:
        parts = [f"**{len(result.findings)} finding(s)**"]
    scanned = f"{result.files_scanned} files scanned ({human_bytes(result.bytes_scanned)})"
    parts += [scanned, f"{len(result.skipped)} skipped", f"{len(result.errors)} error(s)"]
    lines.append(" · ".join(parts))
    if data.decision is not None:
        lines.append("")
        lines.append(f"Policy `{_code_text(data.decision.policy)}`")
        lines.extend(f"- {_text(r)}" for r in data.decision.reasons[:_LIST_MAX])
        if len(data.decision.reasons) > _LIST_MAX:
            lines.append(f"- … and {len(data.decision.reasons) - _LIST_MAX} more")
    if not result.complete:
        lines += ["", "**Scan incomplete:** some files or scanners could not be read; see below."]
    return "\n".join(lines) + "\n\n"


def _tail(data: ReportData) -> str:
    result = data.result
    lines: list[str] = []
    if result.warnings:
        lines += ["### Notices", ""]
        lines += [f"- {_text(w)}" for w in result.warnings[:_LIST_MAX]]
        if len(result.warnings) > _LIST_MAX:
            lines.append(f"- … and {len(result.warnings) - _LIST_MAX} more")
        lines.append("")
    if result.errors:
        lines += [f"### Could not scan ({len(result.errors)})", ""]
        lines += [
            f"- {_code(e.path)} ({_text(e.scanner)}): {_text(e.message)}" for e in result.errors[:_LIST_MAX]
        ]
        if len(result.errors) > _LIST_MAX:
            lines.append(f"- … and {len(result.errors) - _LIST_MAX} more (see the JSON report)")
        lines.append("")
    reasons = skipped_by_reason(data)
    if reasons:
        detail = ", ".join(f"{n} {_text(reason)}" for reason, n in reasons.items())
        lines += [f"Skipped {len(result.skipped)} file(s): {detail}.", ""]
    lines.append(f"<sub>clearance {_text(data.tool_version)} · target {_code(result.target.path)}</sub>")
    return "\n".join(lines) + "\n"


# --- tables --------------------------------------------------------------------------

RowFn = Callable[[ReportData, Finding], list[str]]

_FINDING_COLUMNS = ("Where", "Rule", "Severity", "Evidence", "How to fix")
_BLOCK_COLUMNS = ("Where", "Rule", "Severity", "Evidence", "Why it blocks", "How to fix")
_OTHER_COLUMNS = ("Where", "Rule", "Severity", "Evidence", "Verdict")


def _table(
    title: str,
    findings: Sequence[Finding],
    columns: Sequence[str],
    row: RowFn,
    data: ReportData,
    budget: int,
    *,
    folded: bool,
) -> str:
    """A titled table with as many rows as fit in `budget` characters, then a count of the rest."""
    if not findings:
        return "" if folded else f"### {title} (0)\n\nNone.\n\n"
    if folded:
        opening = f"<details><summary>{title} ({len(findings)})</summary>\n\n"
        closing = "</details>\n\n"
    else:
        opening, closing = f"### {title} ({len(findings)})\n\n", ""
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    more_reserve = 80
    room = budget - len(opening) - len(header) - len(closing) - more_reserve - 2
    rows: list[str] = []
    for f in findings:
        line = "| " + " | ".join(row(data, f)) + " |\n"
        if len(line) > room:
            break
        rows.append(line)
        room -= len(line)
    if not rows:
        return (
            f"{opening}{len(findings)} finding(s) not shown: the summary is at its size limit.\n\n{closing}"
        )
    rest = len(findings) - len(rows)
    more = f"\n… and {rest} more not shown (see the JSON or SARIF report).\n" if rest else ""
    return opening + header + "".join(rows) + more + "\n" + closing


def _finding_row(data: ReportData, f: Finding) -> list[str]:
    return [_where(data, f), _rule(f), f.severity.value, _evidence(f), _cell(remediation_of(data, f))]


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
    loc = f.location
    text = _code(loc.display())
    url = repository_url(data)
    commit = commit_of(data, f)
    if url is None or commit is None:
        return text
    anchor = ""
    if loc.start_line:
        anchor = f"#L{loc.start_line}"
        if loc.end_line and loc.end_line > loc.start_line:
            anchor += f"-L{loc.end_line}"
    link = f"{url}/blob/{quote(commit, safe='')}/{quote(loc.path.lstrip('/'), safe='/-._~')}{anchor}"
    return f"[{text}]({link})"


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


def _code(value: str) -> str:
    """An inline code span that survives backticks and pipes in `value` (GFM table rules)."""
    one_line = " ".join(value.split()).replace("|", "\\|")
    if not one_line:
        return ""
    longest = max((len(m) for m in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def _code_text(value: str) -> str:
    """Text placed inside an existing single-backtick span."""
    return " ".join(value.replace("`", "'").split())
