"""Language packages installed inside an image: Python distributions, node_modules, jars.

These are *installed* packages (what ships), unlike lockfiles (what was asked for): a
`*.dist-info/METADATA` or `*.egg-info/PKG-INFO`, a `node_modules/<name>/package.json`, the
`META-INF/maven/<group>/<artifact>/pom.properties` inside a jar (and the jars nested in it).
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import zipfile
from email.parser import HeaderParser

from clearance.errors import MalformedInput

_NODE_PACKAGE = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json$")
_JAR = (".jar", ".war", ".ear")
_MAX_NESTED = 512
_MAX_ENTRY = 1024 * 1024


def is_python_metadata(path: str) -> bool:
    """`….dist-info/METADATA`, `….egg-info/PKG-INFO`, or an `….egg-info` file."""
    directory, base = posixpath.split(path)
    if base == "METADATA":
        return directory.endswith(".dist-info")
    if base == "PKG-INFO":
        return directory.endswith(".egg-info")
    return base.endswith(".egg-info") and directory.endswith(("site-packages", "dist-packages"))


def is_node_package(path: str) -> bool:
    """`…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`."""
    return _NODE_PACKAGE.search(path) is not None


def is_jar(path: str) -> bool:
    """A Java archive (jar, war, ear)."""
    return path.lower().endswith(_JAR)


def python_metadata(text: str) -> tuple[str, str]:
    """(Name, Version) of core metadata (RFC 822 headers)."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        raise MalformedInput("no Name or Version header")
    return name, version


def node_package(text: str) -> tuple[str, str]:
    """(name, version) of an installed package.json."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise MalformedInput(f"not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise MalformedInput("not a JSON object")
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        raise MalformedInput("no name or version")
    return name, version


def jar_packages(data: bytes) -> list[tuple[str, str]]:
    """(`group:artifact`, version) from every pom.properties in a jar and in the jars nested in it."""
    found: list[tuple[str, str]] = []
    if b"pom.properties" not in data and b".jar" not in data:
        return found  # member names are stored uncompressed: no pom.properties and no nested jar
    _scan_jar(data, found, depth=0)
    return sorted(set(found))


def _scan_jar(data: bytes, found: list[tuple[str, str]], depth: int) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise MalformedInput(f"not a readable jar: {e}") from e
    with archive:
        infos = archive.infolist()[: _MAX_NESTED * 64]
        for info in infos:
            name = info.filename
            if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                if info.file_size > _MAX_ENTRY:
                    continue
                props = _properties(_read(archive, info))
                group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
                if group and artifact and version:
                    found.append((f"{group}:{artifact}", version))
            elif depth == 0 and is_jar(name) and info.file_size <= 64 * _MAX_ENTRY:
                try:
                    _scan_jar(_read(archive, info), found, depth + 1)
                except MalformedInput:
                    continue


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as fh:
            return fh.read(info.file_size + 1)[: info.file_size]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
        raise MalformedInput(f"{info.filename}: {e}") from e


def _properties(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("latin-1").splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out
