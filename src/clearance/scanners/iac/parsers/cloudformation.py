"""CloudFormation templates (YAML with short tags, or JSON) → `Resource`s.

Intrinsic functions are resolved where static: `Ref` to a parameter with a default,
`Fn::Sub`/`Fn::Join` of known strings; a `Ref`/`Fn::GetAtt` to another resource becomes
`Unknown` carrying that resource's logical id (so joins work); anything else is `Unknown`.

Resources of the types the AWS rules know are normalized into the Terraform type and
attribute shape (`AWS::S3::Bucket` → `aws_s3_bucket` with `acl`, `versioning`...; its
`PublicAccessBlockConfiguration` becomes a companion `aws_s3_bucket_public_access_block`),
so one rule (one rule id) covers both syntaxes; every normalized attribute keeps the line
of the CloudFormation property it came from. Other resources keep their CloudFormation
type and properties.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from clearance.safe_yaml import load_all, load_json
from clearance.scanners.iac.budget import DEFAULT_LIMITS, BudgetExceeded, Limits
from clearance.scanners.iac.model import Missing, Resource, Unevaluated, Unknown, lookup
from clearance.scanners.iac.parsers import IacParseError

_FUNCTIONS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "Equals",
    "Not",
    "And",
    "Or",
    "GetAtt",
    "ToJsonString",
    "Length",
)
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")
_MISSING = object()


def parse(
    path: str, text: str, limits: Limits = DEFAULT_LIMITS, problems: list[str] | None = None
) -> list[Resource]:
    """The resources of one template.

    A resource whose intrinsics would build a string over `limits.max_string` is left out
    and described in `problems` (the file is then incomplete); without a `problems` list the
    `BudgetExceeded` is raised."""
    if text.lstrip().startswith("{"):
        doc = load_json(text)
    else:
        docs = load_all(text, tag_handler=_tag, max_documents=1)
        if not docs:
            return []
        doc = docs[0]
    template = doc.value
    if not isinstance(template, dict) or not (
        "AWSTemplateFormatVersion" in template or "Resources" in template
    ):
        # The content sniff only saw CloudFormation-looking text (e.g. a botocore API model that
        # mentions AWSTemplateFormatVersion deep inside): not a template, skipped quietly.
        return []
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        raise IacParseError("no `Resources` mapping: not a CloudFormation template", doc.start_line)
    params = (
        {
            name: spec["Default"]
            for name, spec in (template.get("Parameters") or {}).items()
            if isinstance(spec, dict) and "Default" in spec
        }
        if isinstance(template.get("Parameters"), dict)
        else {}
    )
    conditions = template.get("Conditions") if isinstance(template.get("Conditions"), dict) else {}
    resolver = _Resolver(params, set(resources), limits, conditions)
    out: list[Resource] = []
    for logical_id, body in resources.items():
        if not isinstance(body, dict):
            continue
        cfn_type = body.get("Type")
        if not isinstance(cfn_type, str):
            continue
        base = f"Resources.{logical_id}"
        start = doc.lines.get(base, doc.start_line)
        props_raw = body.get("Properties") if isinstance(body.get("Properties"), dict) else {}
        try:
            resolved = resolver.resolve(props_raw)
        except BudgetExceeded as e:
            if problems is None:
                raise
            problems.append(f"resource {logical_id} (line {start}): {e}")
            continue
        props = resolved if isinstance(resolved, dict) else {}  # e.g. Properties: !If [...]
        prefix = f"{base}.Properties."
        plines = {k[len(prefix) :]: v for k, v in doc.lines.items() if k.startswith(prefix)}
        plines[""] = doc.lines.get(f"{base}.Properties", start)
        out.extend(_normalize(str(logical_id), cfn_type, props, plines, path, start))
    return out


def _tag(tag: str, value: Any) -> Any:
    name = tag[1:]
    if name == "Ref":
        return {"Ref": value}
    if name == "Condition":
        return {"Condition": value}
    if name == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if name in _FUNCTIONS:
        return {f"Fn::{name}": value}
    return value


_DEPLOY_TIME = frozenset({"GetAZs", "ImportValue", "Transform"})
"""Intrinsics whose value comes from the account or another stack at deploy time."""


class _Resolver:
    def __init__(
        self,
        params: Mapping[str, Any],
        resources: set[str],
        limits: Limits,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        self.params = params
        self.resources = resources
        self.limits = limits
        self.conditions = conditions or {}
        self._deciding: set[str] = set()

    def _check_size(self, size: int, fn: str) -> None:
        if size > self.limits.max_string:
            raise BudgetExceeded("max_string", self.limits.max_string, f"Fn::{fn} result")

    def resolve(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            return Unevaluated("nested too deeply")
        if isinstance(value, dict):
            if len(value) == 1:
                key, arg = next(iter(value.items()))
                if key == "Ref":
                    return self._ref(arg)
                if isinstance(key, str) and key.startswith("Fn::"):
                    return self._function(key[4:], arg, depth)
            return {k: self.resolve(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, depth + 1) for v in value]
        return value

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            return Unknown("!Ref")
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return Unknown(f"!Ref {name}", name)
        return Unknown(f"!Ref {name}")

    def _function(self, fn: str, arg: Any, depth: int) -> Any:
        if fn == "GetAtt":
            target = arg[0] if isinstance(arg, list) and arg else arg
            return Unknown(f"!GetAtt {target}", target if isinstance(target, str) else None)
        if fn == "Sub":
            template = arg[0] if isinstance(arg, list) and arg else arg
            local = arg[1] if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict) else {}
            if not isinstance(template, str):
                return Unknown("!Sub")
            ref: list[str | None] = [None]
            size = [len(template)]

            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                value = (
                    self.resolve(local[name], depth + 1) if name in local else self._ref(name.split(".")[0])
                )
                if isinstance(value, str | int | float):
                    size[0] += len(str(value))
                    self._check_size(size[0], "Sub")
                    return str(value)
                if isinstance(value, Unknown) and value.ref:
                    ref[0] = value.ref
                raise _Unresolved

            try:
                return _SUB_VAR.sub(sub, template)
            except _Unresolved:
                return Unknown("!Sub " + template[:60], ref[0])
        if fn == "Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            parts = self.resolve(arg[1], depth + 1)
            if isinstance(parts, list) and all(isinstance(p, str | int | float) for p in parts):
                self._check_size(sum(len(str(p)) + len(arg[0]) for p in parts), "Join")
                return arg[0].join(str(p) for p in parts)
        if fn == "If" and isinstance(arg, list) and len(arg) == 3:
            return self._if(arg, depth)
        if fn in _DEPLOY_TIME:
            return Unknown(f"Fn::{fn}")
        # Fn::Select, Fn::FindInMap, Fn::Cidr...: unknown until deploy only if an argument is
        # (a parameter without default, another resource); over literals the template fixes
        # the value and the resolver did not compute it (fail closed, see `Unevaluated`)
        found = _unknown_in(self.resolve(arg, depth + 1))
        if found is not None and not isinstance(found, Unevaluated):
            return Unknown(f"Fn::{fn}", found.ref)
        return Unevaluated(f"Fn::{fn}")

    def _if(self, arg: list[Any], depth: int) -> Any:
        """`Fn::If [condition, yes, no]`: the branch when the condition is decided by literals
        and parameter defaults, the value when both branches agree, else unknown."""
        yes, no = self.resolve(arg[1], depth + 1), self.resolve(arg[2], depth + 1)
        cond = self._condition(arg[0], depth)
        if cond is True:
            return yes
        if cond is False:
            return no
        if yes == no and _unknown_in(yes) is None:
            return yes
        return (
            Unevaluated(f"Fn::If {arg[0]}") if isinstance(cond, Unevaluated) else Unknown(f"Fn::If {arg[0]}")
        )

    def _condition(self, name: Any, depth: int) -> bool | Unknown:
        """A named condition of the template's `Conditions`, decided if it can be."""
        if not isinstance(name, str) or name not in self.conditions or name in self._deciding:
            return Unevaluated(f"condition {name}")  # undefined or a cycle: CloudFormation rejects it
        self._deciding.add(name)
        try:
            return self._decide(self.conditions[name], depth + 1)
        finally:
            self._deciding.discard(name)

    def _decide(self, expr: Any, depth: int) -> bool | Unknown:
        """`Fn::Equals`/`Fn::Not`/`Fn::And`/`Fn::Or`/`Condition` over resolved values."""
        if depth > 64 or not isinstance(expr, dict) or len(expr) != 1:
            return Unevaluated("a condition")
        key, arg = next(iter(expr.items()))
        if key == "Condition":
            return self._condition(arg, depth)
        if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            a, b = self.resolve(arg[0], depth + 1), self.resolve(arg[1], depth + 1)
            unknown = _unknown_in([a, b])
            return unknown if unknown is not None else str(a) == str(b)
        if key == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
            inner = self._decide(arg[0], depth + 1)
            return inner if isinstance(inner, Unknown) else not inner
        if key in ("Fn::And", "Fn::Or") and isinstance(arg, list) and arg:
            decisive = bool(key == "Fn::Or")  # the value that decides alone: true for Or, false for And
            parts = [self._decide(a, depth + 1) for a in arg]
            if decisive in parts:
                return decisive
            unknown = _unknown_in(parts)
            return not decisive if unknown is None else unknown
        return Unevaluated(f"{key} in a condition")


class _Unresolved(Exception):
    pass


def _unknown_in(value: Any) -> Unknown | None:
    """The unknown that decides what `value` is: a plain `Unknown` (from deploy time: a
    parameter without default, another resource) if it holds one, else an `Unevaluated` one
    (the resolver gave up on it), else None (`value` is known)."""
    stack = [value]
    refused: Unknown | None = None
    while stack:
        v = stack.pop()
        if isinstance(v, Unknown):
            if not isinstance(v, Unevaluated | Missing):
                return v
            refused = refused or v
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return refused


# --- normalization --------------------------------------------------------------------

Transform = Callable[[Any], Any]
Spec = tuple[str, str, Transform | None]


def _acl(v: Any) -> Any:
    names = {
        "PublicRead": "public-read",
        "PublicReadWrite": "public-read-write",
        "AuthenticatedRead": "authenticated-read",
        "Private": "private",
        "BucketOwnerFullControl": "bucket-owner-full-control",
        "LogDeliveryWrite": "log-delivery-write",
    }
    return names.get(v, v) if isinstance(v, str) else v


def _listify(v: Any) -> Any:
    return v if isinstance(v, list) else [v]


def _first_block(v: Any) -> Any:
    return [v] if isinstance(v, dict) else v


def _policies(v: Any) -> Any:
    if not isinstance(v, list):
        return v
    return [
        {"name": p.get("PolicyName"), "policy": p.get("PolicyDocument")} if isinstance(p, dict) else p
        for p in v
    ]


def _sg_rules(v: Any) -> Any:
    if not isinstance(v, list):
        return v
    out = []
    for r in v:
        if not isinstance(r, dict):
            out.append(r)
            continue
        out.append(
            {
                "from_port": r.get("FromPort"),
                "to_port": r.get("ToPort"),
                "protocol": r.get("IpProtocol"),
                "cidr_blocks": [r["CidrIp"]] if "CidrIp" in r else [],
                "ipv6_cidr_blocks": [r["CidrIpv6"]] if "CidrIpv6" in r else [],
            }
        )
    return out


def _log_types(v: Any) -> Any:
    if isinstance(v, list):
        return [t.get("Type") if isinstance(t, dict) else t for t in v]
    return v


def _lb_access_logs(v: Any) -> Any:
    if isinstance(v, list):
        for a in v:
            if isinstance(a, dict) and a.get("Key") == "access_logs.s3.enabled":
                value = a.get("Value")
                return [{"enabled": str(value).lower() == "true" if isinstance(value, str | bool) else value}]
    return _MISSING


def _actions(v: Any) -> Any:
    if not isinstance(v, list):
        return v
    out = []
    for a in v:
        if isinstance(a, dict):
            redirect = a.get("RedirectConfig")
            out.append(
                {
                    "type": str(a.get("Type", "")).lower(),
                    "redirect": [{"protocol": redirect.get("Protocol")}]
                    if isinstance(redirect, dict)
                    else [],
                }
            )
    return out


def _ebs_mappings(v: Any) -> Any:
    if not isinstance(v, list):
        return v
    return [
        {"ebs": [{"encrypted": _dict(m.get("Ebs")).get("Encrypted")}]} if isinstance(m, dict) else m
        for m in v
    ]


def _instance_ebs(v: Any) -> Any:
    if not isinstance(v, list):
        return v
    return [
        {"encrypted": _dict(m.get("Ebs")).get("Encrypted")}
        for m in v
        if isinstance(m, dict) and isinstance(m.get("Ebs"), dict)
    ]


def _versioning(v: Any) -> Any:
    return v == "Enabled" if isinstance(v, str) else v


def _protocol(v: Any) -> Any:
    names = {"6": "tcp", "17": "udp", "1": "icmp", "-1": "-1"}
    return names.get(str(v), v) if isinstance(v, str | int) else v


_SPECS: dict[str, tuple[str, tuple[Spec, ...]]] = {
    "AWS::S3::Bucket": (
        "aws_s3_bucket",
        (
            ("bucket", "BucketName", None),
            ("acl", "AccessControl", _acl),
            ("server_side_encryption_configuration", "BucketEncryption", _first_block),
            ("versioning.0.enabled", "VersioningConfiguration.Status", _versioning),
            ("logging", "LoggingConfiguration", _first_block),
        ),
    ),
    "AWS::S3::BucketPolicy": (
        "aws_s3_bucket_policy",
        (("bucket", "Bucket", None), ("policy", "PolicyDocument", None)),
    ),
    "AWS::EC2::SecurityGroup": (
        "aws_security_group",
        (
            ("ingress", "SecurityGroupIngress", _sg_rules),
            ("egress", "SecurityGroupEgress", _sg_rules),
        ),
    ),
    "AWS::EC2::SecurityGroupIngress": (
        "aws_security_group_rule",
        (
            ("from_port", "FromPort", None),
            ("to_port", "ToPort", None),
            ("protocol", "IpProtocol", None),
            ("cidr_blocks", "CidrIp", _listify),
            ("ipv6_cidr_blocks", "CidrIpv6", _listify),
            ("security_group_id", "GroupId", None),
        ),
    ),
    "AWS::EC2::NetworkAclEntry": (
        "aws_network_acl_rule",
        (
            ("egress", "Egress", None),
            ("rule_action", "RuleAction", None),
            ("protocol", "Protocol", _protocol),
            ("cidr_block", "CidrBlock", None),
            ("ipv6_cidr_block", "Ipv6CidrBlock", None),
            ("from_port", "PortRange.From", None),
            ("to_port", "PortRange.To", None),
        ),
    ),
    "AWS::EC2::Subnet": ("aws_subnet", (("map_public_ip_on_launch", "MapPublicIpOnLaunch", None),)),
    "AWS::EC2::VPC": ("aws_vpc", ()),
    "AWS::EC2::Volume": ("aws_ebs_volume", (("encrypted", "Encrypted", None),)),
    "AWS::EC2::Instance": ("aws_instance", (("ebs_block_device", "BlockDeviceMappings", _instance_ebs),)),
    "AWS::EC2::LaunchTemplate": (
        "aws_launch_template",
        (
            ("metadata_options.0.http_tokens", "LaunchTemplateData.MetadataOptions.HttpTokens", None),
            ("metadata_options.0.http_endpoint", "LaunchTemplateData.MetadataOptions.HttpEndpoint", None),
            ("block_device_mappings", "LaunchTemplateData.BlockDeviceMappings", _ebs_mappings),
        ),
    ),
    "AWS::RDS::DBInstance": (
        "aws_db_instance",
        (
            ("publicly_accessible", "PubliclyAccessible", None),
            ("storage_encrypted", "StorageEncrypted", None),
        ),
    ),
    "AWS::RDS::DBCluster": (
        "aws_rds_cluster",
        (("storage_encrypted", "StorageEncrypted", None), ("engine_mode", "EngineMode", None)),
    ),
    "AWS::EC2::FlowLog": (
        "aws_flow_log",
        (("vpc_id", "ResourceId", None), ("traffic_type", "TrafficType", None)),
    ),
    "AWS::EFS::FileSystem": ("aws_efs_file_system", (("encrypted", "Encrypted", None),)),
    "AWS::SQS::Queue": (
        "aws_sqs_queue",
        (
            ("kms_master_key_id", "KmsMasterKeyId", None),
            ("sqs_managed_sse_enabled", "SqsManagedSseEnabled", None),
        ),
    ),
    "AWS::SQS::QueuePolicy": ("aws_sqs_queue_policy", (("policy", "PolicyDocument", None),)),
    "AWS::SNS::Topic": ("aws_sns_topic", (("kms_master_key_id", "KmsMasterKeyId", None),)),
    "AWS::SNS::TopicPolicy": ("aws_sns_topic_policy", (("policy", "PolicyDocument", None),)),
    "AWS::KMS::Key": (
        "aws_kms_key",
        (
            ("enable_key_rotation", "EnableKeyRotation", None),
            ("policy", "KeyPolicy", None),
            ("customer_master_key_spec", "KeySpec", None),
        ),
    ),
    "AWS::CloudTrail::Trail": (
        "aws_cloudtrail",
        (
            ("is_multi_region_trail", "IsMultiRegionTrail", None),
            ("enable_log_file_validation", "EnableLogFileValidation", None),
            ("kms_key_id", "KMSKeyId", None),
        ),
    ),
    "AWS::IAM::Role": (
        "aws_iam_role",
        (
            ("name", "RoleName", None),
            ("assume_role_policy", "AssumeRolePolicyDocument", None),
            ("inline_policy", "Policies", _policies),
            ("managed_policy_arns", "ManagedPolicyArns", None),
        ),
    ),
    "AWS::IAM::User": (
        "aws_iam_user",
        (
            ("name", "UserName", None),
            ("inline_policy", "Policies", _policies),
            ("managed_policy_arns", "ManagedPolicyArns", None),
            ("groups", "Groups", None),
        ),
    ),
    "AWS::IAM::Group": (
        "aws_iam_group",
        (
            ("name", "GroupName", None),
            ("inline_policy", "Policies", _policies),
            ("managed_policy_arns", "ManagedPolicyArns", None),
        ),
    ),
    "AWS::IAM::Policy": (
        "aws_iam_policy",
        (
            ("policy", "PolicyDocument", None),
            ("roles", "Roles", None),
            ("users", "Users", None),
            ("groups", "Groups", None),
        ),
    ),
    "AWS::IAM::ManagedPolicy": (
        "aws_iam_policy",
        (
            ("policy", "PolicyDocument", None),
            ("roles", "Roles", None),
            ("users", "Users", None),
            ("groups", "Groups", None),
        ),
    ),
    "AWS::Lambda::Permission": (
        "aws_lambda_permission",
        (
            ("principal", "Principal", None),
            ("source_arn", "SourceArn", None),
            ("source_account", "SourceAccount", None),
            ("principal_org_id", "PrincipalOrgID", None),
        ),
    ),
    "AWS::Lambda::Url": ("aws_lambda_function_url", (("authorization_type", "AuthType", None),)),
    "AWS::EKS::Cluster": (
        "aws_eks_cluster",
        (
            ("vpc_config", "ResourcesVpcConfig", lambda v: [{}]),
            ("vpc_config.0.endpoint_public_access", "ResourcesVpcConfig.EndpointPublicAccess", None),
            ("vpc_config.0.public_access_cidrs", "ResourcesVpcConfig.PublicAccessCidrs", None),
            ("encryption_config", "EncryptionConfig", None),
            ("enabled_cluster_log_types", "Logging.ClusterLogging.EnabledTypes", _log_types),
        ),
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "aws_lb",
        (
            ("load_balancer_type", "Type", None),
            ("access_logs", "LoadBalancerAttributes", _lb_access_logs),
        ),
    ),
    "AWS::ElasticLoadBalancingV2::Listener": (
        "aws_lb_listener",
        (
            ("protocol", "Protocol", None),
            ("ssl_policy", "SslPolicy", None),
            ("default_action", "DefaultActions", _actions),
        ),
    ),
    "AWS::DynamoDB::Table": (
        "aws_dynamodb_table",
        (("server_side_encryption.0.enabled", "SSESpecification.SSEEnabled", None),),
    ),
    "AWS::ElastiCache::ReplicationGroup": (
        "aws_elasticache_replication_group",
        (
            ("at_rest_encryption_enabled", "AtRestEncryptionEnabled", None),
            ("transit_encryption_enabled", "TransitEncryptionEnabled", None),
        ),
    ),
    "AWS::Redshift::Cluster": (
        "aws_redshift_cluster",
        (
            ("publicly_accessible", "PubliclyAccessible", None),
            ("encrypted", "Encrypted", None),
        ),
    ),
    "AWS::OpenSearchService::Domain": (
        "aws_opensearch_domain",
        (
            ("vpc_options", "VPCOptions", _first_block),
            ("access_policies", "AccessPolicies", None),
            ("encrypt_at_rest.0.enabled", "EncryptionAtRestOptions.Enabled", None),
            ("node_to_node_encryption.0.enabled", "NodeToNodeEncryptionOptions.Enabled", None),
        ),
    ),
    "AWS::Elasticsearch::Domain": (
        "aws_elasticsearch_domain",
        (
            ("vpc_options", "VPCOptions", _first_block),
            ("access_policies", "AccessPolicies", None),
            ("encrypt_at_rest.0.enabled", "EncryptionAtRestOptions.Enabled", None),
            ("node_to_node_encryption.0.enabled", "NodeToNodeEncryptionOptions.Enabled", None),
        ),
    ),
    "AWS::ECR::Repository": (
        "aws_ecr_repository",
        (
            ("image_tag_mutability", "ImageTagMutability", None),
            ("image_scanning_configuration.0.scan_on_push", "ImageScanningConfiguration.ScanOnPush", None),
            ("policy", "RepositoryPolicyText", None),
        ),
    ),
    "AWS::CloudFront::Distribution": (
        "aws_cloudfront_distribution",
        (
            (
                "default_cache_behavior.0.viewer_protocol_policy",
                "DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy",
                None,
            ),
            (
                "viewer_certificate.0.minimum_protocol_version",
                "DistributionConfig.ViewerCertificate.MinimumProtocolVersion",
                None,
            ),
        ),
    ),
}


def _normalize(
    logical_id: str, cfn_type: str, props: dict[str, Any], plines: dict[str, int], path: str, start: int
) -> list[Resource]:
    spec = _SPECS.get(cfn_type)
    if spec is None:
        return [
            _resource(
                path,
                type=cfn_type,
                address=logical_id,
                start_line=start,
                attributes=props,
                lines=plines,
                name=logical_id,
                extra={"cfn_type": cfn_type},
            )
        ]
    tf_type, entries = spec
    if cfn_type == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in props:
        tf_type = "aws_rds_cluster_instance"  # encryption is decided by the cluster
        entries = entries[:1]
    attrs: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for tf_path, cfn_path, transform in entries:
        value = lookup(props, cfn_path, _MISSING)
        if value is _MISSING:
            continue
        if transform is not None:
            value = transform(value)
            if value is _MISSING:
                continue
        _assign(attrs, tf_path, value)
        lines[tf_path] = _line(plines, cfn_path, start)
        if transform is None:
            _copy_nested(lines, plines, cfn_path, tf_path)
        _copy_item_lines(lines, plines, tf_path, cfn_path, value)
    if cfn_type == "AWS::EC2::Instance":
        attrs["metadata_options"] = Unknown("set by a launch template or the account default")
    if cfn_type == "AWS::EC2::SecurityGroupIngress":
        attrs["type"] = "ingress"  # a standalone ingress rule (the Terraform shape says so explicitly)
    out = [
        _resource(
            path,
            type=tf_type,
            address=logical_id,
            start_line=start,
            attributes=attrs,
            lines=lines,
            name=logical_id,
            extra={"cfn_type": cfn_type},
        )
    ]
    pab = props.get("PublicAccessBlockConfiguration") if cfn_type == "AWS::S3::Bucket" else None
    if isinstance(pab, dict):
        flags = {
            "BlockPublicAcls": "block_public_acls",
            "BlockPublicPolicy": "block_public_policy",
            "IgnorePublicAcls": "ignore_public_acls",
            "RestrictPublicBuckets": "restrict_public_buckets",
        }
        pattrs: dict[str, Any] = {"bucket": Unknown(f"!Ref {logical_id}", logical_id)}
        plines_out: dict[str, int] = {}
        for cfn_key, tf_key in flags.items():
            if cfn_key in pab:
                pattrs[tf_key] = pab[cfn_key]
                plines_out[tf_key] = _line(plines, f"PublicAccessBlockConfiguration.{cfn_key}", start)
        out.append(
            _resource(
                path,
                type="aws_s3_bucket_public_access_block",
                address=f"{logical_id}.PublicAccessBlockConfiguration",
                start_line=_line(plines, "PublicAccessBlockConfiguration", start),
                attributes=pattrs,
                lines=plines_out,
                name=logical_id,
                extra={"cfn_type": cfn_type},
            )
        )
    return out


def _line(plines: Mapping[str, int], cfn_path: str, default: int) -> int:
    parts = cfn_path.split(".")
    while parts:
        line = plines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return plines.get("", default)


def _copy_item_lines(
    lines: dict[str, int], plines: Mapping[str, int], tf_path: str, cfn_path: str, value: Any
) -> None:
    """Lines of list items (`ingress.0.cidr_blocks` ← `SecurityGroupIngress.0.CidrIp`)."""
    if not isinstance(value, list):
        return
    for i, item in enumerate(value):
        lines[f"{tf_path}.{i}"] = _line(plines, f"{cfn_path}.{i}", lines[tf_path])
        if not isinstance(item, dict):
            continue
        for key in item:
            src = {
                "cidr_blocks": "CidrIp",
                "ipv6_cidr_blocks": "CidrIpv6",
                "from_port": "FromPort",
                "to_port": "ToPort",
                "policy": "PolicyDocument",
                "name": "PolicyName",
            }.get(key)
            if src:
                lines[f"{tf_path}.{i}.{key}"] = _line(
                    plines, f"{cfn_path}.{i}.{src}", lines[f"{tf_path}.{i}"]
                )
                _copy_nested(lines, plines, f"{cfn_path}.{i}.{src}", f"{tf_path}.{i}.{key}")


def _copy_nested(lines: dict[str, int], plines: Mapping[str, int], cfn_path: str, tf_path: str) -> None:
    """Lines inside a value kept as is (a policy document's `Statement.0.Action`)."""
    prefix = cfn_path + "."
    for key, line in plines.items():
        if key.startswith(prefix):
            lines[tf_path + key[len(cfn_path) :]] = line


def _assign(attrs: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur: Any = attrs
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if part.isdigit():
            idx = int(part)
            while len(cur) <= idx:
                cur.append({} if not nxt_is_index else [])
            cur = cur[idx]
        else:
            if part not in cur or not isinstance(cur[part], dict | list):
                cur[part] = [] if nxt_is_index else {}
            cur = cur[part]
    last = parts[-1]
    if last.isdigit() and isinstance(cur, list):
        while len(cur) <= int(last):
            cur.append(None)
        cur[int(last)] = value
    elif isinstance(cur, dict):
        cur[last] = value


def _resource(path: str, **fields: Any) -> Resource:
    return Resource(path=path, source="cloudformation", group=f"cfn:{path}", **fields)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
