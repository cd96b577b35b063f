"""Static cost of a CEL condition, estimated before it is compiled or run.

Policy rules come from the scanned repository's configuration, so a rule is hostile input: one
nested `map` over literal lists can run for minutes, and the CEL library runs it without a
budget (holding the GIL, so nothing in-process can interrupt it). The estimate here is an
upper bound on how many sub-expression evaluations one run of the condition performs:

- every token costs 1;
- a comprehension macro (`all`, `exists`, `exists_one`, `map`, `filter`) costs the size of its
  range times the cost of its body, so nesting multiplies;
- the size of a range is the number of elements of the list and map literals it is built from
  plus `ASSUMED_INPUT_SIZE` for every input or variable it references (an input list such as
  `change.files` is assumed to hold that many items).

A rule whose estimate exceeds the limit is refused at load (exit 4), as are expressions longer
than `MAX_EXPRESSION_CHARS` or nested deeper than `MAX_NESTING` (the CEL parser panics on very
deep nesting). The estimate is deliberately conservative: a chained or parenthesised range is
charged for everything written inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
ASSUMED_INPUT_SIZE = 100
"""How many items an input list (e.g. `change.files`, `finding.aliases`) is assumed to hold."""
MAX_EXPRESSION_CHARS = 4096
MAX_NESTING = 32
_KEYWORDS = frozenset({"true", "false", "null", "in"})
_TOKEN = re.compile(
    r"""
    (?P<string>[rRbB]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>\d[\w.]*)
    | (?P<space>\s+)
    | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:,.()\[\]{}])
    | (?P<other>.)
    """,
    re.VERBOSE,
)


class CostError(ValueError):
    """The expression is too long, too deeply nested or too expensive to run."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def check_cost(expression: str, limit: int) -> int:
    """The estimated cost of `expression`; raises `CostError` if it is above `limit` or the
    expression is longer or deeper than the parser can safely take."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CostError(
            f"the condition is {len(expression)} characters long (at most {MAX_EXPRESSION_CHARS})"
        )
    tokens = [
        _Token(m.lastgroup or "other", m.group())
        for m in _TOKEN.finditer(expression)
        if m.lastgroup != "space"
    ]
    match = _brackets(tokens)
    cost = _Estimator(tokens, match).cost(0, len(tokens))
    if cost > limit:
        raise CostError(
            f"estimated cost {cost:,} is above the limit of {limit:,} (nested comprehensions over "
            "large lists); simplify the condition or raise [policy] max_rule_cost"
        )
    return cost


def _brackets(tokens: list[_Token]) -> dict[int, int]:
    """Index of each opening bracket → index of its closing one (both ways)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[int] = []
    match: dict[int, int] = {}
    for i, tok in enumerate(tokens):
        if tok.kind != "op":
            continue
        if tok.text in pairs:
            stack.append(i)
            if len(stack) > MAX_NESTING:
                raise CostError(f"brackets nested deeper than {MAX_NESTING} levels")
        elif tok.text in pairs.values() and stack:
            opening = stack.pop()
            match[opening], match[i] = i, opening
    return match


class _Estimator:
    def __init__(self, tokens: list[_Token], match: dict[int, int]) -> None:
        self.tokens = tokens
        self.match = match

    def cost(self, start: int, end: int) -> int:
        """Cost of tokens[start:end]: its tokens plus, for each macro call directly inside,
        range size × body cost."""
        total = end - start
        i = start
        while i < end:
            body = self._macro_body(i)
            if body is not None and body[1] <= end:
                total += self.size(self._range_start(i, start), i) * self.cost(body[0] + 1, body[1])
                i = body[1]
            i += 1
        return total

    def size(self, start: int, end: int) -> int:
        """Upper bound on the number of elements of the value written in tokens[start:end]."""
        literal = 0
        refs = 0
        for i in range(start, end):
            tok = self.tokens[i]
            if tok.kind == "op" and tok.text in ("[", "{") and i in self.match:
                literal += self._elements(i, self.match[i])
            elif tok.kind == "ident" and tok.text not in _KEYWORDS:
                after_dot = i > 0 and self.tokens[i - 1].text == "."
                called = i + 1 < len(self.tokens) and self.tokens[i + 1].text == "("
                if not after_dot and not called:
                    refs += 1
        return max(1, literal + refs * ASSUMED_INPUT_SIZE)

    def _elements(self, opening: int, closing: int) -> int:
        if closing == opening + 1:
            return 0
        count, i = 1, opening + 1
        while i < closing:
            tok = self.tokens[i]
            if tok.kind == "op" and tok.text in "([{" and i in self.match:
                i = self.match[i]
            elif tok.kind == "op" and tok.text == ",":
                count += 1
            i += 1
        return count

    def _macro_body(self, i: int) -> tuple[int, int] | None:
        """(open paren, close paren) if tokens[i] is the `.` of `.macro(`."""
        t = self.tokens
        if (
            t[i].text == "."
            and i + 2 < len(t)
            and t[i + 1].kind == "ident"
            and t[i + 1].text in MACROS
            and t[i + 2].text == "("
            and i + 2 in self.match
        ):
            return i + 2, self.match[i + 2]
        return None

    def _range_start(self, dot: int, floor: int) -> int:
        """Where the receiver of the macro whose `.` is at `dot` begins (a member chain)."""
        i = dot - 1
        while i >= floor:
            tok = self.tokens[i]
            if tok.kind == "op" and tok.text in ")]}" and i in self.match:
                i = self.match[i]
            if (
                self.tokens[i].text == "["
                and i - 1 >= floor
                and (self.tokens[i - 1].kind == "ident" or self.tokens[i - 1].text in ")]")
            ):
                i -= 1  # an index: `a[0].map(...)`
                continue
            if i - 1 >= floor and self.tokens[i - 1].text == ".":
                i -= 2
                continue
            if self.tokens[i].text == "(" and i - 1 >= floor and self.tokens[i - 1].kind == "ident":
                i -= 1  # a function call: `size(x)`, `f(x).map(...)`
                continue
            return max(i, floor)
        return floor
