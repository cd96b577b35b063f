"""PR mode: the gate's configuration and policy come from the merge base, not from the change.

A pull request can edit `clearance.toml`, `[tool.clearance]` in pyproject.toml, the exceptions
file or a `.clearanceignore`. If the gate took them from the working tree, the change under
review would choose the rules that judge it (`action = "ignore"`, `when = "true"`). Like branch
protection and CODEOWNERS, the gate reads them at the merge base instead:

- the settings (scanners, ignores, size cap, custom and disabled rules, policy rules, high-risk
  paths, approvals settings, exception limits) are the merge base's;
- every policy file the change edits is named (`edited`): the policy stage reports "this change
  edits the gate's policy" and requires the approval of the base's risk owner;
- the exceptions file's text at the merge base is kept so that exceptions the change adds or
  extends apply only once approved.

A configuration file given with `--config` outside the repository belongs to whoever runs the
gate (the CI definition), not to the change: it is used as given.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clearance.config import CONFIG_FILE, ExceptionLimitSettings, Settings, config_table, settings_from_text
from clearance.errors import ConfigError
from clearance.model import ChangeSet
from clearance.sources import git
from clearance.sources.git import CLEARANCE_IGNORE

PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class BasePolicy:
    """The settings a PR-mode gate runs with, and which policy files the change edits."""

    settings: Settings
    origin: str
    """Where the settings come from, e.g. `clearance.toml at 1a2b3c4d5e6f` or `defaults`."""
    edited: tuple[str, ...] = ()
    """Policy files the change edits (configuration, exceptions file, ignore files)."""
    exceptions_at_base: str | None = None
    """The exceptions file's text at the merge base (None: it did not exist there)."""
    ignore_files: Mapping[str, str] = field(default_factory=dict)
    """The merge base's `.clearanceignore` files that can apply to the change, by path."""


def policy_at_base(root: Path, change: ChangeSet, working: Settings, config_path: Path | None) -> BasePolicy:
    """The merge base's settings for a change under `root`, and the policy files it edits.

    Everything is read from the merge base in one `git cat-file` (a second one only when the
    base's configuration moves the exceptions file)."""
    short = change.merge_base[:12]
    explicit = _inside(root, config_path)
    candidates = [explicit] if explicit else [CONFIG_FILE, PYPROJECT]
    default_exceptions = ExceptionLimitSettings().file
    ignore_candidates = git.ignore_file_candidates(change)
    at_base = git.read_at(root, change.merge_base, [*candidates, default_exceptions, *ignore_candidates])
    config_edits: list[str] = []
    if config_path is not None and explicit is None:
        settings, origin = working, f"{config_path} (given on the command line)"
    else:
        settings, origin, config_edits = _settings_at(root, change, candidates, at_base)
        origin = f"{origin} at {short}"
    exceptions_file = settings.policy.exceptions.file
    if exceptions_file not in at_base and exceptions_file != default_exceptions:
        at_base.update(git.read_at(root, change.merge_base, [exceptions_file]))
    base_exceptions = _text(at_base.get(exceptions_file))
    touched = set(change.paths)
    edited = list(config_edits)
    if exceptions_file in touched and _read(root / exceptions_file) != base_exceptions:
        edited.append(exceptions_file)
    edited.extend(p for p in sorted(touched) if posixpath.basename(p) == CLEARANCE_IGNORE)
    ignore_files = {p: at_base[p].decode("utf-8", "replace") for p in ignore_candidates if p in at_base}
    return BasePolicy(settings, origin, tuple(dict.fromkeys(edited)), base_exceptions, ignore_files)


def _settings_at(
    root: Path, change: ChangeSet, candidates: list[str], at_base: Mapping[str, bytes]
) -> tuple[Settings, str, list[str]]:
    """Settings at the merge base (same lookup order as `load_settings`) and the configuration
    files whose effective content the change edits."""
    short = change.merge_base[:12]
    edited = []
    for name in candidates:
        pyproject = name == PYPROJECT
        before = _text(at_base.get(name))
        after = _read(root / name)
        old = config_table(before, f"{name} at {short}", pyproject=pyproject) if before else None
        try:
            new = config_table(after, name, pyproject=pyproject) if after else None
        except ConfigError:
            new = after  # unreadable now: certainly edited (the base's version still applies)
        if old != new:
            edited.append(name)
    for name in candidates:
        text = _text(at_base.get(name))
        if text is None:
            continue
        settings = settings_from_text(text, f"{name} at {short}", pyproject=name == PYPROJECT)
        if settings is not None:
            return settings, name, edited
    return Settings(), "defaults", edited


def _inside(root: Path, path: Path | None) -> str | None:
    """`path` relative to `root` (POSIX) when it lies inside it, else None."""
    if path is None:
        return None
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return ""  # present but unreadable: differs from any readable base version


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")
