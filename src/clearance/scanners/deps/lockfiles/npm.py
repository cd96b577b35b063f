"""npm `package-lock.json` (lockfileVersion 1, 2, 3) and `npm-shrinkwrap.json`.

v2/v3 lockfiles are read from `packages` (keys are install paths such as
`node_modules/a/node_modules/@s/b`); v1 lockfiles are flattened from the nested
`dependencies` tree into the same path form. `link` entries and workspace folders are
first-party and skipped; aliases (`"node_modules/alias": {"name": "real"}`) report the
real package. `dev`/`optional`/`devOptional` flags give the scope; top-level packages the
root (or a workspace) declares are direct.

Packages that do not come from a registry are unpinned (never matched by version): a v1
`version` that is a git/`github:`/`file:`/URL spec (the URL is not a version), and a v2/v3
entry `resolved` from git or a `file:` tarball. Their source is kept as a `vcs_url` or
`download_url` purl qualifier, with any credential in it removed.
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
    load_json,
    purl_for,
    text_field,
)

ECOSYSTEM = "npm"
_NM = "node_modules/"
_DECLARED = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_VCS = re.compile(r"^(?:git\+|git://|github:|gitlab:|bitbucket:|gist:)", re.IGNORECASE)
_NOT_REGISTRY = re.compile(r"^(?:file:|link:|https?://|[a-z][a-z0-9+.-]*://)", re.IGNORECASE)
_HOSTED_SHORTCUT = re.compile(r"^[\w.-]+/[\w.-]+(?:#.*)?$")
"""`org/repo#ref`: npm's GitHub shorthand."""


@dataclass(frozen=True)
class _Identity:
    """What one lockfile entry installs: the package, its version, and where it comes from."""

    name: str
    version: str
    pinned: bool
    qualifiers: dict[str, str] | None

    @property
    def purl(self) -> str:
        return purl_for(ECOSYSTEM, self.name, self.version if self.pinned else "", self.qualifiers)


def parse(lock: Lockfile) -> None:
    """Add the packages of an npm lockfile to `lock`."""
    doc = as_dict(load_json(lock.text), "the document")
    version = doc.get("lockfileVersion", 1)
    if not isinstance(version, int) or version < 1:
        raise MalformedLockfile(f"unsupported lockfileVersion {version!r}")
    if "packages" in doc:
        packages = as_dict(doc["packages"], '"packages"')
        _add_packages(lock, packages, nested_keys=False)
    elif "dependencies" in doc:
        packages = _flatten_v1(as_dict(doc["dependencies"], '"dependencies"'))
        _add_packages(lock, packages, nested_keys=True)
    elif version > 3:
        raise MalformedLockfile(f"unsupported lockfileVersion {version}")


def _add_packages(lock: Lockfile, packages: dict[str, Any], *, nested_keys: bool) -> None:
    """Add every installed package; `nested_keys` for v1 files, whose keys are bare names."""
    installed = {path for path, entry in packages.items() if _NM in path and isinstance(entry, dict)}
    declared = _declared_by_owner(packages)
    for path, raw in packages.items():
        if not isinstance(raw, dict) or _NM not in path or raw.get("link"):
            continue  # root, workspace folders and links are first-party
        entry: dict[str, Any] = raw
        key_name = path[path.rfind(_NM) + len(_NM) :]
        line = lock.lines.json_key(key_name if nested_keys else path)
        identity = _identity(entry, key_name, nested_keys=nested_keys)
        if identity is None:
            lock.error(f"package {path!r} has no version", line)
            continue
        lock.add(
            ECOSYSTEM,
            identity.name,
            identity.version,
            line=line,
            direct=None if nested_keys else _is_direct(path, key_name, declared),
            scope=_scope(entry),
            hashes=_integrity(text_field(entry, "integrity")),
            dependencies=_resolve(path, entry, packages, installed, nested_keys=nested_keys),
            pinned=identity.pinned,
            qualifiers=identity.qualifiers,
        )


def _identity(entry: dict[str, Any], key_name: str, *, nested_keys: bool) -> _Identity | None:
    """The package an entry installs (None when it names no version at all)."""
    name = text_field(entry, "name") or key_name
    version = text_field(entry, "version")
    if not version:
        return None
    if version.startswith("npm:") and "@" in version[5:]:
        # v1 alias: "alias": {"version": "npm:real@1.2.3"}
        name, version = version[4:].rsplit("@", 1)
    if nested_keys and _is_source(version):
        # v1 records a git/file/URL dependency's source as its "version"
        return _Identity(name, "", False, _source_qualifier(version))
    resolved = text_field(entry, "resolved")
    if resolved and (_VCS.match(resolved) or resolved.lower().startswith("file:")):
        return _Identity(name, version, False, _source_qualifier(resolved))
    return _Identity(name, version, True, None)


def _is_source(version: str) -> bool:
    """True for a v1 "version" that is a source spec, not a version (`git+…`, `file:…`, URLs)."""
    return bool(_VCS.match(version) or _NOT_REGISTRY.match(version) or _HOSTED_SHORTCUT.match(version))


def _source_qualifier(source: str) -> dict[str, str]:
    if _VCS.match(source) or _HOSTED_SHORTCUT.match(source):
        return {"vcs_url": source}
    return {"download_url": source}


def _flatten_v1(deps: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A v1 nested `dependencies` tree as v2-style `packages` keyed by install path (file order)."""
    flat: dict[str, Any] = {}
    for name, raw in deps.items():
        if not isinstance(raw, dict):
            raise MalformedLockfile(f"dependency {name!r} is not an object")
        path = f"{prefix}{_NM}{name}"
        entry = dict(raw)
        entry["dependencies"] = entry.pop("requires", None) or {}
        nested = raw.get("dependencies")
        flat[path] = entry
        if isinstance(nested, dict):
            flat.update(_flatten_v1(nested, f"{path}/"))
    return flat


def _declared_by_owner(packages: dict[str, Any]) -> dict[str, set[str]]:
    """The dependency names each first-party package (root "" and workspaces) declares."""
    declared: dict[str, set[str]] = {}
    for path, entry in packages.items():
        if _NM in path or not isinstance(entry, dict) or entry.get("link"):
            continue
        names = declared.setdefault(path, set())
        for field_name in _DECLARED:
            value = entry.get(field_name)
            if isinstance(value, dict):
                names.update(value)
    return declared


def _is_direct(path: str, key_name: str, declared: dict[str, set[str]]) -> bool:
    """True if the root or a workspace package declares the package installed at `path`.

    Packages hoisted to the top-level `node_modules` may be declared by the root or by any
    workspace; packages under `<workspace>/node_modules` only by that workspace.
    """
    parent = path[: path.rfind(_NM)].rstrip("/")
    if _NM in parent:
        return False
    if parent == "":
        return any(key_name in names for names in declared.values())
    return key_name in declared.get(parent, set())


def _scope(entry: dict[str, Any]) -> Scope:
    if entry.get("dev"):
        return Scope.DEV
    if entry.get("optional") or entry.get("devOptional"):
        return Scope.OPTIONAL
    return Scope.RUNTIME


def _integrity(value: str) -> list[tuple[str, str]]:
    """Subresource-integrity strings (`sha512-<base64>`, space separated) as (algorithm, value)."""
    hashes = []
    for item in value.split():
        algorithm, sep, digest = item.partition("-")
        if sep and digest:
            hashes.append((algorithm.lower(), digest))
    return hashes


def _resolve(
    path: str, entry: dict[str, Any], packages: dict[str, Any], installed: set[str], *, nested_keys: bool
) -> list[str]:
    """purls of the packages `entry` depends on, found the way Node resolves them."""
    wanted: list[str] = []
    for field_name in ("dependencies", "optionalDependencies", "peerDependencies"):
        declared = entry.get(field_name)
        if isinstance(declared, dict):
            wanted.extend(declared)
    purls: list[str] = []
    for dep in wanted:
        target = _find_installed(path, dep, installed)
        if target is None:
            continue
        identity = _identity(packages[target], dep, nested_keys=nested_keys)
        if identity is not None:
            purls.append(identity.purl)
    return purls


def _find_installed(path: str, dep: str, installed: set[str]) -> str | None:
    """Where `dep` required from `path` is installed: nearest `node_modules` up the tree."""
    base = path
    while True:
        candidate = f"{base}/{_NM}{dep}" if base else f"{_NM}{dep}"
        if candidate in installed:
            return candidate
        if not base:
            return None
        cut = base.rfind("/" + _NM)
        base = base[:cut] if cut >= 0 else ""
