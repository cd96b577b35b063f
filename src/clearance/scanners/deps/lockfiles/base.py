"""What every lockfile parser shares: the result type, the component collector, safe loaders.

A parser receives a `Lockfile` (the source file, its decoded text and a collector) and
calls `Lockfile.add(...)` for each package it finds. A problem that makes the whole file
unusable is raised as `MalformedLockfile` (the dispatcher turns it into a `ScanError`); a
problem with one entry is recorded with `Lockfile.error(...)` and parsing goes on.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

from clearance import safe_yaml
from clearance.errors import MalformedInput
from clearance.model import Component, ScanError, Scope
from clearance.redaction import strip_url_credentials
from clearance.sources.base import SourceFile

SCANNER_ID = "deps"

MAX_YAML_BYTES = 10 * 1024 * 1024
"""YAML documents above this size are rejected before parsing."""
MAX_YAML_NODES = 2_000_000
"""A YAML document whose aliases expand to more nodes than this is treated as an alias bomb."""

PURL_TYPES: Mapping[str, str] = {
    "PyPI": "pypi",
    "npm": "npm",
    "Go": "golang",
    "crates.io": "cargo",
    "RubyGems": "gem",
    "Packagist": "composer",
    "Maven": "maven",
    "NuGet": "nuget",
    "Pub": "pub",
    "Hex": "hex",
    "SwiftURL": "swift",
    "CocoaPods": "cocoapods",
    "ConanCenter": "conan",
    "CRAN": "cran",
    "Bioconductor": "bioconductor",
}
"""OSV ecosystem name → package-url type (`CocoaPods` is not an OSV ecosystem: no advisories exist for it)."""

_PEP503 = re.compile(r"[-_.]+")


@dataclass
class LockfileResult:
    """The packages one lockfile or manifest declares, and what could not be read in it."""

    components: list[Component]
    errors: list[ScanError]
    format: str


class MalformedLockfile(MalformedInput):
    """The file cannot be parsed as its format at all (raised by parsers, caught by the dispatcher)."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem, line)
        self.problem = problem


def normalize_name(ecosystem: str, name: str) -> str:
    """A package name in the form OSV and package URLs use for `ecosystem`."""
    name = name.strip()
    if ecosystem == "PyPI":
        return _PEP503.sub("-", name).lower()
    if ecosystem == "Packagist":
        return name.lower()
    return name


def purl_for(ecosystem: str, name: str, version: str, qualifiers: Mapping[str, str] | None = None) -> str:
    """The package URL of `name@version` in `ecosystem` (no version part when `version` is empty).

    Credentials in URLs (a `vcs_url` or `download_url` qualifier, a URL used as a version)
    are stripped. Cached for unqualified purls (lockfiles name the same dependency many times). Lone
    surrogates (from `\\u` escapes in JSON/YAML) cannot be percent-encoded; they become
    `?`. Returns "" when no valid package URL exists (e.g. an empty name), so that content
    from a lockfile never raises here.
    """
    if qualifiers:
        return _purl(ecosystem, name, version, qualifiers)
    return _cached_purl(ecosystem, name, version)


@functools.lru_cache(maxsize=65536)
def _cached_purl(ecosystem: str, name: str, version: str) -> str:
    return _purl(ecosystem, name, version, None)


def _purl(ecosystem: str, name: str, version: str, qualifiers: Mapping[str, str] | None) -> str:
    """Build the package URL with packageurl-python (see `purl_for`)."""
    name, version = _encodable(name), _encodable(strip_url_credentials(version))
    if qualifiers:
        qualifiers = {k: _encodable(strip_url_credentials(v)) for k, v in qualifiers.items()}
    namespace: str | None = None
    short = name
    if ecosystem in ("npm", "Go", "Packagist", "SwiftURL") and "/" in name:
        namespace, short = name.rsplit("/", 1)
    elif ecosystem == "Maven" and ":" in name:
        namespace, short = name.split(":", 1)
    try:
        purl = PackageURL(
            type=PURL_TYPES[ecosystem],
            namespace=namespace or None,
            name=short,
            version=version or None,
            qualifiers=dict(qualifiers) if qualifiers else None,
        )
    except ValueError:
        return ""
    return str(purl.to_string())


def _encodable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
"""One JSON string token (possessive: no backtracking on attacker-made text)."""
_JSON_KEY_TAIL = re.compile(r"[ \t\r\n]*:[ \t\r\n]*")

LINE_SEARCH_FACTOR = 4
"""Line lookups may scan the text at most this many times over (plus a small constant)."""


class LineFinder:
    """Line lookup in a lockfile's text, in linear work overall.

    `next()` searches forward from where the previous match ended (parsers visit entries in
    file order) and falls back to a search from the start. A needle that is not in the file
    costs a full scan, so the characters scanned are counted (`work`) and lookups stop — the
    entry simply has no line — once they reach `LINE_SEARCH_FACTOR` times the text length:
    an attacker's file cannot make line lookup quadratic. JSON formats use `json_key()`,
    which answers from an index of every key built in one pass.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self._pos = 0
        self._budget = LINE_SEARCH_FACTOR * len(text) + 65536
        self._keys: dict[tuple[str, str | None], list[int]] | None = None
        self.work = len(text)
        """Characters scanned so far (building the line table counts once)."""

    def line_at(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return bisect.bisect_right(self._starts, offset)

    def next(self, *needles: str) -> int | None:
        """Line of the earliest of `needles` after the previous match (else from the top).

        Several needles are searched in one pass (a regex alternation), so a spelling that a
        file never uses costs nothing as long as another one is found.
        """
        for start in (self._pos, 0):
            found, length = self._find_any(needles, start)
            if found >= 0:
                self._pos = found + length
                return self.line_at(found)
        return None

    def first(self, *needles: str) -> int | None:
        """Line of the earliest occurrence of any of `needles` from the top; does not move the cursor."""
        found, _ = self._find_any(needles, 0)
        return self.line_at(found) if found >= 0 else None

    def json_key(self, key: str, value: str | None = None) -> int | None:
        """Line of the next JSON member `"key": {…}` or `"key": […]` (or `"key": "value"`) after the previous match.

        Whitespace and escapes do not matter (minified files work); like `next()` it falls
        back to the first occurrence when there is none further on.
        """
        if self._keys is None:
            self._keys = _json_members(self._text)
            self.work += len(self._text)
        offsets = self._keys.get((key, value))
        if not offsets:
            return None
        index = bisect.bisect_left(offsets, self._pos)
        found = offsets[index] if index < len(offsets) else offsets[0]
        self._pos = found + 1
        return self.line_at(found)

    def _find_any(self, needles: tuple[str, ...], start: int) -> tuple[int, int]:
        """(offset, length) of the earliest needle at or after `start`, or (-1, 0); counts the work."""
        if self.work > self._budget or not needles:
            return -1, 0
        if len(needles) == 1:
            found, length = self._text.find(needles[0], start), len(needles[0])
        else:
            match = re.compile("|".join(map(re.escape, needles))).search(self._text, start)
            found, length = (match.start(), match.end() - match.start()) if match else (-1, 0)
        self.work += (found + length if found >= 0 else len(self._text)) - start
        return found, length


def _json_members(text: str) -> dict[tuple[str, str | None], list[int]]:
    """Offsets of every JSON member whose value is an object or array (key, None) or a string (key, value).

    One pass over the string tokens: in valid JSON the first `"` after a token always opens
    the next string, so `finditer` never starts inside one.
    """
    members: dict[tuple[str, str | None], list[int]] = {}
    pending: tuple[str, int, int] | None = None  # (key, where its string value starts, key offset)
    for match in _JSON_STRING.finditer(text):
        token = _json_text(match.group())
        if pending is not None and match.start() == pending[1]:
            members.setdefault((pending[0], token), []).append(pending[2])
        pending = None
        tail = _JSON_KEY_TAIL.match(text, match.end())
        if tail is None:
            continue
        following = text[tail.end() : tail.end() + 1]
        if following in ("{", "["):
            members.setdefault((token, None), []).append(match.start())
        elif following == '"':
            pending = (token, tail.end(), match.start())
    return members


def _json_text(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    try:
        return str(json.loads(token))
    except ValueError:
        return body


@dataclass
class Lockfile:
    """A lockfile being parsed: its source, text, and the components and errors collected so far."""

    file: SourceFile
    text: str
    format: str
    components: list[Component] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    _seen: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _finder: LineFinder | None = None

    @property
    def lines(self) -> LineFinder:
        """The line finder over this file's text (built on first use)."""
        if self._finder is None:
            self._finder = LineFinder(self.text)
        return self._finder

    def add(
        self,
        ecosystem: str,
        name: str,
        version: str,
        *,
        line: int | None = None,
        direct: bool | None = None,
        scope: Scope = Scope.UNKNOWN,
        hashes: Iterable[tuple[str, str]] = (),
        dependencies: Iterable[str] = (),
        pinned: bool = True,
        qualifiers: Mapping[str, str] | None = None,
        source: SourceFile | None = None,
    ) -> Component | None:
        """Record one package (normalizing its name) and return it.

        A repeated (name, version) is merged into the first entry (its line is kept): it is
        direct if any occurrence is, runtime if any occurrence is, and its dependencies are
        the union. `source` is the file that declares it when that is not the lockfile
        itself (an included requirements file).
        """
        name = normalize_name(ecosystem, name)
        version = strip_url_credentials(version)
        if not name:
            return None
        key = (ecosystem, name, version)
        index = self._seen.get(key)
        if index is not None:
            merged = _merge(self.components[index], direct, scope, dependencies)
            self.components[index] = merged
            return merged
        purl = purl_for(ecosystem, name, version if pinned else "", qualifiers)
        if not purl:
            self.error(f"package {name[:80]!r} {version[:40]!r} has no valid package URL", line)
            return None
        self._seen[key] = len(self.components)
        component = Component(
            ecosystem=ecosystem,
            name=name,
            version=version,
            purl=purl,
            location=(source or self.file).location(line),
            direct=direct,
            scope=scope,
            hashes=tuple(hashes),
            dependencies=tuple(dict.fromkeys(d for d in dependencies if d)),
            pinned=pinned,
        )
        self.components.append(component)
        return component

    def error(self, problem: str, line: int | None = None, path: str | None = None) -> None:
        """Record a problem with one entry; parsing goes on."""
        self.errors.append(
            ScanError(
                path=path or self.file.path,
                message=describe(self.format, problem, line),
                scanner=SCANNER_ID,
            )
        )


_SCOPE_STRENGTH = {Scope.UNKNOWN: 0, Scope.DEV: 1, Scope.OPTIONAL: 2, Scope.RUNTIME: 3}


def _merge(first: Component, direct: bool | None, scope: Scope, dependencies: Iterable[str]) -> Component:
    """`first` updated with a second occurrence of the same package in the same file."""
    if first.direct is True or direct is None:
        merged_direct = first.direct
    else:
        merged_direct = direct if first.direct is None else (first.direct or direct)
    merged_scope = scope if _SCOPE_STRENGTH[scope] > _SCOPE_STRENGTH[first.scope] else first.scope
    merged_deps = tuple(dict.fromkeys(d for d in (*first.dependencies, *dependencies) if d))
    if (merged_direct, merged_scope, merged_deps) == (first.direct, first.scope, first.dependencies):
        return first
    return dataclasses.replace(first, direct=merged_direct, scope=merged_scope, dependencies=merged_deps)


def describe(format_name: str, problem: str, line: int | None) -> str:
    """The message of a lockfile ScanError: the format, the line when known, the problem."""
    where = f" (line {line})" if line else ""
    return f"{format_name}{where}: {strip_url_credentials(problem)}"


def load_json(text: str) -> Any:
    """Parse JSON; a syntax error becomes `MalformedLockfile` with its line."""
    if not text.strip():
        raise MalformedLockfile("empty file, expected a JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MalformedLockfile(f"not valid JSON: {e.msg}", e.lineno) from None
    except RecursionError:
        raise MalformedLockfile("JSON nested too deeply") from None


_TRAILING_COMMA = re.compile(r'("(?:[^"\\]++|\\.)*+")|,(?=[ \t\r\n]*[}\]])')


def load_json_with_trailing_commas(text: str) -> Any:
    """Parse JSON that may have a comma before `}`/`]` (bun.lock, Package.resolved by hand)."""
    return load_json(_TRAILING_COMMA.sub(lambda m: m.group(1) or "", text))


_XML_UNSAFE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def load_xml(lock: Lockfile) -> ET.Element:
    """Parse an XML lockfile; any DOCTYPE/ENTITY declaration is refused first (no XXE, no entity expansion)."""
    unsafe = _XML_UNSAFE.search(lock.text)
    if unsafe:
        raise MalformedLockfile(
            f"{unsafe.group(1).upper()} declarations are not allowed (XML entity attacks)",
            lock.lines.line_at(unsafe.start()),
        )
    try:
        return ET.fromstring(lock.text)
    except ET.ParseError as e:
        raise MalformedLockfile(f"not valid XML: {e}", e.position[0] if e.position else None) from None


def load_toml(text: str) -> dict[str, Any]:
    """Parse TOML; a syntax error becomes `MalformedLockfile` with its line when given."""
    if not text.strip():
        raise MalformedLockfile("empty file, expected a TOML document")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        match = re.search(r"line (\d+)", str(e))
        raise MalformedLockfile(f"not valid TOML: {e}", int(match.group(1)) if match else None) from None


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely (size cap, alias-expansion cap, safe tags only)."""
    if not text.strip():
        raise MalformedLockfile("empty file, expected a YAML document")
    try:
        return safe_yaml.load_plain(text, max_bytes=MAX_YAML_BYTES, max_nodes=MAX_YAML_NODES)
    except MalformedInput as e:
        raise MalformedLockfile(e.message, e.line) from None


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """`value` if it is a mapping, else `MalformedLockfile` naming `what` was expected."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedLockfile(f"{what} is a {type(value).__name__}, expected a mapping")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """`value` if it is a list, else `MalformedLockfile` naming `what` was expected."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedLockfile(f"{what} is a {type(value).__name__}, expected a list")
    return value


def text_field(entry: Any, key: str) -> str:
    """A string field of a lockfile entry ("" when missing, not a string, or not an entry)."""
    if not isinstance(entry, Mapping):
        return ""
    value = entry.get(key)
    return value.strip() if isinstance(value, str) else ""


def propagate_scopes(
    edges: Mapping[str, Iterable[str]], seeds: Iterable[tuple[str, Scope]]
) -> dict[str, Scope]:
    """The scope of every node reachable from `seeds`: runtime wins over optional over dev.

    `edges` maps a node to the nodes it depends on; a node reached from a runtime seed is
    runtime even if a dev seed reaches it too.
    """
    by_scope: dict[Scope, list[str]] = {}
    for node, scope in seeds:
        by_scope.setdefault(scope, []).append(node)
    result: dict[str, Scope] = {}
    for scope in (Scope.RUNTIME, Scope.OPTIONAL, Scope.DEV):
        stack = [n for n in by_scope.get(scope, []) if n not in result]
        while stack:
            node = stack.pop()
            if node in result:
                continue
            result[node] = scope
            stack.extend(n for n in edges.get(node, ()) if n not in result)
    return result


def split_hash(value: str) -> tuple[str, str] | None:
    """`sha256:abc…` as ("sha256", "abc…"), or None if there is no algorithm prefix."""
    algorithm, sep, digest = value.strip().partition(":")
    return (algorithm.lower(), digest) if sep and algorithm and digest else None


def list_field(entry: Any, key: str) -> list[Any]:
    """A list field of a lockfile entry ([] when missing or not a list)."""
    value = entry.get(key) if isinstance(entry, Mapping) else None
    return value if isinstance(value, list) else []
