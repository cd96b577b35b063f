"""The scanner protocol: what every scanner family implements.

A scanner declares an `id`, a `version` (bumped when behaviour changes), whether it needs
the network, a cheap `applies_to(path)` test, and `scan(files, context)` that returns a
`ScannerOutput` with findings, components and per-file errors (as data, never raised).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from clearance.model import Component, Finding, RuleInfo, ScanError, ScannerStatus, SkippedFile

if TYPE_CHECKING:
    from clearance.config import Settings
    from clearance.sources.base import SourceFile
    from clearance.sources.image.source import ImageContext


ProgressCallback = Callable[[int, int], None]
"""Called with (files done, bytes done) increments while a scanner works."""

SecretDetector = Callable[[str], bool]
"""True if a text contains something the secrets rules report (for other families' redaction)."""

PlaceholderCheck = Callable[[str, str], bool]
"""`(name, value)` → True if the value is a placeholder or a reference rather than a literal
secret (`your-api-key`, `GOOGLE_API_KEY_VAL`, a URL, a path): the secrets family's notion of
"placeholder", for other families' literal-secret rules (IaC ENV/ARG, manifests, images)."""


class ScannerSettings(BaseModel):
    """Base of every scanner family's configuration section (`[secrets]`, `[deps]`, `[iac]`):
    unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


@dataclass(frozen=True)
class ScanContext:
    """Everything a scanner may need besides the files: passed in, never global."""

    root: Path
    """The scanned directory (for working-tree scans) or repository root."""
    settings: Settings
    now: dt.datetime
    """The injected clock's reading for this run (timezone-aware UTC)."""
    jobs: int = 1
    """How many worker processes a scanner may use."""
    progress: ProgressCallback | None = None
    all_paths: Sequence[str] = ()
    """Every repo-relative path of the target (for scanners that need the whole tree, e.g. reachability)."""
    secret_detector: SecretDetector | None = None
    """Cross-family helper: the secrets engine's check, for scanners that must not show a secret
    value in clear (IaC attribute values). None: the scanner's own heuristics only."""
    placeholder_check: PlaceholderCheck | None = None
    """Cross-family helper: the secrets family's placeholder filters (see `PlaceholderCheck`).
    None: the scanner's own heuristics only."""
    image: ImageContext | None = None
    """For image targets: the image's identity, config, layers and package inventory. Scanners
    that read packages or configuration use it instead of the layer files."""


@dataclass
class ScannerOutput:
    """What one scanner produced over its files."""

    findings: list[Finding] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    """Files the scanner chose not to read (e.g. binary content found on reading)."""
    files: int = 0
    bytes: int = 0
    detail: dict[str, object] = field(default_factory=dict)
    failed: bool = False
    """True if the scanner could not run at all (e.g. missing database)."""

    @property
    def status(self) -> ScannerStatus:
        """succeeded / partial (some files unreadable) / failed."""
        if self.failed:
            return ScannerStatus.FAILED
        return ScannerStatus.PARTIAL if self.errors else ScannerStatus.SUCCEEDED


@runtime_checkable
class Scanner(Protocol):
    """A scanner family (secrets, deps, iac...)."""

    id: str
    version: str
    requires_network: bool
    streams_large_files: bool
    """Reads files above `max_file_size` in bounded memory (in chunks) instead of not at all."""

    def applies_to(self, path: str) -> bool:
        """Cheap test, by name/extension, whether this scanner wants the file."""
        ...

    def scan(self, files: Sequence[SourceFile], context: ScanContext) -> ScannerOutput:
        """Scan the given files. Per-file problems go into `ScannerOutput.errors`."""
        ...

    def rules(self, settings: Settings) -> Sequence[RuleInfo]:
        """Every rule this scanner can report (built-in plus configured custom rules)."""
        ...
