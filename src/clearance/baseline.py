"""The PR-mode baseline cache: fingerprints found at a merge base, kept on disk.

A finding is *pre-existing* when a finding with the same fingerprint exists at the merge base
of the base ref and HEAD. The pipeline computes the base side with the same scan loop as HEAD
(`pipeline._baseline`), for the files that carry findings now; this module only keys and
stores the result: by the base tree id, the paths, the scanner versions and the settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from clearance.config import Settings

CACHE_VERSION = "1"


def cache_key(
    tree: str, paths: Sequence[str], scanners: Sequence[tuple[str, str]], settings: Settings
) -> str:
    """The cache key of one baseline: everything that can change the base's fingerprints."""
    payload = json.dumps(
        {
            "v": CACHE_VERSION,
            "tree": tree,
            "paths": list(paths),
            "scanners": list(scanners),
            "settings": settings.model_dump(mode="json", exclude={"policy", "service"}),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def read_cache(cache_dir: Path | None, key: str) -> frozenset[str] | None:
    """The cached fingerprints for `key`, or None (no cache, unreadable or malformed entry)."""
    if cache_dir is None:
        return None
    path = cache_dir / f"baseline-{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    items = data.get("fingerprints") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return frozenset(items)


def write_cache(cache_dir: Path | None, key: str, fingerprints: frozenset[str]) -> None:
    """Store a complete baseline (atomically; a cache that cannot be written only costs time)."""
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f"baseline-{key}.json.tmp"
        tmp.write_text(json.dumps({"fingerprints": sorted(fingerprints)}), encoding="utf-8")
        tmp.replace(cache_dir / f"baseline-{key}.json")
    except OSError:
        pass
