"""CloudFormation: short tags, intrinsic resolution, JSON templates, normalization and lines."""

from __future__ import annotations

import textwrap

import pytest

from clearance.errors import MalformedInput
from clearance.scanners.iac.model import Unknown
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
