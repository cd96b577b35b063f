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
from dataclasses import dataclass
from pathlib import Path

from clearance.config import CONFIG_FILE, Settings, config_table, settings_from_text
from clearance.errors import ConfigError
from clearance.model import ChangeSet
from clearance.sources import git
from clearance.sources.ignore import IGNORE_FILES

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


def policy_at_base(root: Path, change: ChangeSet, working: Settings, config_path: Path | None) -> BasePolicy:
    """The merge base's settings for a change under `root`, and the policy files it edits."""
    short = change.merge_base[:12]
    explicit = _inside(root, config_path)
    config_edits: list[str] = []
    # One read of the merge base for every file this may need: the configuration candidates and the
    # exceptions file named by the defaults and by the working tree (another name costs one more read).
    candidates = [explicit] if explicit else [CONFIG_FILE, PYPROJECT]
    wanted = list(
        dict.fromkeys([*candidates, Settings().policy.exceptions.file, working.policy.exceptions.file])
    )
    at_base = {f.path: f.data for f in git.files_at(root, change.merge_base, wanted)}
    if config_path is not None and explicit is None:
        settings, origin = working, f"{config_path} (given on the command line)"
    else:
        settings, origin, config_edits = _settings_at(root, change, candidates, at_base)
        origin = f"{origin} at {short}" if origin != "defaults" else f"defaults at {short}"
    touched = set(change.paths)
    exceptions_file = settings.policy.exceptions.file
    if exceptions_file not in wanted:
        at_base.update({f.path: f.data for f in git.files_at(root, change.merge_base, [exceptions_file])})
    base_exceptions = _text(at_base.get(exceptions_file))
    edited = list(config_edits)
    if exceptions_file in touched and _read(root / exceptions_file) != base_exceptions:
        edited.append(exceptions_file)
    edited.extend(p for p in sorted(touched) if posixpath.basename(p) in IGNORE_FILES and p != ".gitignore")
    return BasePolicy(settings, origin, tuple(dict.fromkeys(edited)), base_exceptions)


def _settings_at(
    root: Path, change: ChangeSet, candidates: list[str], at_base: dict[str, bytes | None]
) -> tuple[Settings, str, list[str]]:
    """Settings at the merge base (same lookup order as `load_settings`) and the configuration
    files whose effective content the change edits."""
    base_files = {name: _text(at_base.get(name)) for name in candidates}
    edited = []
    for name in candidates:
        pyproject = name == PYPROJECT
        before = base_files.get(name)
        after = _read(root / name)
        old = (
            config_table(before, f"{name} at {change.merge_base[:12]}", pyproject=pyproject)
            if before
            else None
        )
        try:
            new = config_table(after, name, pyproject=pyproject) if after else None
        except ConfigError:
            new = after  # unreadable now: certainly edited (the base's version still applies)
        if old != new:
            edited.append(name)
    for name in candidates:
        text = base_files.get(name)
        if text is None:
            continue
        settings = settings_from_text(
            text, f"{name} at {change.merge_base[:12]}", pyproject=name == PYPROJECT
        )
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
