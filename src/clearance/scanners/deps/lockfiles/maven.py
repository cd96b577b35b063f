"""Maven `pom.xml` with literal versions.

Dependencies under `<dependencies>` are direct. `${property}` versions are resolved from
the same pom's `<properties>` (and `project.version`/`project.parent.version`); a
version managed by the same pom's `<dependencyManagement>` is used when the dependency
has none. What still cannot be resolved (parent or BOM properties, ranges) is reported
unpinned with the version spec as written. `test` scope is dev, `optional` dependencies
are optional. Documents with a DOCTYPE or ENTITY declaration are refused before parsing
(XXE / entity expansion).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import Lockfile, MalformedLockfile, load_xml

ECOSYSTEM = "Maven"
_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_MAX_SUBSTITUTIONS = 10


def parse(lock: Lockfile) -> None:
    """Add the dependencies a pom.xml declares to `lock`."""
    root = load_xml(lock)
    if _local(root.tag) != "project":
        raise MalformedLockfile(f"root element is <{_local(root.tag)}>, expected <project>")
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    properties = _properties(root, ns)
    managed = _managed_versions(root, ns, properties)
    for dependency in root.findall(f"{ns}dependencies/{ns}dependency"):
        group = _text(dependency, f"{ns}groupId", properties)
        artifact = _text(dependency, f"{ns}artifactId", properties)
        raw_version = _child(dependency, f"{ns}version")
        line = lock.lines.next(f"<artifactId>{_child(dependency, f'{ns}artifactId')}</artifactId>")
        if not group or not artifact:
            lock.error("dependency without groupId or artifactId", line)
            continue
        version = _resolve(raw_version, properties) if raw_version else managed.get(f"{group}:{artifact}", "")
        pinned = bool(version) and "${" not in version and not version.startswith(("[", "("))
        lock.add(
            ECOSYSTEM,
            f"{group}:{artifact}",
            version,
            line=line,
            direct=True,
            scope=_scope(dependency, ns),
            pinned=pinned,
        )


def _scope(dependency: ET.Element, ns: str) -> Scope:
    scope = _child(dependency, f"{ns}scope")
    if scope == "test":
        return Scope.DEV
    if _child(dependency, f"{ns}optional") == "true":
        return Scope.OPTIONAL
    return Scope.RUNTIME


def _properties(root: ET.Element, ns: str) -> dict[str, str]:
    properties: dict[str, str] = {}
    block = root.find(f"{ns}properties")
    if block is not None:
        for prop in block:
            if isinstance(prop.tag, str):
                properties[_local(prop.tag)] = (prop.text or "").strip()
    for key, path in (
        ("project.version", f"{ns}version"),
        ("project.groupId", f"{ns}groupId"),
        ("project.artifactId", f"{ns}artifactId"),
        ("project.parent.version", f"{ns}parent/{ns}version"),
        ("project.parent.groupId", f"{ns}parent/{ns}groupId"),
    ):
        value = _child(root, path)
        if value:
            properties[key] = value
    for short in ("version", "groupId"):
        if f"project.{short}" not in properties and f"project.parent.{short}" in properties:
            properties[f"project.{short}"] = properties[f"project.parent.{short}"]
    return properties


def _managed_versions(root: ET.Element, ns: str, properties: dict[str, str]) -> dict[str, str]:
    managed: dict[str, str] = {}
    for dependency in root.findall(f"{ns}dependencyManagement/{ns}dependencies/{ns}dependency"):
        group = _text(dependency, f"{ns}groupId", properties)
        artifact = _text(dependency, f"{ns}artifactId", properties)
        version = _text(dependency, f"{ns}version", properties)
        if group and artifact and version:
            managed[f"{group}:{artifact}"] = version
    return managed


def _resolve(value: str, properties: dict[str, str]) -> str:
    """`value` with `${...}` properties substituted (unknown ones are left as written)."""
    for _ in range(_MAX_SUBSTITUTIONS):
        substituted = _PROPERTY.sub(lambda m: properties.get(m.group(1), m.group(0)), value)
        if substituted == value:
            break
        value = substituted
    return value


def _text(element: ET.Element, path: str, properties: dict[str, str]) -> str:
    return _resolve(_child(element, path), properties)


def _child(element: ET.Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
