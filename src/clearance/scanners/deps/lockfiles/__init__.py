"""Lockfile and manifest parsers: one module per format, chosen here by file name.

`is_lockfile(path)` is the cheap test the deps scanner uses in `applies_to`; `parse(file)`
returns a `LockfileResult` with the file's `Component`s and, for bad content, `ScanError`s
— it never raises for what is in the file. `skip_reason(path)` names dependency files that
are recognised but not read (`UNSUPPORTED`), so a scan reports them as skipped instead of
ignoring them silently.
"""

from __future__ import annotations

import codecs
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from clearance.model import ScanError
from clearance.scanners.deps.lockfiles import (
    bun,
    cargo,
    cocoapods,
    composer,
    conan,
    gemfile,
    gomod,
    gradle,
    maven,
    mix,
    npm,
    nuget,
    nuget_config,
    pdm,
    pipfile,
    pnpm,
    poetry,
    pubspec,
    pylock,
    renv,
    requirements,
    swift,
    uv,
    yarn,
)
from clearance.scanners.deps.lockfiles.base import (
    SCANNER_ID,
    Lockfile,
    LockfileResult,
    MalformedLockfile,
    describe,
)
from clearance.scanners.deps.lockfiles.manifests import apply_manifest
from clearance.sources.base import SourceFile

__all__ = [
    "FORMATS",
    "UNSUPPORTED",
    "LockfileFormat",
    "LockfileResult",
    "UnsupportedFormat",
    "format_for",
    "is_lockfile",
    "parse",
    "skip_reason",
]

MAX_LOCKFILE_BYTES = 64 * 1024 * 1024
"""Lockfiles above this size are reported, not parsed."""


@dataclass(frozen=True)
class LockfileFormat:
    """One supported lockfile/manifest format: its name, how to recognize it, how to parse it."""

    name: str
    ecosystem: str
    matches: Callable[[str, str], bool]
    """Called with (repo-relative POSIX path, lower-cased basename)."""
    parse: Callable[[Lockfile], None]
    empty_ok: bool = False
    """True where an empty file is a valid, empty lockfile (line-based formats)."""


def _named(*names: str) -> Callable[[str, str], bool]:
    wanted = frozenset(n.lower() for n in names)
    return lambda _path, base: base in wanted


def _requirements(path: str, base: str) -> bool:
    if not base.endswith(".txt"):
        return False
    if base.startswith("requirements"):
        return True
    parent = posixpath.basename(posixpath.dirname(path)).lower()
    return parent == "requirements"


def _pylock(_path: str, base: str) -> bool:
    return base == "pylock.toml" or (base.startswith("pylock.") and base.endswith(".toml"))


def _gradle(path: str, base: str) -> bool:
    return base == "gradle.lockfile" or (base.endswith(".lockfile") and "gradle/dependency-locks/" in path)


FORMATS: tuple[LockfileFormat, ...] = (
    LockfileFormat("requirements.txt", "PyPI", _requirements, requirements.parse, empty_ok=True),
    LockfileFormat("poetry.lock", "PyPI", _named("poetry.lock"), poetry.parse),
    LockfileFormat("Pipfile.lock", "PyPI", _named("Pipfile.lock"), pipfile.parse),
    LockfileFormat("uv.lock", "PyPI", _named("uv.lock"), uv.parse),
    LockfileFormat("pylock.toml", "PyPI", _pylock, pylock.parse),
    LockfileFormat("pdm.lock", "PyPI", _named("pdm.lock"), pdm.parse),
    LockfileFormat("package-lock.json", "npm", _named("package-lock.json"), npm.parse),
    LockfileFormat("npm-shrinkwrap.json", "npm", _named("npm-shrinkwrap.json"), npm.parse),
    LockfileFormat("yarn.lock", "npm", _named("yarn.lock"), yarn.parse, empty_ok=True),
    LockfileFormat("pnpm-lock.yaml", "npm", _named("pnpm-lock.yaml"), pnpm.parse),
    LockfileFormat("go.mod", "Go", _named("go.mod"), gomod.parse),
    LockfileFormat("Cargo.lock", "crates.io", _named("Cargo.lock"), cargo.parse),
    LockfileFormat("Gemfile.lock", "RubyGems", _named("Gemfile.lock", "gems.locked"), gemfile.parse),
    LockfileFormat("composer.lock", "Packagist", _named("composer.lock"), composer.parse),
    LockfileFormat("gradle.lockfile", "Maven", _gradle, gradle.parse, empty_ok=True),
    LockfileFormat("pom.xml", "Maven", _named("pom.xml"), maven.parse),
    LockfileFormat("packages.lock.json", "NuGet", _named("packages.lock.json"), nuget.parse),
    LockfileFormat("packages.config", "NuGet", _named("packages.config"), nuget_config.parse),
    LockfileFormat("bun.lock", "npm", _named("bun.lock"), bun.parse),
    LockfileFormat("pubspec.lock", "Pub", _named("pubspec.lock"), pubspec.parse),
    LockfileFormat("mix.lock", "Hex", _named("mix.lock"), mix.parse),
    LockfileFormat("Package.resolved", "SwiftURL", _named("Package.resolved"), swift.parse),
    LockfileFormat("Podfile.lock", "CocoaPods", _named("Podfile.lock"), cocoapods.parse),
    LockfileFormat("conan.lock", "ConanCenter", _named("conan.lock"), conan.parse),
    LockfileFormat("renv.lock", "CRAN", _named("renv.lock"), renv.parse),
)
"""Every supported format, in one explicit table."""


@dataclass(frozen=True)
class UnsupportedFormat:
    """A dependency file clearance recognises but does not read, and why (reported as skipped)."""

    name: str
    ecosystem: str
    matches: Callable[[str, str], bool]
    reason: str

    @property
    def skip_reason(self) -> str:
        """The `SkippedFile` reason: the same text for every file of this format."""
        return f"dependency file not read: {self.name} ({self.ecosystem}): {self.reason}"


def _under(folder: str, *names: str) -> Callable[[str, str], bool]:
    wanted = frozenset(n.lower() for n in names)
    return lambda path, base: base in wanted and f"/{path.lower()}".endswith(f"/{folder}/{base}")


def _version_catalog(path: str, base: str) -> bool:
    return base.endswith(".versions.toml") and posixpath.basename(posixpath.dirname(path)).lower() == "gradle"


UNSUPPORTED: tuple[UnsupportedFormat, ...] = (
    UnsupportedFormat(
        "bun.lockb",
        "npm",
        _named("bun.lockb"),
        "binary lockfile; `bun install --save-text-lockfile` (Bun 1.1.39+, the default from 1.2) writes "
        "bun.lock, which is read",
    ),
    UnsupportedFormat(
        "build.gradle",
        "Maven",
        _named("build.gradle", "build.gradle.kts"),
        "versions are resolved by Gradle at build time; enable dependency locking to get a gradle.lockfile",
    ),
    UnsupportedFormat(
        "Gradle version catalog",
        "Maven",
        _version_catalog,
        "declares versions, not the resolved graph; enable dependency locking to get a gradle.lockfile",
    ),
    UnsupportedFormat(
        "vendor/modules.txt",
        "Go",
        _under("vendor", "modules.txt"),
        "the go.mod next to the vendor folder is read",
    ),
    UnsupportedFormat("Gopkg.lock", "Go", _named("Gopkg.lock"), "dep is deprecated: migrate to Go modules"),
    UnsupportedFormat("glide.lock", "Go", _named("glide.lock"), "Glide is deprecated: migrate to Go modules"),
    UnsupportedFormat(
        "project.assets.json",
        "NuGet",
        _named("project.assets.json"),
        "a restore output, not a lockfile; set RestorePackagesWithLockFile to get packages.lock.json",
    ),
    UnsupportedFormat(
        "Directory.Packages.props",
        "NuGet",
        _named("Directory.Packages.props"),
        "central package versions, not the resolved graph; set RestorePackagesWithLockFile to get "
        "packages.lock.json",
    ),
    UnsupportedFormat("paket.lock", "NuGet", _named("paket.lock"), "the Paket format is not supported"),
    UnsupportedFormat("deno.lock", "npm", _named("deno.lock"), "the Deno format is not supported"),
    UnsupportedFormat("rebar.lock", "Hex", _named("rebar.lock"), "the rebar3 format is not supported"),
    UnsupportedFormat(
        "stack.yaml.lock", "Hackage", _named("stack.yaml.lock"), "the Haskell Stack format is not supported"
    ),
    UnsupportedFormat(
        "cabal.project.freeze", "Hackage", _named("cabal.project.freeze"), "the Cabal format is not supported"
    ),
    UnsupportedFormat("Manifest.toml", "Julia", _named("Manifest.toml"), "the Julia format is not supported"),
    UnsupportedFormat("shard.lock", "Crystal", _named("shard.lock"), "no advisory source for Crystal shards"),
    UnsupportedFormat(
        "Cartfile.resolved", "Carthage", _named("Cartfile.resolved"), "the Carthage format is not supported"
    ),
    UnsupportedFormat(
        "conda-lock.yml", "conda", _named("conda-lock.yml"), "no advisory source for conda packages"
    ),
    UnsupportedFormat("flake.lock", "Nix", _named("flake.lock"), "no advisory source for Nix flake inputs"),
)
"""Dependency files that are recognised but not read: each is reported as skipped, with its reason."""


def format_for(path: str) -> LockfileFormat | None:
    """The format of the file at repo-relative `path`, by name only (None if not a lockfile)."""
    path = path.replace("\\", "/")
    if "node_modules/" in path:
        return None  # lockfiles shipped inside installed packages are not the project's
    base = posixpath.basename(path).lower()
    for fmt in FORMATS:
        if fmt.matches(path, base):
            return fmt
    return None


def is_lockfile(path: str) -> bool:
    """True if `path` names a lockfile or manifest this package can parse (cheap: by name)."""
    return format_for(path) is not None


def skip_reason(path: str) -> str | None:
    """Why the dependency file at `path` is not read, if it is a recognised but unsupported one."""
    path = path.replace("\\", "/")
    if "node_modules/" in path or format_for(path) is not None:
        return None
    base = posixpath.basename(path).lower()
    for unsupported in UNSUPPORTED:
        if unsupported.matches(path, base):
            return unsupported.skip_reason
    return None


def parse(file: SourceFile) -> LockfileResult:
    """The components declared by `file`; unreadable or malformed content becomes `errors`."""
    fmt = format_for(file.path)
    if fmt is None:
        return LockfileResult([], [_error(file.path, "lockfile", "not a supported lockfile name")], "")
    try:
        data = file.read()
    except OSError as e:
        return LockfileResult([], [_error(file.path, fmt.name, f"cannot read: {e.strerror or e}")], fmt.name)
    if len(data) > MAX_LOCKFILE_BYTES:
        problem = f"file is {len(data)} bytes, above the {MAX_LOCKFILE_BYTES} byte limit"
        return LockfileResult([], [_error(file.path, fmt.name, problem)], fmt.name)
    try:
        text = _decode(data)
    except UnicodeDecodeError as e:
        problem = f"not UTF-8 text (binary?) at byte {e.start}"
        return LockfileResult([], [_error(file.path, fmt.name, problem)], fmt.name)
    if "\x00" in text:
        return LockfileResult([], [_error(file.path, fmt.name, "binary content (NUL bytes)")], fmt.name)
    lock = Lockfile(file=file, text=text, format=fmt.name)
    if not text.strip() and not fmt.empty_ok:
        lock.error("empty file")
        return LockfileResult(lock.components, lock.errors, fmt.name)
    try:
        fmt.parse(lock)
        apply_manifest(file.disk_path, fmt.name, lock.components)
    except MalformedLockfile as e:
        lock.error(e.problem, e.line)
    except RecursionError:
        lock.error("structure nested too deeply")
    except Exception as e:  # the boundary: unexpected structure must not abort the scan
        lock.error(f"unexpected structure ({type(e).__name__}: {e})")
    return LockfileResult(lock.components, lock.errors, fmt.name)


def _decode(data: bytes) -> str:
    """UTF-8 (BOM optional), or UTF-16 when a BOM says so (PowerShell's `pip freeze > file`)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _error(path: str, format_name: str, problem: str) -> ScanError:
    return ScanError(path=path, message=describe(format_name, problem, None), scanner=SCANNER_ID)
