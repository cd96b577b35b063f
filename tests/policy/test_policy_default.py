"""The built-in default policy: block real risk, warn on the rest, explain every verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from policy_builders import context, public_bucket, result, secret, vulnerability

from clearance.config import Settings, settings_from_mapping
from clearance.decision import ExitCode
from clearance.model import Action, Finding, Outcome, Scope, Severity
from clearance.policy.engine import decide_with_settings


def _action(finding: Finding, now: dt.datetime, **ctx: str) -> tuple[Action, str]:
    d = decide_with_settings(
        result(finding), Settings(), now, env=ctx.get("env", "prod"), context=context(**ctx)
    )
    v = d.verdicts[finding.fingerprint]
    return v.action, v.rule


def test_no_configuration_blocks_secret_and_public_bucket_but_warns_on_dev_medium_vuln(
    now: dt.datetime,
) -> None:
    s, b, v = secret(), public_bucket(), vulnerability(severity=Severity.MEDIUM, scope=Scope.DEV)
    d = decide_with_settings(
        result(s, b, v), Settings(), now, env="prod", context=context(exposure="internet")
    )
    assert d.outcome is Outcome.BLOCK
    assert d.exit_code() is ExitCode.BLOCKED
    assert d.verdicts[s.fingerprint].action is Action.BLOCK
    assert d.verdicts[s.fingerprint].rule == "secret.live-format"
    assert d.verdicts[b.fingerprint].action is Action.BLOCK
    assert d.verdicts[b.fingerprint].rule == "iac.public-access-exposed"
    assert d.verdicts[v.fingerprint].action is Action.WARN
    assert d.verdicts[v.fingerprint].rule == "default.warn"
    assert d.policy == "default@prod"
    assert "secret.live-format (1)" in d.reasons[0]


def test_only_warnings_pass_with_exit_zero(now: dt.datetime) -> None:
    v = vulnerability(severity=Severity.MEDIUM, scope=Scope.DEV)
    d = decide_with_settings(result(v), Settings(), now, env="prod", context=context())
    assert d.outcome is Outcome.WARN
    assert d.exit_code() is ExitCode.PASS


@pytest.mark.parametrize(
    ("kwargs", "exposure", "data", "expected"),
    [
        ({"severity": Severity.CRITICAL, "scope": Scope.RUNTIME}, "internet", "unknown", Action.BLOCK),
        ({"severity": Severity.CRITICAL, "scope": Scope.UNKNOWN}, "internet", "unknown", Action.BLOCK),
        (
            {"severity": Severity.HIGH, "scope": Scope.RUNTIME, "kev": True},
            "internet",
            "unknown",
            Action.BLOCK,
        ),
        (
            {"severity": Severity.HIGH, "scope": Scope.RUNTIME, "epss": 0.2},
            "internet",
            "unknown",
            Action.BLOCK,
        ),
        (
            {"severity": Severity.HIGH, "scope": Scope.RUNTIME, "epss": 0.02},
            "internet",
            "unknown",
            Action.WARN,
        ),
        (
            {"severity": Severity.CRITICAL, "scope": Scope.RUNTIME, "reachable": "no"},
            "internet",
            "unknown",
            Action.WARN,
        ),
        ({"severity": Severity.CRITICAL, "scope": Scope.DEV}, "internet", "unknown", Action.WARN),
        # unfixed (fix: none): warns unless KEV-listed
        (
            {"severity": Severity.CRITICAL, "scope": Scope.RUNTIME, "fixes": ()},
            "internet",
            "unknown",
            Action.WARN,
        ),
        (
            {"severity": Severity.CRITICAL, "scope": Scope.RUNTIME, "fixes": (), "kev": True},
            "internet",
            "unknown",
            Action.BLOCK,
        ),
        ({"severity": Severity.CRITICAL, "scope": Scope.RUNTIME}, "internal", "internal", Action.WARN),
        ({"severity": Severity.CRITICAL, "scope": Scope.RUNTIME}, "internal", "restricted", Action.BLOCK),
        ({"severity": Severity.CRITICAL, "scope": Scope.RUNTIME}, "unknown", "unknown", Action.BLOCK),
    ],
)
def test_vulnerability_triage(
    kwargs: dict[str, object], exposure: str, data: str, expected: Action, now: dt.datetime
) -> None:
    action, _ = _action(vulnerability(**kwargs), now, exposure=exposure, data=data)  # type: ignore[arg-type]
    assert action is expected


@pytest.mark.parametrize(
    ("category", "severity", "env", "exposure", "expected"),
    [
        ("public-access", Severity.HIGH, "prod", "internal", Action.BLOCK),
        ("public-access", Severity.HIGH, "dev", "internet", Action.BLOCK),
        ("public-access", Severity.HIGH, "dev", "internal", Action.WARN),
        ("privilege-escalation", Severity.HIGH, "prod", "internal", Action.BLOCK),
        ("privilege-escalation", Severity.MEDIUM, "prod", "internet", Action.WARN),
        ("public-access", Severity.MEDIUM, "prod", "internet", Action.BLOCK),
        ("public-access", Severity.LOW, "prod", "internet", Action.WARN),
        ("iam", Severity.HIGH, "prod", "internal", Action.BLOCK),
        ("network", Severity.MEDIUM, "prod", "internet", Action.WARN),
        ("encryption", Severity.CRITICAL, "staging", "internet", Action.BLOCK),
        ("logging", Severity.HIGH, "prod", "internet", Action.WARN),
    ],
)
def test_iac_triage(
    category: str, severity: Severity, env: str, exposure: str, expected: Action, now: dt.datetime
) -> None:
    action, _ = _action(public_bucket(category=category, severity=severity), now, env=env, exposure=exposure)
    assert action is expected


def test_secret_in_test_path_or_generic_pattern_warns(now: dt.datetime) -> None:
    assert _action(secret(in_test_path=True), now)[0] is Action.WARN
    assert _action(secret(verified=False, confidence="low"), now)[0] is Action.WARN


def test_provider_specific_secret_blocks_without_a_checksum(now: dt.datetime) -> None:
    assert _action(secret(verified=False, confidence="medium"), now) == (Action.BLOCK, "secret.live-format")


def test_info_is_ignored(now: dt.datetime) -> None:
    action, rule = _action(vulnerability(severity=Severity.INFO), now)
    assert (action, rule) == (Action.IGNORE, "informational")


def test_unnamed_environment_counts_as_prod(now: dt.datetime) -> None:
    assert _action(public_bucket(), now, env="", exposure="internal")[0] is Action.BLOCK


def test_fail_on_replaces_triage_with_a_threshold(now: dt.datetime) -> None:
    v = vulnerability(severity=Severity.MEDIUM, scope=Scope.DEV)
    d = decide_with_settings(
        result(v), Settings(), now, env="prod", context=context(), fail_on=Severity.MEDIUM
    )
    assert d.verdicts[v.fingerprint].action is Action.BLOCK
    assert d.verdicts[v.fingerprint].rule == "threshold.block"
    assert d.policy == "threshold:medium@prod"


def test_environment_threshold_and_rules(now: dt.datetime) -> None:
    settings = settings_from_mapping(
        {
            "policy": {
                "environments": {
                    "dev": {"fail_on": "critical"},
                    "prod": {
                        "rules": [
                            {
                                "name": "no-kev",
                                "when": "finding.signals.kev",
                                "action": "block",
                                "message": "KEV",
                            }
                        ]
                    },
                }
            }
        }
    )
    high = vulnerability(severity=Severity.HIGH, scope=Scope.RUNTIME)
    d = decide_with_settings(result(high), settings, now, env="dev", context=context(env="dev"))
    assert d.verdicts[high.fingerprint].action is Action.WARN
    kev = vulnerability(severity=Severity.LOW, kev=True, scope=Scope.DEV)
    d = decide_with_settings(result(kev), settings, now, env="prod", context=context())
    assert (d.verdicts[kev.fingerprint].action, d.verdicts[kev.fingerprint].rule) == (Action.BLOCK, "no-kev")


def test_policy_digest_changes_with_rules(now: dt.datetime) -> None:
    a = decide_with_settings(result(), Settings(), now, env="prod")
    custom = settings_from_mapping({"policy": {"rules": [{"name": "x", "when": "false", "action": "block"}]}})
    b = decide_with_settings(result(), custom, now, env="prod")
    assert a.policy_digest != b.policy_digest
    assert a.policy_digest.startswith("sha256:")


def test_monorepo_components_are_judged_by_their_own_context(now: dt.datetime) -> None:
    from policy_builders import FIXTURES

    from clearance.policy.context import PolicyContext, load_catalog

    ctx = PolicyContext(catalog=load_catalog(FIXTURES / "catalog-monorepo"), env="staging")
    pay = public_bucket("services/payments/infra/s3.tf")
    web = public_bucket("services/web/infra/s3.tf")
    d = decide_with_settings(result(pay, web), Settings(), now, env="staging", context=ctx)
    assert d.verdicts[pay.fingerprint].action is Action.BLOCK  # internet-facing
    assert d.verdicts[web.fingerprint].action is Action.WARN  # internal and not prod-bound
    assert d.extra["services"] == {pay.fingerprint: "payments-api", web.fingerprint: "web-frontend"}
    assert d.extra["owners"][pay.fingerprint] == "group:team-payments"


@pytest.mark.parametrize(
    ("category", "rule", "word"),
    [
        ("public-access", "iac.public-access-exposed", "public access"),
        ("privilege-escalation", "iac.privilege-escalation-exposed", "privilege-escalation"),
        ("iam", "iac.iam-exposed", "wildcard"),
        ("network", "iac.network-exposed", "port"),
        ("encryption", "iac.encryption-exposed", "unencrypted"),
    ],
)
def test_each_dangerous_iac_category_names_its_danger(
    category: str, rule: str, word: str, now: dt.datetime
) -> None:
    f = public_bucket(category=category, severity=Severity.HIGH)
    d = decide_with_settings(result(f), Settings(), now, env="prod", context=context())
    v = d.verdicts[f.fingerprint]
    assert (v.action, v.rule) == (Action.BLOCK, rule)
    assert word in v.message


@pytest.mark.parametrize("epss_threshold", [0.0, 1e-05, 0.1, 0.35, 1.0])
def test_every_generated_rule_passes_the_dry_run_it_skips_at_load(epss_threshold: float) -> None:
    """Loading skips the sample-input dry run for clearance's own rule templates (`generated`);
    this is where they get it, for the parameter values configuration can give them."""
    from clearance.policy.default import default_rules, final_rules, threshold_rules
    from clearance.policy.inputs import sample_inputs
    from clearance.policy.rules import RuleSpec, compile_rule

    templates = [
        *default_rules(epss_threshold),
        *[rule for severity in Severity for rule in threshold_rules(severity)],
        *final_rules(),
    ]
    assert templates and all(spec.generated for spec in templates)
    checked = [RuleSpec(s.name, s.when, s.action, s.message, s.origin) for s in templates]
    assert not any(spec.generated for spec in checked)
    samples = sample_inputs()
    for spec in checked:
        compile_rule(spec, samples)  # raises PolicyError if its dry run fails


def test_a_configured_rule_is_still_dry_run_when_the_built_in_policy_is_not() -> None:
    from clearance.config import PolicyRuleSettings
    from clearance.errors import PolicyError
    from clearance.policy.engine import load_policy

    typo = PolicyRuleSettings(name="typo", when="finding.sevrity == 'high'", action="block")
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(Settings().policy.model_copy(update={"rules": [typo]}), "prod")
    assert load_policy(Settings().policy, "prod").name == "default@prod"
