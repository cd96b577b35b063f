"""Hints from the manifest next to a lockfile: which packages are direct, and their scope.

Some lockfiles do not record which packages the project asked for (poetry.lock, pdm.lock,
Pipfile.lock, composer.lock, yarn.lock, package-lock.json v1). When the lockfile comes
from the working tree, the manifest beside it (pyproject.toml, Pipfile, composer.json,
package.json) says so. Only unknowns are filled in — what the lockfile says wins — and a
missing or unreadable manifest changes nothing (the lockfile alone is still complete).
Git blobs are never paired with working-tree manifests (they may be of another version).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from clearance.model import Component, Scope
from clearance.scanners.deps.lockfiles.base import normalize_name, propagate_scopes

Declared = dict[str, Scope]
"""Normalized dependency name → the scope the manifest declares it in."""

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def apply_manifest(lockfile_disk_path: Path | None, format_name: str, components: list[Component]) -> None:
    """Fill in `direct` (and, through the graph, unknown scopes) from the sibling manifest."""
    reader = _READERS.get(format_name)
    if reader is None or lockfile_disk_path is None or not components:
        return
    manifest_name, read = reader
    declared = _read_manifest(lockfile_disk_path.parent / manifest_name, read)
    if not declared:
        return
    ecosystem = components[0].ecosystem
    seeds = [
        (c.purl, declared[normalize_name(ecosystem, c.name)])
        for c in components
        if normalize_name(ecosystem, c.name) in declared
    ]
    scopes = propagate_scopes({c.purl: c.dependencies for c in components}, seeds)
    for index, component in enumerate(components):
        direct = component.direct
        if direct is None:
            direct = normalize_name(ecosystem, component.name) in declared
        scope = component.scope
        if scope is Scope.UNKNOWN:
            scope = scopes.get(component.purl, Scope.UNKNOWN)
        if (direct, scope) != (component.direct, component.scope):
            components[index] = dataclasses.replace(component, direct=direct, scope=scope)


def _read_manifest(path: Path, read: Callable[[str], Declared]) -> Declared:
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return {}
        text = path.read_text(encoding="utf-8-sig")
        return read(text)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError, RecursionError):
        return {}  # a hint only: a broken manifest leaves the lockfile's own facts


def _package_json(text: str) -> Declared:
    doc = json.loads(text)
    declared: Declared = {}
    for field_name, scope in (
        ("devDependencies", Scope.DEV),
        ("optionalDependencies", Scope.OPTIONAL),
        ("peerDependencies", Scope.RUNTIME),
        ("dependencies", Scope.RUNTIME),
    ):
        for name, spec in _mapping(doc.get(field_name)).items():
            real = _npm_alias(str(name), spec)
            declared[real] = scope  # later (stronger) groups overwrite
    return declared


def _npm_alias(name: str, spec: Any) -> str:
    """`"x": "npm:y@^1"` declares y."""
    if isinstance(spec, str) and spec.startswith("npm:"):
        target = spec[4:]
        at = target.find("@", 1)
        return target[:at] if at > 0 else target
    return name


def _composer_json(text: str) -> Declared:
    doc = json.loads(text)
    declared: Declared = {}
    for field_name, scope in (("require-dev", Scope.DEV), ("require", Scope.RUNTIME)):
        for name in _mapping(doc.get(field_name)):
            if "/" in str(name):  # php, ext-* are platform requirements
                declared[str(name).lower()] = scope
    return declared


def _pipfile(text: str) -> Declared:
    doc = tomllib.loads(text)
    declared: Declared = {}
    for table, scope in (("dev-packages", Scope.DEV), ("packages", Scope.RUNTIME)):
        for name in _mapping(doc.get(table)):
            declared[normalize_name("PyPI", str(name))] = scope
    return declared


def _pyproject(text: str) -> Declared:
    """PEP 621 `[project]`, PEP 735 `[dependency-groups]`, Poetry and PDM tables."""
    doc = tomllib.loads(text)
    declared: Declared = {}
    project = _mapping(doc.get("project"))
    tool = _mapping(doc.get("tool"))
    poetry = _mapping(tool.get("poetry"))
    pdm = _mapping(tool.get("pdm"))

    def add_names(names: Any, scope: Scope) -> None:
        for name in names:
            key = normalize_name("PyPI", str(name))
            if key != "python" and (key not in declared or _stronger(scope, declared[key])):
                declared[key] = scope

    def add_specs(specs: Any, scope: Scope) -> None:
        add_names(_requirement_names(specs), scope)

    for group in _mapping(doc.get("dependency-groups")).values():
        add_specs(group, Scope.DEV)
    for group in _mapping(pdm.get("dev-dependencies")).values():
        add_specs(group, Scope.DEV)
    add_names(_mapping(poetry.get("dev-dependencies")), Scope.DEV)
    for name, group in _mapping(poetry.get("group")).items():
        scope = Scope.RUNTIME if name == "main" else Scope.DEV
        add_names(_mapping(_mapping(group).get("dependencies")), scope)
    for group in _mapping(project.get("optional-dependencies")).values():
        add_specs(group, Scope.OPTIONAL)
    add_specs(project.get("dependencies"), Scope.RUNTIME)
    add_names(_mapping(poetry.get("dependencies")), Scope.RUNTIME)
    return declared


def _requirement_names(specs: Any) -> list[str]:
    names = []
    for spec in specs if isinstance(specs, list) else []:
        if not isinstance(spec, str):
            continue  # PEP 735 {include-group = ...}
        try:
            names.append(Requirement(spec).name)
        except InvalidRequirement:
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
            if match:
                names.append(match.group(1))
    return names


_STRENGTH = {Scope.UNKNOWN: 0, Scope.DEV: 1, Scope.OPTIONAL: 2, Scope.RUNTIME: 3}


def _stronger(new: Scope, old: Scope) -> bool:
    return _STRENGTH[new] > _STRENGTH[old]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_READERS: dict[str, tuple[str, Callable[[str], Declared]]] = {
    "poetry.lock": ("pyproject.toml", _pyproject),
    "pdm.lock": ("pyproject.toml", _pyproject),
    "Pipfile.lock": ("Pipfile", _pipfile),
    "composer.lock": ("composer.json", _composer_json),
    "yarn.lock": ("package.json", _package_json),
    "package-lock.json": ("package.json", _package_json),
    "npm-shrinkwrap.json": ("package.json", _package_json),
}
"""Lockfile format → (manifest file name beside it, reader)."""
