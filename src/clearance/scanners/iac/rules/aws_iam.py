"""AWS IAM rules: admin and wildcard grants, PassRole on *, open trust policies, escalation paths."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from clearance.model import Severity
from clearance.scanners.iac import iam
from clearance.scanners.iac.model import Resource, as_list, first_unevaluated, is_unknown
from clearance.scanners.iac.rules.base import Confidence, Hit, IacRule, RuleContext, rule

_POLICY_HOLDERS = iam.IDENTITY_POLICY_HOLDERS
_PRINCIPALS = ("aws_iam_user", "aws_iam_role", "aws_iam_group")


def _statement_hits(res: Resource, predicate: str) -> Iterator[Hit]:
    """Hits of one statement rule. An `Action` or `Resource` the evaluator did not compute
    (`Unevaluated`) is read at its worst, `"*"`: the hit is then reported at that attribute,
    as written, so the scanner keeps its confidence and names it (docs/iac.md)."""
    for doc in iam.identity_documents(res):
        for st in doc.statements:
            if not st.allow:
                continue
            conf: Confidence = "medium" if st.conditioned else "high"
            if st.resources_unknown and not st.could_be_any_resource:
                conf = "low"  # with "*" listed, no other entry can narrow the statement
            if not st.could_be_any_resource:
                continue
            acts = st.actions
            action_unevaluated = st.actions_unevaluated is not None and st.not_actions is None
            # where the worst case comes from: the resources (when the actions alone decide)
            where = "" if st.on_any_resource else f" (its `{_resource_key(st)}` could not be evaluated)"
            if predicate == "admin":
                if action_unevaluated:
                    yield Hit(
                        f"{st.path}.Action",
                        st.action_value,
                        f"{doc.label}: its `Action` could not be evaluated and is read as every action "
                        f"(`*`), on every resource{where}.",
                        confidence=conf,
                    )
                elif "*" in acts:
                    yield _at_resource(
                        st, "*", f"{doc.label} allows every action on every resource{where}.", conf
                    )
            elif predicate == "service":
                if "*" in acts or action_unevaluated:
                    continue  # the administrator rule reports it
                wild = [a for a in acts if a.endswith(":*")]
                if wild:
                    msg = f"{doc.label} allows {', '.join(wild)} on every resource{where}."
                    yield _at_resource(st, wild, msg, conf)
            elif predicate == "passrole":
                if action_unevaluated:
                    continue  # the administrator rule reports it
                matched = [a for a in acts if "iam:passrole" in iam.expand(a) and a != "*"]
                if matched:
                    yield _at_resource(
                        st, matched, f"{doc.label} can pass any role to any service{where}.", conf
                    )
            elif predicate == "notaction" and st.not_actions is not None:
                value: Any = list(st.not_actions)
                if st.actions_unevaluated is not None:
                    value = st.action_value  # what it excludes could be nothing
                msg = f"{doc.label} allows everything except {', '.join(st.not_actions) or 'what could not be evaluated'}{where}."
                if st.on_any_resource or st.actions_unevaluated is not None:
                    yield Hit(f"{st.path}.NotAction", value, msg, confidence=conf)
                else:
                    yield _at_resource(st, value, msg, conf)


def _resource_key(st: iam.Statement) -> str:
    return "NotResource" if st.not_resource else "Resource"


def _at_resource(st: iam.Statement, actions: Any, message: str, conf: Confidence) -> Hit:
    """A statement hit on its actions, or — when it applies to every resource only because its
    resources could not be evaluated — on the resources as written (named as not evaluated)."""
    if st.on_any_resource:
        key = "NotAction" if st.not_actions is not None else "Action"
        return Hit(f"{st.path}.{key}", actions, message, confidence=conf)
    return Hit(f"{st.path}.{_resource_key(st)}", st.resource_value, message, confidence=conf)


def _undecided_documents(res: Resource, rule_name: str) -> Iterator[Hit]:
    """A document the evaluator did not compute as a whole: no statement to judge."""
    for path, value in iam.unevaluated_identity_documents(res):
        yield Hit(path, value, f"no statement of the document can be read for {rule_name}", undecided=True)


def _admin(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _statement_hits(res, "admin")
    yield from _undecided_documents(res, "administrator, wildcard and escalation grants")


def _service_wildcard(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _statement_hits(res, "service")


def _passrole(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _statement_hits(res, "passrole")


def _notaction(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    yield from _statement_hits(res, "notaction")


def _trust(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    value = res.get("assume_role_policy")
    statements = iam.parse_document(value, "assume_role_policy")
    for st in statements or ():
        if iam.open_to_anyone(st):
            attribute, evidence, note = iam.anyone_evidence(st)
            yield Hit(attribute, evidence, f"Any AWS principal can assume this role.{note}")
    undecided = iam.unevaluated_document(value, "assume_role_policy")
    if undecided is not None:
        yield Hit(undecided[0], undecided[1], "who may assume the role cannot be read", undecided=True)


def _escalation(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    """Paths one document grants on its own (at its `policy`), paths only the combination of a
    principal's documents grants (at the principal), and — once per principal, or per document
    held by no principal — the paths that depend on values that could not be resolved."""
    if res.type in _JOINS:
        yield from _undecided_joins(res)
        return
    held = ctx.memo("iam.held-documents", lambda: _held_documents(ctx))
    for doc in iam.identity_documents(res):
        for st in doc.statements:
            if st.allow and st.actions_unevaluated is not None and not st.could_be_any_resource:
                # on named resources, the actions could be any escalating ones, or none
                key = "NotAction" if st.not_actions is not None else "Action"
                yield Hit(
                    f"{st.path}.{key}",
                    st.action_value,
                    "the actions granted cannot be read",
                    undecided=True,
                )
        found = iam.escalation_paths([doc])
        sure = [pf for pf in found if pf.confidence != "low"]
        if sure:
            yield _paths_hit(sure, doc.attribute, None)
        unresolved = [pf for pf in found if pf.confidence == "low" and pf.path.name not in _names(sure)]
        if unresolved and res.type not in _PRINCIPALS and (doc.origin.address, doc.attribute) not in held:
            yield _unresolved_hit(unresolved, doc.attribute, None)
    if res.type not in _PRINCIPALS:
        return
    for attr in ("managed_policy_arns", "groups"):  # the principal's own joins
        value = res.get(attr)
        if first_unevaluated(value, references=False) is not None:
            yield Hit(attr, value, "which policies the principal holds cannot be read", undecided=True)
    entry = iam.principal_policies(ctx).get(res.address)
    if entry is None or not entry.docs:
        return
    reported: set[str] = set()
    for doc in entry.docs:
        reported |= _names(pf for pf in iam.escalation_paths([doc]) if pf.confidence != "low")
    together = iam.escalation_paths(entry.docs)
    if len(entry.docs) >= 2:
        combined = [pf for pf in together if pf.confidence != "low" and pf.path.name not in reported]
        if combined:
            yield _paths_hit(combined, "", res)
            reported |= _names(combined)
    unresolved = [pf for pf in together if pf.confidence == "low" and pf.path.name not in reported]
    if unresolved:
        yield _unresolved_hit(unresolved, "", res)


_JOINS: dict[str, tuple[str, ...]] = {
    "aws_iam_role_policy_attachment": ("role", "policy_arn"),
    "aws_iam_user_policy_attachment": ("user", "policy_arn"),
    "aws_iam_group_policy_attachment": ("group", "policy_arn"),
    "aws_iam_policy_attachment": ("roles", "users", "groups", "policy_arn"),
    "aws_iam_user_group_membership": ("user", "groups"),
    "aws_iam_group_membership": ("group", "users"),
}
"""Resources that join a principal to its policies (or a user to its groups), by the
attributes that name each side: one the evaluator did not compute could attach anything
(AdministratorAccess) to anyone, and what a principal's policies grant together is unknown."""


def _undecided_joins(res: Resource) -> Iterator[Hit]:
    for attr in _JOINS[res.type]:
        value = res.get(attr)
        if first_unevaluated(value, references=False) is not None:
            yield Hit(attr, value, "which policies a principal holds cannot be read", undecided=True)


def _names(found: Iterable[iam.PathFinding]) -> set[str]:
    return {pf.path.name for pf in found}


def _held_documents(ctx: RuleContext) -> set[tuple[str, str]]:
    """(resource address, attribute) of every document some principal of the group holds."""
    return {(d.origin.address, d.attribute) for e in iam.principal_policies(ctx).values() for d in e.docs}


def _paths_hit(found: list[iam.PathFinding], attribute: str, principal: Resource | None) -> Hit:
    """One hit naming every path the policy (or the principal's policies together) allows."""
    policies = list(dict.fromkeys(d.label for pf in found for d in pf.docs))
    who = f"{principal.address} (through {', '.join(policies)})" if principal else "Whoever holds this policy"
    ways = "; ".join(f"{pf.path.name}: {' + '.join(pf.path.actions)} to {pf.path.how}" for pf in found)
    confidence = max((pf.confidence for pf in found), key=lambda c: {"low": 0, "medium": 1, "high": 2}[c])
    actions = sorted({a for pf in found for a in pf.path.actions})
    return Hit(
        attribute,
        actions,
        f"{who} can escalate: {ways}.",
        confidence=confidence,
        details={
            "escalation_paths": [pf.path.name for pf in found],
            "actions": actions,
            "policies": policies,
        },
    )


def _unresolved_hit(found: list[iam.PathFinding], attribute: str, principal: Resource | None) -> Hit:
    """One low-confidence, medium-severity hit for paths that need an unresolved value."""
    policies = list(dict.fromkeys(d.label for pf in found for d in pf.docs))
    who = principal.address if principal else "Whoever holds this policy"
    names = [pf.path.name for pf in found]
    return Hit(
        attribute,
        sorted({a for pf in found for a in pf.path.actions}),
        f"{who}: a policy could not be resolved statically ({', '.join(policies)}: its actions or resources "
        f"are supplied at apply time); {len(names)} escalation path(s) are possible if it grants them: "
        f"{', '.join(names)}.",
        confidence="low",
        severity=Severity.MEDIUM,
        details={"escalation_paths": names, "policies": policies, "unresolved": True},
    )


def _user_policies(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.type == "aws_iam_user_policy":
        yield Hit("user", res.get("user"), "An inline policy is attached directly to a user.")
    elif res.type == "aws_iam_user_policy_attachment":
        yield Hit("policy_arn", res.get("policy_arn"), "A managed policy is attached directly to a user.")
    elif res.type == "aws_iam_policy_attachment" and as_list(res.get("users")):
        yield Hit("users", res.get("users"), "A managed policy is attached directly to users.")


def _password_policy(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    length = res.get("minimum_password_length")
    if length is None:
        yield Hit("", None, "`minimum_password_length` is not set (default 8).")
    elif not is_unknown(length) and isinstance(length, int | float) and length < 14:
        yield Hit("minimum_password_length", length)


_IAM_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"

RULES: tuple[IacRule, ...] = (
    rule(
        id="iac.aws-iam-admin-policy",
        title="IAM policy grants full administrator access",
        severity=Severity.CRITICAL,
        risk='Action "*" on Resource "*" lets whoever holds the policy do anything in the account, '
        "including erasing its audit trail.",
        remediation='Grant only the actions and resources needed:\n\n  Statement = [{\n    Effect   = "Allow"\n'
        '    Action   = ["s3:GetObject"]\n    Resource = ["arn:aws:s3:::app-assets/*"]\n  }]',
        resource_types=_POLICY_HOLDERS,
        category="iam",
        check=_admin,
        references=("CIS AWS Foundations 1.16", _IAM_DOC),
    ),
    rule(
        id="iac.aws-iam-service-wildcard",
        title="IAM policy grants every action of a service on every resource",
        severity=Severity.HIGH,
        risk='A service wildcard such as s3:* on "*" grants destructive and permission-changing actions '
        "on every resource of that service.",
        remediation='List the actions and scope the resources:\n\n  Action   = ["s3:GetObject", "s3:PutObject"]\n'
        '  Resource = ["arn:aws:s3:::app-uploads/*"]',
        resource_types=_POLICY_HOLDERS,
        category="iam",
        check=_service_wildcard,
        references=(_IAM_DOC,),
    ),
    rule(
        id="iac.aws-iam-passrole-wildcard",
        title="iam:PassRole allowed on every role",
        severity=Severity.HIGH,
        risk='PassRole on "*" lets the holder hand any role, including administrator roles, to a service '
        "it controls.",
        remediation='Scope PassRole to the role the service needs:\n\n  Action   = ["iam:PassRole"]\n'
        '  Resource = [aws_iam_role.lambda_exec.arn]\n  Condition = { StringEquals = { "iam:PassedToService" '
        '= "lambda.amazonaws.com" } }',
        resource_types=_POLICY_HOLDERS,
        category="iam",
        check=_passrole,
        references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",),
    ),
    rule(
        id="iac.aws-iam-notaction-allow",
        title="IAM policy allows everything except a list (NotAction)",
        severity=Severity.HIGH,
        risk='Allow with NotAction on "*" grants every current and future action not listed, usually far '
        "more than intended.",
        remediation='Use an explicit Action list:\n\n  Effect = "Allow"\n  Action = ["ec2:Describe*"]\n'
        '  Resource = "*"',
        resource_types=_POLICY_HOLDERS,
        category="iam",
        check=_notaction,
        references=(
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html",
        ),
    ),
    rule(
        id="iac.aws-iam-trust-any-principal",
        title="IAM role trust policy lets any principal assume the role",
        severity=Severity.CRITICAL,
        risk='A trust policy with Principal "*" and no condition lets any AWS account assume the role and '
        "use its permissions.",
        remediation='Trust a specific principal:\n\n  Principal = { AWS = "arn:aws:iam::123456789012:root" }\n'
        '  Condition = { StringEquals = { "sts:ExternalId" = var.external_id } }',
        resource_types=("aws_iam_role",),
        category="iam",
        check=_trust,
        references=(
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html",
        ),
        exposure="public",
    ),
    rule(
        id="iac.aws-iam-privilege-escalation",
        title="IAM permissions allow privilege escalation",
        severity=Severity.HIGH,
        risk="These permissions let the principal grant itself more privileges (up to administrator) through "
        "a known escalation path.",
        remediation="Remove the escalating actions or scope them to resources the principal cannot abuse, "
        'e.g. PassRole only for one role and one service:\n\n  Action    = ["iam:PassRole"]\n'
        '  Resource  = [aws_iam_role.fn_exec.arn]\n  Condition = { StringEquals = { "iam:PassedToService" = '
        '"lambda.amazonaws.com" } }',
        resource_types=(*_POLICY_HOLDERS, *_PRINCIPALS, *_JOINS),
        category="privilege-escalation",
        check=_escalation,
        references=("https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",),
    ),
    rule(
        id="iac.aws-iam-user-attached-policy",
        title="IAM policy attached directly to a user",
        severity=Severity.LOW,
        risk="Permissions attached to individual users drift and escape review; grant them through groups "
        "or roles.",
        remediation="Attach the policy to a group and add the user to it:\n\n  resource "
        '"aws_iam_group_policy_attachment" "devs" {\n    group      = aws_iam_group.devs.name\n'
        "    policy_arn = aws_iam_policy.dev.arn\n  }",
        resource_types=("aws_iam_user_policy", "aws_iam_user_policy_attachment", "aws_iam_policy_attachment"),
        category="iam",
        check=_user_policies,
        references=("CIS AWS Foundations 1.15",),
    ),
    rule(
        id="iac.aws-iam-password-policy-length",
        title="IAM password policy allows short passwords",
        severity=Severity.LOW,
        risk="Short console passwords are easy to guess or brute-force.",
        remediation='Require at least 14 characters:\n\n  resource "aws_iam_account_password_policy" "strict" {\n'
        "    minimum_password_length = 14\n  }",
        resource_types=("aws_iam_account_password_policy",),
        category="iam",
        check=_password_policy,
        references=("CIS AWS Foundations 1.8",),
    ),
)
