"""The distribution and release of an image, from `etc/os-release` (and `etc/alpine-release`).

The release decides which advisories apply: OSV names them `Debian:12`, `Alpine:v3.10`,
`Ubuntu:22.04`, `Rocky Linux:9`, `AlmaLinux:9`, `Red Hat:…`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
ALPINE_RELEASE = "etc/alpine-release"

_OSV_NAMES = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "alpine": "Alpine",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "rhel": "Red Hat",
}
_PURL_NAMESPACES = {"rhel": "redhat", "ol": "oracle", "opensuse-leap": "opensuse", "sles": "suse"}


@dataclass(frozen=True, slots=True)
class Distro:
    """What `os-release` says: `ID`, `VERSION_ID`, `VERSION_CODENAME`, `PRETTY_NAME`."""

    id: str
    version_id: str
    codename: str = ""
    pretty_name: str = ""

    @property
    def osv_ecosystem(self) -> str | None:
        """The OSV ecosystem with release (`Debian:12`, `Alpine:v3.10`), None if OSV has none."""
        base = _OSV_NAMES.get(self.id)
        if base is None or not self.version_id:
            return None
        if self.id == "alpine":
            major_minor = ".".join(self.version_id.split(".")[:2])
            return f"Alpine:v{major_minor}"
        if self.id == "debian":
            return f"Debian:{self.version_id.split('.')[0]}"
        if self.id in ("rocky", "almalinux"):
            return f"{base}:{self.version_id.split('.')[0]}"
        if self.id == "rhel":
            return None  # Red Hat's OSV ecosystems name CPE-like products, not a release number
        return f"{base}:{self.version_id}"

    @property
    def purl_namespace(self) -> str:
        """The namespace of this distribution's package URLs (`debian`, `alpine`, `redhat`)."""
        return _PURL_NAMESPACES.get(self.id, self.id)

    @property
    def purl_distro(self) -> str:
        """The `distro=` qualifier: `debian-12`, `3.10.4` (Alpine uses the bare version)."""
        if self.id == "alpine":
            return self.version_id
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


def parse_os_release(text: str) -> Distro | None:
    """Parse os-release (shell-style `KEY=value` lines); None without an `ID`."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, comments=False, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    ident = values.get("ID", "").strip().lower()
    if not ident:
        return None
    return Distro(
        id=ident,
        version_id=values.get("VERSION_ID", ""),
        codename=values.get("VERSION_CODENAME", ""),
        pretty_name=values.get("PRETTY_NAME", ""),
    )


def with_alpine_release(distro: Distro, text: str) -> Distro:
    """Alpine's `etc/alpine-release` holds the exact release (os-release may lag)."""
    version = text.strip().splitlines()[0].strip() if text.strip() else ""
    if distro.id == "alpine" and version and all(p.isdigit() for p in version.split(".")):
        return Distro(distro.id, version, distro.codename, distro.pretty_name)
    return distro
