"""A fast reader for the common shape of Terraform HCL, with python-hcl2 as the authority.

Terraform files are mostly blocks of `name = literal` attributes. This reader tokenizes
with one regular expression and parses blocks, attributes, string/number/bool/null
literals, lists, objects and heredocs itself, several times faster than the general
grammar. Any other expression (references, function calls, operators, conditionals,
`for` expressions) is kept as its source text wrapped in `${...}`, exactly what
python-hcl2 yields for an expression, so the evaluator treats both the same.

It returns None whenever it meets something it does not handle; the caller then uses
python-hcl2, which also produces the error message for malformed files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Item = tuple[str, Any, int]
"""An attribute: (name, raw value, line)."""


class _Bail(Exception):
    pass


_TOKEN = re.compile(
    r"""
    [ \t\r]*
    (?:
    (?P<ws>\\\r?\n)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?[A-Za-z_][\w.-]*\r?\n)
  | (?P<string>"(?:[^"\\$%\n]++|\\.|\$(?!\{)|%(?!\{))*+")
  | (?P<cstring>")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][\w-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|[-+*/%<>!?:.,=\[\]{}()])
  | (?P<end>\Z)
    )
    """,
    re.S | re.X,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CONTINUE_OPS = frozenset(
    {"?", ":", "&&", "||", "+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "."}
)


def parse(text: str) -> list[tuple[str, tuple[str, ...], int, int, list[Any]]] | None:
    """Top-level blocks as (type, labels, line, end line, children) where children are
    `Item`s and nested blocks in the same shape; None if the text needs the full grammar."""
    try:
        tokens = _tokenize(text)
        parser = _Parser(text, tokens)
        return parser.body(top=True)
    except (_Bail, IndexError, ValueError, RecursionError):
        return None


Node = tuple[str, tuple[str, ...], int, int, list[Any]]
"""A block: (type, labels, line, end line, children)."""


def parse_blocks(text: str) -> list[tuple[int, int, Node | None]] | None:
    """Each top-level block on its own, for a file `parse` hands to the full grammar: (start
    offset, end offset, block), the block None where it needs the full grammar (a `for`
    expression, say) — so only those blocks go to python-hcl2, not the whole file. None when
    the file as a whole needs it (a token this reader does not know, unbalanced braces, a
    top-level attribute)."""
    try:
        tokens = _tokenize(text)
    except (_Bail, IndexError, ValueError, RecursionError):
        return None
    out: list[tuple[int, int, Node | None]] = []
    i = 0
    while True:
        while tokens[i][0] == "nl":
            i += 1
        if tokens[i][0] == "eof":
            return out
        if tokens[i][0] != "ident":
            return None
        start = i
        i += 1
        while not (tokens[i][0] == "op" and tokens[i][1] == "{"):
            if tokens[i][0] not in ("ident", "string"):
                return None  # `name = ...` at the top, or something stranger
            i += 1
        depth = 0
        while True:
            kind, value, _, _ = tokens[i]
            if kind == "eof":
                return None
            if kind == "op" and value == "{":
                depth += 1
            elif kind == "op" and value == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        close = tokens[i]
        i += 1
        if tokens[i][0] not in ("nl", "eof"):
            return None
        block: Node | None = None
        try:
            parsed = _Parser(text, [*tokens[start:i], ("eof", "", close[2], close[3] + 1)]).body(top=True)
            if len(parsed) == 1 and len(parsed[0]) == 5 and parsed[0][0]:
                block = parsed[0]
        except (_Bail, IndexError, ValueError, RecursionError):
            block = None
        out.append((tokens[start][3], close[3] + 1, block))


def parse_value(text: str) -> tuple[bool, Any]:
    """One expression as a raw value (lists/objects/literals, `${...}` for the rest)."""
    tree = parse(f"v = {text}\n")
    if tree is None or len(tree) != 1 or tree[0][0] != "":
        return False, None
    children = tree[0][4]
    if len(children) != 1 or len(children[0]) != 3:
        return False, None
    return True, children[0][1]


def parse_value_lines(text: str) -> tuple[bool, Any, dict[str, int]]:
    """Like `parse_value`, plus the 1-based line (relative to `text`) of every nested
    list item and object key, by dotted path (`Statement.0.Action`)."""
    try:
        tokens = _tokenize(f"v = {text}\n")
        parser = _Parser(f"v = {text}\n", tokens)
        parser.nested = {}
        tree = parser.body(top=True)
    except (_Bail, IndexError, ValueError, RecursionError):
        return False, None, {}
    if len(tree) != 1 or tree[0][0] != "" or len(tree[0][4]) != 1:
        return False, None, {}
    return True, tree[0][4][0][1], parser.nested


def _tokenize(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, text, line, offset) for every significant token; newlines kept."""
    out: list[tuple[str, str, int, int]] = []
    pos = 0
    line = 1
    n = len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            raise _Bail
        kind = m.lastgroup or ""
        if kind == "end":
            break
        value = m.group(kind)
        pos = m.start(kind)
        if kind == "cstring":
            end = _scan_string(text, pos)
            value = text[pos:end]
            out.append(("string", value, line, pos))
            line += value.count("\n")
            pos = end
            continue
        if kind == "heredoc":
            marker = value.strip().lstrip("<").lstrip("-")
            end_re = re.compile(rf"^[ \t]*{re.escape(marker)}[ \t]*$", re.M)
            close = end_re.search(text, m.end())
            if close is None:
                raise _Bail
            out.append(("heredoc", text[pos : close.end()], line, pos))
            line += text.count("\n", pos, close.end())
            pos = close.end()
            continue
        if kind == "nl":
            out.append(("nl", "\n", line, pos))
            line += 1
        elif kind == "comment":
            if value.startswith("/*"):
                line += value.count("\n")
        elif kind == "ws":
            raise _Bail  # line continuation: not HCL, let the full grammar report it
        else:
            out.append((kind, value, line, pos))
        pos = m.end()
    out.append(("eof", "", line, n))
    return out


def _scan_string(text: str, pos: int) -> int:
    """End offset (exclusive) of the quoted template starting at `pos`, interpolations included."""
    i = pos + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if c == "\n":
            raise _Bail
        if c in "$%" and i + 1 < n and text[i + 1] == "{":
            i = _scan_template(text, i + 2)
            continue
        i += 1
    raise _Bail


def _scan_template(text: str, i: int) -> int:
    depth = 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _scan_string(text, i)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _Bail


def _unquote(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_unescape, body)


def _unescape(m: re.Match[str]) -> str:
    esc = m.group(1)
    if esc[0] in "uU" and len(esc) > 1:
        return chr(int(esc[1:], 16))
    return _ESCAPES.get(esc, "\\" + esc)


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str, int, int]]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.nested: dict[str, int] | None = None
        """When set, collects the line of every nested list item / object key by path."""
        self.path: list[str] = []

    def peek(self, skip_nl: bool = False) -> tuple[str, str, int, int]:
        if skip_nl:
            while self.tokens[self.i][0] == "nl":
                self.i += 1
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def body(self, top: bool = False) -> list[Any]:
        items: list[Any] = []
        while True:
            kind, value, line, _ = self.peek(skip_nl=True)
            if kind == "eof":
                if not top:
                    raise _Bail
                return (
                    [("", (), 1, line, items)]
                    if items and all(len(x) == 3 for x in items)
                    else (items if all(len(x) == 5 for x in items) else _mixed(items))
                )
            if kind == "op" and value == "}":
                if top:
                    raise _Bail
                return items
            if kind != "ident":
                raise _Bail
            self.take()
            nxt = self.peek()
            if nxt[0] == "op" and nxt[1] == "=":
                self.take()
                items.append((value, self.expression(stop=frozenset()), line))
                self.end_of_item()
            else:
                labels: list[str] = []
                while True:
                    k, v, _, _ = self.take()
                    if k == "string":
                        if "${" in v:
                            raise _Bail
                        labels.append(_unquote(v))
                    elif k == "ident":
                        labels.append(v)
                    elif k == "op" and v == "{":
                        break
                    else:
                        raise _Bail
                children = self.body()
                close = self.take()
                items.append((value, tuple(labels), line, close[2], children))
                self.end_of_item()

    def end_of_item(self) -> None:
        kind, value, _, _ = self.peek()
        if kind in ("nl", "eof") or (kind == "op" and value == "}"):
            return
        raise _Bail

    # --- expressions ------------------------------------------------------------------

    def expression(self, stop: frozenset[str]) -> Any:
        start = self.i
        kind, value, _, _ = self.peek(skip_nl=bool(stop))
        literal: Callable[[], Any] | None = None
        if kind == "string":
            literal = self._string
        elif kind == "number":
            literal = self._number
        elif kind == "heredoc":
            literal = self._heredoc
        elif kind == "ident" and value in ("true", "false", "null"):
            literal = self._keyword
        elif kind == "op" and value == "[":
            literal = self._list
        elif kind == "op" and value == "{":
            literal = self._object
        elif kind == "op" and value == "-" and self.tokens[self.i + 1][0] == "number":
            self.take()
            number = self._number()
            if self._at_end(stop):
                return -number
            self.i = start
        if literal is not None:
            result = literal()
            if self._at_end(stop):
                return result
            self.i = start
        return self._raw(stop)

    def _at_end(self, stop: frozenset[str]) -> bool:
        kind, value, _, _ = self.peek()
        if kind in ("nl", "eof"):
            return True
        return kind == "op" and (value in stop or (value == "}" and not stop))

    def _raw(self, stop: frozenset[str]) -> str:
        """The source text of a non-literal expression, as `${text}`."""
        depth = 0
        first = self.peek(skip_nl=bool(stop))
        last_kind, last_value = "", ""
        last_end = first[3]
        while True:
            kind, value, _, offset = self.peek()
            if kind == "eof":
                if depth:
                    raise _Bail
                break
            if kind == "nl":
                if depth == 0 and not (last_kind == "op" and last_value in _CONTINUE_OPS):
                    nxt = self._next_significant()
                    if not (nxt[0] == "op" and nxt[1] in ("?", ":", "&&", "||")):
                        break
                self.take()
                continue
            if kind == "op":
                if value in _OPEN:
                    depth += 1
                elif value in (")", "]", "}"):
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and value in stop:
                    break
            last_kind, last_value = kind, value
            last_end = offset + len(value)
            self.take()
        source = self.text[first[3] : last_end].strip()
        if not source:
            raise _Bail
        return "${" + source + "}"

    def _next_significant(self) -> tuple[str, str, int, int]:
        j = self.i
        while self.tokens[j][0] == "nl":
            j += 1
        return self.tokens[j]

    def _string(self) -> str:
        return _unquote(self.take()[1])

    def _number(self) -> int | float:
        text = self.take()[1]
        return float(text) if any(c in text for c in ".eE") else int(text)

    def _keyword(self) -> bool | None:
        value = self.take()[1]
        return None if value == "null" else value == "true"

    def _heredoc(self) -> str:
        raw = self.take()[1]
        first_nl = raw.index("\n")
        head = raw[:first_nl].rstrip("\r")
        body = raw[first_nl + 1 :]
        body = body[: body.rstrip().rfind("\n") + 1] if "\n" in body.rstrip() else ""
        body = body.rstrip("\n")
        return f"{head}\n{body}\n{head.lstrip('<').lstrip('-')}"

    def _list(self) -> list[Any]:
        self.take()
        out: list[Any] = []
        while True:
            kind, value, _, _ = self.peek(skip_nl=True)
            if kind == "op" and value == "]":
                self.take()
                return out
            if kind == "ident" and value == "for":
                raise _Bail
            if self.nested is not None:
                self.path.append(str(len(out)))
                self.nested[".".join(self.path)] = self.peek(skip_nl=True)[2]
                out.append(self.expression(stop=frozenset({",", "]"})))
                self.path.pop()
            else:
                out.append(self.expression(stop=frozenset({",", "]"})))
            kind, value, _, _ = self.peek(skip_nl=True)
            if kind == "op" and value == ",":
                self.take()
            elif not (kind == "op" and value == "]"):
                raise _Bail

    def _object(self) -> dict[str, Any]:
        self.take()
        out: dict[str, Any] = {}
        while True:
            kind, value, _, _ = self.peek(skip_nl=True)
            if kind == "op" and value == "}":
                self.take()
                return out
            if kind == "ident":
                if value == "for":
                    raise _Bail
                key = value
            elif kind == "string" and "${" not in value:
                key = _unquote(value)
            else:
                raise _Bail
            key_line = self.take()[2]
            sep = self.take()
            if not (sep[0] == "op" and sep[1] in ("=", ":")):
                raise _Bail
            if self.nested is not None:
                self.path.append(key)
                self.nested[".".join(self.path)] = key_line
                out[key] = self.expression(stop=frozenset({",", "}"}))
                self.path.pop()
            else:
                out[key] = self.expression(stop=frozenset({",", "}"}))
            kind, value, _, _ = self.peek()
            if kind == "op" and value == ",":
                self.take()
            elif kind == "nl" or (kind == "op" and value == "}"):
                continue
            else:
                raise _Bail


def _mixed(items: list[Any]) -> list[Any]:
    raise _Bail
