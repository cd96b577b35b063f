"""`[iac]` settings: disabled rules, Terraform variable files, unrendered templates and work budgets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clearance.scanners.base import ScannerSettings


class IacLimitsSettings(ScannerSettings):
    """`[iac.limits]`: work budgets per file (a hostile repository cannot exhaust the runner).

    A file that hits one is reported (naming the file and the budget) and marked incomplete.
    """

    max_string: int = Field(default=1_000_000, ge=1)
    """Characters of one evaluated string (Terraform interpolation, CloudFormation Fn::Sub/Fn::Join)."""
    max_steps: int = Field(default=2_000_000, ge=1)
    """Expression evaluation steps per Terraform root module (its called modules included)."""
    max_dynamic: int = Field(default=1_000, ge=1)
    """Blocks one resource may get from (nested) `dynamic` blocks."""
    max_module_depth: int = Field(default=8, ge=1)
    """How deep local modules may call each other."""
    max_module_instances: int = Field(default=256, ge=1)
    """Module calls evaluated per Terraform root module."""
    max_instances: int = Field(default=1_000, ge=1)
    """Instances of one resource block or module call (`count`, `for_each`) evaluated; more are
    reported and the scan is incomplete."""
    max_findings_per_rule: int = Field(default=500, ge=1)
    """Findings of one rule in one file; more are dropped and the file marked incomplete."""


UnrenderedTemplates = Literal["incomplete", "skip"]


class IacSettings(ScannerSettings):
    """`[iac]`: disabled IaC rules, terraform variable files, unrendered templates and work budgets."""

    disable: list[str] = Field(default_factory=list)
    var_files: list[str] = Field(default_factory=list)
    unrendered_templates: UnrenderedTemplates = "incomplete"
    """A manifest that is an unrendered Helm/Go template (its `{{ ... }}` break the YAML):
    `incomplete` (default) — a per-file error, the scan incomplete (exit 3 under `fail_closed`);
    `skip` — listed in the report as skipped, with the reason. Either way it is not scanned."""
    limits: IacLimitsSettings = Field(default_factory=IacLimitsSettings)
