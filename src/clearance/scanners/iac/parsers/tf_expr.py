"""Terraform expressions beyond literals and plain references: operators, conditionals, calls.

`count = var.create ? 1 : 0`, `for_each = var.enabled ? toset(var.names) : toset([])`,
`bucket = try(aws_s3_bucket.this[0].id, "")`, `length(var.rules) > 0`: the shapes real
modules use to switch resources on and off and to name their companions. An expression is
parsed once (memoized by its text) into a small tree over the fast reader's tokens, then
evaluated with three callbacks supplied by the Terraform evaluator: references, literal
collections and string templates.

Unknown operands stay `Unknown` unless the operator decides without them (`false && x`,
`true || x`, a conditional whose branches agree). A reference to a computed attribute
keeps its `Unknown.ref` through `try()`, `one()`, `element()`, `coalesce()` and splats, so
companion resources still join their target.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clearance.scanners.iac.model import Missing, Unevaluated, Unknown
from clearance.scanners.iac.parsers import hcl_fast

Node = tuple[Any, ...]
"""A parsed expression: `(kind, ...)` with kind one of ref, lit, src, str, call, un, bin,
cond, get."""


@dataclass(frozen=True)
class Callbacks:
    """How the Terraform evaluator resolves the leaves of an expression."""

    ref: Callable[[str], Any]
    """A reference written as text (`var.x`, `aws_s3_bucket.this[0].id`, `each.value.name`)."""
    collection: Callable[[str], Any]
    """A `[...]` or `{...}` literal, by its source text."""
    template: Callable[[str], Any]
    """A string template's content (quotes removed, escapes processed), `${...}` evaluated."""
    step: Callable[[], None]
    """Counts one evaluation step against the module's budget."""
    refuse: Callable[[str], None] = lambda what: None
    """Reports an unknown that does not come from an input (`StepCounter.refuse`): a size
    refusal, a function or syntax this module does not implement."""


def evaluate(expr: str, cb: Callbacks) -> Any:
    """The value of `expr`, or `Unknown` when it cannot be known statically."""
    tree = _parse(expr)
    if tree is None:
        cb.refuse(f"{_short(expr)}: an expression the evaluator does not read")
        return Unknown(_short(expr))
    try:
        return _Eval(cb).run(tree)
    except RecursionError:
        cb.refuse(f"{_short(expr)}: nested too deeply")
        return Unknown(_short(expr))


def _parse(expr: str) -> Node | None:
    """The expression's tree (None when unsupported); short ones are memoized (a cache of long
    texts would hold megabytes of a hostile file)."""
    if len(expr) > 20_000:
        return None
    return _parse_cached(expr) if len(expr) <= _CACHED_CHARS else _parse_text(expr)


_CACHED_CHARS = 2_000


@functools.lru_cache(maxsize=8192)
def _parse_cached(expr: str) -> Node | None:
    return _parse_text(expr)


def _parse_text(expr: str) -> Node | None:
    try:
        tokens = [t for t in hcl_fast._tokenize(expr) if t[0] != "nl"]
        parser = _Parser(expr, tokens)
        node = parser.expression()
        if parser.peek()[0] != "eof":
            return None
        return node
    except (hcl_fast._Bail, _Unsupported, IndexError, ValueError, RecursionError):
        return None


class _Unsupported(Exception):
    pass


_BINARY: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("&&",),
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("+", "-"),
    ("*", "/", "%"),
)


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str, int, int]]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str, int, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_op(self, *values: str) -> bool:
        kind, value, _, _ = self.peek()
        return kind == "op" and value in values

    def expect(self, value: str) -> None:
        if not self.is_op(value):
            raise _Unsupported
        self.take()

    def expression(self) -> Node:
        cond = self.binary(0)
        if self.is_op("?"):
            self.take()
            yes = self.expression()
            self.expect(":")
            no = self.expression()
            return ("cond", cond, yes, no)
        return cond

    def binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.is_op(*_BINARY[level]):
            op = self.take()[1]
            right = self.binary(level + 1)
            left = ("bin", op, left, right)
        return left

    def unary(self) -> Node:
        if self.is_op("!", "-"):
            op = self.take()[1]
            return ("un", op, self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Node:
        kind, value, _, offset = self.peek()
        if kind == "number":
            self.take()
            return ("lit", float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "string":
            self.take()
            return ("str", hcl_fast._unquote(value))
        if kind == "ident":
            self.take()
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if value == "for":
                raise _Unsupported
            if self.is_op("("):
                return self.call(value)
            return ("ref", value)
        if kind == "op" and value == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "op" and value in ("[", "{"):
            start = self.i
            try:
                return self.collection()
            except _Unsupported:
                self.i = start
            end = self.matching()
            return ("src", self.text[offset:end])
        raise _Unsupported

    def collection(self) -> Node:
        """`[a, b]`, `{k = v}`, `[for x in xs : f(x) if c]`, `{for k, v in m : k => v if c}`."""
        close = "]" if self.take()[1] == "[" else "}"
        nxt = self.peek()
        if nxt[0] == "ident" and nxt[1] == "for":
            return self.for_expression(close)
        if close == "]":
            items: list[Node] = []
            while not self.is_op("]"):
                items.append(self.expression())
                if self.is_op(","):
                    self.take()
                elif not self.is_op("]"):
                    raise _Unsupported
            self.take()
            return ("list", tuple(items))
        pairs: list[tuple[Node, Node]] = []
        while not self.is_op("}"):
            kind, value, _, _ = self.peek()
            if kind == "ident":
                self.take()
                key: Node = ("lit", value)
            elif kind == "string":
                self.take()
                key = ("str", hcl_fast._unquote(value))
            elif self.is_op("("):
                self.take()
                key = self.expression()
                self.expect(")")
            else:
                raise _Unsupported
            if not self.is_op("=", ":"):
                raise _Unsupported
            self.take()
            pairs.append((key, self.expression()))
            if self.is_op(","):
                self.take()
        self.take()
        return ("obj", tuple(pairs))

    def for_expression(self, close: str) -> Node:
        self.take()  # for
        names = [self.ident()]
        if self.is_op(","):
            self.take()
            names.append(self.ident())
        kind, value, _, _ = self.take()
        if kind != "ident" or value != "in":
            raise _Unsupported
        source = self.expression()
        self.expect(":")
        first = self.expression()
        second: Node | None = None
        if close == "}":
            self.expect("=>")
            second = self.expression()
            if self.is_op("..."):
                raise _Unsupported  # grouping mode
        cond: Node | None = None
        nxt = self.peek()
        if nxt[0] == "ident" and nxt[1] == "if":
            self.take()
            cond = self.expression()
        self.expect(close)
        return ("for", tuple(names), source, first, second, cond)

    def ident(self) -> str:
        kind, value, _, _ = self.take()
        if kind != "ident":
            raise _Unsupported
        return value

    def call(self, name: str) -> Node:
        self.take()  # (
        args: list[Node] = []
        while not self.is_op(")"):
            args.append(self.expression())
            if self.is_op(","):
                self.take()
            elif self.is_op("..."):
                raise _Unsupported  # argument expansion
            elif not self.is_op(")"):
                raise _Unsupported
        self.take()
        return ("call", name, tuple(args))

    def matching(self) -> int:
        """Skip a bracketed literal; the end offset (exclusive) of its closing bracket."""
        depth = 0
        while True:
            kind, value, _, offset = self.take()
            if kind == "eof":
                raise _Unsupported
            if kind == "op" and value in ("(", "[", "{"):
                depth += 1
            elif kind == "op" and value in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    return offset + 1

    def postfix(self, node: Node) -> Node:
        while True:
            if self.is_op("."):
                self.take()
                kind, value, _, _ = self.take()
                if kind == "ident" or kind == "number":
                    node = ("get", node, ("lit", value), "attr")
                elif kind == "op" and value == "*":
                    node = ("get", node, ("lit", "*"), "splat")
                else:
                    raise _Unsupported
            elif self.is_op("["):
                self.take()
                if self.is_op("*"):
                    self.take()
                    self.expect("]")
                    node = ("get", node, ("lit", "*"), "splat")
                else:
                    index = self.expression()
                    self.expect("]")
                    node = ("get", node, index, "index")
            else:
                return node


def _ref_text(node: Node) -> str | None:
    """`var.x`, `aws_s3_bucket.this[0].id`: a reference whose every step is a literal."""
    if node[0] == "ref":
        return str(node[1])
    if node[0] != "get":
        return None
    base = _ref_text(node[1])
    if base is None or node[2][0] not in ("lit", "str"):
        return None
    key = node[2][1]
    if node[3] == "attr":
        return f"{base}.{key}"
    if node[3] == "splat":
        return f"{base}[*]"
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{base}[{key}]"
    if isinstance(key, str) and '"' not in key and "${" not in key:
        return f'{base}["{key}"]'
    return None


class _Eval:
    def __init__(self, cb: Callbacks) -> None:
        self.cb = cb
        self.bound: dict[str, Any] = {}
        """Names bound by the `for` expressions being evaluated."""

    def run(self, node: Node) -> Any:
        self.cb.step()
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "str":
            return self.cb.template(node[1]) if not self.bound else _template_without_bindings(node[1], self)
        if kind == "src":
            return self.cb.collection(node[1])
        if kind == "ref":
            return self.bound[node[1]] if node[1] in self.bound else self.cb.ref(node[1])
        if kind == "get":
            text = _ref_text(node)
            if text is not None and _root(node) not in self.bound:
                return self.cb.ref(text)
            return self.checked(
                _index(self.run(node[1]), self.run(node[2]) if node[3] == "index" else node[2][1])
            )
        if kind == "list":
            return [self.run(n) for n in node[1]]
        if kind == "obj":
            out: dict[str, Any] = {}
            for key_node, value_node in node[1]:
                key = self.run(key_node)
                if not isinstance(key, str | int | float) or isinstance(key, bool):
                    return Unknown("object with an unknown key")
                out[str(key)] = self.run(value_node)
            return out
        if kind == "for":
            return self.for_expression(node)
        if kind == "un":
            return self.checked(_unary(node[1], self.run(node[2])))
        if kind == "bin":
            return self.checked(self.binary(node[1], node[2], node[3]))
        if kind == "cond":
            test = self.run(node[1])
            cond = _as_bool(test)
            if cond is True:
                return self.run(node[2])
            if cond is False:
                return self.run(node[3])
            yes, no = self.run(node[2]), self.run(node[3])
            if not isinstance(yes, Unknown) and _same(yes, no):
                return yes
            return self.checked(_unknown_from(test, "conditional on an unknown value"))
        if kind == "call":
            return self.call(node[1], node[2])
        return Unknown()

    def for_expression(self, node: Node) -> Any:
        _, names, source_node, first, second, cond = node
        source = self.run(source_node)
        if isinstance(source, dict):
            pairs: list[tuple[Any, Any]] = list(source.items())
        elif isinstance(source, list):
            pairs = list(enumerate(source))
        else:
            return Unknown("for expression over an unknown collection")
        saved = dict(self.bound)
        out_list: list[Any] = []
        out_map: dict[str, Any] = {}
        try:
            for key, value in pairs:
                self.cb.step()
                if len(names) == 2:
                    self.bound[names[0]], self.bound[names[1]] = key, value
                else:
                    self.bound[names[0]] = value
                if cond is not None:
                    keep = _as_bool(self.run(cond))
                    if keep is None:
                        return Unknown("for expression filtered by an unknown condition")
                    if not keep:
                        continue
                if second is None:
                    out_list.append(self.run(first))
                    continue
                k = self.run(first)
                if not isinstance(k, str | int | float) or isinstance(k, bool):
                    return Unknown("for expression with an unknown key")
                out_map[str(k)] = self.run(second)
        finally:
            self.bound = saved
        return out_list if second is None else out_map

    def checked(self, value: Any) -> Any:
        """`value`, reported as a refusal when it is `Unevaluated` (see `Callbacks.refuse`)."""
        if isinstance(value, Unevaluated):
            self.cb.refuse(value.expr)
        return value

    def binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        left = self.run(left_node)
        if op in ("&&", "||"):
            lb = _as_bool(left)
            if op == "&&" and lb is False:
                return False
            if op == "||" and lb is True:
                return True
            right = self.run(right_node)
            rb = _as_bool(right)
            if op == "&&" and rb is False:
                return False
            if op == "||" and rb is True:
                return True
            if lb is None:
                return _unknown_from(left, f"{op} of an unknown value")
            if rb is None:
                return _unknown_from(right, f"{op} of an unknown value")
            return rb
        right = self.run(right_node)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return _unknown_from(left if isinstance(left, Unknown) else right, f"{op} of an unknown value")
        if op == "==":
            return _same(left, right)
        if op == "!=":
            return not _same(left, right)
        a, b = _number(left), _number(right)
        if a is None or b is None:
            return Unevaluated(f"{op} of a non-number")  # an error Terraform reports
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        if op == ">=":
            return a >= b
        if op == "+":
            return _int(a + b)
        if op == "-":
            return _int(a - b)
        if op == "*":
            return _int(a * b)
        if b == 0:
            return Unevaluated("division by zero")
        return _int(a / b) if op == "/" else _int(a % b)

    def call(self, name: str, arg_nodes: Sequence[Node]) -> Any:
        fn = _FUNCTIONS.get(name)
        args = [self.run(a) for a in arg_nodes]
        result = fn(args) if fn is not None else Unknown(f"{name}(...)")
        if isinstance(result, Unknown) and not _from_inputs(args):
            # known arguments (or ones already refused), no value: a refusal (`range()` too
            # long), a function not implemented here, or an error Terraform would report
            self.cb.refuse(result.expr if fn is not None else f"{name}(...): not implemented by the scanner")
        return result


def _root(node: Node) -> str | None:
    while node[0] == "get":
        node = node[1]
    return str(node[1]) if node[0] == "ref" else None


def _template_without_bindings(text: str, ev: _Eval) -> Any:
    """A string template inside a `for` body (where the evaluator's own template callback does
    not see the bound names): plain text, one `${...}` as its value, or text with `${...}`
    parts made into a string. `%{...}` directives are refused."""
    if "${" not in text and "%{" not in text:
        return text
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        inner = _parse(text[2:-1])
        if inner is not None:
            return ev.run(inner)
    if "%{" in text:
        ev.cb.refuse("a template directive (%{...}) in a for expression")
        return Unknown("template in a for expression")
    parts: list[str] = []
    size = 0
    i = 0
    while True:
        j = text.find("${", i)
        if j < 0:
            parts.append(text[i:])
            return "".join(parts)
        if j > 0 and text[j - 1] == "$":  # `$${` is a literal `${`
            parts.append(text[i : j - 1] + "${")
            i = j + 2
            continue
        end = closing_brace(text, j + 2)
        inner = _parse(text[j + 2 : end]) if end is not None else None
        if end is None or inner is None:
            ev.cb.refuse("a template in a for expression")
            return Unknown("template in a for expression")
        value = ev.run(inner)
        if isinstance(value, Unknown):
            return type(value)("template in a for expression", value.ref)
        if isinstance(value, bool):
            piece = "true" if value else "false"
        elif isinstance(value, str | int | float):
            piece = str(value)
        else:
            ev.cb.refuse("a collection in a template")  # Terraform: cannot convert to string
            return Unknown("template in a for expression")
        size += j - i + len(piece)
        if size > _MAX_TEMPLATE:
            ev.cb.refuse("a template in a for expression: too long")
            return Unknown("template in a for expression")
        parts.append(text[i:j])
        parts.append(piece)
        i = end + 1


_MAX_TEMPLATE = 1_000_000
"""Characters of one template built in a `for` body (as the default `max_string`)."""


def closing_brace(text: str, start: int) -> int | None:
    """Index of the `}` closing an interpolation whose body starts at `start` (nested braces
    and quoted strings honoured), or None."""
    level = 1
    in_str = False
    k = start
    while k < len(text):
        c = text[k]
        if in_str:
            if c == "\\":
                k += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            level += 1
        elif c == "}":
            level -= 1
            if level == 0:
                return k
        k += 1
    return None


def _from_inputs(args: Sequence[Any]) -> bool:
    """True if the arguments hold an unknown supplied at apply time (a plain `Unknown`) and no
    `Unevaluated` one: then an unknown result is unknown until apply, not a refusal."""
    found = False
    stack: list[Any] = list(args)
    while stack:
        a = stack.pop()
        if isinstance(a, Unevaluated):
            return False
        if isinstance(a, Unknown):
            found = found or not isinstance(a, Missing)
        elif isinstance(a, dict):
            stack.extend(a.values())
        elif isinstance(a, list):
            stack.extend(a)
    return found


def _unknown_from(operand: Any, what: str) -> Unknown:
    """The unknown result of an operation on `operand`: `Unevaluated` when the operand is (or
    is a known value of the wrong type: an error Terraform reports), `Missing` when it is an
    error already, else a plain `Unknown`."""
    if isinstance(operand, Missing):
        return Missing(what)  # an error propagates (and `try()` moves past it)
    if isinstance(operand, Unknown) and not isinstance(operand, Unevaluated):
        return Unknown(what)
    return Unevaluated(what)


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, Unknown):
        return (
            type(value)(value.expr, value.ref)
            if isinstance(value, Unevaluated)
            else Unknown(value.expr, value.ref)
        )
    if isinstance(key, Unknown):
        return _unknown_from(key, "index by an unknown value")
    if isinstance(value, dict) and isinstance(key, str):
        return value[key] if key in value else Missing(f"[{key!r}]")
    if isinstance(value, list) and key == "*":
        return value
    if isinstance(value, list) and isinstance(key, int | float) and not isinstance(key, bool):
        if not math.isfinite(key):
            return Unevaluated("index by a number that is not finite")
        i = int(key)
        return value[i] if 0 <= i < len(value) else Missing(f"[{i}]")
    return Unevaluated("index of a value without that key or index")  # an error Terraform reports


def _unary(op: str, value: Any) -> Any:
    if op == "!":
        b = _as_bool(value)
        return _unknown_from(value, "! of an unknown value") if b is None else not b
    n = _number(value)
    return _unknown_from(value, "- of a non-number") if n is None else _int(-n)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return None


def _number(value: Any) -> float | None:
    """A finite number (an infinity or NaN, `1e999`, is refused: `int()` of it raises)."""
    if isinstance(value, bool):
        return None
    n: float | None = None
    try:
        if isinstance(value, int | float):
            n = float(value)
        elif isinstance(value, str):
            n = float(value)
    except (ValueError, OverflowError):  # not a number; an integer of 400 digits
        return None
    return n if n is not None and math.isfinite(n) else None


def _int(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return False
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool | str):
        return float(a) == float(b)
    return bool(a == b)


def _short(expr: str) -> str:
    return expr if len(expr) <= 80 else expr[:79] + "…"


# --- functions ------------------------------------------------------------------------


def _first_unknown(args: Sequence[Any]) -> Unknown | None:
    for a in args:
        if isinstance(a, Unknown):
            return a
    return None


def _try(args: Sequence[Any]) -> Any:
    """`try(a, b)`: the first argument that is a value. A reference to a computed attribute
    is a value (known at apply time), so its `ref` is kept for joins."""
    for a in args:
        if isinstance(a, Missing):
            continue  # an error: Terraform tries the next argument
        if not isinstance(a, Unknown) or a.ref is not None:
            return a
        return Unknown("try(...)")  # unknown until apply: it may or may not fail then
    return Missing("try(): every argument fails")


def _can(args: Sequence[Any]) -> Any:
    if len(args) != 1:
        return Unknown("can(...)")
    if isinstance(args[0], Missing):
        return False
    return Unknown("can(...)") if isinstance(args[0], Unknown) and args[0].ref is None else True


def _jsondecode(args: Sequence[Any]) -> Any:
    if len(args) != 1:
        return Unknown("jsondecode(...)")
    text = args[0]
    if isinstance(text, Unknown):
        return text
    if not isinstance(text, str):
        return Missing("jsondecode() of a non-string")
    if len(text) > 1_000_000:
        return Unknown("jsondecode(...) of a long string")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return Missing("jsondecode() of invalid JSON")


def _one(args: Sequence[Any]) -> Any:
    if len(args) != 1:
        return Unknown("one(...)")
    v = args[0]
    if isinstance(v, Unknown):
        return v
    if isinstance(v, list):
        if not v:
            return None
        return v[0] if len(v) == 1 else Unknown("one() of several")
    return Unknown("one(...)")


def _coalesce(args: Sequence[Any]) -> Any:
    for a in args:
        if isinstance(a, Unknown):
            return a
        if a is not None and a != "":
            return a
    return Unknown("coalesce() of nothing")


def _length(args: Sequence[Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], list | dict | str):
        return len(args[0])
    return Unknown("length(...)")


def _lookup(args: Sequence[Any]) -> Any:
    if len(args) in (2, 3) and isinstance(args[0], dict) and isinstance(args[1], str):
        if args[1] in args[0]:
            return args[0][args[1]]
        if len(args) == 3:
            return args[2]
        return Missing("lookup() of a missing key")
    return _first_unknown(args) or Unknown("lookup(...)")


def _element(args: Sequence[Any]) -> Any:
    if len(args) == 2:
        seq, i = args
        if isinstance(seq, Unknown):
            return seq
        if isinstance(seq, list) and seq and isinstance(i, int) and not isinstance(i, bool):
            return seq[i % len(seq)]
    return Unknown("element(...)")


def _contains(args: Sequence[Any]) -> Any:
    if len(args) == 2 and isinstance(args[0], list) and not isinstance(args[1], Unknown):
        if any(_same(x, args[1]) for x in args[0]):
            return True
        if not any(isinstance(x, Unknown) for x in args[0]):
            return False
    return Unknown("contains(...)")


def _collection(args: Sequence[Any]) -> Any:
    """`toset`/`tolist`/`tomap`/`jsonencode`: the value itself (its shape is what rules read)."""
    return args[0] if len(args) == 1 else Unknown("conversion")


def _concat(args: Sequence[Any]) -> Any:
    out: list[Any] = []
    for a in args:
        if not isinstance(a, list):
            return _first_unknown(args) or Unknown("concat(...)")
        out.extend(a)
    return out


def _flatten(args: Sequence[Any]) -> Any:
    if len(args) != 1 or not isinstance(args[0], list):
        return Unknown("flatten(...)")
    out: list[Any] = []
    for v in args[0]:
        out.extend(v if isinstance(v, list) else [v])
    return out


def _scalar_list(value: Any) -> list[Any] | None:
    """The list if every element is a known scalar (string, number, bool), else None."""
    if isinstance(value, list) and all(
        isinstance(v, str | int | float | bool) and not isinstance(v, Unknown) for v in value
    ):
        return value
    return None


def _sort(args: Sequence[Any]) -> Any:
    items = _scalar_list(args[0]) if len(args) == 1 else None
    if items is None:
        return _first_unknown(args) or Unknown("sort(...)")
    return sorted(str(v) if not isinstance(v, bool) else ("true" if v else "false") for v in items)


def _distinct(args: Sequence[Any]) -> Any:
    if len(args) != 1 or not isinstance(args[0], list):
        return _first_unknown(args) or Unknown("distinct(...)")
    out: list[Any] = []
    for v in args[0]:
        if isinstance(v, Unknown):
            return Unknown("distinct(...) of an unknown element")
        if v not in out:
            out.append(v)
    return out


def _minmax(pick: Callable[..., Any]) -> Callable[[Sequence[Any]], Any]:
    def fn(args: Sequence[Any]) -> Any:
        nums = [_number(a) for a in args]
        if not nums or any(n is None for n in nums):
            return Unknown("min/max(...)")
        return _int(pick(n for n in nums if n is not None))

    return fn


def _title(args: Sequence[Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], str):
        return re.sub(r"\b([a-z])", lambda m: m.group(1).upper(), args[0])
    return Unknown("title(...)")


def _slice(args: Sequence[Any]) -> Any:
    if len(args) == 3 and isinstance(args[0], list):
        start, end = _number(args[1]), _number(args[2])
        if start is not None and end is not None and 0 <= start <= end <= len(args[0]):
            return args[0][int(start) : int(end)]
    return _first_unknown(args) or Unknown("slice(...)")


def _zipmap(args: Sequence[Any]) -> Any:
    keys = _scalar_list(args[0]) if len(args) == 2 else None
    if keys is None or not isinstance(args[1], list) or len(keys) != len(args[1]):
        return _first_unknown(args) or Unknown("zipmap(...)")
    return {str(k): v for k, v in zip(keys, args[1], strict=True)}


_RANGE_MAX = 1024


def _range(args: Sequence[Any]) -> Any:
    nums = [_number(a) for a in args]
    if not 1 <= len(nums) <= 3 or any(n is None or n != int(n) for n in nums):
        return Unknown("range(...)")
    ints = [int(n) for n in nums if n is not None]
    start, stop, step = (
        (0, ints[0], 1) if len(ints) == 1 else (ints[0], ints[1], ints[2] if len(ints) == 3 else 1)
    )
    if step == 0:
        return Unknown("range(...) with step 0")
    out = range(start, stop, step)
    return list(out) if len(out) <= _RANGE_MAX else Unknown("range(...) too long")


def _coalescelist(args: Sequence[Any]) -> Any:
    for a in args:
        if not isinstance(a, list):
            return _first_unknown([a]) or Unknown("coalescelist(...)")
        if a:
            return a
    return Unknown("coalescelist() of nothing")


def _merge(args: Sequence[Any]) -> Any:
    out: dict[str, Any] = {}
    for a in args:
        if a is None:
            continue
        if not isinstance(a, dict):
            return Unknown("merge(...)")
        out.update(a)
    return out


def _keys(args: Sequence[Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], dict):
        return sorted(args[0])
    return Unknown("keys(...)")


def _values(args: Sequence[Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], dict):
        return [args[0][k] for k in sorted(args[0])]
    return Unknown("values(...)")


def _compact(args: Sequence[Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], list):
        return [v for v in args[0] if v not in (None, "")]
    return Unknown("compact(...)")


def _tobool(args: Sequence[Any]) -> Any:
    b = _as_bool(args[0]) if len(args) == 1 else None
    return Unknown("tobool(...)") if b is None else b


def _tonumber(args: Sequence[Any]) -> Any:
    n = _number(args[0]) if len(args) == 1 else None
    return Unknown("tonumber(...)") if n is None else _int(n)


def _tostring(args: Sequence[Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], str | int | float) and not isinstance(args[0], bool):
        return str(args[0])
    if len(args) == 1 and isinstance(args[0], bool):
        return "true" if args[0] else "false"
    if len(args) == 1 and isinstance(args[0], dict | list):
        return Missing("tostring() of a collection")
    return Unknown("tostring(...)")


def _join(args: Sequence[Any]) -> Any:
    if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], list):
        if all(isinstance(v, str | int | float) for v in args[1]):
            return args[0].join(str(v) for v in args[1])
    return Unknown("join(...)")


def _split(args: Sequence[Any]) -> Any:
    if len(args) == 2 and isinstance(args[0], str) and args[0] and isinstance(args[1], str):
        return args[1].split(args[0])
    return Unknown("split(...)")


def _format(args: Sequence[Any]) -> Any:
    """`format` with `%s`/`%d` verbs only (what modules use to build names and principals)."""
    if not args or not isinstance(args[0], str) or any(isinstance(a, Unknown) for a in args[1:]):
        return Unknown("format(...)")
    values = iter(args[1:])
    out: list[str] = []
    text = args[0]
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%" and i + 1 < len(text):
            verb = text[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sd":
                value = next(values, None)
                if value is None or isinstance(value, list | dict):
                    return Unknown("format(...)")
                out.append(("true" if value else "false") if isinstance(value, bool) else str(value))
            else:
                return Unknown("format(...)")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _case(upper: bool) -> Callable[[Sequence[Any]], Any]:
    def fn(args: Sequence[Any]) -> Any:
        if len(args) == 1 and isinstance(args[0], str):
            return args[0].upper() if upper else args[0].lower()
        return Unknown("lower/upper(...)")

    return fn


_FUNCTIONS: dict[str, Callable[[Sequence[Any]], Any]] = {
    "try": _try,
    "can": _can,
    "jsondecode": _jsondecode,
    "one": _one,
    "coalesce": _coalesce,
    "length": _length,
    "lookup": _lookup,
    "element": _element,
    "contains": _contains,
    "toset": _collection,
    "tolist": _collection,
    "tomap": _collection,
    "jsonencode": _collection,
    "concat": _concat,
    "flatten": _flatten,
    "merge": _merge,
    "keys": _keys,
    "values": _values,
    "compact": _compact,
    "tobool": _tobool,
    "tonumber": _tonumber,
    "tostring": _tostring,
    "join": _join,
    "split": _split,
    "format": _format,
    "lower": _case(False),
    "upper": _case(True),
    "sort": _sort,
    "distinct": _distinct,
    "min": _minmax(min),
    "max": _minmax(max),
    "title": _title,
    "slice": _slice,
    "zipmap": _zipmap,
    "range": _range,
    "coalescelist": _coalescelist,
}
