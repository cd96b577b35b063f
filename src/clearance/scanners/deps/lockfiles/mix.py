"""Elixir `mix.lock`: an Elixir map literal, read by a small bounded term reader (never evaluated).

Each entry maps an application name to a tuple: `{:hex, :package, "version", "inner checksum",
[build tools], [dependencies], "repo", "outer checksum"}` for Hex packages (pinned; the outer
checksum is the archive's SHA-256) or `{:git, "url", "commit", [options]}` (unpinned, with
the commit in a `vcs_url` qualifier). Dependencies are `{:app, "requirement", [hex: :package,
…]}` tuples and become edges to the locked entries. mix.lock does not say which dependencies
are direct (mix.exs does, as code: not read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clearance.scanners.deps.lockfiles.base import Lockfile, MalformedLockfile, purl_for

ECOSYSTEM = "Hex"
MAX_DEPTH = 64

_TOKEN = re.compile(
    r"""
    (?P<space>(?:\s|\#[^\n]*)+)
  | (?P<open>%\{|\{|\[)
  | (?P<close>\}|\])
  | (?P<comma>,)
  | (?P<arrow>=>)
  | (?P<string>"(?:[^"\\]++|\\.)*+")(?P<keyword>:(?=\s))?
  | (?P<qatom>:"(?:[^"\\]++|\\.)*+")
  | (?P<atom>:[A-Za-z_][\w@]*[?!]?)
  | (?P<key>[A-Za-z_][\w@]*[?!]?):(?=\s)
  | (?P<word>[A-Za-z_][\w.]*|-?\d[\w.+-]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Atom:
    """An Elixir atom (`:hex`)."""

    name: str


def parse(lock: Lockfile) -> None:
    """Add the packages of a mix.lock to `lock`."""
    doc = _Reader(lock.text).document()
    if not isinstance(doc, dict):
        raise MalformedLockfile("the document is not a map: not a mix.lock")
    hex_names: dict[str, tuple[str, str]] = {}
    for app, entry in doc.items():
        if isinstance(entry, tuple) and len(entry) >= 3 and entry[0] == Atom("hex"):
            package = entry[1].name if isinstance(entry[1], Atom) else str(app)
            hex_names[str(app)] = (package, str(entry[2]))
    for app, entry in doc.items():
        app = str(app)
        line = lock.lines.next(f'"{app}":', f'"{app}" =>')
        if not isinstance(entry, tuple) or not entry or not isinstance(entry[0], Atom):
            lock.error(f"entry {app!r} is not a {{:hex, …}} or {{:git, …}} tuple", line)
            continue
        kind = entry[0].name
        if kind == "hex" and app in hex_names:
            name, version = hex_names[app]
            outer = entry[7] if len(entry) > 7 and isinstance(entry[7], str) else ""
            lock.add(
                ECOSYSTEM,
                name,
                version,
                line=line,
                hashes=[("sha256", outer)] if re.fullmatch(r"[0-9a-f]{64}", outer) else [],
                dependencies=_dependencies(entry[5] if len(entry) > 5 else [], hex_names),
            )
        elif kind == "git" and len(entry) >= 3 and isinstance(entry[1], str):
            commit = entry[2] if isinstance(entry[2], str) else ""
            lock.add(
                ECOSYSTEM,
                app,
                "",
                line=line,
                pinned=False,
                qualifiers={"vcs_url": f"git+{entry[1]}@{commit}" if commit else f"git+{entry[1]}"},
            )
        else:
            lock.error(f"entry {app!r} has an unknown source {kind!r}", line)


def _dependencies(value: Any, hex_names: dict[str, tuple[str, str]]) -> list[str]:
    purls = []
    for dep in value if isinstance(value, list) else []:
        if isinstance(dep, tuple) and dep and isinstance(dep[0], Atom) and dep[0].name in hex_names:
            purls.append(purl_for(ECOSYSTEM, *hex_names[dep[0].name]))
    return purls


class _Reader:
    """A reader for the Elixir term subset mix.lock uses: maps, tuples, lists, keyword lists, atoms, strings."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens: list[re.Match[str]] = []
        self._pos = 0
        position = 0
        for match in _TOKEN.finditer(text):
            if match.start() != position:
                break
            position = match.end()
            if match.lastgroup != "space":
                self._tokens.append(match)
        if position != len(text):
            line = text.count("\n", 0, position) + 1
            raise MalformedLockfile(
                f"not an Elixir term: unexpected {text[position : position + 20]!r}", line
            )

    def document(self) -> Any:
        """The one term the file holds."""
        value = self._value(0)
        if self._pos != len(self._tokens):
            raise self._error("text after the map")
        return value

    def _next(self) -> re.Match[str]:
        if self._pos >= len(self._tokens):
            raise MalformedLockfile("unexpected end of file (truncated?)")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _error(self, problem: str) -> MalformedLockfile:
        token = self._tokens[min(self._pos, len(self._tokens) - 1)] if self._tokens else None
        line = self._text.count("\n", 0, token.start()) + 1 if token else None
        return MalformedLockfile(f"not an Elixir term: {problem}", line)

    def _value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self._error("nested too deeply")
        token = self._next()
        kind, text = token.lastgroup, token.group()
        if kind == "open":
            return self._collection(text, depth)
        if kind == "string" and token.group("keyword") is None:
            return _unquote(text)
        if kind == "atom":
            return Atom(text[1:])
        if kind == "qatom":
            return Atom(_unquote(text[1:]))
        if kind == "word":
            return {"true": True, "false": False, "nil": None}.get(text, text)
        raise self._error(f"unexpected {text[:20]!r}")

    def _collection(self, opener: str, depth: int) -> Any:
        closer = "]" if opener == "[" else "}"
        items: list[Any] = []
        pairs: list[tuple[Any, Any]] = []
        while True:
            if self._pos < len(self._tokens) and self._tokens[self._pos].group() == closer:
                self._pos += 1
                break
            token = self._tokens[self._pos] if self._pos < len(self._tokens) else None
            if token is not None and (token.lastgroup == "key" or token.group("keyword")):
                self._pos += 1
                key = token.group("key") or _unquote(token.group("string"))
                pairs.append((key, self._value(depth + 1)))
            else:
                item = self._value(depth + 1)
                if opener == "%{":
                    if self._next().lastgroup != "arrow":
                        raise self._error("expected => in a map")
                    pairs.append((item, self._value(depth + 1)))
                else:
                    items.append(item)
            separator = self._next()
            if separator.group() == closer:
                break
            if separator.lastgroup != "comma":
                raise self._error(f"expected , or {closer}")
        if opener == "%{":
            return dict(pairs)
        if opener == "{":
            return tuple(items)
        return items + [(k, v) for k, v in pairs]


def _unquote(token: str) -> str:
    body = token[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\") if "\\" in body else body
