"""Benchmark: matching components from generated lockfiles against the full OSV store.

Usage: .venv/bin/python bench/deps/bench_match.py [--components 5000] [--scale 1,2,4]

1. Imports the shared PyPI + Go + crates.io snapshots (once, cached under bench/.work/deps).
2. Generates lockfiles — requirements.txt (PyPI), go.mod (Go), Cargo.lock (crates.io) — with a
   deterministic mix of packages that have advisories (at versions taken from their ranges) and
   packages that have none, and parses them with the real lockfile parsers.
3. Times `VulnerabilityMatcher.match` (cold: fresh store connection and empty version cache).
4. Scaling: by component count, and by advisory count (stores with the corpus copied 2x/4x
   under new ids, so every vulnerable package has 2x/4x the advisories).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import time
import zipfile
from pathlib import Path

from clearance.model import Component
from clearance.scanners.deps import lockfiles
from clearance.scanners.deps.scanner import VulnerabilityMatcher
from clearance.scanners.vulns.advisories import AdvisoryStore, OsvSource, database_path, import_osv
from clearance.scanners.vulns.match import _parse_cached
from clearance.sources.base import SourceFile

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "osv"
WORK = REPO / "bench" / ".work" / "deps"
ZIPS = {"PyPI": "PyPI.zip", "Go": "Go.zip", "crates.io": "crates.io.zip"}
SHARE = {"PyPI": 0.5, "Go": 0.3, "crates.io": 0.2}
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def main() -> int:
    """Run the matching benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--components", type=int, default=5000)
    parser.add_argument("--scale", default="1,2,4", help="advisory multipliers for the scaling table")
    parser.add_argument(
        "--vulnerable-share",
        type=float,
        default=0.6,
        help="share of components drawn from packages with advisories, at versions from their ranges",
    )
    args = parser.parse_args()
    candidates = _candidates()
    db = _store(1)
    print(f"store: {db} ({db.stat().st_size / 1e6:.1f} MB)")

    share = args.vulnerable_share
    components, parse_s = _generate(args.components, candidates, random.Random(42), share)
    print(f"generated lockfiles: {len(components)} components, parsed in {parse_s:.2f} s")
    seconds, findings, errors = _match(db, components)
    print(
        f"MATCH {len(components)} components vs full store: {seconds} "
        f"-> {findings} findings, {errors} undecidable/unparseable"
    )

    print("\nscaling with components (full store):")
    for n in (1000, 2500, 5000, 10000, 20000):
        comps, _ = _generate(n, candidates, random.Random(7), share)
        s, f, _ = _match(db, comps)
        print(f"  {len(comps):>6} components: {s}  ({f} findings)")

    print(f"\nscaling with advisories ({len(components)} components):")
    for k in (int(x) for x in args.scale.split(",")):
        store = _store(k)
        with AdvisoryStore.open(store) as st:
            total = sum(s.records for s in st.ecosystems())
        s, f, _ = _match(store, components)
        print(f"  x{k}: {total:>6} advisories: {s}  ({f} findings)")
    return 0


def _match(db: Path, components: list[Component]) -> tuple[str, int, int]:
    """Cold match (fresh connection, empty version cache): 'wall s / cpu s', findings, errors."""
    _parse_cached.cache_clear()
    start, cpu = time.perf_counter(), time.process_time()
    with AdvisoryStore.open(db) as store:
        outcome = VulnerabilityMatcher(store).match(components)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return f"{wall:.3f} s wall / {used:.3f} s cpu", len(outcome.findings), len(outcome.errors)


def _store(copies: int) -> Path:
    path = database_path(WORK / f"store-x{copies}")
    if path.is_file():
        return path
    sources: list[OsvSource] = []
    for eco, name in ZIPS.items():
        src = DATA / name
        if copies > 1:
            src = _multiplied(src, copies)
        sources.append(OsvSource(src, ecosystem=eco))
    import_osv(path, sources, now=NOW)
    return path


def _multiplied(zip_path: Path, copies: int) -> Path:
    out = WORK / f"x{copies}-{zip_path.name}"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            record = json.loads(src.read(name))
            for i in range(copies):
                copy = dict(record, id=f"{record['id']}-COPY{i}" if i else record["id"])
                copy["aliases"] = [f"{a}-COPY{i}" if i else a for a in record.get("aliases") or []]
                dst.writestr(f"{copy['id']}.json", json.dumps(copy))
    return out


def _candidates() -> dict[str, list[tuple[str, list[str]]]]:
    """Per ecosystem: (package, versions seen in its advisories' events/lists)."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for eco, name in ZIPS.items():
        seen: dict[str, set[str]] = {}
        with zipfile.ZipFile(DATA / name) as zf:
            for member in zf.namelist():
                record = json.loads(zf.read(member))
                if record.get("withdrawn"):
                    continue
                for aff in record.get("affected") or []:
                    pkg = aff.get("package", {}).get("name")
                    if not pkg:
                        continue
                    versions = seen.setdefault(pkg, set())
                    versions.update(aff.get("versions") or [])
                    for rng in aff.get("ranges") or []:
                        if rng.get("type") == "GIT":
                            continue
                        for ev in rng.get("events") or []:
                            versions.update(v for v in ev.values() if v not in ("0", "0.0.0-0"))
        out[eco] = sorted((p, sorted(v)) for p, v in seen.items())
    return out


def _generate(
    n: int, candidates: dict[str, list[tuple[str, list[str]]]], rng: random.Random, vulnerable_share: float
) -> tuple[list[Component], float]:
    WORK.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, dict[str, str]] = {}
    for eco, share in SHARE.items():
        count = int(n * share)
        picks: dict[str, str] = {}
        pool = list(candidates[eco])
        rng.shuffle(pool)
        while len(picks) < count:
            if rng.random() < vulnerable_share and pool:  # each package with advisories at most once
                pkg, versions = pool.pop()
                version = rng.choice(versions) if versions else "1.0.0"
            else:
                pkg, version = _unknown_package(eco, len(picks), rng), "1.2.3"
            picks.setdefault(pkg, version)
        chosen[eco] = picks
    files = {
        "requirements.txt": "".join(f"{p}=={v}\n" for p, v in chosen["PyPI"].items()),
        "go.mod": "module example.com/bench\n\ngo 1.22\n\nrequire (\n"
        + "".join(f"\t{p} v{v.removeprefix('v')}\n" for p, v in chosen["Go"].items() if p != "stdlib")
        + ")\n",
        "Cargo.lock": "version = 3\n\n"
        + "".join(
            f'[[package]]\nname = "{p}"\nversion = "{v}"\n'
            'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
            for p, v in chosen["crates.io"].items()
        ),
    }
    components: list[Component] = []
    start = time.perf_counter()
    for name, text in files.items():
        if not lockfiles.is_lockfile(name):
            print(f"  (no parser for {name}; skipped)", file=sys.stderr)
            continue
        data = text.encode()
        result = lockfiles.parse(SourceFile(path=name, size=len(data), data=data))
        components.extend(result.components)
    return components, time.perf_counter() - start


def _unknown_package(eco: str, i: int, rng: random.Random) -> str:
    token = f"{rng.getrandbits(32):08x}"
    if eco == "Go":
        return f"github.com/bench-{token}/mod{i}"
    return f"bench-{token}-{i}"


if __name__ == "__main__":
    if "--clean" in sys.argv:
        shutil.rmtree(WORK, ignore_errors=True)
        sys.argv.remove("--clean")
    sys.exit(main())
