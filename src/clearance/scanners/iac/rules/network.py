"""Provider-neutral network exposure logic: sensitive ports and "open to the internet" rule sets.

Each provider module describes its inbound rules as `Ingress` entries (ports, protocol,
the source values with their attribute paths); `open_port_rules` turns a port table into
one rule per port family. A rule that opens every port is reported by the `all-ports`
rule only (not again as SSH, RDP...). An unknown source (a variable without a value) on a
sensitive port is reported at low confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from clearance.model import Severity
from clearance.scanners.iac.model import Resource, Unknown
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import covers, is_all_ports, is_anywhere, own_network


@dataclass(frozen=True)
class PortFamily:
    """A family of sensitive ports reported by one rule."""

    key: str
    label: str
    ports: tuple[int, ...]
    severity: Severity


PORT_FAMILIES: tuple[PortFamily, ...] = (
    PortFamily("ssh", "SSH (22)", (22,), Severity.HIGH),
    PortFamily("rdp", "RDP (3389)", (3389,), Severity.HIGH),
    PortFamily(
        "database",
        "a database or search port (MySQL 3306, PostgreSQL 5432, MSSQL 1433, Oracle 1521, Redis 6379, "
        "Memcached 11211, MongoDB 27017, Elasticsearch 9200/9300, Kibana 5601, Cassandra 9042, CouchDB 5984)",
        (3306, 5432, 1433, 1521, 6379, 11211, 27017, 9200, 9300, 5601, 9042, 5984),
        Severity.HIGH,
    ),
    PortFamily("docker", "the Docker daemon API (2375/2376)", (2375, 2376), Severity.CRITICAL),
    PortFamily("telnet", "Telnet (23)", (23,), Severity.HIGH),
    PortFamily("smb", "SMB/NetBIOS (445, 139)", (445, 139), Severity.HIGH),
    PortFamily(
        "admin",
        "a remote-administration, file-transfer or cluster port (VNC 5900, WinRM 5985/5986, FTP 20/21, "
        "Kafka 9092, ZooKeeper 2181, etcd 2379/2380, Kubernetes API 6443, kubelet 10250)",
        (5900, 5985, 5986, 20, 21, 9092, 2181, 2379, 2380, 6443, 10250),
        Severity.HIGH,
    ),
)
ALL_PORTS = PortFamily("all-ports", "every port", (), Severity.HIGH)
OTHER_PORTS = PortFamily("port", "a port that is not a web port", (), Severity.LOW)
"""Any other port open to the internet (not 80/443/8080/8443, not in a family above)."""
WEB_PORTS = (80, 443, 8080, 8443)


@dataclass(frozen=True)
class Ingress:
    """One inbound allow entry: its ports and the sources it admits (path, value)."""

    ranges: tuple[tuple[int, int], ...] | None
    """Inclusive port ranges; None when the ports are unknown."""
    sources: tuple[tuple[str, object], ...]
    reporter: Resource | None = None


IngressFn = Callable[[Resource, RuleContext], Iterable[Ingress]]


def open_port_rules(
    prefix: str,
    what: str,
    resource_types: Iterable[str],
    entries: IngressFn,
    remediation: str,
    references: tuple[str, ...],
    families: tuple[PortFamily, ...] = PORT_FAMILIES,
    severity_cap: Severity | None = None,
    other_ports: bool = False,
) -> tuple[IacRule, ...]:
    """One rule per port family (and one for all ports) over a provider's inbound entries;
    with `other_ports`, one more for any other non-web port open to the internet."""
    types = frozenset(resource_types)
    out = []
    for fam in (*families, ALL_PORTS, *((OTHER_PORTS,) if other_ports else ())):
        sev = fam.severity
        if severity_cap is not None and sev.rank > severity_cap.rank:
            sev = severity_cap
        out.append(
            rule(
                id=f"{prefix}-{fam.key}",
                title=f"{what} open to the internet on {fam.label}",
                severity=sev,
                risk=(
                    f"Anyone on the internet can reach {fam.label} through this rule, inviting brute force "
                    "and exploitation of the exposed service."
                ),
                remediation=remediation,
                resource_types=types,
                category="network",
                check=_port_check(fam, entries),
                references=references,
                exposure="public",
            )
        )
    return tuple(out)


def _port_check(fam: PortFamily, entries: IngressFn) -> Callable[[Resource, RuleContext], Iterator[Hit]]:
    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        # every family's rule reads the same entries: read once per resource (by identity, alive
        # as long as the context that holds it), not once per family
        key = f"network.ingress:{id(entries)}:{id(res)}"
        for entry in ctx.memo(key, lambda: tuple(entries(res, ctx))):
            if entry.ranges is None:
                continue
            all_ports = is_all_ports(entry.ranges)
            if fam is ALL_PORTS:
                if not all_ports:
                    continue
                label = "all ports"
            elif fam is OTHER_PORTS:
                if all_ports or not entry.ranges or _named(entry.ranges) or _only_web(entry.ranges):
                    continue
                label = "port " + ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in entry.ranges)
            else:
                if all_ports:
                    continue
                hit_ports = [p for p in fam.ports if covers(entry.ranges, p)]
                if not hit_ports:
                    continue
                label = "port " + ", ".join(str(p) for p in hit_ports)
            for path, value in entry.sources:
                if is_anywhere(value):
                    yield Hit(
                        path, value, f"{label.capitalize()} is open to {value}.", resource=entry.reporter
                    )
                elif isinstance(value, Unknown) and not own_network(value):
                    yield Hit(
                        path,
                        value,
                        f"{label.capitalize()} is open to a source that is not known "
                        "statically; check the value supplied at apply time.",
                        confidence="low",
                        resource=entry.reporter,
                    )

    return check


def _named(ranges: tuple[tuple[int, int], ...]) -> bool:
    """True if a named family (SSH, databases...) covers one of the ports: reported there."""
    return any(covers(ranges, p) for fam in PORT_FAMILIES for p in fam.ports)


def _only_web(ranges: tuple[tuple[int, int], ...]) -> bool:
    return all(lo == hi and lo in WEB_PORTS for lo, hi in ranges)
