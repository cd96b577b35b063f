"""Working-tree source: walk a directory once, honouring ignore files, limits and symlink safety.

- `.gitignore` files (nested, gitignore semantics via `pathspec`), `.clearanceignore` files
  and the configured `ignore` globs are honoured; the `.git` directory is never entered.
- Files above the size cap are handed on marked `over_cap` (the secrets scanner streams them;
  the pipeline records them as unscanned for every other scanner); symlinks are never followed (a link
  inside the root is scanned through its target, a link leaving the root or dangling is
  reported as skipped); unreadable directories are reported as errors.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from clearance.errors import SourceError
from clearance.model import ScanError, SkippedFile
from clearance.sources.base import SourceFile
from clearance.sources.ignore import IGNORE_FILES, IgnoreRules, compile_rules, is_ignored, read_rules

NEVER_ENTER = frozenset({".git", ".hg", ".svn"})


@dataclass
class WalkResult:
    """Files to scan plus what was skipped and what could not be read."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def make_printable(self) -> None:
        """Rewrite every path as valid UTF-8 (`printable_path`), in place.

        Sources keep names as the OS gives them (bytes that are not UTF-8 become surrogates,
        `os.fsdecode`); from here on a path is text every report format can carry. The files
        are still read through `disk_path` (or their blob), which keeps the real bytes."""
        for f in self.files:
            f.path = printable_path(f.path)
        self.skipped = [dataclasses.replace(s, path=printable_path(s.path)) for s in self.skipped]
        self.errors = [dataclasses.replace(e, path=printable_path(e.path)) for e in self.errors]


def printable_path(path: str) -> str:
    """`path` as valid UTF-8: bytes that were not UTF-8 (surrogate-escaped) become `\\xNN`.

    `conf\\udcff.py` (a file named `conf<0xff>.py`) → `conf\\xff.py`; valid names are unchanged."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that stands for no byte (not from fsdecode)
            return path.encode("utf-8", "backslashreplace").decode("utf-8")
        return raw.decode("utf-8", "backslashreplace")
    return path


def walk(root: Path, *, ignore: list[str] | tuple[str, ...] = (), max_file_size: int) -> WalkResult:
    """Walk `root` (a directory or a single file) and return the files to scan."""
    out = WalkResult()
    try:
        st = root.lstat()
    except OSError as e:
        raise SourceError(
            f"cannot read {root}: {e.strerror}", hint="check the path exists and is readable"
        ) from e
    if stat.S_ISREG(st.st_mode):
        _add_file(out, root, root.name, st.st_size, max_file_size)
        return out
    if not stat.S_ISDIR(st.st_mode):
        raise SourceError(f"{root} is neither a directory nor a regular file")
    real_root = root.resolve()
    rules = _config_rules(ignore, out)
    _walk_dir(out, root, real_root, "", rules, max_file_size)
    out.files.sort(key=lambda f: f.path)
    out.skipped.sort(key=lambda s: s.path)
    return out


def walk_paths(
    root: Path,
    paths: list[Path],
    *,
    ignore: list[str] | tuple[str, ...] = (),
    max_file_size: int,
    explicit: bool = False,
) -> WalkResult:
    """Only the given files (e.g. the staged files pre-commit passes), with the same ignore rules.

    Directories among `paths` are walked; paths outside `root` are rejected as errors. With
    `explicit` (the user named the path), ignore files in the directories above a path do not
    hide it — as ruff and gitleaks treat a path given on the command line; the configured
    `ignore` globs and the ignore files inside a directory still apply.
    """
    out = WalkResult()
    real_root = root.resolve()
    base_rules = _config_rules(ignore, out)
    cache: dict[str, list[IgnoreRules]] = {}
    for given in paths:
        absolute = given if given.is_absolute() else Path.cwd() / given
        try:
            rel = (
                absolute.resolve().relative_to(real_root).as_posix()
                if not absolute.is_symlink()
                else (absolute.parent.resolve().relative_to(real_root) / absolute.name).as_posix()
            )
        except (ValueError, OSError):
            out.errors.append(ScanError(path=str(given), message="outside the scanned root; not scanned"))
            continue
        parent = rel.rpartition("/")[0]
        rules = base_rules if explicit else _rules_for_dir(out, real_root, parent, base_rules, cache)
        if absolute.is_dir() and not absolute.is_symlink():
            if not is_ignored(rules, rel, is_dir=True):
                _walk_dir(out, real_root, real_root, rel if rel != "." else "", rules, max_file_size)
            continue
        if is_ignored(rules, rel, is_dir=False):
            continue
        if absolute.is_symlink():
            out.skipped.append(SkippedFile(rel, _symlink_reason(absolute, real_root)))
            continue
        try:
            st = absolute.stat()
        except OSError as e:
            out.errors.append(ScanError(path=rel, message=f"cannot stat: {e.strerror}"))
            continue
        if not stat.S_ISREG(st.st_mode):
            out.skipped.append(SkippedFile(rel, "not a regular file"))
            continue
        _add_file(out, absolute, rel, st.st_size, max_file_size)
    uniq = {f.path: f for f in out.files}
    out.files = sorted(uniq.values(), key=lambda f: f.path)
    out.skipped.sort(key=lambda s: s.path)
    return out


def _config_rules(ignore: list[str] | tuple[str, ...], out: WalkResult) -> list[IgnoreRules]:
    compiled = compile_rules("", ignore, "configuration `ignore`", out.warnings) if ignore else None
    return [compiled] if compiled else []


def _rules_for_dir(
    out: WalkResult, root: Path, rel_dir: str, base: list[IgnoreRules], cache: dict[str, list[IgnoreRules]]
) -> list[IgnoreRules]:
    if rel_dir in cache:
        return cache[rel_dir]
    parent = rel_dir.rpartition("/")[0] if rel_dir else None
    rules = list(base if parent is None else _rules_for_dir(out, root, parent, base, cache))
    directory = root / rel_dir if rel_dir else root
    for name in IGNORE_FILES:
        found = read_rules(
            directory / name, rel_dir, f"{rel_dir}/{name}" if rel_dir else name, out.errors, out.warnings
        )
        if found is not None:
            rules.append(found)
    cache[rel_dir] = rules
    return rules


def _walk_dir(
    out: WalkResult, root: Path, real_root: Path, rel: str, rules: list[IgnoreRules], cap: int
) -> None:
    directory = os.path.join(root, rel) if rel else str(root)
    parent = Path(directory)  # each file's Path is parent / name: parsing one name, not the whole path
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        out.errors.append(ScanError(path=rel or ".", message=f"cannot list directory: {e.strerror}"))
        return
    local = list(rules)
    names = {e.name for e in entries if e.name in IGNORE_FILES}
    for name in IGNORE_FILES:
        if name not in names:  # the listing already says so: no stat per directory
            continue
        found = read_rules(
            Path(directory, name), rel, f"{rel}/{name}" if rel else name, out.errors, out.warnings
        )
        if found is not None:
            local.append(found)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        try:
            is_link = entry.is_symlink()
            is_dir = not is_link and entry.is_dir(follow_symlinks=False)
        except OSError as e:
            out.errors.append(ScanError(path=path, message=f"cannot stat: {e.strerror}"))
            continue
        if is_dir:
            if entry.name in NEVER_ENTER or is_ignored(local, path, is_dir=True):
                continue
            _walk_dir(out, root, real_root, path, local, cap)
            continue
        if is_ignored(local, path, is_dir=False):
            continue
        if is_link:
            out.skipped.append(SkippedFile(path, _symlink_reason(Path(entry.path), real_root)))
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as e:
            out.errors.append(ScanError(path=path, message=f"cannot stat: {e.strerror}"))
            continue
        if not stat.S_ISREG(st.st_mode):
            out.skipped.append(SkippedFile(path, "not a regular file"))
            continue
        _add_file(out, parent / entry.name, path, st.st_size, cap)


def _add_file(out: WalkResult, disk: Path, rel: str, size: int, cap: int) -> None:
    out.files.append(SourceFile(path=rel, size=size, disk_path=disk, over_cap=0 < cap < size))


def _symlink_reason(link: Path, real_root: Path) -> str:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken symlink"
    if target != real_root and real_root not in target.parents:
        return "symlink pointing outside the scanned root (not followed)"
    return "symlink (not followed; its target is scanned in place)"
