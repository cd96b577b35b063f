"""IaC parsers: one module per input syntax, each turning text into `Resource`s.

Contract for a single-file parser module (kubernetes, dockerfile, cloudformation, iam_json):
`parse(path: str, text: str) -> list[Resource]`, raising `MalformedInput` (or its subclass
`IacParseError`) for malformed
input (the scanner turns it into a per-file `ScanError`; the scan goes on).
"""

from __future__ import annotations

from clearance.errors import MalformedInput


class IacParseError(MalformedInput):
    """An IaC file could not be parsed; `line` is 1-based when known. Callers catch the base
    class, `MalformedInput`, which the shared YAML loader (`clearance.safe_yaml`) raises too."""
