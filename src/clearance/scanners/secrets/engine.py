"""The detection engine: one Hyperscan database over raw bytes, Python only on candidates.

1. Every rule contributes one Hyperscan expression (its `prefilter`, else its regex; an
   expression Hyperscan cannot compile falls back to prefilter mode, then to the rule's
   keywords). All expressions form ONE database, compiled once per rule-set digest and
   cached on disk.
2. A scan of a file's bytes yields (rule, end offset) candidates. Nearby candidates of one
   rule are merged into windows and the rule's full Python regex confirms them on the
   original buffer (so boundaries and look-behinds see the real context).
3. Confirmed secrets go through filters (allow patterns, placeholders, entropy, generic
   value checks) and validators (checksums, structure), then overlapping findings of
   generic rules yield to specific ones.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hyperscan

from clearance.model import Severity
from clearance.scanners.secrets import filters
from clearance.scanners.secrets.rules import Rule, RuleSet, cache_directory, load_rules
from clearance.scanners.secrets.validators import VALIDATORS

_MODE_PLAIN = "plain"
_MODE_PREFILTER = "prefilter"
_MODE_KEYWORDS = "keywords"
_MAX_EXTEND = 1 << 16
"""How far a match cut by the right edge of its window may be extended."""
_K8S_SECRET_RULE = "secret.kubernetes-secret-data"


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """A confirmed, filtered secret in a buffer. `secret` is raw: never log or store it."""

    rule: Rule
    start: int
    """Byte offset of the secret in the buffer."""
    end: int
    secret: str
    line: int
    column: int
    end_line: int
    severity: Severity
    verified: bool
    confidence: str
    notes: tuple[str, ...] = ()
    key: str | None = None
    decoded: bool = False
    """True if the secret was found inside a base64-decoded value (Kubernetes Secret data)."""

    @property
    def secret_sha256(self) -> str:
        """sha256 of the secret, the only form in which it may be stored."""
        return hashlib.sha256(self.secret.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class _Candidate:
    rule_index: int
    start: int
    end: int
    secret: str
    severity: Severity
    verified: bool
    confidence: str
    notes: tuple[str, ...]
    key: str | None


class Engine:
    """Scans byte buffers for secrets with one Hyperscan database for the whole rule set."""

    def __init__(
        self, ruleset: RuleSet, *, serialized: bytes | None = None, cache_dir: Path | None = None
    ) -> None:
        self.ruleset = ruleset
        self.rules = ruleset.rules
        self._k8s_index = next((i for i, r in enumerate(self.rules) if r.id == _K8S_SECRET_RULE), None)
        self._aws_id_index = self._index_of(_AWS_ID_RULE)
        self._aws_secret_index = self._index_of(_AWS_SECRET_RULE)
        if serialized is not None:
            self._modes, self._db = _load_serialized(serialized)
        else:
            self._modes, self._db = _load_or_compile(self.rules, ruleset.digest, cache_dir)
        self._local = threading.local()

    def _index_of(self, rule_id: str) -> int | None:
        return next((i for i, r in enumerate(self.rules) if r.id == rule_id), None)

    def serialize(self) -> bytes:
        """The compiled database (with its per-rule modes) as bytes, to hand to worker processes."""
        header = json.dumps(self._modes).encode()
        return len(header).to_bytes(4, "big") + header + hyperscan.dumpb(self._db)

    def scan(self, data: bytes, path: str = "") -> list[SecretMatch]:
        """Every secret in `data` (a whole file), sorted by position. `path` tunes the filters."""
        if not data:
            return []
        hits = self._hits(data)
        if not hits:  # most files: no rule's expression matched, so nothing below can find anything
            return []
        candidates = self._candidates(data, path, hits)
        if self._aws_id_index is not None and self._aws_secret_index is not None:
            candidates.extend(self._aws_pairs(data, candidates))
        if self._k8s_index is not None and self._k8s_index in hits and _looks_like_k8s_secret(data):
            entries = list(_k8s_entries(data))
            # The manifest's values are judged decoded; the raw base64 is not a generic secret.
            values = [(offset, offset + len(value)) for _k, value, offset, _e in entries]
            candidates = [
                c
                for c in candidates
                if not (self.rules[c.rule_index].generic and any(lo <= c.start < hi for lo, hi in values))
            ]
            candidates.extend(self._kubernetes_secret(data, entries))
        return self._finish(data, _resolve_overlaps(candidates, self.rules))

    def _hits(self, data: bytes) -> dict[int, list[int]]:
        hits: dict[int, list[int]] = {}

        def on_match(rule_id: int, start: int, end: int, flags: int, context: object) -> None:
            ends = hits.get(rule_id)
            if ends is None:
                hits[rule_id] = [end]
            elif end - ends[-1] > 8:
                ends.append(end)

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._db)
            self._local.scratch = scratch
        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return hits

    def _candidates(self, data: bytes, path: str, hits: dict[int, list[int]]) -> list[_Candidate]:
        # Spans a specific rule's regex matched, kept or not: generic rules must not re-report them.
        claimed: list[tuple[int, int]] = []
        lockfile = filters.is_lockfile(path)
        code_file = filters.is_code_file(path)
        out: list[_Candidate] = []
        for index in sorted(hits):
            rule = self.rules[index]
            if index == self._k8s_index or (lockfile and rule.generic):
                continue
            seen: set[tuple[int, int]] = set()
            for m in _rule_matches(rule, data, sorted(hits[index])):
                span = m.span(rule.secret_group)
                if span[0] < 0 or span in seen:
                    continue
                seen.add(span)
                if not rule.generic:
                    claimed.append(span)
                cand = self._confirm(index, rule, m, data, code_file)
                if cand is not None:
                    out.append(cand)
        if claimed:
            spans = _SpanIndex(claimed)
            out = [
                c for c in out if not self.rules[c.rule_index].generic or not spans.overlaps(c.start, c.end)
            ]
        return out

    def _confirm(
        self,
        index: int,
        rule: Rule,
        m: re.Match[bytes],
        data: bytes,
        code_file: bool,
        *,
        start_override: int | None = None,
    ) -> _Candidate | None:
        raw = m.group(rule.secret_group)
        if not raw:
            return None
        secret = raw.decode("utf-8", "replace")
        if any(a.search(secret) for a in rule.allow):
            return None
        key: str | None = None
        if "key" in rule.pattern.groupindex and m.group("key"):
            key = m.group("key").decode("utf-8", "replace")
        if rule.generic:
            quoted = "q" in rule.pattern.groupindex and bool(m.group("q"))
            floor = max(0, m.start() - 80)
            line_start = data.rfind(b"\n", floor, m.start()) + 1
            before = data[max(line_start, floor) : m.start()].decode("utf-8", "replace")
            if _in_comment_or_doc(before):
                return None
            reason = filters.generic_reason(
                key or "",
                secret,
                quoted=quoted,
                code_file=code_file,
                before=before,
                min_entropy=rule.entropy or 3.0,
            )
            if reason is not None:
                return None
        if "pem-private-key" not in rule.validators and filters.placeholder_reason(secret):
            return None
        if rule.entropy is not None and not rule.generic and filters.shannon_entropy(secret) < rule.entropy:
            return None
        severity = rule.severity
        verified = False
        notes: list[str] = []
        if rule.validators:
            verified = True
            for name in rule.validators:
                result = VALIDATORS[name](secret)
                if not result.valid:
                    verified = False
                    if result.note:
                        notes.append(result.note)
                if result.severity is not None:
                    severity = result.severity
                    if result.note and result.valid:
                        notes.append(result.note)
            if rule.require_valid and not verified:
                return None
        if verified:
            confidence = "high"
        elif rule.generic:
            confidence = "low"
        else:
            confidence = "medium"
        start, end = m.span(rule.secret_group)
        if start_override is not None:
            start, end = start_override, start_override
        return _Candidate(index, start, end, secret, severity, verified, confidence, tuple(notes), key)

    def _aws_pairs(self, data: bytes, candidates: list[_Candidate]) -> list[_Candidate]:
        """Unlabelled AWS secret access keys within a few lines of an access key ID (CSV exports,
        positional arguments, `id:secret` pairs)."""
        assert self._aws_secret_index is not None
        ids = [c for c in candidates if c.rule_index == self._aws_id_index]
        if not ids:
            return []
        taken = {(c.start, c.end) for c in candidates}
        out: list[_Candidate] = []
        for c in ids:
            lo = c.start
            for _ in range(_AWS_PAIR_LINES + 1):
                lo = data.rfind(b"\n", 0, max(lo - 1, 0)) if lo > 0 else -1
                if lo < 0:
                    break
            hi = c.end
            for _ in range(_AWS_PAIR_LINES + 1):
                nxt = data.find(b"\n", hi + 1)
                hi = len(data) if nxt < 0 else nxt
            for m in _AWS_SECRET_SHAPE.finditer(data, max(lo, 0), hi):
                span = m.span(1)
                secret = m.group(1).decode("ascii")
                if span in taken or not _looks_like_aws_secret(secret):
                    continue
                taken.add(span)
                out.append(
                    _Candidate(
                        self._aws_secret_index,
                        span[0],
                        span[1],
                        secret,
                        self.rules[self._aws_secret_index].severity,
                        False,
                        "medium",
                        ("next to an AWS access key ID",),
                        None,
                    )
                )
        return out

    def _kubernetes_secret(
        self, data: bytes, entries: list[tuple[str, bytes, int, bool]]
    ) -> list[_Candidate]:
        """Decode the base64 values of a Kubernetes Secret's `data:` and scan them."""
        assert self._k8s_index is not None
        k8s_rule = self.rules[self._k8s_index]
        out: list[_Candidate] = []
        for key, value, offset, encoded in entries:
            plain = _b64(value) if encoded else value
            if plain is None or not plain.strip():
                continue
            inner_hits = self._hits(plain)
            inner = [
                c for c in self._candidates(plain, "", inner_hits) if not self.rules[c.rule_index].generic
            ]
            for c in inner:
                out.append(
                    _Candidate(
                        c.rule_index,
                        offset,
                        offset + len(value),
                        c.secret,
                        c.severity,
                        c.verified,
                        c.confidence,
                        (*c.notes, "found in a base64-decoded Kubernetes Secret value")
                        if encoded
                        else c.notes,
                        key,
                    )
                )
            if inner:
                continue
            secret = plain.decode("utf-8", "replace").strip()
            if "\n" in secret or filters.placeholder_reason(secret):
                continue
            reason = filters.generic_reason(
                key,
                secret,
                quoted=True,
                code_file=False,
                before="",
                min_entropy=k8s_rule.entropy or 3.0,
                declared_secret=True,
            )
            if reason is not None or (
                not _GENERIC_KEY_RE.search(key) and filters.shannon_entropy(secret) < 3.5
            ):
                continue
            out.append(
                _Candidate(
                    self._k8s_index,
                    offset,
                    offset + len(value),
                    secret,
                    k8s_rule.severity,
                    False,
                    "medium",
                    ("base64-decoded Kubernetes Secret value",) if encoded else (),
                    key,
                )
            )
        return out

    def _finish(self, data: bytes, candidates: list[_Candidate]) -> list[SecretMatch]:
        out: list[SecretMatch] = []
        line = 1
        pos = 0
        line_start = 0
        column = 1  # of `pos`; updated incrementally so long single lines stay linear
        for c in sorted(candidates, key=lambda c: (c.start, c.rule_index)):
            newlines = data.count(b"\n", pos, c.start)
            if newlines:
                line += newlines
                line_start = data.rfind(b"\n", pos, c.start) + 1
                column = len(data[line_start : c.start].decode("utf-8", "replace")) + 1
            else:
                column += len(data[pos : c.start].decode("utf-8", "replace"))
            pos = c.start
            end_line = line + data.count(b"\n", c.start, c.end)
            decoded = any("Kubernetes Secret" in n for n in c.notes) or (
                self.rules[c.rule_index].id == _K8S_SECRET_RULE and bool(c.notes)
            )
            out.append(
                SecretMatch(
                    rule=self.rules[c.rule_index],
                    start=c.start,
                    end=c.end,
                    secret=c.secret,
                    line=line,
                    column=column,
                    end_line=end_line,
                    severity=c.severity,
                    verified=c.verified,
                    confidence=c.confidence,
                    notes=c.notes,
                    key=c.key,
                    decoded=decoded,
                )
            )
        return out


_AWS_ID_RULE = "secret.aws-access-key-id"
_AWS_SECRET_RULE = "secret.aws-secret-access-key"
_AWS_PAIR_LINES = 3
_AWS_SECRET_SHAPE = re.compile(rb"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")


def _looks_like_aws_secret(value: str) -> bool:
    return (
        filters.char_classes(value) >= 3
        and any(c.isdigit() for c in value)
        and filters.shannon_entropy(value) >= 4.2
        and filters.placeholder_reason(value) is None
    )


_GENERIC_KEY_RE = re.compile(r"pass|pwd|secret|token|key|cred|auth|private|cert|conn|dsn|url", re.I)
_COMMENT_DOC_RE = re.compile(r"(?:^|\s)(?:e\.g\.|i\.e\.|for example|such as|like)\s*$", re.I)


def _in_comment_or_doc(before: str) -> bool:
    return bool(_COMMENT_DOC_RE.search(before))


_ASSIGNMENT_VALUE_PREFIX = 8
"""How many value characters an `assignment` rule's Hyperscan expression ends with."""
_KEY_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_OPERATOR_CHARS = frozenset(b":=>|?<-!&, \t\"'`])\\")


def _rule_matches(rule: Rule, data: bytes, ends: list[int]) -> Iterable[re.Match[bytes]]:
    """Full-regex matches of `rule` around the Hyperscan candidate `ends` (sorted)."""
    n = len(data)
    if rule.assignment:
        for end in ends:
            for start in _key_starts(data, end, max(0, end - rule.lookbehind)):
                m = rule.pattern.match(data, start, min(n, end + rule.window))
                if m is not None:
                    yield m
                    break
        return
    for lo, hi in _windows(ends, rule.lookbehind, rule.window, n):
        for m in rule.pattern.finditer(data, lo, hi):
            if m.end() >= hi and hi < n:
                longer = rule.pattern.match(data, m.start(), min(n, m.start() + _MAX_EXTEND))
                m = longer or m
            yield m


_KEY_START_TRIES = 4
"""Word tokens tried, nearest first, as the key before an assignment operator: the nearest one
is the key in `key = value`; the key sits further back behind a type annotation
(`NAME: &'static str = …`) or an XML attribute pair (`key="NAME" value="…"`)."""


def _key_starts(data: bytes, end: int, floor: int) -> Iterable[int]:
    """Candidate starts of the key token before `end`, where the Hyperscan expression ended:
    after the assignment operator and the first `_ASSIGNMENT_VALUE_PREFIX` characters of the
    value. Yields the nearest word first, then up to `_KEY_START_TRIES - 1` words further back."""
    i = end - 1 - _ASSIGNMENT_VALUE_PREFIX
    for _ in range(_KEY_START_TRIES):
        while i >= floor and data[i] in _OPERATOR_CHARS:
            i -= 1
        if i < floor or data[i] not in _KEY_CHARS:
            if i + 1 <= end:
                yield i + 1
            return
        while i >= floor and data[i] in _KEY_CHARS:
            i -= 1
        yield i + 1


def _windows(ends: list[int], behind: int, ahead: int, n: int) -> Iterable[tuple[int, int]]:
    lo = hi = -1
    for e in ends:
        s, t = max(0, e - behind), min(n, e + ahead)
        if lo < 0:
            lo, hi = s, t
        elif s <= hi:
            hi = max(hi, t)
        else:
            yield lo, hi
            lo, hi = s, t
    if lo >= 0:
        yield lo, hi


class _SpanIndex:
    """Sorted spans answering "does [start, end) overlap any of them?" in O(log n)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [s for s, _ in ordered]
        self._max_end: list[int] = []
        best = -1
        for _, e in ordered:
            best = max(best, e)
            self._max_end.append(best)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self._starts, end)  # spans starting before `end`
        return i > 0 and self._max_end[i - 1] > start


def _resolve_overlaps(candidates: list[_Candidate], rules: tuple[Rule, ...]) -> list[_Candidate]:
    """Generic findings yield to specific ones they overlap; identical spans keep the first rule."""
    if len(candidates) < 2:
        return candidates
    specific = _SpanIndex([(c.start, c.end) for c in candidates if not rules[c.rule_index].generic])
    kept: list[_Candidate] = []
    taken: set[tuple[int, int, str]] = set()
    for c in sorted(candidates, key=lambda c: (rules[c.rule_index].generic, c.start, c.rule_index)):
        if rules[c.rule_index].generic and specific.overlaps(c.start, max(c.end, c.start + 1)):
            continue
        ident = (c.start, c.end, c.secret)
        if ident in taken:
            continue
        taken.add(ident)
        kept.append(c)
    return kept


_K8S_KIND_RE = re.compile(rb"""(?m)^\s*["']?kind["']?\s*:\s*["']?Secret\b""")
_K8S_SECTION_RE = re.compile(rb"""^(?P<indent>[ \t]*)["']?(?P<name>data|stringData)["']?\s*:\s*\{?\s*$""")
_K8S_ENTRY_RE = re.compile(
    rb"""^(?P<indent>[ \t]*)["']?(?P<key>[\w.-]+)["']?\s*:\s*(?P<q>["']?)(?P<value>[^"'\s,{}]+)(?P=q)\s*,?\s*$"""
)


def _looks_like_k8s_secret(data: bytes) -> bool:
    return (b"Secret" in data) and _K8S_KIND_RE.search(data) is not None


def _k8s_entries(data: bytes) -> Iterable[tuple[str, bytes, int, bool]]:
    """(key, value, byte offset of value, is-base64) for each `data:`/`stringData:` entry."""
    section: bool | None = None
    indent = -1
    offset = 0
    for raw_line in data.split(b"\n"):
        line_offset = offset
        offset += len(raw_line) + 1
        line = raw_line.rstrip(b"\r")
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        header = _K8S_SECTION_RE.match(line)
        if header:
            section = header.group("name") == b"data"
            indent = len(header.group("indent"))
            continue
        if section is None:
            continue
        current = len(line) - len(line.lstrip())
        if current <= indent or stripped.startswith(b"}"):
            section = None
            continue
        entry = _K8S_ENTRY_RE.match(line)
        if entry:
            yield (
                entry.group("key").decode("utf-8", "replace"),
                entry.group("value"),
                line_offset + entry.start("value"),
                section,
            )


def _b64(value: bytes) -> bytes | None:
    try:
        return base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


# --- Hyperscan database: compile, serialize, cache -------------------------------------------


def _expression(rule: Rule, mode: str) -> tuple[bytes, int]:
    if mode == _MODE_KEYWORDS:
        alternatives = b"|".join(re.escape(k.encode()) for k in rule.keywords)
        return b"(?:" + alternatives + b")", hyperscan.HS_FLAG_CASELESS
    expr = (rule.prefilter or rule.regex).encode()
    flags = hyperscan.HS_FLAG_PREFILTER if mode == _MODE_PREFILTER else 0
    return expr, flags


def _compile(rules: tuple[Rule, ...], modes: list[str]) -> hyperscan.Database:
    exprs: list[bytes] = []
    flags: list[int] = []
    for rule, mode in zip(rules, modes, strict=True):
        e, f = _expression(rule, mode)
        exprs.append(e)
        flags.append(f)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    return db


def compile_database(rules: tuple[Rule, ...]) -> tuple[list[str], hyperscan.Database]:
    """Compile the rules into one database, choosing per rule how Hyperscan handles it."""
    from clearance.scanners.secrets.rules import RuleError

    modes = [_MODE_PLAIN] * len(rules)
    if not rules:
        raise RuleError("no secret rules are enabled", hint="check [secrets] disable in the configuration")
    try:
        return modes, _compile(rules, modes)
    except hyperscan.error:
        pass
    # Built-in rules are known to compile (the test suite checks): look at custom ones first.
    _choose_modes(rules, [i for i, r in enumerate(rules) if not r.builtin], modes)
    try:
        return modes, _compile(rules, modes)
    except hyperscan.error:
        pass
    _choose_modes(rules, [i for i, r in enumerate(rules) if r.builtin], modes)
    return modes, _compile(rules, modes)


def _choose_modes(rules: tuple[Rule, ...], indices: list[int], modes: list[str]) -> None:
    """For each rule in `indices`, the first of plain / prefilter / keywords that compiles."""
    from clearance.scanners.secrets.rules import RuleError

    for i in indices:
        rule = rules[i]
        for mode in (_MODE_PLAIN, _MODE_PREFILTER, _MODE_KEYWORDS):
            if mode == _MODE_KEYWORDS and not rule.keywords:
                raise RuleError(
                    f"secret rule {rule.id!r}: its regex cannot be used by Hyperscan and it has no keywords",
                    hint="add a `prefilter` Hyperscan expression or `keywords` to the rule",
                )
            try:
                _compile((rule,), [mode])
            except hyperscan.error:
                continue
            modes[i] = mode
            break


def _load_serialized(blob: bytes) -> tuple[list[str], hyperscan.Database]:
    size = int.from_bytes(blob[:4], "big")
    modes = json.loads(blob[4 : 4 + size])
    return list(modes), hyperscan.loadb(blob[4 + size :], hyperscan.HS_MODE_BLOCK)


def _load_or_compile(
    rules: tuple[Rule, ...], digest: str, cache_dir: Path | None
) -> tuple[list[str], hyperscan.Database]:
    directory = cache_dir if cache_dir is not None else cache_directory()
    key = hashlib.sha256(f"{_hs_version()}:{digest}".encode()).hexdigest()[:32]
    path = directory / "secrets" / f"{key}.hsdb"
    try:
        blob = path.read_bytes()
        modes, db = _load_serialized(blob)
        if len(modes) == len(rules):
            return modes, db
    except (OSError, ValueError, hyperscan.error):
        pass
    modes, db = compile_database(rules)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps(modes).encode()
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(len(header).to_bytes(4, "big") + header + hyperscan.dumpb(db))
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs a recompile next time
    return modes, db


_DEFAULT: Engine | None = None
_DEFAULT_LOCK = threading.Lock()


def default_engine() -> Engine:
    """The engine over the built-in rules (built once per process)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Engine(load_rules())
        return _DEFAULT


def contains_secret(text: str) -> bool:
    """True if `text` contains something the built-in rules report as a secret.

    For other scanners that must not show a value in clear (e.g. IaC attribute values).
    """
    return bool(default_engine().scan(text.encode("utf-8", "surrogateescape")))


def _hs_version() -> str:
    from hyperscan._version import __version__

    return str(__version__)
