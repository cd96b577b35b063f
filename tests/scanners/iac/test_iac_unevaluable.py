"""Could-not-evaluate is not unknown-until-apply (fail closed), through the CLI gate.

A value supplied at apply time (a variable without a value, a data source, a module from
outside) is legitimately unknown: findings on it are low confidence and warn (issue 15).
A value this file fixes but the evaluator refused or does not implement (a budget, a range
too long, a function it lacks, instances past the cap) must not be a way for a pull request
to turn a blocking finding into a warning: the finding keeps its confidence and severity,
and the scan names the file and resource it could not evaluate (incomplete under the default
`fail_closed`). Fixtures: `tests/fixtures/iac/unevaluable/<case>/`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "unevaluable"
runner = CliRunner()
EXIT_PASS, EXIT_BLOCKED, EXIT_INCOMPLETE = 0, 1, 3
SSH = "iac.aws-sg-open-ssh"


def gate(case: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    root = tmp_path / "repo"
    shutil.copytree(CASES / case, root)
    result = runner.invoke(
        app, ["gate", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1", "--quiet"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "internal error" not in result.output.lower(), result.output
    return result.exit_code, json.loads(result.stdout)


def _gate_dir(root: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app, ["gate", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1", "--quiet"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


def findings(report: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule_id"] == rule_id]


def errors_naming(report: dict[str, Any], path: str, *words: str) -> list[dict[str, Any]]:
    return [e for e in report["errors"] if e["path"] == path and all(w in e["message"] for w in words)]


def assert_certain(hit: dict[str, Any], severity: str = "high") -> None:
    assert hit["signals"]["confidence"] != "low", hit
    assert hit["severity"] == severity, hit


@pytest.mark.parametrize(
    ("case", "resource"),
    [
        ("count-range", "aws_security_group.admin"),
        ("count-can", "aws_security_group.can"),
        ("count-can", "aws_security_group.try"),
    ],
)
def test_a_count_the_evaluator_refuses_does_not_lower_the_finding(
    case: str, resource: str, tmp_path: Path
) -> None:
    code, report = gate(case, tmp_path)
    [hit] = [f for f in findings(report, SSH) if f["signals"]["resource"] == resource]
    assert_certain(hit)
    assert hit["signals"]["instances"] == "unevaluated"
    assert "could not be evaluated" in hit["message"]
    assert errors_naming(report, "main.tf", resource, "count", "could not be evaluated")
    assert report["summary"]["complete"] is False
    assert code == EXIT_BLOCKED


def test_an_unimplemented_function_in_count_does_not_lower_the_finding(tmp_path: Path) -> None:
    code, report = gate("count-unsupported-function", tmp_path)
    [hit] = findings(report, "iac.aws-s3-public-access")
    assert_certain(hit)
    assert hit["signals"]["instances"] == "unevaluated"
    assert errors_naming(report, "main.tf", "aws_s3_bucket_acl.assets", "parseint")
    assert code == EXIT_BLOCKED


def test_a_for_each_over_a_refused_range_is_reported_and_its_values_are_not_unknown(tmp_path: Path) -> None:
    code, report = gate("for-each-huge-range", tmp_path)
    assert errors_naming(
        report, "main.tf", "aws_security_group_rule.ssh", "for_each", "could not be evaluated"
    )
    [hit] = findings(report, SSH)
    assert_certain(hit)
    assert code == EXIT_BLOCKED


def test_instances_past_the_cap_are_reported_not_silently_dropped(tmp_path: Path) -> None:
    """`count = 40` under `max_instances = 32`: the 40th rule is the open one and is not evaluated."""
    code, report = gate("count-beyond-instance-cap", tmp_path)
    assert errors_naming(report, "main.tf", "aws_security_group_rule.office", "40", "32", "max_instances")
    assert not findings(report, SSH)
    assert code == EXIT_INCOMPLETE


def test_every_instance_within_the_default_cap_is_evaluated(tmp_path: Path) -> None:
    """The same file under the default budget (1,000 instances): the 40th instance is checked."""
    shutil.copytree(CASES / "count-beyond-instance-cap", tmp_path / "case")
    (tmp_path / "case" / "clearance.toml").unlink()
    code, report = _gate_dir(tmp_path / "case")
    [hit] = findings(report, SSH)
    assert hit["location"]["path"].endswith("main.tf") and "office[39]" in json.dumps(hit)
    assert not report.get("errors") or not errors_naming(report, "main.tf", "instances")
    assert code == EXIT_BLOCKED


def test_a_dynamic_block_over_an_unimplemented_function_is_reported(tmp_path: Path) -> None:
    code, report = gate("dynamic-unevaluable", tmp_path)
    [hit] = findings(report, SSH)
    assert_certain(hit)
    # the blocks are known (one), their value is not computed: reported where a rule reads it
    assert errors_naming(report, "main.tf", "aws_security_group.admin", "ingress", "could not be evaluated")
    assert code == EXIT_BLOCKED


def test_a_module_call_with_an_unevaluable_count_does_not_lower_what_it_creates(tmp_path: Path) -> None:
    code, report = gate("module-count-unevaluable", tmp_path)
    [hit] = findings(report, SSH)
    assert hit["signals"]["resource"] == "module.admin.aws_security_group.this"
    assert_certain(hit)
    assert hit["signals"]["instances"] == "unevaluated"
    assert errors_naming(report, "main.tf", "module.admin", "count", "could not be evaluated")
    assert code == EXIT_BLOCKED


def test_an_attribute_the_evaluator_cannot_compute_is_not_a_low_confidence_unknown(tmp_path: Path) -> None:
    code, report = gate("attribute-unevaluable", tmp_path)
    [hit] = findings(report, SSH)
    assert_certain(hit)
    assert "<not evaluated: cidrsubnet" in hit["evidence"]
    assert errors_naming(
        report, "main.tf", "aws_security_group.admin", "cidr_blocks", "could not be evaluated"
    )
    assert code == EXIT_BLOCKED


@pytest.mark.parametrize("case", ["legit-data-source", "legit-registry-module"])
def test_values_unknown_until_apply_stay_low_confidence_and_complete(case: str, tmp_path: Path) -> None:
    code, report = gate(case, tmp_path)
    [hit] = findings(report, SSH)
    assert hit["signals"]["confidence"] == "low" and hit["severity"] == "medium"
    assert hit["signals"]["instances"] == "unknown"
    assert report["errors"] == [] and report["summary"]["complete"] is True
    assert code == EXIT_PASS


def test_module_shapes_with_known_inputs_are_complete_and_unchanged(tmp_path: Path) -> None:
    """The vpc module's shapes (regexall, cidrsubnet, setsubtract where no rule reads them;
    counts over lengths and nested conditionals; instance keys built in a `for`): the same
    single finding as before this change, and no error."""
    code, report = gate("legit-vpc-module-shapes", tmp_path)
    assert report["errors"] == []
    assert [(f["rule_id"], f["signals"]["confidence"]) for f in report["findings"]] == [
        ("iac.aws-vpc-flow-logs", "high")
    ]
    assert code == EXIT_PASS


def test_unimplemented_functions_no_rule_depends_on_are_not_reported(tmp_path: Path) -> None:
    code, report = gate("legit-unsupported-function-elsewhere", tmp_path)
    assert report["findings"] == [] and report["errors"] == []
    assert code == EXIT_PASS


# --- CloudFormation ---------------------------------------------------------------------


def test_cfn_select_of_literals_is_not_a_low_confidence_unknown(tmp_path: Path) -> None:
    code, report = gate("cfn-select", tmp_path)
    [hit] = findings(report, SSH)
    assert_certain(hit)
    assert errors_naming(
        report, "template.yaml", "AdminSecurityGroup", "Fn::Select", "could not be evaluated"
    )
    assert code == EXIT_BLOCKED


def test_cfn_if_with_identical_branches_is_that_value(tmp_path: Path) -> None:
    code, report = gate("cfn-if-same-branches", tmp_path)
    [hit] = findings(report, SSH)
    assert_certain(hit)
    assert hit["evidence"].endswith('"0.0.0.0/0"')
    assert report["errors"] == []
    assert code == EXIT_BLOCKED


def test_cfn_if_on_a_condition_over_parameter_defaults_takes_the_branch(tmp_path: Path) -> None:
    code, report = gate("cfn-if-condition-with-default", tmp_path)
    [hit] = findings(report, SSH)
    assert_certain(hit)
    assert report["errors"] == []
    assert code == EXIT_BLOCKED


def test_cfn_if_on_a_parameter_supplied_at_deploy_time_stays_low(tmp_path: Path) -> None:
    code, report = gate("cfn-if-parameter-without-default", tmp_path)
    [hit] = findings(report, SSH)
    assert hit["signals"]["confidence"] == "low" and hit["severity"] == "medium"
    assert report["errors"] == []
    assert code == EXIT_PASS


def test_every_instance_of_a_module_call_is_evaluated(tmp_path: Path) -> None:
    """All known; the open group is the second instance of the call (only the first was evaluated)."""
    code, report = gate("module-for-each-second-instance", tmp_path)
    [hit] = findings(report, SSH)
    assert hit["signals"]["resource"] == 'module.admin["anywhere"].aws_security_group.this'
    assert_certain(hit)
    assert report["errors"] == []
    assert code == EXIT_BLOCKED


def test_an_infinite_count_is_a_clean_refusal_not_an_internal_error(tmp_path: Path) -> None:
    code, report = gate("count-infinite", tmp_path)  # main: exit 70, OverflowError
    [hit] = findings(report, "iac.aws-s3-public-access")
    assert hit["signals"]["confidence"] != "low" and hit["signals"]["instances"] == "unevaluated"
    assert errors_naming(report, "main.tf", "aws_s3_bucket.assets", "count", "could not be evaluated")
    assert code == EXIT_BLOCKED


def test_an_unevaluable_resource_beside_a_star_does_not_lower_an_admin_grant(tmp_path: Path) -> None:
    code, report = gate("iam-star-plus-unevaluable", tmp_path)
    [hit] = findings(report, "iac.aws-iam-admin-policy")
    assert_certain(hit, "critical")
    assert code == EXIT_BLOCKED


@pytest.mark.parametrize(
    ("rule_id", "resource", "attribute"),
    [
        ("iac.aws-rds-public", "aws_db_instance.reports", "publicly_accessible"),
        ("iac.aws-s3-public-access", "aws_s3_bucket_acl.assets", "acl"),
    ],
)
def test_a_setting_the_evaluator_cannot_compute_is_judged_at_its_worst_and_reported(
    rule_id: str, resource: str, attribute: str, tmp_path: Path
) -> None:
    """A flag rule reads "cannot tell" as no finding; for a value the file fixes, that would be
    a silent pass (`acl = trimspace(" public-read ")`)."""
    code, report = gate("flag-unevaluable", tmp_path)
    [hit] = [f for f in findings(report, rule_id) if f["signals"]["resource"] == resource]
    assert_certain(hit)
    assert "<not evaluated" in hit["evidence"]
    assert errors_naming(report, "main.tf", resource, attribute, "could not be evaluated")
    assert code == EXIT_BLOCKED


def test_a_port_the_evaluator_cannot_compute_is_read_as_any_port(tmp_path: Path) -> None:
    code, report = gate("port-unevaluable", tmp_path)
    [hit] = [f for f in report["findings"] if f["rule_id"].startswith("iac.aws-sg-open-")]
    assert hit["rule_id"] == "iac.aws-sg-open-all-ports"
    assert hit["signals"]["confidence"] != "low"
    assert code == EXIT_BLOCKED


# --- rules with their own logic: IAM actions, resources, principals, conditions ----------

ADMIN = "iac.aws-iam-admin-policy"


@pytest.mark.parametrize(
    ("resource", "attribute"),
    [
        ("aws_iam_policy.ops", "policy.Statement.0.Action"),
        ("aws_iam_role_policy.ci", "policy.Statement.0.Action"),  # aws_iam_policy_document
        ("aws_iam_user_policy.deploy", "policy.Statement.0.Resource"),
    ],
)
def test_iam_actions_or_resources_the_evaluator_cannot_compute_are_judged_at_their_worst(
    resource: str, attribute: str, tmp_path: Path
) -> None:
    """`Action = formatlist("%s", ["*"])` could be (and is) every action: an admin grant that
    must block, at full confidence, with the attribute named as not evaluated."""
    code, report = gate("iam-action-unevaluable", tmp_path)
    [hit] = [f for f in findings(report, ADMIN) if f["signals"]["resource"] == resource]
    assert_certain(hit, "critical")
    assert "could not be evaluated" in hit["message"]
    assert "<not evaluated" in hit["evidence"]
    assert errors_naming(report, "main.tf", resource, attribute, "could not be evaluated")
    assert report["summary"]["complete"] is False
    assert code == EXIT_BLOCKED


def test_a_reference_in_an_attribute_marked_as_not_evaluated_still_names_its_resource(tmp_path: Path) -> None:
    """`Resource = [aws_s3_bucket.data.arn]` beside a refused `Sid`: one bucket, not "*"."""
    _, report = gate("iam-action-unevaluable", tmp_path)
    assert not [f for f in findings(report, ADMIN) if f["signals"]["resource"] == "aws_iam_policy.data"]
    _, report = gate("iam-principal-unevaluable", tmp_path / "principal")
    assert not [f for f in report["findings"] if f["signals"]["resource"] == "aws_iam_role.ci"]


def test_iam_actions_supplied_at_apply_time_keep_todays_behaviour(tmp_path: Path) -> None:
    code, report = gate("iam-action-legit-input", tmp_path)
    assert not findings(report, ADMIN)
    assert report["errors"] == [] and report["summary"]["complete"] is True
    assert code == EXIT_PASS


@pytest.mark.parametrize(
    ("rule_id", "resource", "attribute"),
    [
        ("iac.aws-iam-trust-any-principal", "aws_iam_role.partner", "Principal"),
        ("iac.aws-iam-trust-any-principal", "aws_iam_role.conditioned", "Condition"),
        ("iac.aws-s3-public-access", "aws_s3_bucket_policy.assets", "Principal"),
    ],
)
def test_principals_and_conditions_the_evaluator_cannot_compute_are_judged_at_their_worst(
    rule_id: str, resource: str, attribute: str, tmp_path: Path
) -> None:
    code, report = gate("iam-principal-unevaluable", tmp_path)
    [hit] = [f for f in findings(report, rule_id) if f["signals"]["resource"] == resource]
    assert_certain(hit, "critical" if rule_id.startswith("iac.aws-iam") else hit["severity"])
    assert hit["signals"]["confidence"] == "high"
    assert "<not evaluated" in hit["evidence"]
    assert f"`{attribute}` could not be evaluated" in hit["message"]
    assert errors_naming(report, "main.tf", resource, attribute, "could not be evaluated")
    assert code == EXIT_BLOCKED


@pytest.mark.parametrize(
    ("rule_id", "resource", "attribute"),
    [
        (ADMIN, "aws_iam_policy.ops", "`policy`"),
        (ADMIN, "aws_iam_policy.batch", "`policy.Statement`"),
        ("iac.aws-iam-privilege-escalation", "aws_iam_role_policy.scoped", "`policy.Statement.0.Action`"),
    ],
)
def test_a_policy_the_evaluator_cannot_compute_makes_the_scan_incomplete(
    rule_id: str, resource: str, attribute: str, tmp_path: Path
) -> None:
    """No statement can be read (or, on one named resource, the actions could be any escalating
    ones or none), so no worst case is sound: the scan names the resource, the attribute and
    the rule that could not decide, and never passes."""
    code, report = gate("iam-document-unevaluable", tmp_path)
    assert errors_naming(
        report, "main.tf", resource, attribute, "could not be evaluated", rule_id, "could not decide"
    ), report["errors"]
    assert not [f for f in report["findings"] if f["signals"]["resource"] == resource]
    assert report["summary"]["complete"] is False
    assert code == EXIT_INCOMPLETE


@pytest.mark.parametrize(
    ("rule_id", "resource", "attribute"),
    [
        (ADMIN, "OpsPolicy", "policy.Statement.0.Action"),
        ("iac.aws-iam-trust-any-principal", "PartnerRole", "assume_role_policy.Statement.0.Principal"),
    ],
)
def test_cfn_intrinsics_over_literals_in_a_policy_are_judged_at_their_worst(
    rule_id: str, resource: str, attribute: str, tmp_path: Path
) -> None:
    code, report = gate("cfn-iam-select", tmp_path)
    [hit] = [f for f in findings(report, rule_id) if f["signals"]["resource"] == resource]
    assert_certain(hit, "critical")
    assert errors_naming(report, "template.yaml", resource, attribute, "Fn::Select", "could not be evaluated")
    assert code == EXIT_BLOCKED


@pytest.mark.parametrize(
    ("resource", "attribute"),
    [
        ("aws_iam_role_policy_attachment.deploy", "`policy_arn`"),
        ("aws_iam_role.ops", "`managed_policy_arns`"),
    ],
)
def test_an_attachment_the_evaluator_cannot_compute_makes_the_scan_incomplete(
    resource: str, attribute: str, tmp_path: Path
) -> None:
    """A join (which policy, to which principal) that could attach AdministratorAccess: what
    the principal holds cannot be decided. One supplied at apply time (`var.`) stays silent."""
    code, report = gate("iam-attachment-unevaluable", tmp_path)
    assert errors_naming(
        report,
        "main.tf",
        resource,
        attribute,
        "could not be evaluated",
        "privilege-escalation",
        "could not decide",
    ), report["errors"]
    assert not errors_naming(report, "main.tf", "aws_iam_role_policy_attachment.extra")
    assert len(report["errors"]) == 2
    assert code == EXIT_INCOMPLETE


@pytest.mark.parametrize(
    ("rule_id", "resource", "attribute"),
    [
        ("iac.aws-lambda-public", "aws_lambda_permission.invoke", "principal"),
        ("iac.gcp-storage-public", "google_storage_bucket_iam_member.assets", "member"),
    ],
)
def test_a_grantee_the_evaluator_cannot_compute_is_read_as_everyone(
    rule_id: str, resource: str, attribute: str, tmp_path: Path
) -> None:
    code, report = gate("principal-unevaluable", tmp_path)
    [hit] = findings(report, rule_id)
    assert hit["signals"]["resource"] == resource
    assert_certain(hit)
    assert errors_naming(report, "main.tf", resource, f"`{attribute}`", "could not be evaluated")
    assert code == EXIT_BLOCKED


def test_a_companion_joined_by_a_reference_the_evaluator_cannot_compute_hides_nothing(tmp_path: Path) -> None:
    """Guard (passes before this change too): an `Unevaluated` join carries no reference, so
    the public access block protects no bucket and the public ACL still blocks."""
    code, report = gate("join-unevaluable", tmp_path)
    [hit] = findings(report, "iac.aws-s3-public-access")
    assert hit["signals"]["resource"] == "aws_s3_bucket_acl.assets"
    assert_certain(hit)
    # the block protects one of the two buckets, which one is not computed: both lack one
    assert {f["signals"]["resource"] for f in findings(report, "iac.aws-s3-public-access-block")} == {
        "aws_s3_bucket.assets",
        "aws_s3_bucket.logs",
    }
    assert code == EXIT_BLOCKED


def test_a_lambda_caller_limit_the_evaluator_cannot_compute_limits_nothing(tmp_path: Path) -> None:
    """`source_arn = <not evaluated>` beside `principal = "*"` counted as a restriction, and a
    function URL's `authorization_type = <not evaluated>` as authenticated: both silent passes."""
    code, report = gate("lambda-limits-unevaluable", tmp_path)
    hits = {f["signals"]["resource"]: f for f in findings(report, "iac.aws-lambda-public")}
    assert set(hits) == {"aws_lambda_permission.webhook", "aws_lambda_function_url.reports"}
    for resource, attribute in (
        ("aws_lambda_permission.webhook", "source_arn"),
        ("aws_lambda_function_url.reports", "authorization_type"),
    ):
        assert hits[resource]["signals"]["confidence"] == "high"
        assert f"`{attribute}` could not be evaluated" in hits[resource]["message"]
        assert errors_naming(report, "main.tf", resource, attribute, "could not be evaluated")
    assert code == EXIT_BLOCKED
