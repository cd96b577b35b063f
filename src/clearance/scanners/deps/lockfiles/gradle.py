"""Gradle dependency lock state: `gradle.lockfile` and `gradle/dependency-locks/*.lockfile`.

Each line is `group:artifact:version=configuration,configuration`. A module used only by
test configurations (or annotation processors) is dev; any other configuration makes it
runtime.
"""

from __future__ import annotations

from clearance.model import Scope
from clearance.scanners.deps.lockfiles.base import Lockfile

ECOSYSTEM = "Maven"
_DEV_PREFIXES = ("test", "annotationProcessor", "kapt", "androidTest", "detekt", "ktlint", "lint")


def parse(lock: Lockfile) -> None:
    """Add the modules of a Gradle lockfile to `lock`."""
    for number, raw in enumerate(lock.text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        coordinates, _, configurations = line.partition("=")
        if coordinates == "empty":
            continue
        parts = coordinates.split(":")
        if len(parts) != 3 or not all(parts):
            lock.error(f"expected group:artifact:version=configurations, got {line[:80]!r}", number)
            continue
        group, artifact, version = parts
        lock.add(ECOSYSTEM, f"{group}:{artifact}", version, line=number, scope=_scope(configurations))


def _scope(configurations: str) -> Scope:
    names = [c.strip() for c in configurations.split(",") if c.strip()]
    if not names:
        return Scope.UNKNOWN
    if all(name.startswith(_DEV_PREFIXES) for name in names):
        return Scope.DEV
    return Scope.RUNTIME
