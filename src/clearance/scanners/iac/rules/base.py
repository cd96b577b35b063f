"""Rule metadata and the check signature every IaC rule implements.

A rule is data plus one pure function: `check(resource, context) -> Iterable[Hit]`. The
scanner calls `check` for every resource whose `type` is in `resource_types` and turns
each `Hit` into a `Finding` (line of the hit's attribute, redacted evidence, fingerprint).
`RuleContext` gives the check the other resources of the same group (Terraform root module,
CloudFormation template, manifest file) for joins: S3 companions, security-group rules,
IAM attachments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from clearance.model import RuleInfo, Severity
from clearance.scanners.iac.model import Resource, Unknown

if TYPE_CHECKING:
    from clearance.scanners.base import PlaceholderCheck

Category = Literal[
    "public-access",
    "encryption",
    "network",
    "iam",
    "privilege-escalation",
    "logging",
    "workload",
    "supply-chain",
]
"""What kind of risk a rule is about (the policy keys on it)."""

Confidence = Literal["high", "medium", "low"]
"""How sure a hit is: `low` when it depends on a value the parser could not resolve."""

Exposure = Literal["public", "internal"]
"""Whether the risk is reachable from the internet (`public`) or only from inside."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One offending attribute found by a rule.

    `attribute` is the dotted path reported (its line is the finding's line; `""` means
    the resource itself, e.g. a missing setting). `value` is the offending value (shown
    redacted as `attribute = value`). `message` adds a specific detail to the rule's
    risk sentence. `resource` reports the hit at another resource than the one checked
    (e.g. the companion resource that made a bucket public). `details` become extra
    finding signals (e.g. a privilege-escalation path and the policies behind it).
    """

    attribute: str
    value: Any = None
    message: str = ""
    confidence: Confidence = "high"
    resource: Resource | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    exposure: Exposure | None = None
    """Overrides the rule's exposure for this hit."""
    severity: Severity | None = None
    """Overrides the rule's severity for this hit (e.g. a result that depends on unresolved values)."""
    undecided: bool = False
    """The rule could not decide: `value` holds what the evaluator did not compute (an
    `Unevaluated`) and no worst case is sound. Not a finding: the scan reports an error naming
    the resource, the attribute and the rule, and is incomplete (fail closed)."""


CheckFn = Callable[[Resource, "RuleContext"], Iterable[Hit]]


@dataclass(frozen=True)
class IacRule:
    """One IaC rule: stable id (`iac.<provider>-<topic>`), documentation and its check."""

    id: str
    title: str
    severity: Severity
    risk: str
    """One sentence: what can go wrong (the finding's message)."""
    remediation: str
    """How to fix it, with a corrected snippet."""
    resource_types: frozenset[str]
    category: Category
    check: CheckFn
    references: tuple[str, ...] = ()
    exposure: Exposure = "internal"

    def info(self, scanner: str = "iac") -> RuleInfo:
        """The rule's documentation as a `RuleInfo`."""
        return RuleInfo(
            id=self.id,
            title=self.title,
            severity=self.severity,
            scanner=scanner,
            description=self.risk,
            remediation=self.remediation,
            references=self.references,
            tags=(self.category, *sorted(self.resource_types)),
        )


def rule(
    id: str,
    title: str,
    severity: Severity,
    risk: str,
    remediation: str,
    resource_types: Iterable[str],
    category: Category,
    check: CheckFn,
    references: Sequence[str] = (),
    exposure: Exposure = "internal",
) -> IacRule:
    """Build an `IacRule` (a shorter spelling for rule tables)."""
    return IacRule(
        id=id,
        title=title,
        severity=severity,
        risk=risk,
        remediation=remediation,
        resource_types=frozenset(resource_types),
        category=category,
        check=check,
        references=tuple(references),
        exposure=exposure,
    )


T = TypeVar("T")


class RuleContext:
    """The resources a rule may join with: everything in the checked resource's group."""

    def __init__(self, resources: Sequence[Resource], placeholder: PlaceholderCheck | None = None) -> None:
        self.resources: tuple[Resource, ...] = tuple(resources)
        self.placeholder = placeholder
        """The secrets family's placeholder check (from the scan context), for literal-secret rules."""
        self._memo: dict[str, Any] = {}

    # the indexes are built on first use: most groups (a manifest, a Dockerfile) never join

    @functools.cached_property
    def _by_address(self) -> dict[str, Resource]:
        return {r.address: r for r in self.resources}

    @functools.cached_property
    def _by_type(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        for r in self.resources:
            out.setdefault(r.type, []).append(r)
        return out

    def get(self, address: str) -> Resource | None:
        """The resource with this address (`aws_s3_bucket.logs`, `data.x.y`), if any."""
        return self._by_address.get(address)

    def by_type(self, *types: str) -> list[Resource]:
        """All resources of the given types, in file order."""
        out: list[Resource] = []
        for t in types:
            out.extend(self._by_type.get(t, ()))
        return out

    def refers_to(self, value: Any, target: Resource, name_attrs: Sequence[str] = ()) -> bool:
        """True if `value` designates `target`: a reference to it (`aws_s3_bucket.b.id`, a
        CloudFormation `Ref`), its address, or the literal value of one of its name
        attributes (e.g. the bucket name in `bucket`)."""
        return self._refers_to(value, target, name_attrs, 0)

    def _refers_to(self, value: Any, target: Resource, name_attrs: Sequence[str], depth: int) -> bool:
        if isinstance(value, Unknown):
            if value.ref is None:
                return False
            if value.ref in (target.address, _without_index(target.address)):
                return True
            via = self._by_address.get(value.ref) or self._by_address.get(_without_index(value.ref))
            if via is not None and via is not target and via.type in ID_OF and depth < 4:
                # `aws_s3_bucket_policy.this.id` is the bucket's name: a chained reference
                return self._refers_to(via.get(ID_OF[via.type]), target, name_attrs, depth + 1)
            return False
        if isinstance(value, Mapping):  # CloudFormation intrinsic left unresolved
            ref = value.get("Ref")
            return isinstance(ref, str) and ref == target.name
        if isinstance(value, str):
            if value == target.address:
                return True
            for attr in name_attrs:
                own = target.get(attr)
                if isinstance(own, str) and own == value:
                    return True
        return False

    def referencing(
        self, target: Resource, types: Sequence[str], attr: str, name_attrs: Sequence[str] = ()
    ) -> list[Resource]:
        """Resources of `types` whose `attr` designates `target` (companions, attachments)."""
        return [r for r in self.by_type(*types) if self.refers_to(r.get(attr), target, name_attrs)]

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """Compute once per group (e.g. the IAM analysis) and reuse for every resource."""
        if key not in self._memo:
            self._memo[key] = factory()
        value: T = self._memo[key]
        return value


ID_OF: Mapping[str, str] = {
    "aws_s3_bucket_policy": "bucket",
    "aws_s3_bucket_public_access_block": "bucket",
    "aws_s3_bucket_acl": "bucket",
    "aws_s3_bucket_ownership_controls": "bucket",
    "aws_s3_bucket_versioning": "bucket",
    "aws_s3_bucket_server_side_encryption_configuration": "bucket",
    "aws_s3_bucket_logging": "bucket",
}
"""Resource types whose `id` is the id of the resource they configure (the attribute naming
it): modules chain companions through them (`bucket = aws_s3_bucket_policy.this[0].id`)."""


def _without_index(address: str) -> str:
    """`aws_s3_bucket.b[0]` → `aws_s3_bucket.b` (references name the resource, not an instance)."""
    return address.split("[", 1)[0] if address.endswith("]") else address
