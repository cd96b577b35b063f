"""Terraform HCL (`*.tf`, `*.tf.json`, `*.tfvars`) → `Resource`s, one module directory at a time.

python-hcl2 parses each file into a rule tree that keeps line positions; this module walks
it (so every attribute keeps its own line), then evaluates each module statically:
variable defaults overridden by `terraform.tfvars`, `*.auto.tfvars` and configured var
files; `locals`; references between resources of the same module; simple `${...}`
interpolation; `jsonencode(...)` of literal structures; heredocs; `dynamic` blocks;
`aws_iam_policy_document` data sources rendered to policy documents; literal
`count`/`for_each` (a resource with `count = 0` or an empty `for_each` is not created);
and local-path modules (`source = "./modules/x"`) evaluated with the caller's inputs.

Whatever cannot be resolved becomes `Unknown` (with the referenced resource's address
when it is a reference to a computed attribute such as `aws_s3_bucket.logs.id`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from clearance.errors import MalformedInput
from clearance.scanners.iac.budget import DEFAULT_LIMITS, BudgetExceeded, Limits, StepCounter
from clearance.scanners.iac.model import Missing, Resource, Unevaluated, Unknown
from clearance.scanners.iac.parsers import hcl_fast, tf_expr

FAST = True
"""Use the fast reader for the common HCL shape (python-hcl2 for everything else)."""
_MAX_EVAL_DEPTH = 40
_MAX_FULL_GRAMMAR = 1_000_000
"""Characters above which a file the fast reader cannot read is refused (python-hcl2 needs
hundreds of bytes of memory per input character)."""

_REF = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_*][\w-]*|\[\s*(?:\d+|\"[^\"]*\"|\*)\s*\])*$")
_HEAD = re.compile(r"^[A-Za-z_][\w-]*")
_REF_PART = re.compile(r"\.([A-Za-z_*][\w-]*)|\[\s*(\d+|\"[^\"]*\"|\*)\s*\]")
_FUNC = re.compile(r"^(jsonencode|tolist|toset|flatten|concat|tomap)\((.*)\)$", re.S)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_FOR = re.compile(r"^[\[{]\s*for\s")
"""A `for` expression: straight to the expression evaluator (no literal parse to try)."""
_HEREDOC = re.compile(r"^<<(-?)([A-Za-z][\w.-]*)\r?\n(.*?)\r?\n?[ \t]*\2\s*$", re.S)
_COMPUTED = frozenset({"id", "arn", "json", "minified_json", "unique_id", "name_prefix"})


@dataclass
class _Attr:
    expr: Any
    line: int
    source: str = ""
    """The expression's source text (for lines inside `jsonencode({...})`)."""


@dataclass
class _Block:
    type: str
    labels: tuple[str, ...]
    path: str
    line: int
    end_line: int
    attrs: dict[str, _Attr] = field(default_factory=dict)
    blocks: list[_Block] = field(default_factory=list)


@dataclass
class _Module:
    directory: str
    blocks: list[_Block] = field(default_factory=list)
    tfvars: list[dict[str, Any]] = field(default_factory=list)


def parse_files(
    texts: Mapping[str, str],
    var_files: Mapping[str, str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[list[Resource], list[tuple[str, str]]]:
    """Parse every Terraform file and evaluate each root module directory.

    `texts` maps repo-relative paths (`*.tf`, `*.tf.json`, `*.tfvars`, `*.tfvars.json`) to
    their text; `var_files` are extra tfvars (settings.iac.var_files) applied to root
    modules; `limits` bound the work per root module. Returns the resources and per-file
    errors `(path, message)` (a budget that was hit is one of them, naming the file).
    """
    errors: list[tuple[str, str]] = []
    modules: dict[str, _Module] = {}
    for path in sorted(texts):
        directory = posixpath.dirname(path)
        module = modules.setdefault(directory, _Module(directory))
        try:
            if path.endswith((".tfvars", ".tfvars.json")):
                name = posixpath.basename(path)
                if name in ("terraform.tfvars", "terraform.tfvars.json") or name.endswith(
                    (".auto.tfvars", ".auto.tfvars.json")
                ):
                    module.tfvars.append(_parse_tfvars(path, texts[path]))
            elif path.endswith(".tf.json"):
                module.blocks.extend(_parse_tf_json(path, texts[path]))
            else:
                module.blocks.extend(_parse_hcl(path, texts[path]))
        except _HclError as e:
            errors.append((path, f"terraform: {e}"))
    extra_vars = []
    for vpath in sorted(var_files or {}):
        try:
            extra_vars.append(_parse_tfvars(vpath, (var_files or {})[vpath]))
        except _HclError as e:
            errors.append((vpath, f"terraform var file: {e}"))
    resources: list[Resource] = []
    for directory in _roots(modules):
        module = modules[directory]
        variables: dict[str, Any] = {}
        for tv in [*module.tfvars, *extra_vars]:
            variables.update(tv)
        evaluated: list[Resource] = []
        run = _Run(modules, StepCounter(limits), [])
        try:
            _evaluate(module, run, variables, "", (directory,), evaluated, overrides_only=False)
        except BudgetExceeded as e:
            # the root module's whole budget is spent: what was evaluated so far is kept
            first = min((b.path for b in module.blocks), default=directory)
            run.errors.append((first, f"terraform: module {directory or '.'}: {e}"))
        except (
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            AttributeError,
            RecursionError,
            ArithmeticError,
        ) as e:
            # an input shape the evaluator did not anticipate: report the module, keep scanning
            first = min((b.path for b in module.blocks), default=directory)
            errors.append(
                (first, f"terraform: could not evaluate module {directory or '.'} ({type(e).__name__}: {e})")
            )
            continue
        errors.extend(dict.fromkeys(run.errors))
        resources.extend(evaluated)
    return resources, errors


def _roots(modules: Mapping[str, _Module]) -> list[str]:
    """Module directories evaluated as roots: those no local module call points at, then any
    directory not reachable from them (modules that only call each other, in a cycle)."""
    calls = {d: [c for _, c in _local_calls(m)] for d, m in modules.items()}
    called = {c for targets in calls.values() for c in targets}
    roots = [d for d, m in modules.items() if d not in called and m.blocks]
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        stack.extend(c for c in calls.get(d, ()) if c in modules)
    roots.extend(d for d, m in modules.items() if d not in seen and m.blocks and d not in roots)
    return roots


def _local_calls(module: _Module) -> list[tuple[_Block, str]]:
    """The module blocks of `module` with a local source, and the directory each calls."""
    out = []
    for block in module.blocks:
        if block.type == "module" and block.labels and "source" in block.attrs:
            src = block.attrs["source"].expr
            if isinstance(src, str) and src.startswith(("./", "../")):
                target = posixpath.normpath(posixpath.join(module.directory, src))
                out.append((block, "" if target == "." else target))
    return out


@dataclass
class _Run:
    """The evaluation of one root module: every module, the shared budget, errors found."""

    modules: Mapping[str, _Module]
    counter: StepCounter
    errors: list[tuple[str, str]]


class _HclError(Exception):
    pass


# --- reading --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _options() -> Any:
    from hcl2.utils import SerializationOptions

    return SerializationOptions(
        with_comments=False, strip_string_quotes=True, explicit_blocks=False, preserve_heredocs=True
    )


def _parse_hcl(path: str, text: str) -> list[_Block]:
    split = None
    if FAST:
        fast = hcl_fast.parse(text)
        if fast is not None and all(node[0] for node in fast):
            return [_from_fast(node, path) for node in fast]
        if fast is None:
            split = hcl_fast.parse_blocks(text)
    if len(text) > _MAX_FULL_GRAMMAR:
        raise _HclError(
            f"{len(text):,} characters in a shape only the full HCL grammar reads: over its size budget "
            f"({_MAX_FULL_GRAMMAR:,}); not evaluated"
        )
    if split is not None and any(node is not None for _, _, node in split):
        mixed = _parse_mixed(path, text, split)
        if mixed is not None:
            return mixed
    return _parse_full(path, text, text)


def _parse_mixed(
    path: str, text: str, split: list[tuple[int, int, hcl_fast.Node | None]]
) -> list[_Block] | None:
    """The blocks the fast reader read, and the others through the full grammar, in file order.
    The full grammar gets the file with the fast reader's blocks blanked out (every character
    but a newline a space): lines and offsets stay those of the file. None (read the whole file
    with the full grammar) if that text does not parse — the error is then the whole file's."""
    chars = list(text)
    for start, end, node in split:
        if node is not None:
            chars[start:end] = [c if c == "\n" else " " for c in text[start:end]]
    try:
        full = _parse_full(path, "".join(chars), text)
    except _HclError:
        return None
    if len(full) != sum(node is None for _, _, node in split):
        return None
    rest = iter(full)
    return [_from_fast(node, path) if node is not None else next(rest) for _, _, node in split]


def _parse_full(path: str, text: str, source: str) -> list[_Block]:
    """python-hcl2 (the full grammar) over `text`; expression sources are cut from `source`
    (the same offsets)."""
    import hcl2

    try:
        tree = hcl2.parses(text)
    except Exception as e:  # lark raises many unrelated types; all mean "malformed"
        line = getattr(e, "line", None)
        where = f"line {line}: " if isinstance(line, int) and line > 0 else ""
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _HclError(f"{where}invalid HCL ({first[:200]})") from e
    try:
        return [b for b in _walk_body(tree.body, path, source) if isinstance(b, _Block)]
    except Exception as e:
        raise _HclError(f"invalid HCL ({type(e).__name__}: {str(e)[:200]})") from e


def _walk_body(body: Any, path: str, text: str = "") -> list[_Block | tuple[str, _Attr]]:
    from hcl2.rules.base import AttributeRule, BlockRule

    opts = _options()
    out: list[_Block | tuple[str, _Attr]] = []
    for child in body.children:
        if isinstance(child, AttributeRule):
            name = str(child.identifier.serialize(opts))
            meta = child.expression._meta
            source = text[meta.start_pos : meta.end_pos] if text and hasattr(meta, "start_pos") else ""
            out.append((name, _Attr(child.expression.serialize(opts), int(child._meta.line), source)))
        elif isinstance(child, BlockRule):
            labels = tuple(str(label.serialize(opts)) for label in child.labels)
            block = _Block(labels[0], labels[1:], path, int(child._meta.line), int(child._meta.end_line))
            for item in _walk_body(child.body, path, text):
                if isinstance(item, _Block):
                    block.blocks.append(item)
                else:
                    block.attrs[item[0]] = item[1]
            out.append(block)
    return out


def _parse_tfvars(path: str, text: str) -> dict[str, Any]:
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise _HclError(f"line {e.lineno}: invalid JSON ({e.msg})") from e
        if not isinstance(data, dict):
            raise _HclError("tfvars JSON must be an object")
        return data
    values: dict[str, Any] = {}
    scope = _Scope.empty()
    try:
        for item in _parse_hcl_items(path, text):
            if isinstance(item, tuple):
                values[item[0]] = _stored(scope, item[1].expr)
    except BudgetExceeded as e:
        raise _HclError(str(e)) from e
    return values


def _from_fast(node: tuple[str, tuple[str, ...], int, int, list[Any]], path: str) -> _Block:
    btype, labels, line, end, children = node
    block = _Block(btype, labels, path, line, end)
    for child in children:
        if len(child) == 3:
            raw = child[1]
            source = raw[2:-1] if isinstance(raw, str) and raw.startswith("${") else ""
            block.attrs[child[0]] = _Attr(raw, child[2], source)
        else:
            block.blocks.append(_from_fast(child, path))
    return block


def _parse_hcl_items(path: str, text: str) -> list[_Block | tuple[str, _Attr]]:
    if FAST:
        fast = hcl_fast.parse(text)
        if fast is not None and len(fast) == 1 and fast[0][0] == "":
            return [(name, _Attr(value, line)) for name, value, line in fast[0][4]]
    if len(text) > _MAX_FULL_GRAMMAR:
        raise _HclError(f"{len(text):,} characters: over the size budget of the full HCL grammar")
    import hcl2

    try:
        tree = hcl2.parses(text)
        return _walk_body(tree.body, path)
    except Exception as e:
        line = getattr(e, "line", None)
        where = f"line {line}: " if isinstance(line, int) and line > 0 else ""
        raise _HclError(f"{where}invalid HCL") from e


def _parse_tf_json(path: str, text: str) -> list[_Block]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _HclError(f"line {e.lineno}: invalid JSON ({e.msg})") from e
    if not isinstance(data, dict):
        raise _HclError("Terraform JSON must be an object")
    lines = text.splitlines()

    def line_of(*keys: str) -> int:
        start = 0
        for key in keys:
            needle = json.dumps(key) + ":"
            for i in range(start, len(lines)):
                if needle in lines[i].replace('": ', '":'):
                    start = i
                    break
        return start + 1

    def block(btype: str, labels: tuple[str, ...], body: Any, line: int) -> _Block:
        b = _Block(btype, labels, path, line, line)
        for item in body if isinstance(body, list) else [body]:
            if not isinstance(item, dict):
                continue
            for k, v in item.items():
                b.attrs[k] = _Attr(v, line)
        return b

    out: list[_Block] = []
    for kind in ("resource", "data"):
        for rtype, named in (data.get(kind) or {}).items():
            if isinstance(named, dict):
                for name, body in named.items():
                    out.append(block(kind, (rtype, name), body, line_of(kind, rtype, name)))
    for name, body in (data.get("variable") or {}).items():
        out.append(block("variable", (name,), body, line_of("variable", name)))
    for body in data.get("locals") or []:
        out.append(block("locals", (), body, line_of("locals")))
    if isinstance(data.get("locals"), dict):
        out.append(block("locals", (), data["locals"], line_of("locals")))
    for name, body in (data.get("module") or {}).items():
        out.append(block("module", (name,), body, line_of("module", name)))
    return out


# --- evaluation -----------------------------------------------------------------------


@dataclass
class _Scope:
    variables: Mapping[str, Any]
    local_exprs: Mapping[str, _Attr]
    resources: Mapping[str, _Block]
    locals_cache: dict[str, Any] = field(default_factory=dict)
    iterators: dict[str, Any] = field(default_factory=dict)
    evaluating: set[str] = field(default_factory=set)
    counter: StepCounter = field(default_factory=lambda: StepCounter(DEFAULT_LIMITS))
    prefix: str = ""
    """The module instance's address prefix (`module.a.`): references carry full addresses."""
    module: _Module | None = None
    run: _Run | None = None
    stack: tuple[str, ...] = ()
    called: dict[str, _Scope | None] = field(default_factory=dict)
    """Scopes of the module calls whose outputs were read (`module.x.y`), by call name."""

    @staticmethod
    def empty() -> _Scope:
        return _Scope({}, {}, {})

    def child(self, **iterators: Any) -> _Scope:
        merged = dict(self.iterators)
        merged.update(iterators)
        return dataclasses.replace(self, iterators=merged)


def _evaluate(
    module: _Module,
    run: _Run,
    inputs: Mapping[str, Any],
    prefix: str,
    stack: tuple[str, ...],
    out: list[Resource],
    overrides_only: bool,
    called: Instances = "certain",
) -> None:
    """Evaluate one module instance (`stack`: the module directories that led here;
    `called`: whether the module calls that led here are certainly made, see `Instances`).
    Every module instance of a root module shares one group (addresses are unique), so
    companions join across module boundaries."""
    scope = _module_scope(module, run, inputs, prefix, stack, overrides_only)
    group = f"tf:{stack[0]}"
    for address, b in scope.resources.items():
        run.counter.dynamic = 0
        try:
            instances, created = _instance_scopes(b, scope)
            evaluated = []
            for suffix, instance in instances:
                lines: dict[str, int] = {}
                evaluated.append((suffix, _eval_block(b, instance, "", lines, 0), lines))
        except BudgetExceeded as e:
            if e.budget == "max_steps":
                raise
            run.errors.append((b.path, f"terraform: {prefix}{address} (line {b.line}): {e}"))
            continue
        mode = "data" if b.type == "data" else "managed"
        for suffix, attrs, lines in evaluated:
            extra: dict[str, Any] = {"mode": mode}
            if prefix:
                extra["module"] = prefix.rstrip(".")
            state = _worst(created, called)
            if state != "certain":
                extra["instances"] = state
            out.append(
                Resource(
                    type=b.labels[0],
                    address=f"{prefix}{address}{suffix}",
                    path=b.path,
                    start_line=b.line,
                    end_line=b.end_line,
                    source="terraform",
                    attributes=attrs,
                    lines=lines,
                    group=group,
                    name=b.labels[1],
                    extra=extra,
                )
            )
    limits = run.counter.limits
    for b, child_dir in _local_calls(module):
        child = run.modules.get(child_dir)
        if child is None:
            continue
        where = f'module "{b.labels[0]}" (line {b.line})'
        if child_dir in stack:
            cycle = " -> ".join(d or "." for d in (*stack[stack.index(child_dir) :], child_dir))
            run.errors.append(
                (
                    b.path,
                    f"terraform: {where}: modules call each other in a cycle ({cycle}); not evaluated again",
                )
            )
            continue
        if len(stack) > limits.max_module_depth:
            run.errors.append(
                (
                    b.path,
                    f"terraform: {where}: "
                    + str(BudgetExceeded("max_module_depth", limits.max_module_depth, "module nesting")),
                )
            )
            continue
        # every instance of the call (`count`/`for_each`; none for `count = 0`) is evaluated,
        # each one a module instance against the budget: a second instance is not a blind spot
        instances, created = _instance_scopes(b, scope)
        for n in range(max(len(instances), 1)):
            run.counter.instances += 1
            if run.counter.instances > limits.max_module_instances:
                raise BudgetExceeded(
                    "max_module_instances",
                    limits.max_module_instances,
                    f"module calls (at {b.path}:{b.line})",
                )
            if not instances:
                break  # `count = 0`, an empty `for_each`...: the call is counted, nothing is created
            suffix, call_scope = instances[n]
            _evaluate(
                child,
                run,
                _call_inputs(b, call_scope),
                f"{prefix}module.{b.labels[0]}{suffix}.",
                (*stack, child_dir),
                out,
                True,
                _worst(created, called),
            )


def _module_scope(
    module: _Module,
    run: _Run,
    inputs: Mapping[str, Any],
    prefix: str,
    stack: tuple[str, ...],
    overrides_only: bool,
) -> _Scope:
    """Variables (defaults, then inputs), locals and resources of one module instance."""
    variables: dict[str, Any] = {}
    local_exprs: dict[str, _Attr] = {}
    resources: dict[str, _Block] = {}
    empty = _Scope.empty()
    empty.counter = run.counter
    for b in module.blocks:
        if b.type == "variable" and b.labels:
            default = b.attrs.get("default")
            variables[b.labels[0]] = (
                _stored(empty, default.expr) if default else Unknown(f"var.{b.labels[0]}")
            )
        elif b.type == "locals":
            local_exprs.update(b.attrs)
        elif b.type == "resource" and len(b.labels) == 2:
            resources[f"{b.labels[0]}.{b.labels[1]}"] = b
        elif b.type == "data" and len(b.labels) == 2:
            resources[f"data.{b.labels[0]}.{b.labels[1]}"] = b
    for name, value in inputs.items():
        if name in variables or not overrides_only:
            variables[name] = value
    return _Scope(
        variables,
        local_exprs,
        resources,
        counter=run.counter,
        prefix=prefix,
        module=module,
        run=run,
        stack=stack,
    )


def _call_inputs(block: _Block, scope: _Scope) -> dict[str, Any]:
    return {
        k: _stored(scope, a.expr)
        for k, a in block.attrs.items()
        if k not in ("source", "version", "count", "for_each", "providers", "depends_on")
    }


Instances = Literal["certain", "capped", "unknown", "unevaluated"]
"""Whether a block's instances are known: `certain`; `unknown` (its `count`/`for_each`, or a
module call's, depends on a value supplied at apply time: findings are low confidence);
`unevaluated` (the evaluator gave up on it although the file fixes it: findings keep their
confidence and the block is reported); `capped` (known, but only the first `max_instances`
are evaluated: reported)."""

_ORDER = {"certain": 0, "capped": 1, "unknown": 2, "unevaluated": 3}


def _worst(a: Instances, b: Instances) -> Instances:
    """The state that wins: could not evaluate > unknown > capped > certain (fail closed)."""
    return a if _ORDER[a] >= _ORDER[b] else b


def _stored(scope: _Scope, raw: Any, depth: int = 0) -> Any:
    """`raw` evaluated for keeping (a variable default or input, a tfvars value, a local, a
    block attribute): when the evaluator gave up on part of it, its unknowns are marked
    `Unevaluated` so that every later read of it counts as a refusal too."""
    before = scope.counter.refusals
    value = _ev(raw, scope, depth)
    return _mark(value) if scope.counter.refusals != before else value


def _mark(value: Any) -> Any:
    """`value` with each `Unknown` in it (not `Missing`, an error `try()` moves past) as `Unevaluated`."""
    if isinstance(value, Unknown):
        return value if isinstance(value, Unevaluated | Missing) else Unevaluated(value.expr, value.ref)
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark(v) for v in value]
    return value


def _refused(block: _Block, reason: str) -> str:
    what = "count" if "count" in block.attrs else "for_each"
    return (
        f"`{what}` could not be evaluated ({reason}); evaluated as one instance, its findings are not lowered"
    )


def _module_output(name: str, parts: list[str], scope: _Scope, depth: int, expr: str) -> Any:
    """`module.<name>[...].<output>...`: the called module's output, evaluated in its scope."""
    if name not in scope.called:
        scope.called[name] = None  # an output read while its module's inputs are evaluated: unknown
        scope.called[name] = _called_scope(name, scope)
    child = scope.called[name]
    rest = [p for p in parts if not (p.isdigit() or p == "*" or p.startswith('"'))]
    if child is None or child.module is None or not rest:
        return Unknown(expr)
    output = next(
        (b for b in child.module.blocks if b.type == "output" and b.labels and b.labels[0] == rest[0]), None
    )
    if output is None or "value" not in output.attrs:
        return Unknown(expr)
    key = f"{child.prefix}output.{rest[0]}"
    if key in scope.evaluating:
        return Unknown(expr)
    scope.evaluating.add(key)
    try:
        value = _ev(output.attrs["value"].expr, child, depth + 1)
    finally:
        scope.evaluating.discard(key)
    return _follow(value, rest[1:], expr)


def _called_scope(name: str, scope: _Scope) -> _Scope | None:
    if scope.module is None or scope.run is None:
        return None
    for block, child_dir in _local_calls(scope.module):
        if block.labels[0] != name:
            continue
        child = scope.run.modules.get(child_dir)
        limits = scope.counter.limits
        if child is None or child_dir in scope.stack or len(scope.stack) > limits.max_module_depth:
            return None
        instance, _ = _instance_scope(block, scope)
        if instance is None:
            return None
        return _module_scope(
            child,
            scope.run,
            _call_inputs(block, instance),
            f"{scope.prefix}module.{name}.",
            (*scope.stack, child_dir),
            True,
        )
    return None


def _instance_scopes(block: _Block, scope: _Scope) -> tuple[list[tuple[str, _Scope]], Instances]:
    """Every instance of a resource block as (address suffix, scope), and whether that set is
    certain (see `Instances`; a `capped` or `unevaluated` block is reported here). One
    instance keeps the block's plain address (`x`, as Terraform's single `count = 1`
    instance is usually referred to); several get `[i]` / `["key"]`."""
    if "count" in block.attrs:
        before = scope.counter.refusals
        count = _number(_ev(block.attrs["count"].expr, scope, 0))
        if isinstance(count, int | float) and not isinstance(count, bool):
            n = int(count)
            if n <= 0:
                return [], "certain"
            if n == 1:
                return [("", scope.child(count={"index": 0}))], "certain"
            cap = scope.counter.limits.max_instances
            shown = [(f"[{i}]", scope.child(count={"index": i})) for i in range(min(n, cap))]
            return shown, _capped(block, scope, n)
        if _not_from_inputs(count, before, scope.counter):
            _report_refused(block, scope, _reason(count, before, scope.counter))
            return [("", scope.child(count={"index": 0}))], "unevaluated"
        return [("", scope.child(count={"index": 0}))], "unknown"
    if "for_each" in block.attrs:
        before = scope.counter.refusals
        each = _stored(scope, block.attrs["for_each"].expr)  # known instances, refused values marked
        pairs: list[tuple[Any, Any]] | None = None
        if isinstance(each, dict):
            pairs = list(each.items())
        elif isinstance(each, list):
            if all(isinstance(v, str | int | float) for v in each):
                pairs = [(v, v) for v in dict.fromkeys(each)]
            else:  # unknown or structured elements: one instance each, keyed by position
                pairs = [(Unknown("each.key"), v) for v in each]
        elif each is None:
            pairs = []
        if pairs is None:
            if _not_from_inputs(each, before, scope.counter):
                _report_refused(block, scope, _reason(each, before, scope.counter))
                return [("", scope.child(each=_unevaluated_iterator("each")))], "unevaluated"
            return [
                ("", scope.child(each={"key": Unknown("each.key"), "value": Unknown("each.value")}))
            ], "unknown"
        if not pairs:
            return [], "certain"
        if len(pairs) == 1:
            k, v = pairs[0]
            return [("", scope.child(each={"key": k, "value": v}))], "certain"
        shown_pairs = pairs[: scope.counter.limits.max_instances]
        return [
            (
                f"[{i}]" if isinstance(k, Unknown) else f"[{json.dumps(str(k))}]",
                scope.child(each={"key": k, "value": v}),
            )
            for i, (k, v) in enumerate(shown_pairs)
        ], _capped(block, scope, len(pairs))
    return [("", scope)], "certain"


def _capped(block: _Block, scope: _Scope, n: int) -> Instances:
    """`certain`, or `capped` (reported) when the block has more instances than are evaluated
    (`[iac.limits] max_instances`: `count = 3`, a `for_each` over three keys are three resources,
    `x[0]`…, `x["key"]`; beyond the limit the first ones are, the others are not checked)."""
    cap = scope.counter.limits.max_instances
    if n <= cap:
        return "certain"
    if scope.run is not None:
        scope.run.errors.append(
            (
                block.path,
                f"terraform: {_address(block, scope)} (line {block.line}): {n} instances; only the first "
                f"{cap} are evaluated (`[iac.limits] max_instances`), the others are not checked",
            )
        )
    return "capped"


def _report_refused(block: _Block, scope: _Scope, reason: str) -> None:
    if scope.run is not None:
        scope.run.errors.append(
            (
                block.path,
                f"terraform: {_address(block, scope)} (line {block.line}): {_refused(block, reason)}",
            )
        )


def _address(block: _Block, scope: _Scope) -> str:
    labels = ".".join(block.labels)
    kind = "" if block.type == "resource" else f"{block.type}."
    return f"{scope.prefix}{kind}{labels}"


def _number(value: Any) -> Any:
    """A `count` written as a numeric string (`"2"`) as its number, as Terraform converts it;
    an infinity or NaN (`count = 1e999`) as `Unevaluated`."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return Unevaluated(f"count = {value}")
    return value


def _not_from_inputs(value: Any, before: int, counter: StepCounter) -> bool:
    """True when a `count`/`for_each` that gave no instances is not unknown because of an
    input: the evaluator gave up on part of it (`refusals` moved since `before`), it is
    `Unevaluated` or an error (`Missing`), or a known value of the wrong type (`count =
    "x"`, `for_each = 3`: Terraform rejects it). `null` counts as an input (a variable that
    defaults to null must be set)."""
    if counter.refusals != before:
        return True
    if value is None:
        return False
    return not isinstance(value, Unknown) or isinstance(value, Unevaluated | Missing)


def _reason(value: Any, before: int, counter: StepCounter) -> str:
    """Why a `count`/`for_each` could not be used: the latest refusal while evaluating it, or
    the value itself."""
    if counter.refusals != before:
        return counter.refused_what
    if isinstance(value, Unknown):
        return value.expr or "unknown"
    return f"{_short(repr(value))}: not a valid value here"


def _unevaluated_iterator(name: str) -> dict[str, Any]:
    return {"key": Unevaluated(f"{name}.key"), "value": Unevaluated(f"{name}.value")}


def _instance_scope(block: _Block, scope: _Scope) -> tuple[_Scope | None, Instances]:
    """The scope of the first instance of a module call (None when `count`/`for_each`
    creates none), for reading its outputs, and whether that is certain (see `Instances`)."""
    if "count" in block.attrs:
        before = scope.counter.refusals
        count = _number(_ev(block.attrs["count"].expr, scope, 0))
        if isinstance(count, int | float) and not isinstance(count, bool):
            return (None, "certain") if count <= 0 else (scope.child(count={"index": 0}), "certain")
        refused = _not_from_inputs(count, before, scope.counter)
        return scope.child(count={"index": 0}), "unevaluated" if refused else "unknown"
    if "for_each" in block.attrs:
        before = scope.counter.refusals
        each = _stored(scope, block.attrs["for_each"].expr)
        if isinstance(each, dict):
            if not each:
                return None, "certain"
            k = next(iter(each))
            return scope.child(each={"key": k, "value": each[k]}), "certain"
        if isinstance(each, list):
            if not each:
                return None, "certain"
            return scope.child(each={"key": each[0], "value": each[0]}), "certain"
        if each is None:
            return None, "certain"
        if _not_from_inputs(each, before, scope.counter):
            return scope.child(each=_unevaluated_iterator("each")), "unevaluated"
        return scope.child(each={"key": Unknown("each.key"), "value": Unknown("each.value")}), "unknown"
    return scope, "certain"


def _eval_block(block: _Block, scope: _Scope, path: str, lines: dict[str, int], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in block.attrs.items():
        p = f"{path}.{name}" if path else name
        lines[p] = attr.line
        out[name] = _stored(scope, attr.expr, depth)
        if attr.source.startswith("jsonencode(") or (
            isinstance(attr.expr, str) and attr.expr.startswith("<<")
        ):
            _document_lines(attr, out[name], p, lines)
    for nested in block.blocks:
        if nested.type == "dynamic" and nested.labels:
            name = nested.labels[0]
            _expand_dynamic(nested, name, scope, path, lines, depth, out)
            continue
        items = out.setdefault(nested.type, [])
        if not isinstance(items, list):
            continue
        p = f"{path}.{nested.type}" if path else nested.type
        lines.setdefault(p, nested.line)
        idx = f"{p}.{len(items)}"
        lines[idx] = nested.line
        items.append(_eval_block(nested, scope, idx, lines, depth))
    return out


def _document_lines(attr: _Attr, value: Any, path: str, lines: dict[str, int]) -> None:
    """Lines inside a `jsonencode({...})` object or a JSON heredoc (a policy's
    `Statement.0.Action`), so findings point at the statement, not the attribute."""
    source = attr.source
    if source.startswith("jsonencode(") and source.rstrip().endswith(")"):
        ok, _, nested = hcl_fast.parse_value_lines(source.rstrip()[len("jsonencode(") : -1])
        if ok:
            for sub, rel in nested.items():
                lines[f"{path}.{sub}"] = attr.line + rel - 1
    elif isinstance(value, str) and value.lstrip().startswith("{") and len(value) < 200_000:
        from clearance.safe_yaml import load_json

        try:
            doc = load_json(value)
        except MalformedInput:
            return
        for sub, rel in doc.lines.items():
            lines[f"{path}.{sub}"] = attr.line + rel  # the heredoc body starts on the next line


def _expand_dynamic(
    dyn: _Block, name: str, scope: _Scope, path: str, lines: dict[str, int], depth: int, out: dict[str, Any]
) -> None:
    content = next((b for b in dyn.blocks if b.type == "content"), None)
    if content is None:
        return
    iterator = name
    if "iterator" in dyn.attrs and isinstance(dyn.attrs["iterator"].expr, str):
        iterator = dyn.attrs["iterator"].expr.removeprefix("${").removesuffix("}")
    before = scope.counter.refusals
    # known blocks, values the evaluator gave up on marked
    for_each = _stored(scope, dyn.attrs["for_each"].expr, depth) if "for_each" in dyn.attrs else Unknown()
    if isinstance(for_each, dict):
        pairs: list[tuple[Any, Any]] = list(for_each.items())
    elif isinstance(for_each, list):
        pairs = list(enumerate(for_each))
    elif "for_each" in dyn.attrs and _not_from_inputs(for_each, before, scope.counter):
        if scope.run is not None:
            scope.run.errors.append(
                (
                    dyn.path,
                    f'terraform: dynamic "{name}" (line {dyn.line}): `for_each` could not be evaluated '
                    f"({_reason(for_each, before, scope.counter)}); its content is checked once, "
                    "its findings are not lowered",
                )
            )
        pairs = [(Unevaluated(f"{iterator}.key"), Unevaluated(f"{iterator}.value"))]
    else:
        pairs = [(Unknown(f"{iterator}.key"), Unknown(f"{iterator}.value"))]
    items = out.setdefault(name, [])
    if not isinstance(items, list):
        return
    p = f"{path}.{name}" if path else name
    lines.setdefault(p, dyn.line)
    for key, value in pairs:
        scope.counter.made_dynamic_block()
        idx = f"{p}.{len(items)}"
        lines[idx] = content.line
        items.append(
            _eval_block(content, scope.child(**{iterator: {"key": key, "value": value}}), idx, lines, depth)
        )


def _ev(raw: Any, scope: _Scope, depth: int) -> Any:
    if depth > _MAX_EVAL_DEPTH:
        scope.counter.refuse("expression too deep")
        return Unknown("expression too deep")
    scope.counter.step()
    if isinstance(raw, str):
        return _ev_string(raw, scope, depth + 1)
    if isinstance(raw, list):
        return [_ev(x, scope, depth + 1) for x in raw]
    if isinstance(raw, dict):
        return {str(k): _ev(v, scope, depth + 1) for k, v in raw.items() if k != "__is_block__"}
    return raw


def _ev_string(raw: str, scope: _Scope, depth: int) -> Any:
    if raw.startswith("<<"):
        m = _HEREDOC.match(raw)
        if m:
            body = m.group(3)
            if m.group(1) == "-":
                body = _dedent(body)
            raw = body
    if "${" not in raw and "%{" not in raw:
        return raw
    if "%{" in raw:
        scope.counter.refuse("a template directive (%{...})")
        return Unknown(_short(raw))
    spans = _interpolations(raw)
    if spans is None:
        scope.counter.refuse("an unterminated interpolation")
        return Unknown(_short(raw))
    if len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(raw):
        return _ev_expr(raw[2:-1].strip(), scope, depth)
    parts: list[str] = []
    pos = 0
    size = 0
    for start, end in spans:
        parts.append(raw[pos:start])
        value = _ev_expr(raw[start + 2 : end - 1].strip(), scope, depth)
        if isinstance(value, bool):
            parts.append("true" if value else "false")
        elif isinstance(value, str | int | float):
            parts.append(str(value))
        else:
            ref = value.ref if isinstance(value, Unknown) else None
            return Unknown(_short(raw), ref)
        size += len(parts[-1]) + start - pos
        scope.counter.check_string(size)
        pos = end
    parts.append(raw[pos:])
    return "".join(parts)


def _interpolations(raw: str) -> list[tuple[int, int]] | None:
    """(start, end) of each `${...}` (end exclusive), honouring nested braces and strings."""
    spans = []
    i = 0
    n = len(raw)
    while i < n:
        j = raw.find("${", i)
        if j < 0:
            break
        if j > 0 and raw[j - 1] == "$":  # `$${` is an escaped literal
            i = j + 2
            continue
        close = tf_expr.closing_brace(raw, j + 2)
        if close is None:
            return None
        spans.append((j, close + 1))
        i = close + 1
    return spans


def _ev_expr(expr: str, scope: _Scope, depth: int) -> Any:
    if _REF.match(expr):
        return _ev_ref(expr, scope, depth)
    if _NUMBER.match(expr):
        return float(expr) if "." in expr else int(expr)
    if expr in ("true", "false"):
        return expr == "true"
    if expr == "null":
        return None
    if expr.startswith('"') and expr.endswith('"') and '"' not in expr[1:-1]:
        return _ev_string(expr[1:-1], scope, depth)
    m = _FUNC.match(expr)
    if m:
        inner = _parse_expression(m.group(2))
        if inner is not _UNPARSED:
            value = _ev(inner, scope, depth + 1)
            fn = m.group(1)
            if fn in ("jsonencode", "tolist", "toset", "tomap"):
                return value
            if fn in ("flatten", "concat") and isinstance(value, list):
                flat: list[Any] = []
                for v in value:
                    flat.extend(v if isinstance(v, list) else [v])
                    scope.counter.step(len(v) if isinstance(v, list) else 1)
                return flat
    elif expr.startswith(("[", "{")) and not _FOR.match(expr):
        inner = _parse_expression(expr)
        if inner is not _UNPARSED and not (isinstance(inner, str) and inner.startswith("${")):
            return _ev(inner, scope, depth + 1)
        # a `for` expression (or another shape only the expression evaluator reads): below
    if depth > _MAX_EVAL_DEPTH:
        scope.counter.refuse("expression too deep")
        return Unknown("expression too deep")
    return tf_expr.evaluate(
        expr,
        tf_expr.Callbacks(
            ref=lambda text: _ev_ref(text, scope, depth + 1),
            collection=lambda text: _ev_expr(text, scope, depth + 1),
            template=lambda text: _ev_string(text, scope, depth + 1),
            step=scope.counter.step,
            refuse=scope.counter.refuse,
        ),
    )


_UNPARSED = object()


@functools.lru_cache(maxsize=4096)
def _parse_expression_cached(expr: str) -> str:
    return _parse_expression_uncached(expr)


def _parse_expression_uncached(expr: str) -> str:
    import hcl2

    try:
        parsed = hcl2.loads(f"v = {expr}\n", serialization_options=_options())
    except Exception:
        return "\x00"
    return json.dumps(parsed.get("v"))


def _parse_expression(expr: str) -> Any:
    """An HCL expression (object/tuple literal, possibly multi-argument) as raw values."""
    if len(expr) > 100_000:
        return _UNPARSED
    if FAST:
        ok, value = hcl_fast.parse_value(expr)
        if ok:
            return value
    text = _parse_expression_cached(expr) if len(expr) <= 2_000 else _parse_expression_uncached(expr)
    if text == "\x00":
        return _UNPARSED
    return json.loads(text)


def _ev_ref(expr: str, scope: _Scope, depth: int) -> Any:
    m = _HEAD.match(expr)
    if m is None:
        return Unknown(expr)
    head = m.group(0)
    parts = [a or b.strip('"') for a, b in _REF_PART.findall(expr[m.end() :])]
    if head == "var":
        if not parts:
            return Unknown(expr)
        value = _follow(scope.variables.get(parts[0], Unknown(expr)), parts[1:], expr)
        scope.counter.charge(value)
        return _read(value, scope)
    if head == "local":
        if not parts:
            return Unknown(expr)
        value = _follow(_local(parts[0], scope, depth), parts[1:], expr)
        scope.counter.charge(value)
        return _read(value, scope)
    if head in scope.iterators:
        return _read(_follow(scope.iterators[head], parts, expr), scope)
    if head == "module" and parts:
        return _module_output(parts[0], parts[1:], scope, depth, expr)
    if head in ("each", "count", "self", "path", "terraform", "module"):
        return Unknown(expr)
    if head == "data":
        if len(parts) < 2:
            return Unknown(expr)
        address = f"data.{parts[0]}.{parts[1]}"
        attr_parts = [p for p in parts[2:] if not p.isdigit() and p != "*"]
        block = scope.resources.get(address)
        if block is None:
            return Unknown(expr)
        if parts[0] == "aws_iam_policy_document" and attr_parts[:1] in (["json"], ["minified_json"]):
            return _render_policy_document(block, scope, depth)
        return _resource_attr(block, address, attr_parts, scope, depth, expr)
    if not parts:
        return Unknown(expr)
    address = f"{head}.{parts[0]}"
    block = scope.resources.get(address)
    if block is None:
        return Unknown(expr)
    attr_parts = [p for p in parts[1:] if not (p.isdigit() or p == "*" or (p and p[0] == '"'))]
    return _resource_attr(block, address, attr_parts, scope, depth, expr)


def _read(value: Any, scope: _Scope) -> Any:
    """A stored value being read: reading one the evaluator gave up on is a refusal again
    (the expression reading it would otherwise pass for "unknown until apply")."""
    if isinstance(value, Unevaluated):
        scope.counter.refuse(value.expr)
    return value


def _resource_attr(
    block: _Block, address: str, parts: list[str], scope: _Scope, depth: int, expr: str
) -> Any:
    full = scope.prefix + address
    if not parts or parts[0] in _COMPUTED or parts[0] not in block.attrs:
        return Unknown(expr, full)
    key = f"{full}.{parts[0]}"
    if key in scope.evaluating:
        scope.counter.refuse(f"{expr}: a cycle")
        return Unknown(expr, full)
    scope.evaluating.add(key)
    try:
        value = _ev(block.attrs[parts[0]].expr, scope, depth + 1)
    finally:
        scope.evaluating.discard(key)
    result = _follow(value, parts[1:], expr)
    if isinstance(result, Unknown):
        return Unknown(expr, full)
    return result


def _local(name: str, scope: _Scope, depth: int) -> Any:
    if name in scope.locals_cache:
        return scope.locals_cache[name]
    attr = scope.local_exprs.get(name)
    if attr is None:
        return Unknown(f"local.{name}")
    key = f"local.{name}"
    if key in scope.evaluating:
        scope.counter.refuse(f"{key}: a cycle")
        return Unknown(key)
    scope.evaluating.add(key)
    before = scope.counter.refusals
    try:
        value = _ev(attr.expr, scope, depth + 1)
    finally:
        scope.evaluating.discard(key)
    if scope.counter.refusals != before:
        value = _mark(value)
    if not scope.iterators:
        scope.locals_cache[name] = value
    return value


def _follow(value: Any, parts: list[str], expr: str) -> Any:
    for part in parts:
        if isinstance(value, Unknown):
            return (
                Unevaluated(expr, value.ref) if isinstance(value, Unevaluated) else Unknown(expr, value.ref)
            )
        if isinstance(value, dict):
            if part not in value:
                return Missing(expr)  # Terraform: "This object does not have an attribute named ..."
            value = value[part]
        elif isinstance(value, list):
            if part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif part.isdigit():
                return Missing(expr)
            else:
                return Unknown(expr)
        elif value is None:
            return Missing(expr)  # attribute of null
        else:
            return Unknown(expr)
    return value


def _render_policy_document(block: _Block, scope: _Scope, depth: int) -> Any:
    """`data.aws_iam_policy_document.x.json` as the policy document (a dict)."""
    lines: dict[str, int] = {}
    body = _eval_block(block, scope, "", lines, depth + 1)
    statements = []
    for st in body.get("statement", []) if isinstance(body.get("statement"), list) else []:
        st = {k: v for k, v in st.items() if v is not None}  # `null` arguments are unset
        out: dict[str, Any] = {"Effect": st.get("effect", "Allow")}
        if "sid" in st:
            out["Sid"] = st["sid"]
        for src, dst in (
            ("actions", "Action"),
            ("not_actions", "NotAction"),
            ("resources", "Resource"),
            ("not_resources", "NotResource"),
        ):
            if src in st:
                out[dst] = st[src]
        for src, dst in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
            if isinstance(st.get(src), list) and st[src]:
                principal: dict[str, Any] = {}
                for p in st[src]:
                    ptype = p.get("type", "AWS")
                    ids = p.get("identifiers", [])
                    principal.setdefault(str(ptype), []).extend(ids if isinstance(ids, list) else [ids])
                out[dst] = "*" if principal == {"*": ["*"]} else principal
        if isinstance(st.get("condition"), list) and st["condition"]:
            cond: dict[str, Any] = {}
            for c in st["condition"]:
                cond.setdefault(str(c.get("test")), {})[str(c.get("variable"))] = c.get("values")
            out["Condition"] = cond
        statements.append(out)
    merged: list[Any] = []
    for doc in _as_documents(body.get("source_policy_documents")):
        merged.extend(doc)
    merged.extend(statements)
    for doc in _as_documents(body.get("override_policy_documents")):
        merged.extend(doc)
    return {"Version": body.get("version", "2012-10-17"), "Statement": merged}


def _as_documents(value: Any) -> list[list[Any]]:
    """Statement lists of `source_policy_documents` / `override_policy_documents` entries."""
    out: list[list[Any]] = []
    for doc in value if isinstance(value, list) else []:
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except json.JSONDecodeError:
                continue
        if isinstance(doc, dict):
            sts = doc.get("Statement")
            out.append(sts if isinstance(sts, list) else [sts] if isinstance(sts, dict) else [])
    return out


def _dedent(body: str) -> str:
    rows = body.split("\n")
    indents = [len(r) - len(r.lstrip()) for r in rows if r.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(r[cut:] for r in rows)


def _short(expr: str) -> str:
    return expr if len(expr) <= 80 else expr[:79] + "…"
