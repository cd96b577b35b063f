"""Inline suppressions, shared by every scanner.

A suppression is a comment containing the marker ``clearance:ignore``. The parser only
searches for the marker, so it works in any comment syntax (``#``, ``//``, ``--``, ``;``,
``/* */``, ``<!-- -->``)::

    token = "…"  # clearance:ignore[secret.github-pat, secret.generic-assignment] rotated, test-only
    # clearance:ignore[iac.aws-s3-public-access] reason="static website" until=2027-01-31
    # clearance:ignore[*] vendored file
    # clearance:ignore generated code

- The bracket lists rule ids separated by commas; an entry ending in ``*`` is a prefix
  (``secret.*``). ``[*]`` or no bracket at all means *every* rule.
- The reason is either ``reason="…"`` or, when no ``reason=`` is given, the free text after
  the bracket (without ``until=…`` and trailing comment closers such as ``-->`` or ``*/``).
- ``until=YYYY-MM-DD`` makes the suppression expire: it holds through that day (UTC) and
  stops suppressing afterwards; the finding then carries a note "suppression expired on …".
- A suppression applies to findings on its own line and on the line directly after it.
- A reason is required: a bare ``clearance:ignore`` does not apply, and the finding carries a
  note saying why (so does an expired or unreadable ``until=``). The policy may also refuse
  inline suppression for some kinds or severities (``[policy.inline_suppression]``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clearance.model import Suppression

MARKER = "clearance:ignore"
_MARKER_BYTES = MARKER.encode()

_SUPPRESSION_RE = re.compile(
    r"clearance:ignore(?:\[(?P<rules>[^\]\n]*)\])?(?P<rest>[^\n]*)",
)
_REASON_RE = re.compile(r"""\breason\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>\S+))""")
_UNTIL_RE = re.compile(r"\buntil\s*=\s*[\"']?(?P<date>[^\s\"']+)[\"']?")
_COMMENT_CLOSERS = ("-->", "*/", "--}}", "#}", "%>", "*)")


@dataclass(frozen=True, slots=True)
class InlineSuppression:
    """One parsed ``clearance:ignore`` comment."""

    line: int
    """1-based line the comment is on."""
    rules: tuple[str, ...] | None
    """Rule ids (or ``prefix*`` patterns) it names; None = every rule."""
    reason: str
    until: dt.date | None = None
    invalid_until: str | None = None
    """The raw `until=` text if it was not a valid ISO date (the suppression then never holds)."""

    def covers(self, rule_id: str) -> bool:
        """True if this suppression names `rule_id` (or names every rule)."""
        if self.rules is None:
            return True
        for pattern in self.rules:
            if pattern.endswith("*"):
                if rule_id.startswith(pattern[:-1]):
                    return True
            elif pattern == rule_id:
                return True
        return False


def find_suppressions(text: str | bytes) -> dict[int, list[InlineSuppression]]:
    """Every inline suppression in `text`, keyed by 1-based line number.

    Accepts bytes (decoded leniently) so scanners can call it on raw file content; the
    cheap marker test runs first, so files without suppressions cost one substring search.
    """
    if isinstance(text, bytes):
        if _MARKER_BYTES not in text:
            return {}
        text = text.decode("utf-8", "replace")
    elif MARKER not in text:
        return {}
    found: dict[int, list[InlineSuppression]] = {}
    line = 1
    last = 0
    for m in _SUPPRESSION_RE.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        found.setdefault(line, []).append(_parse(line, m.group("rules"), m.group("rest")))
    return found


def suppression_for(
    rule_id: str,
    line: int | None,
    suppressions: Mapping[int, Sequence[InlineSuppression]],
    now: dt.datetime,
    path: str = "",
) -> tuple[Suppression | None, str | None]:
    """The suppression that applies to a finding of `rule_id` on `line`, or an expiry note.

    Looks at suppressions on the same line and on the line before. Returns
    ``(Suppression, None)`` when one holds, ``(None, note)`` when the only matching ones give
    no reason, have expired or carry an unreadable date, else ``(None, None)``.
    """
    if line is None or not suppressions:
        return None, None
    note: str | None = None
    for at in (line, line - 1):
        for sup in suppressions.get(at, ()):
            if not sup.covers(rule_id):
                continue
            if sup.invalid_until is not None:
                note = note or f"suppression on line {at} ignored: invalid until date {sup.invalid_until!r}"
                continue
            if not sup.reason:
                note = note or (
                    f"suppression on line {at} ignored: it gives no reason "
                    f'(write `{MARKER}[{rule_id}] reason="why this is safe"`)'
                )
                continue
            if sup.until is not None and now.astimezone(dt.UTC).date() > sup.until:
                note = note or f"suppression expired on {sup.until.isoformat()}"
                continue
            source = f"inline:{path}:{at}" if path else f"inline:{at}"
            expires = sup.until.isoformat() if sup.until is not None else None
            return Suppression(reason=sup.reason, source=source, expires=expires), None
    return None, note


def _parse(line: int, rules_text: str | None, rest: str) -> InlineSuppression:
    rules: tuple[str, ...] | None = None
    if rules_text is not None:
        names = tuple(r.strip() for r in rules_text.split(",") if r.strip())
        rules = None if not names or "*" in names else names
    until: dt.date | None = None
    invalid: str | None = None
    um = _UNTIL_RE.search(rest)
    if um:
        try:
            until = dt.date.fromisoformat(um.group("date"))
        except ValueError:
            invalid = um.group("date")[:40]
    rm = _REASON_RE.search(rest)
    if rm:
        reason = rm.group("dq") if rm.group("dq") is not None else rm.group("sq") or rm.group("bare") or ""
    else:
        reason = _UNTIL_RE.sub("", rest)
    return InlineSuppression(
        line=line, rules=rules, reason=_clean(reason), until=until, invalid_until=invalid
    )


def _clean(reason: str) -> str:
    text = reason.strip().lstrip(":-—– ").strip()
    changed = True
    while changed and text:
        changed = False
        for closer in _COMMENT_CLOSERS:
            if text.endswith(closer):
                text = text[: -len(closer)].rstrip()
                changed = True
    return " ".join(text.split())
