"""AWS encryption defaults: storage at rest, in transit, key rotation, TLS policies."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from clearance.model import Severity
from clearance.scanners.iac.model import Resource, is_unknown, iter_blocks, truthy
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import flag_not_true, missing

OLD_LB_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-2015-05",
        "ELBSecurityPolicy-2016-08",
        "ELBSecurityPolicy-TLS-1-0-2015-04",
        "ELBSecurityPolicy-TLS-1-1-2017-01",
        "ELBSecurityPolicy-FS-2018-06",
        "ELBSecurityPolicy-FS-1-1-2019-08",
        "ELBSecurityPolicy-2011-08",
        "ELBSecurityPolicy-2014-01",
        "ELBSecurityPolicy-2014-10",
        "ELBSecurityPolicy-2015-02",
        "ELBSecurityPolicy-2015-03",
    }
)
OLD_CLOUDFRONT_TLS = frozenset({"SSLv3", "TLSv1", "TLSv1_2016", "TLSv1.1_2016"})


def _ebs(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    default_on = any(
        truthy(d.get("enabled", True)) is True for d in ctx.by_type("aws_ebs_encryption_by_default")
    )
    if res.type == "aws_ebs_encryption_by_default":
        value = res.get("enabled")
        if truthy(value) is False:
            yield Hit("enabled", value, "Account-level EBS encryption by default is turned off.")
        return
    if res.type in ("aws_instance", "aws_launch_configuration") and not default_on:
        yield from _root_volume_unset(res)
    candidates: list[tuple[str, object]] = []
    if res.type == "aws_ebs_volume":
        candidates.append(("encrypted", res.get("encrypted")))
    elif res.type == "aws_instance":
        for path, block in iter_blocks(res, "root_block_device"):
            candidates.append((f"{path}.encrypted", block.get("encrypted")))
        for path, block in iter_blocks(res, "ebs_block_device"):
            candidates.append((f"{path}.encrypted", block.get("encrypted")))
    elif res.type in ("aws_launch_template", "aws_launch_configuration"):
        for path, _block in iter_blocks(res, "block_device_mappings"):
            for epath, ebs in iter_blocks(res, f"{path}.ebs"):
                candidates.append((f"{epath}.encrypted", ebs.get("encrypted")))
        for path, block in iter_blocks(res, "root_block_device"):
            candidates.append((f"{path}.encrypted", block.get("encrypted")))
        for path, block in iter_blocks(res, "ebs_block_device"):
            candidates.append((f"{path}.encrypted", block.get("encrypted")))
    for path, value in candidates:
        if is_unknown(value):
            continue
        if value is None:
            if not default_on and res.type == "aws_ebs_volume":
                yield Hit(
                    "",
                    None,
                    "`encrypted` is not set and account-level encryption by default is not configured here.",
                )
            continue
        if truthy(value) is False:
            yield Hit(path, value)


_ROOT_UNSET = (
    "The root volume does not set `encrypted`: it is unencrypted unless the AMI's snapshot is encrypted "
    "or account-level EBS encryption by default is on (neither is visible here)."
)


def _root_volume_unset(res: Resource) -> Iterator[Hit]:
    """The root volume of an instance (or launch configuration) with no `encrypted` setting.

    Not reported when a launch template supplies the block devices, nor when the block's
    `encrypted` is unresolved (an unknown `for_each` yields one block of unknown values).
    """
    if res.type == "aws_instance" and res.get("launch_template"):
        return
    roots = list(iter_blocks(res, "root_block_device"))
    if not roots:
        yield Hit("", None, _ROOT_UNSET, confidence="medium")
        return
    for path, block in roots:
        if "encrypted" not in block or block.get("encrypted") is None:
            yield Hit(path, None, _ROOT_UNSET, confidence="medium")


def _sqs(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    managed = res.get("sqs_managed_sse_enabled")
    if res.get("kms_master_key_id"):
        return
    if truthy(managed) is False:
        yield Hit("sqs_managed_sse_enabled", managed, "Neither SSE-SQS nor a KMS key encrypts the queue.")


def _kms_rotation(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    spec = res.get("customer_master_key_spec", "SYMMETRIC_DEFAULT")
    if isinstance(spec, str) and spec != "SYMMETRIC_DEFAULT":
        return  # rotation applies to symmetric keys only
    yield from flag_not_true("enable_key_rotation", "Automatic key rotation is not enabled.")(res, ctx)


def _lb_listener(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    protocol = res.get("protocol")
    if not isinstance(protocol, str) or protocol.upper() != "HTTP":
        return
    for _, action in iter_blocks(res, "default_action"):
        if str(action.get("type", "")).lower() == "redirect":
            redirect = action.get("redirect")
            block = redirect[0] if isinstance(redirect, list) and redirect else redirect
            if isinstance(block, dict) and str(block.get("protocol", "")).upper() == "HTTPS":
                return
    yield Hit("protocol", protocol, "The listener serves plain HTTP without redirecting to HTTPS.")


def _lb_policy(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    policy = res.get("ssl_policy")
    if isinstance(policy, str) and policy in OLD_LB_POLICIES:
        yield Hit("ssl_policy", policy, "The policy still negotiates TLS 1.0/1.1.")


def _cloudfront(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for base in ("default_cache_behavior", "ordered_cache_behavior"):
        for path, block in iter_blocks(res, base):
            if str(block.get("viewer_protocol_policy", "")).lower() == "allow-all":
                yield Hit(f"{path}.viewer_protocol_policy", "allow-all", "Viewers may use plain HTTP.")
    version = res.get("viewer_certificate.0.minimum_protocol_version")
    if isinstance(version, str) and version in OLD_CLOUDFRONT_TLS:
        yield Hit(
            "viewer_certificate.0.minimum_protocol_version", version, "Viewers may use TLS older than 1.2."
        )


def _opensearch(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for path in ("encrypt_at_rest.0.enabled", "node_to_node_encryption.0.enabled"):
        value = res.get(path)
        if is_unknown(value):
            continue
        if truthy(value) is not True:
            yield Hit(path if res.has(path) else "", value, f"`{path.split('.')[0]}` is not enabled.")


def _not_always_encrypted(res: Resource) -> bool:
    """False for storage that AWS always encrypts (Aurora Serverless v1: `engine_mode =
    "serverless"`), or whose mode is not known."""
    mode = res.get("engine_mode")
    if is_unknown(mode):
        return False
    return not (isinstance(mode, str) and mode.lower() == "serverless")


def _at_rest(
    key: str,
    what: str,
    types: tuple[str, ...],
    attr: str,
    fix: str,
    ref: str,
    severity: Severity = Severity.MEDIUM,
    when: Callable[[Resource], bool] | None = None,
) -> IacRule:
    return rule(
        id=f"iac.aws-{key}-encryption",
        title=f"{what} not encrypted at rest",
        severity=severity,
        risk=f"Unencrypted {what} data is readable by anyone who gets the underlying storage, snapshots or "
        "backups.",
        remediation=fix,
        resource_types=types,
        category="encryption",
        check=flag_not_true(attr, f"`{attr}` is not true.", when=when),
        references=(ref,),
    )


RULES: tuple[IacRule, ...] = (
    rule(
        id="iac.aws-ebs-encryption",
        title="EBS volume not encrypted",
        severity=Severity.MEDIUM,
        risk="Unencrypted EBS volumes and their snapshots expose data to anyone who can copy or share a "
        "snapshot.",
        remediation="Encrypt volumes (or turn on encryption by default):\n\n  encrypted  = true\n  kms_key_id = "
        'aws_kms_key.ebs.arn\n\n  resource "aws_ebs_encryption_by_default" "on" {\n    enabled = true\n  }',
        resource_types=(
            "aws_ebs_volume",
            "aws_instance",
            "aws_launch_template",
            "aws_launch_configuration",
            "aws_ebs_encryption_by_default",
        ),
        category="encryption",
        check=_ebs,
        references=(
            "CIS AWS Foundations 2.2.1",
            "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html",
        ),
    ),
    _at_rest(
        "rds",
        "RDS database",
        ("aws_db_instance", "aws_rds_cluster"),
        "storage_encrypted",
        "Encrypt storage:\n\n  storage_encrypted = true\n  kms_key_id        = aws_kms_key.rds.arn",
        "CIS AWS Foundations 2.3.1",
        Severity.HIGH,
        when=_not_always_encrypted,
    ),
    _at_rest(
        "efs",
        "EFS file system",
        ("aws_efs_file_system",),
        "encrypted",
        "Encrypt the file system:\n\n  encrypted  = true\n  kms_key_id = aws_kms_key.efs.arn",
        "CIS AWS Foundations 2.4.1",
    ),
    _at_rest(
        "redshift",
        "Redshift cluster",
        ("aws_redshift_cluster",),
        "encrypted",
        "Encrypt the cluster:\n\n  encrypted  = true\n  kms_key_id = aws_kms_key.redshift.arn",
        "https://docs.aws.amazon.com/redshift/latest/mgmt/working-with-db-encryption.html",
    ),
    _at_rest(
        "elasticache",
        "ElastiCache replication group",
        ("aws_elasticache_replication_group",),
        "at_rest_encryption_enabled",
        "Encrypt at rest:\n\n  at_rest_encryption_enabled = true",
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/red-ug/at-rest-encryption.html",
    ),
    rule(
        id="iac.aws-elasticache-transit-encryption",
        title="ElastiCache replication group without encryption in transit",
        severity=Severity.MEDIUM,
        risk="Without in-transit encryption cache traffic, including auth tokens and cached secrets, "
        "crosses the network in clear text.",
        remediation="Enable TLS:\n\n  transit_encryption_enabled = true",
        resource_types=("aws_elasticache_replication_group",),
        category="encryption",
        check=flag_not_true("transit_encryption_enabled"),
        references=(
            "https://docs.aws.amazon.com/AmazonElastiCache/latest/red-ug/in-transit-encryption.html",
        ),
    ),
    rule(
        id="iac.aws-sns-encryption",
        title="SNS topic not encrypted with KMS",
        severity=Severity.LOW,
        risk="Messages in an unencrypted topic are stored in clear and readable to anyone with access to "
        "the service's storage.",
        remediation='Encrypt the topic:\n\n  kms_master_key_id = "alias/aws/sns"',
        resource_types=("aws_sns_topic",),
        category="encryption",
        check=missing("kms_master_key_id"),
        references=("https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html",),
    ),
    rule(
        id="iac.aws-sqs-encryption",
        title="SQS queue encryption turned off",
        severity=Severity.MEDIUM,
        risk="With SSE-SQS turned off and no KMS key, queued messages are stored unencrypted.",
        remediation="Keep server-side encryption on:\n\n  sqs_managed_sse_enabled = true\n  # or: "
        "kms_master_key_id = aws_kms_key.sqs.arn",
        resource_types=("aws_sqs_queue",),
        category="encryption",
        check=_sqs,
        references=(
            "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html",
        ),
    ),
    rule(
        id="iac.aws-dynamodb-kms",
        title="DynamoDB table not encrypted with a KMS key",
        severity=Severity.LOW,
        risk="Without a KMS key the table uses an AWS-owned key, so key access cannot be audited or revoked.",
        remediation="Use a KMS key:\n\n  server_side_encryption {\n    enabled     = true\n    kms_key_arn = "
        "aws_kms_key.dynamo.arn\n  }",
        resource_types=("aws_dynamodb_table",),
        category="encryption",
        check=flag_not_true("server_side_encryption.0.enabled"),
        references=(
            "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html",
        ),
    ),
    rule(
        id="iac.aws-eks-secrets-encryption",
        title="EKS secrets not envelope-encrypted with KMS",
        severity=Severity.MEDIUM,
        risk="Without envelope encryption Kubernetes secrets sit in etcd protected only by the default "
        "storage encryption.",
        remediation='Encrypt secrets with a KMS key:\n\n  encryption_config {\n    resources = ["secrets"]\n'
        "    provider {\n      key_arn = aws_kms_key.eks.arn\n    }\n  }",
        resource_types=("aws_eks_cluster",),
        category="encryption",
        check=lambda res, ctx: (
            [] if res.get("encryption_config") else [Hit("", None, "No `encryption_config` block.")]
        ),
        references=("https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html",),
    ),
    rule(
        id="iac.aws-kms-rotation",
        title="KMS key rotation disabled",
        severity=Severity.MEDIUM,
        risk="A key that is never rotated keeps every ciphertext exposed to a single key compromise "
        "indefinitely.",
        remediation="Enable yearly rotation:\n\n  enable_key_rotation = true",
        resource_types=("aws_kms_key",),
        category="encryption",
        check=_kms_rotation,
        references=("CIS AWS Foundations 3.6",),
    ),
    rule(
        id="iac.aws-opensearch-encryption",
        title="OpenSearch domain without encryption at rest or node-to-node",
        severity=Severity.MEDIUM,
        risk="Index data and inter-node traffic are stored or sent without encryption.",
        remediation="Enable both:\n\n  encrypt_at_rest {\n    enabled = true\n  }\n  node_to_node_encryption {\n"
        "    enabled = true\n  }",
        resource_types=("aws_opensearch_domain", "aws_elasticsearch_domain"),
        category="encryption",
        check=_opensearch,
        references=(
            "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/encryption-at-rest.html",
        ),
    ),
    rule(
        id="iac.aws-lb-listener-http",
        title="Load balancer listener serves plain HTTP",
        severity=Severity.MEDIUM,
        risk="Traffic, including session cookies and credentials, crosses the internet unencrypted.",
        remediation='Redirect HTTP to HTTPS:\n\n  default_action {\n    type = "redirect"\n    redirect {\n'
        '      port        = "443"\n      protocol    = "HTTPS"\n      status_code = "HTTP_301"\n    }\n  }',
        resource_types=("aws_lb_listener", "aws_alb_listener"),
        category="encryption",
        check=_lb_listener,
        references=(
            "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html",
        ),
        exposure="public",
    ),
    rule(
        id="iac.aws-lb-tls-policy",
        title="Load balancer listener allows TLS 1.0/1.1",
        severity=Severity.MEDIUM,
        risk="Old TLS versions have known weaknesses and are rejected by compliance baselines.",
        remediation='Use a TLS 1.2+ policy:\n\n  ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06"',
        resource_types=("aws_lb_listener", "aws_alb_listener"),
        category="encryption",
        check=_lb_policy,
        references=(
            "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html",
        ),
    ),
    rule(
        id="iac.aws-cloudfront-tls",
        title="CloudFront allows plain HTTP or old TLS",
        severity=Severity.MEDIUM,
        risk="Viewers can reach the distribution over plain HTTP or TLS older than 1.2, exposing traffic "
        "to interception.",
        remediation='Redirect to HTTPS and require TLS 1.2:\n\n  viewer_protocol_policy   = "redirect-to-https"\n'
        '  minimum_protocol_version = "TLSv1.2_2021"',
        resource_types=("aws_cloudfront_distribution",),
        category="encryption",
        check=_cloudfront,
        references=(
            "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html",
        ),
        exposure="public",
    ),
)
