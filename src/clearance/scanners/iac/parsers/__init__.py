"""IaC parsers: one module per input syntax, each turning text into `Resource`s.

Contract for a single-file parser module (kubernetes, dockerfile, cloudformation, iam_json):
`parse(path: str, text: str) -> list[Resource]`, raising `IacParseError` for malformed
input (the scanner turns it into a per-file `ScanError`; the scan goes on).
"""

from __future__ import annotations


class IacParseError(Exception):
    """A file could not be parsed; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message
