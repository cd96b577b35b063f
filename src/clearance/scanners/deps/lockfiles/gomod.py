"""Go `go.mod`: `require` (blocks and single lines), `replace`, `exclude`.

`// indirect` requirements are transitive (direct False), others direct. A `replace`
to another module version reports the replacement (located at the replace line); a
replace to a local directory is first-party and not a component. A requirement on an
excluded version is reported unpinned (the go command would pick another version). The
module's own path is never a dependency. When the working tree is available, `go.sum`
next to `go.mod` contributes `h1:` hashes (a hint; it is not a lockfile on its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clearance.scanners.deps.lockfiles.base import Lockfile, MalformedLockfile

ECOSYSTEM = "Go"
_DIRECTIVES = (
    "module",
    "go",
    "toolchain",
    "require",
    "replace",
    "exclude",
    "retract",
    "godebug",
    "tool",
    "ignore",
)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\S+')


@dataclass
class _Require:
    path: str
    version: str
    line: int
    indirect: bool


@dataclass
class _Replace:
    old_path: str
    old_version: str
    new_path: str
    new_version: str
    line: int


def parse(lock: Lockfile) -> None:
    """Add the modules a go.mod requires to `lock`."""
    module, requires, replaces, excludes = _read(lock)
    if module is None and not requires:
        raise MalformedLockfile("no module directive: not a go.mod")
    sums = _go_sum(lock)
    for req in requires:
        if req.path == module:
            continue
        path, version, line = req.path, req.version, req.line
        replace = _replacement(replaces, req)
        if replace is not None:
            if not replace.new_version:
                continue  # replaced by a local directory: first-party code
            path, version, line = replace.new_path, replace.new_version, replace.line
        excluded = (req.path, req.version) in excludes and replace is None
        lock.add(
            ECOSYSTEM,
            path,
            version,
            line=line,
            direct=not req.indirect,
            hashes=[("h1", sums[(path, version)])] if (path, version) in sums else [],
            pinned=not excluded,
        )


def _read(lock: Lockfile) -> tuple[str | None, list[_Require], list[_Replace], set[tuple[str, str]]]:
    module: str | None = None
    requires: list[_Require] = []
    replaces: list[_Replace] = []
    excludes: set[tuple[str, str]] = set()
    block: str | None = None
    for number, raw in enumerate(lock.text.splitlines(), 1):
        code, _, comment = raw.partition("//")
        tokens = [_unquote(t) for t in _TOKEN.findall(code)]
        if not tokens:
            continue
        if block is not None:
            if tokens == [")"]:
                block = None
                continue
            verb, args = block, tokens
        elif len(tokens) >= 2 and tokens[1] == "(" and tokens[0] in _DIRECTIVES:
            block = tokens[0]
            continue
        else:
            verb, args = tokens[0], tokens[1:]
        if verb not in _DIRECTIVES:
            lock.error(f"unknown directive {verb!r}", number)
            continue
        if verb == "module" and args:
            module = args[0]
        elif verb == "require":
            if len(args) != 2:
                lock.error("require needs a module path and a version", number)
                continue
            requires.append(_Require(args[0], args[1], number, comment.strip().startswith("indirect")))
        elif verb == "replace":
            replace = _parse_replace(args, number)
            if replace is None:
                lock.error("replace needs 'old [version] => new [version]'", number)
            else:
                replaces.append(replace)
        elif verb == "exclude" and len(args) == 2:
            excludes.add((args[0], args[1]))
    if block is not None:
        raise MalformedLockfile(f"unterminated {block} ( block")
    return module, requires, replaces, excludes


def _parse_replace(args: list[str], line: int) -> _Replace | None:
    if "=>" not in args:
        return None
    arrow = args.index("=>")
    old, new = args[:arrow], args[arrow + 1 :]
    if len(old) not in (1, 2) or len(new) not in (1, 2):
        return None
    return _Replace(old[0], old[1] if len(old) == 2 else "", new[0], new[1] if len(new) == 2 else "", line)


def _replacement(replaces: list[_Replace], req: _Require) -> _Replace | None:
    """The replace directive that applies (a version-specific one wins over a general one)."""
    general = None
    for replace in replaces:
        if replace.old_path != req.path:
            continue
        if replace.old_version == req.version:
            return replace
        if not replace.old_version:
            general = replace
    return general


def _go_sum(lock: Lockfile) -> dict[tuple[str, str], str]:
    """`h1:` module hashes from go.sum beside go.mod (working tree only; empty if unreadable)."""
    if lock.file.disk_path is None:
        return {}
    try:
        text = (lock.file.disk_path.parent / "go.sum").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    sums: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("h1:") and not parts[1].endswith("/go.mod"):
            sums[(parts[0], parts[1])] = parts[2][3:]
    return sums


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in '"`':
        return token[1:-1]
    return token
