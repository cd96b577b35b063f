"""IAM analysis: wildcard expansion, NotAction, Deny, conditions, per-principal effective permissions."""

from __future__ import annotations

import textwrap
from typing import Any

from clearance.scanners.iac import iam
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.parsers import terraform
from clearance.scanners.iac.rules.base import RuleContext


def _doc(*statements: dict[str, Any]) -> iam.PolicyDoc:
    res = Resource(
        type="iam_policy",
        address="iam_policy.t",
        path="p.json",
        start_line=1,
        source="iam-json",
        attributes={"policy": {"Version": "2012-10-17", "Statement": list(statements)}},
    )
    return iam.identity_documents(res)[0]


def test_wildcards_expand_against_the_action_list() -> None:
    assert "iam:putuserpolicy" in iam.expand("iam:Put*")
    assert "iam:passrole" not in iam.expand("iam:Put*")
    assert iam.expand("s3:GetObject") == frozenset({"s3:getobject"})
    assert "lambda:invokefunction" in iam.expand("*")


def test_paths_need_every_action() -> None:
    names = {
        p.path.name
        for p in iam.escalation_paths(
            [_doc({"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction"], "Resource": "*"})]
        )
    }
    assert "PassRole+Lambda" not in names
    names = {
        p.path.name
        for p in iam.escalation_paths(
            [_doc({"Effect": "Allow", "Action": ["iam:PassRole", "lambda:*"], "Resource": "*"})]
        )
    }
    assert {"PassRole+Lambda", "PassRole+LambdaEventSource", "UpdateFunctionCode"} <= names


def test_notaction_allow_grants_everything_else() -> None:
    found = iam.escalation_paths([_doc({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"})])
    names = {p.path.name for p in found}
    assert "UpdateFunctionCode" in names and "CreateAccessKey" not in names


def test_unconditioned_deny_removes_but_conditioned_deny_does_not() -> None:
    allow = {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "iam:Create*", "Resource": "*"}
    assert iam.escalation_paths([_doc(allow, deny)]) == []
    conditioned = dict(deny, Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})
    assert [p.path.name for p in iam.escalation_paths([_doc(allow, conditioned)])] == ["CreateAccessKey"]


def test_conditions_and_specific_resources_lower_confidence() -> None:
    cond = iam.escalation_paths(
        [
            _doc(
                {
                    "Effect": "Allow",
                    "Action": "iam:CreateAccessKey",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
                }
            )
        ]
    )
    assert cond[0].confidence == "medium"
    scoped = iam.escalation_paths(
        [
            _doc(
                {
                    "Effect": "Allow",
                    "Action": "iam:CreateAccessKey",
                    "Resource": "arn:aws:iam::123456789012:user/bob",
                }
            )
        ]
    )
    assert scoped[0].confidence == "medium"


def test_effective_permissions_per_principal_join_attachments_groups_and_managed_arns() -> None:
    text = textwrap.dedent("""
        resource "aws_iam_user" "u" {
          name = "u"
        }
        resource "aws_iam_group" "g" {
          name = "g"
        }
        resource "aws_iam_group_membership" "m" {
          name  = "m"
          group = aws_iam_group.g.name
          users = [aws_iam_user.u.name]
        }
        resource "aws_iam_group_policy_attachment" "admin" {
          group      = aws_iam_group.g.name
          policy_arn = "arn:aws:iam::aws:policy/IAMFullAccess"
        }
        resource "aws_iam_policy" "ec2" {
          policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "ec2:RunInstances", Resource = "*" }] })
        }
        resource "aws_iam_policy_attachment" "ec2" {
          name       = "ec2"
          users      = [aws_iam_user.u.name]
          policy_arn = aws_iam_policy.ec2.arn
        }
    """)
    resources, errors = terraform.parse_files({"m/main.tf": text})
    assert not errors
    ctx = RuleContext(resources)
    principals = iam.principal_policies(ctx)
    labels = {d.label for d in principals["aws_iam_user.u"].docs}
    assert labels == {"arn:aws:iam::aws:policy/IAMFullAccess", "aws_iam_policy.ec2"}
    names = {p.path.name for p in iam.escalation_paths(principals["aws_iam_user.u"].docs)}
    assert "PassRole+EC2" in names  # iam:* from the group + ec2:RunInstances attached to the user
    assert {d.label for d in principals["aws_iam_group.g"].docs} == {"arn:aws:iam::aws:policy/IAMFullAccess"}


def test_open_to_anyone() -> None:
    open_doc = iam.parse_document(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:*"}]}
    )
    assert open_doc is not None and iam.open_to_anyone(open_doc[0])
    svc = iam.parse_document(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}}]}
    )
    assert svc is not None and not iam.open_to_anyone(svc[0])
    assert iam.parse_document("not json") is None
