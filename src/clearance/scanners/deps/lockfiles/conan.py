"""Conan `conan.lock`: Conan 2 lockfiles (version 0.5) and Conan 1 graph locks (version 0.4).

A reference is `name/version[@user/channel][#recipe-revision][%timestamp]` (Conan 1 adds
`:package_id#package_revision`). Conan 2 lists `requires` (runtime), `build_requires` and
`python_requires` (build-time tools: dev scope); Conan 1 has a `graph_lock.nodes` graph whose
root's requires are direct. Packages are named as in ConanCenter (the OSV ecosystem); `user`,
`channel` and the recipe revision become purl qualifiers (`rrev`). Version ranges and
references without a version are unpinned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    as_list,
    load_json,
    purl_for,
)

ECOSYSTEM = "ConanCenter"
_REFERENCE = re.compile(
    r"^(?P<name>[^/@#%:\s]+)/(?P<version>\[[^\]]*\]|[^@#%:\s]+)"
    r"(?:@(?P<user>[^/#%:\s]+)/(?P<channel>[^#%:\s]+))?"
    r"(?:#(?P<rrev>[0-9a-fA-F]+))?(?:%(?P<timestamp>[\d.]+))?(?::.*)?$"
)
_SECTIONS = (("requires", Scope.RUNTIME), ("build_requires", Scope.DEV), ("python_requires", Scope.DEV))


@dataclass(frozen=True)
class Reference:
    """A parsed Conan reference."""

    name: str
    version: str
    qualifiers: dict[str, str]

    @property
    def pinned(self) -> bool:
        """True unless the version is a range (`[>=1.0 <2]`) or a variable."""
        return not self.version.startswith(("[", "$"))

    @property
    def purl(self) -> str:
        return purl_for(ECOSYSTEM, self.name, self.version if self.pinned else "", self.qualifiers or None)


def parse_reference(text: str) -> Reference | None:
    """Read `name/version@user/channel#rrev%timestamp` (None when it is not a reference)."""
    match = _REFERENCE.match(text.strip())
    if match is None:
        return None
    qualifiers = {k: match.group(k) for k in ("user", "channel", "rrev") if match.group(k)}
    return Reference(match.group("name"), match.group("version"), qualifiers)


def parse(lock: Lockfile) -> None:
    """Add the references of a conan.lock to `lock`."""
    doc = as_dict(load_json(lock.text), "the document")
    if "graph_lock" in doc:
        _parse_graph_lock(lock, as_dict(doc["graph_lock"], '"graph_lock"'))
    elif any(section in doc for section, _ in _SECTIONS):
        for section, scope in _SECTIONS:
            lock.lines.json_key(section)
            for item in as_list(doc.get(section), f'"{section}"'):
                _add(lock, item, scope, None, [])
    else:
        raise MalformedLockfile('no "requires" or "graph_lock": not a conan.lock')


def _parse_graph_lock(lock: Lockfile, graph: dict[str, Any]) -> None:
    nodes = as_dict(graph.get("nodes"), '"graph_lock.nodes"')
    refs = {str(k): parse_reference(str(n.get("ref") or "")) for k, n in nodes.items() if isinstance(n, dict)}
    root = as_dict(nodes.get("0"), "root node")
    direct = {str(r) for r in as_list(root.get("requires"), "root requires")}
    for key, node in nodes.items():
        key = str(key)
        if key == "0" or not isinstance(node, dict):
            continue
        needs = [
            refs[str(r)] for r in as_list(node.get("requires"), f"requires of node {key}") if refs.get(str(r))
        ]
        scope = Scope.DEV if node.get("context") == "build" else Scope.RUNTIME
        lock.lines.json_key(key)
        _add(lock, node.get("ref"), scope, key in direct, [r.purl for r in needs if r is not None])


def _add(lock: Lockfile, item: Any, scope: Scope, direct: bool | None, dependencies: list[str]) -> None:
    text = item if isinstance(item, str) else ""
    line = lock.lines.next(f'"{text}"') if text else None
    reference = parse_reference(text)
    if reference is None:
        lock.error(f"not a Conan reference: {str(item)[:80]!r}", line)
        return
    lock.add(
        ECOSYSTEM,
        reference.name,
        reference.version,
        line=line,
        direct=direct,
        scope=scope,
        dependencies=dependencies,
        pinned=reference.pinned,
        qualifiers=reference.qualifiers or None,
    )
