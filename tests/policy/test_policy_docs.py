"""docs/policy.md documents every policy and service key and every default rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from clearance.config import (
    EnvironmentPolicySettings,
    ExceptionLimitSettings,
    HighRiskPathSettings,
    PolicyRuleSettings,
    PolicySettings,
    ServiceSettings,
)
from clearance.policy.default import default_rules, final_rules
from clearance.policy.exceptions import ENTRY_KEYS, MATCH_KEYS
from clearance.policy.inputs import SIGNAL_DEFAULTS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()


@pytest.mark.parametrize(
    "model",
    [
        PolicySettings,
        EnvironmentPolicySettings,
        ExceptionLimitSettings,
        HighRiskPathSettings,
        PolicyRuleSettings,
        ServiceSettings,
    ],
    ids=lambda m: m.__name__,
)
def test_every_settings_field_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in model.model_fields if f"`{name}`" not in DOC]
    assert not missing, f"docs/policy.md does not document {model.__name__}: {missing}"


def test_every_default_rule_and_exception_key_is_documented() -> None:
    for rule in default_rules() + final_rules():
        assert rule.name in DOC, rule.name
    for key in ENTRY_KEYS + tuple(f"match.{k}" for k in MATCH_KEYS):
        assert f"`{key}`" in DOC, key
    for signal in SIGNAL_DEFAULTS:
        assert f"`{signal}`" in DOC, signal
