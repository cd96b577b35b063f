"""Error family. Every error a user can cause or meet carries advice (`diagnostics()`).

Library exceptions are translated at the boundary (`raise SourceError(...) from e`);
only the CLI catches the family and exits with the error's `exit_code` (an `ExitCode` from
`decision.py`, the one set of exit codes).
"""

from __future__ import annotations

from typing import ClassVar

from clearance.decision import ExitCode


class ClearanceError(Exception):
    """Root of clearance's errors: a message plus advice for a human."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL
    """The process exit code when this error ends a command; every subclass sets its own."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """A human-readable explanation and what to do next."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(ClearanceError):
    """The command line asks for something impossible, or names an unusable input (key, file)."""

    exit_code = ExitCode.USAGE


class ConfigError(ClearanceError):
    """Invalid configuration file."""

    exit_code = ExitCode.CONFIG


class PolicyError(ClearanceError):
    """Invalid policy rules or exceptions file."""

    exit_code = ExitCode.CONFIG


class SourceError(ClearanceError):
    """A target could not be read at all."""

    exit_code = ExitCode.INCOMPLETE


class ScanError(ClearanceError):
    """A scanner could not run (e.g. no advisory database)."""

    exit_code = ExitCode.INCOMPLETE


class EvidenceError(ClearanceError):
    """Evidence could not be written or read (`verify` reports a bad bundle as invalid instead)."""

    exit_code = ExitCode.INCOMPLETE


class LedgerError(ClearanceError):
    """The ledger database could not be used."""

    exit_code = ExitCode.INCOMPLETE


class MalformedInput(Exception):
    """One input file could not be parsed as its format. Raised by parsers and caught by their
    scanner, which records a per-file `ScanError` and goes on. `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class UnrenderedTemplate(MalformedInput):
    """The file is a template (Helm/Go `{{ ... }}`) that is not its format until rendered.

    A `MalformedInput` like any other: by default the file is a per-file `ScanError` and the
    scan incomplete. The IaC scanner alone may, when configured (`[iac] unrendered_templates
    = "skip"`), list it as skipped instead — `reason` is what is said then."""

    def __init__(self, message: str, line: int | None = None, *, reason: str) -> None:
        super().__init__(message, line)
        self.reason = reason
