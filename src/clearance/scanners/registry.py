"""The one explicit list of scanners, as data. No registration by import side effect.

Each `ScannerSpec` says what a scanner is (id, one-line summary, what it finds), how to build it
(`factory`, which imports the heavy modules — hyperscan, hcl2 — only when called), its
configuration section (`settings`), whether it needs the network, and which kinds of target it
applies to. Configuration, `--help`, `clearance init`, the pipeline and the evidence read this
list; adding a scanner is one spec here plus its package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clearance.model import FindingKind
from clearance.scanners.base import Scanner, ScannerSettings
from clearance.scanners.deps.settings import DepsSettings
from clearance.scanners.iac.settings import IacSettings
from clearance.scanners.secrets.settings import SecretsSettings

ALL_TARGETS = frozenset({"directory", "git-history", "git-diff", "image"})
"""Target kinds (`Target.kind`) the built-in sources produce."""


@dataclass(frozen=True)
class ScannerSpec:
    """One scanner family, described."""

    id: str
    summary: str
    """What it looks for, in a few words (help text, `clearance init`)."""
    factory: Callable[[], Scanner]
    settings: type[ScannerSettings]
    """The model of its configuration section (`[<id>]` in clearance.toml)."""
    finds: frozenset[FindingKind]
    requires_network: bool = False
    """True if scanning needs the network; `--offline` refuses such scanners."""
    targets: frozenset[str] = ALL_TARGETS
    """Target kinds it applies to; on others it is left out of the run."""
    default: bool = True
    """Runs when the configuration does not choose scanners."""


def _secrets() -> Scanner:
    from clearance.scanners.secrets.scanner import SecretsScanner

    return SecretsScanner()


def _deps() -> Scanner:
    from clearance.scanners.deps.scanner import DepsScanner

    return DepsScanner()


def _iac() -> Scanner:
    from clearance.scanners.iac.scanner import IacScanner

    return IacScanner()


SCANNERS: tuple[ScannerSpec, ...] = (
    ScannerSpec(
        "secrets",
        "hard-coded credentials",
        _secrets,
        SecretsSettings,
        frozenset({FindingKind.SECRET}),
    ),
    ScannerSpec(
        "deps",
        "vulnerable dependencies (offline advisory database)",
        _deps,
        DepsSettings,
        frozenset({FindingKind.VULNERABILITY}),
    ),
    ScannerSpec(
        "iac",
        "infrastructure-as-code misconfigurations",
        _iac,
        IacSettings,
        frozenset({FindingKind.MISCONFIGURATION}),
    ),
)


def scanner_ids() -> tuple[str, ...]:
    """Ids of every available scanner, in registry order."""
    return tuple(spec.id for spec in SCANNERS)


def spec(scanner_id: str) -> ScannerSpec:
    """The spec of one scanner (KeyError for an unknown id)."""
    for s in SCANNERS:
        if s.id == scanner_id:
            return s
    raise KeyError(scanner_id)


def specs_finding(kind: FindingKind) -> tuple[ScannerSpec, ...]:
    """The scanners that report findings of `kind` (e.g. which runs hold the advisory database)."""
    return tuple(s for s in SCANNERS if kind in s.finds)


def build_scanner(scanner_id: str) -> Scanner:
    """Construct the scanner with the given id."""
    return spec(scanner_id).factory()


def build_scanners(ids: Sequence[str], target_kind: str | None = None) -> list[Scanner]:
    """Construct the selected scanners in registry order (only those for `target_kind`, if given)."""
    return [
        s.factory() for s in SCANNERS if s.id in ids and (target_kind is None or target_kind in s.targets)
    ]


def secret_detector(text: str) -> bool:
    """The secrets engine's check, passed to other families through `ScanContext.secret_detector`."""
    from clearance.scanners.secrets.engine import contains_secret

    return contains_secret(text)


_NOT_A_VALUE = frozenset({"reference, not a value"})
"""Of the secrets scanner's reasons, those that say the value is not a value at all (an env
variable name, a URL, a path); a weak literal password is still a literal password."""


def placeholder_value(name: str, value: str) -> bool:
    """The secrets family's placeholder filters, passed to other families through
    `ScanContext.placeholder_check`: True for `your-api-key`, `xxxx`, published examples, a value
    that is itself a variable name (`GOOGLE_API_KEY_VAL`), a URL or a path."""
    from clearance.scanners.secrets.filters import generic_reason, placeholder_reason

    if placeholder_reason(value) in ("published example", "placeholder text"):
        return True  # (a sequential run inside a long value is not enough to call it made up here)
    reason = generic_reason(name or "SECRET", value, quoted=True, code_file=False, before="", min_entropy=0.0)
    return reason in _NOT_A_VALUE
