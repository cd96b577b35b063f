"""The offline OSV advisory store: one SQLite file, imported atomically, read by the matcher.

Layout: `advisories` (one row per OSV record: id, modified, summary, details, aliases,
severity/score/vector, references; the raw JSON zlib-compressed in `raw`), `affected` (one row per
`affected[]` entry, indexed by (base ecosystem, normalized package name), holding the ranges
and versions the matcher evaluates), `sources` (per ecosystem: record count, newest
`modified`, imported at, source, ETag / Last-Modified), plus the KEV and EPSS tables of
`exploit.py` and their `feeds` metadata.

Every write builds a new file next to the old one and `os.replace`s it: an interrupted or
failed import leaves the previous database untouched. Importing one ecosystem keeps the
others (their rows are copied over into the new file).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clearance.errors import ScanError
from clearance.scanners.vulns.match import (
    AffectedSpec,
    Event,
    Range,
    base_ecosystem,
    canonical_versions,
    normalize_name,
    versions_blob,
)

SCHEMA_VERSION = "3"
DB_FILENAME = "advisories.sqlite3"
DB_DIR_ENV = "CLEARANCE_DB_DIR"
OSV_URL_ENV = "CLEARANCE_OSV_URL"
DEFAULT_OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_ECOSYSTEMS = ("PyPI", "npm", "Go", "crates.io", "RubyGems", "Packagist", "Maven", "NuGet")
"""What `clearance db update` fetches when the database is empty and no --ecosystem is given."""

KNOWN_ECOSYSTEMS = (
    *DEFAULT_ECOSYSTEMS,
    "Hex",
    "Pub",
    "SwiftURL",
    "Debian",
    "Ubuntu",
    "Alpine",
    "Linux",
    "OSS-Fuzz",
    "GIT",
    "Android",
    "Bitnami",
    "CRAN",
    "Bioconductor",
    "ConanCenter",
    "GHC",
    "Hackage",
    "Julia",
    "Rocky Linux",
    "AlmaLinux",
    "Red Hat",
    "SUSE",
    "openSUSE",
    "Photon OS",
    "Wolfi",
    "Chainguard",
    "MinimOS",
    "Mageia",
    "openEuler",
)

ByteProgress = Callable[[str, int, int | None], None]
"""Called with (label, bytes advanced, total bytes or None) while downloading."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY, modified TEXT, published TEXT, withdrawn TEXT, summary TEXT, details TEXT,
    aliases TEXT NOT NULL, severity TEXT NOT NULL, score REAL, vector TEXT, refs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS raw (id TEXT PRIMARY KEY, json BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS affected (
    advisory_id TEXT NOT NULL, ecosystem TEXT NOT NULL, variant TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,
    versions TEXT
);
CREATE TABLE IF NOT EXISTS sources (
    ecosystem TEXT PRIMARY KEY, records INTEGER NOT NULL, newest_modified TEXT, imported_at TEXT NOT NULL,
    source TEXT NOT NULL, etag TEXT, last_modified TEXT
);
CREATE TABLE IF NOT EXISTS kev (cve TEXT PRIMARY KEY, date_added TEXT, ransomware TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS epss (cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feeds (
    feed TEXT PRIMARY KEY, records INTEGER NOT NULL, newest TEXT, imported_at TEXT NOT NULL,
    source TEXT NOT NULL, etag TEXT, last_modified TEXT
);
"""
_SCALAR = (str, int, float)
_INDEXES = "CREATE INDEX IF NOT EXISTS affected_package ON affected (ecosystem, name);"


# --- locating the database -------------------------------------------------------------------


def database_dir(
    configured: str | None = None, root: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """Where the store lives: `$CLEARANCE_DB_DIR`, else `[deps] db_dir` (relative to `root`),
    else the user data directory (`platformdirs.user_data_dir("clearance")`)."""
    env = os.environ if environ is None else environ
    if env.get(DB_DIR_ENV):
        return Path(env[DB_DIR_ENV]).expanduser()
    if configured:
        p = Path(configured).expanduser()
        return p if p.is_absolute() or root is None else root / p
    import platformdirs

    return Path(platformdirs.user_data_dir("clearance"))


def database_path(directory: Path) -> Path:
    """The store file inside a database directory."""
    return directory / DB_FILENAME


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Advisory:
    """One OSV record as stored (the fields findings need)."""

    id: str
    modified: str
    published: str | None
    summary: str
    details: str
    aliases: tuple[str, ...]
    severity: str
    score: float | None
    vector: str | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AffectedEntry:
    """One `affected[]` entry of an advisory, for one package."""

    advisory_id: str
    ecosystem: str
    """The ecosystem as written in the record (may carry a `:suffix`)."""
    name: str
    spec: AffectedSpec
    ecosystem_specific: Mapping[str, Any] = field(default_factory=dict)
    database_specific: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EcosystemStatus:
    """What the store holds for one ecosystem (for `clearance db status` and staleness)."""

    ecosystem: str
    records: int
    newest_modified: str | None
    imported_at: str
    source: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """What the store holds for an exploitability feed (kev, epss)."""

    feed: str
    records: int
    newest: str | None
    imported_at: str
    source: str
    etag: str | None = None
    last_modified: str | None = None


class AdvisoryStore:
    """Read access to an advisory database file (open with `AdvisoryStore.open`)."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._con = connection
        self._names: dict[str, frozenset[str]] = {}
        self._advisories: dict[str, Advisory] = {}
        self._kev: dict[str, str | None] | None = None
        self._feeds: list[FeedStatus] | None = None

    @classmethod
    def open(cls, path: Path) -> AdvisoryStore:
        """Open a store read-only. Raises `ScanError` (with how to get one) if missing or unusable."""
        if not path.is_file():
            raise ScanError(
                f"no advisory database at {path}",
                hint="run `clearance db update` to download one, or `clearance db import PATH` "
                "with OSV zips/JSON for air-gapped CI (set CLEARANCE_DB_DIR to choose where it lives)",
            )
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            con.execute("PRAGMA mmap_size = 268435456")
            row = con.execute("SELECT value FROM info WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as e:
            raise ScanError(
                f"{path} is not a usable advisory database: {e}",
                hint="delete it and run `clearance db update` or `clearance db import`",
            ) from e
        if row is None or row[0] != SCHEMA_VERSION:
            con.close()
            raise ScanError(
                f"{path} has an unsupported schema version {row[0] if row else None!r}",
                hint="delete it and run `clearance db update` or `clearance db import`",
            )
        return cls(path, con)

    def close(self) -> None:
        """Close the database connection."""
        self._con.close()

    def __enter__(self) -> AdvisoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def package_names(self, ecosystem: str) -> frozenset[str]:
        """Normalized names of every package with advisories in a base ecosystem (cached)."""
        eco = base_ecosystem(ecosystem)
        names = self._names.get(eco)
        if names is None:
            rows = self._con.execute("SELECT DISTINCT name FROM affected WHERE ecosystem = ?", (eco,))
            names = frozenset(r[0] for r in rows)
            self._names[eco] = names
        return names

    def affected(self, ecosystem: str, name: str) -> list[AffectedEntry]:
        """Every `affected[]` entry for a package (ecosystem suffixes must match when given)."""
        eco = base_ecosystem(ecosystem)
        norm = normalize_name(eco, name)
        if norm not in self.package_names(eco):
            return []
        variant = ecosystem.split(":", 1)[1] if ":" in ecosystem else None
        rows = self._con.execute(
            f"SELECT a.advisory_id, a.variant, a.name, a.spec, a.versions, {_ADVISORY_COLUMNS} "
            "FROM affected a JOIN advisories v ON v.id = a.advisory_id WHERE a.ecosystem = ? AND a.name = ?",
            (eco, norm),
        ).fetchall()
        out = []
        for advisory_id, row_variant, row_name, spec, versions, *advisory in rows:
            if variant is not None and row_variant and not _same_release(row_variant, variant):
                continue
            if advisory_id not in self._advisories:
                self._advisories[advisory_id] = _advisory_from_row(advisory)
            full = f"{eco}:{row_variant}" if row_variant else eco
            out.append(_entry_from_json(advisory_id, full, row_name, spec, versions))
        return out

    def advisory(self, advisory_id: str) -> Advisory:
        """A stored record by id (KeyError if absent)."""
        cached = self._advisories.get(advisory_id)
        if cached is not None:
            return cached
        row = self._con.execute(
            f"SELECT {_ADVISORY_COLUMNS} FROM advisories v WHERE v.id = ?", (advisory_id,)
        ).fetchone()
        if row is None:
            raise KeyError(advisory_id)
        adv = _advisory_from_row(row)
        self._advisories[advisory_id] = adv
        return adv

    def raw(self, advisory_id: str) -> dict[str, Any]:
        """The original OSV JSON of a stored record."""
        row = self._con.execute("SELECT json FROM raw WHERE id = ?", (advisory_id,)).fetchone()
        if row is None:
            raise KeyError(advisory_id)
        data: dict[str, Any] = json.loads(zlib.decompress(row[0]))
        return data

    def ecosystems(self) -> list[EcosystemStatus]:
        """Per-ecosystem import metadata, by ecosystem name."""
        rows = self._con.execute(
            "SELECT ecosystem, records, newest_modified, imported_at, source, etag, last_modified "
            "FROM sources ORDER BY ecosystem"
        ).fetchall()
        return [EcosystemStatus(*r) for r in rows]

    def feeds(self) -> list[FeedStatus]:
        """KEV/EPSS import metadata."""
        if self._feeds is None:
            rows = self._con.execute(
                "SELECT feed, records, newest, imported_at, source, etag, last_modified FROM feeds ORDER BY feed"
            ).fetchall()
            self._feeds = [FeedStatus(*r) for r in rows]
        return list(self._feeds)

    def kev(self, cves: Iterable[str]) -> dict[str, str | None]:
        """CVE → KEV `dateAdded` for those of `cves` that are in the KEV catalog."""
        if self._kev is None:  # the catalog is small (~1,500 entries): load it once
            self._kev = {r[0]: r[1] for r in self._con.execute("SELECT cve, date_added FROM kev")}
        return {c.upper(): self._kev[c.upper()] for c in cves if c.upper() in self._kev}

    def epss(self, cves: Iterable[str]) -> dict[str, tuple[float, float]]:
        """CVE → (EPSS score, percentile) for those of `cves` that have one."""
        wanted = sorted({c.upper() for c in cves if c.upper().startswith("CVE-")})
        out: dict[str, tuple[float, float]] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._con.execute(f"SELECT cve, score, percentile FROM epss WHERE cve IN ({marks})", chunk)
            out.update((r[0], (r[1], r[2])) for r in rows)
        return out

    def feed(self, name: str) -> FeedStatus | None:
        """Metadata of one feed, if imported."""
        return next((f for f in self.feeds() if f.feed == name), None)


_ADVISORY_COLUMNS = (
    "v.id, v.modified, v.published, v.summary, v.details, v.aliases, v.severity, v.score, v.vector, v.refs"
)


def _advisory_from_row(row: Sequence[Any]) -> Advisory:
    return Advisory(
        id=row[0],
        modified=row[1] or "",
        published=row[2],
        summary=row[3] or "",
        details=row[4] or "",
        aliases=tuple(json.loads(row[5])),
        severity=row[6],
        score=row[7],
        vector=row[8],
        references=tuple(json.loads(row[9])),
    )


def _entry_from_json(
    advisory_id: str, ecosystem: str, name: str, spec_json: str, versions: str | None
) -> AffectedEntry:
    data = json.loads(spec_json)
    ranges = tuple(Range(t, tuple(Event(k, v) for k, v in events)) for t, events in data["r"])
    return AffectedEntry(
        advisory_id=advisory_id,
        ecosystem=ecosystem,
        name=name,
        spec=AffectedSpec(
            ecosystem=ecosystem,
            ranges=ranges,
            canonical_versions=versions,
        ),
        ecosystem_specific=data.get("es") or {},
        database_specific=data.get("ds") or {},
    )


# --- importing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OsvSource:
    """One thing to import: a zip of `<id>.json`, a directory of OSV JSON, or one JSON file.

    `ecosystem` names the ecosystem this source is the full dump of (e.g. from `PyPI/all.zip`);
    when None it is guessed from the file name, else every ecosystem its records touch.
    """

    path: Path
    ecosystem: str | None = None
    label: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    path: Path
    records: Mapping[str, int]
    """Records stored per ecosystem replaced by this import."""
    withdrawn: int
    skipped: int
    """Records without an id or without any `affected` package."""
    seconds: float
    size: int
    """Size of the database file afterwards, in bytes."""


def import_osv(
    db_path: Path,
    sources: Sequence[Path | OsvSource],
    *,
    now: dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import OSV data into the store at `db_path`, replacing the ecosystems the sources hold.

    Atomic: on any failure (corrupt zip, bad JSON, disk full, interruption) the previous
    database is left as it was and a `ScanError` says what went wrong.
    """
    started = time.perf_counter()
    srcs = [s if isinstance(s, OsvSource) else OsvSource(Path(s)) for s in sources]
    if not srcs:
        raise ScanError("nothing to import", hint="give one or more OSV zips, directories or JSON files")
    collected = _collect(srcs, progress)
    if not collected.records:
        raise ScanError(
            "no OSV records found in " + ", ".join(str(s.path) for s in srcs),
            hint="expected a zip of <ID>.json files (like <ECOSYSTEM>/all.zip), a directory of OSV JSON, or a JSON file",
        )
    replaced = collected.replaced
    imported_at = _iso(now)

    def fill(con: sqlite3.Connection) -> None:
        _insert_records(con, collected.records.values(), replaced)
        for eco in sorted(replaced):
            src = collected.source_of.get(eco)
            con.execute(
                "INSERT OR REPLACE INTO sources SELECT ?, COUNT(DISTINCT a.advisory_id), MAX(v.modified), ?, ?, ?, ? "
                "FROM affected a JOIN advisories v ON v.id = a.advisory_id WHERE a.ecosystem = ?",
                (
                    eco,
                    imported_at,
                    _describe(src) if src else "",
                    src.etag if src else None,
                    src.last_modified if src else None,
                    eco,
                ),
            )

    rebuild(db_path, replace_ecosystems=replaced, fill=fill)
    with contextlib.closing(sqlite3.connect(db_path)) as con:
        counts = {r[0]: r[1] for r in con.execute("SELECT ecosystem, records FROM sources")}
    return ImportReport(
        path=db_path,
        records={e: counts.get(e, 0) for e in sorted(replaced)},
        withdrawn=collected.withdrawn,
        skipped=collected.skipped,
        seconds=time.perf_counter() - started,
        size=db_path.stat().st_size,
    )


@dataclass
class _Collected:
    records: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    source_of: dict[str, OsvSource] = field(default_factory=dict)
    withdrawn: int = 0
    skipped: int = 0


def _collect(sources: Sequence[OsvSource], progress: Callable[[int], None] | None) -> _Collected:
    out = _Collected()
    for src in sources:
        seen: set[str] = set()
        for member, raw in _read_source(src.path):
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise ScanError(
                    f"{src.path}: {member} is not valid JSON ({e})",
                    hint="the file is corrupt or not an OSV dump; nothing was imported",
                ) from None
            if progress:
                progress(1)
            if not isinstance(record, dict):
                raise ScanError(
                    f"{src.path}: {member} is not an OSV record (expected a JSON object)",
                    hint="nothing was imported",
                )
            rid = record.get("id")
            ecos = _record_ecosystems(record)
            if not isinstance(rid, str) or not rid or not ecos:
                out.skipped += 1
                continue
            seen |= ecos
            if record.get("withdrawn"):
                out.withdrawn += 1
                continue
            prev = out.records.get(rid)
            if prev is None or str(record.get("modified") or "") >= str(prev[0].get("modified") or ""):
                out.records[rid] = (record, raw)
        claimed = _claimed_ecosystems(src, seen)
        for eco in claimed:
            out.source_of[eco] = src
        out.replaced |= claimed
    return out


def _claimed_ecosystems(src: OsvSource, seen: set[str]) -> set[str]:
    """The ecosystems a source is the full dump of (those its import replaces)."""
    if src.ecosystem:
        return {base_ecosystem(src.ecosystem)}
    p = src.path
    hint = p.parent.name if p.name == "all.zip" else (p.stem if p.suffix == ".zip" else p.name)
    hint = base_ecosystem(hint)
    if hint in seen:
        return {hint}
    return set(seen)


def _record_ecosystems(record: Mapping[str, Any]) -> set[str]:
    ecos = set()
    for aff in _as_list(record.get("affected")):
        pkg = aff.get("package") if isinstance(aff, dict) else None
        if (
            isinstance(pkg, dict)
            and isinstance(pkg.get("ecosystem"), str)
            and isinstance(pkg.get("name"), str)
        ):
            ecos.add(base_ecosystem(pkg["ecosystem"]))
    return ecos


def _read_source(path: Path) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every JSON document in a zip, directory or file."""
    if not path.exists():
        raise ScanError(f"{path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        for f in files:
            try:
                yield str(f.relative_to(path)), f.read_bytes()
            except OSError as e:
                raise ScanError(f"{f}: cannot read: {e.strerror}") from e
        return
    if path.suffix.lower() == ".json":
        try:
            yield path.name, path.read_bytes()
        except OSError as e:
            raise ScanError(f"{path}: cannot read: {e.strerror}") from e
        return
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.lower().endswith(".json"):
                    continue
                yield info.filename, _read_member(zf, info, path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ScanError(
            f"{path}: corrupt or not a zip archive ({e})",
            hint="download it again (`clearance db update`) or check the file; nothing was imported",
        ) from e
    except OSError as e:
        raise ScanError(f"{path}: cannot read: {e.strerror or e}") from e


MAX_RECORD_BYTES = 16 * 1024 * 1024
"""No real OSV record comes near this; a larger member is a zip bomb or not OSV data."""


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """One member, refusing to inflate more than `MAX_RECORD_BYTES` whatever its header claims."""
    with zf.open(info) as fh:
        data = fh.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise ScanError(
            f"{path}: member {info.filename} inflates to more than {MAX_RECORD_BYTES // (1024 * 1024)} MB "
            "(zip bomb?); nothing was imported"
        )
    return data


def _insert_records(
    con: sqlite3.Connection, records: Iterable[tuple[dict[str, Any], bytes]], replaced: set[str]
) -> None:
    from clearance.scanners.vulns.severity import rate

    raw_rows = []
    adv_rows = []
    aff_rows = []
    for record, raw in records:
        rows = list(_affected_rows(record, replaced))
        if not rows:
            continue
        aff_rows.extend(rows)
        rating = rate(record)
        refs = [
            r["url"]
            for r in _as_list(record.get("references"))
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        ]
        aliases = [a for a in _as_list(record.get("aliases")) if isinstance(a, str)]
        adv_rows.append(
            (
                record["id"],
                _str(record.get("modified")),
                _str(record.get("published")) or None,
                None,
                _str(record.get("summary")),
                _str(record.get("details")),
                json.dumps(aliases),
                rating.severity.value,
                rating.score,
                rating.vector,
                json.dumps(refs),
            )
        )
        raw_rows.append((record["id"], zlib.compress(raw, 1)))
    con.executemany("INSERT OR REPLACE INTO advisories VALUES (?,?,?,?,?,?,?,?,?,?,?)", adv_rows)
    con.executemany("INSERT OR REPLACE INTO raw VALUES (?,?)", raw_rows)
    con.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?)", aff_rows)


def _affected_rows(
    record: Mapping[str, Any], replaced: set[str]
) -> Iterator[tuple[str, str, str, str, str, str | None]]:
    for aff in _as_list(record.get("affected")):
        if not isinstance(aff, dict):
            continue
        pkg = aff.get("package")
        if not isinstance(pkg, dict):
            continue
        full, name = pkg.get("ecosystem"), pkg.get("name")
        if not isinstance(full, str) or not isinstance(name, str):
            continue
        eco = base_ecosystem(full)
        if eco not in replaced:
            continue  # other ecosystems come from their own dumps
        variant = full.split(":", 1)[1].strip() if ":" in full else ""
        ranges = []
        for rng in _as_list(aff.get("ranges")):
            if not isinstance(rng, dict) or not isinstance(rng.get("type"), str):
                continue
            if rng["type"] == "GIT":
                continue  # commit ranges cannot be evaluated against package versions
            events = [
                [kind, str(value)]
                for ev in _as_list(rng.get("events"))
                if isinstance(ev, dict)
                for kind, value in ev.items()
                if isinstance(value, _SCALAR)
            ]
            ranges.append([rng["type"], events])
        versions = [str(v) for v in _as_list(aff.get("versions")) if isinstance(v, _SCALAR)]
        spec: dict[str, Any] = {"r": ranges}
        listed = versions_blob(canonical_versions(eco, versions)) if versions else None
        es, ds = aff.get("ecosystem_specific"), aff.get("database_specific")
        if isinstance(es, dict) and es:
            spec["es"] = es
        if isinstance(ds, dict) and ds:
            spec["ds"] = ds
        yield (
            record["id"],
            eco,
            variant,
            normalize_name(eco, name),
            json.dumps(spec, separators=(",", ":")),
            listed,
        )


def rebuild(
    db_path: Path,
    *,
    fill: Callable[[sqlite3.Connection], None],
    replace_ecosystems: Iterable[str] = (),
    replace_feeds: Iterable[str] = (),
) -> None:
    """Write a new database file: the old one's content minus what is replaced, plus `fill`.

    Builds `<db>.<pid>.tmp` next to the old file and `os.replace`s it only once complete;
    failures remove the temporary file, leave the old database intact and raise `ScanError`.
    """
    ecos = sorted(set(replace_ecosystems))
    feeds = sorted(set(replace_feeds))
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScanError(f"cannot create {db_path.parent}: {e.strerror or e}") from e
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            con.executescript(_SCHEMA)
            con.execute("INSERT INTO info VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            if db_path.exists():
                _copy_kept(con, db_path, ecos, feeds)
            fill(con)
            con.execute("DELETE FROM advisories WHERE id NOT IN (SELECT advisory_id FROM affected)")
            con.execute("DELETE FROM raw WHERE id NOT IN (SELECT advisory_id FROM affected)")
            con.execute(_INDEXES)
            con.commit()
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, db_path)
    except sqlite3.Error as e:
        tmp.unlink(missing_ok=True)
        raise ScanError(
            f"could not write the advisory database {db_path}: {e}",
            hint="the previous database (if any) is unchanged",
        ) from e
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ScanError(
            f"could not write the advisory database {db_path}: {e.strerror or e}",
            hint="the previous database (if any) is unchanged; check disk space and permissions",
        ) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_kept(con: sqlite3.Connection, old: Path, ecos: list[str], feeds: list[str]) -> None:
    try:
        con.execute("ATTACH DATABASE ? AS old", (f"file:{old}?mode=ro",))
    except sqlite3.Error as e:
        raise ScanError(f"{old} cannot be opened: {e}", hint=f"delete {old} and import again") from e
    try:
        version = con.execute("SELECT value FROM old.info WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as e:
        raise ScanError(
            f"{old} is not a clearance advisory database ({e})", hint=f"delete {old} and import again"
        ) from e
    if version is None or version[0] != SCHEMA_VERSION:
        raise ScanError(
            f"{old} has schema version {version[0] if version else None!r}, expected {SCHEMA_VERSION}",
            hint=f"delete {old} and import everything again (`clearance db update`)",
        )
    eco_marks = ",".join("?" * len(ecos)) or "''"
    feed_marks = ",".join("?" * len(feeds)) or "''"
    con.execute(f"INSERT INTO affected SELECT * FROM old.affected WHERE ecosystem NOT IN ({eco_marks})", ecos)
    con.execute(
        "INSERT INTO advisories SELECT * FROM old.advisories WHERE id IN (SELECT advisory_id FROM affected)"
    )
    con.execute("INSERT INTO raw SELECT * FROM old.raw WHERE id IN (SELECT advisory_id FROM affected)")
    con.execute(f"INSERT INTO sources SELECT * FROM old.sources WHERE ecosystem NOT IN ({eco_marks})", ecos)
    if "kev" not in feeds:
        con.execute("INSERT INTO kev SELECT * FROM old.kev")
    if "epss" not in feeds:
        con.execute("INSERT INTO epss SELECT * FROM old.epss")
    con.execute(f"INSERT INTO feeds SELECT * FROM old.feeds WHERE feed NOT IN ({feed_marks})", feeds)
    con.commit()
    con.execute("DETACH DATABASE old")


def status(db_path: Path) -> tuple[list[EcosystemStatus], list[FeedStatus]]:
    """Per-ecosystem and per-feed metadata of a store (raises `ScanError` if there is none)."""
    with AdvisoryStore.open(db_path) as store:
        return store.ecosystems(), store.feeds()


# --- downloading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """Result of a conditional GET: a file, or None when the server said 304 Not Modified."""

    url: str
    path: Path | None
    etag: str | None
    last_modified: str | None


def download(
    client: httpx.Client,
    url: str,
    dest: Path,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    label: str = "",
    progress: ByteProgress | None = None,
) -> Download:
    """GET `url` into `dest` with If-None-Match / If-Modified-Since; 304 → `path=None`."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                return Download(url, None, etag, last_modified)
            if resp.status_code != 200:
                raise ScanError(
                    f"GET {url} answered HTTP {resp.status_code}",
                    hint="check the URL (or the mirror set in the CLEARANCE_*_URL variables)",
                )
            total = (
                int(resp.headers["Content-Length"])
                if resp.headers.get("Content-Length", "").isdigit()
                else None
            )
            with open(dest, "wb") as fh:
                for chunk in resp.iter_bytes(1 << 16):
                    fh.write(chunk)
                    if progress:
                        progress(label or url, len(chunk), total)
            return Download(url, dest, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
    except httpx.HTTPError as e:
        dest.unlink(missing_ok=True)
        raise ScanError(
            f"GET {url} failed: {e}",
            hint="no network? use `clearance db import PATH` with files fetched elsewhere",
        ) from e
    except OSError as e:
        dest.unlink(missing_ok=True)
        raise ScanError(f"cannot write {dest}: {e.strerror or e}") from e


@dataclass(frozen=True)
class UpdateOutcome:
    """What `update_osv` did for one ecosystem: `updated` or `not modified`."""

    ecosystem: str
    outcome: str
    records: int | None = None


def update_osv(
    db_path: Path,
    ecosystems: Sequence[str],
    *,
    client: httpx.Client,
    now: dt.datetime,
    base_url: str | None = None,
    progress: ByteProgress | None = None,
) -> list[UpdateOutcome]:
    """Download `<base>/<ECOSYSTEM>/all.zip` for each ecosystem (conditionally) and import them."""
    base = (base_url or os.environ.get(OSV_URL_ENV) or DEFAULT_OSV_URL).rstrip("/")
    known: dict[str, EcosystemStatus] = {}
    if db_path.is_file():
        with contextlib.suppress(ScanError), AdvisoryStore.open(db_path) as store:
            known = {s.ecosystem: s for s in store.ecosystems()}
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fetched: list[OsvSource] = []
    outcomes: list[UpdateOutcome] = []
    try:
        for eco in ecosystems:
            prev = known.get(eco)
            url = f"{base}/{eco}/all.zip"
            dest = db_path.with_name(f".{eco.replace('/', '_')}.{os.getpid()}.zip")
            got = download(
                client,
                url,
                dest,
                etag=prev.etag if prev else None,
                last_modified=prev.last_modified if prev else None,
                label=eco,
                progress=progress,
            )
            if got.path is None:
                outcomes.append(UpdateOutcome(eco, "not modified", prev.records if prev else None))
                continue
            fetched.append(
                OsvSource(got.path, ecosystem=eco, label=url, etag=got.etag, last_modified=got.last_modified)
            )
        if fetched:
            report = import_osv(db_path, fetched, now=now)
            outcomes += [
                UpdateOutcome(s.ecosystem or "", "updated", report.records.get(s.ecosystem or ""))
                for s in fetched
            ]
    finally:
        for s in fetched:
            s.path.unlink(missing_ok=True)
    order = {e: i for i, e in enumerate(ecosystems)}
    return sorted(outcomes, key=lambda o: order.get(o.ecosystem, 0))


def _as_list(value: Any) -> list[Any]:
    """A JSON array field, or [] when the record has anything else there."""
    return value if isinstance(value, list) else []


def _describe(src: OsvSource) -> str:
    return src.label or str(src.path.resolve())


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _same_release(recorded: str, wanted: str) -> bool:
    """`Ubuntu:22.04:LTS` records apply to `Ubuntu:22.04` images; otherwise the release must be equal."""
    return recorded == wanted or recorded.startswith(wanted + ":")
