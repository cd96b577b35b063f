"""CloudFormation: short tags, intrinsic resolution, JSON templates, normalization and lines."""

from __future__ import annotations

import textwrap

import pytest

from clearance.errors import MalformedInput
from clearance.scanners.iac.model import Unevaluated, Unknown
from clearance.scanners.iac.parsers import cloudformation

TEMPLATE = textwrap.dedent("""
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      Env:
        Type: String
        Default: prod
    Resources:
      Logs:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: !Sub "acme-${Env}-logs"
          AccessControl: LogDeliveryWrite
          PublicAccessBlockConfiguration:
            BlockPublicAcls: true
            BlockPublicPolicy: false
      LogsPolicy:
        Type: AWS::S3::BucketPolicy
        Properties:
          Bucket: !Ref Logs
          PolicyDocument:
            Statement:
              - Effect: Allow
                Principal: "*"
                Action: s3:GetObject
                Resource: !Join ["", [!GetAtt Logs.Arn, "/*"]]
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Join ["-", [!Ref Env, jobs]]
      Custom:
        Type: Custom::Thing
        Properties:
          ServiceToken: !ImportValue shared-token
""").lstrip()


def test_short_tags_resolve_and_normalize() -> None:
    rs = {r.address: r for r in cloudformation.parse("t.yaml", TEMPLATE)}
    logs = rs["Logs"]
    assert logs.type == "aws_s3_bucket" and logs.extra["cfn_type"] == "AWS::S3::Bucket"
    assert logs.attributes["bucket"] == "acme-prod-logs"
    assert logs.attributes["acl"] == "log-delivery-write"
    assert logs.line_of("acl") == 11
    pab = rs["Logs.PublicAccessBlockConfiguration"]
    assert pab.type == "aws_s3_bucket_public_access_block"
    assert pab.attributes["block_public_policy"] is False and pab.line_of("block_public_policy") == 14
    policy = rs["LogsPolicy"]
    bucket = policy.attributes["bucket"]
    assert isinstance(bucket, Unknown) and bucket.ref == "Logs"
    assert isinstance(policy.attributes["policy"]["Statement"][0]["Resource"], Unknown)
    assert policy.line_of("policy.Statement.0.Principal") == 22
    assert rs["Queue"].type == "aws_sqs_queue"
    assert rs["Custom"].type == "Custom::Thing"


def test_json_template_with_fn_functions() -> None:
    text = '{"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {\n"PubliclyAccessible": true,\n"StorageEncrypted": {"Fn::If": ["x", true, false]}}}}}'
    (db,) = cloudformation.parse("t.json", text)
    assert db.type == "aws_db_instance"
    assert db.attributes["publicly_accessible"] is True and db.line_of("publicly_accessible") == 2
    assert isinstance(db.attributes["storage_encrypted"], Unknown)


@pytest.mark.parametrize("text", ["Resources: [\n", "Resources: 3\n", "a: &x [*x]\n"])
def test_malformed_templates_raise_parse_errors(text: str) -> None:
    with pytest.raises(MalformedInput):
        cloudformation.parse("bad.yaml", text)


_CONDITIONS = textwrap.dedent("""
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      Env:
        Type: String
        Default: prod
      Stage:
        Type: String
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
      IsDev: !Not [!Condition IsProd]
      Either: !Or [!Condition IsDev, !Equals [!Ref Stage, test]]
      Both: !And [!Condition IsProd, !Equals [!Ref Stage, test]]
      Loop: !Not [!Condition Loop]
    Resources:
      Queue:
        Type: Custom::Settings
        Properties:
          Prod: !If [IsProd, open, closed]
          Dev: !If [IsDev, open, closed]
          Either: !If [Either, open, closed]
          Both: !If [Both, open, closed]
          Loop: !If [Loop, open, closed]
          Undefined: !If [Nowhere, open, closed]
          Select: !Select [1, [a, b]]
          SelectParam: !Select [0, [!Ref Stage]]
          Azs: !GetAZs ""
""")


def test_fn_if_is_decided_by_parameter_defaults_and_unknown_only_from_deploy_time_inputs() -> None:
    [queue] = cloudformation.parse("t.yaml", _CONDITIONS)
    props = queue.attributes
    assert props["Prod"] == "open" and props["Dev"] == "closed"
    # Or(false, Stage == test): Stage has no default, so deploy-time unknown (low confidence)
    assert type(props["Either"]) is Unknown
    assert type(props["Both"]) is Unknown  # And(true, deploy-time unknown)
    # a cycle or an undefined condition is rejected by CloudFormation: not "deploy time"
    assert isinstance(props["Loop"], Unevaluated) and isinstance(props["Undefined"], Unevaluated)
    # an intrinsic the resolver does not implement, over literals, is fixed by the template
    assert isinstance(props["Select"], Unevaluated)
    assert type(props["SelectParam"]) is Unknown and type(props["Azs"]) is Unknown
