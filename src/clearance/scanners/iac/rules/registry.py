"""The one explicit list of IaC rules. No registration by import side effect.

Add a rule module here by importing it and appending its `RULES` to `ALL_RULES`.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clearance.scanners.iac.rules import (
    aws_encryption,
    aws_exposure,
    aws_iam,
    aws_logging,
    aws_network,
    aws_s3,
    aws_supply_chain,
    azure,
    dockerfile,
    gcp,
    kubernetes,
)
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext

if TYPE_CHECKING:
    from clearance.scanners.base import PlaceholderCheck
    from clearance.scanners.iac.model import Resource

ALL_RULES: tuple[IacRule, ...] = (
    *aws_s3.RULES,
    *aws_network.RULES,
    *aws_iam.RULES,
    *aws_exposure.RULES,
    *aws_encryption.RULES,
    *aws_logging.RULES,
    *aws_supply_chain.RULES,
    *gcp.RULES,
    *azure.RULES,
    *kubernetes.RULES,
    *dockerfile.RULES,
)


def all_rules() -> tuple[IacRule, ...]:
    """Every built-in IaC rule, in registry order."""
    return ALL_RULES


def enabled_rules(disabled: Sequence[str]) -> list[IacRule]:
    """The rules not disabled by `[iac] disable` (glob patterns of rule ids), in registry order."""
    return [r for r in ALL_RULES if not any(fnmatch.fnmatchcase(r.id, d) for d in disabled)]


_BY_ID = {r.id: r for r in ALL_RULES}


@dataclass(frozen=True)
class RuleSet:
    """Rules indexed by the resource types they check (built once per rule set, not per unit)."""

    rules: tuple[IacRule, ...]
    by_type: Mapping[str, tuple[IacRule, ...]]


@functools.lru_cache(maxsize=8)
def rule_set(ids: tuple[str, ...]) -> RuleSet:
    """The rules with these ids, in the order given (how a worker process gets its rules)."""
    rules = tuple(_BY_ID[i] for i in ids)
    by_type: dict[str, list[IacRule]] = {}
    for r in rules:
        for t in r.resource_types:
            by_type.setdefault(t, []).append(r)
    return RuleSet(rules, {t: tuple(rs) for t, rs in by_type.items()})


def run_rules(
    resources: Sequence[Resource],
    rules: RuleSet,
    errors: list[tuple[str, str]] | None = None,
    placeholder: PlaceholderCheck | None = None,
) -> Iterable[tuple[IacRule, Resource, Hit]]:
    """Every hit of every rule on the resources of each group (the join scope: a rule only
    sees the resources of the checked resource's group). Data sources are joined with, never
    checked: they read what exists, this code neither creates nor configures it.

    A rule that fails on an unexpected shape of input (a bug, or a value no parser
    anticipated) is reported in `errors` as (path, message) for that resource; the other
    rules and resources still run. Without `errors` the exception propagates.
    """
    by_type = rules.by_type
    groups: dict[str, list[Resource]] = {}
    for res in resources:
        groups.setdefault(res.group or res.path, []).append(res)
    for members in groups.values():
        ctx: RuleContext | None = None  # made when a rule first checks a resource of the group
        for res in members:
            checks = by_type.get(res.type)
            if checks is None or res.is_data:
                continue
            if ctx is None:
                ctx = RuleContext(members, placeholder)
            for rule in checks:
                try:
                    hits = list(rule.check(res, ctx))
                except Exception as e:  # a rule must never take the scan down
                    if errors is None:
                        raise
                    errors.append((res.path, f"{rule.id} failed on {res.address}: {type(e).__name__}: {e}"))
                    continue
                for hit in hits:
                    yield rule, res, hit
