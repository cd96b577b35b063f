"""AWS network rules: security groups, SG rules, NACLs, default SG, IMDSv1, flow logs, public IPs."""

from __future__ import annotations

from collections.abc import Iterator

from clearance.model import Severity
from clearance.scanners.iac.model import (
    Resource,
    Unevaluated,
    Unknown,
    as_list,
    is_unknown,
    iter_blocks,
    truthy,
)
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import flag_true, port_range
from clearance.scanners.iac.rules.network import Ingress, open_port_rules

_SG_TYPES = ("aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule")
_ALL_PROTOCOLS = ("-1", "all", -1)


def _ranges(protocol: object, from_port: object, to_port: object) -> tuple[tuple[int, int], ...] | None:
    if isinstance(protocol, Unevaluated):
        return ((0, 65535),)  # fixed by the file, not computed: judged at its worst
    if is_unknown(protocol):
        return None
    if protocol in _ALL_PROTOCOLS or str(protocol).lower() in ("-1", "all"):
        return ((0, 65535),)
    if str(protocol).lower() in ("icmp", "icmpv6", "1", "58"):
        return ()
    r = port_range(from_port, to_port)
    return (r,) if r else None


def _sources(prefix: str, block: object, v4: str, v6: str) -> tuple[tuple[str, object], ...]:
    out: list[tuple[str, object]] = []
    if not isinstance(block, dict):
        return ()
    for attr in (v4, v6):
        value = block.get(attr)
        if isinstance(value, list):
            out.extend((f"{prefix}{attr}", v) for v in value)
        elif value is not None:
            out.append((f"{prefix}{attr}", value))
    return tuple(out)


def sg_ingress(res: Resource, ctx: RuleContext) -> Iterator[Ingress]:
    """Inbound entries of SGs (inline `ingress` blocks), SG rules and VPC ingress rules."""
    if res.type == "aws_security_group":
        for path, block in iter_blocks(res, "ingress"):
            yield Ingress(
                _ranges(block.get("protocol", "tcp"), block.get("from_port"), block.get("to_port")),
                _sources(f"{path}.", dict(block), "cidr_blocks", "ipv6_cidr_blocks"),
            )
    elif res.type == "aws_security_group_rule":
        if res.get("type") != "ingress":
            return
        yield Ingress(
            _ranges(res.get("protocol", "tcp"), res.get("from_port"), res.get("to_port")),
            _sources("", dict(res.attributes), "cidr_blocks", "ipv6_cidr_blocks"),
        )
    elif res.type == "aws_vpc_security_group_ingress_rule":
        yield Ingress(
            _ranges(res.get("ip_protocol", "tcp"), res.get("from_port"), res.get("to_port")),
            _sources("", dict(res.attributes), "cidr_ipv4", "cidr_ipv6"),
        )


def nacl_ingress(res: Resource, ctx: RuleContext) -> Iterator[Ingress]:
    """Inbound allow entries of network ACLs and NACL rules."""
    if res.type == "aws_network_acl":
        for path, block in iter_blocks(res, "ingress"):
            if str(block.get("action", "")).lower() != "allow":
                continue
            yield Ingress(
                _ranges(block.get("protocol", "-1"), block.get("from_port"), block.get("to_port")),
                _sources(f"{path}.", dict(block), "cidr_block", "ipv6_cidr_block"),
            )
    elif res.type == "aws_network_acl_rule":
        if truthy(res.get("egress")) is True or str(res.get("rule_action", "")).lower() != "allow":
            return
        yield Ingress(
            _ranges(res.get("protocol", "-1"), res.get("from_port"), res.get("to_port")),
            _sources("", dict(res.attributes), "cidr_block", "ipv6_cidr_block"),
        )


_SG_FIX = """Allow the port only from known networks (a VPN, a bastion's security group), e.g.:

  ingress {
    from_port       = 22
    to_port         = 22
    protocol        = "tcp"
    security_groups = [aws_security_group.bastion.id]
  }"""

_NACL_FIX = """Deny the port from 0.0.0.0/0 in the NACL (or allow it only from internal ranges), e.g.:

  ingress {
    rule_no    = 100
    action     = "allow"
    protocol   = "tcp"
    from_port  = 22
    to_port    = 22
    cidr_block = "10.0.0.0/8"
  }"""

_CIS_SG = (
    "CIS AWS Foundations 5.2/5.3",
    "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html",
)


def _default_sg(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for attr in ("ingress", "egress"):
        value = res.get(attr)
        if value:
            yield Hit(
                attr, f"{len(as_list(value))} rule(s)", "The default security group should have no rules."
            )


def _imds(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    opts = res.get("metadata_options")
    if is_unknown(opts):
        return
    block = opts[0] if isinstance(opts, list) and opts and isinstance(opts[0], dict) else opts
    if not isinstance(block, dict):
        yield Hit("", None, "No `metadata_options` block: IMDSv1 is allowed by default.")
        return
    endpoint = block.get("http_endpoint")
    if isinstance(endpoint, str) and endpoint.lower() == "disabled":
        return
    tokens = block.get("http_tokens")
    if is_unknown(tokens):
        return
    if tokens is None:
        yield Hit("metadata_options", None, "`http_tokens` is not set: IMDSv1 is allowed by default.")
    elif str(tokens).lower() != "required":
        yield Hit("metadata_options.0.http_tokens", tokens)


def _flow_logs(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    logs = ctx.by_type("aws_flow_log")
    if any(ctx.refers_to(f.get("vpc_id"), res) for f in logs):
        return
    if any(isinstance(f.get("vpc_id"), Unknown) and f.get("vpc_id").ref is None for f in logs):
        return  # a flow log for a VPC we cannot identify: give the benefit of the doubt
    yield Hit("", None, "No aws_flow_log refers to this VPC.")


RULES: tuple[IacRule, ...] = (
    *open_port_rules(
        "iac.aws-sg-open",
        "Security group",
        _SG_TYPES,
        sg_ingress,
        _SG_FIX,
        _CIS_SG,
        other_ports=True,
    ),
    *open_port_rules(
        "iac.aws-nacl-open",
        "Network ACL",
        ("aws_network_acl", "aws_network_acl_rule"),
        nacl_ingress,
        _NACL_FIX,
        ("CIS AWS Foundations 5.1", "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html"),
        severity_cap=Severity.MEDIUM,
    ),
    rule(
        id="iac.aws-default-sg-not-empty",
        title="Default security group has rules",
        severity=Severity.MEDIUM,
        risk="Resources launched without an explicit security group silently get the default group's "
        "access, so any rule on it widens exposure unnoticed.",
        remediation="Manage the default group with no rules and use dedicated groups:\n\n"
        '  resource "aws_default_security_group" "default" {\n    vpc_id = aws_vpc.main.id\n  }',
        resource_types=("aws_default_security_group",),
        category="network",
        check=_default_sg,
        references=("CIS AWS Foundations 5.4",),
    ),
    rule(
        id="iac.aws-ec2-imdsv1",
        title="EC2 instance metadata service v1 allowed",
        severity=Severity.MEDIUM,
        risk="IMDSv1 answers unauthenticated GET requests, so an SSRF bug in the workload leaks the "
        "instance role's credentials.",
        remediation='Require session tokens (IMDSv2):\n\n  metadata_options {\n    http_endpoint = "enabled"\n'
        '    http_tokens   = "required"\n  }',
        resource_types=("aws_instance", "aws_launch_template", "aws_launch_configuration"),
        category="network",
        check=_imds,
        references=(
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html",
        ),
    ),
    rule(
        id="iac.aws-vpc-flow-logs",
        title="VPC without flow logs",
        severity=Severity.LOW,
        risk="Without flow logs there is no record of network traffic to investigate an intrusion or "
        "exfiltration.",
        remediation='Add a flow log for the VPC:\n\n  resource "aws_flow_log" "main" {\n    vpc_id          = '
        'aws_vpc.main.id\n    traffic_type    = "ALL"\n    log_destination = aws_s3_bucket.flow_logs.arn\n'
        '    log_destination_type = "s3"\n  }',
        resource_types=("aws_vpc",),
        category="logging",
        check=_flow_logs,
        references=("CIS AWS Foundations 3.9",),
    ),
    rule(
        id="iac.aws-ec2-public-ip",
        title="EC2 instance gets a public IP address",
        severity=Severity.LOW,
        risk="A public IP makes the instance directly reachable from the internet, one security-group "
        "mistake away from exposure.",
        remediation="Place instances in private subnets behind a load balancer or bastion:\n\n"
        "  associate_public_ip_address = false",
        resource_types=("aws_instance",),
        category="network",
        check=flag_true("associate_public_ip_address"),
        references=("https://docs.aws.amazon.com/vpc/latest/userguide/vpc-ip-addressing.html",),
        exposure="public",
    ),
    rule(
        id="iac.aws-subnet-public-ip-on-launch",
        title="Subnet assigns public IPs on launch",
        severity=Severity.LOW,
        risk="Every instance launched in this subnet gets a public IP, exposing workloads that never "
        "asked for it.",
        remediation="Assign public IPs explicitly where needed:\n\n  map_public_ip_on_launch = false",
        resource_types=("aws_subnet",),
        category="network",
        check=flag_true("map_public_ip_on_launch"),
        references=("https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html",),
        exposure="public",
    ),
)
