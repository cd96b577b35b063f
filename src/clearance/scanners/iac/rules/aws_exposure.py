"""AWS public exposure: databases and endpoints reachable from the internet, resource policies open to anyone."""

from __future__ import annotations

from collections.abc import Iterator

from clearance.model import Severity
from clearance.scanners.iac.iam import anyone_evidence, open_to_anyone, parse_document, unevaluated_document
from clearance.scanners.iac.model import Resource, Unevaluated, is_unknown, truthy
from clearance.scanners.iac.rules.base import CheckFn, Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.checks import flag_true, is_anywhere, strings


def _open_policy(attr: str = "policy") -> CheckFn:
    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        value = res.get(attr)
        for st in parse_document(value, attr) or ():
            if open_to_anyone(st):
                attribute, evidence, note = anyone_evidence(st)
                yield Hit(
                    attribute,
                    evidence,
                    f'The resource policy allows anyone (Principal "*") without a condition.{note}',
                )
                return
        undecided = unevaluated_document(value, attr)
        if undecided is not None:
            yield Hit(undecided[0], undecided[1], "who the policy lets in cannot be read", undecided=True)

    return check


def _refused(value: object) -> bool:
    """Fixed by the file but not computed by the evaluator (and not a reference to a resource of
    the configuration): a rule reads it at its worst."""
    return isinstance(value, Unevaluated) and value.ref is None


_CALLER_LIMITS = ("source_arn", "source_account", "principal_org_id")
"""The settings of a Lambda permission that narrow who may invoke it."""


def _lambda_public(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.type == "aws_lambda_function_url":
        auth = res.get("authorization_type")
        if isinstance(auth, str) and auth.upper() == "NONE":
            yield Hit("authorization_type", auth, "The function URL needs no authentication.")
        elif _refused(auth):
            yield Hit(
                "authorization_type",
                auth,
                "The function URL may need no authentication (`authorization_type` could not be "
                "evaluated and is read as `NONE`).",
            )
        return
    principal = res.get("principal")
    unevaluated = _refused(principal)  # read as "*"
    if principal != "*" and not unevaluated:
        return
    limits = {name: res.get(name) for name in _CALLER_LIMITS}
    if any(v and not _refused(v) for v in limits.values()):
        return  # a restriction (an apply-time input is one too)
    refused = [name for name, v in limits.items() if _refused(v)]
    if refused:  # a restriction the evaluator could not compute restricts nothing
        yield Hit(
            refused[0],
            limits[refused[0]],
            f"Anyone may invoke the function (`{refused[0]}` could not be evaluated and is read as "
            "restricting nothing).",
        )
        return
    note = " (`principal` could not be evaluated and is read as `*`)" if unevaluated else ""
    yield Hit("principal", principal, f"Anyone may invoke the function{note}.")


def _eks_public(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    public = res.get("vpc_config.0.endpoint_public_access")
    if is_unknown(public) or truthy(public) is False:
        return
    cidrs = res.get("vpc_config.0.public_access_cidrs")
    if cidrs is None:
        path = "vpc_config.0.endpoint_public_access" if public is not None else "vpc_config"
        yield Hit(
            path,
            public if public is not None else "default (true)",
            "The API endpoint is public and `public_access_cidrs` defaults to 0.0.0.0/0.",
        )
    elif any(is_anywhere(c) for c in strings(cidrs)):
        yield Hit("vpc_config.0.public_access_cidrs", cidrs, "The API endpoint is open to 0.0.0.0/0.")


def _opensearch_public(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.get("vpc_options"):
        return
    policy = res.get("access_policies")
    undecided = unevaluated_document(policy, "access_policies")
    if undecided is not None:
        yield Hit(undecided[0], undecided[1], "who the access policy lets in cannot be read", undecided=True)
        return
    if is_unknown(policy):
        return
    statements = parse_document(policy, "access_policies")
    if statements is None:
        yield Hit("", None, "The domain has a public endpoint (no `vpc_options`) and no access policy.")
        return
    for st in statements:
        if not open_to_anyone(st):
            continue
        attribute, evidence, note = anyone_evidence(st)
        yield Hit(
            attribute,
            evidence,
            f"The domain has a public endpoint and its access policy allows anyone.{note}",
        )
        return


def _public_policy_rule(
    key: str, service: str, types: tuple[str, ...], ref: str, severity: Severity = Severity.HIGH
) -> IacRule:
    return rule(
        id=f"iac.aws-{key}-public-policy",
        title=f"{service} resource policy open to anyone",
        severity=severity,
        risk=f'A {service} policy that allows Principal "*" without a condition lets any AWS account or '
        "anonymous caller use the resource.",
        remediation="Name the principals (and add conditions such as aws:SourceArn):\n\n  Principal = { AWS = "
        '"arn:aws:iam::123456789012:role/consumer" }\n  Condition = { ArnEquals = { "aws:SourceArn" = '
        "aws_sns_topic.events.arn } }",
        resource_types=types,
        category="public-access",
        check=_open_policy(),
        references=(ref,),
        exposure="public",
    )


RULES: tuple[IacRule, ...] = (
    rule(
        id="iac.aws-rds-public",
        title="RDS database publicly accessible",
        severity=Severity.HIGH,
        risk="A publicly accessible database gets a public IP address and can be reached from the internet "
        "by anyone who gets past its security group.",
        remediation="Keep databases private:\n\n  publicly_accessible = false",
        resource_types=("aws_db_instance", "aws_rds_cluster_instance"),
        category="public-access",
        check=flag_true("publicly_accessible"),
        references=(
            "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html",
        ),
        exposure="public",
    ),
    rule(
        id="iac.aws-redshift-public",
        title="Redshift cluster publicly accessible",
        severity=Severity.HIGH,
        risk="A publicly accessible warehouse can be reached from the internet, exposing bulk data to "
        "credential attacks.",
        remediation="Keep the cluster private:\n\n  publicly_accessible = false",
        resource_types=("aws_redshift_cluster",),
        category="public-access",
        check=flag_true("publicly_accessible"),
        references=("https://docs.aws.amazon.com/redshift/latest/mgmt/managing-clusters-vpc.html",),
        exposure="public",
    ),
    rule(
        id="iac.aws-opensearch-public",
        title="OpenSearch domain reachable from the internet",
        severity=Severity.HIGH,
        risk="A domain outside a VPC whose access policy allows anyone exposes its indexes to the internet.",
        remediation="Place the domain in a VPC:\n\n  vpc_options {\n    subnet_ids         = var.private_subnets\n"
        "    security_group_ids = [aws_security_group.search.id]\n  }",
        resource_types=("aws_opensearch_domain", "aws_elasticsearch_domain"),
        category="public-access",
        check=_opensearch_public,
        references=("https://docs.aws.amazon.com/opensearch-service/latest/developerguide/vpc.html",),
        exposure="public",
    ),
    rule(
        id="iac.aws-eks-public-endpoint",
        title="EKS API endpoint open to the internet",
        severity=Severity.MEDIUM,
        risk="A Kubernetes API endpoint reachable from 0.0.0.0/0 exposes the control plane to credential "
        "attacks and API vulnerabilities.",
        remediation="Make the endpoint private or restrict it:\n\n  vpc_config {\n    endpoint_private_access = "
        'true\n    endpoint_public_access  = false\n    # or: public_access_cidrs = ["203.0.113.0/24"]\n  }',
        resource_types=("aws_eks_cluster",),
        category="public-access",
        check=_eks_public,
        references=("https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html",),
        exposure="public",
    ),
    rule(
        id="iac.aws-lambda-public",
        title="Lambda function invocable by anyone",
        severity=Severity.HIGH,
        risk='A permission for Principal "*" without a source, or a function URL without authentication, '
        "lets anyone on the internet run the function.",
        remediation='Restrict the caller:\n\n  principal  = "events.amazonaws.com"\n  source_arn = '
        'aws_cloudwatch_event_rule.nightly.arn\n\n  # function URL\n  authorization_type = "AWS_IAM"',
        resource_types=("aws_lambda_permission", "aws_lambda_function_url"),
        category="public-access",
        check=_lambda_public,
        references=("https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html",),
        exposure="public",
    ),
    _public_policy_rule(
        "sqs",
        "SQS queue",
        ("aws_sqs_queue_policy", "aws_sqs_queue"),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-basic-examples-of-sqs-policies.html",
    ),
    _public_policy_rule(
        "sns",
        "SNS topic",
        ("aws_sns_topic_policy", "aws_sns_topic"),
        "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html",
    ),
    _public_policy_rule(
        "ecr",
        "ECR repository",
        ("aws_ecr_repository_policy", "aws_ecr_repository"),
        "https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html",
    ),
    _public_policy_rule(
        "kms",
        "KMS key",
        ("aws_kms_key", "aws_kms_key_policy"),
        "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html",
        Severity.CRITICAL,
    ),
)
