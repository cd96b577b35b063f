"""The one explicit list of scanners. No registration by import side effect.

Scanners are constructed on demand (their modules import heavy libraries such as
hyperscan or hcl2 only when used).
"""

from __future__ import annotations

from clearance.scanners.base import Scanner

SCANNER_IDS: tuple[str, ...] = ("secrets", "deps", "iac")


def scanner_ids() -> tuple[str, ...]:
    """Ids of every available scanner, in registry order."""
    return SCANNER_IDS


def build_scanner(scanner_id: str) -> Scanner:
    """Construct the scanner with the given id."""
    if scanner_id == "secrets":
        from clearance.scanners.secrets.scanner import SecretsScanner

        return SecretsScanner()
    if scanner_id == "deps":
        from clearance.scanners.deps.scanner import DepsScanner

        return DepsScanner()
    if scanner_id == "iac":
        from clearance.scanners.iac.scanner import IacScanner

        return IacScanner()
    raise KeyError(scanner_id)


def build_scanners(ids: list[str] | tuple[str, ...]) -> list[Scanner]:
    """Construct the selected scanners in registry order."""
    return [build_scanner(i) for i in SCANNER_IDS if i in ids]
