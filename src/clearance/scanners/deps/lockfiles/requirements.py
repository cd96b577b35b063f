"""pip requirements files (`requirements*.txt`, `requirements/*.txt`).

Handles pins (`==`, `===`), ranges (reported unpinned with the specifier as version),
`--hash` options, backslash continuations, environment markers, extras, `-r` includes
and `-c` constraints (resolved relative to the file, read from the working tree, with a
cycle guard), and `-e`/VCS/URL/path lines (reported unpinned). pip-compile `# via`
annotations tell direct (`-r ...`) from transitive entries and give the dependency graph.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement

from clearance.scanners.deps.lockfiles.base import Lockfile, normalize_name, purl_for
from clearance.sources.base import SourceFile

ECOSYSTEM = "PyPI"
MAX_INCLUDE_DEPTH = 16

_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"--hash[=\s]+([A-Za-z0-9_]+):([0-9A-Za-z+/=_-]+)")
_OPTION_SPLIT = re.compile(r"\s+--?[A-Za-z]")
_URL_START = re.compile(r"^(?:(?:git|hg|svn|bzr)\+[a-z]+://|https?://|file:|ftp://)", re.IGNORECASE)
_ARCHIVE = re.compile(r"\.(?:whl|tar\.gz|tgz|tar\.bz2|tar\.xz|zip)$", re.IGNORECASE)
_SDIST_NAME = re.compile(r"^(.+?)-\d")
_INCLUDE = re.compile(
    r"^(?:(-r|--requirement|-c|--constraint)(?:=|\s+|(?<=-[rc])(?=\S)))\s*(\S+)$", re.IGNORECASE
)
_EDITABLE = re.compile(r"^(?:-e|--editable)(?:=|\s+|(?=\S))\s*(.+)$")
_PEP508_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@")
_VIA = re.compile(r"^\s*#\s+via(?:\s+(.*))?$")
_VIA_ITEM = re.compile(r"^\s*#\s{2,}(\S.*)$")


@dataclass
class _Entry:
    name: str
    version: str
    line: int
    source: SourceFile
    pinned: bool
    hashes: list[tuple[str, str]] = field(default_factory=list)
    qualifiers: dict[str, str] = field(default_factory=dict)
    via: list[str] = field(default_factory=list)
    has_via: bool = False
    requirement: Requirement | None = None


@dataclass
class _Reader:
    lock: Lockfile
    entries: list[_Entry] = field(default_factory=list)
    constraints: dict[str, _Entry] = field(default_factory=dict)
    visiting: set[str] = field(default_factory=set)

    def read(self, source: SourceFile, text: str, *, constraint: bool, depth: int) -> None:
        """Parse one requirements file (and, recursively, what it includes)."""
        key = str(source.disk_path.resolve()) if source.disk_path else source.path
        self.visiting.add(key)
        last: _Entry | None = None
        for line_no, line in _logical_lines(text):
            if last is not None and (via := _via_annotation(line)) is not None:
                last.has_via = True
                last.via.extend(via)
                continue
            stripped = _COMMENT.sub("", line).strip()
            if not stripped:
                continue
            last = None
            include = _INCLUDE.match(stripped)
            if include:
                is_constraint = include.group(1).lower() in ("-c", "--constraint")
                self.include(source, include.group(2), line_no, constraint or is_constraint, depth)
                continue
            editable = _EDITABLE.match(stripped)
            if editable:
                entry = self.reference(editable.group(1).strip(), source, line_no)
            elif stripped.startswith("-"):
                continue  # index/find-links/global options carry no package
            else:
                entry = self.requirement(stripped, source, line_no)
            if entry is None:
                continue
            if constraint:
                if entry.pinned:
                    self.constraints.setdefault(entry.name, entry)
            else:
                self.entries.append(entry)
                last = entry
        self.visiting.discard(key)

    def include(self, source: SourceFile, ref: str, line: int, constraint: bool, depth: int) -> None:
        """Follow `-r`/`-c` to a file next to `source` in the working tree."""
        kind = "constraint" if constraint else "include"
        if _URL_START.match(ref):
            self.lock.error(f"{kind} {ref!r} is a URL; remote files are not fetched", line, source.path)
            return
        if source.disk_path is None:
            return  # a git blob: the included file is scanned on its own if it is a lockfile
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(source.path), ref))
        if ref.startswith("/") or rel == ".." or rel.startswith("../"):
            self.lock.error(f"{kind} {ref!r} points outside the repository; not read", line, source.path)
            return
        if _through_symlink(source.disk_path.parent, ref):
            self.lock.error(f"{kind} {ref!r} goes through a symbolic link; not followed", line, source.path)
            return
        target = (source.disk_path.parent / ref).resolve()
        if str(target) in self.visiting:
            self.lock.error(f"{kind} {ref!r} forms a cycle; not read again", line, source.path)
            return
        if depth >= MAX_INCLUDE_DEPTH:
            self.lock.error(f"{kind} {ref!r} nested deeper than {MAX_INCLUDE_DEPTH}", line, source.path)
            return
        try:
            data = target.read_bytes()
            text = data.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            problem = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self.lock.error(f"cannot read {kind} {ref!r}: {problem}", line, source.path)
            return
        included = SourceFile(path=rel, size=len(data), disk_path=Path(target), data=data)
        self.read(included, text, constraint=constraint, depth=depth + 1)

    def requirement(self, text: str, source: SourceFile, line: int) -> _Entry | None:
        """A requirement line: a PEP 508 specifier, or a bare URL/path."""
        hashes = [(alg.lower(), value) for alg, value in _HASH.findall(text)]
        spec = _OPTION_SPLIT.split(text, maxsplit=1)[0].strip()
        if _is_reference(spec):
            entry = self.reference(spec, source, line)
            if entry is not None:
                entry.hashes = hashes
            return entry
        try:
            req = Requirement(spec)
        except InvalidRequirement as e:
            reason = str(e).splitlines()[0] if str(e) else "unparseable"
            self.lock.error(f"invalid requirement {spec[:80]!r}: {reason}", line, source.path)
            return None
        name = normalize_name(ECOSYSTEM, req.name)
        if req.url:
            return _Entry(name, "", line, source, False, hashes, {_url_qualifier(req.url): req.url})
        specifiers = list(req.specifier)
        if any(not s.version for s in specifiers):
            self.lock.error(
                f"invalid requirement {spec[:80]!r}: operator without a version", line, source.path
            )
            return None
        if (
            len(specifiers) == 1
            and specifiers[0].operator in ("==", "===")
            and "*" not in specifiers[0].version
        ):
            return _Entry(name, specifiers[0].version, line, source, True, hashes, requirement=req)
        return _Entry(name, str(req.specifier), line, source, False, hashes, requirement=req)

    def reference(self, ref: str, source: SourceFile, line: int) -> _Entry | None:
        """A `-e` target, VCS URL, archive URL or local path: unpinned, named if the reference says."""
        ref = _OPTION_SPLIT.split(ref, maxsplit=1)[0].strip()
        if _PEP508_URL.match(ref):
            return self.requirement(ref, source, line)
        name = _reference_name(ref)
        if not name:
            if not _is_local_project(ref):
                self.lock.error(f"cannot tell the package name of {ref[:80]!r}", line, source.path)
            return None
        qualifiers = {_url_qualifier(ref): ref} if _URL_START.match(ref) else {}
        return _Entry(normalize_name(ECOSYSTEM, name), "", line, source, False, qualifiers=qualifiers)


def parse(lock: Lockfile) -> None:
    """Add the packages a requirements file (and its includes) declares to `lock`."""
    reader = _Reader(lock)
    reader.read(lock.file, lock.text, constraint=False, depth=0)
    _apply_constraints(reader.entries, reader.constraints)
    purls = {e.name: purl_for(ECOSYSTEM, e.name, e.version if e.pinned else "") for e in reader.entries}
    dependencies: dict[str, list[str]] = {}
    for entry in reader.entries:
        for parent in entry.via:
            if not parent.startswith("-"):
                dependencies.setdefault(normalize_name(ECOSYSTEM, parent), []).append(purls[entry.name])
    for entry in reader.entries:
        direct = any(v.startswith("-r") for v in entry.via) if entry.has_via else None
        lock.add(
            ECOSYSTEM,
            entry.name,
            entry.version,
            line=entry.line,
            direct=direct,
            hashes=entry.hashes,
            dependencies=dependencies.get(entry.name, ()),
            pinned=entry.pinned,
            qualifiers=entry.qualifiers,
            source=entry.source if entry.source is not lock.file else None,
        )


def _through_symlink(directory: Path, ref: str) -> bool:
    """True if any component of `ref`, walked from `directory`, is a symbolic link."""
    current = directory
    for part in PurePosixPath(ref).parts:
        current = current.parent if part == ".." else current / part
        if current.is_symlink():
            return True
    return False


def _apply_constraints(entries: list[_Entry], constraints: dict[str, _Entry]) -> None:
    """Pin unpinned named requirements to the version a `-c` constraints file fixes."""
    for entry in entries:
        pinned = constraints.get(entry.name)
        if entry.pinned or pinned is None or entry.requirement is None:
            continue
        if entry.requirement.specifier.contains(pinned.version, prereleases=True):
            entry.version = pinned.version
            entry.pinned = True
            entry.hashes = entry.hashes or pinned.hashes


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Physical lines joined at backslash continuations, with the first line's number."""
    parts: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.endswith("\\") and not _COMMENT.match(line):
            if not parts:
                start = number
            parts.append(line.rstrip("\\"))
            continue
        if parts:
            parts.append(line)
            yield start, "".join(parts)
            parts = []
        else:
            yield number, line
    if parts:
        yield start, "".join(parts)


def _via_annotation(line: str) -> list[str] | None:
    """The items of a pip-compile `# via` comment line (None if the line is not one)."""
    via = _VIA.match(line)
    if via:
        return [via.group(1).strip()] if via.group(1) else []
    item = _VIA_ITEM.match(line)
    if item and not item.group(1).startswith("via"):
        return [item.group(1).strip()]
    return None


def _is_reference(spec: str) -> bool:
    """True for a bare URL, path or archive (not a named `name @ url` requirement)."""
    if _PEP508_URL.match(spec):
        return False
    return bool(
        _URL_START.match(spec)
        or spec.startswith((".", "/", "~"))
        or (_ARCHIVE.search(spec) and "==" not in spec)
    )


def _is_local_project(ref: str) -> bool:
    """True for `.`/`..`-style references to the project itself (not a dependency)."""
    return PurePosixPath(ref.split("#", 1)[0].rstrip("/")).name in ("", ".", "..")


def _reference_name(ref: str) -> str:
    """The distribution name a URL/path reference names: `#egg=`, archive file name, or folder."""
    parsed = urllib.parse.urlsplit(ref)
    egg = urllib.parse.parse_qs(parsed.fragment).get("egg")
    if egg:
        return re.split(r"[\[=<>!~;]", egg[0], maxsplit=1)[0]
    basename = PurePosixPath(urllib.parse.unquote(parsed.path).rstrip("/")).name
    if basename.lower().endswith(".whl"):
        return basename.split("-", 1)[0]
    if _ARCHIVE.search(basename):
        match = _SDIST_NAME.match(basename)
        return match.group(1) if match else ""
    if _URL_START.match(ref) and not ref.lower().startswith("file:"):
        basename = basename.split("@", 1)[0].removesuffix(".git")
    return "" if basename in (".", "..") else basename


def _url_qualifier(url: str) -> str:
    """The purl qualifier a reference goes in: `vcs_url` for VCS, else `download_url`."""
    return "vcs_url" if re.match(r"^(?:git|hg|svn|bzr)\+", url, re.IGNORECASE) else "download_url"
