"""AWS S3 rules, joining v4+ companion resources to their bucket (by reference or by name)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from clearance.model import Severity
from clearance.scanners.iac.iam import anyone_evidence, open_to_anyone, parse_document, unevaluated_document
from clearance.scanners.iac.model import Resource, Unevaluated, is_unknown, truthy
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read", "website"})
_ALL_USERS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_ACL_MEANS = {
    "public-read": "lets anyone on the internet list and read the objects",
    "public-read-write": "lets anyone on the internet read, write and delete objects",
    "authenticated-read": "lets anyone with an AWS account (any account, not only yours) read the objects",
    "website": "serves the objects to anyone on the internet",
}
"""What each public canned ACL grants (the finding says which, not a generic "everyone")."""
_PAB_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
_COMPANIONS = (
    "aws_s3_bucket_acl",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_logging",
)


def companions(bucket: Resource, ctx: RuleContext, rtype: str) -> list[Resource]:
    """Companion resources of one type that configure this bucket."""
    return ctx.referencing(bucket, [rtype], "bucket", ("bucket",))


def _target_bucket(res: Resource, ctx: RuleContext) -> Resource | None:
    for b in ctx.by_type("aws_s3_bucket"):
        if ctx.refers_to(res.get("bucket"), b, ("bucket",)):
            return b
    return None


def _pab_flags(bucket: Resource | None, ctx: RuleContext) -> dict[str, bool]:
    """Effective public-access-block flags (bucket-level companion or account-level)."""
    flags = dict.fromkeys(_PAB_FLAGS, False)
    blocks = ctx.by_type("aws_s3_account_public_access_block")
    if bucket is not None:
        blocks = blocks + companions(bucket, ctx, "aws_s3_bucket_public_access_block")
    for pab in blocks:
        for f in _PAB_FLAGS:
            if truthy(pab.get(f)) is True:
                flags[f] = True
    return flags


def _acl_hits(res: Resource) -> Iterator[Hit]:
    acl = res.get("acl")
    if isinstance(acl, str) and acl.lower() in PUBLIC_ACLS:
        yield Hit("acl", acl, f"The canned ACL `{acl}` {_ACL_MEANS[acl.lower()]}.", resource=res)
    elif isinstance(acl, Unevaluated):  # fixed by the file, not computed: judged at its worst
        yield Hit("acl", acl, "The canned ACL could not be evaluated; it may be public.", resource=res)
    grants = res.get("access_control_policy.0.grant") or res.get("grant") or []
    for i, grant in enumerate(grants if isinstance(grants, list) else []):
        if not isinstance(grant, Mapping):
            continue
        grantee = grant.get("grantee")
        block = grantee[0] if isinstance(grantee, list) and grantee else grantee
        # aws_s3_bucket_acl: grant { grantee { uri } }; the legacy aws_s3_bucket: grant { uri }
        uri = block.get("uri") if isinstance(block, Mapping) else grant.get("uri")
        if uri in _ALL_USERS:
            base = "access_control_policy.0.grant" if res.has("access_control_policy") else "grant"
            who = (
                "anyone on the internet"
                if uri == _ALL_USERS[0]
                else "anyone with an AWS account (any account, not only yours)"
            )
            yield Hit(f"{base}.{i}", uri, f"A grant gives access to {who}.", resource=res)


def _policy_hits(res: Resource, path: str) -> Iterator[Hit]:
    value = res.get(path)
    statements = parse_document(value, path)
    for st in statements or ():
        if open_to_anyone(st):
            attribute, evidence, note = anyone_evidence(st)
            yield Hit(
                attribute, evidence, f'The bucket policy allows anyone (Principal "*").{note}', resource=res
            )
            return
    undecided = unevaluated_document(value, path)
    if undecided is not None:
        yield Hit(
            undecided[0], undecided[1], "who the policy lets in cannot be read", resource=res, undecided=True
        )


def _public_access(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.type == "aws_s3_bucket":
        bucket: Resource | None = res
        acl_sources = [res, *companions(res, ctx, "aws_s3_bucket_acl")]
        policy_sources = [(res, "policy")] + [
            (p, "policy") for p in companions(res, ctx, "aws_s3_bucket_policy")
        ]
    else:
        bucket = _target_bucket(res, ctx)
        if bucket is not None:
            return  # reported through the bucket
        acl_sources = [res] if res.type == "aws_s3_bucket_acl" else []
        policy_sources = [(res, "policy")] if res.type == "aws_s3_bucket_policy" else []
    flags = _pab_flags(bucket, ctx)
    if not flags["ignore_public_acls"]:
        for src in acl_sources:
            yield from _acl_hits(src)
    if not (flags["restrict_public_buckets"] or flags["block_public_policy"]):
        for src, path in policy_sources:
            yield from _policy_hits(src, path)


def _pab_missing(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    blocks = companions(res, ctx, "aws_s3_bucket_public_access_block")
    account = ctx.by_type("aws_s3_account_public_access_block")
    if not blocks and not account:
        yield Hit("", None, "No aws_s3_bucket_public_access_block refers to this bucket.")
        return
    if _all_on(account):
        return
    for pab in blocks:
        for f in _PAB_FLAGS:
            value = pab.get(f)
            if is_unknown(value):
                continue
            if truthy(value) is not True:
                yield Hit(f if pab.has(f) else "", value, f"`{f}` is not true.", resource=pab)


def _all_on(blocks: list[Resource]) -> bool:
    return any(all(truthy(b.get(f)) is True for f in _PAB_FLAGS) for b in blocks)


def _has_block(res: Resource, ctx: RuleContext, inline: str, companion: str, ok: Any = None) -> bool | None:
    """True if the setting is configured inline or by a companion; None if unknown."""
    value = res.get(inline)
    if value:
        return True if ok is None else ok(value)
    comps = companions(res, ctx, companion)
    if comps:
        return True if ok is None else any(ok(c.attributes) for c in comps)
    return False


def _encryption(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if not _has_block(
        res, ctx, "server_side_encryption_configuration", "aws_s3_bucket_server_side_encryption_configuration"
    ):
        yield Hit("", None, "No server-side encryption configuration (inline or companion resource).")


def _versioning_on(value: Any) -> bool:
    if isinstance(value, Mapping):
        conf = value.get("versioning_configuration")
        if isinstance(conf, list) and conf and isinstance(conf[0], Mapping):
            return str(conf[0].get("status", "")).lower() == "enabled"
        return truthy(value.get("enabled")) is True
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return truthy(value[0].get("enabled")) is True
    return False


def _versioning(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    inline = res.get("versioning")
    if is_unknown(inline):
        return
    if inline and _versioning_on(inline):
        return
    comps = companions(res, ctx, "aws_s3_bucket_versioning")
    if any(_versioning_on(c.attributes) for c in comps):
        return
    if any(is_unknown(c.get("versioning_configuration.0.status")) for c in comps):
        return
    if inline:
        yield Hit("versioning", "disabled")
    elif comps:
        yield Hit(
            "versioning_configuration.0.status",
            comps[0].get("versioning_configuration.0.status"),
            resource=comps[0],
        )
    else:
        yield Hit("", None, "Versioning is not enabled.")


_LOG_DELIVERY_GROUP = "http://acs.amazonaws.com/groups/s3/LogDelivery"
_CLOUDFRONT_LOGS_ID = "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0"
"""The canonical user id of CloudFront's `awslogsdelivery` account (documented by AWS: the
grant a bucket needs to receive CloudFront standard logs)."""


def is_log_destination(bucket: Resource, ctx: RuleContext) -> bool:
    """True for a bucket that receives logs: another bucket's access logging targets it, or
    its ACL is made for log delivery (`log-delivery-write`, a grant to the S3 LogDelivery
    group or to CloudFront's log account). Logging a log bucket would need yet another bucket
    (and logging it into itself loops), so access-logging rules leave it alone."""
    for src in [bucket, *companions(bucket, ctx, "aws_s3_bucket_acl")]:
        acl = src.get("acl")
        if isinstance(acl, str) and acl.lower() == "log-delivery-write":
            return True
        grants = src.get("access_control_policy.0.grant") or src.get("grant") or []
        for grant in grants if isinstance(grants, list) else []:
            grantee = grant.get("grantee") if isinstance(grant, Mapping) else None
            block = grantee[0] if isinstance(grantee, list) and grantee else grantee
            if isinstance(block, Mapping) and (
                block.get("uri") == _LOG_DELIVERY_GROUP or block.get("id") == _CLOUDFRONT_LOGS_ID
            ):
                return True
    for other in ctx.by_type("aws_s3_bucket", "aws_s3_bucket_logging"):
        if other is bucket:
            continue
        targets = (
            [other.get("target_bucket")]
            if other.type == "aws_s3_bucket_logging"
            else [item.get("target_bucket") for item in _blocks(other.get("logging"))]
        )
        if any(t is not None and ctx.refers_to(t, bucket, ("bucket",)) for t in targets):
            return True
    return False


def _blocks(value: Any) -> list[Mapping[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, Mapping)]


def _logging(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.get("logging") or companions(res, ctx, "aws_s3_bucket_logging"):
        return
    if is_log_destination(res, ctx):
        return
    yield Hit("", None, "No access logging (inline `logging` block or aws_s3_bucket_logging).")


_S3_REF = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"

RULES: tuple[IacRule, ...] = (
    rule(
        id="iac.aws-s3-public-access",
        title="S3 bucket readable or writable by anyone",
        severity=Severity.HIGH,
        risk='A public ACL or a bucket policy with Principal "*" lets anyone on the internet (an '
        "authenticated-read ACL: anyone with any AWS account) read (or write) the bucket's objects.",
        remediation='Keep the bucket private and block public access:\n\n  resource "aws_s3_bucket_acl" "logs" '
        '{\n    bucket = aws_s3_bucket.logs.id\n    acl    = "private"\n  }\n\n  resource '
        '"aws_s3_bucket_public_access_block" "logs" {\n    bucket                  = aws_s3_bucket.logs.id\n'
        "    block_public_acls       = true\n    block_public_policy     = true\n"
        "    ignore_public_acls      = true\n    restrict_public_buckets = true\n  }",
        resource_types=("aws_s3_bucket", "aws_s3_bucket_acl", "aws_s3_bucket_policy"),
        category="public-access",
        check=_public_access,
        references=("CIS AWS Foundations 2.1.5", _S3_REF),
        exposure="public",
    ),
    rule(
        id="iac.aws-s3-public-access-block",
        title="S3 bucket without a full public access block",
        severity=Severity.MEDIUM,
        risk="Without all four public-access-block settings a later ACL or policy change can make the "
        "bucket public.",
        remediation="Add a public access block with all four flags:\n\n  resource "
        '"aws_s3_bucket_public_access_block" "b" {\n    bucket                  = aws_s3_bucket.b.id\n'
        "    block_public_acls       = true\n    block_public_policy     = true\n"
        "    ignore_public_acls      = true\n    restrict_public_buckets = true\n  }",
        resource_types=("aws_s3_bucket",),
        category="public-access",
        check=_pab_missing,
        references=("CIS AWS Foundations 2.1.5", _S3_REF),
    ),
    rule(
        id="iac.aws-s3-encryption",
        title="S3 bucket without an explicit server-side encryption configuration",
        severity=Severity.MEDIUM,
        risk="Without an explicit encryption configuration the bucket relies on account defaults and no "
        "customer-managed key controls who can decrypt its objects.",
        remediation='Configure SSE with KMS:\n\n  resource "aws_s3_bucket_server_side_encryption_configuration" '
        '"b" {\n    bucket = aws_s3_bucket.b.id\n    rule {\n      apply_server_side_encryption_by_default {\n'
        '        sse_algorithm     = "aws:kms"\n        kms_master_key_id = aws_kms_key.s3.arn\n      }\n'
        "    }\n  }",
        resource_types=("aws_s3_bucket",),
        category="encryption",
        check=_encryption,
        references=(
            "CIS AWS Foundations 2.1.1",
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/serv-side-encryption.html",
        ),
    ),
    rule(
        id="iac.aws-s3-versioning",
        title="S3 bucket versioning disabled",
        severity=Severity.LOW,
        risk="Without versioning an overwritten or deleted object (ransomware, a bad deploy) cannot be "
        "recovered.",
        remediation='Enable versioning:\n\n  resource "aws_s3_bucket_versioning" "b" {\n    bucket = '
        'aws_s3_bucket.b.id\n    versioning_configuration {\n      status = "Enabled"\n    }\n  }',
        resource_types=("aws_s3_bucket",),
        category="logging",
        check=_versioning,
        references=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html",),
    ),
    rule(
        id="iac.aws-s3-access-logging",
        title="S3 bucket access logging disabled",
        severity=Severity.LOW,
        risk="Without server access logs there is no record of who read or changed objects.",
        remediation='Log access to a separate bucket:\n\n  resource "aws_s3_bucket_logging" "b" {\n    bucket '
        '= aws_s3_bucket.b.id\n    target_bucket = aws_s3_bucket.logs.id\n    target_prefix = "s3/"\n  }',
        resource_types=("aws_s3_bucket",),
        category="logging",
        check=_logging,
        references=("CIS AWS Foundations 3.6",),
    ),
)
