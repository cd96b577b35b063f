"""`[iac]` settings: disabled rules and Terraform variable files."""

from __future__ import annotations

from pydantic import Field

from clearance.scanners.base import ScannerSettings


class IacSettings(ScannerSettings):
    """`[iac]`: disabled IaC rules and terraform variable files."""

    disable: list[str] = Field(default_factory=list)
    var_files: list[str] = Field(default_factory=list)
