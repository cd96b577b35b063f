"""Policy rules: CEL conditions → action, compiled once and validated at load.

A rule set is an ordered list; the first rule whose condition holds decides. Conditions are
CEL expressions (`common-expression-language`) over four variables: `finding`, `service`,
`env` and `change` (see `docs/policy.md` for every field).

Validation at load (any problem is a `PolicyError`, exit 4, naming where the rule came from,
the expression, the position and what is wrong):

1. the expression parses;
2. it uses no variable other than the four above (and its own comprehension variables);
3. evaluated against sample findings of every kind it yields a bool for at least one of
   them and fails on none of them with a missing field (a typo like `finding.severty`).

4. its estimated cost (`policy/cost.py`) is within `max_rule_cost`: a rule from the scanned
   repository cannot make the gate run for minutes.

At decision time a rule that cannot be evaluated for one finding fails closed: a `block`
rule counts as matched, any other rule as not matched, and the verdict notes say why. An
evaluation error includes arithmetic (`1 / 0`, overflow) and a run that took longer than the
rule's time budget; after one such overrun the rule is not run again in this decision (it
fails closed for every remaining finding), so the whole decision stays bounded.
"""

from __future__ import annotations

import re
import sys
import time
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The `cel` package's __init__ eagerly imports its interactive CLI (prompt_toolkit, ~0.2-0.4 s),
# which clearance never uses; an empty placeholder for `cel.cli` keeps every gate run from paying
# for it. Only that submodule is replaced, and only if nothing imported it already.
sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
import cel  # noqa: E402

from clearance.errors import PolicyError  # noqa: E402
from clearance.model import Action  # noqa: E402
from clearance.policy.cost import CostError, check_cost  # noqa: E402

VARIABLES = ("finding", "service", "env", "change")
DEFAULT_MAX_COST = 100_000
"""Default `[policy] max_rule_cost`: estimated sub-expression evaluations per rule run."""
DEFAULT_TIME_BUDGET_MS = 250
"""Default `[policy] rule_time_budget_ms`: the longest one evaluation of one rule may take."""
_ACTIONS = {"block": Action.BLOCK, "warn": Action.WARN, "ignore": Action.IGNORE}
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
_COMPREHENSION = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


@dataclass(frozen=True)
class Rule:
    """One compiled policy rule."""

    name: str
    when: str
    action: Action
    message: str
    origin: str
    """Where the rule was written, e.g. `clearance.toml:14 [[policy.rules]] #2` or `built-in`."""
    program: cel.Program

    def evaluate(self, inputs: Mapping[str, Any] | cel.Context) -> bool:
        """True if the condition holds. Raises `RuleEvaluationError` if it cannot be evaluated."""
        try:
            result = self.program.execute(inputs if isinstance(inputs, cel.Context) else dict(inputs))
        except KeyError as e:
            raise RuleEvaluationError(
                self.name, f"no such field {e.args[0]!r}" if e.args else "no such field"
            ) from e
        except (RuntimeError, TypeError, ValueError, LookupError, ArithmeticError) as e:
            # ArithmeticError: `1 / 0`, `x % 0`, integer overflow
            raise RuleEvaluationError(self.name, _one_line(e)) from e
        if not isinstance(result, bool):
            raise RuleEvaluationError(self.name, f"evaluated to {type(result).__name__}, not bool")
        return result


class RuleEvaluationError(Exception):
    """A rule's condition could not be evaluated for one finding (data, handled by the engine)."""

    def __init__(self, rule: str, problem: str) -> None:
        super().__init__(f"rule {rule!r}: {problem}")
        self.rule = rule
        self.problem = problem


@dataclass(frozen=True)
class RuleSpec:
    """An uncompiled rule as written in configuration or in the built-in policy."""

    name: str
    when: str
    action: str
    message: str = ""
    origin: str = "built-in"
    generated: bool = False
    """Written by clearance from a template (the default triage, a `--fail-on` threshold): the
    test suite dry-runs every template for every parameter value, so loading skips the dry run
    (compiling and the cost and variable checks still run). Rules from configuration: False."""


@dataclass(frozen=True)
class Match:
    """Which rule decided a finding, and what went wrong on the way (if anything)."""

    rule: Rule | None
    action: Action
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """An ordered list of compiled rules: the first match wins."""

    rules: tuple[Rule, ...]
    needs: Mapping[str, Any] | None = None
    """The input fields the rules reference (`True` = the whole value); None = everything."""
    time_budget: float = DEFAULT_TIME_BUDGET_MS / 1000
    """Seconds one evaluation of one rule may take; an overrun fails closed."""
    over_budget: dict[str, float] = field(default_factory=dict, compare=False)
    """Rules that overran their budget in this decision, with the time taken (not run again)."""
    clock: Callable[[], float] = field(default=time.perf_counter, compare=False, repr=False)

    def evaluate(self, rule: Rule, inputs: Mapping[str, Any] | cel.Context) -> bool:
        """`rule.evaluate` within the time budget (RuleEvaluationError when over it)."""
        if rule.name in self.over_budget:
            raise RuleEvaluationError(rule.name, self._overrun(rule.name))
        started = self.clock()
        holds = rule.evaluate(inputs)
        took = self.clock() - started
        if took > self.time_budget:
            self.over_budget[rule.name] = took
            raise RuleEvaluationError(rule.name, self._overrun(rule.name))
        return holds

    def _overrun(self, name: str) -> str:
        return (
            f"one evaluation took {self.over_budget[name] * 1000:.0f} ms, over the "
            f"{self.time_budget * 1000:.0f} ms budget ([policy] rule_time_budget_ms); not run again"
        )

    def first_match(self, inputs: Mapping[str, Any]) -> Match:
        """The first rule that holds for `inputs` (fail closed on block rules that error).

        Only the fields the rules reference are handed to CEL, converted once for all rules:
        converting a value costs microseconds per field, evaluating a rule far less.
        """
        pruned = prune(inputs, self.needs) if self.needs is not None else inputs
        context = cel.Context(variables=dict(pruned))
        errors: list[str] = []
        for rule in self.rules:
            try:
                holds = self.evaluate(rule, context)
            except RuleEvaluationError as e:
                errors.append(str(e))
                if rule.action is Action.BLOCK:
                    return Match(rule, Action.BLOCK, tuple(errors))
                continue
            if holds:
                return Match(rule, rule.action, tuple(errors))
        return Match(None, Action.WARN, tuple(errors))

    def trace(self, inputs: Mapping[str, Any]) -> list[tuple[Rule, str]]:
        """Every rule with its result for `inputs` (`true`, `false` or the error), for explain."""
        out: list[tuple[Rule, str]] = []
        for rule in self.rules:
            try:
                out.append((rule, "true" if self.evaluate(rule, inputs) else "false"))
            except RuleEvaluationError as e:
                out.append((rule, f"error: {e.problem}"))
        return out


def compile_rules(
    specs: Sequence[RuleSpec],
    samples: Sequence[Mapping[str, Any]],
    *,
    max_cost: int = DEFAULT_MAX_COST,
    time_budget_ms: int = DEFAULT_TIME_BUDGET_MS,
) -> RuleSet:
    """Compile and validate every rule; the first problem raises `PolicyError` (exit 4)."""
    problems: list[str] = []
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for spec in specs:
        try:
            rule = compile_rule(spec, samples, max_cost=max_cost)
        except PolicyError as e:
            problems.append(e.message)
            continue
        if spec.name in seen and spec.origin != "built-in":
            problems.append(f"{spec.origin}: rule name {spec.name!r} is already used by {seen[spec.name]}")
        seen.setdefault(spec.name, spec.origin)
        rules.append(rule)
    if problems:
        raise PolicyError(
            "invalid policy rules:\n" + "\n".join(f"  {p}" for p in problems),
            hint="conditions are CEL over finding, service, env and change; see docs/policy.md",
        )
    return RuleSet(tuple(rules), referenced_fields([r.when for r in rules]), time_budget_ms / 1000)


_REFERENCE = re.compile(r"(?<![\w.])(finding|service|change|env)((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)")


def referenced_fields(expressions: Sequence[str]) -> dict[str, Any]:
    """Which input fields the expressions use, two levels deep (`True` = the whole value)."""
    needs: dict[str, Any] = {}
    for expression in expressions:
        for m in _REFERENCE.finditer(expression):
            path = [p.strip() for p in m.group(2).split(".") if p.strip()]
            if path and expression[m.end() :].lstrip().startswith("("):
                path = path[:-1]  # a method or macro call (`exists`, `startsWith`), not a field
            _mark(needs, m.group(1), path[:2])
    return needs


def _mark(needs: dict[str, Any], var: str, path: list[str]) -> None:
    if needs.get(var) is True:
        return
    if not path:
        needs[var] = True
        return
    fields = needs.setdefault(var, {})
    head = path[0]
    if len(path) == 1 or fields.get(head) is True:
        fields[head] = True
        return
    sub = fields.setdefault(head, {})
    sub[path[1]] = True


def prune(inputs: Mapping[str, Any], needs: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the referenced fields (missing ones stay missing: CEL reports them)."""
    out: dict[str, Any] = {}
    for var, need in needs.items():
        if var not in inputs:
            continue
        out[var] = _prune_value(inputs[var], need)
    return out


def _prune_value(value: Any, need: Any) -> Any:
    if need is True or not isinstance(value, Mapping):
        return value
    return {k: _prune_value(value[k], sub) for k, sub in need.items() if k in value}


def compile_rule(
    spec: RuleSpec, samples: Sequence[Mapping[str, Any]], *, max_cost: int = DEFAULT_MAX_COST
) -> Rule:
    """Compile one rule and check its cost, then check it against the sample inputs."""
    where = f"{spec.origin} rule {spec.name!r}"
    action = _ACTIONS.get(spec.action)
    if action is None:
        raise PolicyError(f"{where}: action {spec.action!r} is not one of block, warn, ignore")
    expression = spec.when.strip()
    if not expression:
        raise PolicyError(f"{where}: `when` is empty")
    try:
        check_cost(expression, max_cost)  # before the CEL parser (which panics on deep nesting)
    except CostError as e:
        raise PolicyError(f"{where}: {e}", hint="see docs/policy.md#budgets") from None
    try:
        program = cel.compile(expression)
    except ValueError as e:
        raise PolicyError(f"{where}: {_syntax_problem(expression, str(e))}") from None
    _check_variables(where, expression, program)
    rule = Rule(
        name=spec.name,
        when=expression,
        action=action,
        message=spec.message,
        origin=spec.origin,
        program=program,
    )
    if not spec.generated:
        _dry_run(where, rule, samples)
    return rule


def _syntax_problem(expression: str, text: str) -> str:
    m = _POSITION.search(text)
    if not m:
        return f"cannot parse `{expression}`: {_one_line(text)}"
    line, col, problem = int(m.group(1)), int(m.group(2)), m.group(3).strip()
    src_line = expression.splitlines()[line - 1] if line - 1 < len(expression.splitlines()) else expression
    caret = " " * max(col - 1, 0) + "^"
    return f"cannot parse `{expression}` at line {line}, column {col}: {problem}\n      {src_line}\n      {caret}"


def _check_variables(where: str, expression: str, program: cel.Program) -> None:
    local = set(_COMPREHENSION.findall(expression))
    unknown = [v for v in program.variables() if v not in VARIABLES and v not in local]
    if unknown:
        name = unknown[0]
        m = re.search(rf"(?<![\w.]){re.escape(name)}\b", expression)
        pos = f" at column {m.start() + 1}" if m else ""
        raise PolicyError(
            f"{where}: unknown variable {name!r}{pos} in `{expression}` (available: {', '.join(VARIABLES)})"
        )


def _dry_run(where: str, rule: Rule, samples: Sequence[Mapping[str, Any]]) -> None:
    if not samples:
        return
    problems: list[str] = []
    ok = False
    for sample in samples:
        try:
            rule.evaluate(sample)
            ok = True
        except RuleEvaluationError as e:
            if "evaluated to" in e.problem:
                raise PolicyError(
                    f"{where}: `{rule.when}` {e.problem} (a condition must be true or false)"
                ) from None
            problems.append(e.problem)
    missing = [p for p in problems if _is_missing_field(p)]
    if missing:
        raise PolicyError(
            f"{where}: `{rule.when}` refers to a field that does not exist: {missing[0]} "
            "(use has(...) for optional scanner signals)"
        )
    if not ok:
        raise PolicyError(f"{where}: `{rule.when}` cannot be evaluated: {problems[0]}")


def _is_missing_field(problem: str) -> bool:
    lowered = problem.lower()
    return "no such field" in lowered or "no such key" in lowered


def _one_line(e: BaseException | str) -> str:
    text = " ".join(str(e).split())[:300]
    if not text and isinstance(e, BaseException):
        return e.__class__.__name__
    return text
