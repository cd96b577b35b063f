"""The parsed-resource abstraction every IaC parser produces and every rule reads.

Parsers (Terraform HCL, plan JSON, CloudFormation, Kubernetes, Dockerfile, IAM JSON) turn
a file into `Resource`s: a type, a stable address, where it is, and its attributes as
plain nested dicts/lists/scalars. Attribute paths are dotted, list items by index
(`ingress.0.cidr_blocks`, `spec.template.spec.containers.1.securityContext.privileged`);
`Resource.lines` maps such paths to the 1-based line where the attribute is written, so a
finding points at the offending attribute and not at the resource start.

What a parser cannot resolve (a variable without a value, a function call, a computed id)
is an `Unknown` value, never a guess. Rules treat `Unknown` as "cannot tell": they do not
fire on it as a certainty (see docs/iac.md, "Unknown values").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SourceKind = Literal["terraform", "plan", "cloudformation", "kubernetes", "dockerfile", "iam-json"]
"""Which syntax a resource was parsed from."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value the parser could not resolve statically.

    `expr` is the source expression (for messages, e.g. `var.cidr`), `ref` the address of
    the resource it refers to when it is a reference to another resource's computed
    attribute (e.g. `aws_s3_bucket.logs` for `aws_s3_bucket.logs.id`), used for joins.
    """

    expr: str = ""
    ref: str | None = None

    def __repr__(self) -> str:
        return f"Unknown({self.expr!r})" if self.expr else "Unknown()"

    def __str__(self) -> str:
        return f"<unknown: {self.expr}>" if self.expr else "<unknown>"


@dataclass(frozen=True, slots=True)
class Missing(Unknown):
    """An expression Terraform would reject rather than leave unknown: an attribute or key
    that a known object lacks, an index past the end of a known list, a conversion of a value
    that cannot be converted. `try()` moves on to its next argument and `can()` is false;
    everywhere else it is just unknown."""


@dataclass(frozen=True, slots=True)
class Unevaluated(Unknown):
    """A value the file fixes but the scanner did not compute: an evaluation budget or a size
    refusal (`range()` over a billion items), a function or syntax the evaluator does not
    implement, a cycle. A plain `Unknown` is supplied at apply time (a variable without a
    value, a data source, a computed attribute) and is a precision matter: findings on it are
    low confidence. An `Unevaluated` says nothing about the inputs and is in the author's
    hands, so it must not lower a finding: the scanner keeps the finding's confidence and
    severity and reports what it could not evaluate (docs/iac.md, "Could not evaluate")."""

    def __repr__(self) -> str:
        return f"Unevaluated({self.expr!r})"

    def __str__(self) -> str:
        return f"<not evaluated: {self.expr}>" if self.expr else "<not evaluated>"


UNKNOWN = Unknown()
"""The anonymous unknown value."""


def first_unevaluated(value: object, _depth: int = 0, *, references: bool = True) -> Unevaluated | None:
    """The first `Unevaluated` in a value (itself, or inside its lists and dicts), else None.

    `references=False` skips one that is a reference to a resource of the configuration
    (`aws_iam_role.x.arn`, marked because something else in the same attribute was refused):
    what it designates is known (that resource), so a rule need not read it at its worst."""
    if isinstance(value, Unevaluated):
        return value if references or value.ref is None else None
    if _depth > 64:
        return None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    for item in items:
        found = first_unevaluated(item, _depth + 1, references=references)
        if found is not None:
            return found
    return None


def is_unknown(value: object) -> bool:
    """True if `value` is an `Unknown` (use this rather than truthiness: Unknown is truthy)."""
    return isinstance(value, Unknown)


_MISSING = object()


@dataclass(frozen=True, slots=True)
class Resource:
    """One parsed resource (or data source, manifest object, Dockerfile stage...).

    - `type`: provider type (`aws_s3_bucket`, `Deployment`, `dockerfile`); CloudFormation
      resources of types that rules know are normalized to the Terraform type and shape
      (`AWS::S3::Bucket` → `aws_s3_bucket`), the original type kept in `extra["cfn_type"]`.
    - `address`: stable, human name: `aws_s3_bucket.logs`, `module.net.aws_vpc.main`,
      `data.aws_iam_policy_document.x`, `Deployment/default/api`, `Dockerfile/stage:1`.
    - `path`: repo-relative POSIX path of the file the resource is written in.
    - `attributes`: plain nested values (dict/list/str/int/float/bool/None/Unknown).
    - `lines`: dotted attribute path → 1-based line (see `line_of`).
    - `group`: the join scope (Terraform: the root module directory, all its module
      instances included — addresses are unique; a plan: the file; other kinds: the file).
      Rules joining resources only look inside one group.
    - `extra`: parser-specific facts: `{"mode": "data"}`, `{"action": "create"}` (plan),
      `{"cfn_type": "AWS::S3::Bucket"}`, `{"module": "module.net"}`.
    """

    type: str
    address: str
    path: str
    start_line: int
    source: SourceKind
    attributes: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)
    end_line: int | None = None
    group: str = ""
    name: str = ""
    """The local name (`logs` in `aws_s3_bucket.logs`; `api` for a Deployment)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def get(self, path: str, default: Any = None) -> Any:
        """The value at a dotted attribute path (`versioning.0.enabled`), or `default`."""
        value = lookup(self.attributes, path, _MISSING)
        return default if value is _MISSING else value

    def has(self, path: str) -> bool:
        """True if the attribute path is present (even if its value is None or Unknown)."""
        return lookup(self.attributes, path, _MISSING) is not _MISSING

    def line_of(self, path: str) -> int:
        """Line of the attribute, else of its nearest written ancestor, else the resource start."""
        parts = path.split(".") if path else []
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return line
            parts.pop()
        return self.start_line

    @property
    def is_data(self) -> bool:
        """True for Terraform data sources."""
        return self.extra.get("mode") == "data"


def lookup(value: Any, path: str, default: Any = None) -> Any:
    """Follow a dotted path through nested dicts and lists (numeric parts index lists)."""
    if not path:
        return value
    if "." not in path and isinstance(value, dict):
        return value.get(path, default)
    current = value
    for part in path.split("."):
        # `type() is dict` first: parsers build plain dicts, and `isinstance(_, Mapping)` goes
        # through the abc machinery (this loop runs ~230k times per corpus scan).
        if type(current) is dict or isinstance(current, Mapping):
            if part not in current:
                return default
            current = current[part]
        elif isinstance(current, list | tuple):
            if not part.isdigit() or int(part) >= len(current):
                return default
            current = current[int(part)]
        else:
            return default
    return current


def blocks(value: Any) -> list[Mapping[str, Any]]:
    """A nested block as a list of dicts whatever its written shape (dict, list of dicts, absent)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def iter_blocks(resource: Resource, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(dotted path of each block, block) for a repeated nested block, e.g. `ingress`.

    A block written once as a dict yields `(path, block)`; a list yields `(path.N, block)`.
    """
    value = resource.get(path)
    if isinstance(value, Mapping):
        yield path, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                yield f"{path}.{i}", item


def as_list(value: Any) -> list[Any]:
    """A scalar as a one-element list, a list as itself, None as empty."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def truthy(value: Any) -> bool | None:
    """Terraform/YAML-ish boolean: True/False, or None when unknown or not a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
    if isinstance(value, int):
        return bool(value)
    return None
