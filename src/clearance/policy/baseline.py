"""PR mode: which findings are new and which were already on the base ref.

A finding is *pre-existing* when a finding with the same fingerprint exists at the merge
base of the base ref and HEAD. To stay fast the base is scanned only for the files the
change touched that carry findings (changed sources and lockfiles), and the base's
fingerprints are cached on disk keyed by the base tree id, the paths, the scanner versions
and the settings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clearance.config import Settings
from clearance.errors import SourceError
from clearance.model import ScanResult
from clearance.scanners.base import ScanContext, Scanner
from clearance.scanners.registry import build_scanners
from clearance.sources import git

CACHE_VERSION = "1"


@dataclass(frozen=True)
class Baseline:
    """Fingerprints found on the base, and how they were obtained."""

    base: str
    merge_base: str
    tree: str
    fingerprints: frozenset[str]
    paths: tuple[str, ...]
    cached: bool = False
    complete: bool = True
    """False if a scanner could not read part of the base (those findings then count as new)."""

    def pre_existing(self, result: ScanResult) -> frozenset[str]:
        """Fingerprints of `result` that were already on the base."""
        return frozenset(f.fingerprint for f in result.findings if f.fingerprint in self.fingerprints)


def compute_baseline(
    repo: Path,
    base: str,
    result: ScanResult,
    settings: Settings,
    scanner_ids: Sequence[str],
    now: dt.datetime,
    cache_dir: Path | None,
    scanners: Sequence[Scanner] | None = None,
) -> Baseline:
    """Scan the base version of the files that carry findings now and return its fingerprints.

    `scanners` defaults to the registry's scanners for `scanner_ids` (tests may pass others).
    """
    merge = git.merge_base(repo, base)
    tree = _tree_id(repo, merge)
    paths = tuple(sorted({f.location.path for f in result.findings}))
    if scanners is None:
        scanners = build_scanners(list(scanner_ids))
    key = _cache_key(tree, paths, [(s.id, s.version) for s in scanners], settings)
    cached = _read_cache(cache_dir, key)
    if cached is not None:
        return Baseline(base, merge, tree, cached, paths, cached=True)
    files = git.files_at(repo, merge, list(paths)) if paths else []
    context = ScanContext(
        root=repo, settings=settings, now=now, jobs=1, all_paths=tuple(f.path for f in files)
    )
    fingerprints: set[str] = set()
    complete = True
    for scanner in scanners:
        selected = [f for f in files if scanner.applies_to(f.path)]
        if not selected:
            continue
        output = scanner.scan(selected, context)
        fingerprints.update(f.fingerprint for f in output.findings)
        complete = complete and not output.errors and not output.failed
    found = frozenset(fingerprints)
    if complete:
        _write_cache(cache_dir, key, found)
    return Baseline(base, merge, tree, found, paths, cached=False, complete=complete)


def _tree_id(repo: Path, commit: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise SourceError(f"cannot run git to read the base tree: {e}") from e
    if out.returncode != 0:
        raise SourceError(f"cannot read the tree of {commit}")
    return out.stdout.decode("ascii").strip()


def _cache_key(
    tree: str, paths: Sequence[str], scanners: Sequence[tuple[str, str]], settings: Settings
) -> str:
    payload = json.dumps(
        {
            "v": CACHE_VERSION,
            "tree": tree,
            "paths": list(paths),
            "scanners": list(scanners),
            "settings": settings.model_dump(mode="json", exclude={"policy", "service", "evidence"}),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _read_cache(cache_dir: Path | None, key: str) -> frozenset[str] | None:
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


def _write_cache(cache_dir: Path | None, key: str, fingerprints: frozenset[str]) -> None:
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f"baseline-{key}.json.tmp"
        tmp.write_text(json.dumps({"fingerprints": sorted(fingerprints)}), encoding="utf-8")
        tmp.replace(cache_dir / f"baseline-{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs time


def changed_files_for_approvals(repo: Path, base: str, settings: Settings) -> list[tuple[str, bytes | None]]:
    """Paths the change touches (with current content) — the input of the approvals check."""
    walked = git.changed_files(repo, base=base, ignore=[], max_file_size=settings.max_file_size)
    out: list[tuple[str, bytes | None]] = []
    for f in walked.files:
        try:
            content: bytes | None = f.read()
        except OSError:
            content = None
        out.append((f.path, content))
        f.release()
    out.extend((s.path, None) for s in walked.skipped)
    out.extend((path, None) for path in _deleted_paths(repo, git.merge_base(repo, base)))
    return sorted(set(out), key=lambda pc: pc[0])


def _deleted_paths(repo: Path, merge: str) -> list[str]:
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "diff",
                "--name-only",
                "-z",
                "--relative",
                "--diff-filter=D",
                merge,
                "--",
            ],
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
