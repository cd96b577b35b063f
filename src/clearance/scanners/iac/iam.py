"""AWS IAM policy analysis: effective allowed actions per principal and privilege-escalation paths.

Policy documents are read wherever they appear (Terraform `policy` attributes after
`jsonencode`/heredoc/`aws_iam_policy_document` evaluation, role `inline_policy` blocks,
CloudFormation `PolicyDocument`s normalized to the same shape, standalone JSON files).

For a principal (user, role, group) the effective allowed actions are the union of its
inline policies, the managed policies attached to it, and (for a user) the policies of its
groups, all within the same configuration; wildcards (`iam:Put*`, `*`) and `NotAction` are
expanded against a shipped list of escalation-relevant actions (`iam_actions.json`);
unconditioned `Deny` statements remove actions. A conditioned `Allow`, or one scoped to
specific resources, lowers the confidence of what it grants.

A value the file fixes but the evaluator did not compute (`Unevaluated`, model.py) is read at
its worst where that is sound: an `Action` or `Resource` list could hold `"*"`, a principal
could be everyone, a condition could narrow nothing. A document (or statement list) that is
`Unevaluated` as a whole has no sound worst case: rules report it as undecided
(docs/iac.md, "Could not evaluate").
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources as importlib_resources
from typing import Any

from clearance.scanners.iac.model import (
    Resource,
    Unevaluated,
    Unknown,
    as_list,
    first_unevaluated,
    is_unknown,
)
from clearance.scanners.iac.rules.base import Confidence, RuleContext

_RANK: dict[Confidence, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True, slots=True)
class Statement:
    """One policy statement, normalized."""

    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...]
    resources_unknown: bool
    not_resource: bool
    principal: Any
    not_principal: bool
    conditioned: bool
    path: str
    """Dotted path of the statement inside the resource (for its line)."""
    condition: Any = None
    actions_unknown: bool = False
    """`Action`/`NotAction` (or one of its items) could not be resolved statically."""
    action_value: Any = None
    """`Action` (or `NotAction`) as written, Unknowns included (for evidence)."""
    resource_value: Any = None
    """`Resource` (or `NotResource`) as written, Unknowns included (for evidence)."""
    actions_unevaluated: Unevaluated | None = None
    """What in `Action`/`NotAction` the evaluator did not compute (it could be `"*"`)."""
    resources_unevaluated: Unevaluated | None = None
    """What in `Resource`/`NotResource` the evaluator did not compute (it could be `"*"`)."""

    @property
    def allow(self) -> bool:
        """True for an Allow statement."""
        return self.effect.lower() == "allow"

    @property
    def on_any_resource(self) -> bool:
        """True when the statement applies to every resource (`*`)."""
        return not self.not_resource and "*" in self.resources

    @property
    def could_be_any_resource(self) -> bool:
        """On every resource, or on resources the evaluator did not compute (read at their worst)."""
        return self.on_any_resource or self.resources_unevaluated is not None


@dataclass(frozen=True, slots=True)
class PolicyDoc:
    """A policy document and where it is written."""

    statements: tuple[Statement, ...]
    origin: Resource
    attribute: str
    label: str
    """Human name: `aws_iam_policy.deploy`, `aws_iam_role.ci inline_policy "x"`, an AWS managed ARN."""


@dataclass(frozen=True, slots=True)
class EscalationPath:
    """A known combination of actions that lets a principal raise its own privileges."""

    name: str
    actions: tuple[str, ...]
    how: str


ESCALATION_PATHS: tuple[EscalationPath, ...] = (
    EscalationPath(
        "CreatePolicyVersion",
        ("iam:CreatePolicyVersion",),
        "write a new default version of a policy attached to itself granting *:*",
    ),
    EscalationPath(
        "SetDefaultPolicyVersion",
        ("iam:SetDefaultPolicyVersion",),
        "switch an attached policy to an older, more permissive version",
    ),
    EscalationPath("AttachUserPolicy", ("iam:AttachUserPolicy",), "attach AdministratorAccess to itself"),
    EscalationPath(
        "AttachGroupPolicy", ("iam:AttachGroupPolicy",), "attach AdministratorAccess to its group"
    ),
    EscalationPath(
        "AttachRolePolicy", ("iam:AttachRolePolicy",), "attach AdministratorAccess to a role it uses"
    ),
    EscalationPath("PutUserPolicy", ("iam:PutUserPolicy",), "write an inline *:* policy on itself"),
    EscalationPath("PutGroupPolicy", ("iam:PutGroupPolicy",), "write an inline *:* policy on its group"),
    EscalationPath("PutRolePolicy", ("iam:PutRolePolicy",), "write an inline *:* policy on a role it uses"),
    EscalationPath("AddUserToGroup", ("iam:AddUserToGroup",), "add itself to an administrators group"),
    EscalationPath(
        "CreateAccessKey", ("iam:CreateAccessKey",), "create access keys for a more privileged user"
    ),
    EscalationPath(
        "CreateLoginProfile", ("iam:CreateLoginProfile",), "set a console password on a more privileged user"
    ),
    EscalationPath(
        "UpdateLoginProfile",
        ("iam:UpdateLoginProfile",),
        "change the console password of a more privileged user",
    ),
    EscalationPath(
        "UpdateAssumeRolePolicy",
        ("iam:UpdateAssumeRolePolicy",),
        "rewrite a privileged role's trust policy to let itself assume it",
    ),
    EscalationPath(
        "PassRole+Lambda",
        ("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"),
        "create a Lambda function running as a privileged role and invoke it",
    ),
    EscalationPath(
        "PassRole+LambdaEventSource",
        ("iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
        "create a Lambda function running as a privileged role triggered by an event source",
    ),
    EscalationPath(
        "UpdateFunctionCode",
        ("lambda:UpdateFunctionCode",),
        "replace the code of a function that runs as a privileged role",
    ),
    EscalationPath(
        "PassRole+EC2",
        ("iam:PassRole", "ec2:RunInstances"),
        "start an instance with a privileged instance profile and read its credentials",
    ),
    EscalationPath(
        "PassRole+CloudFormation",
        ("iam:PassRole", "cloudformation:CreateStack"),
        "create a stack that runs as a privileged role",
    ),
    EscalationPath(
        "PassRole+GlueDevEndpoint",
        ("iam:PassRole", "glue:CreateDevEndpoint"),
        "create a Glue dev endpoint with a privileged role and log into it",
    ),
    EscalationPath(
        "UpdateGlueDevEndpoint",
        ("glue:UpdateDevEndpoint",),
        "add an SSH key to an existing Glue dev endpoint running as a privileged role",
    ),
    EscalationPath(
        "PassRole+DataPipeline",
        ("iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
        "define a data pipeline that runs commands as a privileged role",
    ),
    EscalationPath(
        "PassRole+CodeBuild",
        ("iam:PassRole", "codebuild:CreateProject", "codebuild:StartBuild"),
        "run a build as a privileged role",
    ),
    EscalationPath(
        "PassRole+SageMaker",
        ("iam:PassRole", "sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"),
        "open a notebook running as a privileged role",
    ),
    EscalationPath(
        "PassRole+ECS",
        ("iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"),
        "run a task with a privileged task role",
    ),
    EscalationPath(
        "PassRole+AutoScaling",
        ("iam:PassRole", "autoscaling:CreateLaunchConfiguration", "autoscaling:CreateAutoScalingGroup"),
        "launch instances with a privileged instance profile",
    ),
)

AWS_MANAGED_POLICIES: Mapping[str, dict[str, Any]] = {
    "AdministratorAccess": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "PowerUserAccess": {
        "Statement": [
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole", "iam:ListRoles"], "Resource": "*"},
        ]
    },
    "IAMFullAccess": {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]},
    "AWSLambda_FullAccess": {
        "Statement": [
            {"Effect": "Allow", "Action": ["lambda:*", "cloudformation:DescribeStacks"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            },
        ]
    },
    "AmazonEC2FullAccess": {"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]},
}


# --- reading documents ----------------------------------------------------------------


def parse_document(value: Any, path: str = "policy") -> tuple[Statement, ...] | None:
    """The statements of a policy document (dict or JSON text); None if unknown or not a policy."""
    if is_unknown(value) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return None
    if not isinstance(value, Mapping):
        return None
    raw = value.get("Statement")
    if isinstance(raw, Mapping):
        items: list[tuple[str, Any]] = [(f"{path}.Statement", raw)]
    elif isinstance(raw, list):
        items = [(f"{path}.Statement.{i}", s) for i, s in enumerate(raw)]
    else:
        return None
    out = []
    for spath, st in items:
        if not isinstance(st, Mapping):
            continue
        effect = st.get("Effect", "Allow")
        not_actions = None
        action_value = st.get("NotAction") if "NotAction" in st else st.get("Action")
        actions_unknown = _has_unknown(st.get("NotAction")) or _has_unknown(st.get("Action"))
        if "NotAction" in st:
            not_actions = tuple(str(a) for a in as_list(st.get("NotAction")) if isinstance(a, str))
        resources_raw = st.get("NotResource") if "NotResource" in st else st.get("Resource", "*")
        # a reference to a resource of the configuration (`aws_iam_role.x.arn`) is one specific resource
        res_list = [
            f"<{r.ref}>" if isinstance(r, Unknown) and r.ref is not None else r
            for r in as_list(resources_raw)
        ]
        out.append(
            Statement(
                effect=effect if isinstance(effect, str) else "Allow",
                actions=tuple(str(a) for a in as_list(st.get("Action")) if isinstance(a, str)),
                not_actions=not_actions,
                resources=tuple(r for r in res_list if isinstance(r, str)),
                resources_unknown=is_unknown(resources_raw) or any(not isinstance(r, str) for r in res_list),
                not_resource="NotResource" in st,
                principal=st.get("NotPrincipal", st.get("Principal")),
                not_principal="NotPrincipal" in st,
                conditioned=bool(st.get("Condition")),
                path=spath,
                condition=st.get("Condition"),
                actions_unknown=actions_unknown,
                action_value=action_value,
                resource_value=resources_raw,
                actions_unevaluated=first_unevaluated(action_value, references=False),
                resources_unevaluated=first_unevaluated(resources_raw, references=False),
            )
        )
    return tuple(out)


def unevaluated_document(value: Any, path: str = "policy") -> tuple[str, Unevaluated] | None:
    """(dotted path, value) when a policy document cannot be read because the evaluator did
    not compute it (the document, its `Statement` list, or a statement as a whole): no rule
    can decide on it, and no worst case is sound (it could be any document)."""
    if isinstance(value, Unevaluated):
        return path, value
    if not isinstance(value, Mapping):
        return None
    raw = value.get("Statement")
    if isinstance(raw, Unevaluated):
        return f"{path}.Statement", raw
    for i, st in enumerate(raw if isinstance(raw, list) else ()):
        if isinstance(st, Unevaluated):
            return f"{path}.Statement.{i}", st
    return None


def _has_unknown(value: Any) -> bool:
    return is_unknown(value) or (isinstance(value, list) and any(is_unknown(v) for v in value))


_IDENTITY_POLICY_TYPES = (
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
    "iam_policy",
)
IDENTITY_POLICY_HOLDERS: frozenset[str] = frozenset(
    (*_IDENTITY_POLICY_TYPES, "aws_iam_role", "aws_iam_user", "aws_iam_group")
)
"""Resource types that carry identity-policy documents."""


def identity_documents(resource: Resource) -> list[PolicyDoc]:
    """The identity-policy documents written in this resource (not those attached to it)."""
    docs: list[PolicyDoc] = []
    if resource.type in _IDENTITY_POLICY_TYPES:
        sts = parse_document(resource.get("policy"))
        if sts is not None:
            docs.append(PolicyDoc(sts, resource, "policy", resource.address))
    for i, block in enumerate(as_list(resource.get("inline_policy"))):
        if isinstance(block, Mapping):
            path = f"inline_policy.{i}.policy"
            sts = parse_document(block.get("policy"), path)
            if sts is not None:
                name = block.get("name")
                label = (
                    f'{resource.address} inline policy "{name}"'
                    if isinstance(name, str)
                    else resource.address
                )
                docs.append(PolicyDoc(sts, resource, path, label))
    return docs


def unevaluated_identity_documents(resource: Resource) -> list[tuple[str, Unevaluated]]:
    """Where `identity_documents` could not read a document the evaluator did not compute."""
    found = []
    if resource.type in _IDENTITY_POLICY_TYPES:
        found.append(unevaluated_document(resource.get("policy")))
    for i, block in enumerate(as_list(resource.get("inline_policy"))):
        if isinstance(block, Mapping):
            found.append(unevaluated_document(block.get("policy"), f"inline_policy.{i}.policy"))
    return [f for f in found if f is not None]


# --- action sets ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def known_actions() -> tuple[str, ...]:
    """Every action in the shipped list, as `service:Action`."""
    text = importlib_resources.files("clearance.scanners.iac").joinpath("iam_actions.json").read_text("utf-8")
    data = json.loads(text)
    return tuple(f"{svc}:{a}" for svc, acts in sorted(data["actions"].items()) for a in acts)


@functools.lru_cache(maxsize=1)
def _universe() -> frozenset[str]:
    """Every known action, lower-cased (what a `NotAction` statement allows the rest of)."""
    return frozenset(a.lower() for a in known_actions())


@functools.lru_cache(maxsize=4096)
def expand(pattern: str) -> frozenset[str]:
    """Lower-cased actions matched by an action pattern (`iam:Put*`, `*`, `s3:GetObject`)."""
    low = pattern.strip().lower()
    if "*" not in low and "?" not in low:
        return frozenset({low})
    return frozenset(a.lower() for a in known_actions() if fnmatch.fnmatchcase(a.lower(), low))


@dataclass(frozen=True, slots=True)
class Grant:
    """Why an action is allowed: the document and how sure we are."""

    doc: PolicyDoc
    confidence: Confidence


def allowed(docs: Iterable[PolicyDoc]) -> dict[str, list[Grant]]:
    """Effective allowed actions (lower-case) of a set of documents, with their grants."""
    grants: dict[str, dict[int, Grant]] = {}
    denied: set[str] = set()
    universe = _universe()
    for doc in docs:
        for st in doc.statements:
            if st.not_actions is not None:
                acts = universe - frozenset().union(*(expand(a) for a in st.not_actions))
            else:
                acts = frozenset().union(*(expand(a) for a in st.actions)) if st.actions else frozenset()
            if not st.allow:
                if not st.conditioned and st.on_any_resource:
                    denied |= acts
                continue
            conf: Confidence = "high"
            if (st.resources_unknown and not st.could_be_any_resource) or (
                st.not_actions is not None and st.actions_unknown and st.actions_unevaluated is None
            ):
                conf = "low"  # what it excludes, or where it applies, is supplied at apply time
            elif (
                st.conditioned
                or st.not_resource
                or (not any("*" in r for r in st.resources) and st.resources_unevaluated is None)
            ):
                conf = "medium"
            if "iam:passrole" in acts and _passrole_scoped(st):
                acts = acts - {"iam:passrole"}
            for a in acts:
                per_doc = grants.setdefault(a, {})
                prev = per_doc.get(id(doc))
                if prev is None or _RANK[conf] > _RANK[prev.confidence]:
                    per_doc[id(doc)] = Grant(doc, conf)
    return {a: list(g.values()) for a, g in grants.items() if a not in denied}


def _passrole_scoped(st: Statement) -> bool:
    """PassRole limited to named roles (no wildcard in any resource): the holder cannot hand
    an arbitrary (administrator) role to a service it controls. (An `iam:PassedToService`
    condition alone still lets it pass any role to that service.)"""
    if st.not_resource or st.resources_unknown or not st.resources:
        return False
    return all("*" not in r and "?" not in r for r in st.resources)


@dataclass(frozen=True, slots=True)
class PathFinding:
    """An escalation path a set of documents allows."""

    path: EscalationPath
    confidence: Confidence
    docs: tuple[PolicyDoc, ...]


def escalation_paths(docs: Sequence[PolicyDoc]) -> list[PathFinding]:
    """Every catalogued escalation path the documents allow together."""
    perms = allowed(docs)
    out = []
    for path in ESCALATION_PATHS:
        needed = [perms.get(a.lower()) for a in path.actions]
        if not all(needed):
            continue
        confidence: Confidence = "high"
        contributing: dict[int, PolicyDoc] = {}
        for grants in needed:
            assert grants is not None
            best = max(grants, key=lambda g: _RANK[g.confidence])
            if _RANK[best.confidence] < _RANK[confidence]:
                confidence = best.confidence
            for g in grants:
                contributing.setdefault(id(g.doc), g.doc)
        out.append(PathFinding(path, confidence, tuple(contributing.values())))
    return out


# --- principals -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    """Every identity-policy document that applies to one principal in the configuration."""

    principal: Resource
    docs: tuple[PolicyDoc, ...]


def principal_policies(ctx: RuleContext) -> dict[str, PrincipalPolicies]:
    """Per principal address: its documents (memoized per group)."""
    return ctx.memo("iam.principals", lambda: _collect(ctx))


def _collect(ctx: RuleContext) -> dict[str, PrincipalPolicies]:
    managed = ctx.by_type("aws_iam_policy")
    out: dict[str, list[PolicyDoc]] = {}
    kinds = {"aws_iam_user": "user", "aws_iam_role": "role", "aws_iam_group": "group"}
    for ptype, kind in kinds.items():
        for p in ctx.by_type(ptype):
            docs = out.setdefault(p.address, [])
            docs.extend(identity_documents(p))
            for inline in ctx.referencing(p, [f"aws_iam_{kind}_policy"], kind, ("name",)):
                docs.extend(identity_documents(inline))
            arns: list[tuple[Any, Resource, str]] = []
            for att in ctx.referencing(p, [f"aws_iam_{kind}_policy_attachment"], kind, ("name",)):
                arns.append((att.get("policy_arn"), att, "policy_arn"))
            for att in ctx.by_type("aws_iam_policy_attachment"):
                if any(ctx.refers_to(v, p, ("name",)) for v in as_list(att.get(f"{kind}s"))):
                    arns.append((att.get("policy_arn"), att, "policy_arn"))
            for i, arn in enumerate(as_list(p.get("managed_policy_arns"))):
                arns.append((arn, p, f"managed_policy_arns.{i}"))
            for pol in managed:  # CloudFormation policies list their principals
                if any(ctx.refers_to(v, p, ("name",)) for v in as_list(pol.get(f"{kind}s"))):
                    docs.extend(identity_documents(pol))
            for arn, holder, attr in arns:
                docs.extend(_managed_docs(arn, holder, attr, managed, ctx))
    # a user inherits its groups' documents
    for user in ctx.by_type("aws_iam_user"):
        groups: list[Resource] = []
        for g in ctx.by_type("aws_iam_group"):
            member = (
                any(
                    ctx.refers_to(m.get("user"), user, ("name",))
                    and any(ctx.refers_to(v, g, ("name",)) for v in as_list(m.get("groups")))
                    for m in ctx.by_type("aws_iam_user_group_membership")
                )
                or any(
                    ctx.refers_to(m.get("group"), g, ("name",))
                    and any(ctx.refers_to(v, user, ("name",)) for v in as_list(m.get("users")))
                    for m in ctx.by_type("aws_iam_group_membership")
                )
                or any(ctx.refers_to(v, g, ("name",)) for v in as_list(user.get("groups")))
            )
            if member:
                groups.append(g)
        for g in groups:
            out[user.address].extend(out.get(g.address, []))
    return {
        addr: PrincipalPolicies(ctx.get(addr) or _missing(addr), tuple(_dedupe(docs)))
        for addr, docs in out.items()
    }


def _managed_docs(
    arn: Any, holder: Resource, attr: str, managed: Sequence[Resource], ctx: RuleContext
) -> list[PolicyDoc]:
    for pol in managed:
        if ctx.refers_to(arn, pol, ("arn",)):
            return identity_documents(pol)
    if isinstance(arn, str) and arn.startswith("arn:aws:iam::aws:policy/"):
        name = arn.rsplit("/", 1)[-1]
        doc = AWS_MANAGED_POLICIES.get(name)
        if doc is not None:
            sts = parse_document(doc, attr)
            if sts:
                return [PolicyDoc(tuple(_relocate(s, attr) for s in sts), holder, attr, arn)]
    return []


def _relocate(st: Statement, attr: str) -> Statement:
    return dataclasses.replace(st, path=attr)


def _dedupe(docs: Iterable[PolicyDoc]) -> list[PolicyDoc]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for d in docs:
        key = (d.origin.address, d.attribute, d.label)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _missing(address: str) -> Resource:
    return Resource(type="unknown", address=address, path="", start_line=1, source="terraform")


# --- principals in trust / resource policies ------------------------------------------


_PRINCIPAL_LIMITING_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:principalservicename",
        "aws:calledvia",
        "aws:userid",
        "aws:username",
        "kms:callervaccount",
        "kms:calleraccount",
        "kms:viaservice",
        "sts:sourceidentity",
        "token.actions.githubusercontent.com:sub",
        "accounts.google.com:sub",
        "cognito-identity.amazonaws.com:aud",
    }
)
"""Condition keys that narrow who the principal can be (unlike `sts:ExternalId`, which is not a secret)."""


def open_to_anyone(st: Statement) -> bool:
    """True if an Allow statement's principal is everyone (`*` or `{"AWS": "*"}`) and no
    condition narrows who that can be (a condition on `sts:ExternalId` alone does not).
    A principal or condition the evaluator did not compute is read at its worst (everyone,
    narrowing nothing); `anyone_evidence` names it."""
    if not st.allow or st.not_principal:
        return False
    if st.conditioned and _limits_principal(st.condition):
        return False
    principal = st.principal
    if _refused(principal):
        return True
    if isinstance(principal, Mapping):
        values = [v for key in ("AWS", "CanonicalUser", "*") for v in as_list(principal.get(key))]
    else:
        values = as_list(principal)
    return any(_refused(v) or (isinstance(v, str) and _ANYONE.match(v.strip())) for v in values)


def _refused(value: Any) -> bool:
    """An `Unevaluated` that is not a reference to a resource of the configuration."""
    return isinstance(value, Unevaluated) and value.ref is None


def anyone_evidence(st: Statement) -> tuple[str, Any, str]:
    """Where and what to report for a statement `open_to_anyone` and a sentence to add: the
    principal (`Principal: *`), or the principal or condition the evaluator did not compute,
    as written, with a sentence saying it is read at its worst."""
    if first_unevaluated(st.principal, references=False) is not None:
        return (
            f"{st.path}.Principal",
            st.principal,
            " Its `Principal` could not be evaluated and is read as everyone.",
        )
    if st.conditioned and first_unevaluated(st.condition, references=False) is not None:
        return (
            f"{st.path}.Condition",
            st.condition,
            " Its `Condition` could not be evaluated and is read as narrowing nothing.",
        )
    return f"{st.path}.Principal", "Principal: *", ""


_ANYONE = re.compile(r"^(\*|arn:aws[\w-]*:iam::\*:root)$")
"""Every spelling of "any principal": `*` (alone, in a list, under `AWS` or `CanonicalUser`)
and `arn:aws:iam::*:root` (any account)."""


def first_unknown(value: Any) -> Unknown | None:
    """The value itself if it is unknown (for rules that want to report low confidence)."""
    return value if isinstance(value, Unknown) else None


def _limits_principal(condition: Any) -> bool:
    if _refused(condition):
        return False  # fixed by the file, not computed: it could narrow nothing
    if not isinstance(condition, Mapping):
        return True  # unknown condition: give it the benefit of the doubt
    for operator, keys in condition.items():
        if _refused(keys):
            continue
        if not isinstance(keys, Mapping):
            return True
        for key, value in keys.items():
            if first_unevaluated(value, references=False) is not None:
                continue  # `aws:PrincipalAccount = regex(...)`: could be "*", restricts nothing
            if not (
                str(key).lower() in _PRINCIPAL_LIMITING_KEYS or str(operator).lower().startswith("ipaddress")
            ):
                continue
            if any(isinstance(v, str) and v.strip() in ("*", "0.0.0.0/0", "::/0") for v in as_list(value)):
                continue  # `aws:PrincipalArn = "*"`, `aws:SourceIp = 0.0.0.0/0`: restricts nothing
            return True
    return False
