"""CEL rules: compiled once, validated at load (exit 4 with the problem), first match wins."""

from __future__ import annotations

import datetime as dt

import pytest
from policy_builders import FIXTURES, context, result, secret, vulnerability

from clearance.config import load_settings, settings_from_mapping
from clearance.errors import PolicyError
from clearance.model import Action, Severity
from clearance.policy.engine import decide_with_settings, load_policy
from clearance.policy.inputs import sample_inputs
from clearance.policy.rules import RuleSpec, compile_rules


def _rules(*specs: tuple[str, str, str]) -> dict[str, object]:
    return {
        "policy": {
            "rules": [{"name": n, "when": w, "action": a, "message": f"{n} says so"} for n, w, a in specs]
        }
    }


def test_syntax_error_names_file_line_rule_and_position(tmp_path: object) -> None:
    path = FIXTURES / "config" / "bad-rule.toml"
    settings, _ = load_settings(path.parent, path)
    with pytest.raises(PolicyError) as info:
        load_policy(settings.policy, "prod", origin=path.name, source_text=path.read_text())
    msg = info.value.message
    assert "bad-rule.toml:10" in msg
    assert "'block-kev'" in msg
    assert "finding.signals.kev &&" in msg
    assert "column 23" in msg
    assert info.value.exit_code == 4


def test_unknown_variable_is_rejected() -> None:
    settings = settings_from_mapping(_rules(("typo", "fnding.kind == 'secret'", "block")))
    with pytest.raises(PolicyError, match=r"unknown variable 'fnding' at column 1"):
        load_policy(settings.policy, "")


def test_misspelled_field_is_rejected_at_load() -> None:
    settings = settings_from_mapping(_rules(("typo", "finding.severty == 'high'", "block")))
    with pytest.raises(PolicyError, match=r"field that does not exist: no such field 'severty'"):
        load_policy(settings.policy, "")


def test_non_boolean_condition_is_rejected() -> None:
    settings = settings_from_mapping(_rules(("str", "finding.severity", "warn")))
    with pytest.raises(PolicyError, match="evaluated to str, not bool"):
        load_policy(settings.policy, "")


def test_comprehension_variables_are_allowed(now: dt.datetime) -> None:
    settings = settings_from_mapping(
        _rules(
            (
                "auth-change",
                "change.files.exists(p, p.startsWith('auth/')) && finding.kind == 'secret'",
                "block",
            )
        )
    )
    policy = load_policy(settings.policy, "")
    assert policy.rules.rules[0].name == "auth-change"


def test_invalid_action_is_a_config_error() -> None:
    from clearance.errors import ConfigError

    with pytest.raises(ConfigError, match=r"policy\.rules\.0\.action"):
        settings_from_mapping(_rules(("x", "true", "explode")))


def test_first_matching_rule_wins_before_the_default_policy(now: dt.datetime) -> None:
    settings = settings_from_mapping(
        _rules(
            ("allow-fixture-keys", "finding.kind == 'secret' && finding.path.startsWith('app/')", "ignore"),
            ("block-all-secrets", "finding.kind == 'secret'", "block"),
        )
    )
    s = secret("app/config.py")
    d = decide_with_settings(result(s), settings, now, env="prod", context=context())
    v = d.verdicts[s.fingerprint]
    assert (v.action, v.rule, v.message) == (
        Action.IGNORE,
        "allow-fixture-keys",
        "allow-fixture-keys says so",
    )


def test_rule_that_cannot_be_evaluated_fails_closed_when_blocking(now: dt.datetime) -> None:
    # fix_versions[1] exists in the load-time sample only for some kinds; an empty list errors at run time.
    settings = settings_from_mapping(
        _rules(
            (
                "first-fix",
                "finding.kind == 'vulnerability' && finding.signals.fix_versions[0] == '9.9.9'",
                "block",
            )
        )
    )
    v = vulnerability(severity=Severity.LOW)
    v = type(v)(
        **{
            **{f: getattr(v, f) for f in v.__dataclass_fields__},
            "signals": {**v.signals.as_dict(), "fix_versions": []},
        }
    )
    d = decide_with_settings(result(v), settings, now, env="prod", context=context())
    verdict = d.verdicts[v.fingerprint]
    assert verdict.action is Action.BLOCK
    assert verdict.rule == "first-fix"
    assert any("failing closed" in n for n in verdict.notes)


def test_builtin_can_be_switched_off(now: dt.datetime) -> None:
    settings = settings_from_mapping({"policy": {"builtin": False}})
    s = secret()
    d = decide_with_settings(result(s), settings, now, env="prod", context=context())
    assert d.verdicts[s.fingerprint].rule == "default.warn"


def test_duplicate_rule_names_are_rejected() -> None:
    specs = [RuleSpec("a", "true", "warn", origin="x:1"), RuleSpec("a", "false", "block", origin="x:2")]
    with pytest.raises(PolicyError, match="already used"):
        compile_rules(specs, sample_inputs())


def test_all_problems_are_reported_together() -> None:
    specs = [
        RuleSpec("a", "finding.", "warn", origin="x:1"),
        RuleSpec("b", "nope == 1", "block", origin="x:2"),
    ]
    with pytest.raises(PolicyError) as info:
        compile_rules(specs, sample_inputs())
    assert "'a'" in info.value.message and "'b'" in info.value.message


def test_only_referenced_fields_reach_cel() -> None:
    from clearance.policy.rules import prune, referenced_fields

    needs = referenced_fields(
        [
            "finding.signals.epss.score >= 0.1 && finding.path.startsWith('a/')",
            "change.files.exists(p, p == finding . rule) && env == 'prod'",
            "size(finding.component) > 0 && finding.signals.exists(k, k == 'kev')",
        ]
    )
    assert needs == {
        "finding": {"signals": True, "path": True, "rule": True, "component": True},
        "change": {"files": True},
        "env": True,
    }
    inputs = {
        "finding": {
            "signals": {"epss": {"score": 0.2}, "kev": True},
            "path": "a/b",
            "rule": "r",
            "component": {"name": "x"},
            "title": "t",
        },
        "change": {"files": ["a"], "base": "main"},
        "env": "prod",
        "service": {"name": "s"},
    }
    assert prune(inputs, needs) == {
        "finding": {
            "signals": {"epss": {"score": 0.2}, "kev": True},
            "path": "a/b",
            "rule": "r",
            "component": {"name": "x"},
        },
        "change": {"files": ["a"]},
        "env": "prod",
    }


def test_runaway_comprehension_is_refused_at_load_with_its_estimate() -> None:
    lst = "[" + ",".join(["'x'"] * 20) + "]"
    when = f"{lst}.map(a, {lst}.map(b, {lst}.map(c, {lst}.map(d, {lst}.map(e, 1))))).size() > 0"
    with pytest.raises(PolicyError, match=r"rule 'r': estimated cost [\d,]+ is above the limit of 100,000"):
        load_policy(settings_from_mapping(_rules(("r", when, "block"))).policy, "")
    # the same rule loads when the budget is raised on purpose (three levels only, to stay quick)
    small = f"{lst}.map(a, {lst}.map(b, {lst}.map(c, 1))).size() > 0"
    settings = settings_from_mapping(
        {
            **_rules(("r", small, "block")),
            "policy": {**_rules(("r", small, "block"))["policy"], "max_rule_cost": 10_000_000},
        }
    )  # type: ignore[dict-item]
    assert load_policy(settings.policy, "").rules.rules[0].name == "r"


@pytest.mark.parametrize(
    "when",
    ["(" * 40 + "true" + ")" * 40, "true && " * 600 + "true"],
    ids=["deep-parens", "too-long"],
)
def test_deep_or_huge_conditions_are_refused_before_the_cel_parser(when: str) -> None:
    with pytest.raises(PolicyError, match=r"nested deeper than 32|characters long"):
        load_policy(settings_from_mapping(_rules(("r", when, "block"))).policy, "")


def test_division_by_zero_at_run_time_fails_closed() -> None:
    """Samples never reach the division; the real finding does: a block rule then matches."""
    when = "finding.path == 'app/payments.py' ? 1 / 0 == 1 : false"
    settings = settings_from_mapping(_rules(("div", when, "block")))
    s = secret("app/payments.py", severity=Severity.LOW, verified=False)
    d = decide_with_settings(result(s), settings, dt.datetime(2026, 11, 22, tzinfo=dt.UTC), context=context())
    v = d.verdicts[s.fingerprint]
    assert v.action is Action.BLOCK and v.rule == "div"
    assert any("division by zero" in n for n in v.notes)


def test_time_budget_overrun_fails_closed_and_the_rule_is_not_run_again() -> None:
    ticks = iter(range(0, 1000, 1))  # each clock read is one second later: every run overruns
    specs = [RuleSpec("slow", "finding.severity == 'critical'", "block")]
    ruleset = compile_rules(specs, sample_inputs(), time_budget_ms=250)
    ruleset = type(ruleset)(ruleset.rules, ruleset.needs, ruleset.time_budget, {}, lambda: float(next(ticks)))
    first = ruleset.first_match(sample_inputs()[1])  # severity high: would not match
    assert first.action is Action.BLOCK and "over the 250 ms budget" in first.errors[0]
    reads = next(ticks)
    second = ruleset.first_match(sample_inputs()[1])
    assert second.action is Action.BLOCK and "not run again" in second.errors[0]
    assert next(ticks) == reads + 1  # the clock was not read: the rule did not run
