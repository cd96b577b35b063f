"""The ledger's one bridge to the OSV advisory store: purls → (ecosystem, name, version), and
matching components against the store. Matching is precomputed (stored as `advisory_matches`)
when a release is ingested and re-run over every stored component after `db import`/`update`.

Only the advisory store and its version matcher are imported here — never the scanner pipeline.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packageurl import PackageURL

from clearance.scanners.vulns.advisories import AdvisoryStore, AffectedEntry, database_path
from clearance.scanners.vulns.match import (
    UnsupportedEcosystem,
    VersionParseError,
    evaluate,
    normalize_name,
)

ECOSYSTEM_BY_PURL_TYPE = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "composer": "Packagist",
    "maven": "Maven",
    "nuget": "NuGet",
    "hex": "Hex",
    "pub": "Pub",
    "deb": "Debian",
    "apk": "Alpine",
}
"""package-url type → OSV ecosystem (types not listed are stored but never matched)."""


@dataclass(frozen=True, slots=True)
class ComponentKey:
    """A component as the ledger stores it."""

    purl: str
    ecosystem: str
    name: str
    """Normalized as the advisory store indexes it."""
    version: str


def package_key(purl: str) -> tuple[str, str] | None:
    """(OSV ecosystem, normalized name) of a purl, with or without a version (None if not a purl)."""
    key = component_key(purl if "@" in purl.split("/", 1)[-1] else purl + "@0")
    return (key.ecosystem, key.name) if key else None


@functools.lru_cache(maxsize=65536)
def component_key(purl: str) -> ComponentKey | None:
    """Parse a purl (None if it is not one or has no version). Qualifiers other than the
    distro of OS packages are dropped so one package version is one component."""
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    if not p.version:
        return None
    ecosystem = ECOSYSTEM_BY_PURL_TYPE.get(p.type, p.type)
    name = f"{p.namespace}/{p.name}" if p.namespace else p.name
    if p.type == "maven" and p.namespace:
        name = f"{p.namespace}:{p.name}"
    if p.type in ("deb", "apk"):
        name = p.name
    canonical = PackageURL(type=p.type, namespace=p.namespace, name=p.name, version=p.version).to_string()
    return ComponentKey(canonical, ecosystem, normalize_name(ecosystem, name), p.version)


@dataclass(frozen=True, slots=True)
class Match:
    """A component affected by an advisory."""

    component_id: int
    advisory_id: str
    aliases: tuple[str, ...]
    severity: str
    fixed_versions: tuple[str, ...]
    summary: str


class AdvisoryMatcher:
    """Matches components against an open advisory store."""

    def __init__(self, store: AdvisoryStore) -> None:
        self.store = store

    @classmethod
    def open(cls, db_dir: Path) -> AdvisoryMatcher:
        """Open the store in a database directory (`ScanError` with advice when there is none)."""
        return cls(AdvisoryStore.open(database_path(db_dir)))

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def fingerprint(self) -> str:
        """Changes whenever the store's content does (ecosystems, record counts, newest modified)."""
        parts = [
            f"{e.ecosystem}:{e.records}:{e.newest_modified}:{e.imported_at}" for e in self.store.ecosystems()
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def match(self, components: Iterable[tuple[int, str, str, str]]) -> list[Match]:
        """Matches for (component id, ecosystem, normalized name, version)."""
        by_package: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for cid, eco, name, version in components:
            by_package.setdefault((eco, name), []).append((cid, version))
        out: list[Match] = []
        for (eco, name), versions in sorted(by_package.items()):
            entries = self.store.affected(eco, name)
            if not entries:
                continue
            for cid, version in versions:
                out.extend(self._match_one(cid, version, entries))
        return out

    def _match_one(self, cid: int, version: str, entries: Sequence[AffectedEntry]) -> list[Match]:
        found: dict[str, Match] = {}
        for entry in entries:
            spec = entry.spec
            try:
                result = evaluate(spec, version)
            except (VersionParseError, UnsupportedEcosystem):
                continue
            if not result.affected:
                continue
            adv_id = entry.advisory_id
            adv = self.store.advisory(adv_id)
            prev = found.get(adv_id)
            fixes = tuple(sorted({*(prev.fixed_versions if prev else ()), *result.fix_versions}))
            found[adv_id] = Match(
                cid, adv_id, tuple(adv.aliases), adv.severity or "unknown", fixes, adv.summary
            )
        return list(found.values())
