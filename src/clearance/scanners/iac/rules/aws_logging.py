"""AWS logging and detection: CloudTrail, EKS control-plane logs, load-balancer access logs."""

from __future__ import annotations

from collections.abc import Iterator

from clearance.model import Severity
from clearance.scanners.iac.model import Resource, is_unknown, truthy
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import flag_not_true, missing, strings

_EKS_TYPES = ("api", "audit", "authenticator")


def _eks_logs(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    value = res.get("enabled_cluster_log_types")
    if is_unknown(value):
        return
    enabled = set(strings(value))
    lacking = [t for t in _EKS_TYPES if t not in enabled]
    if value is None:
        yield Hit("", None, "`enabled_cluster_log_types` is not set: no control-plane logs.")
    elif lacking:
        yield Hit("enabled_cluster_log_types", sorted(enabled), f"Missing log types: {', '.join(lacking)}.")


def _lb_logs(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    lb_type = res.get("load_balancer_type", "application")
    if isinstance(lb_type, str) and lb_type == "gateway":
        return
    enabled = res.get("access_logs.0.enabled")
    if is_unknown(enabled):
        return
    if not res.get("access_logs"):
        yield Hit("", None, "No `access_logs` block.")
    elif truthy(enabled) is False or (enabled is None and not res.get("access_logs.0.bucket")):
        yield Hit("access_logs.0.enabled", enabled)


_TRAIL_REF = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html"

RULES: tuple[IacRule, ...] = (
    rule(
        id="iac.aws-cloudtrail-multi-region",
        title="CloudTrail trail records only one region",
        severity=Severity.MEDIUM,
        risk="Activity in the other regions, a favourite place to hide crypto-miners and backdoors, is not "
        "recorded.",
        remediation="Record every region:\n\n  is_multi_region_trail = true",
        resource_types=("aws_cloudtrail",),
        category="logging",
        check=flag_not_true("is_multi_region_trail"),
        references=("CIS AWS Foundations 3.1", _TRAIL_REF),
    ),
    rule(
        id="iac.aws-cloudtrail-log-validation",
        title="CloudTrail log file validation disabled",
        severity=Severity.MEDIUM,
        risk="Without digest files nobody can prove that the audit logs were not altered or deleted after "
        "an intrusion.",
        remediation="Enable validation:\n\n  enable_log_file_validation = true",
        resource_types=("aws_cloudtrail",),
        category="logging",
        check=flag_not_true("enable_log_file_validation"),
        references=("CIS AWS Foundations 3.2", _TRAIL_REF),
    ),
    rule(
        id="iac.aws-cloudtrail-kms",
        title="CloudTrail logs not encrypted with KMS",
        severity=Severity.LOW,
        risk="Audit logs encrypted only with S3-managed keys can be read by anyone with read access to the "
        "bucket.",
        remediation="Encrypt with a customer-managed key:\n\n  kms_key_id = aws_kms_key.cloudtrail.arn",
        resource_types=("aws_cloudtrail",),
        category="encryption",
        check=missing("kms_key_id"),
        references=("CIS AWS Foundations 3.5", _TRAIL_REF),
    ),
    rule(
        id="iac.aws-eks-control-plane-logging",
        title="EKS control-plane logging incomplete",
        severity=Severity.LOW,
        risk="Without API, audit and authenticator logs there is no trace of who did what in the cluster.",
        remediation='Enable the control-plane logs:\n\n  enabled_cluster_log_types = ["api", "audit", '
        '"authenticator", "controllerManager", "scheduler"]',
        resource_types=("aws_eks_cluster",),
        category="logging",
        check=_eks_logs,
        references=("https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html",),
    ),
    rule(
        id="iac.aws-lb-access-logs",
        title="Load balancer access logs disabled",
        severity=Severity.LOW,
        risk="Without access logs requests that probed or exploited the service leave no trace.",
        remediation="Log to S3:\n\n  access_logs {\n    bucket  = aws_s3_bucket.lb_logs.id\n    enabled = true\n  }",
        resource_types=("aws_lb", "aws_alb", "aws_elb"),
        category="logging",
        check=_lb_logs,
        references=(
            "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html",
        ),
    ),
)
