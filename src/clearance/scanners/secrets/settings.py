"""`[secrets]` settings: custom rules, disabled rules, extra test paths."""

from __future__ import annotations

from pydantic import Field, field_validator

from clearance.model import Severity
from clearance.scanners.base import ScannerSettings


class CustomSecretRule(ScannerSettings):
    """A user-defined secret rule (same fields as the built-in rules.toml entries)."""

    id: str = Field(pattern=r"^secret\.[a-z0-9][a-z0-9.-]*$")
    title: str
    severity: Severity = Severity.HIGH
    regex: str
    keywords: list[str] = Field(default_factory=list)
    entropy: float | None = None
    description: str = ""
    allow: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    negative_examples: list[str] = Field(default_factory=list)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, v: object) -> object:
        return Severity.parse(v) if isinstance(v, str) else v


class SecretsSettings(ScannerSettings):
    """`[secrets]`: custom rules, disabled rules, extra test-path globs."""

    rules: list[CustomSecretRule] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)
    test_paths: list[str] = Field(default_factory=list)
    """Extra globs whose findings carry `in_test_path` (the built-in list covers tests/, fixtures/...)."""
