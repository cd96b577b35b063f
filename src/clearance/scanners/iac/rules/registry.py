"""The one explicit list of IaC rules. No registration by import side effect.

Add a rule module here by importing it and appending its `RULES` to `ALL_RULES`.
"""

from __future__ import annotations

from clearance.scanners.iac.rules import (
    aws_encryption,
    aws_exposure,
    aws_iam,
    aws_logging,
    aws_network,
    aws_s3,
    aws_supply_chain,
    azure,
    dockerfile,
    gcp,
    kubernetes,
)
from clearance.scanners.iac.rules.base import IacRule

ALL_RULES: tuple[IacRule, ...] = (
    *aws_s3.RULES,
    *aws_network.RULES,
    *aws_iam.RULES,
    *aws_exposure.RULES,
    *aws_encryption.RULES,
    *aws_logging.RULES,
    *aws_supply_chain.RULES,
    *gcp.RULES,
    *azure.RULES,
    *kubernetes.RULES,
    *dockerfile.RULES,
)


def all_rules() -> tuple[IacRule, ...]:
    """Every built-in IaC rule, in registry order."""
    return ALL_RULES
