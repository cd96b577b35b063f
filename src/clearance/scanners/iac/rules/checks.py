"""Reusable check builders and predicates for rule modules (CIDRs, ports, flags, joins).

Every builder returns a `CheckFn`. Unknown values never produce a high-confidence hit:
flag checks skip an unknown value (we cannot tell), and network checks report an unknown
CIDR only when the port is sensitive, at low confidence. An `Unevaluated` value (fixed by
the file, not computed by the evaluator: model.py) is not "cannot tell": flag checks judge it
at its worst (a hit carrying it; the scanner keeps it at full confidence and reports it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from clearance.scanners.iac.model import Resource, Unevaluated, Unknown, as_list, is_unknown, lookup, truthy
from clearance.scanners.iac.rules.base import CheckFn, Hit, RuleContext

ANYWHERE_V4 = frozenset({"0.0.0.0/0", "0.0.0.0", "*", "internet", "any", "0.0.0.0/0.0.0.0"})
ANYWHERE_V6 = frozenset({"::/0", "::"})


def is_anywhere(cidr: Any) -> bool:
    """True for a source that means the whole internet (IPv4 or IPv6)."""
    return isinstance(cidr, str) and cidr.strip().lower() in (ANYWHERE_V4 | ANYWHERE_V6)


_OWN_NETWORK = re.compile(
    r"(?:^|\.)(?:data\.)?(?:aws_vpc|aws_default_vpc|aws_subnet|aws_default_subnet)\.[\w-]+(?:\[[^\]]*\])?"
    r"\.(?:ipv6_)?cidr_blocks?$"
    r"|(?:^|\.)(?:data\.)?google_compute_subnetwork\.[\w-]+(?:\[[^\]]*\])?\.ip_cidr_range$"
    r"|(?:^|\.)(?:data\.)?azurerm_(?:virtual_network|subnet)\.[\w-]+(?:\[[^\]]*\])?\.address_(?:space|prefix(?:es)?)$"
    r"|^module\.[\w-]+\.(?:vpc_(?:ipv6_)?cidr_block|(?:private|public|database|intra|elasticache|redshift)_subnets_(?:ipv6_)?cidr_blocks)$"
)
"""An unresolved source that names a network's own address space: a VPC's or subnet's CIDR
(`data.aws_vpc.default.cidr_block`, `aws_subnet.a.cidr_block`, `module.vpc.vpc_cidr_block`,
a GCP subnetwork's `ip_cidr_range`, an Azure VNet's `address_space`). Its value is unknown,
but it is never "the internet": a VPC's CIDR is at most a /16 (IPv6: a /56), a subnet's less."""


def own_network(value: Any) -> bool:
    """True for an `Unknown` that is a VPC's or subnet's own CIDR (see `_OWN_NETWORK`)."""
    return is_unknown(value) and bool(_OWN_NETWORK.search(value.expr.strip()))


def port_range(from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """An inclusive port range from two loosely typed values; None if unknown; every port if
    one could not be evaluated (`Unevaluated`: fixed by the file, judged at its worst)."""
    if isinstance(from_port, Unevaluated) or isinstance(to_port, Unevaluated):
        return (0, 65535)
    try:
        lo = int(from_port)
        hi = int(to_port) if to_port is not None and not is_unknown(to_port) else lo
    except (TypeError, ValueError):
        return None
    if lo < 0 or hi < 0 or (lo == 0 and hi in (0, 65535)):
        return (0, 65535)
    return (lo, hi)


def parse_port_spec(spec: Any) -> list[tuple[int, int]] | None:
    """Ports written as `22`, `"22"`, `"1000-2000"`, `"*"` (Azure/GCP); None if unknown; every
    port for one that could not be evaluated (`Unevaluated`: judged at its worst)."""
    if isinstance(spec, Unevaluated):
        return [(0, 65535)]
    if is_unknown(spec):
        return None
    out: list[tuple[int, int]] = []
    for item in as_list(spec):
        if isinstance(item, Unevaluated):
            out.append((0, 65535))
            continue
        text = str(item).strip()
        if text in ("*", "0-65535", "all", "-1"):
            out.append((0, 65535))
            continue
        lo, sep, hi = text.partition("-")
        try:
            out.append((int(lo), int(hi) if sep else int(lo)))
        except ValueError:
            return None
    return out


def covers(ranges: Iterable[tuple[int, int]], port: int) -> bool:
    """True if any range contains the port."""
    return any(lo <= port <= hi for lo, hi in ranges)


def is_all_ports(ranges: Iterable[tuple[int, int]]) -> bool:
    """True if a range spans every port."""
    return any(lo <= 1 and hi >= 65535 for lo, hi in ranges)


def flag_not_true(
    path: str,
    message: str = "",
    *,
    missing_fires: bool = True,
    when: Callable[[Resource], bool] | None = None,
) -> CheckFn:
    """Fires when a boolean setting is false (or missing, if `missing_fires`)."""

    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        if when is not None and not when(res):
            return
        value = res.get(path)
        if value is None:
            if missing_fires and not res.has(path):
                yield Hit("", None, message or f"`{path}` is not set.")
            elif missing_fires:
                yield Hit(path, value, message)
            return
        if isinstance(value, Unevaluated) or (not is_unknown(value) and truthy(value) is False):
            yield Hit(path, value, message)

    return check


def flag_true(path: str, message: str = "") -> CheckFn:
    """Fires when a boolean setting is explicitly true (or could not be evaluated)."""

    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        value = res.get(path)
        if isinstance(value, Unevaluated) or (not is_unknown(value) and truthy(value) is True):
            yield Hit(path, value, message)

    return check


def value_in(path: str, bad: Iterable[str], message: str = "", *, case_insensitive: bool = True) -> CheckFn:
    """Fires when a string setting is one of the bad values (or could not be evaluated)."""
    bad_set = {b.lower() if case_insensitive else b for b in bad}

    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        value = res.get(path)
        if isinstance(value, Unevaluated) or (
            isinstance(value, str) and (value.lower() if case_insensitive else value) in bad_set
        ):
            yield Hit(path, value, message)

    return check


def missing(path: str, message: str = "") -> CheckFn:
    """Fires when a setting/block is absent or empty."""

    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        value = res.get(path)
        if value is None or value == [] or value == {} or value == "":
            yield Hit("" if not res.has(path) else path, value, message or f"`{path}` is not set.")

    return check


def any_of(*checks: CheckFn) -> CheckFn:
    """All hits of several checks."""

    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        for c in checks:
            yield from c(res, ctx)

    return check


def first_of(*checks: CheckFn) -> CheckFn:
    """The hits of the first check that has any (for alternative spellings of one setting)."""

    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        for c in checks:
            hits = list(c(res, ctx))
            if hits:
                yield from hits
                return

    return check


def companion_value(
    res: Resource,
    ctx: RuleContext,
    types: Sequence[str],
    attr: str = "bucket",
    name_attrs: Sequence[str] = ("bucket",),
) -> list[Resource]:
    """Companion resources (S3 v4 style) that point at `res` by reference or by name."""
    return ctx.referencing(res, types, attr, name_attrs)


def get_path(value: Any, path: str) -> Any:
    """Dotted lookup on a plain value."""
    return lookup(value, path)


def strings(value: Any) -> list[str]:
    """The string items of a scalar-or-list value."""
    return [v for v in as_list(value) if isinstance(v, str)]


def unknown_items(value: Any) -> list[Unknown]:
    """The unknown items of a scalar-or-list value (or the value itself)."""
    if isinstance(value, Unknown):
        return [value]
    return [v for v in as_list(value) if isinstance(v, Unknown)]


def mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}
