"""The package inventory of an image: OS packages, language packages and lockfiles that ship in it.

`ImageInventory` is a `ContentSink`: while the image's layers stream past it asks for the few
files it needs (package databases, os-release, package metadata, jars, executables) and parses
each one at once, keeping only the result. After the walk, `components(fs)` keeps what the
squashed view shows (a whiteout-deleted dist-info is not installed) and names, for each package,
the layer that introduced it (the lowest layer whose copy of the database already lists it).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from packageurl import PackageURL

from clearance.errors import MalformedInput
from clearance.model import Component, Location, ScanError, Scope
from clearance.scanners.deps import lockfiles
from clearance.scanners.deps.lockfiles.base import purl_for
from clearance.scanners.deps.ospkg import apk, dpkg, gobuild, lang, rpm
from clearance.scanners.deps.ospkg.distro import (
    ALPINE_RELEASE,
    OS_RELEASE_PATHS,
    Distro,
    parse_os_release,
    with_alpine_release,
)
from clearance.scanners.deps.ospkg.packages import OsPackage
from clearance.sources.base import SourceFile
from clearance.sources.image import FileSystem, ImageError, Layer, LayerEntry

SCANNER_ID = "deps"
_SYSTEM_TREES = ("usr/share/", "usr/lib/", "usr/local/lib/", "usr/lib64/", "proc/", "sys/")
"""Lockfiles under these are parts of installed packages (tests, examples), not the image's own."""


@dataclass(frozen=True, slots=True)
class LangPackage:
    """A language package found in one file (an ecosystem, name and version)."""

    ecosystem: str
    name: str
    version: str


@dataclass
class _Parsed:
    kind: str
    """dpkg | apk | rpm | python | npm | maven | go | lockfile | unsupported"""
    os_packages: list[OsPackage] = field(default_factory=list)
    lang_packages: list[LangPackage] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Inventory:
    """What the image holds: components (with layer and path), what could not be read, the distro."""

    components: tuple[Component, ...]
    errors: tuple[ScanError, ...]
    warnings: tuple[str, ...]
    distro: Distro | None

    @property
    def distro_name(self) -> str:
        """`PRETTY_NAME` (else `ID`) of the distribution, "" when unknown."""
        return (self.distro.pretty_name or self.distro.id) if self.distro is not None else ""


class ImageInventory:
    """Collects and parses package data while the layers stream (see the module docstring)."""

    def __init__(
        self, *, max_binary_bytes: int = 256 * 1024**2, max_database_bytes: int = 512 * 1024**2
    ) -> None:
        self.max_binary_bytes = max_binary_bytes
        self.max_database_bytes = max_database_bytes
        self._parsed: dict[tuple[int, str], _Parsed] = {}
        self._texts: dict[tuple[int, str], bytes] = {}
        self._layers: dict[int, Layer] = {}

    def wants(self, path: str, size: int, mode: int) -> bool:
        """The files the inventory reads (by name, mode and size)."""
        if path in OS_RELEASE_PATHS or path == ALPINE_RELEASE:
            return size <= 64 * 1024
        if (
            dpkg.is_dpkg_db(path)
            or path == apk.INSTALLED
            or path in rpm.SQLITE_PATHS
            or path in rpm.UNSUPPORTED_PATHS
        ):
            return True  # always looked at: an oversized database is reported, not skipped
        if lang.is_python_metadata(path) or lang.is_node_package(path):
            return size <= 16 * 1024**2
        if lang.is_jar(path):
            return size <= self.max_binary_bytes
        if _is_image_lockfile(path):
            return size <= lockfiles.MAX_LOCKFILE_BYTES
        return bool(mode & 0o111) and 1024 <= size <= self.max_binary_bytes

    def file(self, layer: Layer, entry: LayerEntry, data: bytes) -> None:
        """Parse one file as soon as it arrives; keep only the result."""
        self._layers[layer.index] = layer
        key = (layer.index, entry.path)
        path = entry.path
        if path in OS_RELEASE_PATHS or path == ALPINE_RELEASE:
            self._texts[key] = data
            return
        parsed = self._parse(path, data)
        if parsed is not None:
            self._parsed[key] = parsed

    def _parse(self, path: str, data: bytes) -> _Parsed | None:
        if path in rpm.UNSUPPORTED_PATHS:
            return _Parsed(
                "unsupported",
                errors=[
                    f"rpm {rpm.UNSUPPORTED_PATHS[path]} database is not supported (only rpmdb.sqlite is): "
                    "the image's rpm packages were not inventoried or checked"
                ],
            )
        if dpkg.is_dpkg_db(path) or path == apk.INSTALLED or path in rpm.SQLITE_PATHS:
            kind = "dpkg" if dpkg.is_dpkg_db(path) else "apk" if path == apk.INSTALLED else "rpm"
            if len(data) > self.max_database_bytes:
                return _Parsed(kind, errors=[f"package database is {len(data):,} bytes, above the cap"])
            try:
                if kind == "rpm":
                    return _Parsed(kind, os_packages=rpm.parse_sqlite(data))
                text = data.decode("utf-8", "replace")
                packages = dpkg.parse_status(text) if kind == "dpkg" else apk.parse_installed(text)
                return _Parsed(kind, os_packages=packages)
            except MalformedInput as e:
                return _Parsed(kind, errors=[f"malformed {kind} database: {e}"])
        if lang.is_python_metadata(path) or lang.is_node_package(path):
            python = lang.is_python_metadata(path)
            try:
                text = data.decode("utf-8", "replace")
                name, version = lang.python_metadata(text) if python else lang.node_package(text)
            except MalformedInput as e:
                return _Parsed("python" if python else "npm", errors=[f"unreadable package metadata: {e}"])
            ecosystem = "PyPI" if python else "npm"
            return _Parsed(ecosystem, lang_packages=[LangPackage(ecosystem, name, version)])
        if lang.is_jar(path):
            try:
                found = lang.jar_packages(data)
            except MalformedInput as e:
                return _Parsed("maven", errors=[str(e)])
            return _Parsed("maven", lang_packages=[LangPackage("Maven", n, v) for n, v in found])
        if _is_image_lockfile(path):
            result = lockfiles.parse(SourceFile(path=path, size=len(data), data=data))
            return _Parsed(
                "lockfile", components=list(result.components), errors=[e.message for e in result.errors]
            )
        if gobuild.is_elf(data):
            return _go_binary(data)
        return None

    def components(self, fs: FileSystem) -> Inventory:
        """Components of the squashed view, each located by the layer that introduced it."""
        distro = self._distro(fs)
        out: list[Component] = []
        errors: list[ScanError] = []
        warnings: list[str] = []
        copies: dict[str, dict[int, _Parsed]] = {}
        for (index, path), parsed in sorted(self._parsed.items()):
            copies.setdefault(path, {})[index] = parsed
        for path, by_layer in sorted(copies.items()):
            visible = [i for i in by_layer if fs.visible(i, path)]
            if not visible:
                continue
            top = visible[0]
            parsed = by_layer[top]
            where = self._layers[top]
            for message in parsed.errors:
                errors.append(
                    ScanError(path=path, message=f"{message} (layer {where.short})", scanner=SCANNER_ID)
                )
            if parsed.os_packages:
                out.extend(self._os_components(path, parsed, by_layer, top, distro, warnings))
            for pkg in parsed.lang_packages:
                purl = purl_for(pkg.ecosystem, pkg.name, pkg.version)
                out.append(
                    Component(
                        ecosystem=pkg.ecosystem,
                        name=pkg.name,
                        version=pkg.version,
                        purl=purl,
                        location=Location(path=path, layer=where.diff_id),
                        scope=Scope.RUNTIME,
                    )
                )
            for component in parsed.components:
                located = dataclasses.replace(component.location, layer=where.diff_id)
                out.append(dataclasses.replace(component, location=located))
        return Inventory(tuple(out), tuple(errors), tuple(dict.fromkeys(warnings)), distro)

    def _distro(self, fs: FileSystem) -> Distro | None:
        distro: Distro | None = None
        for path in OS_RELEASE_PATHS:
            text = self._resolved_text(fs, path)
            if text is not None:
                distro = parse_os_release(text.decode("utf-8", "replace"))
                if distro is not None:
                    break
        alpine = self._resolved_text(fs, ALPINE_RELEASE)
        if distro is not None and alpine is not None:
            distro = with_alpine_release(distro, alpine.decode("utf-8", "replace"))
        return distro

    def _resolved_text(self, fs: FileSystem, path: str) -> bytes | None:
        try:
            entry = fs.resolve(path)
        except ImageError:
            return None
        if entry is None:
            return None
        return self._texts.get((entry.layer, entry.path))

    def _os_components(
        self,
        path: str,
        parsed: _Parsed,
        by_layer: dict[int, _Parsed],
        top: int,
        distro: Distro | None,
        warnings: list[str],
    ) -> Iterable[Component]:
        family = {"dpkg": "Debian", "apk": "Alpine", "rpm": "rpm"}[parsed.kind]
        ecosystem = distro.osv_ecosystem if distro is not None else None
        if ecosystem is None:
            label = distro.pretty_name or distro.id if distro is not None else "unknown (no etc/os-release)"
            warnings.append(
                f"the image's distribution ({label}) has no OSV advisory ecosystem clearance knows: "
                f"its {len(parsed.os_packages)} {parsed.kind} packages are listed in the SBOM but not "
                "checked for vulnerabilities"
            )
            ecosystem = f"{family}:unknown"
        lower = sorted((i for i in by_layer if i < top and not by_layer[i].errors), reverse=True)
        lower_sets = [(i, {(p.name, p.version) for p in by_layer[i].os_packages}) for i in lower]
        for pkg in parsed.os_packages:
            introduced = top
            for index, names in lower_sets:
                if (pkg.name, pkg.version) not in names:
                    break
                introduced = index
            layer = self._layers[introduced]
            yield Component(
                ecosystem=ecosystem,
                name=pkg.name,
                version=f"{pkg.epoch}:{pkg.version}" if pkg.epoch else pkg.version,
                purl=_os_purl(parsed.kind, pkg, distro),
                location=Location(
                    path=path, layer=layer.diff_id, start_line=pkg.line if introduced == top else None
                ),
                scope=Scope.RUNTIME,
                source_name=pkg.source_name or None,
                source_version=(
                    (f"{pkg.epoch}:{pkg.source_version}" if pkg.epoch else pkg.source_version)
                    if pkg.source_version
                    else None
                ),
            )


def _os_purl(kind: str, pkg: OsPackage, distro: Distro | None) -> str:
    """`pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12` and the apk/rpm forms."""
    purl_type = {"dpkg": "deb", "apk": "apk", "rpm": "rpm"}[kind]
    namespace = (
        distro.purl_namespace if distro is not None else {"deb": "debian", "apk": "alpine"}.get(purl_type)
    )
    qualifiers: dict[str, str] = {}
    if pkg.arch:
        qualifiers["arch"] = pkg.arch
    if pkg.epoch:
        qualifiers["epoch"] = pkg.epoch
    if distro is not None and distro.version_id:
        qualifiers["distro"] = distro.purl_distro
    if pkg.source_name and pkg.source_name != pkg.name and kind == "dpkg":
        qualifiers["upstream"] = pkg.source_name
    try:
        return str(
            PackageURL(
                type=purl_type,
                namespace=namespace or None,
                name=pkg.name,
                version=pkg.version,
                qualifiers=qualifiers or None,
            ).to_string()
        )
    except ValueError:
        return ""


def _go_binary(data: bytes) -> _Parsed | None:
    try:
        info = gobuild.find_build_info(data)
    except gobuild.OldGoBinary as e:
        return _Parsed("go", errors=[str(e)])
    except ValueError as e:
        return _Parsed("go", errors=[f"damaged Go build info: {e}"])
    if info is None:
        return None
    found = [
        LangPackage("Go", m.path, m.version) for m in info.modules if m.version and m.version != "(devel)"
    ]
    if info.go_version.startswith("go"):
        version = "v" + info.go_version[2:].split()[0].split("-")[0]
        found.append(LangPackage("Go", "stdlib", version))
    return _Parsed("go", lang_packages=found)


def _is_image_lockfile(path: str) -> bool:
    if path.startswith(_SYSTEM_TREES) or "/node_modules/" in f"/{path}" or "-packages/" in path:
        return False
    return lockfiles.is_lockfile(posixpath.basename(path)) and lockfiles.is_lockfile(path)
