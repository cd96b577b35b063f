"""AWS supply-chain settings: container registry tag immutability and image scanning."""

from __future__ import annotations

from collections.abc import Iterator

from clearance.model import Severity
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import flag_not_true


def _mutable(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    value = res.get("image_tag_mutability")
    if value is None:
        yield Hit("", None, "`image_tag_mutability` defaults to MUTABLE.")
    elif isinstance(value, str) and value.upper() == "MUTABLE":
        yield Hit("image_tag_mutability", value)


RULES: tuple[IacRule, ...] = (
    rule(
        id="iac.aws-ecr-mutable-tags",
        title="ECR repository allows overwriting image tags",
        severity=Severity.LOW,
        risk="Mutable tags let anyone with push access silently replace an image that deployments already "
        "reference by tag.",
        remediation='Make tags immutable:\n\n  image_tag_mutability = "IMMUTABLE"',
        resource_types=("aws_ecr_repository",),
        category="supply-chain",
        check=_mutable,
        references=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html",),
    ),
    rule(
        id="iac.aws-ecr-scan-on-push",
        title="ECR repository does not scan images on push",
        severity=Severity.LOW,
        risk="Images with known vulnerabilities are pushed and deployed without any scan result.",
        remediation="Scan on push:\n\n  image_scanning_configuration {\n    scan_on_push = true\n  }",
        resource_types=("aws_ecr_repository",),
        category="supply-chain",
        check=flag_not_true("image_scanning_configuration.0.scan_on_push"),
        references=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning.html",),
    ),
)
