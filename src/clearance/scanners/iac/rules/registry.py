"""The one explicit list of IaC rules. No registration by import side effect.

Add a rule module here by importing it and appending its `RULES` to `ALL_RULES`.
"""

from __future__ import annotations

from clearance.scanners.iac.rules import dockerfile, kubernetes
from clearance.scanners.iac.rules.base import IacRule

ALL_RULES: tuple[IacRule, ...] = (
    *kubernetes.RULES,
    *dockerfile.RULES,
)


def all_rules() -> tuple[IacRule, ...]:
    """Every built-in IaC rule, in registry order."""
    return ALL_RULES
